package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/testenv"
)

// hl7Segments splits an HL7 v2 message the way any receiver would, without
// the project's hl7 package: segments on CR (or LF), fields on the field
// separator MSH-1, components on the first encoding character. It returns
// segment → occurrences → fields (fields[1] is field 1; for MSH, fields[1]
// is MSH-1 itself, as the standard counts).
func hl7Segments(t *testing.T, msg []byte) map[string][][]string {
	t.Helper()
	text := strings.ReplaceAll(string(msg), "\n", "\r")
	if !strings.HasPrefix(text, "MSH") || len(text) < 8 {
		t.Fatalf("not an HL7 message: %q", msg)
	}
	sep := string(text[3])
	out := map[string][][]string{}
	for _, line := range strings.Split(text, "\r") {
		if line == "" {
			continue
		}
		parts := strings.Split(line, sep)
		fields := append([]string{parts[0]}, parts[1:]...)
		if parts[0] == "MSH" {
			fields = append([]string{"MSH", sep}, parts[1:]...)
		}
		out[parts[0]] = append(out[parts[0]], fields)
	}
	return out
}

// field returns field n (component c from 1, 0 for the whole field) of
// the first segment named seg, or "".
func field(segs map[string][][]string, seg string, n, c int) string {
	occ := segs[seg]
	if len(occ) == 0 || n >= len(occ[0]) {
		return ""
	}
	v := occ[0][n]
	if c == 0 {
		return v
	}
	v, _, _ = strings.Cut(v, "~")
	comps := strings.Split(v, "^")
	if c > len(comps) {
		return ""
	}
	return comps[c-1]
}

