package adapter

import (
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/schemas"
)

// Setting names. Every envelope and crypto parameter of the (non-public)
// specification is a setting whose default is smenvelope.Defaults().
const (
	setURL                = "url"
	setLayout             = "layout"
	setPathTemplate       = "pathTemplate"
	setTimeout            = "timeout"
	setRegionCode         = "regionCode"
	setSenderCode         = "senderCode"
	setReceiverCode       = "receiverCode"
	setVersion            = "interfaceVersion"
	setKeyDir             = "keyDir"
	setPrivateKeyFile     = "privateKeyFile"
	setPeerPublicKeyFile  = "peerPublicKeyFile"
	setKeyPassword        = "keyPassword"
	setKeyReload          = "keyReloadInterval"
	setSchemaDir          = "schemaDir"
	setMaxBatches         = "maxBatchesPerRun"
	setInstitutionsFile   = "institutionsFile"
	setAttachmentDir      = "attachmentDir"
	setMaxInline          = "maxInlineAttachmentBytes"
	setAttachmentSources  = "attachmentSources"
	setAttachmentMaxBytes = "attachmentMaxBytes"
	setAttachmentCAFile   = "attachmentCAFile"
	setInstSource         = "institutionsSource"
	setAmountTolerance    = "amountTolerance"
	setPreconditions      = "preconditions"
	setCardAuthMaxAge     = "cardAuthMaxAge"
	setUploadDeadline     = "uploadDeadline"
	setFeedbackBackoff    = "feedbackMaxBackoff"
	setPendingAudit       = "pendingAuditCheck"
	setGYD053Echo         = "gyd053Echo"

	setSuccessCodes       = "successCodes"
	setCipherOrder        = "cipherOrder"
	setPointPrefix        = "pointPrefix"
	setSigFormat          = "sigFormat"
	setEncoding           = "encoding"
	setSignTarget         = "signTarget"
	setCanonicalExclude   = "canonicalExclude"
	setCanonicalKeepEmpty = "canonicalKeepEmpty"
	setSM4Mode            = "sm4Mode"
	setSM4IV              = "sm4IV"
	setKeyForm            = "keyForm"
	setUID                = "uid"
	setSignTypeValue      = "signTypeValue"
	setTimestampLayout    = "timestampLayout"
	setUnsignedErrors     = "unsignedErrors"
	setStrictOpen         = "strictOpen"
)

// Endpoint layouts.
const (
	// LayoutSingle posts every transaction to the one URL; the transaction
	// code travels in the envelope field field.txCode.
	LayoutSingle = "single"
	// LayoutPerTransaction posts to url + pathTemplate with {code} replaced
	// by the transaction code.
	LayoutPerTransaction = "perTransaction"
)

// fieldDisabled as the value of a field.* setting leaves that envelope
// member out (a setting cannot be set to the empty string: empty means
// "use the default").
const fieldDisabled = "-"

// envelopeField ties a field.* setting to its smenvelope.FieldNames member.
type envelopeField struct {
	setting string
	get     func(*smenvelope.FieldNames) *string
	zh, doc string // what the member holds, in Chinese and in English
}

var envelopeFields = []envelopeField{
	{"field.txCode", func(f *smenvelope.FieldNames) *string { return &f.TxCode }, "交易编号", "transaction code (GYU101 …)"},
	{"field.msgId", func(f *smenvelope.FieldNames) *string { return &f.MsgID }, "报文流水号（GYD053 核对的依据）", "message serial, the key of GYD053 reconciliation"},
	{"field.sender", func(f *smenvelope.FieldNames) *string { return &f.Sender }, "发送方系统代码", "sender system code"},
	{"field.receiver", func(f *smenvelope.FieldNames) *string { return &f.Receiver }, "接收方系统代码", "receiver system code"},
	{"field.timestamp", func(f *smenvelope.FieldNames) *string { return &f.Timestamp }, "发送时间", "send time"},
	{"field.version", func(f *smenvelope.FieldNames) *string { return &f.Version }, "接口版本号", "interface version"},
	{"field.key", func(f *smenvelope.FieldNames) *string { return &f.Key }, "经 SM2 加密的 SM4 密钥（必需）", "SM2-encrypted SM4 key (required)"},
	{"field.data", func(f *smenvelope.FieldNames) *string { return &f.Data }, "经 SM4 加密的业务数据（必需）", "SM4-encrypted business data (required)"},
	{"field.sign", func(f *smenvelope.FieldNames) *string { return &f.Sign }, "SM2 签名（必需）", "SM2 signature (required)"},
	{"field.signType", func(f *smenvelope.FieldNames) *string { return &f.SignType }, "签名算法", "signature algorithm"},
	{"field.code", func(f *smenvelope.FieldNames) *string { return &f.Code }, "应答代码", "response code"},
	{"field.message", func(f *smenvelope.FieldNames) *string { return &f.Message }, "应答信息", "response message"},
}

