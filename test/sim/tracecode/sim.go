// Package tracecode simulates the Xiamen drug and consumable trace-code
// platform (一码通) for tests and `make run`.
//
// The real platform's interface is not public; the simulator speaks
// medgate's reconstruction with its default settings (paths, field names,
// HMAC-SHA256 signed token request, the token in the X-Access-Token header,
// answers {code, message, data}), see plugins/tracecode/README.md. It
// implements:
//
//   - token issue and expiry (tokens expire after Options.TokenTTL, or at
//     once with ExpireTokens);
//   - document upload, with the document number as idempotency key
//     (a second upload answers BILL_DUPLICATE), and document status; a
//     document listing a code twice is refused (CODE_DUPLICATE), and so is
//     a stock-in (1xx) of a code already in stock by another stock-in and
//     not taken out since by a stock-out (2xx) (CODE_USED), and a
//     stock-out of a code an earlier stock-out took and no stock-in
//     brought back (CODE_OUT): the simulator keeps its own ledger of codes
//     in stock and out of it; a code the platform knows was dispensed to
//     a patient (Dispense: a dispensing record it got by another channel,
//     with the patient as 码上放心's uploadretail carries them) is refused
//     in any document (CODE_DISPENSED), and in a medical-insurance 3502
//     (infcode -1: a code is settled once), the refusal naming the
//     patient, the type and number of the identity document (a resident
//     ID card, a passport or a medical-insurance card) and the phone the
//     record holds;
//   - stock-in documents by date, generated deterministically from the seed
//     (suppliers, products, batches, cases of 20-digit codes starting with
//     8 with a real parent/child structure and package ratios, and a
//     partial case now and then), served in pages;
//   - codes by document, codes with their smallest sub-codes, and the
//     smallest sub-codes of one code;
//   - failures on command (Fail, or POST /_sim/fail);
//   - the national medical-insurance 3502 transaction with drugtracinfo
//     behind the x-tif gateway (POST /hsa/api), for the medical-insurance
//     upload, and its 9001 sign-in (sign_no issue, calls refused with a
//     configurable infcode once sign-ins expire: RequireHSASignIn,
//     ExpireHSASignIns). Their inputs are checked against the field lists
//     of schemas/tracecode/3502.yaml and schemas/hsa/9001.yaml with the
//     rules of test/sim/simspec, not with the schemas package the plugin
//     validates with, so a defect of that validator is refused here.
//
// Control endpoints for manual use: POST /_sim/expire-tokens,
// POST /_sim/fail {"op","kind","times"}, GET /_sim/stats,
// GET /_sim/stockin?date=2006-01-02, POST /_sim/amend
// {"billNo","lineNo","dropCodes"} (Amend).
package tracecode

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medgate/medgate/test/sim/simspec"
)

// Failure kinds for Fail.
const (
	// FailHTTP500 answers HTTP 500 without processing the request.
	FailHTTP500 = "http500"
	// FailAfter processes the request, then answers HTTP 500: the effect
	// happened but the caller does not know it.
	FailAfter = "after"
	// FailBusy answers the business code SYS_BUSY.
	FailBusy = "busy"
	// FailAuth answers HTTP 401 TOKEN_INVALID even to a valid token.
	FailAuth = "auth"
	// FailHang holds the request until the client gives up.
	FailHang = "hang"
	// FailDrop closes the connection without an answer.
	FailDrop = "drop"
	// FailProcessing (uploads only) keeps the document but fails to
	// process it: it has no effect on the ledger, its status is 4
	// (处理失败), and the answer is lost (HTTP 500).
	FailProcessing = "processing"
)