// records polls a topic (read to its end each time, so an empty partition
// does not hold the read up) until it holds at least n records.
func records(t *testing.T, cfg *harness.Config, topic string, n int) []kafka.Message {
	t.Helper()
	var got []kafka.Message
	harness.Eventually(t, 60*time.Second, fmt.Sprintf("%d records on %s", n, topic), func() bool {
		got, _ = harness.ReadTopic(cfg.Brokers, topic, 0, 10*time.Second)
		return len(got) >= n
	})
	return got
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestOutboundHL7: at a site whose platform reads HL7 v2 (sites[].outbound,
// format hl7v2), a kafka-go consumer playing the platform receives the
// reply to an e-card registration as an HL7 ACK carrying the card number,
// and the ecard.registered and ecard.revoked events as ADT^A28 and
// ADT^A31 with the card number in PID-3, all parsed with an independent
// splitter; a wrongId mark made after the revocation as a second A31 with
// ZEC-5 WRONGID. A reply whose site mapping fails (an overlay mapping reads a
// field the reply does not have) still arrives, in medgate's JSON, with
// headers naming the mapping and the field, and is counted in
// medgate_outbound_mapping_failures_total.
func TestOutboundHL7(t *testing.T) {
	t.Parallel()
	cfg, mg, p := start(t, func(c *harness.Config) {
		ecardConfig(t, c)
		c.Sites[0]["code"] = "demo"
		c.Sites[0]["outbound"] = map[string]any{"format": "hl7v2", "replies": []string{"*"}, "events": []string{"ecard.*"}}
		dir := filepath.Join(c.Dir, "mappings", "demo", "out", "hl7v2")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		// A site mapping with a mistake: the QR reply has cardNo, not cardNumber.
		broken := "messageType: ACK\nsegments:\n  MSH:\n    fields:\n      MSH-7: {from: $.completedAt, expr: hl7ts(value)}\n      MSH-10: $.id\n" +
			"  MSA:\n    fields:\n      MSA-1: {value: AA}\n      MSA-2: $.requestId\n  ZQR:\n    fields:\n      ZQR-1: {from: $.payload.cardNumber, required: true}\n"
		if err := os.WriteFile(filepath.Join(dir, "reply.ecard.qrcode.yaml"), []byte(broken), 0o600); err != nil {
			t.Fatal(err)
		}
		c.Extra["transforms"] = filepath.Join(c.Dir, "mappings")
	})
	// The demo platform's own JSON, mapped inbound by demo/json/ecard.register.
	person := map[string]any{"person": map[string]any{"name": "赵六", "document": map[string]any{"type": "resident-id", "number": "11010519491231002X"}, "mobile": "13812345678"}}
	p.Send("11010519491231002X", harness.Request{ID: "ob-reg", Site: "demo", Type: "ecard.register", Payload: person})

	replies := records(t, cfg, cfg.Topics().Replies, 1)
	ack := replies[0]
	if header(ack, "medgate-format") != "hl7v2" || header(ack, "medgate-mapping") != "demo/out/hl7v2/reply.ecard.register" {
		t.Fatalf("reply headers %v, want medgate-format hl7v2 and the mapping's name; value %q", ack.Headers, ack.Value)
	}
	segs := hl7Segments(t, ack.Value)
	if field(segs, "MSH", 9, 1) != "ACK" || field(segs, "MSA", 1, 0) != "AA" || field(segs, "MSA", 2, 0) != "ob-reg" || field(segs, "MSH", 12, 0) != "2.5" {
		t.Fatalf("ACK = %q", ack.Value)
	}
	cardNo := field(segs, "ZEC", 1, 0)
	if cardNo == "" || field(segs, "ZEC", 2, 0) != "Y" {
		t.Fatalf("the ACK does not carry the new card in ZEC: %q", ack.Value)
	}

	events := records(t, cfg, cfg.Topics().Events, 1)
	adt := hl7Segments(t, events[0].Value)
	if header(events[0], "medgate-format") != "hl7v2" || field(adt, "MSH", 9, 0) != "ADT^A28^ADT_A05" ||
		field(adt, "PID", 3, 1) != cardNo || field(adt, "PID", 3, 5) != "PI" || field(adt, "PID", 5, 1) != "赵*" || field(adt, "ZEC", 2, 0) != "NN" {
		t.Fatalf("ecard.registered = %q (headers %v), want ADT^A28 with card %s in PID-3", events[0].Value, events[0].Headers, cardNo)
	}

	p.Send(cardNo,
		harness.Request{ID: "ob-qr", Site: "demo", Type: "ecard.qrcode", Payload: map[string]any{"cardNo": cardNo}},
		harness.Request{ID: "ob-revoke", Site: "demo", Type: "ecard.revoke", Payload: map[string]any{"cardNo": cardNo, "reason": "本人申请注销"}})
	replies = records(t, cfg, cfg.Topics().Replies, 3)
	byReq := map[string]kafka.Message{}
	for _, m := range replies {
		byReq[header(m, "medgate-request-id")] = m
	}
	qr := byReq["ob-qr"]
	var r harness.Reply
	if err := json.Unmarshal(qr.Value, &r); err != nil || r.Status != "ok" || r.RequestID != "ob-qr" {
		t.Fatalf("a reply whose mapping failed must arrive in medgate's JSON: %q (%v)", qr.Value, err)
	}
	if header(qr, "medgate-format") != "medgate-json" || header(qr, "medgate-mapping") != "demo/out/hl7v2/reply.ecard.qrcode" ||
		!strings.HasPrefix(header(qr, "medgate-mapping-error"), `ZQR-1: required: the source is empty but the target is required (source $.payload.cardNumber, target ZQR-1, mapping demo/out/hl7v2/reply.ecard.qrcode)`) {
		t.Fatalf("failed mapping headers %v", qr.Headers)
	}
	revoked := hl7Segments(t, byReq["ob-revoke"].Value)
	if field(revoked, "MSA", 1, 0) != "AA" || field(revoked, "MSA", 2, 0) != "ob-revoke" {
		t.Fatalf("revoke ACK = %q", byReq["ob-revoke"].Value)
	}
	harness.Eventually(t, 30*time.Second, "the failed mapping is counted", func() bool {
		return metric(t, mg, `medgate_outbound_mapping_failures_total{kind="reply",mapping="demo/out/hl7v2/reply.ecard.qrcode",site="demo"}`) == 1
	})

	events = records(t, cfg, cfg.Topics().Events, 3)
	byType := map[string][]byte{}
	for _, m := range events {
		byType[header(m, "medgate-type")] = m.Value
	}
	a31 := hl7Segments(t, byType["ecard.revoked"])
	if field(a31, "MSH", 9, 0) != "ADT^A31^ADT_A05" || field(a31, "PID", 3, 1) != cardNo || field(a31, "ZEC", 4, 0) != "本人申请注销" {
		t.Fatalf("ecard.revoked = %q", byType["ecard.revoked"])
	}
	zqr := hl7Segments(t, byType["ecard.qrcode.issued"])
	if field(zqr, "MSH", 9, 0) != "ADT^A31^ADT_A05" || field(zqr, "ZQR", 1, 0) != cardNo || len(field(zqr, "ZQR", 3, 0)) != 14 {
		t.Fatalf("ecard.qrcode.issued = %q", byType["ecard.qrcode.issued"])
	}
	if field(a31, "ZEC", 5, 0) != "" {
		t.Fatalf("a plain revocation says WRONGID: %q", byType["ecard.revoked"])
	}

	// Found out later: the card was registered with another person's ID
	// number. The mark reaches the platform as a second A31 with ZEC-5
	// WRONGID, the revocation's reason kept (before, no event at all).
	p.Send(cardNo, harness.Request{ID: "ob-wrongid", Site: "demo", Type: "ecard.revoke", Payload: map[string]any{"cardNo": cardNo, "reason": "证件号输错", "wrongId": true}})
	var wrongID []byte
	harness.Eventually(t, 60*time.Second, "a second ecard.revoked, marked WRONGID", func() bool {
		got, _ := harness.ReadTopic(cfg.Brokers, cfg.Topics().Events, 0, 10*time.Second)
		wrongID = nil
		n := 0
		for _, m := range got {
			if header(m, "medgate-type") == "ecard.revoked" {
				n++
				if field(hl7Segments(t, m.Value), "ZEC", 5, 0) == "WRONGID" {
					wrongID = m.Value
				}
			}
		}
		return n == 2 && wrongID != nil
	})
	mark := hl7Segments(t, wrongID)
	if field(mark, "MSH", 9, 0) != "ADT^A31^ADT_A05" || field(mark, "EVN", 4, 0) != "REVOKE" || field(mark, "PID", 3, 1) != cardNo ||
		field(mark, "ZEC", 1, 0) != "revoked" || field(mark, "ZEC", 4, 0) != "本人申请注销" {
		t.Fatalf("the wrongId mark = %q", wrongID)
	}

	// medgate's own CLI still reads its reply: it asks for medgate's JSON.
	bins := harness.Binaries(t)
	out, err := exec.Command(bins.Medgate, "send", "-config", cfg.Write(t, bins), "-site", "demo", "-type", "ecard.get", "-payload", `{"cardNo":"`+cardNo+`"}`, "-timeout", "60s").Output()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code, err = ee.ExitCode(), nil // a reply that is not ok exits 1
	}
	var got harness.Reply
	if err != nil || json.Unmarshal(out, &got) != nil || got.Type != "ecard.get" || got.Status == "" || (got.Status == "ok") != (code == 0) {
		t.Fatalf("medgate send at a site mapping its replies: exit %d, %v\n%s", code, err, out)
	}
}

// TestOutboundWorkInjuryFilings: at a site whose platform reads HL7 v2,
// the filings the scheduled GYD006 download fetches from the national
// system's simulator reach the platform as ADT^A31 with the filing in IN1
// and the insured person in PID, parsed with an independent splitter.
func TestOutboundWorkInjuryFilings(t *testing.T) {
	t.Parallel()
	brokers := testenv.Kafka(t)
	bins := harness.Binaries(t)
	sim, kp := newNationalSim(t, 0, 2)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg := harness.NewConfig(t, brokers)
	keyDir := writeAdapterKeys(t, kp, cfg)
	cfg.Plugins = []string{"workinjury"}
	cfg.Sites = []map[string]any{{"code": "demo",
		"plugins":  map[string]any{"workinjury": map[string]any{"settings": map[string]any{"url": srv.URL + "/gsyd", "regionCode": "350200", "keyDir": keyDir, "timeout": "3s"}}},
		"outbound": map[string]any{"format": "hl7v2", "events": []string{"workinjury.filing.downloaded", "workinjury.admission.downloaded"}},
	}}
	mg := harness.Start(t, bins, cfg.Write(t, bins))
	resp, err := http.Post("http://"+mg.HTTPAddr+"/admin/jobs/workinjury/demo/GYD006/run", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GYD006 job: %s", resp.Status)
	}
	events := records(t, cfg, cfg.Topics().Events, 2)
	n := 0
	for _, m := range events {
		if header(m, "medgate-type") != "workinjury.filing.downloaded" {
			continue
		}
		n++
		if header(m, "medgate-format") != "hl7v2" {
			t.Fatalf("filing event not mapped: headers %v, value %s", m.Headers, m.Value)
		}
		segs := hl7Segments(t, m.Value)
		if field(segs, "MSH", 9, 0) != "ADT^A31^ADT_A05" || field(segs, "PID", 3, 5) != "SS" || field(segs, "PID", 3, 1) == "" ||
			field(segs, "IN1", 2, 1) != "WI" || !strings.HasPrefix(field(segs, "IN1", 36, 0), "BA") || field(segs, "IN1", 36, 0) != field(segs, "ZWI", 1, 0) {
			t.Errorf("filing event = %q", m.Value)
		}
	}
	if n != 2 {
		t.Errorf("%d filing events, want 2", n)
	}
}