// settings declares the per-site configuration fields.
func settings() []sdk.Setting {
	d := smenvelope.Defaults()
	inferred := "（默认值为推断：官方规范未公开，请按第一次 GYU000 交互确定 INFERRED default: the official specification is not public; fix it from the first GYU000 exchange）"
	ss := []sdk.Setting{
		{Name: setURL, Type: sdk.SettingURL, Required: true,
			Description: "国家工伤保险异地就医系统（或转发给它的省级前置）的地址；layout 为 perTransaction 时，是拼接 pathTemplate 的基础地址。URL of the national work-injury system (or the provincial front end that relays to it); with layout perTransaction, the base that pathTemplate is appended to",
			Example:     "https://gsydjy.example.gov.cn/api"},
		{Name: setLayout, Type: sdk.SettingString, Default: LayoutSingle, Enum: []string{LayoutSingle, LayoutPerTransaction},
			Description: "接口地址布局：single = 所有交易一个地址，交易码在报文中；perTransaction = 每个交易一个地址（url + pathTemplate）。endpoint layout: single = one URL for every transaction, the code in the envelope; perTransaction = one URL per transaction (url + pathTemplate)" + inferred},
		{Name: setPathTemplate, Type: sdk.SettingString, Default: "/{code}",
			Description: "layout 为 perTransaction 时拼接在 url 后的路径；{code} 替换为交易码。path appended to url with layout perTransaction; {code} is replaced by the transaction code", Example: "/gs/{code}"},
		{Name: setTimeout, Type: sdk.SettingDuration, Default: "30s",
			Description: "一次 HTTP 调用的最长时间；超时未应答的调用结果未知，在重发前先用 GYD053 核对。how long one HTTP call may take; a call without an answer in time has an unknown outcome and is reconciled with GYD053 before any resend"},
		{Name: setRegionCode, Type: sdk.SettingString, Required: true,
			Description: "本省业务系统的 6 位行政区划代码（下载时为就医地；GYU006 只接受参保地 aab301 在同一省的备案）。6-digit administrative region code of this province's business system (就医地 for downloads; GYU006 accepts only filings whose 参保地 aab301 is in the same province)",
			Example:     "350200"},
		{Name: setSenderCode, Type: sdk.SettingString,
			Description: "发送方系统代码，写入 field.sender，并作为报文流水号的前缀（最多 20 个字符）；默认 regionCode。每个站点要用自己的代码：两个站点用同一个代码会生成相同的流水号，国家系统会以重复拒绝。sender system code written to field.sender and used as the prefix of message serials (at most 20 characters); default: regionCode. Give each site its own: two sites sending as one draw the same serials, which the national system refuses as repeated", Example: "350000GS01"},
		{Name: setReceiverCode, Type: sdk.SettingString,
			Description: "接收方系统代码，写入 field.receiver；为空时不写。receiver system code written to field.receiver; left out when empty", Example: "GSYDJY"},
		{Name: setVersion, Type: sdk.SettingString, Default: "V1.5.02",
			Description: "接口版本号，写入 field.version。interface version written to field.version"},
		{Name: setKeyDir, Type: sdk.SettingPath, Required: true,
			Description: "SM2 密钥文件所在目录，由 `medgate import-keys -site SITE` 写入；每隔 keyReloadInterval 重新读取，换密钥无需重启。directory of the SM2 key files, written by `medgate import-keys -site SITE`; the files are re-read every keyReloadInterval, so keys rotate without a restart",
			Example:     "/etc/medgate/keys/workinjury"},
		{Name: setPrivateKeyFile, Type: sdk.SettingString, Default: smenvelope.DefaultPrivateKeyFile,
			Description: "本机构 SM2 私钥文件（在 keyDir 中，权限 0600，属于 medgate 的运行用户）。our SM2 private key file in keyDir (mode 0600, owned by medgate's user)"},
		{Name: setPeerPublicKeyFile, Type: sdk.SettingString, Default: smenvelope.DefaultPeerPublicKeyFile,
			Description: "国家系统的 SM2 公钥文件（在 keyDir 中）。the national system's SM2 public key file in keyDir"},
		{Name: setKeyPassword, Type: sdk.SettingSecret,
			Description: "加密的 PKCS#8 私钥的口令（env:NAME 或 file:PATH）；私钥未加密时留空。password of an encrypted PKCS#8 private key (env:NAME or file:PATH); leave empty for a plain key", Example: "env:MEDGATE_WI_KEY_PASSWORD"},
		{Name: setKeyReload, Type: sdk.SettingDuration, Default: "10s",
			Description: "检查密钥文件是否变化的间隔。how often the key files are checked for changes"},
		{Name: setSchemaDir, Type: sdk.SettingPath,
			Description: "替换内置模式文件的目录（workinjury/<code>.yaml），如用 `medgate import-spec` 从官方规范导入。directory of schema files (workinjury/<code>.yaml) that replace the built-in ones, e.g. imported from the official specification with `medgate import-spec`",
			Example:     "/etc/medgate/schemas"},
		{Name: setMaxBatches, Type: sdk.SettingInt, Default: "20",
			Description: "一次定时运行最多下载的批次数（每批最多 500 条），超过则等下一次运行。most download batches (of at most 500 records) one scheduled run fetches before it stops until the next run"},
		{Name: setInstitutionsFile, Type: sdk.SettingPath,
			Description: "本省已审核通过的协议机构 JSON 文件（数组，GYU009 的输入）；GYU009 任务上传新增和变更的机构；为空时不运行上传任务。JSON file with an array of this province's approved institutions (GYU009 inputs); the GYU009 job uploads the new and changed ones; no upload job when empty",
			Example:     "/etc/medgate/workinjury-institutions.json"},
		{Name: setInstSource, Type: sdk.SettingString, Default: "file,messages",
			Description: "GYU009 上传的已审核协议机构从哪里来：file（institutionsFile，由 GYU009 任务上传）、messages（平台发来的 workinjury.GYU009 消息）或 both（两者）；audit_status 不为 1（审核通过）的记录从不上传。where the approved institutions uploaded with GYU009 come from: file (institutionsFile, by the GYU009 job), messages (workinjury.GYU009 messages from the platform), or both; a record with audit_status other than 1 (approved) is never uploaded",
			Example:     "messages"},
		{Name: setAmountTolerance, Type: sdk.SettingString, Default: "0.005",
			Description: "费用或辅具明细中 单价 × 数量 与金额之间允许的最大差额（小数，单位：元）；0.005 表示金额为乘积四舍五入到分。largest allowed difference between unit price × quantity and the amount of a fee or device line (decimal, yuan); 0.005 means the amount is the product rounded to the cent",
			Example:     "0"},
		{Name: setPreconditions, Type: sdk.SettingString, Default: "GYD051@admission,GYD051@discharge,GYD051@device",
			Description: "上传前向国家系统做的核验，逗号分隔：GYD051@admission（GYU101）、GYD051@discharge（GYU103）、GYD051@device（GYU303）和 GYD051@card（卡鉴权 GYD052 和 GYD055）即使本地已知备案也调用备案核验；GYD052@admission 要求该人员在 cardAuthMaxAge 内在本机构有一次成功的社保卡鉴权（workinjury.GYD052 消息）；\"-\" 表示不做。本站点未见过的备案不论此处如何设置都用 GYD051 核验。national checks made before an upload, comma-separated: GYD051@admission (GYU101), GYD051@discharge (GYU103), GYD051@device (GYU303) and GYD051@card (the card checks GYD052 and GYD055) call the filing verification even when the filing is known here; GYD052@admission requires a successful card authentication (a workinjury.GYD052 message) of the person at the institution within cardAuthMaxAge; \"-\" for none. A filing this site has not seen is verified with GYD051 whatever this says",
			Example:     "GYD051@admission,GYD052@admission"},
		{Name: setCardAuthMaxAge, Type: sdk.SettingDuration, Default: "12h",
			Description: "一次成功的 GYD052 社保卡鉴权对 GYD052@admission 的有效时长。how long a successful GYD052 card authentication counts for GYD052@admission"},
		{Name: setUploadDeadline, Type: sdk.SettingDuration, Default: "30m",
			Description: "业务发生（occurredAt）后上传须送达国家系统的时限，以及下载后其 GYU008 反馈须送达的时限；超时的仍会发送，并标记为迟到，发出事件并记错误日志。time after the business event (occurredAt) by which an upload, and after a download by which its GYU008 feedback, must have reached the national system; later ones still go, flagged late, with an event and an error log"},
		{Name: setFeedbackBackoff, Type: sdk.SettingDuration, Default: "30s",
			Description: "一次下载运行中 GYU008 反馈重试之间的最长间隔。longest pause between retries of a GYU008 feedback inside one download run"},
		{Name: setPendingAudit, Type: sdk.SettingString, Default: pendingAuditNational, Enum: []string{pendingAuditNational, pendingAuditLocal},
			Description: "GYD001 前置校验“校验是否存在待审核备案申请”的理解方式：national（国家系统的前置条件：它下发待审核的申请，空应答属正常）或 local（本地下载的申请在等待 GYU001 审核结果时不下载新的 GYD001 批次；国家系统拒绝接收审核结果的申请不再阻挡）。how GYD001's pre-check 校验是否存在待审核备案申请 is read: national (the national system's precondition: it hands out the applications awaiting audit, and an empty answer is normal), or local (no new GYD001 batch while an application downloaded here awaits its GYU001 audit result; one the national system refused to take an audit for no longer holds it back)",
			Example:     pendingAuditLocal},
		{Name: setGYD053Echo, Type: sdk.SettingString, Default: gyd053EchoRequired, Enum: []string{gyd053EchoRequired, gyd053EchoOptional},
			Description: "GYD053 应答在判定未知结果前，其签名数据中是否必须写明所查询的流水号（orig_msg_id）：required 必须（默认；否则在 signTarget 为 plaintext 或 ciphertext 时，没有签名数据把应答与所问流水号绑定），或 optional 可选（只要应答未写明别的流水号就信任：仅当国家系统的 GYD053 不回显时使用，并接受重放的其他流水号应答会被采信的风险）。whether a GYD053 answer must name the queried serial (orig_msg_id) in its signed data before it decides an unknown outcome: required (the default; without it, under signTarget plaintext or ciphertext, nothing signed ties the answer to the serial asked about), or optional (trust an answer that names no serial, as long as it names no other one: only if the national system's GYD053 does not echo it, accepting that a replayed answer about another serial would be believed)",
			Example:     gyd053EchoOptional},
		{Name: setAttachmentDir, Type: sdk.SettingPath,
			Description: "下载附件（GYD054）的保存目录；为空时附件内容放在下载事件中，最多 maxInlineAttachmentBytes。directory for downloaded attachments (GYD054); when empty, attachment content travels inside the download event up to maxInlineAttachmentBytes",
			Example:     "/var/lib/medgate/workinjury-attachments"},
		{Name: setMaxInline, Type: sdk.SettingInt, Default: "524288",
			Description: "attachmentDir 为空时一个事件中附件总大小的上限（字节，解码后）；超过的记录反馈为失败，待设置 attachmentDir 后重新下载。largest total attachment size (bytes, decoded) carried inside one event when attachmentDir is empty; a record with more is fed back as failed so it is downloaded again once attachmentDir is set"},
		{Name: setAttachmentSources, Type: sdk.SettingString,
			Description: "医院文档库的 URL 前缀，逗号分隔：GYU002 条目可用 file_url（medgate 扩展）链接其中的文件，而不把文件放在 file_content；只获取这些前缀下的链接，协议与前缀相同（https；前缀为 http 时才用 http），不带用户信息，只跟随到允许链接的重定向；为空表示拒绝链接。comma-separated URL prefixes of the hospital's document stores from which GYU002 items may link their file (file_url, a medgate extension) instead of carrying it in file_content; a link is fetched only under one of them, with the prefix's scheme (https; http only where the prefix is http), no user info, redirects only to allowed links; empty = links refused",
			Example:     "https://emr.hospital.local/docs/,https://pacs.hospital.local/reports/"},
		{Name: setAttachmentMaxBytes, Type: sdk.SettingInt, Default: strconv.Itoa(defaultAttachmentMax),
			Description: "GYU002 条目用 file_url 链接的文档最大字节数（解码后）；不超过 GYU002 file_content 长度在 base64 编码后允许的大小（14000000 字符：10500000 字节）。largest document (bytes, decoded) a GYU002 item may link with file_url; at most what GYU002's file_content length allows once base64-encoded (14000000 characters: 10500000 bytes)"},
		{Name: setAttachmentCAFile, Type: sdk.SettingPath,
			Description: "签发文档库 TLS 证书的 CA 证书 PEM 文件（医院自建 CA）；为空则用系统信任的 CA。TLS 始终校验。PEM file of the CA certificates that sign the document stores' TLS certificates (a hospital CA); empty = the system's trusted CAs. TLS is always verified",
			Example:     "/etc/medgate/hospital-ca.pem"},

		{Name: setSuccessCodes, Type: sdk.SettingString, Default: strings.Join(d.SuccessCodes, ","),
			Description: "表示成功的应答代码，逗号分隔。comma-separated response codes that mean success" + inferred},
		{Name: setCipherOrder, Type: sdk.SettingString, Default: string(d.CipherOrder), Enum: []string{string(smenvelope.C1C3C2), string(smenvelope.C1C2C3), string(smenvelope.ASN1)},
			Description: "加密 SM4 密钥的 SM2 密文排列顺序。SM2 ciphertext layout of the encrypted SM4 key" + inferred},
		{Name: setPointPrefix, Type: sdk.SettingBool, Default: strconv.FormatBool(d.PointPrefix),
			Description: "在原始 C1 前写入 04 点前缀（仅 C1C3C2 和 C1C2C3）。write the 04 point prefix in front of raw C1 (C1C3C2 and C1C2C3 only)" + inferred},
		{Name: setSigFormat, Type: sdk.SettingString, Default: string(d.SigFormat), Enum: []string{string(smenvelope.SigDER), string(smenvelope.SigRS)},
			Description: "SM2 签名格式：DER 或 64 字节 r‖s。SM2 signature form: DER or 64-byte r‖s" + inferred},
		{Name: setEncoding, Type: sdk.SettingString, Default: string(d.Encoding), Enum: []string{string(smenvelope.Base64), string(smenvelope.HexLower), string(smenvelope.HexUpper)},
			Description: "密钥、数据和签名的文本编码。text encoding of key, data and signature" + inferred},
		{Name: setSignTarget, Type: sdk.SettingString, Default: string(d.SignTarget), Enum: []string{string(smenvelope.SignPlaintext), string(smenvelope.SignCiphertext), string(smenvelope.SignCanonical)},
			Description: "签名覆盖的内容：业务明文、编码后的密文，或报文的规范串 k=v&…。what the signature covers: the business plaintext, the encoded ciphertext, or the canonical k=v&… string of the envelope" + inferred},
		{Name: setCanonicalExclude, Type: sdk.SettingString,
			Description: "不纳入规范串的报文字段，逗号分隔（signTarget 为 canonical 时）。comma-separated envelope fields left out of the canonical string (signTarget canonical)"},
		{Name: setCanonicalKeepEmpty, Type: sdk.SettingBool, Default: strconv.FormatBool(d.CanonicalKeepEmpty),
			Description: "在规范串中保留空字段（\"k=\"）。keep empty fields (\"k=\") in the canonical string"},
		{Name: setSM4Mode, Type: sdk.SettingString, Default: string(d.SM4Mode), Enum: []string{string(smenvelope.ECB), string(smenvelope.CBC)},
			Description: "业务数据的 SM4 模式（PKCS#7 填充）。SM4 mode of the business data (PKCS#7 padding)" + inferred},
		{Name: setSM4IV, Type: sdk.SettingString,
			Description: "固定的 CBC IV，32 个十六进制字符；为空则随机 IV 放在数据前发送。fixed CBC IV as 32 hex characters; empty: a random IV sent in front of the data"},
		{Name: setKeyForm, Type: sdk.SettingString, Default: string(d.KeyForm), Enum: []string{string(smenvelope.Raw16), string(smenvelope.ASCII16), string(smenvelope.Hex32)},
			Description: "每条报文经 SM2 加密的 SM4 密钥的形式。form of the per-message SM4 key that is SM2-encrypted" + inferred},
		{Name: setUID, Type: sdk.SettingString, Default: d.UID,
			Description: "SM2 签名者用户 ID（Z_A）。SM2 signer user id (Z_A)"},
		{Name: setSignTypeValue, Type: sdk.SettingString, Default: d.SignTypeValue,
			Description: "写入 field.signType 的值。value written to field.signType"},
		{Name: setTimestampLayout, Type: sdk.SettingString, Default: d.TimestampLayout,
			Description: "field.timestamp 的时间格式（Go 时间布局，UTC+8），或 unix / unixms。Go time layout of field.timestamp in UTC+8, or unix / unixms" + inferred},
		{Name: setUnsignedErrors, Type: sdk.SettingBool, Default: strconv.FormatBool(d.UnsignedErrors),
			Description: "接受没有有效签名的错误应答，作为未验证的错误（从不采信：结果用 GYD053 核对）。accept error responses without a valid signature as unverified errors (they are never trusted: the outcome is reconciled with GYD053)"},
		{Name: setStrictOpen, Type: sdk.SettingBool, Default: strconv.FormatBool(d.StrictOpen),
			Description: "应答只接受配置的 cipherOrder、pointPrefix、sigFormat 和 keyForm（默认也尝试其他形式；两种检查都经过认证）。accept only the configured cipherOrder, pointPrefix, sigFormat and keyForm in responses (by default the others are tried too; both checks are authenticated)"},
	}
	for _, f := range envelopeFields {
		def := *f.get(&d.Fields)
		if def == "" {
			def = fieldDisabled
		}
		ss = append(ss, sdk.Setting{Name: f.setting, Type: sdk.SettingString, Default: def,
			Description: "报文中" + f.zh + "的字段名；\"-\" 表示不写该字段。envelope member name of the " + f.doc + "; \"-\" leaves it out" + inferred})
	}
	return ss
}

