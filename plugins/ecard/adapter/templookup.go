package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// hisLookup asks a HIS service which patient a temporary card belongs to
// (tempCardLookup set to its URL). The protocol is medgate's, small enough
// for a HIS team to add:
//
//	POST <url>  {"tempCardNo": "99000123"}
//	            Authorization: Bearer <tempCardLookupToken>, when set
//	200 {"found": true, "patientId": "…", "name": "…", "idType": "01", "idNumber": "…", "phone": "…"}
//	200 {"found": false}   or   404
//
// Anything else is a failed lookup. The URL is shown (in errors, and so in
// replies, the journal and logs) only as shown: without its query, which
// may carry a key, and it never has user info (parseLookup refuses it).
type hisLookup struct {
	url   string
	shown string
	token secret
	// plain is true for an http URL; loopback when its host is this
	// machine (localhost or a loopback address), where a token sent in
	// clear text crosses no network.
	plain, loopback bool
	client          *http.Client
}

// secret is a credential that never prints: fmt, JSON, text encodings and
// slog show "[redacted]" (as hsa.Secret does). Convert it to a string only
// where it is sent.
type secret string

// String implements fmt.Stringer.
func (s secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString implements fmt.GoStringer.
func (s secret) GoString() string { return `secret("` + s.String() + `")` }

// MarshalText keeps the secret out of JSON, YAML and text encodings.
func (s secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer.
func (s secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// hisPatient is the HIS service's answer.
type hisPatient struct {
	Found     bool   `json:"found"`
	PatientID string `json:"patientId"`
	Name      string `json:"name"`
	IDType    string `json:"idType"`
	IDNumber  string `json:"idNumber"`
	Phone     string `json:"phone"`
}

// masked is the patient with name, ID number and phone masked.
func (p hisPatient) masked() hisPatient {
	p.Name, p.IDNumber, p.Phone = card.MaskName(p.Name), card.MaskIDNumber(p.IDNumber), card.MaskPhone(p.Phone)
	return p
}

// maxLookupAnswer bounds the HIS service's answer.
const maxLookupAnswer = 64 << 10

// maskURL returns u fit to be shown: scheme, host and path, with a query
// replaced by "?…" and no user info or fragment.
func maskURL(u *url.URL) string {
	m := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath, Opaque: u.Opaque}
	out := m.String()
	if u.RawQuery != "" || u.ForceQuery {
		out += "?…"
	}
	return out
}

// parseLookup checks a tempCardLookup URL and the token sent to it. Its
// errors show the URL masked and never the token.
func parseLookup(raw string, token secret, timeout time.Duration) (*hisLookup, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// The parser's own message quotes the whole URL; its cause
		// names only the faulty part.
		cause := urlCause(err)
		var ee url.EscapeError
		if errors.As(err, &ee) { // it quotes part of the value
			cause = errors.New("it has a % not followed by two hex digits")
		}
		return nil, fmt.Errorf("the value (%d characters, not shown: it may hold credentials) is not links, none or a valid URL: %w", len(raw), cause)
	}
	shown := maskURL(u)
	switch {
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("%s is not links, none or an http(s) URL", shown)
	case u.User != nil:
		return nil, fmt.Errorf("%s carries a user name or password (user:password@…), which would be shown wherever the URL is; "+
			"remove it, and put the token the HIS service issued in %s", shown, setTempCardLookupToken)
	}
	l := &hisLookup{url: u.String(), shown: shown, token: token, plain: u.Scheme == "http", loopback: isLoopbackHost(u.Hostname())}
	l.client = &http.Client{Timeout: timeout, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		// The token goes only where the site sent it: no redirect to
		// another scheme (https to http) or host (port included).
		if r.URL.Scheme != u.Scheme || !strings.EqualFold(r.URL.Host, u.Host) {
			return errRedirected
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}}
	return l, nil
}

// isLoopbackHost reports whether host (a URL's host without its port) is
// this machine: the name localhost (RFC 6761) or a loopback address
// (127.0.0.0/8, ::1). It looks nothing up, so a name that merely resolves
// to a loopback address is not one, and neither is 0.0.0.0.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// urlCause returns the cause of a *url.Error, which quotes the whole URL,
// query and user info included; other errors are returned as they are.
func urlCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// errRedirected refuses a redirect of the lookup to another address.
var errRedirected = errors.New("the service redirected the lookup to another address, where the token is not sent")

// find asks the HIS service about one temporary card.
func (l *hisLookup) find(ctx context.Context, tempNo string) (hisPatient, error) {
	body, _ := json.Marshal(map[string]string{"tempCardNo": tempNo})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(body))
	if err != nil {
		return hisPatient{}, fmt.Errorf("build the request to %s: %w", l.shown, urlCause(err))
	}
	req.Header.Set("Content-Type", "application/json")
	if l.token != "" {
		req.Header.Set("Authorization", "Bearer "+string(l.token))
	}
	resp, err := l.client.Do(req)
	if err != nil {
		err = urlCause(err)
		if errors.Is(err, errRedirected) {
			return hisPatient{}, fmt.Errorf("call %s: %w; set %s to the address that answers", l.shown, err, setTempCardLookup)
		}
		return hisPatient{}, fmt.Errorf("call %s: %w", l.shown, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxLookupAnswer+1))
	switch {
	case err != nil:
		return hisPatient{}, fmt.Errorf("read the answer of %s: %w", l.shown, err)
	case resp.StatusCode == http.StatusNotFound:
		return hisPatient{}, nil
	case (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) && l.token == "":
		return hisPatient{}, fmt.Errorf("%s answered HTTP %d: it asks for authentication, and %s is not set; "+
			"set it to env:NAME or file:/path holding the token the HIS service issued (sent as Authorization: Bearer)", l.shown, resp.StatusCode, setTempCardLookupToken)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return hisPatient{}, fmt.Errorf("%s answered HTTP %d: it refused the token in %s; "+
			"check with the HIS team that it is the token they issued for medgate and that it has not expired or been revoked", l.shown, resp.StatusCode, setTempCardLookupToken)
	case resp.StatusCode != http.StatusOK:
		return hisPatient{}, fmt.Errorf("%s answered HTTP %d", l.shown, resp.StatusCode)
	case len(b) > maxLookupAnswer:
		return hisPatient{}, fmt.Errorf("%s answered more than %d bytes", l.shown, maxLookupAnswer)
	}
	var p hisPatient
	if err := json.Unmarshal(b, &p); err != nil {
		return hisPatient{}, fmt.Errorf("%s answered something that is not {\"found\": …}: %w", l.shown, err)
	}
	if p.Found && p.PatientID == "" && p.IDNumber == "" {
		return hisPatient{}, fmt.Errorf("%s answered found without patientId or idNumber", l.shown)
	}
	return p, nil
}

