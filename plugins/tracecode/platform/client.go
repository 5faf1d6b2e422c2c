package platform

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medgate/medgate/plugins/sdk/pii"
)

// maxAnswer bounds the size of one answer read from the platform.
const maxAnswer = 64 << 20

// redacted replaces tokens in journaled exchanges.
const redacted = "[redacted]"

// Token actions reported in a TokenEvent.
const (
	ActionIssue      = "issue"      // first token of this process
	ActionRefresh    = "refresh"    // a new token replaces one
	ActionInvalidate = "invalidate" // the platform refused the cached token
)

// Reasons reported in a TokenEvent.
const (
	ReasonFirstUse    = "first use"
	ReasonExpiresSoon = "expires soon"
	ReasonAuthError   = "authentication error"
	ReasonForced      = "requested"
	ReasonNoToken     = "no valid token"
)

// TokenEvent is one token operation for the operation log. It never holds
// the token or the secret.
type TokenEvent struct {
	At        time.Time
	Action    string
	Reason    string
	OK        bool
	ExpiresAt time.Time
	Duration  time.Duration
	Error     string
	// Refused is set when the platform refused the credentials (Error is
	// then ErrAuth's): the site's appId, appSecret, orgCode or signMethod
	// are wrong, not a transient failure that passes by itself.
	Refused bool
	// NoToken is set on a failure that leaves no token that works (none
	// was obtained, the last one expired or was refused): no call is made
	// until a token is obtained. Clear, the failed request was a refresh
	// or a forced renewal, and the token held still serves.
	NoToken bool
	// Warning says why the expiry the platform gave with a new token was
	// not used (an expiry in the past or too far away).
	Warning string
}

// Exchange is one HTTP exchange with the platform, for the journal, with
// tokens redacted.
type Exchange struct {
	Op         Op
	Path       string
	Request    []byte
	Response   []byte
	HTTPStatus int
	Code       string
	Message    string
	Status     string // ok | rejected | error | unknown
	Error      string
	Duration   time.Duration
}

// Observer receives token events and exchanges. Implementations must be
// safe for concurrent use. Errors are theirs to handle: the client does
// not fail a call because it could not be observed.
type Observer interface {
	Token(ctx context.Context, e TokenEvent)
	Exchange(ctx context.Context, x Exchange)
}

// Discard is an Observer that ignores everything.
var Discard Observer = discard{}

type discard struct{}

func (discard) Token(context.Context, TokenEvent)  {}
func (discard) Exchange(context.Context, Exchange) {}

// Result is the outcome of a successful call.
type Result struct {
	Code    string
	Message string
	// Duplicate: the platform already had this document (the answer code
	// is one of DuplicateCodes). For an upload this is success.
	Duplicate bool
	// NotFound: the platform does not know what was asked for.
	NotFound bool
}

// TokenInfo describes the cached token without revealing it.
type TokenInfo struct {
	ExpiresAt time.Time
	// Refreshed is true when this call obtained a new token.
	Refreshed bool
}

// Client calls one site's platform. It is safe for concurrent use.
type Client struct {
	cfg Config

	mu        sync.Mutex // held while a token is obtained: one request at a time
	token     string
	expiresAt time.Time
	// refreshAt is when the token is renewed: RefreshBefore before its
	// expiry, but not before half its life, so that a token that lives no
	// longer than RefreshBefore is still used.
	refreshAt time.Time
	// retryAt is, after a refresh failed while the token was still valid,
	// when the next refresh is attempted: calls until then use the token
	// without a token request each (one at a time under mu, each waiting
	// out a failing or hanging token endpoint).
	retryAt time.Time
	issued  bool // a token was obtained at least once
}

// refreshRetry is how long a token still valid is used after a failed
// refresh before the refresh is tried again.
const refreshRetry = 30 * time.Second

// New returns a client for cfg, after checking it.
func New(cfg Config) (*Client, error) {
	if errs := cfg.Check(); len(errs) > 0 {
		return nil, fmt.Errorf("trace-code platform configuration: %w", errors.Join(errs...))
	}
	return &Client{cfg: cfg.withDefaults()}, nil
}

// Token returns information on a valid token, obtaining or refreshing one
// if needed; force obtains a new one in any case.
func (c *Client) Token(ctx context.Context, obs Observer, force bool) (TokenInfo, error) {
	reason := ""
	if force {
		reason = ReasonForced
	}
	_, info, err := c.validToken(ctx, obs, "", reason)
	return info, err
}