// siteConfig is one site's parsed configuration. It is immutable once built.
type siteConfig struct {
	code          string
	url           string
	layout        string
	pathTemplate  string
	timeout       time.Duration
	region        string
	sender        string
	receiver      string
	version       string
	opts          smenvelope.Options
	keys          atomic.Pointer[smenvelope.KeyStore] // nil while the key files are missing
	keyCfg        smenvelope.KeyStoreConfig
	keyReload     time.Duration
	schemas       *schemas.Set
	maxBatches    int
	institutions  string
	attachmentDir string
	maxInline     int64
	// attachSources are the allowed prefixes of GYU002 file_url links,
	// attachMax the largest linked document, attachClient fetches them.
	attachSources []attachmentSource
	attachMax     int64
	attachClient  *http.Client
	// instFromFile and instFromMessages: the sources of GYU009 uploads.
	instFromFile, instFromMessages bool
	// tolerance is the allowed |price × qty − amount|.
	tolerance *big.Rat
	// pre holds the enabled preconditions (GYD051@admission …).
	pre            map[string]bool
	cardAuthMaxAge time.Duration
	deadline       time.Duration
	fbBackoff      time.Duration
	// auditGate: no new GYD001 batch while an application downloaded here
	// awaits its audit (pendingAuditCheck local).
	auditGate bool
	// echoOptional: a GYD053 answer that names no serial may decide
	// (gyd053Echo optional).
	echoOptional bool
}

