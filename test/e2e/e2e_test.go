// Package e2e runs the real medgate binary with real plugin binaries
// against a real Apache Kafka broker (and the embedded one), with the
// integration platform played by segmentio/kafka-go.
package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/testenv"
)

func TestMain(m *testing.M) { harness.Main(m) }

// start runs medgate against the real broker with cfg (or a default one).
func start(t *testing.T, edit func(c *harness.Config)) (*harness.Config, *harness.Medgate, *harness.Platform) {
	t.Helper()
	brokers := testenv.Kafka(t)
	bins := harness.Binaries(t)
	cfg := harness.NewConfig(t, brokers)
	if edit != nil {
		edit(cfg)
	}
	mg := harness.Start(t, bins, cfg.Write(t, bins))
	return cfg, mg, harness.NewPlatform(t, brokers, cfg.Topics())
}

func record(id string, seq int) harness.Request {
	return harness.Request{ID: id, Site: "s1", Type: "ledger.record", OccurredAt: time.Now().Format(time.RFC3339), Payload: map[string]any{"seq": seq}}
}

// effect is one line of the ledger plugin's effects.log.
type effect struct {
	id, key string
	seq     int
}

// repliesOf reads the replies topic until it holds n replies to request id
// (for 30s) and returns them in topic order.
func repliesOf(t *testing.T, cfg *harness.Config, id string, n int) []harness.Reply {
	t.Helper()
	var replies []harness.Reply
	harness.Eventually(t, 30*time.Second, fmt.Sprintf("%d replies to %s on the replies topic", n, id), func() bool {
		replies = nil
		msgs, _ := harness.ReadTopic(cfg.Brokers, cfg.Topics().Replies, 0, 5*time.Second)
		for _, m := range msgs {
			var r harness.Reply
			if json.Unmarshal(m.Value, &r) == nil && r.RequestID == id {
				replies = append(replies, r)
			}
		}
		return len(replies) == n
	})
	return replies
}

func readLedger(t *testing.T, dir, name string) []effect {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, name))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []effect
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "\t")
		e := effect{id: parts[0]}
		if len(parts) > 1 {
			e.key = parts[1]
		}
		if len(parts) > 2 {
			e.seq, _ = strconv.Atoi(parts[2])
		}
		out = append(out, e)
	}
	return out
}

func TestRequestReply(t *testing.T) {
	t.Parallel()
	_, _, p := start(t, nil)
	p.Send("visit-1", record("rr-1", 7))
	r := p.Replies([]string{"rr-1"}, 30*time.Second)["rr-1"]
	if r.Status != "ok" || r.Site != "s1" || r.Type != "ledger.record" || r.Attempts != 1 {
		t.Fatalf("reply = %+v", r)
	}
	var payload struct{ Seq int }
	if err := json.Unmarshal(r.Payload, &payload); err != nil || payload.Seq != 7 {
		t.Fatalf("payload = %s", r.Payload)
	}
}

// TestPerKeyOrder sends 1,000 messages over 50 keys and checks that the
// external effects of each key happened in the order sent.
func TestPerKeyOrder(t *testing.T) {
	t.Parallel()
	cfg, _, p := start(t, nil)
	const keys, per = 50, 20
	var ids []string
	var msgs []kafka.Message
	for i := 0; i < per; i++ {
		for k := 0; k < keys; k++ {
			id := fmt.Sprintf("ord-%d-%d", k, i)
			ids = append(ids, id)
			v, _ := json.Marshal(record(id, i))
			msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("key-%d", k)), Value: v})
		}
	}
	p.SendRaw(msgs...)
	replies := p.Replies(ids, 3*time.Minute)
	for _, id := range ids {
		if replies[id].Status != "ok" {
			t.Fatalf("reply to %s: %+v", id, replies[id])
		}
	}
	last := map[string]int{}
	effects := readLedger(t, cfg.LedgerDir(), "effects.log")
	if len(effects) != keys*per {
		t.Fatalf("%d effects, want %d", len(effects), keys*per)
	}
	for _, e := range effects {
		if prev, ok := last[e.key]; ok && e.seq != prev+1 {
			t.Fatalf("key %s: effect seq %d after %d: order broken", e.key, e.seq, prev)
		}
		last[e.key] = e.seq
	}
}

