package workinjury

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/test/sim/simspec"
)

// Endpoint layouts, as in the adapter's layout setting.
const (
	LayoutSingle         = "single"
	LayoutPerTransaction = "perTransaction"
)

// MaxBatch is the largest download batch the requirements allow.
const MaxBatch = 500

// Config configures a Server.
type Config struct {
	// Options is the envelope, exactly as the adapter is configured. The
	// simulator implements it itself (envelope.go) and
	// accepts only the configured form of every setting; New refuses a
	// value it does not implement.
	Options smenvelope.Options
	// Keys holds the national system's private key and the hospital's
	// (the adapter's) public key. The public key is the one of every
	// sender not in Senders; it may be nil when Senders names every
	// institution that may call.
	Keys smenvelope.Keys
	// Senders maps the envelope's sender code (an institution's
	// senderCode) to that institution's SM2 public key, as the national
	// system keeps one registered key per institution. A request is
	// verified with the key of the sender it names, and the answer is
	// encrypted to that key; a request signed with another institution's
	// key fails the signature check (E0001). More can be added with
	// AddSender.
	Senders map[string]*ecdsa.PublicKey
	// Layout is LayoutSingle (default: every request to any path, the code
	// in the envelope) or LayoutPerTransaction (the code in the path).
	Layout string
	// PathTemplate is the path of LayoutPerTransaction; default "/{code}".
	PathTemplate string
	// Region is the province's region code (default "350200"): downloads
	// are for this 就医地 and GYU006 accepts only its 参保地.
	Region string
	// BatchSize is the most records per download batch (default and
	// maximum MaxBatch).
	BatchSize int
	// OverBatchLimit, when set (above MaxBatch), plays a national system
	// that breaks its own limit (单次最多下载500条): download batches carry
	// up to this many records instead of BatchSize. Every other rule
	// stays: GYU008 takes at most MaxBatch records a call (its field
	// list's batch limit, E1001), so such a batch is acknowledged in parts
	// (see gyu008), and the code stays held (E2001) until every record of
	// it was fed back. The answers breaking the limit are not reported
	// as OutputErrors.
	OverBatchLimit int
	// AmountTolerance is how many fen beyond half a fen a line's amount
	// may differ from its unit price × quantity (default 0: the amount is
	// the product rounded to the fen).
	AmountTolerance Money
	// ManualClearing: clearing records (GYD005) appear only when a test
	// calls ConfirmClearing; by default every accepted monthly settlement
	// confirms its month at once.
	ManualClearing bool
	// PartialDeductions plays a national system that takes the deductions
	// of a GYU004 (GYR004) one by one: a deduction that breaks one of its
	// own rules (already revoked, beyond its settlement's fund_pay, …) is
	// left out and the others are taken, the answer's accepted_count
	// (revoked_count) counting those taken without saying which were left
	// out. A call whose every deduction breaks a rule is refused as by
	// default (the first one's business error). Default: one deduction
	// breaking a rule refuses the whole call.
	PartialDeductions bool
	// Spec holds the transactions' field lists, laid out like schemas/
	// (workinjury/<code>.yaml, workinjury/codes/<name>.yaml); default: the
	// schemas/ directory of the source tree (simspec.RepoFiles). The
	// simulator checks requests against them with package simspec's rules,
	// never with the schemas package the adapter uses.
	Spec fs.FS
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives one line per request (code, serial, outcome); nil: none.
	Log *slog.Logger
}

// Server is the simulated national system. It is safe for concurrent use.
type Server struct {
	cfg  Config
	spec *simspec.Spec
	env  *envelope
	// national is the national private key, for the SM2 primitives; hospital is
	// Config.Keys.PeerPublic (nil when not given).
	national *sm2.PrivateKey
	hospital *ecdsa.PublicKey

	// kmu guards senders, apart from mu so that key look-ups never wait
	// for the business state.
	kmu     sync.RWMutex
	senders map[string]*ecdsa.PublicKey

	mu          sync.Mutex
	seq         int
	apps        map[string]*application
	attachments map[string]*attachment
	filings     map[string]*filing
	insts       map[string]map[string]any
	cards       map[string]*Card
	qrs         map[string]*qrCode
	queues      map[string]*queue
	// sender is the sender code of the request being processed (""
	// for Apply, the national side); set while s.mu is held, for the
	// download queues, which are per sender.
	sender     string
	txlog      map[string]*txRecord
	ledger     []LedgerEntry
	received   []Request
	faults     []*Injected
	outputErrs []string
	l          ledger
}

