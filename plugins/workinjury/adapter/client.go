package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/smenvelope"
)

// systemName is the External.System and journal system of every call.
const systemName = "workinjury"

// maxResponseBytes bounds what is read from one response (GYD054 carries
// attachments of about 10 MB in base64).
const maxResponseBytes = 32 << 20

// kind classifies the outcome of one external call.
type kind int

const (
	// kindOK: a verified success; output holds the business data.
	kindOK kind = iota
	// kindRejected: a verified business error (code, message).
	kindRejected
	// kindUnknown: the request may or may not have been processed (timeout,
	// 5xx, garbage, a bad signature, an unverified error). Reconcile
	// before any resend.
	kindUnknown
	// kindLocal: nothing was sent (keys missing, sealing failed).
	kindLocal
)

// outcome is the result of one external call.
type outcome struct {
	kind    kind
	serial  string
	code    string          // response code
	message string          // response message
	output  json.RawMessage // business plaintext of a success ("{}" if none)
	err     error           // cause, for kindUnknown and kindLocal
	// unsigned: the answer was decided by a response code the signature
	// does not cover; the outcome is unknown until GYD053 says.
	unsigned bool
	// decidedBy is the GYD053 serial that decided an unsigned answer.
	decidedBy string
	// serialSigned: the answer's envelope names the request's serial and
	// the signature covers it (signTarget canonical, field.msgId not
	// excluded), so the answer is provably about this request.
	serialSigned bool
}

// msgIDSigned reports whether the configured signature covers the
// envelope's message serial: only the canonical target does, unless the
// serial is excluded from the canonical string.
func msgIDSigned(o smenvelope.Options) bool {
	return o.SignTarget == smenvelope.SignCanonical && o.Fields.MsgID != "" && !slices.Contains(o.CanonicalExclude, o.Fields.MsgID)
}

// codeSigned reports whether the configured signature covers the
// response code and message: only the canonical target does, unless they
// are excluded from the canonical string. With the plaintext or ciphertext
// target an attacker between the systems could change them freely.
func codeSigned(o smenvelope.Options) bool {
	if o.SignTarget != smenvelope.SignCanonical {
		return false
	}
	for _, f := range []string{o.Fields.Code, o.Fields.Message} {
		if f != "" && slices.Contains(o.CanonicalExclude, f) {
			return false
		}
	}
	return true
}

// call is callOnce under guarantee 8 (only signed data decides). When the
// configured signature does not cover the response code (signTarget
// plaintext or ciphertext), the code cannot decide anything:
//
//   - an answer that rests on it – an error code, or a success without
//     signed data – is an unknown outcome, and the general transaction
//     query GYD053 (whose answer is signed business data) decides it at
//     once;
//   - a success of a transaction that changes national state (an upload,
//     a revocation, a feedback, a download handing out a batch) is
//     confirmed with GYD053 as well, since a refusal turned into a success
//     code on the way would otherwise be believed. The output is the
//     answer's own signed data (GYD053's orig_output when it has none).
//
// Read-only queries keep a success with signed data. GYD053 itself is
// never decided this way: an unsigned GYD053 answer stays unknown. With
// signTarget canonical (code and message not excluded) the signature
// covers the code and none of this is needed.
func (a *Adapter) call(ctx context.Context, h sdk.Host, c *siteConfig, messageID, code, serial string, input any) outcome {
	out := a.callOnce(ctx, h, c, messageID, code, serial, input)
	if code == "GYD053" || codeSigned(c.opts) {
		return out
	}
	confirm := out.kind == kindOK && changesState(c, code)
	if !out.unsigned && !confirm {
		return out
	}
	// GYD053 follows: the entry of this exchange (a GYU102's is about
	// 200 KB) goes to the host while it is asked, not after.
	sdk.SendJournal(ctx, h)
	r, err := a.reconcile(ctx, h, c, messageID, code, serial, a.now().In(cst).Format("2006-01-02"))
	if err != nil {
		if out.kind == kindOK {
			out = outcome{kind: kindUnknown, serial: serial, unsigned: true}
			out.err = fmt.Errorf("the %s answer's success code is not covered by the signature (target %s) and GYD053 could not confirm it: %v (outcome unknown)", code, c.opts.SignTarget, err)
			return out
		}
		out.err = fmt.Errorf("%w; GYD053 could not decide it: %v", out.err, err)
		return out
	}
	switch r.status {
	case transOK:
		output := r.output
		if out.kind == kindOK && len(out.output) > 2 {
			// Confirmed: the answer's own signed data stands (GYD053's
			// orig_output is bounded and may be shortened for a batch).
			output = out.output
		}
		return outcome{kind: kindOK, serial: serial, code: r.code, message: r.message, output: output, decidedBy: "GYD053"}
	case transFailed:
		if out.kind == kindOK {
			a.log.Warn("an answer with a success code was a refusal according to GYD053: the response was altered on the way", "site", c.code, "code", code, "serial", serial)
		}
		return outcome{kind: kindRejected, serial: serial, code: r.code, message: r.message, decidedBy: "GYD053"}
	}
	state := map[string]string{transPending: "still in progress", transNone: "unknown to it"}[r.status]
	if out.kind == kindOK {
		return outcome{kind: kindUnknown, serial: serial, unsigned: true,
			err: fmt.Errorf("the %s answer's success code is not covered by the signature and GYD053 reports the transaction as %s (outcome unknown)", code, state)}
	}
	out.err = fmt.Errorf("%w; GYD053 reports the transaction as %s", out.err, state)
	return out
}