// TestInvalidMessagesDoNotBlock: malformed JSON, unknown site, a plugin
// disabled for the site and an unknown type each get an invalid reply and
// a DLQ record, and the valid message behind them on the same key is done.
func TestInvalidMessagesDoNotBlock(t *testing.T) {
	t.Parallel()
	cfg, _, p := start(t, func(c *harness.Config) {
		c.Sites = append(c.Sites, map[string]any{"code": "s2", "plugins": map[string]any{
			"ledger": map[string]any{"enabled": false},
		}})
	})
	key := []byte("same-key")
	bad := func(v string) kafka.Message { return kafka.Message{Key: key, Value: []byte(v)} }
	valid, _ := json.Marshal(record("after-bad", 1))
	p.SendRaw(
		bad(`{"id": "broken", "site": `),
		bad(`{"id":"bad-site","site":"nowhere","type":"ledger.record","payload":{"seq":1}}`),
		bad(`{"id":"bad-disabled","site":"s2","type":"ledger.record","payload":{"seq":1}}`),
		bad(`{"id":"bad-type","site":"s1","type":"ledger.nope","payload":{"seq":1}}`),
		bad(`{"id":"bad-missing","site":"s1","type":"ledger.record","payload":{}}`),
		kafka.Message{Key: key, Value: valid},
	)
	replies := p.Replies([]string{"bad-site", "bad-disabled", "bad-type", "bad-missing", "after-bad"}, 60*time.Second)
	// A message that is not JSON has no id to reply to: its reply has an
	// empty requestId (the DLQ keeps the raw text).
	broken, ok := replies[""]
	if !ok || broken.Status != "invalid" || broken.Errors[0].Rule != "syntax" {
		t.Errorf("malformed message: reply %+v, want invalid with rule syntax", broken)
	}
	cases := map[string]struct{ field, rule string }{
		"bad-site":     {"$.site", "unknown"},
		"bad-disabled": {"$.type", "disabled"},
		"bad-type":     {"$.type", "unknown"},
		"bad-missing":  {"$.seq", "required"},
	}
	for id, want := range cases {
		r := replies[id]
		if r.Status != "invalid" || len(r.Errors) == 0 || r.Errors[0].Field != want.field || r.Errors[0].Rule != want.rule {
			t.Errorf("%s: reply %+v, want invalid at %s rule %s", id, r, want.field, want.rule)
		}
		if len(r.Errors) > 0 && r.Errors[0].Message == "" {
			t.Errorf("%s: error without a message", id)
		}
	}
	if replies["after-bad"].Status != "ok" {
		t.Fatalf("valid message after bad ones: %+v", replies["after-bad"])
	}
	dlq := p.Topic(cfg.Topics().DLQ, len(cases)+1, 30*time.Second)
	if len(dlq) != len(cases)+1 {
		t.Fatalf("%d DLQ records, want %d", len(dlq), len(cases)+1)
	}
	for _, e := range readLedger(t, cfg.LedgerDir(), "calls.log") {
		if e.id != "after-bad" && e.id != "bad-missing" {
			t.Errorf("plugin was called for %s", e.id)
		}
	}
}

// TestRedeliveredIDGetsStoredReply: the same message id twice gets the
// stored reply and the plugin is called once.
func TestRedeliveredIDGetsStoredReply(t *testing.T) {
	t.Parallel()
	cfg, _, p := start(t, nil)
	p.Send("k", record("dup-1", 1))
	first := p.Replies([]string{"dup-1"}, 30*time.Second)["dup-1"]
	p.Send("k", record("dup-1", 1))
	replies := repliesOf(t, cfg, "dup-1", 2)
	if replies[1].ID != first.ID || replies[1].Status != "ok" {
		t.Fatalf("replayed reply %+v differs from the stored %+v", replies[1], first)
	}
	if calls := readLedger(t, cfg.LedgerDir(), "calls.log"); len(calls) != 1 {
		t.Fatalf("plugin called %d times, want 1", len(calls))
	}
}