// New returns a simulator with no data; add some with the Add* methods or Seed.
func New(cfg Config) (*Server, error) {
	env, err := newEnvelope(cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("workinjury simulator: envelope options: %w", err)
	}
	if cfg.Keys.Private == nil || cfg.Keys.PeerPublic == nil && len(cfg.Senders) == 0 {
		return nil, errors.New("workinjury simulator: Keys needs the national private key, and Keys.PeerPublic or Senders the hospitals' public keys (see EnsureKeys)")
	}
	national, err := sm2Private(&cfg.Keys.Private.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("workinjury simulator: Keys.Private: %w", err)
	}
	var hospital *ecdsa.PublicKey
	if cfg.Keys.PeerPublic != nil {
		var ok bool
		if hospital, ok = sm2Public(cfg.Keys.PeerPublic); !ok {
			return nil, errors.New("workinjury simulator: Keys.PeerPublic is not a point of the SM2 curve: give the hospital's SM2 public key")
		}
	}
	senders := make(map[string]*ecdsa.PublicKey, len(cfg.Senders))
	for code, pub := range cfg.Senders {
		if code == "" || pub == nil {
			return nil, fmt.Errorf("workinjury simulator: Senders[%q] needs a sender code and a public key", code)
		}
		if _, ok := sm2Public(pub); !ok {
			return nil, fmt.Errorf("workinjury simulator: Senders[%q] is not a point of the SM2 curve: give the institution's SM2 public key", code)
		}
		senders[code] = pub
	}
	if cfg.Layout == "" {
		cfg.Layout = LayoutSingle
	}
	if cfg.Layout != LayoutSingle && cfg.Layout != LayoutPerTransaction {
		return nil, fmt.Errorf("workinjury simulator: layout %q is not %s or %s", cfg.Layout, LayoutSingle, LayoutPerTransaction)
	}
	if cfg.PathTemplate == "" {
		cfg.PathTemplate = "/{code}"
	}
	if cfg.Region == "" {
		cfg.Region = "350200"
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = MaxBatch
	}
	if cfg.BatchSize < 1 || cfg.BatchSize > MaxBatch {
		return nil, fmt.Errorf("workinjury simulator: BatchSize %d is not between 1 and %d", cfg.BatchSize, MaxBatch)
	}
	if cfg.OverBatchLimit != 0 && cfg.OverBatchLimit <= MaxBatch {
		return nil, fmt.Errorf("workinjury simulator: OverBatchLimit %d is not above %d: leave it 0, or set it above the limit it is to break", cfg.OverBatchLimit, MaxBatch)
	}
	if cfg.Spec == nil {
		if cfg.Spec, err = simspec.RepoFiles(); err != nil {
			return nil, fmt.Errorf("workinjury simulator: %w", err)
		}
	}
	spec, err := simspec.Load(cfg.Spec, "workinjury")
	if err != nil {
		return nil, fmt.Errorf("workinjury simulator: Config.Spec: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:         cfg,
		spec:        spec,
		env:         env,
		national:    national,
		hospital:    hospital,
		senders:     senders,
		apps:        map[string]*application{},
		attachments: map[string]*attachment{},
		filings:     map[string]*filing{},
		insts:       map[string]map[string]any{},
		cards:       map[string]*Card{},
		qrs:         map[string]*qrCode{},
		queues:      map[string]*queue{},
		txlog:       map[string]*txRecord{},
		l:           newLedger(),
	}
	for _, c := range downloadCodes {
		s.queues[c] = newQueue(c)
	}
	return s, nil
}

// Request is one request that reached the simulator and was opened.
type Request struct {
	Code   string
	Serial string
	Input  map[string]any
	At     time.Time
}

// LedgerEntry is one accepted state change.
type LedgerEntry struct {
	Code   string
	Serial string
	// Key is the business key: apply_no (GYU001), biz_no (GYU002),
	// filing_no (GYU006, GYU007), batch_no (GYU008, GYR005), akb020
	// (GYU009), the QR code (GYU010), akb020 + "/" + akc190 (GYU101),
	// ykc700 (GYU102 — one entry per call —, GYU103, GYR001, GYR002),
	// settle_no (GYU303, GYR003), deduct_no (GYU004, GYR004: one entry per
	// deduction), akb020 + "/" + settle_month (GYU003).
	Key string
	At  time.Time
}

// txRecord is what GYD053 reports about a serial.
type txRecord struct {
	code    string
	ok      bool
	errCode string
	errMsg  string
	output  []byte
}

// bizError is a business error answer.
type bizError struct{ code, msg string }

func bizErr(code, format string, a ...any) *bizError {
	return &bizError{code: code, msg: fmt.Sprintf(format, a...)}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a work-injury envelope", http.StatusMethodNotAllowed)
		return
	}
	body, err := readBody(r)
	if err != nil {
		http.Error(w, "cannot read the request", http.StatusBadRequest)
		return
	}
	o := s.cfg.Options
	code, serial, sender := envelopeHead(o.Fields, body)
	keys, registered := s.keysOf(sender)
	if !registered {
		// No key to verify with: the sender is not authenticated.
		s.logf("unknown sender", code, serial, "E0001")
		s.answerUnsigned(w, code, serial, "E0001", "发送方未登记公钥")
		return
	}
	if s.cfg.Layout == LayoutPerTransaction {
		pre, suf, _ := strings.Cut(s.cfg.PathTemplate, "{code}")
		p := r.URL.Path
		if !strings.HasPrefix(p, pre) || !strings.HasSuffix(p, suf) || len(p) < len(pre)+len(suf) {
			s.answer(w, keys, code, serial, nil, bizErr("E0004", "路径 %s 不是交易地址", p))
			return
		}
		pathCode := p[len(pre) : len(p)-len(suf)]
		if code != "" && code != pathCode {
			s.answer(w, keys, pathCode, serial, nil, bizErr("E0004", "报文交易编号 %s 与地址 %s 不符", code, pathCode))
			return
		}
		code = pathCode
	}
	sc, known := s.spec.Tx("workinjury", code)
	plain, err := s.env.open(keys.priv, keys.peer, body)
	switch {
	case errors.Is(err, errEnvelopeSignature):
		// The sender is not authenticated: answer without encrypting to or
		// signing for it, as an unsigned error.
		s.logf("signature check failed", code, serial, "E0001")
		s.answerUnsigned(w, code, serial, "E0001", "验签失败")
		return
	case err != nil:
		s.logf("malformed envelope", code, serial, "E0003")
		s.answer(w, keys, code, serial, nil, bizErr("E0003", "报文格式错误"))
		return
	}
	input, ok := decodeObject(plain)
	if !ok {
		dec := json.NewDecoder(bytes.NewReader(plain))
		dec.UseNumber()
		if err := dec.Decode(&input); err != nil || input == nil {
			s.answer(w, keys, code, serial, nil, bizErr("E0003", "业务数据不是 JSON 对象"))
			return
		}
	}
	now := s.cfg.Now()
	s.mu.Lock()
	s.received = append(s.received, Request{Code: code, Serial: serial, Input: input, At: now})
	s.mu.Unlock()
	if !known {
		s.answer(w, keys, code, serial, nil, bizErr("E0004", "未知交易 %q", code))
		return
	}

	// Faults that strike before the request is processed.
	if f := s.fault(code, input, false); f != nil {
		switch f.f.Kind {
		case FaultTimeout:
			s.logf("fault: no answer", code, serial, string(f.f.Kind))
			waitGone(r.Context(), f.release)
			return
		case Fault5xx:
			s.logf("fault: HTTP 503", code, serial, string(f.f.Kind))
			http.Error(w, "service unavailable (simulated)", http.StatusServiceUnavailable)
			return
		case FaultGarbage:
			s.logf("fault: garbage", code, serial, string(f.f.Kind))
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html><body>502 Bad Gateway (simulated garbage)</body></html>")
			return
		case FaultUnsigned:
			s.logf("fault: unsigned error", code, serial, string(f.f.Kind))
			s.answerUnsigned(w, code, serial, firstOr(f.f.ErrCode, "E9998"), firstOr(f.f.ErrMessage, "系统繁忙（模拟未签名错误）"))
			return
		case FaultBusiness:
			be := bizErr(firstOr(f.f.ErrCode, "E9999"), "%s", firstOr(f.f.ErrMessage, "模拟业务错误"))
			s.mu.Lock()
			if _, dup := s.txlog[serial]; serial != "" && !simspec.Blank(serial) && !dup {
				s.txlog[serial] = &txRecord{code: code, errCode: be.code, errMsg: be.msg}
			}
			s.mu.Unlock()
			s.answer(w, keys, code, serial, nil, be)
			return
		case FaultHold:
			if !f.wait(r.Context()) {
				return
			}
		}
	}

	out, outJSON, be := s.processJSON(sc, code, serial, sender, input, now)

	// Faults that strike after the request is processed.
	if f := s.fault(code, input, true); f != nil {
		switch f.f.Kind {
		case FaultLostReply:
			s.logf("fault: processed, reply lost", code, serial, string(f.f.Kind))
			http.Error(w, "bad gateway (simulated: processed, reply lost)", http.StatusBadGateway)
			return
		case FaultTimeout:
			s.logf("fault: processed, no answer", code, serial, string(f.f.Kind))
			waitGone(r.Context(), f.release)
			return
		case FaultOversize:
			if be == nil && out != nil {
				s.logf("fault: oversized batch", code, serial, string(f.f.Kind))
				out, outJSON = oversize(code, out), nil
			}
		case FaultOmit:
			if be == nil && out != nil {
				s.logf("fault: answer lacks fields", code, serial, string(f.f.Kind))
				out, outJSON = maps.Clone(out), nil
				for _, k := range f.f.Omit {
					delete(out, k)
				}
			}
		case FaultAlter:
			if be == nil && out != nil {
				s.logf("fault: answer altered", code, serial, string(f.f.Kind))
				out, outJSON = maps.Clone(out), nil
				maps.Copy(out, f.f.Set)
			}
		case FaultBadSignature:
			s.logf("fault: bad signature", code, serial, string(f.f.Kind))
			s.answerTampered(w, keys, code, serial, out, be)
			return
		case FaultHold:
			if !f.wait(r.Context()) {
				return
			}
		}
	}
	if be == nil && outJSON != nil {
		// The output as recorded for GYD053: encoded once.
		s.answerJSON(w, keys, code, serial, outJSON)
		return
	}
	s.answer(w, keys, code, serial, out, be)
}