// Options configure a simulator.
type Options struct {
	AppID     string
	AppSecret string
	OrgCode   string
	// SignMethod is hmac-sha256 (default), md5 or none.
	SignMethod string
	// TokenTTL is the life of a token (default 2h).
	TokenTTL time.Duration
	// Seed makes the generated documents reproducible.
	Seed int64
	// BillsPerDay is the number of deliveries generated per day (default 3,
	// at most 450: see maxCodesPerDay).
	BillsPerDay int
	// MaxPageSize bounds the page size of the stock-in listing (default 100).
	MaxPageSize int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Zone is the time zone of dates (default UTC+8).
	Zone *time.Location
	Log  *slog.Logger
	// HSAPaasID and HSAToken are the x-tif credentials of the simulated
	// medical-insurance endpoint (POST /hsa/api); an empty token turns the
	// signature check off.
	HSAPaasID string
	HSAToken  string
	// Spec holds the field lists of 3502 and 9001, laid out like schemas/
	// (tracecode/3502.yaml, hsa/9001.yaml); default: the schemas/
	// directory of the source tree (simspec.RepoFiles). Requests are
	// checked against them with package simspec's rules, never with the
	// schemas package the plugin uses. When they cannot be read, every
	// medical-insurance call is refused with the reason.
	Spec fs.FS
}

// Stats counts what the simulator saw.
type Stats struct {
	TokensIssued int            `json:"tokensIssued"`
	Calls        map[string]int `json:"calls"`
	// NoToken counts business calls that came without a token.
	NoToken int `json:"noToken"`
	// Refused counts business calls refused for an invalid or expired token.
	Refused int `json:"refused"`
	// Uploads counts accepted uploads; Duplicates the repeated ones.
	Uploads    int `json:"uploads"`
	Duplicates int `json:"duplicates"`
}

// Patient is the person a code was dispensed to, as a dispensing record
// holds them (码上放心 uploadretail: the customer's ID type and number,
// customer_id_type and customer_id, and phone, user_tel).
type Patient struct {
	Name string
	// IDType is the customer_id_type of the record: "1" (or empty) a
	// resident ID card, "2" a passport, "4" a medical-insurance card.
	IDType string
	IDNo   string
	Tel    string
}

// idTypeName is the name of a dispensing record's customer_id_type.
func (p Patient) idTypeName() string {
	switch p.IDType {
	case "2":
		return "护照"
	case "4":
		return "医保卡"
	default:
		return "居民身份证"
	}
}

// idLabel is the label of the record's ID number in a 3502 refusal.
func (p Patient) idLabel() string {
	switch p.IDType {
	case "2":
		return "护照号"
	case "4":
		return "医保卡号"
	default:
		return "身份证号"
	}
}

type dispensing struct {
	Patient
	at time.Time
}

// Dispense records that code was dispensed to p at at, as a dispensing
// record the platform got by another channel (the pharmacy's dispensing
// upload): a document listing the code afterwards is refused
// (CODE_DISPENSED), and so is a 3502 listing it.
func (s *Sim) Dispense(code string, p Patient, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dispensed[code] = dispensing{Patient: p, at: at}
}

type failure struct {
	kind  string
	times int
}

// Upload is a document uploaded to the simulator.
type Upload struct {
	BillNo   string          `json:"billNo"`
	BillType string          `json:"billType"`
	Codes    []string        `json:"codes"`
	Body     json.RawMessage `json:"body"`
	At       time.Time       `json:"at"`
	// Failed: the platform failed to process it (status 4); its codes
	// did not move.
	Failed bool `json:"failed,omitempty"`
}

// Sim is the simulated platform. It is an http.Handler.
type Sim struct {
	opts Options
	mux  *http.ServeMux

	mu      sync.Mutex
	tokens  map[string]time.Time
	bills   map[string]*Bill
	days    map[string][]string
	nodes   map[string]*node
	serials map[string]int
	uploads map[string]*Upload
	// stocked is the ledger of codes in the hospital's stock: code → the
	// stock-in document that brought it in. A stock-out takes a code out.
	stocked map[string]string
	// out is the ledger of codes stocked out: code → the stock-out
	// document that took it. A second stock-out of it is refused
	// (CODE_OUT) until a stock-in brings it back.
	out map[string]string
	// dispensed is the ledger of codes dispensed to patients (Dispense).
	dispensed map[string]dispensing
	fails     map[string][]failure
	stats     Stats

	hsaMsgIDs  map[string]bool
	hsaRecords map[string]HSARecord
	hsaSeq     int64
	// The 9001 sign-in: issued sign_nos still valid, whether calls need
	// one, the infcode refusing a call without a valid one.
	hsaSignNos        map[string]bool
	hsaSignInCount    int
	hsaSignInRequired bool
	hsaSignInExpired  int
	// hsaSpec holds 3502 and 9001 (nil, with hsaSpecErr, when Options.Spec
	// could not be read).
	hsaSpec    *simspec.Spec
	hsaSpecErr error
}

