package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	_ "image/png"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/qrscan"
	"github.com/medgate/medgate/test/testenv"
)

// ecardConfig enables the ecard plugin for site s1 with secrets in files.
func ecardConfig(t testing.TB, c *harness.Config) {
	t.Helper()
	dir := filepath.Join(c.Dir, "secrets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file:" + p
	}
	c.Plugins = append(c.Plugins, "ecard")
	c.Sites[0]["plugins"].(map[string]any)["ecard"] = map[string]any{"settings": map[string]any{
		"identitySecret":   write("identity", "e2e-identity-secret-0123456789abcdef"),
		"qrKeys":           write("qrkeys", "A:00112233445566778899aabbccddeeff"),
		"tempCardPrefixes": "9",
	}}
}

type ingress struct {
	t    testing.TB
	addr string
	n    int
}

func (in *ingress) call(typ string, payload any) (int, harness.Reply) {
	in.t.Helper()
	in.n++
	body, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("ec-%d-%d", time.Now().UnixNano(), in.n), "site": "s1", "type": typ, "payload": payload})
	resp, err := http.Post("http://"+in.addr+"/v1/messages", "application/json", bytes.NewReader(body))
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r harness.Reply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		in.t.Fatal(err)
	}
	return resp.StatusCode, r
}

// TestECardRegisterPrintScan registers a patient through Kafka, registers
// again through the HTTP ingress (same card), prints the QR code, decodes
// the PNG like a scanner would and scans it back to the patient.
func TestECardRegisterPrintScan(t *testing.T) {
	t.Parallel()
	_, mg, p := start(t, func(c *harness.Config) { ecardConfig(t, c) })
	person := map[string]any{"name": "张三丰", "idType": "01", "idNumber": "11010519491231002X", "phone": "13812345678"}
	p.Send("11010519491231002X", harness.Request{ID: "reg-kafka", Site: "s1", Type: "ecard.register", Payload: person})
	r := p.Replies([]string{"reg-kafka"}, 30*time.Second)["reg-kafka"]
	var reg struct{ CardNo string }
	if err := json.Unmarshal(r.Payload, &reg); r.Status != "ok" || err != nil || reg.CardNo == "" {
		t.Fatalf("register via Kafka: %+v", r)
	}
	in := &ingress{t: t, addr: mg.HTTPAddr}
	code, r2 := in.call("ecard.register", person)
	var again struct{ CardNo string }
	_ = json.Unmarshal(r2.Payload, &again)
	if code != 200 || again.CardNo != reg.CardNo {
		t.Fatalf("register again via HTTP: %d %+v, want card %s", code, r2, reg.CardNo)
	}
	code, bad := in.call("ecard.register", map[string]any{"name": "李四", "idType": "01", "idNumber": "110105194912310021", "phone": "13812345678"})
	if code != 422 || bad.Errors[0].Field != "$.idNumber" {
		t.Fatalf("bad ID number: %d %+v", code, bad)
	}
	code, qr := in.call("ecard.qrcode", map[string]any{"cardNo": reg.CardNo, "validity": "72h"})
	var q struct {
		Text string
		Png  string `json:"png"`
	}
	_ = json.Unmarshal(qr.Payload, &q)
	if code != 200 || q.Png == "" {
		t.Fatalf("qrcode: %d %+v", code, qr)
	}
	raw, err := base64.StdEncoding.DecodeString(q.Png)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := qrscan.Decode(img)
	if err != nil || decoded != q.Text {
		t.Fatalf("QR decode: %v %q want %q", err, decoded, q.Text)
	}
	code, scan := in.call("ecard.scan", map[string]any{"text": decoded})
	var s struct{ CardNo, Name, IDNumber string }
	_ = json.Unmarshal(scan.Payload, &s)
	// A QR scan names the card; the holder's identity comes back masked
	// (plugins/ecard README, Security): the card number alone reveals no one.
	if code != 200 || s.CardNo != reg.CardNo || s.Name != "张*丰" || strings.Contains(s.IDNumber, "19491231") {
		t.Fatalf("scan: %d %+v", code, scan)
	}
	code, nat := in.call("ecard.scan", map[string]any{"text": "11010519491231002X"})
	if code != 422 || nat.Errors[0].Rule != "not-ecard" {
		t.Fatalf("scan of an ID number: %d %+v", code, nat)
	}
	if logs := mg.Logs(); bytes.Contains([]byte(logs), []byte("11010519491231002X")) || bytes.Contains([]byte(logs), []byte("13812345678")) {
		t.Fatal("medgate's log contains an unmasked ID number or phone number")
	}
}

