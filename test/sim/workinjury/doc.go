// Package workinjury simulates the national work-injury insurance
// remote-medical system (工伤保险异地就医系统) for tests and `make run`.
//
// A *Server is an http.Handler that speaks the configurable SM4+SM2
// envelope the adapter is configured with (Config.Options, the settings of
// package smenvelope, with the keys swapped): it verifies our signature
// before anything else (with the public key registered for the sender code
// the envelope names, Config.Senders and AddSender, one per institution as
// the national system keeps them, or the single hospital key of
// Config.Keys), decrypts, validates the business input against the field
// lists of schemas/workinjury (the same data files the adapter uses, read
// and enforced by test/sim/simspec, not by the adapter's schemas package:
// a defect of that validator is refused here), enforces the business rules of all 39
// transactions itself, answers sealed and signed, and remembers every
// transaction by its serial for the general transaction query GYD053. It
// shares no code with the adapter (plugins/workinjury): its rules are
// written from the requirements (/work/shared/specs/requirements-zh.txt
// §2.2.1), so an adapter bug that lets a wrong upload out is refused here.
//
// Nor does it share the envelope code: envelope.go opens and seals with an
// implementation of its own, written from the documentation of the
// settings, not with the adapter's smenvelope, so a defect of the adapter's
// envelope library is refused here instead of being mirrored. Its SM2 and
// SM4 primitives are github.com/emmansun/gmsm's, as the adapter's, checked
// against the published GM/T examples (TestEnvelopeKnownAnswers; an
// independent pure-Go SM2 cost twenty times the CPU, see envelope.go). (smenvelope
// provides only the settings and key types, and the key-file helpers of
// keys.go that write the adapter's key directory.) The simulator accepts
// only the configured form of each setting, where the adapter's Open also
// tries the others unless StrictOpen is set: a request in another SM2
// layout, point prefix, signature format, key form or hex case than
// configured is refused (E0003, or E0001 for the signature). New refuses
// a setting value it does not implement, and keys that are not SM2 keys.
//
// It keeps the national system's records: filing applications, filings,
// institutions, attachments, cards, and the settlement chain (ledger.go):
// admissions (visits, GYU101), fee details (GYU102), discharge settlements
// (GYU103), assistive-device settlements (GYU303), audit deductions
// (GYU004, or AddDeduction for the national side), monthly settlements
// (GYU003), revocations (GYR001–GYR004) and clearing records (GYD005,
// confirmed at each GYU003 or, with Config.ManualClearing, by
// ConfirmClearing). Every answer and download is built from these records,
// never from a schema's example. Money is kept in fen (Money) and parsed
// from decimal text; products use math/big, never floating point.
//
// The rules, with the error code of each refusal:
//
//	GYU101  approved filing of the person (E6001, another person's E6005),
//	        admission date inside its validity (E6002), institution known,
//	        agreement valid that day and not an assistive-device institution
//	        (E6003), institution allowed by the filing (E6005), inpatient
//	        number not used by an unrevoked admission there (E6004)
//	GYU102  admission exists (E6101), not revoked (E6102), not settled
//	        (E6103); 1–500 lines (E6107); qty > 0, price, amount, fund_pay,
//	        self_pay ≥ 0 (E6108); |price × qty − amount| ≤ half a fen +
//	        Config.AmountTolerance fen (E6104); fund_pay + self_pay = amount
//	        (E6105); detail_no unique among the visit's lines not revoked:
//	        a line revoked with GYR001 frees its detail_no for the
//	        corrected line (E6106); the call is all or nothing
//	GYU103  open admission (E6101–E6103) with details not revoked (E6203);
//	        akc264, fund_pay, self_pay = the sums of those details (sums
//	        beyond int64 fen are refused, never wrapped round), and
//	        0 ≤ full_own_pay ≤ self_pay (E6202); rehab_plan_id only for a
//	        rehabilitation stay (aka130 2) and an uploaded attachment not
//	        revoked, of type 07 (康复方案) and uploaded for this stay
//	        (biz_type 2, biz_no its ykc700) (E6204); discharge akc194 not
//	        before admission (E6205), settle_time not before it (E6206)
//	GYU303  approved filing valid on config_date (E6001, E6002, E6005) of
//	        type 3 at an assistive-device institution (E6301) with a valid
//	        agreement (E6003); lines as GYU102 (E6104, E6108); detail_no
//	        unique in the call and not used by an unrevoked device
//	        settlement of the person at the institution, so a resend is
//	        refused (E6106); aac142 = Σ amount and fund_pay + self_pay =
//	        aac142, none negative (E6302)
//	GYR001  open admission (E6101–E6103) with details to revoke; named
//	        details exist and are not revoked (E7003)
//	GYR002  open admission (E6101–E6103) without unrevoked details (E7004)
//	GYR003  settlement exists (E7001) and is not revoked (E7002); revokes
//	        the admission and its details too (not for a device settlement)
//	        and its rehabilitation-plan attachment
//	GYR004  deductions exist (E7005) and are not revoked (E7006); revoke_time
//	        not before a deduction's deduct_time (E7007; RevokeDeduction
//	        refuses it too)
//	GYU004  settlement exists, not revoked, of the institution named
//	        (E8001); amount > 0 (E8002); the settlement's unrevoked
//	        deductions stay ≤ its fund_pay (E8003); institution in this
//	        province (E8004); deduct_no new (E8008); deduct_time not
//	        before the settlement's settle_time (E8010: the agency audits
//	        an uploaded settlement; AddDeduction refuses it too). With
//	        Config.PartialDeductions a GYU004 or GYR004 takes the
//	        deductions that pass these rules and leaves out the others,
//	        its accepted_count / revoked_count counting those taken
//	GYU003  once per institution and settle_month (E8005); items exactly
//	        the institution's records of the month — 1 settlements by
//	        settle_time, 2 settlement revocations, 3 deductions by
//	        deduct_time, 4 deduction revocations, by revoke_time — and the
//	        header sums and counts equal the ledger's (E8006: the items are
//	        checked first, so a header summed from a wrong item names that
//	        record and its amount against the ledger's); person_count
//	        = settlements − revocations > 0 (E8007). A month of more than
//	        500 items goes in parts (part_no of part_count, medgate's
//	        reconstruction): the first accepted part fixes the month's
//	        records and sums; every part carries the whole month's header
//	        (E8006) and the same part_count (E8006); no item in two parts
//	        (E8006); the last part to arrive completes the month (E8006
//	        naming what is missing); a part sent again with the same items
//	        is answered with the same month_settle_no, nothing changed, with
//	        other items refused (E8006); a single-call GYU003 of a month
//	        being settled in parts is E8005. Each accepted part marks its
//	        settlements (SettlementInfo.Monthly, MonthParts); the month is
//	        in Monthlies (GYD003, clearing) once every part is accepted.
//	        While a part is missing, a settlement, revocation or deduction
//	        dated in the month is refused (E8009)
//	GYD052  the person (aac002) has an approved filing (status 1 or 3) valid
//	        on the authentication day aae036 (E6001), then the card is checked
//	GYD055  the card's holder has an approved filing (status 1 or 3; GYD055
//	        carries no date, so its validity is not checked) (E6001), once
//	        the card is known, then its internal authentication is checked
//	GYD102  the admission of akb020/akc190 was handed out by GYD101 to the
//	        same sender (E2005)
//	GYD103  month_settle_no, when given, exists (E2006)
//	GYD104  the person's name, when given, matches (E2007)
//
// Downloads (GYD001, GYD006, GYD009, GYD101, GYD102, GYD103, GYD003,
// GYD004, GYD005, GYD401–GYD404) are incremental queues, kept per sender
// (the envelope's sender code: each hospital or agency downloads its own
// increments, and two senders each get every record): a download hands
// out at most BatchSize (≤500) records the sender has not acknowledged yet;
// a new download of the same code is refused (E2001) while the sender's
// previous batch is not acknowledged with GYU008 (record_id as in
// recordID); GYD008 lists the sender's unacknowledged batches and GYR005
// asks for one of them again (by batch_no), or for the records of the
// sender's acknowledged batches of a date range; with nothing to download
// again it is not accepted (accept_flag 0). A sender cannot acknowledge
// (E2003) or ask again for another sender's batch. A record fed back
// as failed is offered again in a later batch; a changed record (a
// settlement revoked or put in a monthly settlement) is offered again.
// full_flag "1" of GYD102/GYD004 hands out every valid record again.
// Config.OverBatchLimit plays a national system that breaks the limit:
// its batches carry more than MaxBatch records, and since GYU008 still
// takes at most MaxBatch records a call, such a batch is fed back in
// parts, each naming records of the batch not fed back yet (E2004
// otherwise), and acknowledged once all were; GYR005 for it starts its
// feedback over.
// GYD104 answers one person's settlements at once, without feedback.
//
// The ledger records every accepted state change (code, serial, business
// key) so tests can prove "exactly once", and Admissions, Details,
// Settlements, Deductions and Monthlies show the business records
// themselves; Apply runs a transaction as the national side or another
// province would; Received records every request
// that reached the simulator. Faults can be injected per transaction:
// timeouts, HTTP 5xx, garbage, bad signatures, unsigned errors, business
// errors, "processed but the reply is lost", signed answers lacking fields
// or carrying altered ones (another attachment, another card holder), and
// holds that block a request (before or after processing) until the test
// releases it.
//
// Business error codes (the simulator's own; the official table is not
// public):
//
//	E0001 验签失败                      our signature does not verify
//	E0002 报文流水号重复                 a serial was used twice
//	E0003 报文格式错误                   not a valid envelope, or undecryptable, or no serial
//	                                     (missing, empty or white space alone)
//	E0004 未知交易                       unknown transaction code
//	E1001 参数校验失败                   the input breaks the schema (a required value
//	                                     of white space alone is missing)
//	E1002 附件内容与大小不符             GYU002 file_size or file_content wrong (file_content
//	                                     not base64 on one line: a strict decoder)
//	E2001 上一批次尚未反馈               a download while a batch is unacknowledged
//	E2003 批次不存在或已反馈             GYU008 for a batch that is not outstanding
//	E2004 反馈记录与批次不符             GYU008 records do not match the batch
//	E2005 入院信息尚未下载               GYD102 before GYD101 handed the admission out
//	E2006 月结不存在                     GYD103 of an unknown month_settle_no
//	E2007 人员信息不符                   GYD104 name does not match
//	E3001 已存在有效备案                 one valid filing per person per institution type
//	                                     (GYU001 approval, GYU006, and a GYU007 leaving two)
//	E3002 附件不存在                     GYU006 references an attachment not uploaded, revoked,
//	                                     not uploaded for a filing (biz_type 1) or under another
//	                                     attachment_type, or lists no 工伤认定决定书 (01)
//	E3003 参保地不属于本省               GYU006 of another province's filing
//	E3004 备案不存在                     unknown filing_no
//	E3005 备案已失效，不得恢复为有效     GYU007 on a refused or terminated filing
//	E3006 备案申请不存在或未下载         GYU001 of an application not handed out
//	E3007 备案申请已审核                 GYU001 twice
//	E3008 审核不通过须填写审核意见       GYU001 refusal without an opinion (or one of white space alone)
//	E3009 协议机构不存在                 GYU007 to an unknown institution
//	E3010 申请人信息不符                 GYU001 under another aac002 than the application's
//	E3011 协议机构不在备案就医地         GYU007 naming an institution outside the filing's (new) place,
//	                                     or changing the place while the filing's institution is
//	                                     elsewhere; GYU006 or a GYU001 approval at an institution
//	                                     outside the place of treatment
//	E3012 备案类型与协议机构类型不符     GYU006 of a device filing elsewhere than at a device institution,
//	                                     or of another filing at one
//	E3013 备案截止日期早于开始日期       GYU007 extension (change type 1) to an end before the
//	                                     filing's start; GYU001 approval whose period (the audit's
//	                                     dates over the application's) ends before it starts
//	E4001 附件不存在                     GYD054 of an unknown attachment, or of one revoked
//	                                     with the settlement it served (GYR003)
//	E5001 二维码无效或已过期             GYU010 of an unknown or expired code
//	E6001 无审核通过的有效备案           filing unknown, not approved, or none for the person
//	E6002 不在备案有效期内               admission / configuration date outside the filing
//	E6003 协议机构不存在或协议无效       institution unknown, agreement invalid that day, wrong kind
//	E6004 住院号已使用                   inpatient number in use at the institution
//	E6005 备案与人员或机构不符           another person's filing, or not for this institution
//	E6101 就诊登记不存在                 unknown ykc700, or akc190/akb020 not its own
//	E6102 就诊登记已撤销                 the admission was revoked
//	E6103 已结算                         the visit is settled
//	E6104 单价×数量≠金额                 a line's amount
//	E6105 统筹支付+自付≠金额             a line's split
//	E6106 明细流水号重复                 detail_no used in the visit
//	E6107 条数超限                       not 1–500 lines or deductions
//	E6108 单价、数量或金额不合法         qty ≤ 0, a negative price or amount, bad decimal
//	E6202 结算金额与明细合计不符         GYU103 totals
//	E6203 无费用明细                     GYU103 of a visit without details
//	E6204 康复方案附件不存在             GYU103 rehab_plan_id unknown, revoked, not a plan of this stay, or not a rehabilitation stay
//	E6205 出院早于入院                   GYU103 akc194 before ykc701
//	E6206 结算早于入院                   GYU103 settle_time before ykc701
//	E6301 非辅助器具配置备案或机构       GYU303 filing type or institution type
//	E6302 辅具结算金额不符               GYU303 totals
//	E7001 结算不存在                     GYR003 of an unknown settlement
//	E7002 结算已撤销                     GYR003 twice
//	E7003 无可撤销的费用明细             GYR001 without (those) details
//	E7004 存在未撤销的费用明细           GYR002 while details stand
//	E7005 扣款不存在                     GYR004 of an unknown deduction
//	E7006 扣款已撤销                     GYR004 twice
//	E7007 撤销时间早于扣款时间           GYR004 revoke_time before a deduction's deduct_time
//	E8001 结算不存在或已撤销             GYU004 on no (valid) settlement
//	E8002 扣款金额须大于0                GYU004 amount ≤ 0
//	E8003 扣款超过统筹支付               GYU004 total over fund_pay
//	E8004 协议机构不属于本省             GYU004 of an institution elsewhere
//	E8005 本月已月结                     GYU003 twice for a month
//	E8006 月结与明细不符                 GYU003 items or sums
//	E8007 月结人次须大于0                GYU003 without settlements
//	E8008 扣款编号重复                   GYU004 deduct_no used
//	E8009 本月正在分部月结               a record dated in a month settled in parts, a part missing
//	E8010 扣款时间早于结算时间           GYU004 deduct_time before the settlement's settle_time
//	E9999 模拟业务错误                   an injected business error
package workinjury
