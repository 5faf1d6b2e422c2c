package hsa

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// Host is what the client needs from the plugin host: the shared counter
// for msgids, state for the sign-in (CompareAndSet with sdk.Host's
// semantics: expect 0 means the key must not exist, sdk.ErrConflict when
// the version differs), and the exchange journal. sdk.Host satisfies it.
type Host interface {
	Get(ctx context.Context, key string) (sdk.Entry, error)
	Put(ctx context.Context, key string, value []byte) (int64, error)
	CompareAndSet(ctx context.Context, key string, expect int64, value []byte) (int64, error)
	NextSequence(ctx context.Context, name string) (int64, error)
	Journal(ctx context.Context, x sdk.Exchange) (int64, error)
}

// Client calls the platform for one site. It is safe for concurrent use.
type Client struct {
	cfg        Config
	http       *http.Client
	signer     Signer
	reqSchema  *schemas.Schema
	respSchema *schemas.Schema
	now        func() time.Time
	log        *slog.Logger

	mu     sync.Mutex
	signin map[string]signInState // by opter
	// signing is held (a token in a one-slot channel, so a waiter can
	// give up with its context) while one call signs in, so calls refused
	// for the same sign_no sign in again once between them.
	signing chan struct{}
	// id names this client (this instance) in its claims to sign in.
	id string
	// signInPoll is how often a call waiting for another instance's
	// 9001 reads the state.
	signInPoll time.Duration
}

// Option changes a Client built by New.
type Option func(*Client)

// WithClock sets the clock (tests). Nil is ignored.
func WithClock(now func() time.Time) Option {
	return func(c *Client) {
		if now != nil {
			c.now = now
		}
	}
}

// WithHTTPClient replaces the HTTP client built from the configuration.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) {
		if h != nil {
			c.http = h
		}
	}
}

// WithSchemas uses set (which must hold envelope/request and
// envelope/response) instead of the built-in envelope schemas.
func WithSchemas(set *schemas.Set) Option {
	return func(c *Client) {
		if set == nil {
			return
		}
		if s, ok := set.Get("envelope", "request"); ok {
			c.reqSchema = s
		}
		if s, ok := set.Get("envelope", "response"); ok {
			c.respSchema = s
		}
	}
}

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// WithSigner replaces the signer chosen by Config.Auth.
func WithSigner(s Signer) Option {
	return func(c *Client) {
		if s != nil {
			c.signer = s
		}
	}
}