// validToken returns a token that is not about to expire. If stale is not
// empty it is a token the platform refused: it is replaced unless another
// call has replaced it already. forceReason forces a new token.
func (c *Client) validToken(ctx context.Context, obs Observer, stale, forceReason string) (string, TokenInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	fresh := c.token != "" && now.Before(c.refreshAt)
	action, reason := ActionRefresh, forceReason
	switch {
	case stale != "" && stale == c.token:
		obs.Token(ctx, TokenEvent{At: now, Action: ActionInvalidate, Reason: ReasonAuthError, OK: true, ExpiresAt: c.expiresAt})
		c.token, c.expiresAt, c.refreshAt = "", time.Time{}, time.Time{}
		reason = ReasonAuthError
	case stale != "" && fresh:
		// Another call replaced the refused token meanwhile.
		return c.token, TokenInfo{ExpiresAt: c.expiresAt}, nil
	case stale != "":
		reason = ReasonAuthError
	case forceReason != "":
	case c.token == "" && !c.issued:
		action, reason = ActionIssue, ReasonFirstUse
	case c.token == "":
		reason = ReasonNoToken
	case !fresh && now.Before(c.retryAt) && now.Before(c.expiresAt):
		// A refresh failed a moment ago: keep using the token.
		return c.token, TokenInfo{ExpiresAt: c.expiresAt}, nil
	case !fresh:
		reason = ReasonExpiresSoon
	default:
		return c.token, TokenInfo{ExpiresAt: c.expiresAt}, nil
	}
	start := c.cfg.Now()
	tok, exp, warning, err := c.requestToken(ctx, obs)
	ev := TokenEvent{At: start, Action: action, Reason: reason, Duration: c.cfg.Now().Sub(start), Warning: warning}
	if err != nil {
		ev.Error, ev.Refused = err.Error(), errors.Is(err, ErrAuth)
		ev.NoToken = c.token == "" || !now.Before(c.expiresAt)
		obs.Token(ctx, ev)
		// A token that is only close to its expiry still works.
		if reason == ReasonExpiresSoon && now.Before(c.expiresAt) {
			c.retryAt = c.cfg.Now().Add(refreshRetry)
			return c.token, TokenInfo{ExpiresAt: c.expiresAt}, nil
		}
		return "", TokenInfo{}, err
	}
	c.token, c.expiresAt, c.issued, c.retryAt = tok, exp, true, time.Time{}
	c.refreshAt = exp.Add(-min(c.cfg.RefreshBefore, exp.Sub(c.cfg.Now())/2))
	ev.OK, ev.ExpiresAt = true, exp
	obs.Token(ctx, ev)
	return tok, TokenInfo{ExpiresAt: exp, Refreshed: true}, nil
}

// tokenAnswer is the data part of a token answer, in medgate's names.
type tokenAnswer struct {
	AccessToken string          `json:"accessToken"`
	ExpiresIn   json.RawMessage `json:"expiresIn"`
}

// requestToken asks the platform for a token; the caller holds c.mu.
// warning says why the expiry the platform gave was not used.
func (c *Client) requestToken(ctx context.Context, obs Observer) (tok string, exp time.Time, warning string, err error) {
	ts := strconv.FormatInt(c.cfg.Now().UnixMilli(), 10)
	nonce := newNonce()
	body := map[string]any{"appId": c.cfg.AppID, "orgCode": c.cfg.OrgCode, "timestamp": ts, "nonce": nonce}
	if c.cfg.SignMethod != SignNone {
		body["signMethod"] = c.cfg.SignMethod
		body["sign"] = c.sign(c.cfg.AppID + c.cfg.OrgCode + ts + nonce)
	}
	var ans tokenAnswer
	res, err := c.exchange(ctx, obs, OpToken, body, "", &ans)
	switch {
	case err != nil:
		var be *BusinessError
		if errors.As(err, &be) {
			return "", time.Time{}, "", fmt.Errorf("get token: %w: %w; check the site's appId, appSecret, orgCode and signMethod", ErrAuth, err)
		}
		return "", time.Time{}, "", fmt.Errorf("get token: %w", err)
	case res.authFailed:
		return "", time.Time{}, "", fmt.Errorf("get token: %w: code %s: %s; check the site's appId, appSecret, orgCode and signMethod", ErrAuth, res.Code, pii.Text(res.Message))
	case ans.AccessToken == "":
		return "", time.Time{}, "", fmt.Errorf("get token: %w: the answer has no accessToken; check the fieldNames setting (accessToken=<platform name>)", ErrProtocol)
	}
	exp, warning, err = tokenExpiry(ans.ExpiresIn, c.cfg.Now(), c.cfg.DefaultTokenTTL)
	if err != nil {
		return "", time.Time{}, "", fmt.Errorf("get token: %w", err)
	}
	return ans.AccessToken, exp, warning, nil
}