// BenchmarkECardScanIngress measures scans through the HTTP ingress of a
// running medgate (embedded broker, SQLite): the whole path a cashier's
// scanner takes. It reports p50 and p99 latency.
func BenchmarkECardScanIngress(b *testing.B) {
	bins := harness.Binaries(b)
	cfg := harness.NewConfig(b, nil)
	cfg.Embedded = true
	cfg.Listen = testenv.FreeAddr(b)
	cfg.Brokers = []string{cfg.Listen}
	ecardConfig(b, cfg)
	mg := harness.Start(b, bins, cfg.Write(b, bins))
	in := &ingress{t: b, addr: mg.HTTPAddr}
	_, r := in.call("ecard.register", map[string]any{"name": "王五", "idType": "01", "idNumber": "11010519491231002X", "phone": "13912345678"})
	var reg struct{ CardNo string }
	_ = json.Unmarshal(r.Payload, &reg)
	_, qr := in.call("ecard.qrcode", map[string]any{"cardNo": reg.CardNo})
	var q struct{ Text string }
	_ = json.Unmarshal(qr.Payload, &q)
	for range 20 { // warm up connections and plugin
		in.call("ecard.scan", map[string]any{"text": q.Text})
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		code, _ := in.call("ecard.scan", map[string]any{"text": q.Text})
		lat = append(lat, time.Since(t0))
		if code != 200 {
			b.Fatalf("scan: HTTP %d", code)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// TestTransformsMapPlatformMessages: at the demo site the platform sends
// its own JSON and HL7 v2; the site's mappings (transforms/mappings/demo)
// turn them into ecard.register inputs, and a message the mapping cannot
// map gets an invalid reply naming the mapping, without a plugin call.
func TestTransformsMapPlatformMessages(t *testing.T) {
	t.Parallel()
	_, mg, p := start(t, func(c *harness.Config) {
		ecardConfig(t, c)
		c.Sites[0]["code"] = "demo"
	})
	hl7 := "MSH|^~\\&|HIS|XMDEMO|MEDGATE|XMDEMO|20250501090000||ADT^A28^ADT_A05|ADT1|P|2.5|||||CHN|UNICODE UTF-8\r" +
		"EVN|A28|20250501090000\rPID|1||11010519491231002X^^^CHN^NN||王小梅^^^^^^L||19491231|F|||||13812345678\r"
	p.Send("11010519491231002X",
		harness.Request{ID: "tf-json", Site: "demo", Type: "ecard.register", Payload: map[string]any{
			"person": map[string]any{"name": " 王小梅 ", "document": map[string]any{"type": "resident-id", "number": "11010519491231002X"}, "mobile": "138-1234 5678"}}},
		harness.Request{ID: "tf-hl7", Site: "demo", Type: "ecard.register", Format: "hl7v2", Payload: hl7},
		harness.Request{ID: "tf-bad", Site: "demo", Type: "ecard.register", Payload: map[string]any{
			"person": map[string]any{"name": "李四", "document": map[string]any{"type": "military-id", "number": "JUN1"}}}},
	)
	replies := p.Replies([]string{"tf-json", "tf-hl7", "tf-bad"}, 60*time.Second)
	var a, b struct{ CardNo string }
	_ = json.Unmarshal(replies["tf-json"].Payload, &a)
	_ = json.Unmarshal(replies["tf-hl7"].Payload, &b)
	if replies["tf-json"].Status != "ok" || a.CardNo == "" || b.CardNo != a.CardNo {
		t.Fatalf("platform JSON and HL7 for the same person must give one card: %+v / %+v", replies["tf-json"], replies["tf-hl7"])
	}
	bad := replies["tf-bad"]
	if bad.Status != "invalid" || len(bad.Errors) == 0 || !bytes.Contains([]byte(bad.Errors[0].Message), []byte("demo/json/ecard.register")) {
		t.Fatalf("unmappable message: %+v, want invalid naming the mapping", bad)
	}
	_ = mg
}
