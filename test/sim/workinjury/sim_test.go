package workinjury

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/schemas"
)

var keysOnce = sync.OnceValue(func() KeyPair {
	kp, err := GenerateKeyPair()
	if err != nil {
		panic(err)
	}
	return kp
})

// client plays the adapter against a simulator, with the same envelope.
type client struct {
	t    testing.TB
	srv  *Server
	opts smenvelope.Options
	keys smenvelope.Keys
	n    int
	// sender is the sender code its envelopes name ("": none).
	sender string
}

func newClient(t testing.TB, mutate func(*Config)) *client {
	t.Helper()
	kp := keysOnce()
	cfg := Config{Options: smenvelope.Defaults(), Keys: kp.SimulatorKeys(), BatchSize: 2}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if errs := s.OutputErrors(); len(errs) > 0 {
			t.Errorf("the simulator answered outside its output schemas: %v", errs)
		}
	})
	return &client{t: t, srv: s, opts: cfg.Options, keys: kp.AdapterKeys()}
}

// call sends one transaction and returns the answer code and output.
func (c *client) call(code string, input map[string]any) (string, map[string]any) {
	c.t.Helper()
	c.n++
	return c.callSerial(code, fmt.Sprintf("T%08d", c.n), input)
}

func (c *client) callSerial(code, serial string, input map[string]any) (string, map[string]any) {
	c.t.Helper()
	plain, _ := json.Marshal(input)
	head := map[string]string{"infno": code, "msgid": serial}
	if c.sender != "" {
		head[c.opts.Fields.Sender] = c.sender
	}
	env, err := smenvelope.Seal(c.opts, c.keys, head, plain)
	if err != nil {
		c.t.Fatal(err)
	}
	body, _ := json.Marshal(env)
	rec := httptest.NewRecorder()
	c.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		c.t.Fatalf("%s: HTTP %d %s", code, rec.Code, rec.Body)
	}
	out, _, err := smenvelope.Open(c.opts, c.keys, rec.Body.Bytes())
	var be *smenvelope.BusinessError
	if errors.As(err, &be) {
		return be.Code, nil
	}
	if err != nil {
		c.t.Fatalf("%s: open the answer: %v", code, err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber() // amounts keep their text: "40.00", never 40
	if err := dec.Decode(&m); err != nil {
		c.t.Fatal(err)
	}
	return "0", m
}

// TestDownloadQueue: a new download is refused while a batch is
// unacknowledged; GYD008 lists it; GYR005 hands it out again; GYU008
// acknowledges it once; a failed record comes back later.
func TestDownloadQueue(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	for i := 1; i <= 3; i++ {
		c.srv.AddApplication(SampleApplication("Q", i, "350200"))
	}
	code, out := c.call("GYD001", map[string]any{"aab299": "350200"})
	if code != "0" || out["record_count"] != json.Number("2") || out["has_more"] != "1" {
		t.Fatalf("first download: %s %v", code, out)
	}
	batch := out["batch_no"].(string)
	if code, _ := c.call("GYD001", map[string]any{"aab299": "350200"}); code != "E2001" {
		t.Fatalf("second download while unacknowledged: %s, want E2001", code)
	}
	_, out = c.call("GYD008", map[string]any{})
	if out["batch_count"] != json.Number("1") {
		t.Fatalf("GYD008 = %v", out)
	}
	if _, out = c.call("GYR005", map[string]any{"download_code": "GYD001", "batch_no": batch, "reason": "lost"}); out["accept_flag"] != "1" {
		t.Fatalf("GYR005 = %v", out)
	}
	if _, out = c.call("GYD001", map[string]any{"aab299": "350200"}); out["batch_no"] != batch {
		t.Fatalf("re-download gave batch %v, want %s", out["batch_no"], batch)
	}
	fb := map[string]any{"download_code": "GYD001", "batch_no": batch, "record_count": 2, "records": []any{
		map[string]any{"record_id": "SQQ00000001", "result_flag": "1"},
		map[string]any{"record_id": "SQQ00000002", "result_flag": "0", "fail_reason": "入库失败"},
	}}
	if code, _ := c.call("GYU008", fb); code != "0" {
		t.Fatalf("GYU008: %s", code)
	}
	if code, _ := c.call("GYU008", fb); code != "E2003" {
		t.Fatalf("second GYU008: %s, want E2003", code)
	}
	_, out = c.call("GYD001", map[string]any{"aab299": "350200"})
	recs := out["records"].([]any)
	if len(recs) != 2 || recs[0].(map[string]any)["apply_no"] != "SQQ00000002" {
		t.Fatalf("next batch = %v; want the failed record and the third", out)
	}
	if n := c.srv.Accepted("GYU008", batch); n != 1 {
		t.Fatalf("ledger has %d feedbacks for %s", n, batch)
	}
}

// TestRefusals covers the envelope-level answers.
func TestRefusals(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	if code, _ := c.callSerial("GYU000", "S1", map[string]any{"aab301": "350200", "aae036": "2025-04-01 09:30:00"}); code != "0" {
		t.Fatalf("GYU000: %s", code)
	}
	if code, _ := c.callSerial("GYU000", "S1", map[string]any{"aab301": "350200", "aae036": "2025-04-01 09:30:00"}); code != "E0002" {
		t.Fatalf("duplicate serial: %s", code)
	}
	if code, _ := c.call("GYU000", map[string]any{"aab301": "3502001"}); code != "E1001" {
		t.Fatalf("schema violation: %s", code)
	}
	if code, _ := c.call("GYX999", map[string]any{}); code != "E0004" {
		t.Fatalf("unknown code: %s", code)
	}
	other, _ := GenerateKeyPair()
	c.keys.Private = other.Hospital
	plain := []byte(`{}`)
	env, _ := smenvelope.Seal(c.opts, c.keys, map[string]string{"infno": "GYU000", "msgid": "S9"}, plain)
	body, _ := json.Marshal(env)
	rec := httptest.NewRecorder()
	c.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
	var ans map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &ans)
	if ans["code"] != "E0001" || ans["sign"] != nil || ans["data"] != nil {
		t.Fatalf("forged request answered %v; want an unsigned E0001", ans)
	}
}

