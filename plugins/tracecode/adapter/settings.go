package adapter

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/medgate/medgate/plugins/hsa"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/code"
	"github.com/medgate/medgate/plugins/tracecode/platform"
	"github.com/medgate/medgate/schemas"
)

// Setting names.
const (
	setBaseURL         = "baseUrl"
	setAppID           = "appId"
	setAppSecret       = "appSecret"
	setOrgCode         = "orgCode"
	setOrgName         = "orgName"
	setPaths           = "paths"
	setFieldNames      = "fieldNames"
	setTokenHeader     = "tokenHeader"
	setTokenBodyField  = "tokenBodyField"
	setSignMethod      = "signMethod"
	setSignCalls       = "signCalls"
	setResponseFields  = "responseFields"
	setSuccessCodes    = "successCodes"
	setAuthCodes       = "authErrorCodes"
	setDuplicateCodes  = "duplicateCodes"
	setNotFoundCodes   = "notFoundCodes"
	setRefreshBefore   = "tokenRefreshBefore"
	setTokenTTL        = "tokenDefaultTTL"
	setTimeout         = "timeout"
	setReconcileAfter  = "stockOutReconcileAfter"
	setConsumables     = "consumableCodes"
	setRatioMode       = "packRatioMode"
	setPageSize        = "pageSize"
	setSyncDays        = "syncDays"
	setSyncEnabled     = "syncEnabled"
	setFetchSmallest   = "fetchSmallest"
	setItemMap         = "productItemMap"
	setReceiptPrefix   = "receiptPrefix"
	setExportDir       = "exportDir"
	setExportInlineMax = "exportInlineMax"
	setProgressEvery   = "exportProgressEvery"
	setTimezone        = "timezone"
	setMaxCodesInReply = "maxCodesInReply"
	setSchemaDir       = "schemaDir"
	setMIEnabled       = "miEnabled"
	setMIInfno         = "miInfno"
	setMIInvChgType    = "miInvChgType"
	setMIRxFlag        = "miRxFlag"
)

// miPrefix prefixes the national medical-insurance envelope settings of
// plugins/hsa, so that they do not clash with the trace-code platform's.
const miPrefix = "mi"

// miSetting returns the trace-code plugin's name of an hsa setting.
func miSetting(name string) string {
	r := []rune(name)
	r[0] = unicode.ToUpper(r[0])
	return miPrefix + string(r)
}

