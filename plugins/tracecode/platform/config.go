package platform

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// Op names one platform operation.
type Op string

// The platform operations medgate models.
const (
	// OpToken obtains an access token (身份令牌).
	OpToken Op = "token"
	// OpUpload uploads a stock-in or stock-out document with trace codes.
	OpUpload Op = "upload"
	// OpBillStatus asks whether the platform has a document, by number.
	OpBillStatus Op = "billstatus"
	// OpStockIn lists the stock-in documents (the suppliers' deliveries
	// to the hospital) of a date range, with their trace codes, by page.
	OpStockIn Op = "stockin"
	// OpBillCodes lists the codes of a document (no hierarchy).
	OpBillCodes Op = "billcodes"
	// OpBillSmallest lists the codes of a document down to the smallest
	// sub-codes (hierarchy resolved).
	OpBillSmallest Op = "billsmallest"
	// OpSmallest lists the smallest sub-codes of one code.
	OpSmallest Op = "smallest"
)

// Ops lists every operation in a fixed order.
var Ops = []Op{OpToken, OpUpload, OpBillStatus, OpStockIn, OpBillCodes, OpBillSmallest, OpSmallest}

// DefaultPaths are the reconstructed default paths; the real ones come from
// the platform's interface document and are set per site.
var DefaultPaths = map[Op]string{
	OpToken:        "/api/v1/auth/token",
	OpUpload:       "/api/v1/bill/upload",
	OpBillStatus:   "/api/v1/bill/status",
	OpStockIn:      "/api/v1/bill/stockin/list",
	OpBillCodes:    "/api/v1/bill/codes",
	OpBillSmallest: "/api/v1/bill/codes/smallest",
	OpSmallest:     "/api/v1/code/smallest",
}

// Signature methods of the token request.
const (
	// SignHMACSHA256: upper-case hex HMAC-SHA256 keyed with the secret.
	SignHMACSHA256 = "hmac-sha256"
	// SignMD5: upper-case hex MD5(secret + content + secret), the form of
	// the 码上放心 (Taobao Open Platform) gateway.
	SignMD5 = "md5"
	// SignNone sends no signature (test platforms only).
	SignNone = "none"
)

// SignMethods lists the supported signature methods.
var SignMethods = []string{SignHMACSHA256, SignMD5, SignNone}

