package hsa

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/sdk"
)

// Routing says how the URL of a transaction is found.
type Routing string

// Routings.
const (
	// RouteSingle posts every transaction to one URL; the platform routes by
	// the infno in the body (e.g. /fsi/api/rsfComIfsService/callService).
	RouteSingle Routing = "single"
	// RouteAppendInfno appends the infno to the base URL (base + "4201A").
	RouteAppendInfno Routing = "append-infno"
)

// Gateway authentication schemes.
const (
	// AuthXTif signs with the x-tif-* headers of the national gateway.
	AuthXTif = "x-tif"
	// AuthNone adds no headers (a front-end processor or DLL signs).
	AuthNone = "none"
)

// Encryption of the business data (the envelope's enc_type).
const (
	EncNone = "none"
	EncSM4  = "SM4"
)

// Secret is a string that never prints: String, GoString, JSON and slog
// show "[redacted]". Use Reveal to get the value.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return `hsa.Secret("` + s.String() + `")` }

// MarshalText keeps secrets out of JSON, YAML and text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Override sends transactions whose infno matches Pattern to URL. Pattern
// is an infno ("4201A") or a prefix ending in "*" ("42*").
type Override struct {
	Pattern string
	URL     string
}

// Paging names the wrapper of paged query outputs.
type Paging struct {
	Count, Pages, Data string
}

// Config is one site's connection to the platform. Start from Defaults
// (or FromSettings) and call Validate.
type Config struct {
	// System is the name journaled with every exchange, e.g. "hsa".
	System string

	// BaseURL is the one endpoint (RouteSingle) or the base the infno is
	// appended to (RouteAppendInfno).
	BaseURL string
	Routing Routing
	// Overrides send some transactions elsewhere: an exact infno wins,
	// then the longest prefix. A matching URL is used as BaseURL would be.
	Overrides []Override

	// Envelope fields.
	FixmedinsCode  string
	FixmedinsName  string
	MdtrtareaAdmvs string
	InsuplcAdmdvs  string
	RecerSysCode   string
	Infver         string
	OpterType      string
	Opter          string
	OpterName      string
	DevNo          string
	DevSafeInfo    string
	Cainfo         string
	Signtype       string
	AppID          string
	// FujianFields sends Fujian's app_id and enc_type (S4).
	FujianFields bool

	// Auth is AuthXTif or AuthNone.
	Auth string
	// PaasID and Token are the x-tif credentials.
	PaasID string
	Token  Secret
	// UpperSignature writes the x-tif signature in upper-case hex.
	UpperSignature bool
	// ServiceID, when set, is sent as x-tif-serviceId.
	ServiceID string

	// Enc is EncNone or EncSM4; SM4Key is 16 bytes (32 hex characters or 16
	// characters); SM4Hex encodes the ciphertext as hex instead of base64.
	Enc    string
	SM4Key Secret
	SM4Hex bool

	// SignIn requires a 9001 sign-in (once per day) whose sign_no goes
	// into every envelope; SignInMAC and SignInIP fill its input.
	SignIn    bool
	SignInMAC string
	SignInIP  string
	// SignInExpiredCodes are the infcodes with which the platform says a
	// sign_no is no longer valid (expired before the day ended). A call
	// refused with one of them drops the cached sign-in and is sent once
	// more, with a new msgid, after a fresh 9001. Empty by default: the
	// platform's code is not public.
	SignInExpiredCodes []int

	// Timeout bounds one call; ConnectTimeout bounds the TCP and TLS
	// handshakes. MaxResponseBytes bounds the answer read.
	Timeout          time.Duration
	ConnectTimeout   time.Duration
	MaxResponseBytes int64
	// CAFile, when set, is a PEM bundle of the CAs the platform's TLS
	// certificate is checked against (a provincial private network CA).
	CAFile string

	// MsgIDSeqBase and MsgIDSeqSpan place the 4-digit msgid sequence in
	// [base, base+span): sequence n gives base + (n-1) mod span. Plugins
	// sharing one institution code use disjoint ranges.
	MsgIDSeqBase int
	MsgIDSeqSpan int

	// MaxInputChars bounds the envelope's input as sent (字符型 40000):
	// the serialized input, or its ciphertext with Enc SM4 (see
	// InputChars); 0 means no limit.
	MaxInputChars int

	// Paging names the wrapper fields of query outputs.
	Paging Paging
}