// settings declares the per-site configuration fields.
func settings() []sdk.Setting {
	s := []sdk.Setting{
		{Name: setBaseURL, Type: sdk.SettingURL, Required: true,
			Description: "一码通平台的地址（见其接口文档）。address of the trace-code platform (from its interface document)", Example: "https://ymt.example.gov.cn"},
		{Name: setAppID, Type: sdk.SettingString, Required: true,
			Description: "平台发给医院的应用 ID（appId）。application id the platform issued to the hospital", Example: "XMYMT-APP-0001"},
		{Name: setAppSecret, Type: sdk.SettingSecret, Required: true,
			Description: "应用密钥：只用于令牌请求的签名，从不发送、不写日志、不返回。application secret; it only keys the token request's signature and is never sent, logged or returned", Example: "env:MEDGATE_TRACECODE_SECRET"},
		{Name: setOrgCode, Type: sdk.SettingString, Required: true,
			Description: "医院在平台上的机构编码。the hospital's institution code on the platform", Example: "H35020300001"},
		{Name: setOrgName, Type: sdk.SettingString, Description: "医院名称，作为正式采购入库单的收货单位。the hospital's name, used as the receiver of formal purchase receipts", Example: "厦门市示例医院"},
		{Name: setPaths, Type: sdk.SettingString,
			Description: "平台各操作的路径，op=/path 对，逗号分隔，替换重建的默认值；操作有 token、upload、billstatus、stockin、billcodes、billsmallest、smallest。paths of the platform operations as op=/path pairs separated by commas, replacing the reconstructed defaults; operations: token, upload, billstatus, stockin, billcodes, billsmallest, smallest",
			Example:     "token=/ymt/auth/token,upload=/ymt/bill/upload"},
		{Name: setFieldNames, Type: sdk.SettingString,
			Description: "JSON 字段改名 medgate名=平台名，逗号分隔，作用于请求的每一层（应答中反向改回）。JSON field renames medgateName=platformName, comma-separated, applied at every depth of requests (and reversed in answers)",
			Example:     "billNo=bill_code,traceCodes=trace_codes,accessToken=access_token"},
		{Name: setTokenHeader, Type: sdk.SettingString, Default: "X-Access-Token", Description: "携带访问令牌的请求头。request header carrying the access token"},
		{Name: setTokenBodyField, Type: sdk.SettingString, Description: "改为在请求体的这个字段中发送访问令牌，而不是请求头。send the access token in this body field instead of the header"},
		{Name: setSignMethod, Type: sdk.SettingString, Default: platform.SignHMACSHA256, Enum: platform.SignMethods,
			Description: "令牌请求对 appId+orgCode+timestamp+nonce 的签名方式：hmac-sha256（大写十六进制）、md5（码上放心方式，MD5(secret+content+secret)）或 none（不签名）。signature of the token request over appId+orgCode+timestamp+nonce: hmac-sha256 (upper-case hex), md5 (码上放心 style, MD5(secret+content+secret)) or none"},
		{Name: setSignCalls, Type: sdk.SettingBool, Default: "false",
			Description: "每个业务调用也加签名请求头 X-App-Id、X-Timestamp、X-Nonce 和 X-Sign。also sign every business call with X-App-Id, X-Timestamp, X-Nonce and X-Sign headers"},
		{Name: setResponseFields, Type: sdk.SettingString, Default: "code,message,data",
			Description: "每个应答中结果代码、消息和数据字段的名称。names of the result code, message and data fields of every answer"},
		{Name: setSuccessCodes, Type: sdk.SettingString, Default: "0", Description: "表示成功的应答代码，逗号分隔。answer codes meaning success, comma-separated"},
		{Name: setAuthCodes, Type: sdk.SettingString, Default: "TOKEN_EXPIRED,TOKEN_INVALID",
			Description: "表示令牌过期或无效的应答代码（HTTP 401 和 403 总是如此）：令牌刷新一次，调用重试一次。answer codes meaning the token is expired or invalid (HTTP 401 and 403 always do): the token is refreshed once and the call retried once"},
		{Name: setDuplicateCodes, Type: sdk.SettingString, Default: "BILL_DUPLICATE",
			Description: "表示单据号已上传过的应答代码：按成功处理。answer codes meaning the document number was already uploaded: treated as success"},
		{Name: setNotFoundCodes, Type: sdk.SettingString, Default: "NOT_FOUND", Description: "表示单据或追溯码不存在的应答代码。answer codes meaning the document or code is unknown"},
		{Name: setRefreshBefore, Type: sdk.SettingDuration, Default: "5m", Description: "令牌到期前多久刷新。refresh the token this long before it expires"},
		{Name: setTokenTTL, Type: sdk.SettingDuration, Default: "2h", Description: "平台未给出有效期，或给出的到期时间已过去或在 30 天以后时，假定的令牌有效期。token life assumed when the platform does not say, or gives an expiry in the past or more than 30 days away"},
		{Name: setTimeout, Type: sdk.SettingDuration, Default: "30s", Description: "一次平台调用的最长时间。time allowed for one platform call"},
		{Name: setReconcileAfter, Type: sdk.SettingDuration, Default: "15m",
			Description: "结果未知（无应答）的出库单在发送后多久由 stockout-reconcile 任务核对，或可由操作员处理（tracecode.stockout.resolve）；须长于 timeout，以免其调用仍在进行。how long after its attempt a stock-out whose outcome is unknown (no answer) is reconciled by the stockout-reconcile job, or may be resolved by an operator (tracecode.stockout.resolve); longer than timeout, so that no call of it is still under way"},
		{Name: setConsumables, Type: sdk.SettingString, Default: string(code.ConsumablesGS1), Enum: []string{string(code.ConsumablesNone), string(code.ConsumablesGS1), string(code.ConsumablesAny)},
			Description: "除以 8 开头的 20 位药品追溯码外还接受的码：none（不接受）、gs1（带有效 GTIN 的 GS1 元素串，如 (01)…(21)…）或 any（任何不超过 100 个字符的可打印码，如其他 UDI 发码机构）。codes accepted besides 20-digit drug trace codes starting with 8: none, gs1 (GS1 element strings with a valid GTIN, e.g. (01)…(21)…) or any (any printable code up to 100 characters, e.g. other UDI issuers)"},
		{Name: setRatioMode, Type: sdk.SettingString, Default: string(code.RatioCumulative), Enum: []string{string(code.RatioCumulative), string(code.RatioPerLevel)},
			Description: "包装比例的读法：cumulative 累计（1:5:50 = 一箱 5 盒共 50 个最小单位）或 per-level 逐级（1:5:10 = 5 盒，每盒 10 个）；请向平台确认。how package ratios are read: cumulative (1:5:50 = a case of 5 packs and 50 units) or per-level (1:5:10 = 5 packs of 10 units each); confirm with the platform"},
		{Name: setPageSize, Type: sdk.SettingInt, Default: "50", Description: "获取入库数据时每页的单据数（1 到 500）。documents per page when fetching stock-in data (1 to 500)"},
		{Name: setSyncDays, Type: sdk.SettingInt, Default: "1", Description: "入库同步任务获取今天及之前的天数（0 到 30）。the stock-in sync job fetches today and this many days before (0 to 30)"},
		{Name: setSyncEnabled, Type: sdk.SettingBool, Default: "true", Description: "为本站点运行每小时一次的入库同步任务。run the hourly stock-in sync job for this site"},
		{Name: setFetchSmallest, Type: sdk.SettingBool, Default: "true",
			Description: "获取新的入库单时，同时获取其追溯码的最小子码并保存，用于导出（工作表 码层级关系 和 最小子码）；平台暂时无法解析的单据作为获取的警告。when a new stock-in document is fetched, also fetch its codes' smallest sub-codes and keep them for the export (sheets 码层级关系 and 最小子码); a document the platform cannot resolve yet is a warning of the fetch"},
		{Name: setItemMap, Type: sdk.SettingString,
			Description: "按产品标识（追溯码前 7 位）对应的院内药品项目编码，productCode=itemCode 对；临时单据会预先填入。hospital item codes of drugs by product identifier (the first 7 digits of the trace code), productCode=itemCode pairs; drafts are pre-filled with them",
			Example:     "8100001=YP000123,8100002=YP000456"},
		{Name: setReceiptPrefix, Type: sdk.SettingString, Default: "CG", Description: "正式采购入库单号的前缀（字母和数字）。prefix of formal purchase receipt numbers (letters and digits)"},
		{Name: setExportDir, Type: sdk.SettingPath, Required: true,
			Description: "Excel 导出文件的写入目录（每个站点一个子目录）；应答给出文件路径、大小和 SHA-256。directory the Excel exports are written to (a subdirectory per site); the reply gives the file's path, size and SHA-256", Example: "/var/lib/medgate/exports"},
		{Name: setExportInlineMax, Type: sdk.SettingInt, Default: "262144",
			Description: "请求要求内联返回时，以 base64 放在应答中的工作簿最大字节数；0 表示从不内联。largest workbook, in bytes, returned base64-encoded in the reply when the request asks for inline; 0 never"},
		{Name: setProgressEvery, Type: sdk.SettingInt, Default: "100000", Description: "每导出这么多行发布一个 tracecode.export.progress 进度事件。publish a tracecode.export.progress event every this many rows"},
		{Name: setTimezone, Type: sdk.SettingString, Default: "Asia/Shanghai", Description: "单据日期和导出文件所用的时区。time zone of document dates and of the export"},
		{Name: setMaxCodesInReply, Type: sdk.SettingInt, Default: "5000", Description: "一个应答中最多列出的追溯码数；超出的截断并标记 truncated。most codes listed in one reply; longer lists are cut and marked truncated"},
		{Name: setSchemaDir, Type: sdk.SettingPath,
			Description: "覆盖内置模式文件（tracecode/<op>.yaml）的目录，用于平台实际的字段清单。directory overlaying the built-in schemas (tracecode/<op>.yaml), for the platform's real field lists"},
		{Name: setMIEnabled, Type: sdk.SettingBool, Default: "false",
			Description: "启用经国家医保接口的医保上传（tracecode.mi.upload）；需要 mi* 各项设置。enable the medical-insurance upload (tracecode.mi.upload) through the national interface; needs the mi* settings"},
		{Name: setMIInfno, Type: sdk.SettingString, Default: "3502", Enum: []string{"3502"},
			Description: "上传带追溯码入库数据到医保所用的国家接口交易（3502 商品库存变更，携带 drugtracinfo）。national transaction used for the medical-insurance upload of stock-in data with trace codes (3502 商品库存变更 carries drugtracinfo)"},
		{Name: setMIInvChgType, Type: sdk.SettingString, Default: "101",
			Description: "入库时发送的库存变更类型 inv_chg_type；代码表由省里定，请确认取值。inv_chg_type (库存变更类型) sent with stock-ins; the code table is the province's: confirm the value"},
		{Name: setMIRxFlag, Type: sdk.SettingString, Default: "0", Description: "单据未注明时发送的处方药标志 rx_flag；请确认代码表。rx_flag (处方药标志) sent when the document does not say; confirm the code table"},
	}
	for _, h := range hsa.Settings() {
		h.Name = miSetting(h.Name)
		h.Required = false // checked in Configure only when miEnabled is true
		h.Description = "医保上传 medical-insurance upload：" + h.Description
		s = append(s, h)
	}
	return s
}

