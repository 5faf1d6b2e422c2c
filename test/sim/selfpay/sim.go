// Package selfpay simulates the provincial medical-insurance platform for
// the self-pay inpatient transactions (4201A, 4202, 4203, 4204, 4207,
// 4208, 4209) and the 9001 sign-in, as medgate's tests and `make run` see
// it. It:
//
//   - verifies the x-tif gateway signature (paasid, timestamp within a
//     skew, nonce never reused, SHA-256 of timestamp+token+nonce+timestamp)
//     and answers HTTP 401 when it fails;
//   - checks the request envelope and each transaction's input against its
//     own field rules (rules.go: required, length, type, code list, date
//     layout, unknown keys), written from the interface notes and the
//     hospital's requirements, and refuses duplicate msgids;
//   - enforces one patient per call, each 4201A line's
//     det_item_fee_sumamt = pric × cnt rounded to the fen (a call with a
//     wrong line stores none), the 4201A ↔ 4202 join on
//     fixmedins_mdtrt_id at completion, completion semantics (a completed
//     visit cannot be changed until 4203 cplt_flag=0) and deletion;
//   - answers 4207/4208/4209 from what was uploaded (4207 and 4209 only
//     about a visit of the envelope's institution), paged as
//     {recordCounts, pages, data} with camelCase records (MaxPageSize caps
//     a page below the page_size asked; NoPageCounts leaves the counts
//     out);
//   - refuses calls whose sign_no it never issued or that expired
//     (RequireSignIn, SignInTTL, SignInDaily, ExpireSignIns) with its own
//     infcode (SignInInfcode);
//   - fails on command (Fail, or POST /sim/fail): a business error, HTTP
//     500, a dropped connection before or after applying the call, a hold
//     that applies the call and then keeps the connection until released.
//
// It is an independent implementation: it imports nothing of medgate's
// (no plugins/..., no schemas) but test/sim/simspec, the simulators' own
// checker, for its KindOf, keeps its own ledger and enforces the rules
// itself, so a broken adapter or schema file fails against it. Its field
// rules (rules.go) are Go code written from /work/shared/specs/selfpay-hsa.md
// (§1 envelope, §4 field tables) and /work/shared/specs/requirements-zh.txt
// (2.2.2, 4201A…4209), not read from schemas/; its SM4 encryption and msgid
// rule (sm4.go) and its log masking (mask.go) are its own too. Only its
// tests use medgate's client, to produce real traffic.
//
// Its rules are a reading of public third-party code quoted in those
// notes, not the platform's documented behaviour.
package selfpay

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Options configure a simulator.
type Options struct {
	// PaasID and Token are the x-tif credentials it accepts. An empty Token
	// turns signature checks off (for auth none).
	PaasID string
	Token  string
	// UpperSignature expects the signature in upper-case hex.
	UpperSignature bool
	// MaxSkew bounds |now - x-tif-timestamp|; default 5 minutes.
	MaxSkew time.Duration
	// SM4Key decrypts inputs sent with enc_type SM4 (and encrypts their
	// outputs); SM4Hex says the ciphertext is hex instead of base64.
	SM4Key string
	SM4Hex bool
	// RequireSignIn refuses transactions without a valid sign_no from
	// 9001: one it never issued, or one that expired (SignInTTL,
	// ExpireSignIns). The refusal's infcode is SignInInfcode.
	RequireSignIn bool
	// SignInTTL, when positive, expires a sign_no that long after the 9001
	// that issued it, on the simulator's clock (its own rule: the
	// platform's is not public).
	SignInTTL time.Duration
	// SignInDaily expires a sign_no at the end of the day (UTC+8, on the
	// simulator's clock) it was issued: the sign-in is daily, and a call
	// after midnight carrying the day before's is refused (its own rule:
	// the platform's is not public).
	SignInDaily bool
	// SignInInfcode is the infcode of a refusal for a missing or expired
	// sign-in; 0 means -1, the generic failure (the platform's own code
	// for it is not public).
	SignInInfcode int
	// MaxInputChars bounds the envelope's input as sent, in characters:
	// the ciphertext with enc_type SM4, else the input's JSON text (the
	// envelope's input is 字符型 40000). 0 means 40000; negative, no limit.
	MaxInputChars int
	// MaxPageSize, when positive, caps the records of one 4207/4208/4209
	// page: a page_size above it is served as MaxPageSize records per page
	// (its own rule: whether and where the platform caps it is not public).
	MaxPageSize int
	// NoPageCounts leaves recordCounts and pages out of 4207/4208/4209
	// answers, which then carry only data: with MaxPageSize, a short page
	// is not the last one, and only an empty page ends the query.
	NoPageCounts bool
	// AllInstitutions4208 makes 4208 list the matching visits of every
	// institution, each record's fixmedinsCode naming its own: 4208's
	// input names no institution, and whether the platform limits it to
	// the caller's is not public (a person's self-pay stays at two
	// hospitals may then both be listed, with ids unique only within
	// each). Without it 4208 lists the caller's visits alone.
	AllInstitutions4208 bool
	// RefuseReopenIncomplete refuses a 4203 cplt_flag=0 of a visit that is
	// not complete (未完成状态，无需撤销), as the platform may: whether it
	// refuses or accepts such a no-op is not public. Without it the
	// simulator accepts it.
	RefuseReopenIncomplete bool
	// Admvs is the receiver's area code used in inf_refmsgid.
	Admvs string
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
	// Log receives one line per call, with personal data masked (names,
	// ID and phone numbers; mask.go).
	Log *slog.Logger
}

