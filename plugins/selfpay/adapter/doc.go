// Package adapter is the self-pay plugin: it uploads the inpatient records
// of patients discharged as self-pay to the provincial medical-insurance
// platform (transactions 4201A–4209 of the national interface), through the
// envelope library plugins/hsa.
//
// Operations (message type → payload):
//
//	selfpay.upload          one patient: {ownPayPatnMdtrtD, ownPayPatnDiagListD, fsiOwnpayPatnFeeListDDTO, reupload?}
//	                        [reupload: 4203 cplt_flag=0 (not complete tolerated: reopenRefused)] →
//	                        4204 clear old details (nothing to delete tolerated: clearRefused) → 4201A in batches → 4202 → 4203 cplt_flag=1
//	                        with part {set, no, of}: a stay too large for one message, sent in parts under
//	                        the visit's key; parts are kept until the last, which uploads the stay whole (parts.go);
//	                        the job parts-expire drops sets unfinished past partsKeep and lines a crash left (partsexpire.go)
//	selfpay.cancel          {fixmedins_mdtrt_id}: 4203 cplt_flag=0 (not complete tolerated: reopenRefused) → 4204 (all details)
//	selfpay.4201A … 4209    one transaction; the payload is its input
//	selfpay.import-pending  {filename, content (base64), sheet?, verify?}: report per patient of a pending list
//
// Every input is checked against schemas/selfpay before anything is sent
// (status invalid with every error and its path), plus the business rules
// the schemas cannot express: one patient per call, the fixmedins_mdtrt_id
// join between fee lines and the visit, the institution code, bkkp_sn
// unique within the visit, the amounts (cnt × pric, and the visit's
// total against its lines), and that every call fits in maxInputChars.
// What no source states as a platform rule is a warning in the reply, not
// a refusal (feeWarnings, visitTimeWarnings): a visit ending before it
// begins, a fee dated outside the visit, a self-pay part above its line's
// total.
// A check failing after calls of the message went out (settings or
// schemas changed between attempts, whether the check runs before the
// first call or in the envelope library) ends the workflow as failed, not
// invalid, and sends nothing more.
//
// A refusal by the platform ends the message rejected, not retried, but for
// one the site lists in transientRefusals (the platform busy: infcode -1
// as any other, so told by its err_msg): that call was not run, the attempt
// fails retryable and the next one sends it again (transientRefusalError).
//
// # Crash safety
//
// A workflow keeps its progress in host state under wf/<message id>: the
// step, the next 4201A batch, and the call in flight (infno, msgid, batch)
// written before the call is sent. Whatever stops the plugin (a crash, a
// timeout, a lost answer), the next attempt for the message resumes from
// there. A call in flight whose outcome is unknown is reconciled before
// anything is resent: a 4201A batch with 4207 (which of its lines are on
// the platform as sent, by bkkp_sn and content: linesThere; only the
// others are sent again, and the platform refuses a bkkp_sn it holds
// with other content), 4202 and the
// completion with 4208 (the visit as sent, its diagnoses with 4209, and
// its cpltFlag: 1, done; 0, send it again; visit not listed or any other
// flag: failed, not retryable, nothing resent, as for a withdrawal). The
// 4208 record is the one carrying the visit's fixmedinsMdtrtId or, when
// the platform answers without it, the only one with the same ID number,
// begntime within the same minute and total (visitKey); names and other
// personal fields answered masked agree when their unmasked characters do
// (sameMasked), times in any common layout, to the minute when the
// platform drops the seconds (sameTime). A
// refused reconciliation query leaves the outcome unknown: the attempt
// fails, retryable, and the next one reconciles again. Paged queries are
// read to the end (hsa.Client.QueryAll), so a record on a later page is
// never taken for one the platform lacks. A 4207 or 4209 answer listing a
// record of another visit or institution than the one asked about settles
// nothing (ownRecords: a bkkp_sn is unique only within its visit), and a
// 4208 record of another institution is never the visit (ownInstitution).
//
// A single selfpay.4203 cplt_flag=1 carries no person to search 4208 by:
// it is reconciled with 4208 searched by the begntime and medfee_sumamt
// medgate stored when it uploaded the visit (patient/<id>); when medgate
// holds no such record, or 4208 does not list the visit or shows neither
// cpltFlag 0 nor 1, it fails, not retryable, telling staff what to check, and is never resent blindly.
// The two calls of selfpay.cancel are reconciled the same way: its 4203
// cplt_flag=0 with 4208 searched by the stored visit (cpltFlag 0: the
// withdrawal holds, go on to 4204; 1: send it again; visit not found:
// failed, not retryable, nothing resent or deleted), its 4204 with 4207
// (no details left: done, as resending would only be refused for having
// nothing to delete; details left: send it again). The 4203 cplt_flag=0
// of a selfpay.upload with reupload and its 4204 are settled by the same
// code (reconcileWithdrawal), 4208 searched by the certificate type and
// number the message carries (not the name, which a re-upload may
// correct). A single selfpay.4203 cplt_flag=0 is settled by it too
// (withdrawalApplied, 4208 searched by the stored visit: cpltFlag 0, done;
// 1, sent again; otherwise failed, not retryable, nothing resent). A single
// selfpay.4204 whose lines 4207 no longer shows is not sent again.
//
// # One workflow per visit
//
// A selfpay.upload or selfpay.cancel, and a single selfpay.4201A …
// selfpay.4204, claims its visit (claim/<fixmedins_mdtrt_id>) with
// compare-and-set before its first platform call, after writing its own
// state; a message of a visit that another message in progress holds
// sends nothing and answers sdk.Wait, which the host retries (every such
// operation is declared an upload, which the host never gives up on). The claim is released when the workflow ends,
// and one left behind lapses once its message's state is finished or
// absent, or after the site's claimLapse (default 30 minutes) without an
// attempt renewing it (claim.go).
//
// Patient records
// (patient/<fixmedins_mdtrt_id>) remember each visit's last outcome for
// import-pending.
package adapter