// changesState reports whether code changes state in the national system
// (everything but the read-only queries).
func changesState(c *siteConfig, code string) bool {
	sc, ok := c.schemas.Get(Name, code)
	return !ok || kindOf(sc) != opQuery
}

// callOnce seals input for transaction code with the message serial, posts it,
// checks and opens the answer and journals the exchange under messageID.
// It never returns the business plaintext in an error.
func (a *Adapter) callOnce(ctx context.Context, h sdk.Host, c *siteConfig, messageID, code, serial string, input any) outcome {
	out := outcome{serial: serial}
	ks := c.keys.Load()
	if ks == nil {
		out.kind = kindLocal
		out.err = fmt.Errorf("the SM2 keys of site %s are not loaded: run `medgate import-keys -site %s` (files in %s)", c.code, c.code, c.keyCfg.Dir)
		return out
	}
	plain, owned, err := requestJSON(input)
	if err != nil {
		out.kind, out.err = kindLocal, fmt.Errorf("encode the %s input: %w", code, err)
		return out
	}
	f := c.opts.Fields
	env := map[string]string{}
	put := func(name, v string) {
		if name != "" && v != "" {
			env[name] = v
		}
	}
	put(f.TxCode, code)
	put(f.MsgID, serial)
	put(f.Sender, c.sender)
	put(f.Receiver, c.receiver)
	put(f.Version, c.version)
	keys := ks.Current()
	body, err := smenvelope.SealJSON(c.opts, keys, env, plain)
	if owned {
		clear(plain)
	}
	if err != nil {
		out.kind, out.err = kindLocal, fmt.Errorf("seal the %s request: %w", code, err)
		return out
	}

	start := a.now()
	var respBody []byte
	status := "unknown"
	defer func() {
		x := sdk.Exchange{MessageID: messageID, System: systemName, Code: code, Serial: serial,
			Request: body, Response: respBody, Status: status, Duration: a.now().Sub(start)}
		if out.err != nil {
			x.Error = out.err.Error()
		} else if out.kind == kindRejected {
			x.Error = fmt.Sprintf("code %s: %s", out.code, out.message)
		}
		if _, err := h.Journal(context.WithoutCancel(ctx), x); err != nil {
			a.log.Warn("cannot journal an exchange", "site", c.code, "code", code, "serial", serial, "err", err)
		}
	}()

	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, c.endpoint(code), bytes.NewReader(body))
	if err != nil {
		out.kind, out.err = kindLocal, fmt.Errorf("build the %s request: %w; check the url setting", code, err)
		status = "error"
		return out
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := a.http.Do(req)
	if err != nil {
		out.kind = kindUnknown
		if cctx.Err() != nil && ctx.Err() == nil {
			out.err = fmt.Errorf("no answer to %s within %s (outcome unknown)", code, c.timeout)
		} else {
			out.err = fmt.Errorf("post %s to the national system: %w (outcome unknown)", code, scrubURLError(err))
		}
		return out
	}
	defer resp.Body.Close()
	respBody, err = readResponse(resp)
	if err != nil {
		out.kind, out.err = kindUnknown, fmt.Errorf("read the %s response: %w (outcome unknown)", code, err)
		return out
	}
	if len(respBody) > maxResponseBytes {
		out.kind, out.err = kindUnknown, fmt.Errorf("the %s response is larger than %d bytes (outcome unknown)", code, maxResponseBytes)
		return out
	}
	if resp.StatusCode != http.StatusOK {
		out.kind = kindUnknown
		out.err = fmt.Errorf("the national system answered %s with HTTP %d (outcome unknown)", code, resp.StatusCode)
		return out
	}
	business, renv, err := smenvelope.Open(c.opts, keys, respBody)
	var be *smenvelope.BusinessError
	signedCode := codeSigned(c.opts)
	switch {
	case errors.As(err, &be) && be.Verified && !signedCode:
		// The signature verified, but it does not cover the code: a
		// success could have been turned into this error on the way.
		clear(business)
		out.kind, out.unsigned = kindUnknown, true
		out.code, out.message = be.Code, nationalText(be.Message)
		out.err = fmt.Errorf("the national system answered %s with error code %s (%s), but the signature (target %s) does not cover the code: not trusted (outcome unknown)", code, be.Code, out.message, c.opts.SignTarget)
		status = "unknown"
		return out
	case errors.As(err, &be) && be.Verified:
		out.kind, out.code, out.message = kindRejected, be.Code, nationalText(be.Message)
		status = "rejected"
		clear(business)
		return out
	case errors.As(err, &be):
		out.kind, out.unsigned = kindUnknown, true
		out.code, out.message = be.Code, nationalText(be.Message)
		out.err = fmt.Errorf("the national system answered %s with error code %s (%s) WITHOUT a valid signature: not trusted (outcome unknown)", code, be.Code, out.message)
		return out
	case errors.Is(err, smenvelope.ErrBadSignature):
		out.kind = kindUnknown
		out.err = fmt.Errorf("the %s response failed the signature check and is not trusted: %w", code, err)
		status = "error"
		return out
	case err != nil:
		out.kind = kindUnknown
		out.err = fmt.Errorf("the %s response is not a valid envelope: %w", code, err)
		status = "error"
		return out
	}
	if f.MsgID != "" {
		got, ok := renv[f.MsgID].(string)
		if ok && got != "" && got != serial {
			clear(business)
			out.kind = kindUnknown
			out.err = fmt.Errorf("the %s response is for message %s, not %s: not trusted", code, got, serial)
			status = "error"
			return out
		}
		out.serialSigned = ok && got == serial && msgIDSigned(c.opts)
	}
	if f.Code != "" {
		out.code = textOf(renv[f.Code])
	}
	if f.Message != "" {
		out.message = nationalText(textOf(renv[f.Message]))
	}
	trimmed := bytes.TrimSpace(business)
	if len(trimmed) == 0 && !signedCode && f.Data != "" {
		// No signed data: only the unsigned code says "success".
		out.kind, out.unsigned = kindUnknown, true
		out.err = fmt.Errorf("the %s response carries no signed data, and its success code is not covered by the signature (target %s): not trusted (outcome unknown)", code, c.opts.SignTarget)
		status = "unknown"
		return out
	}
	if len(trimmed) == 0 {
		trimmed = []byte("{}")
	}
	if !json.Valid(trimmed) || trimmed[0] != '{' {
		clear(business)
		out.kind = kindUnknown
		out.err = fmt.Errorf("the %s response data is not a JSON object (outcome unknown)", code)
		status = "error"
		return out
	}
	out.kind, out.output = kindOK, json.RawMessage(trimmed)
	status = "ok"
	return out
}