// maxBody bounds what is read of a request. The largest request the
// schemas allow is a GYU002 of 10 attachments with a 14000000-byte
// file_content each, about 280 MB once SM4-encrypted and hex-encoded
// (TestMaxBodyFitsTheLargestGYU002); a request is read into a buffer of its
// own length, so the bound costs nothing for smaller ones.
const maxBody = 320 << 20

// readBody reads a request body (at most maxBody bytes), into a buffer of
// its announced length when it has one.
func readBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= maxBody {
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(r.Body, maxBody))
	return buf.Bytes(), err
}

// envelopeHead returns the transaction code, the serial and the sender
// named in a request envelope ("" for each that is missing or not a
// string).
func envelopeHead(f smenvelope.FieldNames, body []byte) (code, serial, sender string) {
	names := []string{f.TxCode, f.MsgID, f.Sender}
	vals, ok := envelopeStrings(body, names...)
	if !ok {
		var raw map[string]any
		_ = json.Unmarshal(body, &raw)
		vals = make([]string, len(names))
		for i, n := range names {
			vals[i], _ = raw[n].(string)
		}
	}
	for i, n := range names {
		if n == "" {
			vals[i] = ""
		}
	}
	return vals[0], vals[1], vals[2]
}

// processJSON runs a transaction of sender and records it for GYD053 and
// the ledger; it also returns the output's JSON (as recorded for GYD053)
// when the transaction succeeded.
func (s *Server) processJSON(sc *simspec.Tx, code, serial, sender string, input map[string]any, now time.Time) (map[string]any, []byte, *bizError) {
	out, be, data := s.run(sc, code, serial, sender, input, now)
	return out, data, be
}