// New returns a simulator.
func New(o Options) *Sim {
	if o.TokenTTL == 0 {
		o.TokenTTL = 2 * time.Hour
	}
	if o.BillsPerDay == 0 {
		o.BillsPerDay = 3
	}
	if o.MaxPageSize == 0 {
		o.MaxPageSize = 100
	}
	if o.SignMethod == "" {
		o.SignMethod = "hmac-sha256"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Zone == nil {
		o.Zone = time.FixedZone("CST", 8*3600)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Sim{
		opts: o, mux: http.NewServeMux(),
		tokens: map[string]time.Time{}, bills: map[string]*Bill{}, days: map[string][]string{},
		nodes: map[string]*node{}, serials: map[string]int{}, uploads: map[string]*Upload{}, stocked: map[string]string{}, out: map[string]string{}, dispensed: map[string]dispensing{}, fails: map[string][]failure{},
		stats: Stats{Calls: map[string]int{}}, hsaMsgIDs: map[string]bool{}, hsaRecords: map[string]HSARecord{},
		hsaSignNos: map[string]bool{},
	}
	s.hsaSpec, s.hsaSpecErr = loadHSASpec(o.Spec)
	s.mux.HandleFunc("POST /hsa/api", s.hsaCall)
	s.mux.HandleFunc("POST /api/v1/auth/token", s.token)
	s.mux.HandleFunc("POST /api/v1/bill/upload", s.business("upload", s.upload))
	s.mux.HandleFunc("POST /api/v1/bill/status", s.business("billstatus", s.billStatus))
	s.mux.HandleFunc("POST /api/v1/bill/stockin/list", s.business("stockin", s.stockIn))
	s.mux.HandleFunc("POST /api/v1/bill/codes", s.business("billcodes", s.billCodes))
	s.mux.HandleFunc("POST /api/v1/bill/codes/smallest", s.business("billsmallest", s.billSmallest))
	s.mux.HandleFunc("POST /api/v1/code/smallest", s.business("smallest", s.smallest))
	s.mux.HandleFunc("POST /_sim/expire-tokens", func(w http.ResponseWriter, _ *http.Request) {
		s.ExpireTokens()
		writeJSON(w, 200, map[string]string{"status": "expired"})
	})
	s.mux.HandleFunc("POST /_sim/fail", func(w http.ResponseWriter, r *http.Request) {
		var f struct {
			Op, Kind string
			Times    int
		}
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil || f.Op == "" || f.Kind == "" {
			http.Error(w, `send {"op":"upload","kind":"http500","times":1}`, http.StatusBadRequest)
			return
		}
		s.Fail(f.Op, f.Kind, f.Times)
		writeJSON(w, 200, map[string]string{"status": "armed"})
	})
	s.mux.HandleFunc("POST /_sim/amend", func(w http.ResponseWriter, r *http.Request) {
		var a struct {
			BillNo    string `json:"billNo"`
			LineNo    int    `json:"lineNo"`
			DropCodes int    `json:"dropCodes"`
		}
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			http.Error(w, `send {"billNo":"PS20261126001","lineNo":1,"dropCodes":1}`, http.StatusBadRequest)
			return
		}
		bill, err := s.Amend(a.BillNo, a.LineNo, a.DropCodes)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, 200, bill)
	})
	s.mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, s.Stats()) })
	s.mux.HandleFunc("GET /_sim/stockin", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseInLocation("2006-01-02", r.URL.Query().Get("date"), s.opts.Zone)
		if err != nil {
			http.Error(w, "date=2006-01-02 is required", http.StatusBadRequest)
			return
		}
		writeJSON(w, 200, s.StockIn(d))
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// ExpireTokens makes every issued token expire now.
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.opts.Now().Add(-time.Second)
	for t := range s.tokens {
		s.tokens[t] = past
	}
}