// Defaults returns a configuration with every default set; the site
// values (URL, institution, operator, credentials) are empty.
func Defaults() Config {
	return Config{
		System:           "hsa",
		Routing:          RouteSingle,
		Infver:           "V1.0",
		OpterType:        "1",
		FujianFields:     true,
		Auth:             AuthXTif,
		Enc:              EncNone,
		Timeout:          30 * time.Second,
		ConnectTimeout:   10 * time.Second,
		MaxResponseBytes: 16 << 20,
		MsgIDSeqSpan:     10000,
		MaxInputChars:    40000,
		Paging:           Paging{Count: "recordCounts", Pages: "pages", Data: "data"},
	}
}

// Setting names.
const (
	SetBaseURL        = "baseURL"
	SetRouting        = "routing"
	SetEndpoints      = "endpoints"
	SetFixmedinsCode  = "fixmedinsCode"
	SetFixmedinsName  = "fixmedinsName"
	SetMdtrtareaAdmvs = "mdtrtareaAdmvs"
	SetInsuplcAdmdvs  = "insuplcAdmdvs"
	SetRecerSysCode   = "recerSysCode"
	SetInfver         = "infver"
	SetOpterType      = "opterType"
	SetOpter          = "opter"
	SetOpterName      = "opterName"
	SetDevNo          = "devNo"
	SetDevSafeInfo    = "devSafeInfo"
	SetCainfo         = "cainfo"
	SetSigntype       = "signtype"
	SetAppID          = "appId"
	SetFujianFields   = "fujianFields"
	SetAuth           = "auth"
	SetPaasID         = "paasid"
	SetToken          = "token"
	SetSignatureCase  = "signatureCase"
	SetServiceID      = "serviceId"
	SetEncType        = "encType"
	SetSM4Key         = "sm4Key"
	SetSM4Encoding    = "sm4Encoding"
	SetSignIn         = "signIn"
	SetSignInMAC      = "signInMac"
	SetSignInIP       = "signInIp"
	SetSignInExpired  = "signInExpiredCodes"
	SetTimeout        = "timeout"
	SetConnectTimeout = "connectTimeout"
	SetCAFile         = "caFile"
	SetMsgIDSeqBase   = "msgidSeqBase"
	SetMsgIDSeqSpan   = "msgidSeqSpan"
	SetMaxInputChars  = "maxInputChars"
	SetPagingFields   = "pagingFields"
)