func (s *Server) run(sc *simspec.Tx, code, serial, sender string, input map[string]any, now time.Time) (out map[string]any, be *bizError, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sender = sender
	defer func() { s.sender = "" }()
	if serial == "" {
		return nil, bizErr("E0003", "缺少报文流水号"), nil
	}
	if simspec.Blank(serial) {
		// White space alone holds nothing (the non-empty check): no
		// serial to record the transaction under or to look it up by.
		return nil, bizErr("E0003", "缺少报文流水号：流水号只有空白字符（空格、全角空格、制表、换行或零宽字符），请传入流水号"), nil
	}
	if _, dup := s.txlog[serial]; dup {
		s.logfLocked("duplicate serial", code, serial, "E0002")
		return nil, bizErr("E0002", "报文流水号 %s 重复", serial), nil
	}
	if errs := sc.CheckInput(input); len(errs) > 0 {
		var b strings.Builder
		for i, e := range errs {
			if i == 3 {
				fmt.Fprintf(&b, "；等 %d 项", len(errs))
				break
			}
			if i > 0 {
				b.WriteString("；")
			}
			b.WriteString(e.Path + " " + e.Rule)
		}
		be := bizErr("E1001", "参数校验失败：%s", b.String())
		s.txlog[serial] = &txRecord{code: code, errCode: be.code, errMsg: be.msg}
		return nil, be, nil
	}
	if h := handlers[code]; h != nil {
		out, be = h(s, sc, serial, input, now)
	} else {
		be = bizErr("E0004", "交易 %s 有接口定义，但工伤保险异地就医系统不办理它", code)
	}
	rec := &txRecord{code: code, ok: be == nil}
	if be != nil {
		rec.errCode, rec.errMsg = be.code, be.msg
	} else {
		if out == nil {
			out = map[string]any{}
		}
		rec.output, _ = marshal(out)
		// The output as it goes on the wire breaks its field list only
		// through a bug of the simulator; tests look at OutputErrors.
		var wire any
		dec := json.NewDecoder(bytes.NewReader(rec.output))
		dec.UseNumber()
		if err := dec.Decode(&wire); err != nil {
			s.outputErrs = append(s.outputErrs, code+": the output does not encode as JSON: "+err.Error())
		}
		for _, e := range sc.CheckOutput(wire) {
			if e.Rule == simspec.RuleBatch && s.cfg.OverBatchLimit > 0 {
				continue // broken on purpose (Config.OverBatchLimit)
			}
			s.outputErrs = append(s.outputErrs, code+": "+e.Error())
		}
	}
	s.txlog[serial] = rec
	outcome := "0"
	if be != nil {
		outcome = be.code
	}
	s.logfLocked("processed", code, serial, outcome)
	return out, be, rec.output
}