// platformZone is the platform's time zone (UTC+8): its days, and the
// sign_time it answers.
var platformZone = time.FixedZone("UTC+8", 8*3600)

// Fault modes.
const (
	// FaultBusiness answers infcode -1 with Message, applying nothing.
	FaultBusiness = "business"
	// FaultHTTP500 answers HTTP 500, applying nothing.
	FaultHTTP500 = "http500"
	// FaultDrop closes the connection without an answer, applying nothing.
	FaultDrop = "drop"
	// FaultLostReply applies the call, then closes the connection without
	// an answer: the caller cannot know it succeeded.
	FaultLostReply = "lost-reply"
	// FaultHold applies the call, signals Held, then keeps the connection
	// open until Release or the client goes away, and closes it without an
	// answer.
	FaultHold = "hold"
	// FaultDelay waits Delay before handling the call normally.
	FaultDelay = "delay"
)

// Fault makes the next Times calls of Infno ("" = any) fail.
type Fault struct {
	Infno   string        `json:"infno"`
	Mode    string        `json:"mode"`
	Times   int           `json:"times"`
	Message string        `json:"message,omitempty"`
	Delay   time.Duration `json:"delay,omitempty"`
	// After skips this many matching calls before failing (e.g. the third
	// 4201A batch: After 2).
	After int `json:"after,omitempty"`
}

// Call is one call the simulator received.
type Call struct {
	Infno   string
	MsgID   string
	MdtrtID string
	// Infcode is the answer's infcode; Status the HTTP status; Fault the
	// fault mode applied, if any.
	Infcode int
	Status  int
	Fault   string
	ErrMsg  string
	Applied bool
	At      time.Time
	// personal maps the names and numbers of the call's input and visit
	// to their masked forms, for the log.
	personal map[string]string
}

type fee struct {
	row     map[string]any
	rid     string
	created time.Time
}

type visit struct {
	code, mdtrtID string
	mdtrt         map[string]any
	diags         []map[string]any
	fees          []*fee
	complete      bool
	created       time.Time
	updated       time.Time
}

// Sim is the simulator; it is an http.Handler.
type Sim struct {
	opts    Options
	mu      sync.Mutex
	visits  map[string]*visit // code + "/" + mdtrtID
	msgids  map[string]bool
	nonces  map[string]time.Time
	signNos map[string]time.Time // sign_no → issued; expired ones are deleted
	faults  []*Fault
	calls   []Call
	seq     int64
	held    chan string
	release chan struct{}
}

// New returns a simulator.
func New(opts Options) (*Sim, error) {
	if opts.MaxSkew == 0 {
		opts.MaxSkew = 5 * time.Minute
	}
	if opts.MaxInputChars == 0 {
		opts.MaxInputChars = 40000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Admvs == "" {
		opts.Admvs = "350000"
	}
	s := &Sim{opts: opts, held: make(chan string, 16), release: make(chan struct{})}
	s.Reset()
	return s, nil
}

// Reset forgets every upload, msgid, nonce, sign-in, fault and call.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.visits, s.msgids, s.nonces, s.signNos = map[string]*visit{}, map[string]bool{}, map[string]time.Time{}, map[string]time.Time{}
	s.faults, s.calls = nil, nil
}

// Fail queues a fault.
func (s *Sim) Fail(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// ExpireSignIns expires every sign_no issued so far, as the platform may
// before the day ends: calls carrying one are refused until a new 9001.
func (s *Sim) ExpireSignIns() {
	s.mu.Lock()
	clear(s.signNos)
	s.mu.Unlock()
}

// Held receives the infno of each call that a FaultHold is holding.
func (s *Sim) Held() <-chan string { return s.held }

// Release lets every held call end (without an answer).
func (s *Sim) Release() {
	s.mu.Lock()
	close(s.release)
	s.release = make(chan struct{})
	s.mu.Unlock()
}

// Calls returns the calls received so far.
func (s *Sim) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count returns how many calls of infno for a visit were applied.
func (s *Sim) Count(infno, mdtrtID string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Infno == infno && c.MdtrtID == mdtrtID && c.Applied {
			n++
		}
	}
	return n
}