// siteConfig is one site's parsed configuration. It is immutable.
type siteConfig struct {
	site          string
	client        *platform.Client
	policy        code.Policy
	ratioMode     code.RatioMode
	schemas       *schemas.Set
	orgCode       string
	orgName       string
	pageSize      int
	syncDays      int
	syncEnabled   bool
	fetchSmallest bool
	itemMap       map[string]string
	receiptPrefix string
	exportDir     string
	inlineMax     int64
	progressEvery int64
	zone          *time.Location
	maxCodes      int
	mi            *miConfig
	// reconcileAfter: a held stock-out older than this is reconciled.
	reconcileAfter time.Duration
	// tokenRefusedAlerted is set once the platform's refusal of the
	// site's credentials was logged as an ALERT, and cleared when a token
	// is obtained: one ALERT per streak of failed token requests (see
	// observer.Token).
	tokenRefusedAlerted atomic.Bool
	// tokenFailingSince is when the current streak of failed token
	// requests began (Unix nanoseconds; 0: the last one succeeded), and
	// tokenDownAlerted is set once an unanswered token endpoint that left
	// the site without a token was logged as an ALERT in that streak (see
	// observer.Token).
	tokenFailingSince atomic.Int64
	tokenDownAlerted  atomic.Bool
}

// miConfig is the medical-insurance upload's configuration.
type miConfig struct {
	client     *hsa.Client
	infno      string
	invChgType string
	rxFlag     string
}

