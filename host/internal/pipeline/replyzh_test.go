package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestHostReplyErrorsLeadInChinese: the reply errors the host makes itself
// (giving up, a plugin that does not answer or crashes, a circuit open, a
// site, plugin or operation not configured, a message too large, a
// replyTo not allowed, a message id in use or reused) are read on the console by
// Chinese-reading staff: each starts in Chinese, keeps its English after
// it and its rule id unchanged.
func TestHostReplyErrorsLeadInChinese(t *testing.T) {
	t.Parallel()
	answer := func(r *sdk.HandleResponse) func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
		return func(*sdk.HandleRequest) (*sdk.HandleResponse, error) { return r, nil }
	}
	cases := map[string]struct {
		value   []byte
		answers []func(*sdk.HandleRequest) (*sdk.HandleResponse, error)
		setup   func(t *testing.T, p *Processor, st store.Store) // before the message
		// reply, when set, gives the reply to look at instead of the one
		// Process returns for value: one published, or one made on a path
		// Process reaches only from a Kafka consumer.
		reply   func(t *testing.T, p *Processor, pub *memPub) message.Reply
		rule    string
		english string // the English the message keeps
	}{
		"gives up": {value: msg("c", "x.do"), answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){transient},
			rule: "retries", english: "gave up after 4 attempt(s)"},
		"plugin does not answer": {value: msg("u", "x.do"), answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){broken},
			rule: "unavailable", english: "the plugin did not answer: connection is shut down"},
		"plugin answers with an error": {value: msg("ue", "x.do"), answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
			return nil, fmt.Errorf("plugin %q: %w", "x", sdkhost.NewPluginError("Handle", status.New(codes.Internal, "lab: no result for sample S1")))
		}}, rule: "unavailable", english: "the plugin answered with an error: plugin \"x\": its Handle returned an error: lab: no result for sample S1"},
		"external system does not answer": {value: msg("t", "x.do"), answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){answer(&sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true})},
			rule: "transient", english: "the external system did not answer"},
		"unknown status": {value: msg("s", "x.do"), answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){answer(&sdk.HandleResponse{Status: "maybe"})},
			rule: "plugin", english: `the plugin returned an unknown status "maybe"`},
		"invalid without why": {value: msg("w", "x.do"), answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){answer(&sdk.HandleResponse{Status: sdk.StatusInvalid})},
			rule: "invalid", english: "the plugin rejected the input without saying why"},
		"not JSON":             {value: []byte(`hello`), rule: "syntax", english: "the message is not a valid request envelope"},
		"two envelopes":        {value: []byte(`{"id":"a2","site":"s1","type":"x.do","payload":{}} {}`), rule: "syntax", english: "extra data after the JSON object"},
		"id missing":           {value: []byte(`{"site":"s1","type":"x.do","payload":{}}`), rule: "required", english: "id is required"},
		"id malformed":         {value: []byte(`{"id":"a b","site":"s1","type":"x.do","payload":{}}`), rule: "format", english: "id must be 1 to 128"},
		"site missing":         {value: []byte(`{"id":"a3","type":"x.do","payload":{}}`), rule: "required", english: "site is required"},
		"type malformed":       {value: []byte(`{"id":"a4","site":"s1","type":"xdo","payload":{}}`), rule: "format", english: `type "xdo" must be`},
		"occurredAt malformed": {value: []byte(`{"id":"a5","site":"s1","type":"x.do","occurredAt":"2026-04-01 10:15","payload":{}}`), rule: "format", english: `occurredAt "2026-04-01 10:15" is not an RFC 3339 time`},
		"payload missing":      {value: []byte(`{"id":"a6","site":"s1","type":"x.do"}`), rule: "required", english: "payload is required"},
		"format unknown":       {value: []byte(`{"id":"a7","site":"s1","type":"x.do","format":"xml","payload":{}}`), rule: "enum", english: `format "xml" is not supported`},
		"hl7 not a string":     {value: []byte(`{"id":"a8","site":"s1","type":"x.do","format":"hl7v2","payload":{}}`), rule: "type", english: `with format "hl7v2" the payload is`},
		"not UTF-8":            {value: []byte(`{"id":"a9","site":"s1","type":"x.do","payload":{"n":"` + "\xd5\xc5" + `"}}`), rule: "encoding", english: "the message is not UTF-8 text"},
		"too large":            {value: append([]byte(`{"id":"big","x":"`), make([]byte, 2000)...), rule: "size", english: "the limit is 1024 (processing.maxPayloadBytes)"},
		"unknown site":         {value: []byte(`{"id":"g","site":"zz","type":"x.do","payload":{}}`), rule: "unknown", english: `site "zz" is not configured; known sites: s1`},
		"disabled plugin":      {value: []byte(`{"id":"h","site":"s1","type":"off.do","payload":{}}`), rule: "disabled", english: `plugin "off" is disabled for site "s1"`},
		"unknown plugin":       {value: []byte(`{"id":"n","site":"s1","type":"nope.do","payload":{}}`), rule: "unknown", english: `no plugin "nope" is enabled for site "s1"`},
		"unknown operation":    {value: []byte(`{"id":"i","site":"s1","type":"x.nope","payload":{}}`), rule: "unknown", english: `plugin "x" has no operation "x.nope"; it offers: x.do`},
		"plugin crashes": {value: msg("p", "x.do"), answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
			return nil, &pluginhost.CrashError{Plugin: "x", Err: errors.New("connection is shut down")}
		}}, rule: RulePluginCrash, english: "the x plugin process died during 4 calls handling this message, 3 of them with no other message in the plugin"},
		"circuit open": {value: msg("o", "x.do"), answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){transient},
			setup: func(t *testing.T, p *Processor, _ store.Store) {
				p.brk = newBreaker(1, time.Hour)
				p.brk.done("x/s1", true, time.Now())
				p.opts.RetryBudget = 20 * time.Millisecond
			}, rule: "circuit", english: `plugin "x" at site "s1" failed repeatedly; calls pause for`},
		"replyTo not allowed": {value: []byte(`{"id":"y","site":"s1","type":"x.do","replyTo":"his.replies","payload":{}}`),
			rule: "allowed", english: `replyTo "his.replies" is not a reply topic of this medgate; leave replyTo out to get the reply on replies`},
		"id in use under another key": {value: msg("busy", "x.do"),
			setup: func(t *testing.T, _ *Processor, st store.Store) {
				if _, _, err := st.BeginMessage(t.Context(), store.Message{ID: "busy", Site: "s1", Type: "x.do", Key: "K1", Request: msg("busy", "x.do"), Attempts: 1}); err != nil {
					t.Fatal(err)
				}
			}, rule: RuleIDInUse, english: `message id "busy" is in use`},
		"id reused": {value: []byte(`{"id":"twice","site":"s1","type":"x.do","payload":{"b":2}}`),
			setup: func(t *testing.T, p *Processor, _ store.Store) {
				if _, err := p.Process(t.Context(), Input{Value: []byte(`{"id":"twice","site":"s1","type":"x.do","payload":{"a":1}}`), Key: "k"}); err != nil {
					t.Fatal(err)
				}
			}, rule: RuleIDReused, english: `message id "twice" was already used for another message (of this site, type "x.do")`},
		"request not in the store": {rule: RuleRequestNotStored, english: `this record refers (header medgate-request-stored) to the request of message "ghost" in medgate's store, but the store has no record of it`,
			reply: func(t *testing.T, p *Processor, _ *memPub) message.Reply {
				// The delivery of a reference (HeaderStoredRequest) to a
				// message the store does not hold.
				value, r, err := p.storedRequest(t.Context(), "ghost", Input{Value: []byte(`{"id":"ghost","site":"s1","type":"x.do"}`), Key: "k"}, time.Now())
				if err != nil || value != nil || r == nil {
					t.Fatalf("storedRequest = %s, %+v, %v; want an invalid reply", value, r, err)
				}
				return *r
			}},
		"reply published truncated": {value: msg("big", "x.do"), answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){answer(&sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"data":"` + strings.Repeat("x", 2000) + `"}`)})},
			setup: func(t *testing.T, p *Processor, _ store.Store) { p.opts.MaxRecordBytes = 1000 },
			rule:  "truncated", english: "bytes, more than the 1000 a Kafka record may hold; the payload was dropped. The complete reply is stored: GET /admin/messages/big",
			reply: func(t *testing.T, _ *Processor, pub *memPub) message.Reply { return lastPublished(t, pub, "replies") }},
		"DLQ record published truncated": {value: []byte(`{"id":"dl","site":"s1","type":"x.do","replyTo":"his.replies","payload":{"data":"` + strings.Repeat("x", 600) + `"}}`),
			setup: func(t *testing.T, p *Processor, _ store.Store) { p.opts.MaxRecordBytes = 1000 },
			rule:  "truncated", english: "bytes, more than the 1000 a Kafka record may hold; the payload was dropped. The complete reply is stored: GET /admin/messages/dl",
			reply: func(t *testing.T, _ *Processor, pub *memPub) message.Reply {
				recs := pub.on("dlq")
				if len(recs) != 1 {
					t.Fatalf("%d DLQ records, want 1", len(recs))
				}
				var d message.DeadLetter
				if err := json.Unmarshal(recs[0].value, &d); err != nil || d.Reply == nil || !d.Truncated {
					t.Fatalf("DLQ record %s (%v): want a truncated one with the reply", recs[0].value, err)
				}
				return *d.Reply
			}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := &scripted{answers: tc.answers}
			if h.answers == nil {
				h.answers = []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}
			}
			p, pub, st := newProc(t, h, false)
			if tc.setup != nil {
				tc.setup(t, p, st)
			}
			r := &message.Reply{}
			if tc.value != nil {
				var err error
				if r, err = p.Process(t.Context(), Input{Value: tc.value, Key: "k"}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.reply != nil {
				rep := tc.reply(t, p, pub)
				r = &rep
			}
			found := false
			for _, e := range r.Errors {
				if e.Rule != tc.rule {
					continue
				}
				found = true
				if first, _ := utf8.DecodeRuneInString(e.Message); !unicode.Is(unicode.Han, first) {
					t.Errorf("rule %s: the message does not start in Chinese: %q", e.Rule, e.Message)
				}
				if i := strings.Index(e.Message, tc.english); i < 0 {
					t.Errorf("rule %s: the message lost its English %q: %q", e.Rule, tc.english, e.Message)
				} else if !strings.ContainsFunc(e.Message[:i], func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
					t.Errorf("rule %s: no Chinese before the English: %q", e.Rule, e.Message)
				}
			}
			if !found {
				t.Fatalf("no error with rule %q in %+v", tc.rule, r.Errors)
			}
		})
	}
}

// lastPublished returns the last reply pub holds on topic.
func lastPublished(t *testing.T, pub *memPub, topic string) message.Reply {
	t.Helper()
	recs := pub.on(topic)
	if len(recs) == 0 {
		t.Fatalf("no reply published on %s", topic)
	}
	var r message.Reply
	if err := json.Unmarshal(recs[len(recs)-1].value, &r); err != nil {
		t.Fatalf("reply on %s is not JSON: %v", topic, err)
	}
	return r
}

// TestUnconfiguredSaysResendUnderNewID: the refusal of a message whose
// site, plugin or operation is not configured says that it is stored
// under the message's id and that, once configured, the message goes
// again under a new id, which is what happens: the same id gets the
// stored refusal after the configuration is fixed. The replies said only
// "enable the plugin for the site", and a platform that had it enabled
// and resent got the refusal for good.
func TestUnconfiguredSaysResendUnderNewID(t *testing.T) {
	t.Parallel()
	for name, value := range map[string]string{
		"unknown site":      `{"id":"g","site":"zz","type":"x.do","payload":{}}`,
		"disabled plugin":   `{"id":"h","site":"s1","type":"off.do","payload":{}}`,
		"unknown plugin":    `{"id":"n","site":"s1","type":"nope.do","payload":{}}`,
		"unknown operation": `{"id":"i","site":"s1","type":"x.nope","payload":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
			p, _, _ := newProc(t, h, false)
			r, err := p.Process(t.Context(), Input{Value: []byte(value), Key: "k"})
			if err != nil || len(r.Errors) != 1 {
				t.Fatalf("reply %+v, %v", r, err)
			}
			msg := r.Errors[0].Message
			if !strings.Contains(msg, "send the message again under a new id") || !strings.Contains(msg, "请用新的消息 ID 重发") {
				t.Errorf("the refusal does not say to resend under a new id: %s", msg)
			}
			// Configured now, the same id still gets the stored refusal.
			ops := map[string]sdk.Operation{"x.do": {Type: "x.do"}, "x.nope": {Type: "x.nope"}, "off.do": {Type: "off.do"}, "nope.do": {Type: "nope.do"}}
			all := map[string]*Target{"x": {Plugin: "x", Handler: h, Operations: ops}, "off": {Plugin: "off", Handler: h, Operations: ops}, "nope": {Plugin: "nope", Handler: h, Operations: ops}}
			p.SetRoutes(&Routes{Sites: map[string]map[string]*Target{"s1": all, "zz": all}})
			again, err := p.Process(t.Context(), Input{Value: []byte(value), Key: "k"})
			if err != nil || again.Status != message.StatusInvalid || again.ID != r.ID || len(h.calls) != 0 {
				t.Errorf("the same id once configured: %+v, %v, %d calls; want the stored refusal", again, err, len(h.calls))
			}
		})
	}
}