// MaxTokenLife is the longest a token is believed to live: an expiry the
// platform gives further away than this is not used.
const MaxTokenLife = 30 * 24 * time.Hour

// Thresholds above which expiresIn is an absolute Unix time rather than a
// life in seconds: both are 2001-09-09 01:46:40 UTC, and a life of 10⁹
// seconds (31 years) is no token's.
const (
	unixSecondsFloor = 1_000_000_000
	unixMillisFloor  = 1_000_000_000_000
)

// tokenExpiry reads the expiresIn of a token answer (a JSON number or a
// string of digits). The reconstruction's platform gives the token's life
// in seconds; a platform that gives its expiry instead, as a Unix time in
// seconds or in milliseconds, is read as such (a value of at least 10⁹ or
// 10¹² respectively). Absent or null: def. An expiry that is not after now,
// or more than MaxTokenLife away, is not believed: def is used and warning
// says why (it names the value, never the token).
func tokenExpiry(raw json.RawMessage, now time.Time, def time.Duration) (exp time.Time, warning string, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return now.Add(def), "", nil
	}
	s := strings.TrimSpace(strings.Trim(string(raw), `"`))
	n, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil {
		return time.Time{}, "", fmt.Errorf("%w: expiresIn %s is not a whole number (the token's life in seconds, or its expiry as a Unix time in seconds or milliseconds); check the fieldNames setting (expiresIn=<platform name>)", ErrProtocol, raw)
	}
	read := "a life in seconds"
	switch {
	case n >= unixMillisFloor:
		exp, read = time.UnixMilli(n), "a Unix time in milliseconds"
	case n >= unixSecondsFloor:
		exp, read = time.Unix(n, 0), "a Unix time in seconds"
	case n > int64(MaxTokenLife/time.Second):
		return now.Add(def), fmt.Sprintf("the token answer's expiresIn %d, read as %s, is more than %s away; the token is kept for tokenDefaultTTL (%s) instead", n, read, MaxTokenLife, def), nil
	default:
		exp = now.Add(time.Duration(n) * time.Second)
	}
	switch {
	case !exp.After(now):
		return now.Add(def), fmt.Sprintf("the token answer's expiresIn %d, read as %s, is an expiry in the past (%s); the token is kept for tokenDefaultTTL (%s) instead", n, read, exp.UTC().Format(time.RFC3339), def), nil
	case exp.Sub(now) > MaxTokenLife:
		return now.Add(def), fmt.Sprintf("the token answer's expiresIn %d, read as %s, is an expiry more than %s away (%s); the token is kept for tokenDefaultTTL (%s) instead", n, read, MaxTokenLife, exp.UTC().Format(time.RFC3339), def), nil
	}
	return exp, "", nil
}

func (c *Client) sign(content string) string {
	switch c.cfg.SignMethod {
	case SignMD5:
		sum := md5.Sum([]byte(c.cfg.AppSecret + content + c.cfg.AppSecret))
		return strings.ToUpper(hex.EncodeToString(sum[:]))
	default:
		m := hmac.New(sha256.New, []byte(c.cfg.AppSecret))
		m.Write([]byte(content))
		return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
	}
}

func newNonce() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Call sends one business request (in, in medgate's field names) and
// decodes the answer's data part into out (may be nil). It obtains a token
// first and never calls without one; on an authentication error it
// refreshes the token once and retries once.
//
// A duplicate or not-found answer is not an error: see Result. Other
// business answers are a *BusinessError; transport failures wrap
// ErrUnavailable (and ErrUnknownOutcome when the request may have been
// processed).
func (c *Client) Call(ctx context.Context, obs Observer, op Op, in, out any) (Result, error) {
	if op == OpToken {
		return Result{}, errors.New("platform: use Token to obtain tokens")
	}
	tok, _, err := c.validToken(ctx, obs, "", "")
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w: no call made without a token: %w", op, ErrNotSent, err)
	}
	res, err := c.exchange(ctx, obs, op, in, tok, out)
	if err != nil || !res.authFailed {
		return res.Result, err
	}
	tok, _, err = c.validToken(ctx, obs, tok, "")
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w: the token was refused and no new one could be obtained: %w", op, ErrNotSent, err)
	}
	res, err = c.exchange(ctx, obs, op, in, tok, out)
	if err != nil {
		return res.Result, err
	}
	if res.authFailed {
		return Result{}, fmt.Errorf("%s: %w: code %s: %s even with a new token; check the site's credentials and the platform's account", op, ErrAuth, res.Code, pii.Text(res.Message))
	}
	return res.Result, nil
}