// TestHostKilledMidStream: SIGKILL the host while messages are in flight,
// restart it: every message gets a reply and every effect happens exactly
// once, in order per key.
func TestHostKilledMidStream(t *testing.T) {
	t.Parallel()
	cfg, mg, p := start(t, nil)
	const keys, per = 20, 20
	var ids []string
	var msgs []kafka.Message
	for i := 0; i < per; i++ {
		for k := 0; k < keys; k++ {
			id := fmt.Sprintf("kill-%d-%d", k, i)
			ids = append(ids, id)
			req := harness.Request{ID: id, Site: "s1", Type: "ledger.slow", Payload: map[string]any{"seq": i, "ms": 3}}
			v, _ := json.Marshal(req)
			msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("k%d", k)), Value: v})
		}
	}
	p.SendRaw(msgs...)
	harness.Eventually(t, 60*time.Second, "a quarter of the effects", func() bool {
		return len(readLedger(t, cfg.LedgerDir(), "effects.log")) >= keys*per/4
	})
	mg.Kill()
	before := len(readLedger(t, cfg.LedgerDir(), "effects.log"))
	if before >= keys*per {
		t.Fatalf("all %d messages finished before the kill; the test proves nothing", before)
	}
	mg.Restart()
	replies := p.Replies(ids, 3*time.Minute)
	for _, id := range ids {
		if replies[id].Status != "ok" {
			t.Fatalf("reply to %s: %+v", id, replies[id])
		}
	}
	seen := map[string]int{}
	last := map[string]int{}
	for _, e := range readLedger(t, cfg.LedgerDir(), "effects.log") {
		seen[e.id]++
		if prev, ok := last[e.key]; ok && e.seq != prev+1 {
			t.Errorf("key %s: effect %d after %d", e.key, e.seq, prev)
		}
		last[e.key] = e.seq
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("message %s has %d effects, want exactly 1", id, seen[id])
		}
	}
	t.Logf("killed with %d of %d effects done; after restart all %d done once", before, keys*per, len(seen))
}

// TestPluginCrashIsRelaunched: the plugin process dies mid-message; the
// host relaunches it and the message completes, with one effect.
func TestPluginCrashIsRelaunched(t *testing.T) {
	t.Parallel()
	cfg, mg, p := start(t, nil)
	p.Send("c", harness.Request{ID: "crash-1", Site: "s1", Type: "ledger.crash", Payload: map[string]any{"seq": 1}}, record("after-crash", 2))
	replies := p.Replies([]string{"crash-1", "after-crash"}, 60*time.Second)
	if replies["crash-1"].Status != "ok" || replies["crash-1"].Attempts < 2 {
		t.Fatalf("crash-1: %+v", replies["crash-1"])
	}
	if replies["after-crash"].Status != "ok" {
		t.Fatalf("after-crash: %+v", replies["after-crash"])
	}
	n := 0
	for _, e := range readLedger(t, cfg.LedgerDir(), "effects.log") {
		if e.id == "crash-1" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("crash-1 has %d effects, want 1", n)
	}
	if m := metric(t, mg, `medgate_plugin_restarts_total{plugin="ledger"}`); m < 1 {
		t.Fatalf("plugin restarts metric = %v", m)
	}
}

func TestRetriesAndRejections(t *testing.T) {
	t.Parallel()
	_, _, p := start(t, nil)
	p.Send("r", harness.Request{ID: "flaky", Site: "s1", Type: "ledger.fail", Payload: map[string]any{"seq": 1, "failTimes": 2}},
		harness.Request{ID: "refused", Site: "s1", Type: "ledger.reject", Payload: map[string]any{"seq": 2}})
	replies := p.Replies([]string{"flaky", "refused"}, 60*time.Second)
	if r := replies["flaky"]; r.Status != "ok" || r.Attempts != 3 {
		t.Errorf("flaky: %+v, want ok after 3 attempts", r)
	}
	if r := replies["refused"]; r.Status != "rejected" || r.External == nil || r.External.Code != "E42" {
		t.Errorf("refused: %+v, want rejected with external code E42", r)
	}
}