// answer seals and writes the response.
func (s *Server) answer(w http.ResponseWriter, keys peerKeys, code, serial string, out map[string]any, be *bizError) {
	sealed, err := s.seal(keys, code, serial, out, be)
	if err != nil {
		http.Error(w, "simulator: "+err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, sealed)
}

// seal seals an answer with keys: the national private key and the
// public key of the institution that sent the request.
func (s *Server) seal(keys peerKeys, code, serial string, out map[string]any, be *bizError) (map[string]any, error) {
	if be != nil || out == nil {
		out = map[string]any{}
	}
	data, err := marshal(out)
	if err != nil {
		return nil, err
	}
	return s.sealData(keys, code, serial, data, be)
}

// sealData seals an answer whose business data is data.
func (s *Server) sealData(keys peerKeys, code, serial string, data []byte, be *bizError) (map[string]any, error) {
	f := s.cfg.Options.Fields
	env := map[string]string{}
	put := func(k, v string) {
		if k != "" && v != "" {
			env[k] = v
		}
	}
	put(f.TxCode, code)
	put(f.MsgID, serial)
	if be != nil {
		put(f.Code, be.code)
		put(f.Message, be.msg)
	} else {
		put(f.Code, s.cfg.Options.SuccessCodes[0])
		put(f.Message, "成功")
	}
	return s.env.seal(keys.priv, keys.peer, env, data, s.cfg.Now())
}

// answerJSON seals and writes a success answer whose output is data.
func (s *Server) answerJSON(w http.ResponseWriter, keys peerKeys, code, serial string, data []byte) {
	sealed, err := s.sealData(keys, code, serial, data, nil)
	if err != nil {
		http.Error(w, "simulator: "+err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, sealed)
}

// answerUnsigned writes an error answer without data and signature.
func (s *Server) answerUnsigned(w http.ResponseWriter, code, serial, errCode, msg string) {
	f := s.cfg.Options.Fields
	ev := map[string]any{}
	for k, v := range map[string]string{f.TxCode: code, f.MsgID: serial, f.Code: errCode, f.Message: msg} {
		if k != "" && v != "" {
			ev[k] = v
		}
	}
	writeJSON(w, ev)
}

// answerTampered writes a response whose signature does not verify.
func (s *Server) answerTampered(w http.ResponseWriter, keys peerKeys, code, serial string, out map[string]any, be *bizError) {
	sealed, err := s.seal(keys, code, serial, out, be)
	if err != nil {
		http.Error(w, "simulator: "+err.Error(), http.StatusInternalServerError)
		return
	}
	other, err := s.seal(keys, code, serial, map[string]any{"tampered": true}, nil)
	if err == nil {
		sig := s.cfg.Options.Fields.Sign
		sealed[sig] = other[sig]
	}
	writeJSON(w, sealed)
}

// AddSender registers (or replaces) the public key of the institution
// whose envelopes name sender as their sender code. A key that is not a
// point of the SM2 curve verifies nothing: that sender's requests are
// answered E0001 as if it had no key.
func (s *Server) AddSender(sender string, pub *ecdsa.PublicKey) {
	s.kmu.Lock()
	defer s.kmu.Unlock()
	s.senders[sender] = pub
}

// keysOf returns the keys for a request from sender: the national private
// key with the sender's registered public key, or with Config.Keys's
// public key for a sender not registered. ok is false when there is no
// key to verify the sender with.
func (s *Server) keysOf(sender string) (keys peerKeys, ok bool) {
	keys = peerKeys{priv: s.national, peer: s.hospital}
	s.kmu.RLock()
	pub, found := s.senders[sender]
	s.kmu.RUnlock()
	if found {
		// A key registered by AddSender that is not on the curve verifies
		// nothing: the sender counts as unregistered.
		keys.peer, _ = sm2Public(pub)
	}
	return keys, keys.peer != nil
}

// peerKeys are the keys of one exchange: the national private key and the
// public key of the institution that sent the request.
type peerKeys struct {
	priv *sm2.PrivateKey
	peer *ecdsa.PublicKey
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
}

func marshal(v any) ([]byte, error) {
	if b, ok := appendJSON(nil, v); ok {
		return b, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func waitGone(ctx context.Context, release <-chan struct{}) {
	t := time.NewTimer(5 * time.Minute)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-release:
	case <-t.C:
	}
}

func firstOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Server) logf(what, code, serial, outcome string) {
	if s.cfg.Log != nil {
		s.cfg.Log.Info(what, "code", code, "serial", serial, "outcome", outcome)
	}
}

func (s *Server) logfLocked(what, code, serial, outcome string) { s.logf(what, code, serial, outcome) }

// record adds a ledger entry; s.mu is held.
func (s *Server) record(code, serial, key string, now time.Time) {
	s.ledger = append(s.ledger, LedgerEntry{Code: code, Serial: serial, Key: key, At: now})
}

// Ledger returns a copy of the accepted state changes, oldest first.
func (s *Server) Ledger() []LedgerEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LedgerEntry(nil), s.ledger...)
}

// Accepted counts ledger entries of code with key.
func (s *Server) Accepted(code, key string) int {
	n := 0
	for _, e := range s.Ledger() {
		if e.Code == code && e.Key == key {
			n++
		}
	}
	return n
}

// Received returns the requests of code (every code when empty) that
// reached the simulator and could be opened, oldest first.
func (s *Server) Received(code string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.received {
		if code == "" || r.Code == code {
			out = append(out, r)
		}
	}
	return out
}

// Seen reports whether any received request satisfies pred.
func (s *Server) Seen(pred func(Request) bool) bool {
	for _, r := range s.Received("") {
		if pred(r) {
			return true
		}
	}
	return false
}

// OutputErrors lists answers of the simulator that broke the output schema
// (a simulator bug; tests expect none).
func (s *Server) OutputErrors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.outputErrs...)
}

// Codes returns the transaction codes received, sorted, with counts.
func (s *Server) Codes() map[string]int {
	out := map[string]int{}
	for _, r := range s.Received("") {
		out[r.Code]++
	}
	return out
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