// Settings declares the envelope's per-site settings, for a plugin's
// Describe. Every default is the value Defaults uses.
func Settings() []sdk.Setting {
	return []sdk.Setting{
		{Name: SetBaseURL, Type: sdk.SettingURL, Required: true,
			Description: "医保平台地址：routing 为 single 时，是所有交易都发往的地址；为 append-infno 时，是拼接 infno 的基础地址（以省里的接入文档为准）。the platform's URL: with routing single, the endpoint every transaction is posted to; with append-infno, the base the infno is appended to (confirm with the province's access document)",
			Example:     "https://hsa.example.gov.cn/fsi/api/rsfComIfsService/callService"},
		{Name: SetRouting, Type: sdk.SettingString, Default: string(RouteSingle), Enum: []string{string(RouteSingle), string(RouteAppendInfno)},
			Description: "single：一个地址，平台按报文中的 infno 分发；append-infno：基础地址 + infno。single: one URL, the platform routes by infno in the body; append-infno: base URL + infno"},
		{Name: SetEndpoints, Type: sdk.SettingString,
			Description: "按交易覆盖地址，逗号分隔的 PATTERN=URL；PATTERN 是 infno 或以 * 结尾的前缀（此时 URL 的用法同 baseURL）。per-transaction endpoint overrides, comma-separated PATTERN=URL; PATTERN is an infno or a prefix ending in * (the URL is then used as baseURL would be)",
			Example:     "42*=https://hsa.example.gov.cn/zf/"},
		{Name: SetFixmedinsCode, Type: sdk.SettingString, Required: true, Description: "定点医药机构编号, 12 characters (it starts every msgid)", Example: "H35020300001"},
		{Name: SetFixmedinsName, Type: sdk.SettingString, Required: true, Description: "定点医药机构名称", Example: "厦门市示例医院"},
		{Name: SetMdtrtareaAdmvs, Type: sdk.SettingString, Required: true, Description: "就医地医保区划, 6 digits", Example: "350200"},
		{Name: SetInsuplcAdmdvs, Type: sdk.SettingString, Description: "参保地医保区划 sent when a call does not give one; empty for self-pay patients", Example: "350200"},
		{Name: SetRecerSysCode, Type: sdk.SettingString, Required: true, Description: "接收方系统代码, given by the province", Example: "CSTEST"},
		{Name: SetInfver, Type: sdk.SettingString, Default: "V1.0", Description: "接口版本号, given by the province"},
		{Name: SetOpterType, Type: sdk.SettingString, Default: "1", Enum: []string{"1", "2", "3"}, Description: "经办人类别: 1 经办人, 2 自助终端, 3 移动终端"},
		{Name: SetOpter, Type: sdk.SettingString, Required: true, Description: "经办人 (operator or terminal number)", Example: "OP001"},
		{Name: SetOpterName, Type: sdk.SettingString, Required: true, Description: "经办人姓名", Example: "医保接口"},
		{Name: SetDevNo, Type: sdk.SettingString, Description: "设备编号"},
		{Name: SetDevSafeInfo, Type: sdk.SettingString, Description: "设备安全信息"},
		{Name: SetCainfo, Type: sdk.SettingString, Description: "数字签名信息"},
		{Name: SetSigntype, Type: sdk.SettingString, Description: "签名类型, e.g. SM2"},
		{Name: SetAppID, Type: sdk.SettingString, Description: "福建渠道id app_id。Fujian app_id (渠道id)"},
		{Name: SetFujianFields, Type: sdk.SettingBool, Default: "true", Description: "发送福建的 app_id 和 enc_type 报文字段。send Fujian's app_id and enc_type envelope fields"},
		{Name: SetAuth, Type: sdk.SettingString, Default: AuthXTif, Enum: []string{AuthXTif, AuthNone},
			Description: "网关认证方式：x-tif 请求头（paasid、timestamp、nonce、SHA-256 签名）或 none（以省里的接入文档为准）。gateway authentication: x-tif headers (paasid, timestamp, nonce, SHA-256 signature) or none (confirm with the province's access document)"},
		{Name: SetPaasID, Type: sdk.SettingString, Description: "医院的网关账号 x-tif-paasid；auth 为 x-tif 时必填。x-tif-paasid (the hospital's gateway account); required with auth x-tif"},
		{Name: SetToken, Type: sdk.SettingSecret, Description: "x-tif 签名令牌；auth 为 x-tif 时必填。the x-tif signing token; required with auth x-tif", Example: "env:MEDGATE_HSA_TOKEN"},
		{Name: SetSignatureCase, Type: sdk.SettingString, Default: "lower", Enum: []string{"lower", "upper"}, Description: "x-tif-signature 十六进制的大小写。hex case of x-tif-signature"},
		{Name: SetServiceID, Type: sdk.SettingString, Description: "网关要求时发送的 x-tif-serviceId 请求头。x-tif-serviceId header, when the gateway wants one"},
		{Name: SetEncType, Type: sdk.SettingString, Default: EncNone, Enum: []string{EncNone, EncSM4}, Description: "加密方式 enc_type：none 不加密，或 SM4 加密 input（并解密标记为 SM4 的 output）。enc_type: none, or SM4 to encrypt the input (and decrypt outputs marked SM4)"},
		{Name: SetSM4Key, Type: sdk.SettingSecret, Description: "encType 为 SM4 时的 SM4 密钥：32 个十六进制字符或 16 个字符。SM4 key for encType SM4: 32 hex characters or 16 characters", Example: "file:/etc/medgate/hsa-sm4.key"},
		{Name: SetSM4Encoding, Type: sdk.SettingString, Default: "base64", Enum: []string{"base64", "hex"}, Description: "SM4 密文的文本编码。text encoding of SM4 ciphertext"},
		{Name: SetSignIn, Type: sdk.SettingBool, Default: "false", Description: "每天用 9001 签到一次，并在每个报文中发送其 sign_no。sign in with 9001 once a day and send its sign_no in every envelope"},
		{Name: SetSignInMAC, Type: sdk.SettingString, Description: "9001 签到用的 MAC 地址。MAC address for the 9001 sign-in", Example: "00:16:3e:00:00:01"},
		{Name: SetSignInIP, Type: sdk.SettingString, Description: "9001 签到用的 IP 地址。IP address for the 9001 sign-in", Example: "10.0.0.8"},
		{Name: SetSignInExpired, Type: sdk.SettingString,
			Description: "平台表示 sign_no 已过期的 infcode，逗号分隔：被这些代码拒绝的调用会重新签到（9001）再发一次；留空表示没有（该代码未公开，以省里的接入文档为准；若平台对所有拒绝都回 -1，不要填 -1）。comma-separated infcodes with which the platform says the sign_no expired: a call refused with one signs in again (9001) and is sent once more; empty: none (the code is not public, take it from the province's access document; not -1 if the platform answers every refusal with -1)",
			Example:     "-2"},
		{Name: SetTimeout, Type: sdk.SettingDuration, Default: "30s", Description: "一次调用（含应答）的最长时间。time allowed for one call, answer included"},
		{Name: SetConnectTimeout, Type: sdk.SettingDuration, Default: "10s", Description: "建立连接（TCP 和 TLS）的最长时间。time allowed to connect (TCP and TLS)"},
		{Name: SetCAFile, Type: sdk.SettingPath, Description: "平台 TLS 证书不是公共 CA 签发时，签发它的 CA 证书 PEM 文件。PEM file of the CAs that sign the platform's TLS certificate, if not a public CA"},
		{Name: SetMsgIDSeqBase, Type: sdk.SettingInt, Default: "0", Description: "msgid 中 4 位序号的起始值。first value of the msgid's 4-digit sequence"},
		{Name: SetMsgIDSeqSpan, Type: sdk.SettingInt, Default: "10000", Description: "本插件从 msgidSeqBase 起使用多少个序号；共用机构编号的插件须使用互不重叠的范围。how many sequence values this plugin uses from msgidSeqBase; plugins sharing an institution code need disjoint ranges"},
		{Name: SetMaxInputChars, Type: sdk.SettingInt, Default: "40000", Description: "发送的 input 最大长度（encType 为 SM4 时为其密文；报文 input 为字符型 40000）；0 表示不限。longest input as sent, its ciphertext with encType SM4 (the envelope's input is 字符型 40000); 0: no limit"},
		{Name: SetPagingFields, Type: sdk.SettingString, Default: "recordCounts,pages,data", Description: "查询输出中记录数、页数和记录列表字段的名称。names of the record count, page count and record list of query outputs"},
	}
}