// Config describes one site's platform. Build it with the site's settings;
// zero values take the documented defaults in [Config.withDefaults].
type Config struct {
	// BaseURL is the platform's address, e.g. https://ymt.example.gov.cn.
	BaseURL string
	// AppID, AppSecret and OrgCode are the site's credentials and the
	// hospital's code on the platform. AppSecret only keys signatures.
	AppID     string
	AppSecret string
	OrgCode   string
	// Paths maps each operation to its path under BaseURL.
	Paths map[Op]string
	// TokenHeader is the request header that carries the token
	// (default "X-Access-Token"). When TokenBodyField is set the token
	// travels in that body field instead.
	TokenHeader    string
	TokenBodyField string
	// SignMethod signs the token request: hmac-sha256 (default), md5, none.
	SignMethod string
	// SignCalls also signs business calls, with X-App-Id, X-Timestamp,
	// X-Nonce and X-Sign headers over appId+timestamp+nonce+sha256(body).
	SignCalls bool
	// Fields renames JSON keys from medgate's names to the platform's, in
	// requests and (reversed) in answers, at every depth.
	Fields FieldMap
	// CodeField, MessageField and DataField name the parts of every
	// answer (defaults "code", "message", "data").
	CodeField    string
	MessageField string
	DataField    string
	// SuccessCodes, AuthCodes, DuplicateCodes and NotFoundCodes classify
	// answer codes. HTTP 401 and 403 are always authentication errors.
	SuccessCodes   []string
	AuthCodes      []string
	DuplicateCodes []string
	NotFoundCodes  []string
	// RefreshBefore is how long before its expiry a token is replaced
	// (default 5m). DefaultTokenTTL is assumed when the platform does not
	// say how long a token lives (default 2h).
	RefreshBefore   time.Duration
	DefaultTokenTTL time.Duration
	// Timeout bounds one HTTP exchange (default 30s).
	Timeout time.Duration
	// HTTP is the client to use (default: a client with Timeout).
	HTTP *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// withDefaults returns a copy with every zero field defaulted.
func (c Config) withDefaults() Config {
	paths := make(map[Op]string, len(DefaultPaths))
	for op, p := range DefaultPaths {
		paths[op] = p
	}
	for op, p := range c.Paths {
		if p != "" {
			paths[op] = p
		}
	}
	c.Paths = paths
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.TokenHeader, "X-Access-Token")
	def(&c.SignMethod, SignHMACSHA256)
	def(&c.CodeField, "code")
	def(&c.MessageField, "message")
	def(&c.DataField, "data")
	if c.SuccessCodes == nil {
		c.SuccessCodes = []string{"0"}
	}
	if c.AuthCodes == nil {
		c.AuthCodes = []string{"TOKEN_EXPIRED", "TOKEN_INVALID"}
	}
	if c.DuplicateCodes == nil {
		c.DuplicateCodes = []string{"BILL_DUPLICATE"}
	}
	if c.NotFoundCodes == nil {
		c.NotFoundCodes = []string{"NOT_FOUND"}
	}
	if c.RefreshBefore == 0 {
		c.RefreshBefore = 5 * time.Minute
	}
	if c.DefaultTokenTTL == 0 {
		c.DefaultTokenTTL = 2 * time.Hour
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: c.Timeout}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Check reports every problem of the configuration at once, one error per
// problem, each naming the setting and the fix.
func (c Config) Check() []error {
	var errs []error
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("base URL %q is not an http(s) URL; set it to the platform address from its interface document", c.BaseURL))
	}
	if c.AppID == "" {
		errs = append(errs, errors.New("app id is empty; set it to the id the platform issued to the hospital"))
	}
	if c.AppSecret == "" && c.SignMethod != SignNone {
		errs = append(errs, errors.New("app secret is empty; set it (env: or file: reference) or use the signature method none"))
	}
	if c.SignMethod != "" && !slices.Contains(SignMethods, c.SignMethod) {
		errs = append(errs, fmt.Errorf("signature method %q is not supported; use one of %s", c.SignMethod, strings.Join(SignMethods, ", ")))
	}
	for op, p := range c.Paths {
		if _, known := DefaultPaths[op]; !known {
			errs = append(errs, fmt.Errorf("path for unknown operation %q; operations are %s", op, opNames()))
			continue
		}
		if p != "" && !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("path %q of operation %s must start with /", p, op))
		}
	}
	return errs
}

func opNames() string {
	s := make([]string, len(Ops))
	for i, op := range Ops {
		s[i] = string(op)
	}
	return strings.Join(s, ", ")
}

// ParsePaths parses "op=/path,op=/path" (white space allowed).
func ParsePaths(s string) (map[Op]string, error) {
	pairs, err := parsePairs(s)
	if err != nil {
		return nil, fmt.Errorf("paths: %w", err)
	}
	out := map[Op]string{}
	for k, v := range pairs {
		if _, ok := DefaultPaths[Op(k)]; !ok {
			return nil, fmt.Errorf("paths: operation %q is not known; use %s", k, opNames())
		}
		if !strings.HasPrefix(v, "/") {
			return nil, fmt.Errorf("paths: %s=%q must start with /", k, v)
		}
		out[Op(k)] = v
	}
	return out, nil
}

// FieldMap renames JSON keys: medgate's name → the platform's name.
type FieldMap map[string]string

// ParseFieldMap parses "billNo=bill_code,traceCodes=trace_codes". Two
// medgate names may not map to the same platform name.
func ParseFieldMap(s string) (FieldMap, error) {
	pairs, err := parsePairs(s)
	if err != nil {
		return nil, fmt.Errorf("field names: %w", err)
	}
	seen := map[string]string{}
	keys := make([]string, 0, len(pairs))
	for k := range pairs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := pairs[k]
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("field names: %s and %s both map to %q; each platform name may be used once", other, k, v)
		}
		seen[v] = k
	}
	return FieldMap(pairs), nil
}

func (m FieldMap) reverse() FieldMap {
	out := make(FieldMap, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

// ParseList splits a comma-separated list, dropping empty items.
func ParseList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parsePairs(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range ParseList(s) {
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q is not name=value; write pairs separated by commas", item)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%q is given twice", k)
		}
		out[k] = v
	}
	return out, nil
}