func metric(t *testing.T, mg *harness.Medgate, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + mg.HTTPAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, series+" ") {
			v, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, series)), 64)
			return v
		}
	}
	return 0
}

func TestHTTPIngress(t *testing.T) {
	t.Parallel()
	_, mg, p := start(t, nil)
	post := func(body string) (int, harness.Reply) {
		resp, err := http.Post("http://"+mg.HTTPAddr+"/v1/messages", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r harness.Reply
		_ = json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r
	}
	code, r := post(`{"id":"http-1","site":"s1","type":"ledger.record","payload":{"seq":1}}`)
	if code != 200 || r.Status != "ok" {
		t.Fatalf("ok message: %d %+v", code, r)
	}
	code, r = post(`{"id":"http-2","site":"s1","type":"ledger.record","payload":{}}`)
	if code != 422 || r.Status != "invalid" || r.Errors[0].Field != "$.seq" {
		t.Fatalf("invalid message: %d %+v", code, r)
	}
	// The HTTP path publishes the reply to Kafka too, like the Kafka path.
	if got := p.Replies([]string{"http-1"}, 30*time.Second)["http-1"]; got.ID != "" && got.Status != "ok" {
		t.Fatalf("kafka copy of the reply: %+v", got)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get("http://" + mg.HTTPAddr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, err, resp)
		}
		resp.Body.Close()
	}
	if v := metric(t, mg, `medgate_messages_total{status="ok",type="ledger.record"}`); v != 1 {
		t.Errorf("messages metric = %v, want 1", v)
	}
}

// TestReloadEnablesAndDisablesPlugin: disabling the plugin for the site in
// the file and sending SIGHUP takes effect without a restart, and back.
func TestReloadEnablesAndDisablesPlugin(t *testing.T) {
	t.Parallel()
	brokers := testenv.Kafka(t)
	bins := harness.Binaries(t)
	cfg := harness.NewConfig(t, brokers)
	mg := harness.Start(t, bins, cfg.Write(t, bins))
	p := harness.NewPlatform(t, brokers, cfg.Topics())
	site := cfg.Sites[0]["plugins"].(map[string]any)["ledger"].(map[string]any)
	try := func(want string) {
		t.Helper()
		n := 0
		harness.Eventually(t, 30*time.Second, "reply "+want, func() bool {
			n++
			id := fmt.Sprintf("reload-%s-%d-%d", want, time.Now().UnixNano(), n)
			p.Send("k", record(id, 1))
			return p.Replies([]string{id}, 30*time.Second)[id].Status == want
		})
	}
	try("ok")
	site["enabled"] = false
	cfg.Write(t, bins)
	mg.Signal(syscall.SIGHUP)
	try("invalid")
	site["enabled"] = true
	cfg.Write(t, bins)
	mg.Signal(syscall.SIGHUP)
	try("ok")
	if mg.Exited() {
		t.Fatal("medgate exited during reloads")
	}
}

func TestJobTriggerPublishesEvent(t *testing.T) {
	t.Parallel()
	cfg, mg, p := start(t, nil)
	resp, err := http.Post("http://"+mg.HTTPAddr+"/admin/jobs/ledger/s1/tick/run", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("trigger: %d %s", resp.StatusCode, body)
	}
	// The answer says what the run did, from the scheduler's own record.
	var ran struct {
		Status, Job string
		StartedAt   time.Time
		TookMs      *int64
		Processed   *int64
	}
	if err := json.Unmarshal(body, &ran); err != nil || ran.Status != "ran" || ran.Job != "ledger/s1/tick" || ran.TookMs == nil || ran.Processed == nil ||
		time.Since(ran.StartedAt) > time.Minute || time.Since(ran.StartedAt) < 0 {
		t.Fatalf("trigger answered %s (%v): want status ran, the job, when it started (RFC 3339), tookMs and processed", body, err)
	}
	// medgate's own retention job runs under the same scheduler.
	resp, err = http.Post("http://"+mg.HTTPAddr+"/admin/jobs/medgate/all/prune/run", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("prune job: %v %v", err, resp)
	}
	resp.Body.Close()
	events := p.Topic(cfg.Topics().Events, 1, 30*time.Second)
	var ev struct{ Type, Site string }
	_ = json.Unmarshal(events[0].Value, &ev)
	if ev.Type != "ledger.tick" || ev.Site != "s1" {
		t.Fatalf("event = %s", events[0].Value)
	}
}