// Fail makes the next times calls of op ("token", "upload", "billstatus",
// "stockin", "billcodes", "billsmallest", "smallest") fail with kind.
func (s *Sim) Fail(op, kind string, times int) {
	if times <= 0 {
		times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails[op] = append(s.fails[op], failure{kind: kind, times: times})
}

// Stats returns a copy of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stats
	out.Calls = map[string]int{}
	for k, v := range s.stats.Calls {
		out.Calls[k] = v
	}
	return out
}

// IssuedTokens returns every token issued so far, so tests can check that
// none of them leaks into logs, journals or replies.
func (s *Sim) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.tokens))
	for t := range s.tokens {
		out = append(out, t)
	}
	return out
}

// StockIn returns the deliveries of a day (generated on first use).
func (s *Sim) StockIn(day time.Time) []Bill {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Bill
	for _, no := range s.generateDay(s.dayStart(day)) {
		out = append(out, *s.bills[no])
	}
	return out
}

// Amend corrects a delivery the platform lists, as a supplier does when a
// shipment is found short: the last drop shipped codes of line lineNo
// leave the document, and the line's quantity loses the smallest units
// they hold; when every code of the line leaves, so does the line (not
// the document's only one). The document is listed so from then on (its
// date's listings, its codes, its smallest sub-codes), which is what a
// hospital's draft receipt of it must notice; documents StockIn returned
// before keep their lines. It returns the document as amended; a document
// not generated yet (its day never listed), a line it has not, or drop
// not between 1 and the line's codes is an error.
func (s *Sim) Amend(billNo string, lineNo, drop int) (Bill, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bills[billNo]
	if !ok {
		return Bill{}, fmt.Errorf("no delivery %q: list its day first (GET /_sim/stockin?date=…)", billNo)
	}
	for i := range b.Lines {
		if b.Lines[i].LineNo != lineNo {
			continue
		}
		l := &b.Lines[i]
		if drop < 1 || drop > len(l.Codes) || drop == len(l.Codes) && len(b.Lines) == 1 {
			most := len(l.Codes)
			if len(b.Lines) == 1 {
				most-- // a document keeps a line
			}
			return Bill{}, fmt.Errorf("delivery %s line %d ships %d code(s): dropCodes must be 1 to %d", billNo, lineNo, len(l.Codes), most)
		}
		if drop == len(l.Codes) {
			// Every code of the line leaves: so does the line.
			b.Lines = append(b.Lines[:i:i], b.Lines[i+1:]...)
			return *b, nil
		}
		b.Lines = append([]Line(nil), b.Lines...) // StockIn's copies share the old
		l = &b.Lines[i]
		for _, c := range l.Codes[len(l.Codes)-drop:] {
			l.Qty -= s.countSmallest(c.Code)
		}
		l.Codes = append([]BillCode(nil), l.Codes[:len(l.Codes)-drop]...)
		return *b, nil
	}
	return Bill{}, fmt.Errorf("delivery %s has no line %d", billNo, lineNo)
}

// Uploaded returns an uploaded document.
func (s *Sim) Uploaded(billNo string) (Upload, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[billNo]
	if !ok {
		return Upload{}, false
	}
	return *u, true
}

// SmallestOf returns the smallest codes under a generated code.
func (s *Sim) SmallestOf(code string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, n := range s.subtree(code, 0) {
		if n.IsSmallest || len(n.children) == 0 {
			out = append(out, n.Code)
		}
	}
	return out
}

func (s *Sim) dayStart(t time.Time) time.Time {
	t = t.In(s.opts.Zone)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, s.opts.Zone)
}