// FromSettings builds a Config from a site's settings (as the host passes
// them to Configure: defaults applied, secrets resolved). It reports every
// problem at once, each with the setting's name.
func FromSettings(s map[string]string) (Config, sdk.Diagnostics) {
	var ds sdk.Diagnostics
	c := Defaults()
	get := func(name string) string { return strings.TrimSpace(s[name]) }
	c.BaseURL = get(SetBaseURL)
	if v := get(SetRouting); v != "" {
		c.Routing = Routing(v)
	}
	ovs, err := ParseOverrides(get(SetEndpoints))
	if err != nil {
		ds.Error(SetEndpoints, "format", "cannot read the endpoint overrides", err.Error())
	}
	c.Overrides = ovs
	c.FixmedinsCode = get(SetFixmedinsCode)
	c.FixmedinsName = get(SetFixmedinsName)
	c.MdtrtareaAdmvs = get(SetMdtrtareaAdmvs)
	c.InsuplcAdmdvs = get(SetInsuplcAdmdvs)
	c.RecerSysCode = get(SetRecerSysCode)
	if v := get(SetInfver); v != "" {
		c.Infver = v
	}
	if v := get(SetOpterType); v != "" {
		c.OpterType = v
	}
	c.Opter = get(SetOpter)
	c.OpterName = get(SetOpterName)
	c.DevNo = get(SetDevNo)
	c.DevSafeInfo = get(SetDevSafeInfo)
	c.Cainfo = get(SetCainfo)
	c.Signtype = get(SetSigntype)
	c.AppID = get(SetAppID)
	boolean := func(name string, dst *bool) {
		if v := get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				ds.Error(name, "type", fmt.Sprintf("%q is not true or false", v), "write true or false")
				return
			}
			*dst = b
		}
	}
	integer := func(name string, dst *int) {
		if v := get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				ds.Error(name, "type", fmt.Sprintf("%q is not a whole number", v), "write a whole number")
				return
			}
			*dst = n
		}
	}
	duration := func(name string, dst *time.Duration) {
		if v := get(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				ds.Error(name, "type", fmt.Sprintf("%q is not a duration", v), `write e.g. "30s"`)
				return
			}
			*dst = d
		}
	}
	boolean(SetFujianFields, &c.FujianFields)
	if v := get(SetAuth); v != "" {
		c.Auth = v
	}
	c.PaasID = get(SetPaasID)
	c.Token = Secret(s[SetToken])
	c.UpperSignature = get(SetSignatureCase) == "upper"
	c.ServiceID = get(SetServiceID)
	if v := get(SetEncType); v != "" {
		c.Enc = v
	}
	c.SM4Key = Secret(strings.TrimSpace(s[SetSM4Key]))
	c.SM4Hex = get(SetSM4Encoding) == "hex"
	boolean(SetSignIn, &c.SignIn)
	c.SignInMAC = get(SetSignInMAC)
	c.SignInIP = get(SetSignInIP)
	for _, part := range strings.Split(get(SetSignInExpired), ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			ds.Error(SetSignInExpired, "type", fmt.Sprintf("%q is not a whole number", part), "write the infcodes separated by commas, e.g. -2,1001")
			continue
		}
		c.SignInExpiredCodes = append(c.SignInExpiredCodes, n)
	}
	duration(SetTimeout, &c.Timeout)
	duration(SetConnectTimeout, &c.ConnectTimeout)
	c.CAFile = get(SetCAFile)
	integer(SetMsgIDSeqBase, &c.MsgIDSeqBase)
	integer(SetMsgIDSeqSpan, &c.MsgIDSeqSpan)
	integer(SetMaxInputChars, &c.MaxInputChars)
	if v := get(SetPagingFields); v != "" {
		parts := strings.Split(v, ",")
		if len(parts) != 3 {
			ds.Error(SetPagingFields, "format", fmt.Sprintf("%q does not name three fields", v), "write COUNT,PAGES,DATA, e.g. recordCounts,pages,data")
		} else {
			c.Paging = Paging{Count: strings.TrimSpace(parts[0]), Pages: strings.TrimSpace(parts[1]), Data: strings.TrimSpace(parts[2])}
		}
	}
	ds = append(ds, c.Validate()...)
	return c, ds
}

