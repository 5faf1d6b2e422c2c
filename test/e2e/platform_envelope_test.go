package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/test/harness"
)

// TestPlatformEnvelopeErrors plays a platform that gets the envelope wrong
// in every way the README's message contract names, one message each on
// one key, then a good message on that key: each bad one must get its
// invalid reply at once, with the field and rule of what is wrong and a
// message that says how to fix it, and a DLQ record with the request;
// nothing is lost or blocks the key.
func TestPlatformEnvelopeErrors(t *testing.T) {
	t.Parallel()
	cfg, _, p := start(t, func(c *harness.Config) {
		c.Sites = append(c.Sites, map[string]any{"code": "s2", "plugins": map[string]any{"ledger": map[string]any{"enabled": false}}})
		c.Extra["processing"] = map[string]any{"initialBackoff": "50ms", "maxBackoff": "500ms", "maxPayloadBytes": 20000}
	})
	const key = "ZY-ENV-1"
	cases := map[string]struct {
		key, value  string
		field, rule string
		hint        string // the message must say this
	}{
		"no id":            {"", `{"site":"s1","type":"ledger.record","payload":{"seq":1}}`, "$.id", "required", "unique message id"},
		"no site":          {"", `{"id":"env-nosite","type":"ledger.record","payload":{"seq":1}}`, "$.site", "required", "site code"},
		"no type":          {"", `{"id":"env-notype","site":"s1","payload":{"seq":1}}`, "$.type", "required", "<plugin>.<operation>"},
		"no payload":       {"", `{"id":"env-nopayload","site":"s1","type":"ledger.record"}`, "$.payload", "required", "a JSON value"},
		"unknown member":   {"", `{"id":"env-member","site":"s1","type":"ledger.record","payload":{"seq":1},"reply_to":"x"}`, "$", "syntax", "replyTo"},
		"bad replyTo":      {"", `{"id":"env-replyto","site":"s1","type":"ledger.record","replyTo":"his replies","payload":{"seq":1}}`, "$.replyTo", "format", "kafka.topics.replyTo"},
		"bad format":       {"", `{"id":"env-format","site":"s1","type":"ledger.record","format":"xml","payload":{"seq":1}}`, "$.format", "enum", "use json or hl7v2"},
		"bad occurredAt":   {"", `{"id":"env-time","site":"s1","type":"ledger.record","occurredAt":"2026-11-26 08:30","payload":{"seq":1}}`, "$.occurredAt", "format", "RFC 3339"},
		"unknown site":     {"", `{"id":"env-site","site":"nowhere","type":"ledger.record","payload":{"seq":1}}`, "$.site", "unknown", "known sites: s1, s2"},
		"plugin disabled":  {"", `{"id":"env-disabled","site":"s2","type":"ledger.record","payload":{"seq":1}}`, "$.type", "disabled", "enables it"},
		"plugin not there": {"", `{"id":"env-noplugin","site":"s1","type":"ecard.register","payload":{"seq":1}}`, "$.type", "unknown", "enable the plugin"},
		"unknown type":     {"", `{"id":"env-op","site":"s1","type":"ledger.nope","payload":{"seq":1}}`, "$.type", "unknown", "it offers"},
		"not JSON":         {"", `{"id":"env-json","site":"s1",`, "$", "syntax", "send a JSON object"},
		"too large":        {"", `{"id":"env-large","site":"s1","type":"ledger.record","payload":{"seq":1,"pad":"` + strings.Repeat("x", 20000) + `"}}`, "$", "size", "processing.maxPayloadBytes"},
		"key too long":     {strings.Repeat("K", 600), `{"id":"env-key","site":"s1","type":"ledger.record","payload":{"seq":1}}`, "", "key", "at most 512 bytes"},
	}
	var msgs []kafka.Message
	for name, tc := range cases {
		k := tc.key
		if k == "" {
			k = key
		}
		msgs = append(msgs, kafka.Message{Key: []byte(k), Value: []byte(tc.value), Headers: []kafka.Header{{Key: "medgate-trace-id", Value: []byte("env-" + strings.ReplaceAll(name, " ", "-"))}}})
	}
	good, _ := json.Marshal(record("env-good", 1))
	msgs = append(msgs, kafka.Message{Key: []byte(key), Value: good})
	p.SendRaw(msgs...)

	byTrace := map[string]harness.Reply{}
	harness.Eventually(t, 90*time.Second, "a reply to every message", func() bool {
		got, _ := harness.ReadTopic(cfg.Brokers, cfg.Topics().Replies, 0, 10*time.Second)
		for _, m := range got {
			var r harness.Reply
			if err := json.Unmarshal(m.Value, &r); err != nil {
				t.Fatalf("a reply is not JSON: %v: %s", err, m.Value)
			}
			byTrace[header(m, "medgate-trace-id")] = r
			if header(m, "medgate-request-id") != r.RequestID || header(m, "medgate-status") != r.Status || header(m, "medgate-type") != r.Type {
				t.Errorf("reply headers %v do not match the reply %s", m.Headers, m.Value)
			}
		}
		return len(byTrace) >= len(msgs)
	})
	for name, tc := range cases {
		r := byTrace["env-"+strings.ReplaceAll(name, " ", "-")]
		if r.Status != "invalid" || len(r.Errors) != 1 {
			t.Errorf("%s: reply %+v, want invalid with one error", name, r)
			continue
		}
		e := r.Errors[0]
		if e.Field != tc.field || e.Rule != tc.rule || !strings.Contains(e.Message, tc.hint) {
			t.Errorf("%s: error %s %s %q, want %s %s saying %q", name, e.Field, e.Rule, e.Message, tc.field, tc.rule, tc.hint)
		}
	}
	var goodReply harness.Reply
	for _, r := range byTrace {
		if r.RequestID == "env-good" {
			goodReply = r
		}
	}
	if goodReply.Status != "ok" {
		t.Errorf("the good message behind the bad ones on their key: %+v, want ok", goodReply)
	}
	dlq := records(t, cfg, cfg.Topics().DLQ, len(cases))
	for _, m := range dlq {
		var dl struct {
			Reason      string          `json:"reason"`
			Request     json.RawMessage `json:"request"`
			RequestText string          `json:"requestText"`
		}
		if err := json.Unmarshal(m.Value, &dl); err != nil || dl.Reason == "" || (len(dl.Request) == 0 && dl.RequestText == "") {
			t.Errorf("DLQ record %.300s: want the reason and the request", m.Value)
		}
	}
	if len(dlq) != len(cases) {
		t.Errorf("%d DLQ records, want %d", len(dlq), len(cases))
	}
}