// answer is the platform's answer envelope.
type answer struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// takeFailure returns the armed failure of op, if any; the caller holds s.mu.
func (s *Sim) takeFailure(op string) string {
	q := s.fails[op]
	if len(q) == 0 {
		return ""
	}
	kind := q[0].kind
	q[0].times--
	if q[0].times <= 0 {
		q = q[1:]
	}
	s.fails[op] = q
	return kind
}

// fail carries out a failure that happens before processing; it reports
// whether the request was answered.
func fail(w http.ResponseWriter, r *http.Request, kind string) bool {
	switch kind {
	case FailHTTP500:
		http.Error(w, "internal error (simulated)", http.StatusInternalServerError)
	case FailBusy:
		writeJSON(w, 200, answer{Code: "SYS_BUSY", Message: "系统繁忙，请稍后重试 (simulated)"})
	case FailAuth:
		writeJSON(w, http.StatusUnauthorized, answer{Code: "TOKEN_INVALID", Message: "令牌无效 (simulated)"})
	case FailHang:
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Minute):
		}
	case FailDrop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		http.Error(w, "drop (simulated)", http.StatusInternalServerError)
	default:
		return false
	}
	return true
}

func (s *Sim) token(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AppID, OrgCode, Timestamp, Nonce, SignMethod, Sign string
	}
	s.mu.Lock()
	s.stats.Calls["token"]++
	kind := s.takeFailure("token")
	s.mu.Unlock()
	if kind != "" && kind != FailAfter && fail(w, r, kind) {
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, 200, answer{Code: "PARAM_INVALID", Message: "请求不是JSON: " + err.Error()})
		return
	}
	if req.AppID != s.opts.AppID || req.OrgCode != s.opts.OrgCode {
		writeJSON(w, 200, answer{Code: "AUTH_FAILED", Message: "应用标识或机构编码错误"})
		return
	}
	ms, err := strconv.ParseInt(req.Timestamp, 10, 64)
	if err != nil || s.opts.Now().Sub(time.UnixMilli(ms)).Abs() > 5*time.Minute {
		writeJSON(w, 200, answer{Code: "AUTH_FAILED", Message: "时间戳无效或超出5分钟"})
		return
	}
	if s.opts.SignMethod != "none" {
		content := req.AppID + req.OrgCode + req.Timestamp + req.Nonce
		var want string
		switch s.opts.SignMethod {
		case "md5":
			sum := md5.Sum([]byte(s.opts.AppSecret + content + s.opts.AppSecret))
			want = strings.ToUpper(hex.EncodeToString(sum[:]))
		default:
			m := hmac.New(sha256.New, []byte(s.opts.AppSecret))
			m.Write([]byte(content))
			want = strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
		}
		if !hmac.Equal([]byte(want), []byte(req.Sign)) {
			writeJSON(w, 200, answer{Code: "AUTH_FAILED", Message: "签名错误"})
			return
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
	s.stats.TokensIssued++
	s.mu.Unlock()
	s.opts.Log.Info("token issued", "ttl", s.opts.TokenTTL)
	if kind == FailAfter {
		http.Error(w, "internal error after issuing (simulated)", http.StatusInternalServerError)
		return
	}
	writeJSON(w, 200, answer{Code: "0", Message: "成功", Data: map[string]any{"accessToken": tok, "expiresIn": int(s.opts.TokenTTL / time.Second)}})
}

// business wraps a business operation with the token check, failures on
// command and statistics. h runs with s.mu held and returns the answer.
func (s *Sim) business(op string, h func(body []byte) (int, answer)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			return
		}
		tok := r.Header.Get("X-Access-Token")
		s.mu.Lock()
		s.stats.Calls[op]++
		if tok == "" {
			s.stats.NoToken++
			s.mu.Unlock()
			writeJSON(w, http.StatusUnauthorized, answer{Code: "TOKEN_MISSING", Message: "缺少访问令牌"})
			return
		}
		exp, known := s.tokens[tok]
		switch {
		case !known:
			s.stats.Refused++
			s.mu.Unlock()
			writeJSON(w, http.StatusUnauthorized, answer{Code: "TOKEN_INVALID", Message: "访问令牌无效"})
			return
		case !s.opts.Now().Before(exp):
			s.stats.Refused++
			s.mu.Unlock()
			writeJSON(w, 200, answer{Code: "TOKEN_EXPIRED", Message: "访问令牌已过期"})
			return
		}
		kind := s.takeFailure(op)
		if kind == FailProcessing && op == "upload" {
			s.failProcessing(body)
			s.mu.Unlock()
			http.Error(w, "internal error after a failed processing (simulated)", http.StatusInternalServerError)
			return
		}
		if kind != "" && kind != FailAfter {
			s.mu.Unlock()
			s.opts.Log.Info("simulated failure", "op", op, "kind", kind)
			fail(w, r, kind)
			return
		}
		status, ans := h(body)
		s.mu.Unlock()
		s.opts.Log.Info("call", "op", op, "code", ans.Code)
		if kind == FailAfter {
			http.Error(w, "internal error after processing (simulated)", http.StatusInternalServerError)
			return
		}
		writeJSON(w, status, ans)
	}
}