type exchangeResult struct {
	Result
	authFailed bool
}

// exchange performs one HTTP exchange: rename, send, classify, decode.
func (c *Client) exchange(ctx context.Context, obs Observer, op Op, in any, token string, out any) (exchangeResult, error) {
	path := c.cfg.Paths[op]
	body, err := c.encode(in, token)
	if err != nil {
		return exchangeResult{}, fmt.Errorf("%s: encode the request: %w", op, err)
	}
	x := Exchange{Op: op, Path: path, Request: c.redact(body)}
	start := c.cfg.Now()
	defer func() {
		x.Duration = c.cfg.Now().Sub(start)
		obs.Exchange(ctx, x)
	}()
	cctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, strings.TrimRight(c.cfg.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		x.Status, x.Error = "error", err.Error()
		return exchangeResult{}, fmt.Errorf("%s: build the request: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	if token != "" && c.cfg.TokenBodyField == "" {
		req.Header.Set(c.cfg.TokenHeader, token)
	}
	if c.cfg.SignCalls && op != OpToken {
		ts := strconv.FormatInt(c.cfg.Now().UnixMilli(), 10)
		nonce := newNonce()
		sum := sha256.Sum256(body)
		req.Header.Set("X-App-Id", c.cfg.AppID)
		req.Header.Set("X-Timestamp", ts)
		req.Header.Set("X-Nonce", nonce)
		req.Header.Set("X-Sign", c.sign(c.cfg.AppID+ts+nonce+hex.EncodeToString(sum[:])))
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			x.Status, x.Error = "unknown", ctx.Err().Error()
			return exchangeResult{}, unknownOutcome{fmt.Errorf("%s: %w: %w", op, ErrUnavailable, ctx.Err())}
		}
		if notSent(err) {
			x.Status, x.Error = "error", err.Error()
			return exchangeResult{}, fmt.Errorf("%s: %w: %w; check baseUrl and the network", op, ErrUnavailable, err)
		}
		x.Status, x.Error = "unknown", err.Error()
		return exchangeResult{}, unknownOutcome{fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	x.HTTPStatus = resp.StatusCode
	x.Response = c.redact(raw)
	if err != nil {
		x.Status, x.Error = "unknown", err.Error()
		return exchangeResult{}, unknownOutcome{fmt.Errorf("%s: %w: read the answer: %w", op, ErrUnavailable, err)}
	}
	if len(raw) > maxAnswer {
		x.Status, x.Error = "error", "answer too large"
		return exchangeResult{}, fmt.Errorf("%s: %w: the answer is larger than %d bytes; ask for smaller pages", op, ErrProtocol, maxAnswer)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		x.Status, x.Code = "rejected", strconv.Itoa(resp.StatusCode)
		code, msg := c.peekCode(raw)
		if code == "" {
			code = strconv.Itoa(resp.StatusCode)
		}
		x.Code, x.Message = code, msg
		return exchangeResult{Result: Result{Code: code, Message: msg}, authFailed: true}, nil
	}
	if resp.StatusCode >= 500 {
		x.Status, x.Error = "unknown", resp.Status
		return exchangeResult{}, unknownOutcome{fmt.Errorf("%s: %w: HTTP %s", op, ErrUnavailable, resp.Status)}
	}
	if resp.StatusCode >= 300 {
		x.Status, x.Error = "error", resp.Status
		return exchangeResult{}, fmt.Errorf("%s: %w: HTTP %s; check the path of %s (paths setting) and baseUrl", op, ErrProtocol, resp.Status, op)
	}
	code, msg, data, err := c.decodeEnvelope(raw)
	if err != nil {
		x.Status, x.Error = "error", err.Error()
		return exchangeResult{}, fmt.Errorf("%s: %w", op, err)
	}
	x.Code, x.Message = code, msg
	res := exchangeResult{Result: Result{Code: code, Message: msg}}
	switch {
	case slices.Contains(c.cfg.AuthCodes, code):
		x.Status = "rejected"
		res.authFailed = true
		return res, nil
	case slices.Contains(c.cfg.DuplicateCodes, code):
		x.Status = "ok"
		res.Duplicate = true
	case slices.Contains(c.cfg.NotFoundCodes, code):
		x.Status = "ok"
		res.NotFound = true
		return res, nil
	case slices.Contains(c.cfg.SuccessCodes, code):
		x.Status = "ok"
	default:
		x.Status = "rejected"
		return res, &BusinessError{Op: op, Code: code, Message: msg}
	}
	if out != nil && len(data) > 0 && string(data) != "null" {
		if err := c.decodeData(data, out); err != nil {
			x.Status, x.Error = "error", err.Error()
			return exchangeResult{}, fmt.Errorf("%s: %w: %w", op, ErrProtocol, err)
		}
	}
	return res, nil
}

// notSent reports whether a transport error proves the request never left
// (the connection could not be made).
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// encode marshals in, adds the token field if configured and renames keys.
func (c *Client) encode(in any, token string) ([]byte, error) {
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	if len(c.cfg.Fields) == 0 && (token == "" || c.cfg.TokenBodyField == "") {
		return raw, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	v = rename(v, c.cfg.Fields)
	if token != "" && c.cfg.TokenBodyField != "" {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("the request is not a JSON object, so the token cannot be added to it")
		}
		m[c.cfg.TokenBodyField] = token
	}
	return json.Marshal(v)
}

// decodeEnvelope splits an answer into code, message and data.
func (c *Client) decodeEnvelope(raw []byte) (string, string, json.RawMessage, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil {
		return "", "", nil, fmt.Errorf("%w: the answer is not a JSON object (%v); check baseUrl and the path", ErrProtocol, err)
	}
	rawCode, ok := env[c.cfg.CodeField]
	if !ok {
		return "", "", nil, fmt.Errorf("%w: the answer has no %q field; set responseCodeField to the platform's name for the result code", ErrProtocol, c.cfg.CodeField)
	}
	return scalarString(rawCode), scalarString(env[c.cfg.MessageField]), env[c.cfg.DataField], nil
}

// peekCode reads code and message from an error answer, if it has them.
func (c *Client) peekCode(raw []byte) (string, string) {
	code, msg, _, err := c.decodeEnvelope(raw)
	if err != nil {
		return "", ""
	}
	return code, msg
}

func scalarString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// decodeData renames the data part back to medgate's names and decodes it.
func (c *Client) decodeData(data json.RawMessage, out any) error {
	if len(c.cfg.Fields) > 0 {
		var v any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return err
		}
		b, err := json.Marshal(rename(v, c.cfg.Fields.reverse()))
		if err != nil {
			return err
		}
		data = b
	}
	return json.Unmarshal(data, out)
}

// redact replaces token values (the configured token field, and
// accessToken under its platform name) in a JSON body for the journal.
func (c *Client) redact(body []byte) []byte {
	names := []string{"accessToken"}
	if n, ok := c.cfg.Fields["accessToken"]; ok {
		names = append(names, n)
	}
	if c.cfg.TokenBodyField != "" {
		names = append(names, c.cfg.TokenBodyField)
	}
	hit := false
	for _, n := range names {
		// Also escaped: a JSON document carried in a string value.
		if bytes.Contains(body, []byte(`"`+n+`"`)) || bytes.Contains(body, []byte(`\"`+n+`\"`)) {
			hit = true
		}
	}
	if !hit {
		return body
	}
	out, ok := scrubJSON(body, names)
	if !ok {
		return []byte(`"[answer not JSON; withheld because it may hold a token]"`)
	}
	return out
}

// scrubJSON returns the JSON document doc with its token fields redacted
// (scrub), or false when doc is not one JSON document.
func scrubJSON(doc []byte, names []string) ([]byte, bool) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return nil, false
	}
	scrub(v, names)
	out, err := json.Marshal(v)
	return out, err == nil
}

func scrub(v any, names []string) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if slices.Contains(names, k) {
				t[k] = redacted
				continue
			}
			if str, ok := e.(string); ok {
				t[k] = scrubString(str, names)
				continue
			}
			scrub(e, names)
		}
	case []any:
		for i, e := range t {
			if str, ok := e.(string); ok {
				t[i] = scrubString(str, names)
				continue
			}
			scrub(e, names)
		}
	}
}

// scrubString redacts a string value that is itself a JSON document
// holding a token field; such a string that is not JSON is withheld.
func scrubString(s string, names []string) string {
	found := false
	for _, n := range names {
		if strings.Contains(s, `"`+n+`"`) {
			found = true
		}
	}
	if !found {
		return s
	}
	out, ok := scrubJSON([]byte(s), names)
	if !ok {
		return redacted
	}
	return string(out)
}

// rename returns v with every object key renamed through m.
func rename(v any, m FieldMap) any {
	if len(m) == 0 {
		return v
	}
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			if n, ok := m[k]; ok {
				k = n
			}
			out[k] = rename(e, m)
		}
		return out
	case []any:
		for i, e := range t {
			t[i] = rename(e, m)
		}
		return t
	}
	return v
}