// New returns a client for cfg, which must be valid (Validate).
func New(cfg Config, opts ...Option) (*Client, error) {
	if ds := cfg.Validate(); ds.HasError() {
		return nil, fmt.Errorf("medical-insurance client configuration: %s", ds.String())
	}
	set, err := EnvelopeSchemas()
	if err != nil {
		return nil, fmt.Errorf("load the envelope schemas: %w", err)
	}
	c := &Client{cfg: cfg, now: time.Now, log: slog.New(slog.DiscardHandler), signin: map[string]signInState{}, signing: make(chan struct{}, 1),
		id: instanceID(), signInPoll: signInPoll}
	c.reqSchema, _ = set.Get("envelope", "request")
	c.respSchema, _ = set.Get("envelope", "response")
	switch cfg.Auth {
	case AuthXTif:
		c.signer = XTif{PaasID: cfg.PaasID, Token: cfg.Token, Upper: cfg.UpperSignature, ServiceID: cfg.ServiceID}
	default:
		c.signer = NoAuth{}
	}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		if c.http, err = newHTTPClient(cfg); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Config returns the client's configuration.
func (c *Client) Config() Config { return c.cfg }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

func newHTTPClient(cfg Config) (*http.Client, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read caFile: %w; point caFile at the PEM bundle of the platform's CA", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caFile %s holds no PEM certificate; export the CA certificate as PEM", cfg.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSClientConfig:       tlsCfg,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		// A redirected POST could be sent twice; treat it as an answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// Call is one transaction to send.
type Call struct {
	// Infno is the transaction code, e.g. "4201A".
	Infno string
	// Input is the transaction's input: anything json.Marshal accepts, or
	// json.RawMessage / []byte holding JSON.
	Input any
	// MessageID is the platform message this call serves, for the journal.
	MessageID string
	// MsgID is the msgid to use; empty allocates a new one. Callers that
	// record the msgid before sending (to reconcile later) allocate it
	// with NewMsgID. A call sent again after a new sign-in (see Do) goes
	// out with a new msgid, which the Result or the error carries.
	MsgID string
	// Resending, when set, is called with the new msgid before the call
	// is sent again after a new sign-in (see Do), so a caller that records
	// the msgid of a call before sending it (to reconcile it later)
	// records the resend's too. An error stops the resend: Do returns a
	// *TransportError, not sent, wrapping it (the refused call was not
	// run).
	Resending func(ctx context.Context, msgid string) error
	// InsuplcAdmdvs overrides the configured 参保地医保区划.
	InsuplcAdmdvs string
}

// Result is a successful answer (infcode 0).
type Result struct {
	Infno    string
	MsgID    string
	Response *Response
	// Output is the transaction's output, decrypted; nil when none.
	Output json.RawMessage
	// Warnings are problems that did not change the outcome: the answer's
	// envelope did not match its schema, the journal could not be written.
	Warnings []string
	Duration time.Duration
}

// NewMsgID allocates a msgid from the host's shared counter.
func (c *Client) NewMsgID(ctx context.Context, h Host) (string, error) {
	n, err := h.NextSequence(ctx, MsgIDSequence)
	if err != nil {
		return "", fmt.Errorf("allocate a msgid sequence number from the host: %w", err)
	}
	return FormatMsgID(c.cfg.FixmedinsCode, c.now(), n, c.cfg.MsgIDSeqBase, c.cfg.MsgIDSeqSpan), nil
}

// Journal statuses.
const (
	journalOK       = "ok"
	journalRejected = "rejected"
	journalError    = "error"
	journalUnknown  = "unknown"
)

// Do sends one transaction and returns its result, or an error that is a
// *BusinessError, *GatewayError, *TransportError or *ValidationError (or a
// plain error when the host could not allocate a msgid). Every call that
// went out is journaled with its msgid.
//
// With a sign-in, a call the platform refuses with one of
// Config.SignInExpiredCodes is sent once more: the refusal says the
// transaction was not run, so the refused sign_no is replaced and the call
// goes out again with a new msgid (the platform refuses a msgid used
// before), which the Result or the error carries. The replacement is a
// sign_no another call or instance already got, or else one new 9001:
// calls of this client refused for the same sign_no at the same time wait
// for one sign-in and share it. Only a refusal does this: a call without
// an answer is never resent here.
func (c *Client) Do(ctx context.Context, h Host, call Call) (*Result, error) {
	signNo := ""
	res, err := c.do(ctx, h, call, &signNo)
	var be *BusinessError
	if err == nil || signNo == "" || !errors.As(err, &be) || be.Infno != call.Infno || !c.signInExpired(be.Infcode) {
		return res, err
	}
	c.log.Info("the platform says the sign-in expired; signing in again and sending the call once more", "infno", call.Infno, "msgid", be.MsgID, "infcode", be.Infcode)
	again := call
	again.MsgID = ""
	if call.Resending != nil {
		id, err := c.NewMsgID(ctx, h)
		if err != nil {
			return nil, err
		}
		if err := call.Resending(ctx, id); err != nil {
			return nil, &TransportError{Infno: call.Infno, MsgID: be.MsgID, Sent: false,
				Err: fmt.Errorf("record msgid %s before sending the call again after a new sign-in: %w", id, err)}
		}
		again.MsgID = id
	}
	return c.do(ctx, h, again, &signNo)
}

// signInExpired reports whether infcode is listed as an expired sign-in.
func (c *Client) signInExpired(infcode int) bool {
	for _, n := range c.cfg.SignInExpiredCodes {
		if n == infcode {
			return true
		}
	}
	return false
}

// do is Do without the new sign-in. It sends the sign_no of today's
// sign-in, signing in first when there is none or when it is *signNo (the
// one the platform refused), and sets *signNo to the sign_no sent.
func (c *Client) do(ctx context.Context, h Host, call Call, signNo *string) (*Result, error) {
	if call.Infno == "" {
		return nil, errors.New("hsa: call without infno; set Call.Infno to the transaction code")
	}
	msgid := call.MsgID
	if msgid == "" {
		var err error
		if msgid, err = c.NewMsgID(ctx, h); err != nil {
			return nil, err
		}
	}
	refused := *signNo
	*signNo = ""
	if c.cfg.SignIn && call.Infno != "9001" {
		var err error
		if *signNo, err = c.signNo(ctx, h, call.MessageID, refused); err != nil {
			var be *BusinessError
			var ge *GatewayError
			if errors.As(err, &be) || errors.As(err, &ge) {
				return nil, err
			}
			return nil, &TransportError{Infno: call.Infno, MsgID: msgid, Sent: false, Err: err}
		}
	}
	input, err := marshalInput(call.Input)
	if err != nil {
		return nil, &ValidationError{Infno: call.Infno, Side: "input", Errors: []schemas.FieldError{{Path: "$", Rule: "type", Message: err.Error()}}}
	}
	if n := c.cfg.InputChars(utf8.RuneCount(input), len(input)); c.cfg.MaxInputChars > 0 && n > c.cfg.MaxInputChars {
		what := "the input is"
		if c.cfg.Enc == EncSM4 {
			what = "the encrypted input is"
		}
		return nil, &ValidationError{Infno: call.Infno, Side: "input", Errors: []schemas.FieldError{{Path: "$", Rule: "length",
			Message: fmt.Sprintf("%s %d characters, the envelope allows %d (maxInputChars); send fewer records per call", what, n, c.cfg.MaxInputChars)}}}
	}
	now := c.now()
	req := c.envelope(call, msgid, *signNo, now)
	if errs := c.reqSchema.ValidateInput(req.fields()); errs != nil {
		return nil, &ValidationError{Infno: call.Infno, Side: "envelope", Errors: errs}
	}
	req.Input = input
	if c.cfg.Enc == EncSM4 {
		ct, err := SM4Encrypt(c.cfg.SM4Key, c.cfg.SM4Hex, input)
		if err != nil {
			return nil, fmt.Errorf("hsa: encrypt the %s input: %w", call.Infno, err)
		}
		req.Input, _ = json.Marshal(ct)
	}
	body, err := marshal(req)
	if err != nil {
		return nil, fmt.Errorf("hsa: encode the %s envelope: %w", call.Infno, err)
	}
	status, respBody, sent, err := c.post(ctx, c.cfg.endpoint(call.Infno), body, now)
	dur := c.now().Sub(now)
	x := sdk.Exchange{MessageID: call.MessageID, System: c.cfg.System, Code: call.Infno, Serial: msgid, Request: body, Response: respBody, Duration: dur}
	fail := func(status string, e error) (*Result, error) {
		x.Status, x.Error = status, MaskText(e.Error())
		_ = c.journal(ctx, h, x) // logged by journal; the call's own failure is what the caller needs
		c.log.Warn("medical-insurance call failed", "infno", call.Infno, "msgid", msgid, "status", status, "ms", dur.Milliseconds(), "err", MaskText(e.Error()))
		return nil, e
	}
	switch {
	case err != nil:
		st := journalError
		if sent {
			st = journalUnknown
		}
		return fail(st, &TransportError{Infno: call.Infno, MsgID: msgid, Sent: sent, Err: err})
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
		return fail(journalError, &TransportError{Infno: call.Infno, MsgID: msgid, Sent: false, Status: status, Err: fmt.Errorf("the gateway did not take the request: %q", snippet(respBody))})
	case status >= 500:
		return fail(journalUnknown, &TransportError{Infno: call.Infno, MsgID: msgid, Sent: true, Status: status, Err: fmt.Errorf("server error: %q", snippet(respBody))})
	case status < 200 || status > 299:
		return fail(journalRejected, &GatewayError{Infno: call.Infno, MsgID: msgid, Status: status, Body: snippet(respBody)})
	}
	r, err := ParseResponse(respBody)
	if err != nil {
		return fail(journalUnknown, &TransportError{Infno: call.Infno, MsgID: msgid, Sent: true, Status: status, Err: err})
	}
	res := &Result{Infno: call.Infno, MsgID: msgid, Response: r, Output: r.Output, Duration: dur}
	if strings.EqualFold(r.EncType, EncSM4) && len(r.Output) > 0 && r.Output[0] == '"' {
		var ct string
		if err := json.Unmarshal(r.Output, &ct); err == nil {
			pt, err := SM4Decrypt(c.cfg.SM4Key, c.cfg.SM4Hex, ct)
			if err != nil {
				return fail(journalUnknown, &TransportError{Infno: call.Infno, MsgID: msgid, Sent: true, Status: status, Err: fmt.Errorf("decrypt the output: %w", err)})
			}
			res.Output, r.Output = pt, pt
		}
	}
	for _, fe := range c.respSchema.ValidateOutput(r.Fields, schemas.ValidateOptions{AllowUnknown: true}) {
		res.Warnings = append(res.Warnings, "response envelope: "+fe.Error())
	}
	if r.Infcode != 0 {
		x.Status, x.Error = journalRejected, MaskText(fmt.Sprintf("infcode %d: %s", r.Infcode, r.ErrMsg))
		_ = c.journal(ctx, h, x) // logged by journal; the business error is what the caller needs
		c.log.Info("medical-insurance call refused", "infno", call.Infno, "msgid", msgid, "infcode", r.Infcode, "err_msg", MaskText(r.ErrMsg), "ms", dur.Milliseconds())
		return nil, &BusinessError{Infno: call.Infno, MsgID: msgid, Infcode: r.Infcode, Message: r.ErrMsg, Response: r}
	}
	x.Status = journalOK
	if err := c.journal(ctx, h, x); err != nil {
		res.Warnings = append(res.Warnings, "journal: "+err.Error())
	}
	c.log.Debug("medical-insurance call", "infno", call.Infno, "msgid", msgid, "ms", dur.Milliseconds())
	return res, nil
}

// journalTimeout bounds the recording of one exchange in the journal.
const journalTimeout = 10 * time.Second

func (c *Client) journal(ctx context.Context, h Host, x sdk.Exchange) error {
	// Journal even when ctx has just ended: the call happened.
	jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), journalTimeout)
	defer cancel()
	if _, err := h.Journal(jctx, x); err != nil {
		c.log.Warn("cannot journal a medical-insurance call", "infno", x.Code, "msgid", x.Serial, "err", err)
		return fmt.Errorf("record the %s exchange (msgid %s) in the journal: %w", x.Code, x.Serial, err)
	}
	return nil
}

