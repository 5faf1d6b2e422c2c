// Package hsa is the client side of the national medical-insurance
// information platform interface (国家医疗保障信息平台接口): the request
// and response envelope, the message id, the gateway signature, optional
// SM4 encryption of the business data, the 9001 sign-in and an HTTP client
// with timeouts that tells a call that was never sent apart from one whose
// outcome is unknown. The self-pay plugin (plugins/selfpay) and the
// trace-code plugin use it; it depends only on the plugin SDK and the
// schemas package.
//
// # One call
//
// [Client.Do] takes a transaction code (infno) and its input, and:
//
//  1. allocates a msgid: the 12-character institution code, the time
//     yyyyMMddHHmmss (UTC+8) and a 4-digit sequence taken from the host's
//     shared counter ([Host.NextSequence]), so two instances never reuse
//     one (see [Config.MsgIDSeqBase] when two plugins share an institution
//     code);
//  2. signs in with 9001 first when the site requires a sign_no, once per
//     day per operator (cached in memory and in host state; the day is the
//     platform's: a sign_no lasts until the midnight, UTC+8, after the
//     sign_time its 9001 answered, as this instance's clock reads it, so a
//     clock minutes off the platform's neither keeps a sign_no past the
//     platform's midnight nor takes one got just before it for the next
//     day). Instances
//     sharing host state sign in once between them: one claims the
//     sign-in in state ([Host.CompareAndSet]) before sending 9001 and
//     writes its sign_no only over its claim; the others wait for it
//     (reading the state every 200ms, as long as their context allows)
//     and use the sign_no the state holds. A claim lapses after the call
//     timeout plus 40s (the 9001, its journal entry, the write, clock
//     differences), so an instance that died while signing in blocks
//     the others no longer than that. Before each call an instance reads
//     the state once more and, when another instance has replaced the
//     day's sign_no there, sends the new one instead of the one it keeps
//     in memory, rather than being refused for it first. A call the
//     platform refuses with an infcode listed in [Config.SignInExpiredCodes]
//     (setting signInExpiredCodes; empty by default, as the platform's code
//     for an expired sign-in is not public) replaces that sign_no (by one
//     another call or instance already got, or one new 9001 that calls
//     refused at the same time, in any instance, wait for and share) and
//     is sent once more with a new msgid
//     ([Call.Resending] lets a caller record it before it goes out). A refusal says the
//     transaction was not run, so this resends nothing that took effect; a
//     call without an answer is never sent again here (the caller
//     reconciles it), and a second refusal is returned as it is. Without
//     a listed code an expired sign_no keeps failing calls until the next
//     day (or [Client.ForgetSignIn]);
//  3. builds the envelope and checks it against the envelope schema
//     (schema/envelope/request.yaml) and the input against the size limit
//     (maxInputChars bounds the input as sent: its ciphertext when
//     encrypted, [Config.InputChars]);
//  4. encrypts the input with SM4 when enc_type is SM4;
//  5. posts it to the endpoint of that infno, signed with the gateway
//     headers (x-tif by default);
//  6. parses and checks the answer (schema/envelope/response.yaml; problems
//     are warnings), decrypts the output, journals the exchange with its
//     msgid, and returns a [*Result], or a [*BusinessError] (infcode not 0),
//     a [*GatewayError] (the gateway refused the call: signature, paasid),
//     a [*TransportError] (no usable answer; [TransportError.Sent] says
//     whether the request may have reached the platform, in which case the
//     caller must reconcile before resending) or a [*ValidationError]
//     (nothing was sent).
//
// # Paged queries
//
// [Client.QueryAll] reads a paged query (4207, 4208, 4209) to its end: an
// empty page, the last page the answer counts, or its record count. A
// short page is not the end (a platform may cap the page size below the
// one asked), so an answer without counts costs one more call, for the
// empty page; a query not ended within 1000 pages is an error. Callers
// reconcile calls whose outcome is unknown with these records, so a
// record missed must never read as "not there": an answer with infcode 0
// but no output (or a null or malformed one), or records running out
// before the count an answer gave, is an [*AnswerError], never fewer
// records.
//
// # What must be confirmed against the province's access document
//
// No official NHSA or Fujian text was reachable (see
// /work/shared/specs/selfpay-hsa.md). Everything below is configuration
// with a default taken from public third-party code, and must be checked
// against the province's 接入文档 before production:
//
//   - the gateway authentication: x-tif headers (x-tif-paasid,
//     x-tif-timestamp, x-tif-nonce, x-tif-signature = hex SHA-256 of
//     timestamp+token+nonce+timestamp, lower case; from a Guangdong HIS) or
//     none (a DLL or front-end processor signs instead); Fujian's direct
//     HTTP scheme could not be confirmed;
//   - the endpoint: one URL routed by infno in the body (default) or the
//     infno appended to a base URL, with per-infno overrides (Guangdong
//     posts 42xx to a separate self-pay URL);
//   - enc_type SM4: what is encrypted (here the input JSON, and the output
//     when the answer says enc_type SM4), the mode (ECB, PKCS#7), the key
//     form (16 bytes as 32 hex characters or 16 characters) and the text
//     encoding (base64 or hex) are inferred, not documented;
//   - Fujian's app_id and enc_type envelope fields (sent by default);
//   - recer_sys_code, infver, the 9001 field list and the infcode with
//     which the platform refuses an expired sign_no (signInExpiredCodes);
//   - the paging wrapper {recordCounts, pages, data} of query outputs.
package hsa