// VisitView is what the simulator holds about one visit.
type VisitView struct {
	Exists, VisitUploaded, Complete bool
	Fees                            []string // bkkp_sn in upload order
	Diagnoses                       int
	MedfeeSumamt                    string
	// FeesSumamt is the sum of the stored lines' det_item_fee_sumamt,
	// exact, with two decimals ("" for a line whose amount is no number).
	FeesSumamt string
}

// Visit returns what is stored for a visit.
func (s *Sim) Visit(code, mdtrtID string) VisitView {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.visits[code+"/"+mdtrtID]
	if !ok {
		return VisitView{}
	}
	out := VisitView{Exists: true, VisitUploaded: v.mdtrt != nil, Complete: v.complete, Diagnoses: len(v.diags)}
	var sum big.Rat
	summed := true
	for _, f := range v.fees {
		out.Fees = append(out.Fees, str(f.row["bkkp_sn"]))
		r, ok := new(big.Rat).SetString(str(f.row["det_item_fee_sumamt"]))
		summed = summed && ok
		if ok {
			sum.Add(&sum, r)
		}
	}
	if summed {
		out.FeesSumamt = sum.FloatString(2)
	}
	if v.mdtrt != nil {
		out.MedfeeSumamt = str(v.mdtrt["medfee_sumamt"])
	}
	return out
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/sim/") {
		s.control(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST an envelope", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if msg := s.verify(r); msg != "" {
		s.record(Call{Status: http.StatusUnauthorized, ErrMsg: msg})
		s.opts.Log.Info("gateway signature refused", "why", msg)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": 401, "message": "x-tif signature verification failed: " + msg})
		return
	}
	s.envelope(w, r, body)
}