// envelope fills the request envelope from the configuration.
func (c *Client) envelope(call Call, msgid, signNo string, now time.Time) *Request {
	cfg := &c.cfg
	r := &Request{
		Infno: call.Infno, MsgID: msgid, MdtrtareaAdmvs: cfg.MdtrtareaAdmvs, InsuplcAdmdvs: cfg.InsuplcAdmdvs,
		RecerSysCode: cfg.RecerSysCode, DevNo: cfg.DevNo, DevSafeInfo: cfg.DevSafeInfo, Cainfo: cfg.Cainfo,
		Signtype: cfg.Signtype, Infver: cfg.Infver, OpterType: cfg.OpterType, Opter: cfg.Opter, OpterName: cfg.OpterName,
		InfTime: now.In(cst).Format(TimeLayout), FixmedinsCode: cfg.FixmedinsCode, FixmedinsName: cfg.FixmedinsName, SignNo: signNo,
	}
	if call.InsuplcAdmdvs != "" {
		r.InsuplcAdmdvs = call.InsuplcAdmdvs
	}
	if cfg.FujianFields {
		app, enc := cfg.AppID, ""
		if cfg.Enc == EncSM4 {
			enc = EncSM4
		}
		r.AppID, r.EncType = &app, &enc
	}
	return r
}