// hisScanReply is the payload of a scan of a temporary card the HIS
// service knows.
type hisScanReply struct {
	Result     string     `json:"result"`
	TempCardNo string     `json:"tempCardNo"`
	Prefix     string     `json:"prefix"`
	Source     string     `json:"source"`
	Patient    hisPatient `json:"patient"`
	Masked     bool       `json:"masked"`
}

// scanHIS answers a scan of a temporary card that is not linked here by
// asking the HIS service. The exchange is journaled with the identity
// masked.
func (h handler) scanHIS(ctx context.Context, tempNo, prefix string, reveal bool, refusal tempScanRefusal) (*sdk.HandleResponse, error) {
	start := h.a.now()
	p, err := h.cfg.his.find(ctx, tempNo)
	status, answer := "ok", any(p.masked())
	if err != nil {
		status, answer = "failed", map[string]string{"error": err.Error()}
	}
	req, _ := json.Marshal(map[string]string{"tempCardNo": tempNo})
	resp, _ := json.Marshal(answer)
	if _, jerr := h.host().Journal(ctx, sdk.Exchange{MessageID: h.req.MessageID, System: "his", Code: "tempcard-lookup", Serial: tempNo,
		Request: req, Response: resp, Status: status, Duration: h.a.now().Sub(start)}); jerr != nil {
		return nil, fmt.Errorf("journal the lookup of temporary card %s: %w", tempNo, jerr)
	}
	summary := fmt.Sprintf("%s is a temporary-card number (prefix %s)", tempNo, prefix)
	if err != nil {
		refusal.LookupFailed = true
		return invalid("$.text", ResultTemporaryCard, summary,
			"the HIS lookup (tempCardLookup) failed: "+err.Error()+"; find the patient in HIS by the temporary card, and check the lookup service", refusal)
	}
	if !p.Found {
		return invalid("$.text", ResultTemporaryCard, summary,
			"neither linked to an e-card nor known to the HIS lookup; check the number against the card", refusal)
	}
	out := hisScanReply{Result: ResultTemporaryCard, TempCardNo: tempNo, Prefix: prefix, Source: "his", Patient: p.masked(), Masked: true}
	if reveal {
		out.Patient, out.Masked = p, false
	}
	return ok(out)
}