// verify checks the x-tif headers; it returns why they fail, or "".
func (s *Sim) verify(r *http.Request) string {
	if s.opts.Token == "" {
		return ""
	}
	paasid, ts, nonce, sig := r.Header.Get("x-tif-paasid"), r.Header.Get("x-tif-timestamp"), r.Header.Get("x-tif-nonce"), r.Header.Get("x-tif-signature")
	if paasid == "" || ts == "" || nonce == "" || sig == "" {
		return "missing x-tif-paasid, x-tif-timestamp, x-tif-nonce or x-tif-signature"
	}
	if paasid != s.opts.PaasID {
		return "unknown paasid"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "x-tif-timestamp is not Unix seconds"
	}
	now := s.opts.Now()
	if d := now.Sub(time.Unix(sec, 0)); d > s.opts.MaxSkew || d < -s.opts.MaxSkew {
		return "x-tif-timestamp is too far from the server time"
	}
	sum := sha256.Sum256([]byte(ts + s.opts.Token + nonce + ts))
	want := hex.EncodeToString(sum[:])
	if s.opts.UpperSignature {
		want = strings.ToUpper(want)
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		return "signature mismatch"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, t := range s.nonces {
		if now.Sub(t) > 2*s.opts.MaxSkew {
			delete(s.nonces, n)
		}
	}
	if _, seen := s.nonces[nonce]; seen {
		return "x-tif-nonce was used before (replay)"
	}
	s.nonces[nonce] = now
	return ""
}

// inputChars is the length of the envelope's input as sent: the
// characters of a string input (a ciphertext), else of the input's JSON
// text in the body.
func inputChars(body []byte, input any) int {
	if ct, ok := input.(string); ok {
		return utf8.RuneCountInString(ct)
	}
	var raw struct {
		Input json.RawMessage `json:"input"`
	}
	if json.Unmarshal(body, &raw) != nil {
		return 0
	}
	return utf8.RuneCount(raw.Input)
}

// answer is one envelope answer.
type answer struct {
	infcode int
	errMsg  string
	output  any
}

func (s *Sim) envelope(w http.ResponseWriter, r *http.Request, body []byte) {
	call := Call{At: s.opts.Now(), Status: http.StatusOK}
	var env map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&env); err != nil || env == nil {
		s.reply(w, &call, nil, answer{infcode: -1, errMsg: "报文不是JSON对象: request body is not a JSON object"}, "")
		return
	}
	call.Infno, call.MsgID = str(env["infno"]), str(env["msgid"])
	input, hasInput := env["input"]
	head := map[string]any{}
	for k, v := range env {
		if k != "input" {
			head[k] = v
		}
	}
	encType := str(env["enc_type"])
	if vs := check(envelopeRules, head); vs != nil {
		s.reply(w, &call, env, answer{infcode: -1, errMsg: describeViolations("报文头校验失败", vs)}, encType)
		return
	}
	if !hasInput {
		s.reply(w, &call, env, answer{infcode: -1, errMsg: "缺少input节点: input is missing"}, encType)
		return
	}
	if n := inputChars(body, input); s.opts.MaxInputChars > 0 && n > s.opts.MaxInputChars {
		s.reply(w, &call, env, answer{infcode: -1, errMsg: fmt.Sprintf("input超长: %d 个字符，最多 %d", n, s.opts.MaxInputChars)}, encType)
		return
	}
	code := str(env["fixmedins_code"])
	if msg := checkMsgID(call.MsgID, code); msg != "" {
		s.reply(w, &call, env, answer{infcode: -1, errMsg: msg}, encType)
		return
	}
	// append-infno routing: the path must end with the infno of the body.
	if last := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]; looksLikeInfno(last) && last != call.Infno {
		s.reply(w, &call, env, answer{infcode: -1, errMsg: fmt.Sprintf("交易编号与地址不符: the URL names %s, the body %s", last, call.Infno)}, encType)
		return
	}
	if strings.EqualFold(encType, "SM4") {
		ct, ok := input.(string)
		if !ok {
			s.reply(w, &call, env, answer{infcode: -1, errMsg: "enc_type为SM4时input须为密文字符串"}, encType)
			return
		}
		pt, err := sm4Open(s.opts.SM4Key, s.opts.SM4Hex, ct)
		if err != nil {
			s.reply(w, &call, env, answer{infcode: -1, errMsg: "解密失败: " + err.Error()}, encType)
			return
		}
		d := json.NewDecoder(bytes.NewReader(pt))
		d.UseNumber()
		if err := d.Decode(&input); err != nil {
			s.reply(w, &call, env, answer{infcode: -1, errMsg: "解密后不是JSON"}, encType)
			return
		}
	}
	s.mu.Lock()
	dup := s.msgids[call.MsgID]
	s.msgids[call.MsgID] = true
	issued, signed := s.signNos[str(env["sign_no"])]
	if signed && (s.opts.SignInTTL > 0 && call.At.Sub(issued) >= s.opts.SignInTTL ||
		s.opts.SignInDaily && call.At.In(platformZone).Format(dateLayout) != issued.In(platformZone).Format(dateLayout)) {
		signed = false
		delete(s.signNos, str(env["sign_no"]))
	}
	s.mu.Unlock()
	if dup {
		s.reply(w, &call, env, answer{infcode: -1, errMsg: "发送方报文ID重复: msgid " + call.MsgID + " was used before"}, encType)
		return
	}
	if s.opts.RequireSignIn && call.Infno != "9001" && !signed {
		code := s.opts.SignInInfcode
		if code == 0 {
			code = -1
		}
		s.reply(w, &call, env, answer{infcode: code, errMsg: "签到信息无效或已过期，请先签到(9001)"}, encType)
		return
	}
	in, ok := input.(map[string]any)
	if !ok {
		s.reply(w, &call, env, answer{infcode: -1, errMsg: describeViolations("入参校验失败", check(nil, input))}, encType)
		return
	}
	call.MdtrtID = mdtrtOf(call.Infno, in)
	call.personal = s.personalOf(code, call.MdtrtID, in)
	f := s.fault(call.Infno)
	if f != nil {
		call.Fault = f.Mode
		switch f.Mode {
		case FaultBusiness:
			msg := f.Message
			if msg == "" {
				msg = "模拟业务错误: simulated business error"
			}
			s.reply(w, &call, env, answer{infcode: -1, errMsg: msg}, encType)
			return
		case FaultHTTP500:
			call.Status = http.StatusInternalServerError
			s.record(call)
			http.Error(w, `{"code":500,"message":"simulated server error"}`, http.StatusInternalServerError)
			return
		case FaultDrop:
			call.Status = 0
			s.record(call)
			hangUp(w)
			return
		case FaultDelay:
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
			}
		}
	}
	ans := s.apply(call.Infno, code, env, in, &call)
	if f != nil && (f.Mode == FaultLostReply || f.Mode == FaultHold) {
		call.Status = 0
		call.Infcode = ans.infcode
		s.record(call)
		if f.Mode == FaultHold {
			s.mu.Lock()
			rel := s.release
			s.mu.Unlock()
			select {
			case s.held <- call.Infno:
			default:
			}
			select {
			case <-rel:
			case <-r.Context().Done():
			}
		}
		hangUp(w)
		return
	}
	s.reply(w, &call, env, ans, encType)
}

func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// fault takes the next fault matching infno.
func (s *Sim) fault(infno string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Infno != "" && f.Infno != infno {
			continue
		}
		if f.After > 0 {
			f.After--
			return nil
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		cp := *f
		return &cp
	}
	return nil
}

func (s *Sim) record(c Call) {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
}