func badRequest(msg string) (int, answer) { return 200, answer{Code: "PARAM_INVALID", Message: msg} }

// absent is the platform's non-empty check of a required text parameter
// (billNo, code): why v, the value of the parameter field named label, is
// refused, or "" when it is given. A value of white space alone
// (simspec.Blank: spaces, full-width spaces U+3000, tabs, line breaks,
// zero-width characters) holds nothing, as "" does.
func absent(label, field, v string) string {
	switch {
	case v == "":
		return label + "(" + field + ")不能为空"
	case simspec.Blank(v):
		return label + "(" + field + ")不能为空: 只有空白字符(空格、全角空格、制表、换行或零宽字符)，请传入实际的值"
	}
	return ""
}

var billTypes = map[string]bool{"102": true, "103": true, "107": true, "202": true, "205": true, "206": true, "209": true}

func validCode(c string) bool {
	if len(c) == 20 && c[0] == '8' {
		for i := 0; i < len(c); i++ {
			if c[i] < '0' || c[i] > '9' {
				return false
			}
		}
		return true
	}
	return strings.HasPrefix(c, "(01)") && len(c) <= 100
}

func (s *Sim) upload(body []byte) (int, answer) {
	var req struct {
		BillNo   string `json:"billNo"`
		BillType string `json:"billType"`
		BillTime string `json:"billTime"`
		Lines    []struct {
			TraceCodes []struct {
				Code string `json:"code"`
			} `json:"traceCodes"`
		} `json:"lines"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequest("请求格式错误: " + err.Error())
	}
	switch {
	case absent("单据号", "billNo", req.BillNo) != "":
		return badRequest(absent("单据号", "billNo", req.BillNo))
	case !billTypes[req.BillType]:
		return badRequest("单据类型(billType)无效: " + req.BillType)
	case len(req.Lines) == 0:
		return badRequest("单据明细(lines)不能为空")
	}
	if _, dup := s.uploads[req.BillNo]; dup {
		s.stats.Duplicates++
		return 200, answer{Code: "BILL_DUPLICATE", Message: "单据已上传，请勿重复上传", Data: map[string]any{"billNo": req.BillNo}}
	}
	var codes []string
	stockIn := strings.HasPrefix(req.BillType, "1")
	seen := map[string]int{}
	for i, l := range req.Lines {
		for _, tc := range l.TraceCodes {
			if !validCode(tc.Code) {
				return 200, answer{Code: "CODE_INVALID", Message: fmt.Sprintf("第%d行追溯码格式错误: %s", i+1, tc.Code)}
			}
			if prev, dup := seen[tc.Code]; dup {
				return 200, answer{Code: "CODE_DUPLICATE", Message: fmt.Sprintf("第%d行追溯码%s重复(第%d行已有)，同一单据中每个码只能出现一次", i+1, tc.Code, prev)}
			}
			seen[tc.Code] = i + 1
			if d, ok := s.dispensed[tc.Code]; ok {
				// The refusal quotes the dispensing record field by field.
				return 200, answer{Code: "CODE_DISPENSED", Message: fmt.Sprintf("第%d行追溯码%s已于%s发药，不能再出入库。发药记录：患者姓名：%s，证件类型：%s，证件号码：%s，联系电话：%s",
					i+1, tc.Code, d.at.In(s.opts.Zone).Format("2006-01-02"), d.Name, d.idTypeName(), d.IDNo, d.Tel)}
			}
			if by, in := s.stocked[tc.Code]; in && stockIn {
				return 200, answer{Code: "CODE_USED", Message: fmt.Sprintf("第%d行追溯码%s已由单据%s入库，不能重复入库", i+1, tc.Code, by)}
			}
			if by, gone := s.out[tc.Code]; gone && !stockIn {
				return 200, answer{Code: "CODE_OUT", Message: fmt.Sprintf("第%d行追溯码%s已由单据%s出库，不能重复出库", i+1, tc.Code, by)}
			}
			codes = append(codes, tc.Code)
		}
	}
	// The whole document is checked before any effect: a refused
	// document changes nothing.
	for _, c := range codes {
		if stockIn {
			s.stocked[c] = req.BillNo
			delete(s.out, c)
		} else {
			delete(s.stocked, c)
			s.out[c] = req.BillNo
		}
	}
	s.uploads[req.BillNo] = &Upload{BillNo: req.BillNo, BillType: req.BillType, Codes: codes, Body: append(json.RawMessage(nil), body...), At: s.opts.Now()}
	s.stats.Uploads++
	return 200, answer{Code: "0", Message: "成功", Data: map[string]any{"billNo": req.BillNo, "acceptedCodes": len(codes)}}
}

// failProcessing keeps an upload whose processing failed: no effect on
// the ledger, status 4. The caller holds s.mu.
func (s *Sim) failProcessing(body []byte) {
	var req struct {
		BillNo   string `json:"billNo"`
		BillType string `json:"billType"`
	}
	if json.Unmarshal(body, &req) != nil || absent("单据号", "billNo", req.BillNo) != "" {
		return // refused before processing: nothing kept
	}
	if _, dup := s.uploads[req.BillNo]; !dup {
		s.uploads[req.BillNo] = &Upload{BillNo: req.BillNo, BillType: req.BillType, Body: append(json.RawMessage(nil), body...), At: s.opts.Now(), Failed: true}
	}
}

func (s *Sim) billStatus(body []byte) (int, answer) {
	var req struct {
		BillNo string `json:"billNo"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequest("请求格式错误: " + err.Error())
	}
	if msg := absent("单据号", "billNo", req.BillNo); msg != "" {
		return badRequest(msg)
	}
	u, ok := s.uploads[req.BillNo]
	if !ok {
		return 200, answer{Code: "NOT_FOUND", Message: "单据不存在"}
	}
	status := "3" // 处理成功
	if u.Failed {
		status = "4" // 处理失败
	}
	return 200, answer{Code: "0", Message: "成功", Data: map[string]any{"billNo": u.BillNo, "status": status, "codeCount": len(u.Codes)}}
}

