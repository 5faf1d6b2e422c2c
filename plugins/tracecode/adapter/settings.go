package adapter

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
			Description: "address of the trace-code platform (from its interface document)", Example: "https://ymt.example.gov.cn"},
		{Name: setAppID, Type: sdk.SettingString, Required: true,
			Description: "application id the platform issued to the hospital", Example: "XMYMT-APP-0001"},
		{Name: setAppSecret, Type: sdk.SettingSecret, Required: true,
			Description: "application secret; it only keys the token request's signature and is never sent, logged or returned", Example: "env:MEDGATE_TRACECODE_SECRET"},
		{Name: setOrgCode, Type: sdk.SettingString, Required: true,
			Description: "the hospital's institution code on the platform", Example: "H35020300001"},
		{Name: setOrgName, Type: sdk.SettingString, Description: "the hospital's name, used as the receiver of formal purchase receipts", Example: "厦门市示例医院"},
		{Name: setPaths, Type: sdk.SettingString,
			Description: "paths of the platform operations as op=/path pairs separated by commas, replacing the reconstructed defaults; operations: token, upload, billstatus, stockin, billcodes, billsmallest, smallest",
			Example:     "token=/ymt/auth/token,upload=/ymt/bill/upload"},
		{Name: setFieldNames, Type: sdk.SettingString,
			Description: "JSON field renames medgateName=platformName, comma-separated, applied at every depth of requests (and reversed in answers)",
			Example:     "billNo=bill_code,traceCodes=trace_codes,accessToken=access_token"},
		{Name: setTokenHeader, Type: sdk.SettingString, Default: "X-Access-Token", Description: "request header carrying the access token"},
		{Name: setTokenBodyField, Type: sdk.SettingString, Description: "send the access token in this body field instead of the header"},
		{Name: setSignMethod, Type: sdk.SettingString, Default: platform.SignHMACSHA256, Enum: platform.SignMethods,
			Description: "signature of the token request over appId+orgCode+timestamp+nonce: hmac-sha256 (upper-case hex), md5 (码上放心 style, MD5(secret+content+secret)) or none"},
		{Name: setSignCalls, Type: sdk.SettingBool, Default: "false",
			Description: "also sign every business call with X-App-Id, X-Timestamp, X-Nonce and X-Sign headers"},
		{Name: setResponseFields, Type: sdk.SettingString, Default: "code,message,data",
			Description: "names of the result code, message and data fields of every answer"},
		{Name: setSuccessCodes, Type: sdk.SettingString, Default: "0", Description: "answer codes meaning success, comma-separated"},
		{Name: setAuthCodes, Type: sdk.SettingString, Default: "TOKEN_EXPIRED,TOKEN_INVALID",
			Description: "answer codes meaning the token is expired or invalid (HTTP 401 and 403 always do): the token is refreshed once and the call retried once"},
		{Name: setDuplicateCodes, Type: sdk.SettingString, Default: "BILL_DUPLICATE",
			Description: "answer codes meaning the document number was already uploaded: treated as success"},
		{Name: setNotFoundCodes, Type: sdk.SettingString, Default: "NOT_FOUND", Description: "answer codes meaning the document or code is unknown"},
		{Name: setRefreshBefore, Type: sdk.SettingDuration, Default: "5m", Description: "refresh the token this long before it expires"},
		{Name: setTokenTTL, Type: sdk.SettingDuration, Default: "2h", Description: "token life assumed when the platform does not say, or gives an expiry in the past or more than 30 days away"},
		{Name: setTimeout, Type: sdk.SettingDuration, Default: "30s", Description: "time allowed for one platform call"},
		{Name: setReconcileAfter, Type: sdk.SettingDuration, Default: "15m",
			Description: "how long after its attempt a stock-out whose outcome is unknown (no answer) is reconciled by the stockout-reconcile job, or may be resolved by an operator (tracecode.stockout.resolve); longer than timeout, so that no call of it is still under way"},
		{Name: setConsumables, Type: sdk.SettingString, Default: string(code.ConsumablesGS1), Enum: []string{string(code.ConsumablesNone), string(code.ConsumablesGS1), string(code.ConsumablesAny)},
			Description: "codes accepted besides 20-digit drug trace codes starting with 8: none, gs1 (GS1 element strings with a valid GTIN, e.g. (01)…(21)…) or any (any printable code up to 100 characters, e.g. other UDI issuers)"},
		{Name: setRatioMode, Type: sdk.SettingString, Default: string(code.RatioCumulative), Enum: []string{string(code.RatioCumulative), string(code.RatioPerLevel)},
			Description: "how package ratios are read: cumulative (1:5:50 = a case of 5 packs and 50 units) or per-level (1:5:10 = 5 packs of 10 units each); confirm with the platform"},
		{Name: setPageSize, Type: sdk.SettingInt, Default: "50", Description: "documents per page when fetching stock-in data (1 to 500)"},
		{Name: setSyncDays, Type: sdk.SettingInt, Default: "1", Description: "the stock-in sync job fetches today and this many days before (0 to 30)"},
		{Name: setSyncEnabled, Type: sdk.SettingBool, Default: "true", Description: "run the hourly stock-in sync job for this site"},
		{Name: setFetchSmallest, Type: sdk.SettingBool, Default: "true",
			Description: "when a new stock-in document is fetched, also fetch its codes' smallest sub-codes and keep them for the export (sheets 码层级关系 and 最小子码); a document the platform cannot resolve yet is a warning of the fetch"},
		{Name: setItemMap, Type: sdk.SettingString,
			Description: "hospital item codes of drugs by product identifier (the first 7 digits of the trace code), productCode=itemCode pairs; drafts are pre-filled with them",
			Example:     "8100001=YP000123,8100002=YP000456"},
		{Name: setReceiptPrefix, Type: sdk.SettingString, Default: "CG", Description: "prefix of formal purchase receipt numbers (letters and digits)"},
		{Name: setExportDir, Type: sdk.SettingPath, Required: true,
			Description: "directory the Excel exports are written to (a subdirectory per site); the reply gives the file's path, size and SHA-256", Example: "/var/lib/medgate/exports"},
		{Name: setExportInlineMax, Type: sdk.SettingInt, Default: "262144",
			Description: "largest workbook, in bytes, returned base64-encoded in the reply when the request asks for inline; 0 never"},
		{Name: setProgressEvery, Type: sdk.SettingInt, Default: "100000", Description: "publish a tracecode.export.progress event every this many rows"},
		{Name: setTimezone, Type: sdk.SettingString, Default: "Asia/Shanghai", Description: "time zone of document dates and of the export"},
		{Name: setMaxCodesInReply, Type: sdk.SettingInt, Default: "5000", Description: "most codes listed in one reply; longer lists are cut and marked truncated"},
		{Name: setSchemaDir, Type: sdk.SettingPath,
			Description: "directory overlaying the built-in schemas (tracecode/<op>.yaml), for the platform's real field lists"},
		{Name: setMIEnabled, Type: sdk.SettingBool, Default: "false",
			Description: "enable the medical-insurance upload (tracecode.mi.upload) through the national interface; needs the mi* settings"},
		{Name: setMIInfno, Type: sdk.SettingString, Default: "3502", Enum: []string{"3502"},
			Description: "national transaction used for the medical-insurance upload of stock-in data with trace codes (3502 商品库存变更 carries drugtracinfo)"},
		{Name: setMIInvChgType, Type: sdk.SettingString, Default: "101",
			Description: "inv_chg_type (库存变更类型) sent with stock-ins; the code table is the province's: confirm the value"},
		{Name: setMIRxFlag, Type: sdk.SettingString, Default: "0", Description: "rx_flag (处方药标志) sent when the document does not say; confirm the code table"},
	}
	for _, h := range hsa.Settings() {
		h.Name = miSetting(h.Name)
		h.Required = false // checked in Configure only when miEnabled is true
		h.Description = "medical-insurance upload: " + h.Description
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