func (s *Sim) reply(w http.ResponseWriter, call *Call, env map[string]any, a answer, encType string) {
	call.Infcode, call.ErrMsg = a.infcode, a.errMsg
	s.record(*call)
	s.opts.Log.Info("call", "infno", call.Infno, "msgid", call.MsgID, "infcode", a.infcode, "err_msg", maskLog(a.errMsg, call.personal))
	now := s.opts.Now()
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	out := map[string]any{
		"infcode":      a.infcode,
		"inf_refmsgid": fmt.Sprintf("%s%s%010d", s.opts.Admvs, now.Format("20060102150405"), seq),
		"refmsg_time":  now.Format("20060102150405") + "000",
		"respond_time": now.Format("20060102150405") + "001",
		"err_msg":      a.errMsg,
		"warn_msg":     "",
		"signtype":     "",
		"cainfo":       "",
		"output":       a.output,
	}
	if env != nil {
		if _, ok := env["app_id"]; ok {
			out["app_id"] = env["app_id"]
			out["enc_type"] = encType
		}
	}
	if a.output == nil {
		out["output"] = map[string]any{}
	}
	if strings.EqualFold(encType, "SM4") && a.infcode == 0 {
		b, _ := json.Marshal(out["output"])
		ct, err := sm4Seal(s.opts.SM4Key, s.opts.SM4Hex, b)
		if err == nil {
			out["output"] = ct
			out["enc_type"] = "SM4"
		}
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out)
}

func checkMsgID(id, code string) string {
	c, err := parseMsgID(id)
	if err != nil {
		return "发送方报文ID格式错误: " + err.Error()
	}
	if c != code {
		return fmt.Sprintf("发送方报文ID须以定点医药机构编号开头: msgid starts with %s, fixmedins_code is %s", c, code)
	}
	return ""
}

func looksLikeInfno(s string) bool {
	return len(s) >= 4 && len(s) <= 6 && s[0] >= '0' && s[0] <= '9'
}

func mdtrtOf(infno string, in map[string]any) string {
	switch infno {
	case "4201A":
		if items, ok := in["fsiOwnpayPatnFeeListDDTO"].([]any); ok && len(items) > 0 {
			if m, ok := items[0].(map[string]any); ok {
				return str(m["fixmedins_mdtrt_id"])
			}
		}
	case "4202":
		if m, ok := in["ownPayPatnMdtrtD"].(map[string]any); ok {
			return str(m["fixmedins_mdtrt_id"])
		}
	case "4204":
		if m, ok := in["feedetail"].(map[string]any); ok {
			return str(m["fixmedins_mdtrt_id"])
		}
	case "4203", "4207", "4209":
		return str(in["fixmedins_mdtrt_id"])
	}
	return ""
}