// settingValue returns a setting's value, or its declared default.
func settingValue(given map[string]string, name string) string {
	if v := strings.TrimSpace(given[name]); v != "" {
		return v
	}
	for _, s := range settings() {
		if s.Name == name {
			return s.Default
		}
	}
	return ""
}

// cst is China Standard Time, used when the zone database lacks
// Asia/Shanghai (static binaries on minimal systems).
var cst = time.FixedZone("CST", 8*3600)

// parseSettings checks every setting and returns the site's configuration
// or diagnostics listing every problem. Secrets never appear in them.
func (a *Adapter) parseSettings(site string, given map[string]string) (*siteConfig, sdk.Diagnostics) {
	var ds sdk.Diagnostics
	get := func(name string) string { return settingValue(given, name) }
	integer := func(name string, lo, hi int) int {
		n, err := strconv.Atoi(get(name))
		if err != nil || n < lo || n > hi {
			ds.Error(name, "range", fmt.Sprintf("%s is %q", name, get(name)), fmt.Sprintf("write a whole number from %d to %d", lo, hi))
		}
		return n
	}
	boolean := func(name string) bool {
		b, err := strconv.ParseBool(get(name))
		if err != nil {
			ds.Error(name, "type", fmt.Sprintf("%s is %q", name, get(name)), "write true or false")
		}
		return b
	}
	duration := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d <= 0 {
			ds.Error(name, "type", fmt.Sprintf("%s is %q", name, get(name)), `write a positive duration such as "5m"`)
		}
		return d
	}
	cfg := &siteConfig{site: site, orgCode: get(setOrgCode), orgName: get(setOrgName)}

	pc := platform.Config{
		BaseURL: get(setBaseURL), AppID: get(setAppID), AppSecret: given[setAppSecret], OrgCode: cfg.orgCode,
		TokenHeader: get(setTokenHeader), TokenBodyField: get(setTokenBodyField), SignMethod: get(setSignMethod),
		SignCalls:      boolean(setSignCalls),
		SuccessCodes:   platform.ParseList(get(setSuccessCodes)),
		AuthCodes:      platform.ParseList(get(setAuthCodes)),
		DuplicateCodes: platform.ParseList(get(setDuplicateCodes)),
		NotFoundCodes:  platform.ParseList(get(setNotFoundCodes)),
		RefreshBefore:  duration(setRefreshBefore), DefaultTokenTTL: duration(setTokenTTL), Timeout: duration(setTimeout),
		Now: a.now, HTTP: a.http,
	}
	if paths, err := platform.ParsePaths(get(setPaths)); err != nil {
		ds.Error(setPaths, "format", "cannot read the paths", err.Error())
	} else {
		pc.Paths = paths
	}
	if fields, err := platform.ParseFieldMap(get(setFieldNames)); err != nil {
		ds.Error(setFieldNames, "format", "cannot read the field names", err.Error())
	} else {
		pc.Fields = fields
	}
	if rf := platform.ParseList(get(setResponseFields)); len(rf) != 3 {
		ds.Error(setResponseFields, "format", fmt.Sprintf("responseFields %q does not name three fields", get(setResponseFields)), "write CODE,MESSAGE,DATA, e.g. code,message,data")
	} else {
		pc.CodeField, pc.MessageField, pc.DataField = rf[0], rf[1], rf[2]
	}
	if pc.AppSecret == "" && pc.SignMethod != platform.SignNone {
		ds.Error(setAppSecret, "required", "appSecret is required", `set it to "env:VARIABLE" or "file:/path" holding the secret the platform issued`)
	}
	for _, err := range pc.Check() {
		if pc.AppSecret == "" && strings.Contains(err.Error(), "secret") {
			continue // reported above
		}
		ds.Error(setBaseURL, "precondition", "the platform connection is not usable", err.Error())
	}
	if !ds.HasError() {
		c, err := platform.New(pc)
		if err != nil {
			ds.Error(setBaseURL, "precondition", "the platform connection is not usable", err.Error())
		}
		cfg.client = c
	}

	cons, err := code.ParseConsumables(get(setConsumables))
	if err != nil {
		ds.Error(setConsumables, "enum", err.Error(), "use none, gs1 or any")
	}
	cfg.policy = code.Policy{Consumables: cons}
	if cfg.ratioMode, err = code.ParseRatioMode(get(setRatioMode)); err != nil {
		ds.Error(setRatioMode, "enum", err.Error(), "use cumulative or per-level")
	}
	cfg.pageSize = integer(setPageSize, 1, 500)
	cfg.syncDays = integer(setSyncDays, 0, 30)
	cfg.syncEnabled = boolean(setSyncEnabled)
	cfg.fetchSmallest = boolean(setFetchSmallest)
	cfg.itemMap = map[string]string{}
	if v := get(setItemMap); v != "" {
		for _, pair := range platform.ParseList(v) {
			k, item, ok := strings.Cut(pair, "=")
			k, item = strings.TrimSpace(k), strings.TrimSpace(item)
			if !ok || len(k) != code.ProductLength || item == "" {
				ds.Error(setItemMap, "format", fmt.Sprintf("%q is not productCode=itemCode", pair), "write the 7-digit product identifier, =, and the hospital item code")
				continue
			}
			cfg.itemMap[k] = item
		}
	}
	cfg.receiptPrefix = get(setReceiptPrefix)
	for _, r := range cfg.receiptPrefix {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') || len(cfg.receiptPrefix) > 8 {
			ds.Error(setReceiptPrefix, "format", fmt.Sprintf("receiptPrefix %q", cfg.receiptPrefix), "use up to 8 letters and digits")
			break
		}
	}
	cfg.exportDir = get(setExportDir)
	if abs, err := filepath.Abs(cfg.exportDir); err == nil && cfg.exportDir != "" {
		cfg.exportDir = abs // replies give absolute paths
	}
	if cfg.exportDir == "" {
		ds.Error(setExportDir, "required", "exportDir is required", "set it to a directory medgate may write Excel files to")
	} else if err := os.MkdirAll(cfg.exportDir, 0o750); err != nil {
		ds.Error(setExportDir, "precondition", "cannot create the export directory", err.Error())
	}
	cfg.inlineMax = int64(integer(setExportInlineMax, 0, 8<<20))
	cfg.progressEvery = int64(integer(setProgressEvery, 1, 100_000_000))
	cfg.maxCodes = integer(setMaxCodesInReply, 1, 100_000)
	if cfg.reconcileAfter = duration(setReconcileAfter); cfg.reconcileAfter > 0 && cfg.reconcileAfter <= 2*pc.Timeout {
		ds.Error(setReconcileAfter, "range", fmt.Sprintf("%s %s is not longer than twice the call timeout %s", setReconcileAfter, cfg.reconcileAfter, pc.Timeout),
			"a call of the stock-out may still be under way then; set it above twice timeout (default 15m)")
	}
	tz := get(setTimezone)
	if loc, err := time.LoadLocation(tz); err == nil {
		cfg.zone = loc
	} else if tz == "Asia/Shanghai" || tz == "Asia/Chongqing" || tz == "PRC" {
		cfg.zone = cst
	} else {
		ds.Error(setTimezone, "format", fmt.Sprintf("time zone %q is not known", tz), "write an IANA name such as Asia/Shanghai")
	}
	cfg.schemas = schemas.Embedded()
	if dir := get(setSchemaDir); dir != "" {
		set, err := cfg.schemas.Overlay(dir)
		if err != nil {
			ds.Error(setSchemaDir, "precondition", "the schema overlay does not load", err.Error())
		} else {
			cfg.schemas = set
		}
	}
	for _, op := range []string{"upload", "stockin", "billcodes", "billsmallest", "smallest", "billstatus", "3502"} {
		if _, ok := cfg.schemas.Get("tracecode", op); !ok {
			ds.Error(setSchemaDir, "precondition", "schema tracecode/"+op+" is missing", "restore it in the schema directory")
		}
	}

	if boolean(setMIEnabled) {
		hs := map[string]string{}
		for _, h := range hsa.Settings() {
			if v, ok := given[miSetting(h.Name)]; ok && v != "" {
				hs[h.Name] = v
			} else {
				hs[h.Name] = h.Default
			}
		}
		hc, hds := hsa.FromSettings(hs)
		for _, d := range hds {
			d.Field = miSetting(d.Field)
			ds = append(ds, d)
		}
		if !hds.HasError() {
			hc.System = "hsa-tracecode"
			client, err := hsa.New(hc, hsa.WithClock(a.now), hsa.WithHTTPClient(a.http))
			if err != nil {
				ds.Error(miSetting(hsa.SetBaseURL), "precondition", "the medical-insurance connection is not usable", err.Error())
			} else {
				cfg.mi = &miConfig{client: client, infno: get(setMIInfno), invChgType: get(setMIInvChgType), rxFlag: get(setMIRxFlag)}
			}
		}
	}
	if ds.HasError() {
		return nil, ds
	}
	return cfg, ds
}
