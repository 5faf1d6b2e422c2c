// Package workinjury simulates the national work-injury insurance
// remote-medical system (工伤保险异地就医系统) for tests and `make run`.
//
// A *Server is an http.Handler that speaks the same configurable SM4+SM2
// envelope as the adapter (package smenvelope, with the keys swapped): it
// verifies our signature before anything else, decrypts, validates the
// business input against the schemas (the same files the adapter uses),
// enforces the business rules of the transactions it knows, answers sealed
// and signed, and remembers every transaction by its serial for the general
// transaction query GYD053.
//
// Downloads (GYD001 filing applications, GYD006 filings, GYD009
// institutions) are incremental queues: a download hands out at most
// BatchSize (≤500) records not yet acknowledged; a new download of the same
// code is refused (E2001) while the previous batch is not acknowledged with
// GYU008; GYD008 lists unacknowledged batches and GYR005 asks for one again.
// A record fed back as failed is offered again in a later batch.
//
// The ledger records every accepted state change (code, serial, business
// key) so tests can prove "exactly once"; Received records every request
// that reached the simulator. Faults can be injected per transaction:
// timeouts, HTTP 5xx, garbage, bad signatures, unsigned errors, business
// errors, "processed but the reply is lost", and holds that block a request
// (before or after processing) until the test releases it.
//
// Business error codes (the simulator's own; the official table is not
// public):
//
//	E0001 验签失败                      our signature does not verify
//	E0002 报文流水号重复                 a serial was used twice
//	E0003 报文格式错误                   not a valid envelope, or undecryptable
//	E0004 未知交易                       unknown transaction code
//	E1001 参数校验失败                   the input breaks the schema
//	E1002 附件内容与大小不符             GYU002 file_size or file_content wrong
//	E2001 上一批次尚未反馈               a download while a batch is unacknowledged
//	E2003 批次不存在或已反馈             GYU008 for a batch that is not outstanding
//	E2004 反馈记录与批次不符             GYU008 records do not match the batch
//	E3001 已存在有效备案                 one valid filing per person per institution type
//	E3002 附件不存在                     GYU006 references an attachment not uploaded
//	E3003 参保地不属于本省               GYU006 of another province's filing
//	E3004 备案不存在                     unknown filing_no
//	E3005 备案已失效，不得恢复为有效     GYU007 on a refused or terminated filing
//	E3006 备案申请不存在或未下载         GYU001 of an application not handed out
//	E3007 备案申请已审核                 GYU001 twice
//	E3008 审核不通过须填写审核意见       GYU001 refusal without an opinion
//	E3009 协议机构不存在                 GYU007 to an unknown institution
//	E4001 附件不存在                     GYD054 of an unknown attachment
//	E5001 二维码无效或已过期             GYU010 of an unknown or expired code
//	E9999 模拟业务错误                   an injected business error
package workinjury