// ParseOverrides reads "PATTERN=URL, PATTERN=URL".
func ParseOverrides(s string) ([]Override, error) {
	var out []Override
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		pat, u, ok := strings.Cut(part, "=")
		pat, u = strings.TrimSpace(pat), strings.TrimSpace(u)
		if !ok || pat == "" || u == "" {
			return nil, fmt.Errorf("%q is not PATTERN=URL; write e.g. 42*=https://host/zf/", part)
		}
		if strings.Contains(strings.TrimSuffix(pat, "*"), "*") {
			return nil, fmt.Errorf("pattern %q: only a trailing * is allowed", pat)
		}
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", pat, err)
		}
		out = append(out, Override{Pattern: pat, URL: u})
	}
	return out, nil
}

func checkURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", u)
	}
	return nil
}

// Validate checks the configuration and returns every problem, each with
// the setting's name.
func (c *Config) Validate() sdk.Diagnostics {
	var ds sdk.Diagnostics
	if err := checkURL(c.BaseURL); err != nil {
		ds.Error(SetBaseURL, "format", "the platform URL is missing or not an http(s) URL", "set baseURL to the URL from the province's access document")
	}
	if c.Routing != RouteSingle && c.Routing != RouteAppendInfno {
		ds.Error(SetRouting, "enum", fmt.Sprintf("routing %q is not known", c.Routing), "use single or append-infno")
	}
	if n := utf8.RuneCountInString(c.FixmedinsCode); n != 12 {
		ds.Error(SetFixmedinsCode, "length", fmt.Sprintf("the institution code has %d characters, the msgid rule needs 12", n), "set fixmedinsCode to the 12-character 定点医药机构编号, e.g. H35020300001")
	}
	required := map[string]string{SetFixmedinsName: c.FixmedinsName, SetRecerSysCode: c.RecerSysCode, SetOpter: c.Opter, SetOpterName: c.OpterName, SetInfver: c.Infver}
	for _, name := range []string{SetFixmedinsName, SetRecerSysCode, SetOpter, SetOpterName, SetInfver} {
		if required[name] == "" {
			ds.Error(name, "required", name+" is required", "set it in the site's plugin settings (the province gives the value)")
		}
	}
	if len(c.MdtrtareaAdmvs) != 6 || !digits(c.MdtrtareaAdmvs) {
		ds.Error(SetMdtrtareaAdmvs, "format", fmt.Sprintf("就医地医保区划 %q is not 6 digits", c.MdtrtareaAdmvs), "write the 6-digit area code, e.g. 350200")
	}
	if c.InsuplcAdmdvs != "" && (len(c.InsuplcAdmdvs) != 6 || !digits(c.InsuplcAdmdvs)) {
		ds.Error(SetInsuplcAdmdvs, "format", fmt.Sprintf("参保地医保区划 %q is not 6 digits", c.InsuplcAdmdvs), "write the 6-digit area code or leave it empty")
	}
	switch c.Auth {
	case AuthXTif:
		if c.PaasID == "" {
			ds.Error(SetPaasID, "required", "auth x-tif needs the paasid", "set paasid to the gateway account the province issued")
		}
		if c.Token == "" {
			ds.Error(SetToken, "required", "auth x-tif needs the signing token", `set token to "env:VARIABLE" or "file:/path" holding the token the province issued`)
		}
	case AuthNone:
	default:
		ds.Error(SetAuth, "enum", fmt.Sprintf("auth %q is not known", c.Auth), "use x-tif or none")
	}
	switch c.Enc {
	case EncNone:
	case EncSM4:
		if _, err := sm4Key(c.SM4Key); err != nil {
			ds.Error(SetSM4Key, "format", "the SM4 key is not usable", err.Error())
		}
	default:
		ds.Error(SetEncType, "enum", fmt.Sprintf("encType %q is not known", c.Enc), "use none or SM4")
	}
	if c.SignIn && (c.SignInMAC == "" || c.SignInIP == "") {
		ds.Error(SetSignIn, "required", "the 9001 sign-in needs signInMac and signInIp", "set both, or set signIn to false")
	}
	for _, n := range c.SignInExpiredCodes {
		if n == 0 {
			ds.Error(SetSignInExpired, "range", "infcode 0 is success, not an expired sign-in", "remove 0 from signInExpiredCodes")
		}
	}
	if len(c.SignInExpiredCodes) > 0 && !c.SignIn {
		ds.Warn(SetSignInExpired, "precondition", "signInExpiredCodes has no effect without signIn", "set signIn to true, or leave signInExpiredCodes empty")
	}
	if c.Timeout <= 0 || c.ConnectTimeout <= 0 {
		ds.Error(SetTimeout, "range", "timeouts must be positive", `write e.g. timeout: "30s", connectTimeout: "10s"`)
	}
	if c.MsgIDSeqSpan < 1 || c.MsgIDSeqBase < 0 || c.MsgIDSeqBase+c.MsgIDSeqSpan > 10000 {
		ds.Error(SetMsgIDSeqSpan, "range", fmt.Sprintf("the msgid sequence range [%d, %d) does not fit in 4 digits", c.MsgIDSeqBase, c.MsgIDSeqBase+c.MsgIDSeqSpan), "choose msgidSeqBase >= 0 and msgidSeqSpan >= 1 with base+span <= 10000")
	}
	if c.MaxInputChars < 0 {
		ds.Error(SetMaxInputChars, "range", "maxInputChars is negative", "write 0 for no limit or the limit in characters")
	}
	if c.Paging.Count == "" || c.Paging.Pages == "" || c.Paging.Data == "" {
		ds.Error(SetPagingFields, "required", "the paging field names are empty", "write COUNT,PAGES,DATA, e.g. recordCounts,pages,data")
	}
	return ds
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// endpoint returns the URL a transaction is posted to.
func (c *Config) endpoint(infno string) string {
	base, best := c.BaseURL, -1
	for _, o := range c.Overrides {
		switch prefix, wild := strings.CutSuffix(o.Pattern, "*"); {
		case o.Pattern == infno:
			best, base = len(infno)+1, o.URL
		case wild && strings.HasPrefix(infno, prefix) && len(prefix) > best:
			best, base = len(prefix), o.URL
		}
	}
	if c.Routing == RouteAppendInfno {
		return base + infno
	}
	return base
}
