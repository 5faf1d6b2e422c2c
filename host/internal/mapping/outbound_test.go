package mapping

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/message"
)

// TestOutbound: a listed reply or event type with a mapping goes out in
// the site's format with headers saying so; an unlisted or unmapped type
// keeps medgate's JSON; a mapping that fails leaves medgate's JSON with
// the reason in a header and counts the failure.
func TestOutbound(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Sites: []config.Site{
		{Code: "demo", Outbound: &config.Outbound{Format: "hl7v2", Replies: []string{"*"}, Events: []string{"ecard.*"}}},
		{Code: "other"},
	}}
	sets, err := Compile(cfg, map[string]source{})
	if err != nil {
		t.Fatal(err)
	}
	var m Mappings
	reg := prometheus.NewRegistry()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	m.Set(sets)
	reply := []byte(`{"id":"r1","requestId":"q1","site":"demo","type":"ecard.revoke","status":"ok","completedAt":"2026-12-03T02:00:00Z"}`)

	h := map[string]string{}
	out := m.Outbound("reply", "demo", "ecard.revoke", reply, h)
	if !strings.HasPrefix(string(out), "MSH|^~\\&|MEDGATE|demo|") || !strings.Contains(string(out), "\rMSA|AA|q1\r") {
		t.Errorf("reply = %q, want an ACK with MSA|AA|q1", out)
	}
	if h[message.HeaderFormat] != "hl7v2" || h[message.HeaderMapping] != "demo/out/hl7v2/reply" {
		t.Errorf("headers = %v", h)
	}

	h = map[string]string{}
	bad := []byte(strings.Replace(string(reply), `"ok"`, `"pending"`, 1))
	if out := m.Outbound("reply", "demo", "ecard.revoke", bad, h); string(out) != string(bad) {
		t.Errorf("a failed mapping must leave medgate's JSON, got %q", out)
	}
	if h[message.HeaderFormat] != message.FormatMedgate || !strings.Contains(h[message.HeaderMappingError], `MSA-1: unmapped: code "pending" is not in code table "ackCodes"`) {
		t.Errorf("headers = %v", h)
	}
	if n := failures(t, reg); n != 1 {
		t.Errorf("medgate_outbound_mapping_failures_total = %v, want 1", n)
	}

	for name, tc := range map[string]struct{ kind, site, typ string }{
		"event type not listed":  {"event", "demo", "workinjury.admission.downloaded"},
		"event type not mapped":  {"event", "demo", "ecard.nomapping"}, // listed by ecard.*, no mapping
		"site without outbound:": {"reply", "other", "ecard.register"},
	} {
		h := map[string]string{}
		doc := []byte(`{"id":"e1","type":"` + tc.typ + `","payload":{"cardNo":"E1"}}`)
		if out := m.Outbound(tc.kind, tc.site, tc.typ, doc, h); string(out) != string(doc) || len(h) != 0 {
			t.Errorf("%s: got %q %v, want medgate's JSON unchanged and no headers", name, out, h)
		}
	}
	h = map[string]string{}
	ev := []byte(`{"id":"ecard.revoked/E1","site":"demo","type":"ecard.revoked","occurredAt":"2026-12-03T02:00:00Z","publishedAt":"2026-12-03T02:00:00Z","payload":{"cardNo":"E1","status":"dead"}}`)
	if out := m.Outbound("event", "demo", "ecard.revoked", ev, h); !strings.Contains(string(out), "ADT^A31^ADT_A05") || !strings.Contains(string(out), "\rPID|||E1^^^ECARD^PI\r") {
		t.Errorf("event = %q", out)
	}
}

// TestOutboundConfigProblems: every listed type without a mapping is a
// problem, all at once, each with its path.
func TestOutboundConfigProblems(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Sites: []config.Site{
		{Code: "demo", Outbound: &config.Outbound{Format: "json", Replies: []string{"*"}, Events: []string{"ecard.registered", "workinjury.*"}}},
		{Code: "xm01", Outbound: &config.Outbound{Format: "hl7v2", Events: []string{"ecard.registered"}}},
	}}
	_, err := Compile(cfg, map[string]source{})
	if err == nil {
		t.Fatal("want problems")
	}
	for _, want := range []string{
		`sites[0].outbound.replies[0]: no reply mapping serves "*" for format json; add demo/out/json/reply.yaml`,
		`sites[0].outbound.events[1]: no event mapping serves "workinjury.*" for format json; add demo/out/json/event.workinjury.yaml`,
		`sites[1].outbound.events[0]: no event mapping serves "ecard.registered" for format hl7v2; add xm01/out/hl7v2/event.ecard.registered.yaml`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "events[0]: no event mapping serves \"ecard.registered\" for format json") {
		t.Errorf("demo has a json mapping for ecard.registered:\n%v", err)
	}
}

// failures sums medgate_outbound_mapping_failures_total in reg.
func failures(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "medgate_outbound_mapping_failures_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// TestHL7Type: an MSH-9 read by one hl7v2 mapping of the site gives its
// type; read by several or none, an error says what to configure.
func TestHL7Type(t *testing.T) {
	t.Parallel()
	sets, err := Compile(&config.Config{Sites: []config.Site{{Code: "demo"}}}, map[string]source{})
	if err != nil {
		t.Fatal(err)
	}
	var m Mappings
	m.Set(sets)
	if typ, err := m.HL7Type("demo", "ADT^A28"); err != nil || typ != "ecard.register" {
		t.Errorf("ADT^A28 = %q, %v; want ecard.register", typ, err)
	}
	if _, err := m.HL7Type("demo", "DFT^P03"); err == nil || !strings.Contains(err.Error(), "read by the mappings of several types (selfpay.4201A, workinjury.GYU102)") {
		t.Errorf("DFT^P03: err = %v, want several types named", err)
	}
	if _, err := m.HL7Type("xm01", "ADT^A28"); err == nil || !strings.Contains(err.Error(), "no hl7v2 mapping of site xm01 reads ADT^A28") {
		t.Errorf("another site: err = %v", err)
	}
	ack, name, ok := m.ReplyHL7("demo", "ecard.register", []byte(`{"id":"r1","requestId":"hl7:HIS:XM:A:1","site":"demo","status":"invalid","errors":[{"rule":"required","message":"m"}],"completedAt":"2026-12-03T02:00:00Z"}`))
	if !ok || name != "demo/out/hl7v2/reply.ecard.register" || !strings.Contains(string(ack), "\rMSA|AR|A:1|m\r") {
		t.Errorf("ReplyHL7 = %q %s %v", ack, name, ok)
	}
}

// TestOutboundErrorHeaderUTF8: the mapping error header is cut to its
// limit at a character boundary: a Kafka header of text stays UTF-8.
func TestOutboundErrorHeaderUTF8(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Sites: []config.Site{{Code: "demo", Outbound: &config.Outbound{Format: "hl7v2", Replies: []string{"*"}}}}}
	sets, err := Compile(cfg, map[string]source{})
	if err != nil {
		t.Fatal(err)
	}
	var m Mappings
	m.Set(sets)
	bad := []byte(`{"id":"r1","requestId":"q1","site":"demo","type":"ecard.revoke","status":"` + strings.Repeat("中", 400) + `","completedAt":"2026-12-03T02:00:00Z"}`)
	h := map[string]string{}
	m.Outbound("reply", "demo", "ecard.revoke", bad, h)
	text := h[message.HeaderMappingError]
	if text == "" || len(text) > 1024 || !utf8.ValidString(text) {
		t.Errorf("medgate-mapping-error is %d bytes, valid UTF-8 %v: %q", len(text), utf8.ValidString(text), text)
	}
}