// TestChecksumMismatchRefused: a plugin whose binary does not match the
// configured SHA-256 is not launched, and both run and check-config say why.
func TestChecksumMismatchRefused(t *testing.T) {
	t.Parallel()
	bins := harness.Binaries(t)
	cfg := harness.NewConfig(t, []string{"127.0.0.1:1"})
	tampered := *bins
	tampered.SHA256 = map[string]string{"ledger": strings.Repeat("0", 64)}
	path := cfg.Write(t, &tampered)
	for _, cmd := range []string{"run", "check-config"} {
		out, err := exec.Command(bins.Medgate, cmd, "-config", path).CombinedOutput()
		if err == nil {
			t.Fatalf("%s accepted a tampered plugin:\n%s", cmd, out)
		}
		if !strings.Contains(string(out), "checksum mismatch") || !strings.Contains(string(out), "medgate.yaml:") {
			t.Errorf("%s output does not explain the checksum mismatch with file:line:\n%s", cmd, out)
		}
	}
}

// TestCheckConfigListsEveryProblem: check-config reports every problem at
// once, each with file:line.
func TestCheckConfigListsEveryProblem(t *testing.T) {
	t.Parallel()
	bins := harness.Binaries(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "medgate.yaml")
	conf := fmt.Sprintf(`kafka:
  brokers: [nohost]
  maxInFlight: -5
store:
  driver: mysql
log:
  level: chatty
plugins:
  - name: ledger
    path: %s
    sha256: %s
sites:
  - code: s1
    plugins:
      ledger:
        settings:
          lable: typo
      nosuch: {}
`, bins.Plugins["ledger"], bins.SHA256["ledger"])
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bins.Medgate, "check-config", "-config", path).CombinedOutput()
	if err == nil {
		t.Fatalf("check-config accepted a broken file:\n%s", out)
	}
	for _, want := range []string{
		"medgate.yaml:2: kafka.brokers[0]",
		"medgate.yaml:3: kafka.maxInFlight",
		"medgate.yaml:5: store.driver",
		"medgate.yaml:7: log.level",
		"medgate.yaml:18: sites[0].plugins.nosuch",
		"sites[0].plugins.ledger.settings.lable: unknown setting",
		"sites[0].plugins.ledger.settings.ledgerDir: is required",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestEmbeddedBrokerSurvivesRestart runs the smoke test on the embedded
// Kafka-protocol broker with a data directory, across a restart.
func TestEmbeddedBrokerSurvivesRestart(t *testing.T) {
	t.Parallel()
	bins := harness.Binaries(t)
	cfg := harness.NewConfig(t, nil)
	cfg.Embedded = true
	cfg.Listen = testenv.FreeAddr(t)
	cfg.Brokers = []string{cfg.Listen}
	mg := harness.Start(t, bins, cfg.Write(t, bins))
	p := harness.NewPlatform(t, cfg.Brokers, cfg.Topics())
	p.Send("e", record("emb-1", 1))
	if r := p.Replies([]string{"emb-1"}, 30*time.Second)["emb-1"]; r.Status != "ok" {
		t.Fatalf("before restart: %+v", r)
	}
	mg.Stop()
	mg.Restart()
	p2 := harness.NewPlatform(t, cfg.Brokers, cfg.Topics())
	p2.Send("e", record("emb-1", 1), record("emb-2", 2))
	p2.Replies([]string{"emb-2"}, 30*time.Second)
	msgs := p2.Topic(cfg.Topics().Replies, 3, 30*time.Second)
	if len(msgs) != 3 {
		t.Fatalf("%d replies on the topic after restart, want 3 (the first survived the restart)", len(msgs))
	}
	if calls := readLedger(t, cfg.LedgerDir(), "calls.log"); len(calls) != 2 {
		t.Fatalf("plugin called %d times, want 2 (emb-1 once, emb-2 once)", len(calls))
	}
	// `medgate send` puts a message on the request topic and prints the reply.
	out, err := exec.Command(bins.Medgate, "send", "-config", cfg.Write(t, bins), "-site", "s1", "-type", "ledger.record", "-payload", `{"seq":3}`, "-timeout", "60s").Output()
	var r harness.Reply
	if err != nil || json.Unmarshal(out, &r) != nil || r.Status != "ok" || r.Type != "ledger.record" {
		t.Fatalf("medgate send: %v\n%s", err, out)
	}
}

// TestPostgresStore runs the crash test's core on PostgreSQL.
func TestPostgresStore(t *testing.T) {
	t.Parallel()
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsnFile, []byte(testenv.Postgres(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, mg, p := start(t, func(c *harness.Config) {
		c.Store = map[string]any{"driver": "postgres", "dsn": "file:" + dsnFile}
	})
	var ids []string
	for i := 0; i < 50; i++ {
		id := fmt.Sprintf("pg-%d", i)
		ids = append(ids, id)
		p.Send("pgkey", harness.Request{ID: id, Site: "s1", Type: "ledger.slow", Payload: map[string]any{"seq": i, "ms": 5}})
	}
	harness.Eventually(t, 60*time.Second, "some effects", func() bool { return len(readLedger(t, cfg.LedgerDir(), "effects.log")) >= 10 })
	mg.Kill()
	mg.Restart()
	p.Replies(ids, 2*time.Minute)
	seen := map[string]int{}
	for _, e := range readLedger(t, cfg.LedgerDir(), "effects.log") {
		seen[e.id]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("%s: %d effects, want 1", id, seen[id])
		}
	}
}

// TestReplayFailedMessage: a message that failed after its retries goes to
// the DLQ; once the cause is gone, `medgate replay` sends it through again,
// the plugin is called with Recovering set, and the effect happens once.
func TestReplayFailedMessage(t *testing.T) {
	t.Parallel()
	cfg, mg, p := start(t, func(c *harness.Config) {
		c.Extra["processing"] = map[string]any{"initialBackoff": "10ms", "maxBackoff": "50ms", "maxAttempts": 2}
	})
	p.Send("rp", harness.Request{ID: "replay-1", Site: "s1", Type: "ledger.fail", Payload: map[string]any{"seq": 1, "failTimes": 3}})
	if r := p.Replies([]string{"replay-1"}, 30*time.Second)["replay-1"]; r.Status != "failed" || r.Attempts != 2 {
		t.Fatalf("first delivery: %+v, want failed after 2 attempts", r)
	}
	out, err := exec.Command(harness.Binaries(t).Medgate, "replay", "-config", cfg.Write(t, harness.Binaries(t)), "-addr", mg.HTTPAddr, "replay-1").CombinedOutput()
	if err != nil {
		t.Fatalf("medgate replay: %v\n%s", err, out)
	}
	var final harness.Reply
	harness.Eventually(t, 30*time.Second, "the replayed reply", func() bool {
		msgs, _ := harness.ReadTopic(cfg.Brokers, cfg.Topics().Replies, 0, 5*time.Second)
		for _, m := range msgs {
			var r harness.Reply
			if json.Unmarshal(m.Value, &r) == nil && r.RequestID == "replay-1" && r.Status == "ok" {
				final = r
				return true
			}
		}
		return false
	})
	if final.Attempts != 4 {
		t.Errorf("replayed reply after %d attempts in all, want 4 (2 + 2)", final.Attempts)
	}
	n := 0
	for _, e := range readLedger(t, cfg.LedgerDir(), "effects.log") {
		if e.id == "replay-1" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d effects for the replayed message, want 1", n)
	}
	out, err = exec.Command(harness.Binaries(t).Medgate, "replay", "-config", cfg.Write(t, harness.Binaries(t)), "-addr", mg.HTTPAddr, "replay-1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "only failed messages can be replayed") {
		t.Fatalf("replaying a message that is now ok: %v\n%s", err, out)
	}
}