// fields returns the envelope without input, for schema validation.
func (r *Request) fields() map[string]any {
	m := map[string]any{
		"infno": r.Infno, "msgid": r.MsgID, "mdtrtarea_admvs": r.MdtrtareaAdmvs, "insuplc_admdvs": r.InsuplcAdmdvs,
		"recer_sys_code": r.RecerSysCode, "dev_no": r.DevNo, "dev_safe_info": r.DevSafeInfo, "cainfo": r.Cainfo,
		"signtype": r.Signtype, "infver": r.Infver, "opter_type": r.OpterType, "opter": r.Opter, "opter_name": r.OpterName,
		"inf_time": r.InfTime, "fixmedins_code": r.FixmedinsCode, "fixmedins_name": r.FixmedinsName, "sign_no": r.SignNo,
	}
	if r.AppID != nil {
		m["app_id"] = *r.AppID
	}
	if r.EncType != nil {
		m["enc_type"] = *r.EncType
	}
	return m
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func marshalInput(v any) (json.RawMessage, error) {
	switch x := v.(type) {
	case nil:
		return json.RawMessage("{}"), nil
	case json.RawMessage:
		if !json.Valid(x) {
			return nil, errors.New("the input is not valid JSON")
		}
		return x, nil
	case []byte:
		if !json.Valid(x) {
			return nil, errors.New("the input is not valid JSON")
		}
		return json.RawMessage(x), nil
	}
	b, err := marshal(v)
	if err != nil {
		return nil, fmt.Errorf("the input cannot be encoded as JSON: %w", err)
	}
	return b, nil
}

// post sends the body and reads the answer. sent reports whether the
// request (its headers at least) went out, so that a failure may have
// reached the platform.
func (c *Client) post(ctx context.Context, url string, body []byte, now time.Time) (status int, respBody []byte, sent bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, false, fmt.Errorf("build the request to %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	req.Header.Set("Accept", "application/json")
	if err := c.signer.Sign(req, body, now); err != nil {
		return 0, nil, false, fmt.Errorf("sign the request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, wrote.Load(), err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		return resp.StatusCode, b, true, fmt.Errorf("read the answer: %w", err)
	}
	if int64(len(b)) > c.cfg.MaxResponseBytes {
		return resp.StatusCode, b[:512], true, fmt.Errorf("the answer is larger than %d bytes", c.cfg.MaxResponseBytes)
	}
	return resp.StatusCode, b, true, nil
}