// TestEveryTransaction sends every schema's example input: the simulator
// answers each with an output its schema accepts.
func TestEveryTransaction(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	c.srv.Seed(1, 1)
	list := schemas.Embedded().List("workinjury")
	if len(list) != 39 {
		t.Fatalf("%d work-injury schemas, want 39", len(list))
	}
	for _, sc := range list {
		code, _ := c.call(sc.Code, sc.ExampleInput())
		switch {
		case code == "0":
		case code[0] == 'E' && code != "E1001" && code != "E0003" && code != "E0004":
			// a business refusal of the example data is fine (e.g. unknown apply_no)
		default:
			t.Errorf("%s: answer %s", sc.Code, code)
		}
	}
	if errs := c.srv.OutputErrors(); len(errs) > 0 {
		t.Fatalf("answers that break the output schemas: %v", errs)
	}
}

// TestPerTransactionLayout: the code comes from the path.
func TestPerTransactionLayout(t *testing.T) {
	t.Parallel()
	c := newClient(t, func(cfg *Config) { cfg.Layout = LayoutPerTransaction; cfg.PathTemplate = "/api/{code}" })
	plain := []byte(`{"aab301":"350200","aae036":"2025-04-01 09:30:00"}`)
	env, _ := smenvelope.Seal(c.opts, c.keys, map[string]string{"msgid": "P1"}, plain)
	body, _ := json.Marshal(env)
	rec := httptest.NewRecorder()
	c.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/GYU000", bytes.NewReader(body)))
	if _, _, err := smenvelope.Open(c.opts, c.keys, rec.Body.Bytes()); err != nil {
		t.Fatalf("answer: %v", err)
	}
}

// TestHoldAndRelease: a held request waits until released.
func TestHoldAndRelease(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	h := c.srv.Inject(Fault{Code: "GYU000", Kind: FaultHold})
	done := make(chan string)
	go func() {
		code, _ := c.call("GYU000", map[string]any{"aab301": "350200", "aae036": "2025-04-01 09:30:00"})
		done <- code
	}()
	select {
	case <-h.Reached():
	case <-time.After(10 * time.Second):
		t.Fatal("the hold was not reached")
	}
	select {
	case <-done:
		t.Fatal("a held request answered")
	default:
	}
	h.Release()
	if code := <-done; code != "0" {
		t.Fatalf("after release: %s", code)
	}
}

// FuzzServeHTTP: any body gets an answer, never a panic.
func FuzzServeHTTP(f *testing.F) {
	kp := keysOnce()
	s, err := New(Config{Options: smenvelope.Defaults(), Keys: kp.SimulatorKeys()})
	if err != nil {
		f.Fatal(err)
	}
	s.Seed(1, 1)
	seed, _ := smenvelope.Seal(smenvelope.Defaults(), kp.AdapterKeys(), map[string]string{"infno": "GYD001", "msgid": "F1"}, []byte(`{"aab299":"350200"}`))
	sb, _ := json.Marshal(seed)
	f.Add(sb)
	f.Add([]byte(`{"infno":"GYU000","msgid":"x","data":"AAAA","key":"AAAA","sign":"AAAA"}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"infno":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
		if rec.Code != http.StatusOK || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("HTTP %d %q", rec.Code, rec.Body)
		}
	})
}

// TestRedownloadNeedsData: GYR005 is accepted only when there is something
// to download again (requirement 39: 前置校验（存在需要重复下载的数据）): a
// date range without an acknowledged batch of the code is refused; one
// with a batch hands its records out again.
func TestRedownloadNeedsData(t *testing.T) {
	t.Parallel()
	c := newClient(t, nil)
	c.srv.AddApplication(SampleApplication("RD", 1, "350200"))
	today := time.Now().In(cst).Format("2006-01-02")
	redownload := func(from, to string) string {
		t.Helper()
		code, out := c.call("GYR005", map[string]any{"download_code": "GYD001", "aae030": from, "aae031": to, "reason": "本地数据丢失"})
		if code != "0" {
			t.Fatalf("GYR005 %s~%s: %s %v", from, to, code, out)
		}
		return str(out, "accept_flag")
	}
	if got := redownload("2000-01-01", "2000-01-31"); got != "0" {
		t.Fatalf("GYR005 for a range without any download: accept_flag %s, want 0", got)
	}
	_, out := c.call("GYD001", map[string]any{"aab299": "350200"})
	batch := str(out, "batch_no")
	if got := redownload(today, today); got != "0" {
		t.Fatalf("GYR005 for a range whose only batch is not acknowledged (recovered by batch_no instead): accept_flag %s, want 0", got)
	}
	if code, _ := c.call("GYU008", map[string]any{"download_code": "GYD001", "batch_no": batch, "record_count": 1,
		"records": []any{map[string]any{"record_id": "SQRD00000001", "result_flag": "1"}}}); code != "0" {
		t.Fatalf("GYU008: %s", code)
	}
	if got := redownload(today, today); got != "1" {
		t.Fatalf("GYR005 for today's acknowledged batch: accept_flag %s, want 1", got)
	}
	if _, out = c.call("GYD001", map[string]any{"aab299": "350200"}); out["record_count"] != json.Number("1") {
		t.Fatalf("download after GYR005 = %v, want the record again", out)
	}
}