// Values of gyd053Echo.
const (
	gyd053EchoRequired = "required"
	gyd053EchoOptional = "optional"
)

// Readings of GYD001's pending-application pre-check (setting
// pendingAuditCheck); see the README.
const (
	pendingAuditNational = "national"
	pendingAuditLocal    = "local"
)

// Preconditions (setting preconditions).
const (
	preFilingAdmission = "GYD051@admission"
	preFilingDischarge = "GYD051@discharge"
	preFilingDevice    = "GYD051@device"
	preCardAdmission   = "GYD052@admission"
	preFilingCard      = "GYD051@card"
)

var (
	regionRE = regexp.MustCompile(`^[0-9]{6}$`)
	senderRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,20}$`)
)

// parseSettings turns the host's settings (defaults applied) into a
// siteConfig, reporting every problem as a diagnostic on its setting. A
// missing key file is a warning: the site is enabled and every call fails
// with a clear reason until `medgate import-keys` has written the keys.
func parseSettings(site string, in map[string]string) (*siteConfig, sdk.Diagnostics) {
	var ds sdk.Diagnostics
	bad := func(name, summary, detail string) { ds.Error(name, "setting", summary, detail) }
	c := &siteConfig{code: site}

	c.url = in[setURL]
	if u, err := url.Parse(c.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(setURL, "not an http(s) URL", "write the full URL of the national system, e.g. https://host/api")
	}
	c.layout = in[setLayout]
	if c.layout != LayoutSingle && c.layout != LayoutPerTransaction {
		bad(setLayout, "unknown layout "+strconv.Quote(c.layout), "use single or perTransaction")
	}
	c.pathTemplate = in[setPathTemplate]
	if c.layout == LayoutPerTransaction && !strings.Contains(c.pathTemplate, "{code}") {
		bad(setPathTemplate, "pathTemplate has no {code}", "with layout perTransaction the path must name the transaction, e.g. /{code}")
	}
	c.timeout = durationOr(in[setTimeout], 30*time.Second, setTimeout, &ds)
	c.region = in[setRegionCode]
	if !regionRE.MatchString(c.region) {
		bad(setRegionCode, "regionCode must be 6 digits", "write the administrative region code of this province's business system, e.g. 350200")
	}
	c.sender = in[setSenderCode]
	if c.sender == "" {
		c.sender = c.region
	}
	if !senderRE.MatchString(c.sender) {
		bad(setSenderCode, "senderCode must be 1 to 20 letters, digits, _ or -", "it prefixes every message serial, which GYD053 limits to 50 characters")
	}
	c.receiver = in[setReceiverCode]
	c.version = in[setVersion]
	c.maxBatches = intOr(in[setMaxBatches], 20, setMaxBatches, &ds)
	if c.maxBatches < 1 {
		bad(setMaxBatches, "maxBatchesPerRun must be at least 1", "")
	}
	c.maxInline = int64(intOr(in[setMaxInline], 512<<10, setMaxInline, &ds))
	c.institutions = in[setInstitutionsFile]
	c.attachmentDir = in[setAttachmentDir]
	if c.attachmentDir != "" {
		if err := checkWritableDir(c.attachmentDir); err != nil {
			bad(setAttachmentDir, "downloaded attachments cannot be written there", err.Error()+
				"; create the directory and give it to the user medgate runs as (e.g. install -d -o medgate -m 0750 DIR), or leave attachmentDir empty to carry attachments inside the download events")
		}
	}
	c.attachSources = parseAttachmentSources(in[setAttachmentSources], &ds)
	c.attachMax = int64(intOr(in[setAttachmentMaxBytes], defaultAttachmentMax, setAttachmentMaxBytes, &ds))
	if c.attachMax < 1 {
		bad(setAttachmentMaxBytes, "attachmentMaxBytes must be at least 1", "give the largest linked document in bytes, e.g. 10485760 (10 MiB)")
	}
	c.attachClient = attachmentClient(c, in[setAttachmentCAFile], &ds)
	for _, s := range splitList(in[setInstSource]) {
		switch s {
		case "file":
			c.instFromFile = true
		case "messages":
			c.instFromMessages = true
		default:
			bad(setInstSource, "unknown institutions source "+strconv.Quote(s), "use file, messages or file,messages")
		}
	}
	if in[setInstSource] == "" {
		c.instFromFile, c.instFromMessages = true, true
	}
	tol := in[setAmountTolerance]
	if tol == "" {
		tol = "0.005"
	}
	if r, ok := parseDec(tol); !ok || r.Sign() < 0 {
		bad(setAmountTolerance, "amountTolerance must be a decimal number ≥ 0", "e.g. 0.005 (round to the cent) or 0 (exact)")
		c.tolerance = big.NewRat(5, 1000)
	} else {
		c.tolerance = r
	}
	c.pre = map[string]bool{}
	pre := in[setPreconditions]
	if pre == "" {
		pre = preFilingAdmission + "," + preFilingDischarge + "," + preFilingDevice
	}
	for _, s := range splitList(pre) {
		switch s {
		case fieldDisabled:
		case preFilingAdmission, preFilingDischarge, preFilingDevice, preCardAdmission, preFilingCard:
			c.pre[s] = true
		default:
			bad(setPreconditions, "unknown precondition "+strconv.Quote(s), "use GYD051@admission, GYD051@discharge, GYD051@device, GYD051@card, GYD052@admission, or - for none")
		}
	}
	c.cardAuthMaxAge = durationOr(in[setCardAuthMaxAge], 12*time.Hour, setCardAuthMaxAge, &ds)
	c.deadline = durationOr(in[setUploadDeadline], 30*time.Minute, setUploadDeadline, &ds)
	c.fbBackoff = durationOr(in[setFeedbackBackoff], 30*time.Second, setFeedbackBackoff, &ds)
	switch in[setPendingAudit] {
	case "", pendingAuditNational:
	case pendingAuditLocal:
		c.auditGate = true
	default:
		bad(setPendingAudit, "unknown pendingAuditCheck "+strconv.Quote(in[setPendingAudit]), "use national (the default) or local")
	}
	switch in[setGYD053Echo] {
	case "", gyd053EchoRequired:
	case gyd053EchoOptional:
		c.echoOptional = true
	default:
		bad(setGYD053Echo, "unknown gyd053Echo "+strconv.Quote(in[setGYD053Echo]), "use required (the default) or optional")
	}

	// Envelope options: start from the defaults, apply every setting.
	o := smenvelope.Defaults()
	for _, f := range envelopeFields {
		v, ok := in[f.setting]
		if !ok || v == "" {
			continue
		}
		if v == fieldDisabled {
			v = ""
		}
		*f.get(&o.Fields) = v
	}
	if v := in[setSuccessCodes]; v != "" {
		o.SuccessCodes = splitList(v)
	}
	setStr := func(name string, dst *string) {
		if v := in[name]; v != "" {
			*dst = v
		}
	}
	setBool := func(name string, dst *bool) {
		if v := in[name]; v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				bad(name, strconv.Quote(v)+" is not true or false", "")
				return
			}
			*dst = b
		}
	}
	var order, sig, enc, target, mode, form string
	setStr(setCipherOrder, &order)
	setStr(setSigFormat, &sig)
	setStr(setEncoding, &enc)
	setStr(setSignTarget, &target)
	setStr(setSM4Mode, &mode)
	setStr(setKeyForm, &form)
	if order != "" {
		o.CipherOrder = smenvelope.CipherOrder(order)
	}
	if sig != "" {
		o.SigFormat = smenvelope.SigFormat(sig)
	}
	if enc != "" {
		o.Encoding = smenvelope.Encoding(enc)
	}
	if target != "" {
		o.SignTarget = smenvelope.SignTarget(target)
	}
	if mode != "" {
		o.SM4Mode = smenvelope.SM4Mode(mode)
	}
	if form != "" {
		o.KeyForm = smenvelope.KeyForm(form)
	}
	setBool(setPointPrefix, &o.PointPrefix)
	setBool(setCanonicalKeepEmpty, &o.CanonicalKeepEmpty)
	setBool(setUnsignedErrors, &o.UnsignedErrors)
	setBool(setStrictOpen, &o.StrictOpen)
	if v := in[setCanonicalExclude]; v != "" {
		o.CanonicalExclude = splitList(v)
	}
	setStr(setSM4IV, &o.SM4IV)
	setStr(setUID, &o.UID)
	setStr(setSignTypeValue, &o.SignTypeValue)
	setStr(setTimestampLayout, &o.TimestampLayout)
	if c.layout == LayoutSingle && o.Fields.TxCode == "" {
		bad("field.txCode", "field.txCode is disabled but layout is single", "the national system can only tell the transaction from the envelope: name the field or use layout perTransaction")
	}
	if o.Fields.MsgID == "" {
		bad("field.msgId", "field.msgId is disabled", "every request needs a serial so that unknown outcomes can be reconciled with GYD053")
	}
	var oe *smenvelope.OptionsError
	if err := o.Validate(); errors.As(err, &oe) {
		for _, p := range oe.Problems {
			bad("envelope", "invalid envelope settings", p)
		}
	}
	c.opts = o

	// Schemas: the embedded set, overlaid by the site's directory.
	c.schemas = schemas.Embedded()
	if err := schemas.CheckEmbedded(); err != nil {
		bad(setSchemaDir, "the built-in schemas do not load", err.Error())
	}
	if dir := in[setSchemaDir]; dir != "" {
		set, err := c.schemas.Overlay(dir)
		if err != nil {
			bad(setSchemaDir, "cannot load the schema overlay", err.Error())
		} else {
			c.schemas = set
		}
	}

	// Keys.
	c.keyReload = durationOr(in[setKeyReload], 10*time.Second, setKeyReload, &ds)
	c.keyCfg = smenvelope.KeyStoreConfig{
		Dir:               in[setKeyDir],
		PrivateKeyFile:    in[setPrivateKeyFile],
		PeerPublicKeyFile: in[setPeerPublicKeyFile],
		Password:          smenvelope.Secret(in[setKeyPassword]),
	}
	if c.keyCfg.Dir == "" {
		bad(setKeyDir, "keyDir is required", "import the keys with `medgate import-keys -site "+site+"` and name their directory here")
	} else if !ds.HasError() {
		ks, err := smenvelope.NewKeyStore(c.keyCfg)
		switch {
		case err == nil:
			c.keys.Store(ks)
		case errors.Is(err, smenvelope.ErrSelfTest):
			bad(setKeyDir, "the SM2/SM4 implementation fails its self-test on this machine", err.Error())
		case keysMissing(c.keyCfg):
			ds.Warn(setKeyDir, "precondition", "the SM2 key files are not there yet",
				"every work-injury call fails until they are imported: run `medgate import-keys -site "+site+" -private FILE -peer-public FILE`; they are picked up without a restart")
		default:
			bad(setKeyDir, "the SM2 keys cannot be loaded", err.Error())
		}
	}
	return c, ds
}

// keysMissing reports whether a key file does not exist (as opposed to
// existing with bad content or permissions).
func keysMissing(c smenvelope.KeyStoreConfig) bool {
	for _, p := range keyPaths(c) {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return true
		}
	}
	return false
}

// keyPaths returns the private and peer public key file paths.
func keyPaths(c smenvelope.KeyStoreConfig) []string {
	priv, pub := c.PrivateKeyFile, c.PeerPublicKeyFile
	if priv == "" {
		priv = smenvelope.DefaultPrivateKeyFile
	}
	if pub == "" {
		pub = smenvelope.DefaultPeerPublicKeyFile
	}
	if !filepath.IsAbs(priv) {
		priv = filepath.Join(c.Dir, priv)
	}
	if !filepath.IsAbs(pub) {
		pub = filepath.Join(c.Dir, pub)
	}
	return []string{priv, pub}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func durationOr(v string, def time.Duration, name string, ds *sdk.Diagnostics) time.Duration {
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		ds.Error(name, "setting", fmt.Sprintf("%q is not a positive duration", v), `write e.g. "30s" or "10m"`)
		return def
	}
	return d
}

func intOr(v string, def int, name string, ds *sdk.Diagnostics) int {
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		ds.Error(name, "setting", fmt.Sprintf("%q is not a whole number", v), "")
		return def
	}
	return n
}

// endpoint returns the URL a transaction is posted to.
func (c *siteConfig) endpoint(code string) string {
	if c.layout != LayoutPerTransaction {
		return c.url
	}
	return strings.TrimRight(c.url, "/") + strings.ReplaceAll(c.pathTemplate, "{code}", code)
}

// checkWritableDir makes dir if it is missing and writes and removes a
// file in it, so that a directory medgate may not write to is refused
// when the site is configured (check-config, the start, a reload), not
// at the first GYD054 download, whose record would fail until fixed.
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".medgate-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	err = f.Close()
	if rmErr := os.Remove(name); err == nil {
		err = rmErr
	}
	return err
}