// apply runs one transaction against the stored state.
func (s *Sim) apply(infno, code string, env, in map[string]any, call *Call) answer {
	rules, ok := inputRules[infno]
	if !ok {
		return answer{infcode: -1, errMsg: "交易编号不存在: unknown infno " + infno + "; the simulator serves 9001, 4201A, 4202, 4203, 4204, 4207, 4208 and 4209"}
	}
	if vs := check(rules, in); vs != nil {
		return answer{infcode: -1, errMsg: describeViolations("入参校验失败", vs)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	var a answer
	switch infno {
	case "9001":
		n, _ := rand.Int(rand.Reader, big.NewInt(1e12))
		no := fmt.Sprintf("%s%s%012d", s.opts.Admvs[:6], now.Format("20060102"), n.Int64())
		s.signNos[no] = now
		a.output = map[string]any{"signinoutb": map[string]any{"sign_time": now.In(platformZone).Format(timeLayout), "sign_no": no}}
	case "4201A":
		a = s.upload4201A(code, in, now)
	case "4202":
		a = s.upload4202(code, in, now)
	case "4203":
		a = s.complete4203(code, in, now)
	case "4204":
		a = s.delete4204(code, in, now)
	case "4207":
		a = s.query4207(code, in)
	case "4208":
		a = s.query4208(code, in)
	case "4209":
		a = s.query4209(code, in)
	default:
		a = answer{infcode: -1, errMsg: "simulator does not implement " + infno}
	}
	call.Applied = a.infcode == 0
	return a
}

// personalOf collects the names and numbers of a call's input and of the
// visit it names, for masking its log line.
func (s *Sim) personalOf(code, mdtrtID string, in map[string]any) map[string]string {
	m := personal(in, nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.visits[code+"/"+mdtrtID]; v != nil && v.mdtrt != nil {
		m = personal(v.mdtrt, m)
	}
	return m
}

func (s *Sim) visit(code, id string, create bool, now time.Time) *visit {
	k := code + "/" + id
	v := s.visits[k]
	if v == nil && create {
		v = &visit{code: code, mdtrtID: id, created: now}
		s.visits[k] = v
	}
	return v
}

const lockedMsg = "该就诊已上传完成，不能修改，请先撤销完成标志(4203 cplt_flag=0)"

func (s *Sim) upload4201A(code string, in map[string]any, now time.Time) answer {
	items, _ := in["fsiOwnpayPatnFeeListDDTO"].([]any)
	id := ""
	seen := map[string]bool{}
	for i, it := range items {
		m := it.(map[string]any)
		mid := str(m["fixmedins_mdtrt_id"])
		if i == 0 {
			id = mid
		} else if mid != id {
			return answer{infcode: -1, errMsg: "每次接口调用只上传一位患者的信息: fee lines of more than one fixmedins_mdtrt_id"}
		}
		if str(m["fixmedins_code"]) != code {
			return answer{infcode: -1, errMsg: fmt.Sprintf("第%d条明细的定点医药机构编号与报文头不符", i+1)}
		}
		if msg := lineAmount(m); msg != "" {
			return answer{infcode: -1, errMsg: fmt.Sprintf("第%d条明细(bkkp_sn %s)%s", i+1, str(m["bkkp_sn"]), msg)}
		}
		sn := str(m["bkkp_sn"])
		if seen[sn] {
			return answer{infcode: -1, errMsg: "记账流水号重复: bkkp_sn " + sn + " appears twice in this call"}
		}
		seen[sn] = true
	}
	v := s.visit(code, id, true, now)
	if v.complete {
		return answer{infcode: -1, errMsg: lockedMsg}
	}
	for _, f := range v.fees {
		if sn := str(f.row["bkkp_sn"]); seen[sn] {
			return answer{infcode: -1, errMsg: "记账流水号已存在: bkkp_sn " + sn + " was uploaded before; delete it with 4204 first"}
		}
	}
	for _, it := range items {
		s.seq++
		v.fees = append(v.fees, &fee{row: it.(map[string]any), rid: fmt.Sprintf("R%012d", s.seq), created: now})
	}
	v.updated = now
	return answer{}
}

// halfFen is the most a line's det_item_fee_sumamt may differ from pric ×
// cnt: the product rounded to the fen, either way at exactly half a fen.
var halfFen = big.NewRat(1, 200)

// lineAmount checks that a fee line's det_item_fee_sumamt is its pric ×
// cnt rounded to the fen (明细项目费用总额 = 单价 × 数量); it returns why not,
// or "".
func lineAmount(m map[string]any) string {
	var vals [3]*big.Rat
	for i, k := range []string{"pric", "cnt", "det_item_fee_sumamt"} {
		r, ok := new(big.Rat).SetString(str(m[k]))
		if !ok {
			return fmt.Sprintf("的%s %q不是数值", k, str(m[k]))
		}
		vals[i] = r
	}
	product := new(big.Rat).Mul(vals[0], vals[1])
	if off := new(big.Rat).Sub(product, vals[2]); off.Abs(off).Cmp(halfFen) > 0 {
		return fmt.Sprintf("单价×数量与明细项目费用总额不符: pric %s × cnt %s = %s, det_item_fee_sumamt is %s; send the product rounded to the fen",
			str(m["pric"]), str(m["cnt"]), product.FloatString(10), str(m["det_item_fee_sumamt"]))
	}
	return ""
}

func (s *Sim) upload4202(code string, in map[string]any, now time.Time) answer {
	m := in["ownPayPatnMdtrtD"].(map[string]any)
	if str(m["fixmedins_code"]) != code {
		return answer{infcode: -1, errMsg: "就诊信息的定点医药机构编号与报文头不符"}
	}
	v := s.visit(code, str(m["fixmedins_mdtrt_id"]), true, now)
	if v.complete {
		return answer{infcode: -1, errMsg: lockedMsg}
	}
	v.mdtrt = m
	v.diags = nil
	for _, d := range in["ownPayPatnDiagListD"].([]any) {
		v.diags = append(v.diags, d.(map[string]any))
	}
	v.updated = now
	return answer{}
}

func (s *Sim) complete4203(code string, in map[string]any, now time.Time) answer {
	if str(in["fixmedins_code"]) != code {
		return answer{infcode: -1, errMsg: "定点医药机构编号与报文头不符"}
	}
	v := s.visit(code, str(in["fixmedins_mdtrt_id"]), false, now)
	if v == nil {
		return answer{infcode: -1, errMsg: "未查询到该就诊信息: nothing was uploaded for this fixmedins_mdtrt_id"}
	}
	if str(in["cplt_flag"]) == "0" {
		if !v.complete && s.opts.RefuseReopenIncomplete {
			return answer{infcode: -1, errMsg: "该就诊信息为未完成状态，无需撤销: the visit is not complete"}
		}
		v.complete = false
		v.updated = now
		return answer{}
	}
	if v.mdtrt == nil {
		return answer{infcode: -1, errMsg: "未上传就诊信息(4202): the visit's fixmedins_mdtrt_id has fee details but no 4202 visit"}
	}
	if len(v.fees) == 0 {
		return answer{infcode: -1, errMsg: "未上传费用明细(4201A): no fee details for this fixmedins_mdtrt_id"}
	}
	var sum, total big.Rat
	for _, f := range v.fees {
		if r, ok := new(big.Rat).SetString(str(f.row["det_item_fee_sumamt"])); ok {
			sum.Add(&sum, r)
		}
	}
	if r, ok := total.SetString(str(v.mdtrt["medfee_sumamt"])); ok && sum.Cmp(r) != 0 {
		return answer{infcode: -1, errMsg: fmt.Sprintf("费用明细总额(%s)与医疗总费用(%s)不符", sum.FloatString(2), r.FloatString(2))}
	}
	v.complete = true
	v.updated = now
	return answer{}
}

func (s *Sim) delete4204(code string, in map[string]any, now time.Time) answer {
	fd := in["feedetail"].(map[string]any)
	if str(fd["fixmedins_code"]) != code {
		return answer{infcode: -1, errMsg: "定点医药机构编号与报文头不符"}
	}
	v := s.visit(code, str(fd["fixmedins_mdtrt_id"]), false, now)
	if v == nil || len(v.fees) == 0 {
		return answer{infcode: -1, errMsg: "未查询到自费病人住院费用明细: nothing to delete"}
	}
	if v.complete {
		return answer{infcode: -1, errMsg: lockedMsg}
	}
	list, _ := in["feedetl"].([]any)
	if _, sent := in["feedetl"]; sent && list != nil && len(list) == 0 {
		// 若费用明细流水信息不传，则删除全部: passed, the list names the lines
		// to delete, and an empty one names none.
		return answer{infcode: -1, errMsg: "费用明细流水信息(feedetl)为空: list the bkkp_sn to delete, or leave feedetl out to delete every fee detail"}
	}
	if len(list) == 0 {
		v.fees = nil
		v.updated = now
		return answer{}
	}
	drop := map[string]bool{}
	for _, it := range list {
		drop[str(it.(map[string]any)["bkkp_sn"])] = true
	}
	have := map[string]bool{}
	for _, f := range v.fees {
		have[str(f.row["bkkp_sn"])] = true
	}
	for sn := range drop {
		if !have[sn] {
			return answer{infcode: -1, errMsg: "记账流水号不存在: bkkp_sn " + sn}
		}
	}
	kept := v.fees[:0]
	for _, f := range v.fees {
		if !drop[str(f.row["bkkp_sn"])] {
			kept = append(kept, f)
		}
	}
	v.fees = kept
	v.updated = now
	return answer{}
}

// page serves one page of records, page_size at a time (at most
// MaxPageSize), with the record and page counts unless NoPageCounts.
func (s *Sim) page(in map[string]any, records []map[string]any) answer {
	num, _ := strconv.Atoi(str(in["page_num"]))
	size, _ := strconv.Atoi(str(in["page_size"]))
	if num < 1 || size < 1 {
		return answer{infcode: -1, errMsg: "page_num和page_size须为正整数"}
	}
	if s.opts.MaxPageSize > 0 {
		size = min(size, s.opts.MaxPageSize)
	}
	total := len(records)
	pages := (total + size - 1) / size
	from := min((num-1)*size, total)
	to := min(from+size, total)
	data := make([]any, 0, to-from)
	for _, r := range records[from:to] {
		data = append(data, r)
	}
	if s.opts.NoPageCounts {
		return answer{output: map[string]any{"data": data}}
	}
	return answer{output: map[string]any{"recordCounts": total, "pages": pages, "data": data}}
}

// otherInstitution refuses a query about a visit of another institution
// than the envelope's: a visit id is unique only within its institution,
// and the simulator answers none but the caller's own visits.
func otherInstitution(code string, in map[string]any) *answer {
	if str(in["fixmedins_code"]) == code {
		return nil
	}
	return &answer{infcode: -1, errMsg: "定点医药机构编号与报文头不符: the input's fixmedins_code names another institution than the envelope's"}
}

func (s *Sim) query4207(code string, in map[string]any) answer {
	if a := otherInstitution(code, in); a != nil {
		return *a
	}
	var recs []map[string]any
	if v := s.visits[code+"/"+str(in["fixmedins_mdtrt_id"])]; v != nil {
		for _, f := range v.fees {
			r := camel(f.row)
			r["valiFlag"], r["rid"] = "1", f.rid
			r["crteTime"], r["updtTime"] = f.created.Format(timeLayout), f.created.Format(timeLayout)
			r["poolareaNo"] = s.opts.Admvs
			recs = append(recs, r)
		}
	}
	return s.page(in, recs)
}

func (s *Sim) query4208(code string, in map[string]any) answer {
	var vs []*visit
	for _, v := range s.visits {
		if (v.code == code || s.opts.AllInstitutions4208) && v.mdtrt != nil && matches(v, in) {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool {
		if vs[i].mdtrtID != vs[j].mdtrtID {
			return vs[i].mdtrtID < vs[j].mdtrtID
		}
		return vs[i].code < vs[j].code
	})
	var recs []map[string]any
	for _, v := range vs {
		r := camel(v.mdtrt)
		r["cpltFlag"] = "0"
		if v.complete {
			r["cpltFlag"] = "1"
		}
		r["rid"], r["poolareaNo"] = "V"+v.mdtrtID, s.opts.Admvs
		r["crteTime"], r["updtTime"] = v.created.Format(timeLayout), v.updated.Format(timeLayout)
		recs = append(recs, r)
	}
	return s.page(in, recs)
}

// matches applies 4208's criteria: equality for the codes, names and
// amounts given; begntime and endtime bound the visit's begntime.
func matches(v *visit, in map[string]any) bool {
	for _, k := range []string{"psn_cert_type", "certno", "psn_name", "med_type", "elec_billno_code"} {
		if q := str(in[k]); q != "" && q != str(v.mdtrt[k]) {
			return false
		}
	}
	if q := str(in["medfee_sumamt"]); q != "" {
		a, ok1 := new(big.Rat).SetString(q)
		b, ok2 := new(big.Rat).SetString(str(v.mdtrt["medfee_sumamt"]))
		if !ok1 || !ok2 || a.Cmp(b) != 0 {
			return false
		}
	}
	begin := str(v.mdtrt["begntime"])
	if q := str(in["begntime"]); q != "" && begin < q {
		return false
	}
	if q := str(in["endtime"]); q != "" && begin > q {
		return false
	}
	if q := str(in["cplt_flag"]); q != "" && (q == "1") != v.complete {
		return false
	}
	return true
}

func (s *Sim) query4209(code string, in map[string]any) answer {
	if a := otherInstitution(code, in); a != nil {
		return *a
	}
	var recs []map[string]any
	if v := s.visits[code+"/"+str(in["fixmedins_mdtrt_id"])]; v != nil {
		for i, d := range v.diags {
			r := camel(d)
			r["diagInfoId"] = fmt.Sprintf("DG%s%02d", v.mdtrtID, i+1)
			r["fixmedinsMdtrtId"], r["fixmedinsCode"] = v.mdtrtID, v.code
			r["poolareaNO"] = s.opts.Admvs
			delete(r, "poolareaNo")
			recs = append(recs, r)
		}
	}
	return s.page(in, recs)
}

// camel copies a snake_case record with camelCase keys, as the queries
// answer.
func camel(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		parts := strings.Split(k, "_")
		for i := 1; i < len(parts); i++ {
			if parts[i] != "" {
				parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
			}
		}
		out[strings.Join(parts, "")] = v
	}
	return out
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

// control serves the simulator's own API:
//
//	POST /sim/fail    {"infno":"4202","mode":"business","times":1,"message":"…"}
//	POST /sim/expire-sign-ins expire every sign_no issued so far
//	POST /sim/release release held calls
//	POST /sim/reset   forget everything
//	GET  /sim/calls   the calls received
func (s *Sim) control(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/sim/fail":
		var f Fault
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&f); err != nil {
			http.Error(w, `{"error":"send {\"infno\":\"4202\",\"mode\":\"business\"}"}`, http.StatusBadRequest)
			return
		}
		switch f.Mode {
		case FaultBusiness, FaultHTTP500, FaultDrop, FaultLostReply, FaultHold, FaultDelay:
		default:
			http.Error(w, `{"error":"mode must be business, http500, drop, lost-reply, hold or delay"}`, http.StatusBadRequest)
			return
		}
		s.Fail(f)
		_, _ = w.Write([]byte(`{"ok":true}`))
	case r.Method == http.MethodPost && r.URL.Path == "/sim/expire-sign-ins":
		s.ExpireSignIns()
		_, _ = w.Write([]byte(`{"ok":true}`))
	case r.Method == http.MethodPost && r.URL.Path == "/sim/release":
		s.Release()
		_, _ = w.Write([]byte(`{"ok":true}`))
	case r.Method == http.MethodPost && r.URL.Path == "/sim/reset":
		s.Reset()
		_, _ = w.Write([]byte(`{"ok":true}`))
	case r.Method == http.MethodGet && r.URL.Path == "/sim/calls":
		_ = json.NewEncoder(w).Encode(s.Calls())
	default:
		http.Error(w, `{"error":"unknown simulator endpoint"}`, http.StatusNotFound)
	}
}