// readResponse reads a response body, at most maxResponseBytes + 1 bytes
// (one more tells it is too large), into a buffer of the announced length
// when there is one.
func readResponse(resp *http.Response) ([]byte, error) {
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= maxResponseBytes {
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, maxResponseBytes+1))
	return buf.Bytes(), err
}

// scrubURLError drops the URL from a transport error (it may carry query
// parameters) and keeps the operation and the cause.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// encodedInput is a request input whose JSON is already known: the
// payload as received, when it is byte for byte what marshal writes for
// the decoded object (decodePayload).
type encodedInput []byte

// requestInput is the input of a call for doc: its JSON raw when that is
// known, doc itself otherwise.
func requestInput(doc map[string]any, raw []byte) any {
	if raw != nil {
		return encodedInput(raw)
	}
	return doc
}

// requestJSON returns the JSON of a call's input, and whether the bytes
// belong to the caller (to wipe once sealed) rather than to the message.
func requestJSON(input any) ([]byte, bool, error) {
	if e, ok := input.(encodedInput); ok {
		return e, false, nil
	}
	b, err := marshal(input)
	return b, true, err
}

// marshal encodes v as compact JSON without HTML escaping, so that Chinese
// text and symbols travel as written.
func marshal(v any) ([]byte, error) {
	if b, ok := appendJSON(make([]byte, 0, 4096), v); ok {
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

func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// cst is China Standard Time, the time zone of the national system.
var cst = time.FixedZone("CST", 8*3600)

// newSerial returns a message serial unique across medgate instances:
// sender code, time to the second (UTC+8) and a 6-digit shared sequence.
func (a *Adapter) newSerial(ctx context.Context, h sdk.Host, c *siteConfig) (string, error) {
	// Unique is enough for a serial (with the second it is drawn in): a
	// block of values reserved by the host saves a store write per call.
	n, err := sdk.NextSequenceGaps(ctx, h, "serial")
	if err != nil {
		return "", fmt.Errorf("draw a message serial: %w", err)
	}
	return fmt.Sprintf("%s%s%06d", c.sender, a.now().In(cst).Format("20060102150405"), n%1000000), nil
}