func (s *Sim) stockIn(body []byte) (int, answer) {
	var req struct {
		BeginDate string `json:"beginDate"`
		EndDate   string `json:"endDate"`
		Page      int    `json:"page"`
		PageSize  int    `json:"pageSize"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequest("请求格式错误: " + err.Error())
	}
	begin, err1 := time.ParseInLocation("2006-01-02", req.BeginDate, s.opts.Zone)
	end, err2 := time.ParseInLocation("2006-01-02", req.EndDate, s.opts.Zone)
	switch {
	case err1 != nil || err2 != nil:
		return badRequest("开始日期和结束日期格式为yyyy-MM-dd")
	case end.Before(begin) || end.Sub(begin) > 31*24*time.Hour:
		return badRequest("日期范围无效，最多31天")
	case req.Page < 1 || req.PageSize < 1 || req.PageSize > s.opts.MaxPageSize:
		return badRequest(fmt.Sprintf("页码从1开始，每页1到%d条", s.opts.MaxPageSize))
	}
	var nos []string
	for d := begin; !d.After(end); d = d.AddDate(0, 0, 1) {
		nos = append(nos, s.generateDay(d)...)
	}
	sort.Strings(nos)
	from := (req.Page - 1) * req.PageSize
	page := []Bill{}
	for i := from; i < len(nos) && i < from+req.PageSize; i++ {
		page = append(page, *s.bills[nos[i]])
	}
	return 200, answer{Code: "0", Message: "成功", Data: map[string]any{"total": len(nos), "page": req.Page, "pageSize": req.PageSize, "bills": page}}
}

// billCodesOf returns the codes of a document as listed on it, with the
// line each belongs to; the caller holds s.mu.
func (s *Sim) billCodesOf(billNo string) ([]node, bool) {
	if b, ok := s.bills[billNo]; ok {
		var out []node
		for _, l := range b.Lines {
			for _, c := range l.Codes {
				out = append(out, node{Code: c.Code, CodeLevel: c.CodeLevel, ParentCode: c.ParentCode, LineNo: l.LineNo})
			}
		}
		return out, true
	}
	if u, ok := s.uploads[billNo]; ok {
		var req struct {
			Lines []struct {
				LineNo     int `json:"lineNo"`
				TraceCodes []struct {
					Code string `json:"code"`
				} `json:"traceCodes"`
			} `json:"lines"`
		}
		_ = json.Unmarshal(u.Body, &req)
		var out []node
		for i, l := range req.Lines {
			ln := l.LineNo
			if ln == 0 {
				ln = i + 1
			}
			for _, tc := range l.TraceCodes {
				lvl := 1
				if n := s.nodes[tc.Code]; n != nil {
					lvl = n.CodeLevel
				}
				out = append(out, node{Code: tc.Code, CodeLevel: lvl, LineNo: ln})
			}
		}
		return out, true
	}
	return nil, false
}

func (s *Sim) billCodes(body []byte) (int, answer) {
	var req struct {
		BillNo string `json:"billNo"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequest("请求格式错误: " + err.Error())
	}
	if msg := absent("单据号", "billNo", req.BillNo); msg != "" {
		return badRequest(msg)
	}
	codes, ok := s.billCodesOf(req.BillNo)
	if !ok {
		return 200, answer{Code: "NOT_FOUND", Message: "单据不存在"}
	}
	type flat struct {
		Code       string `json:"code"`
		CodeLevel  int    `json:"codeLevel"`
		ParentCode string `json:"parentCode"`
		LineNo     int    `json:"lineNo"`
	}
	out := make([]flat, len(codes))
	for i, c := range codes {
		out[i] = flat{c.Code, c.CodeLevel, c.ParentCode, c.LineNo}
	}
	return 200, answer{Code: "0", Message: "成功", Data: map[string]any{"billNo": req.BillNo, "codes": out}}
}

func (s *Sim) billSmallest(body []byte) (int, answer) {
	var req struct {
		BillNo string `json:"billNo"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequest("请求格式错误: " + err.Error())
	}
	if msg := absent("单据号", "billNo", req.BillNo); msg != "" {
		return badRequest(msg)
	}
	codes, ok := s.billCodesOf(req.BillNo)
	if !ok {
		return 200, answer{Code: "NOT_FOUND", Message: "单据不存在"}
	}
	var out []node
	for _, c := range codes {
		out = append(out, s.subtree(c.Code, c.LineNo)...)
	}
	return 200, answer{Code: "0", Message: "成功", Data: map[string]any{"billNo": req.BillNo, "codes": out}}
}

func (s *Sim) smallest(body []byte) (int, answer) {
	var req struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequest("请求格式错误: " + err.Error())
	}
	if msg := absent("追溯码", "code", req.Code); msg != "" {
		return badRequest(msg)
	}
	if _, ok := s.nodes[req.Code]; !ok {
		return 200, answer{Code: "NOT_FOUND", Message: "追溯码不存在或未做过入库"}
	}
	return 200, answer{Code: "0", Message: "成功", Data: map[string]any{"code": req.Code, "codes": s.subtree(req.Code, 0)}}
}
