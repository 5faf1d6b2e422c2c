package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/test/harness"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
	"github.com/medgate/medgate/test/testenv"
)

// wiEnv is one medgate with the workinjury plugin for site s1, talking to
// an in-process simulator of the national system, over a real Kafka broker.
type wiEnv struct {
	t    *testing.T
	cfg  *harness.Config
	bins *harness.Bins
	mg   *harness.Medgate
	p    *harness.Platform
	sim  *wisim.Server
	n    int
}

func startWorkInjury(t *testing.T) *wiEnv {
	t.Helper()
	brokers := testenv.Kafka(t)
	bins := harness.Binaries(t)
	sim, kp := newNationalSim(t, 2, 2)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg := harness.NewConfig(t, brokers)
	keyDir := writeAdapterKeys(t, kp, cfg)
	cfg.Plugins = []string{"workinjury"}
	cfg.Sites = []map[string]any{{"code": "s1", "plugins": map[string]any{"workinjury": map[string]any{"settings": map[string]any{
		"url": srv.URL + "/gsyd", "regionCode": "350200", "keyDir": keyDir, "timeout": "3s",
	}}}}}
	mg := harness.Start(t, bins, cfg.Write(t, bins))
	return &wiEnv{t: t, cfg: cfg, bins: bins, mg: mg, p: harness.NewPlatform(t, brokers, cfg.Topics()), sim: sim}
}

// newNationalSim starts the national system's simulator with the default
// envelope and fresh keys, seeded with filings and institutions.
func newNationalSim(tb testing.TB, filings, institutions int) (*wisim.Server, wisim.KeyPair) {
	tb.Helper()
	kp, err := wisim.GenerateKeyPair()
	if err != nil {
		tb.Fatal(err)
	}
	sim, err := wisim.New(wisim.Config{Options: smenvelope.Defaults(), Keys: kp.SimulatorKeys(), Region: "350200"})
	if err != nil {
		tb.Fatal(err)
	}
	sim.Seed(filings, institutions)
	return sim, kp
}

// writeAdapterKeys writes the adapter's half of kp beside cfg and returns
// the directory (the site's keyDir).
func writeAdapterKeys(tb testing.TB, kp wisim.KeyPair, cfg *harness.Config) string {
	tb.Helper()
	keyDir := filepath.Join(cfg.Dir, "keys")
	if err := kp.WriteAdapterKeys(keyDir); err != nil {
		tb.Fatal(err)
	}
	return keyDir
}

// msg builds a request for site s1.
func (w *wiEnv) msg(id, code string, payload any) harness.Request {
	return harness.Request{ID: id, Site: "s1", Type: "workinjury." + code, OccurredAt: time.Now().Format(time.RFC3339), Payload: payload}
}

// exchange sends requests (each on its own key) and waits for every reply.
func (w *wiEnv) exchange(reqs ...harness.Request) map[string]harness.Reply {
	w.t.Helper()
	var ids []string
	for _, r := range reqs {
		w.p.Send(r.ID, r)
		ids = append(ids, r.ID)
	}
	return w.p.Replies(ids, 60*time.Second)
}

func mustStatus(t *testing.T, r harness.Reply, status string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s (%s): status %s, want %s; errors %+v external %+v", r.RequestID, r.Type, r.Status, status, r.Errors, r.External)
	}
	var out map[string]any
	_ = json.Unmarshal(r.Payload, &out)
	return out
}

// trigger runs a job through the admin API and reports whether it ran.
func (w *wiEnv) trigger(job string) (int, string) {
	resp, err := http.Post("http://"+w.mg.HTTPAddr+"/admin/jobs/workinjury/s1/"+job+"/run", "", nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// killPlugin SIGKILLs the running workinjury plugin process of this
// medgate (found by its binary, which this test process built, and its
// parent) and returns how many it killed.
func (w *wiEnv) killPlugin() int {
	w.t.Helper()
	return killPluginOf(w.bins.Plugins["workinjury"], w.cfg.Dir)
}

// events returns the records of the events topic of one type, by event id.
func (w *wiEnv) events(typ string, min int) map[string][]json.RawMessage {
	w.t.Helper()
	out := map[string][]json.RawMessage{}
	harness.Eventually(w.t, 60*time.Second, fmt.Sprintf("%d %s events", min, typ), func() bool {
		out = map[string][]json.RawMessage{}
		msgs, _ := harness.ReadTopic(w.cfg.Brokers, w.cfg.Topics().Events, 0, 10*time.Second)
		n := 0
		for _, m := range msgs {
			var ev struct {
				ID      string          `json:"id"`
				Type    string          `json:"type"`
				Payload json.RawMessage `json:"payload"`
			}
			if json.Unmarshal(m.Value, &ev) == nil && ev.Type == typ {
				out[ev.ID] = append(out[ev.ID], ev.Payload)
				n++
			}
		}
		return n >= min
	})
	return out
}

func wiFiling(i int, attachmentIDs ...string) map[string]any {
	id := fmt.Sprintf("35020319900101%03d%d", i%1000, i%10)
	var atts []any
	for _, a := range attachmentIDs {
		atts = append(atts, map[string]any{"attachment_id": a, "attachment_type": "01"})
	}
	return map[string]any{
		"aac002": id, "aac003": fmt.Sprintf("本地参保人%d", i), "aac043": "01", "aac044": id, "aac004": "1",
		"aae005": "13700000000", "aab004": "厦门示例制造有限公司", "injury_cert_no": fmt.Sprintf("厦人社认字〔2025〕第%05d号", i),
		"aab301": "350200", "aab299": "440300", "filing_type": "1", "akb020": "H44030000001", "akb021": "深圳市示例医院",
		"aae030": "2025-04-01", "aae031": "2099-12-31", "aae011": "王五", "aae036": "2025-04-01 09:30:00", "attachments": atts,
	}
}

// TestWorkInjury runs every transaction of the work-injury adapter (part 1)
// end to end: platform → Kafka → medgate → workinjury plugin → simulated
// national system → reply on Kafka, sharing one medgate across subtests.
func TestWorkInjury(t *testing.T) {
	t.Parallel()
	w := startWorkInjury(t)
	card := wisim.DemoCard()
	filingNo := ""

	t.Run("each transaction", func(t *testing.T) {
		content := "%PDF-1.4 e2e"
		replies := w.exchange(
			w.msg("wi-GYU000", "GYU000", map[string]any{"echo_text": "e2e"}),
			w.msg("wi-GYD051", "GYD051", map[string]any{"aac002": "440302198001010011", "aac003": "测试备案人1", "akb020": "H35020300123", "visit_date": "2025-05-01"}),
			w.msg("wi-GYD052", "GYD052", map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "aac002": card.AAC002, "aac003": card.AAC003, "akb020": "H35020300123", "aae036": "2025-04-01 09:30:00"}),
			w.msg("wi-GYD055", "GYD055", map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "random_hex": "00112233AABBCCDD", "internal_auth_data": wisim.InternalAuthData(card.Secret, "00112233AABBCCDD"), "akb020": "H35020300123"}),
			w.msg("wi-GYU010", "GYU010", map[string]any{"qr_code": "QR-DEMO-0001", "akb020": "H35020300123", "aae036": "2025-04-01 09:30:00"}),
			w.msg("wi-GYU009", "GYU009", map[string]any{"akb020": "H44030000001", "akb021": "深圳市示例医院", "institution_type": "1", "aab299": "440300", "aae030": "2024-01-01", "valid_flag": "1"}),
			w.msg("wi-GYD009", "GYD009", map[string]any{"aab299": "350200", "institution_type": "3"}),
			w.msg("wi-GYD054", "GYD054", map[string]any{"attachment_id": "FJDEMO000001"}),
			w.msg("wi-GYD008", "GYD008", map[string]any{}),
			w.msg("wi-GYD053", "GYD053", map[string]any{"orig_code": "GYU101", "orig_msg_id": "NO-SUCH-SERIAL"}),
			w.msg("wi-GYR005", "GYR005", map[string]any{"download_code": "GYD001", "batch_no": "D-NOT-OUTSTANDING", "reason": "e2e"}),
			w.msg("wi-GYU002", "GYU002", map[string]any{"biz_type": "1", "biz_no": "E2E0001", "attachments": []any{map[string]any{
				"attachment_type": "01", "file_name": "认定书.pdf", "file_format": "pdf", "file_size": len(content), "file_content": base64.StdEncoding.EncodeToString([]byte(content))}}}),
			w.msg("wi-GYD001", "GYD001", map[string]any{}),
			w.msg("wi-GYD006", "GYD006", map[string]any{}),
		)
		for id, r := range replies {
			if strings.HasPrefix(id, "wi-") && id != "wi-GYR005" {
				mustStatus(t, r, "ok")
			}
		}
		// A re-download of a batch that is not outstanding: the national
		// system does not accept it (accept_flag 0), and the platform is
		// told so.
		if r := replies["wi-GYR005"]; r.Status != "rejected" || r.External == nil || r.External.Code != "accept_flag=0" {
			t.Errorf("GYR005 of a batch not outstanding: %+v (external %+v), want rejected with code accept_flag=0", r, r.External)
		}
		check := func(id, field, want string) {
			t.Helper()
			var out map[string]any
			_ = json.Unmarshal(replies[id].Payload, &out)
			if got := fmt.Sprint(out[field]); got != want {
				t.Errorf("%s: %s = %s, want %s (payload %s)", id, field, got, want, replies[id].Payload)
			}
		}
		check("wi-GYU000", "echo_text", "e2e")
		check("wi-GYD051", "filing_valid", "1")
		check("wi-GYD052", "auth_result", "1")
		check("wi-GYD055", "auth_result", "1")
		check("wi-GYU010", "aac002", card.AAC002)
		check("wi-GYD054", "file_format", "pdf")
		check("wi-GYD053", "trans_status", "9")
		if r := replies["wi-GYU000"]; r.External == nil || r.External.MsgID == "" || r.External.System != "workinjury" {
			t.Errorf("GYU000 reply without the serial: %+v", r.External)
		} else {
			// The exchange is journaled under its serial, as sent (encrypted).
			resp, err := http.Get("http://" + w.mg.HTTPAddr + "/admin/exchanges?plugin=workinjury&serial=" + r.External.MsgID)
			if err != nil {
				t.Fatal(err)
			}
			var xs []struct {
				Code, Status, MessageID string
				Request                 map[string]any
			}
			_ = json.NewDecoder(resp.Body).Decode(&xs)
			resp.Body.Close()
			if len(xs) != 1 || xs[0].Code != "GYU000" || xs[0].Status != "ok" || xs[0].MessageID != "wi-GYU000" || xs[0].Request["sign"] == nil {
				t.Errorf("journal for serial %s: %+v", r.External.MsgID, xs)
			}
			if strings.Contains(fmt.Sprint(xs), "e2e") {
				t.Error("the journal holds the business plaintext")
			}
		}
		var dl struct {
			Batches []struct {
				RecordCount int `json:"record_count"`
				Published   int `json:"published"`
			} `json:"batches"`
			Records []map[string]any `json:"records"`
		}
		_ = json.Unmarshal(replies["wi-GYD009"].Payload, &dl)
		if len(dl.Records) != 1 || dl.Records[0]["akb020"] != "F35020300789" {
			t.Errorf("GYD009 with filters = %s", replies["wi-GYD009"].Payload)
		}
		_ = json.Unmarshal(replies["wi-GYD001"].Payload, &dl)
		if len(dl.Batches) == 0 || dl.Batches[0].Published != 2 {
			t.Errorf("GYD001 = %s", replies["wi-GYD001"].Payload)
		}
		w.events("workinjury.filing_application.downloaded", 2)
		w.events("workinjury.filing.downloaded", 2)

		// The downloaded application can be audited (GYU001); the uploaded
		// attachment can back a local filing (GYU006).
		var up struct {
			Attachments []struct {
				ID string `json:"attachment_id"`
			} `json:"attachments"`
		}
		_ = json.Unmarshal(replies["wi-GYU002"].Payload, &up)
		if len(up.Attachments) != 1 {
			t.Fatalf("GYU002 = %s", replies["wi-GYU002"].Payload)
		}
		replies = w.exchange(
			w.msg("wi-GYU001", "GYU001", map[string]any{"apply_no": "SQDEMO00000001", "aac002": "440301198507150011", "aac003": "测试申请人1", "audit_result": "1", "audit_opinion": "同意", "auditor": "李四", "audit_time": "2025-04-01 09:30:00"}),
			w.msg("wi-GYU006", "GYU006", wiFiling(1, up.Attachments[0].ID)),
		)
		if out := mustStatus(t, replies["wi-GYU001"], "ok"); out["filing_no"] == nil {
			t.Errorf("GYU001 without filing_no: %v", out)
		}
		out := mustStatus(t, replies["wi-GYU006"], "ok")
		filingNo, _ = out["filing_no"].(string)
		// A new place of treatment comes with its institution: the
		// filing's (H44030000001) is in 440300.
		replies = w.exchange(w.msg("wi-GYU007", "GYU007", map[string]any{"filing_no": filingNo, "change_type": "3", "aab299": "310100",
			"akb020": "H31010000001", "akb021": "上海市示例医院", "change_reason": "迁居上海", "aae011": "王五", "aae036": "2025-04-01 09:30:00"}))
		if out := mustStatus(t, replies["wi-GYU007"], "ok"); out["change_no"] == nil {
			t.Errorf("GYU007 = %v", out)
		}
		for _, c := range []string{"GYU001", "GYU006", "GYU007", "GYU009"} {
			if n := len(w.sim.Ledger()); n == 0 || !slices.ContainsFunc(w.sim.Ledger(), func(e wisim.LedgerEntry) bool { return e.Code == c }) {
				t.Errorf("the national ledger has no %s", c)
			}
		}
		if errs := w.sim.OutputErrors(); len(errs) > 0 {
			t.Errorf("simulator answers broke the schemas: %v", errs)
		}
	})

	t.Run("invalid never reaches the national system", func(t *testing.T) {
		bad := wiFiling(2, "FJ-ANY")
		delete(bad, "aac002")
		bad["aac003"] = "E2E无效" + strings.Repeat("长", 60)
		terminated := map[string]any{"filing_no": filingNo, "change_type": "5", "change_reason": "e2e", "aae011": "王五", "aae036": "2025-04-01 09:30:00"}
		replies := w.exchange(w.msg("inv-GYU006", "GYU006", bad), w.msg("inv-GYU001", "GYU001", map[string]any{"apply_no": "SQDEMO00000002",
			"aac002": "1", "aac003": "E2E无效", "audit_result": "2", "auditor": "李四", "audit_time": "2025-04-01 09:30:00"}),
			w.msg("term-GYU007", "GYU007", terminated))
		r := replies["inv-GYU006"]
		mustStatus(t, r, "invalid")
		want := map[string]string{"$.aac002": "required", "$.aac003": "length", "$.attachments[0].attachment_id": "precondition"}
		for _, e := range r.Errors {
			if want[e.Field] == e.Rule {
				delete(want, e.Field)
			}
			if e.Message == "" {
				t.Errorf("error at %s without a message", e.Field)
			}
		}
		if len(want) > 0 {
			t.Errorf("missing errors %v in %+v", want, r.Errors)
		}
		opinion := false
		for _, e := range replies["inv-GYU001"].Errors {
			opinion = opinion || (e.Field == "$.audit_opinion" && e.Rule == "required")
		}
		if replies["inv-GYU001"].Status != "invalid" || !opinion {
			t.Errorf("GYU001 refusal without opinion: %+v", replies["inv-GYU001"])
		}
		mustStatus(t, replies["term-GYU007"], "ok")
		// A terminated filing never becomes valid again: refused locally.
		replies = w.exchange(w.msg("inv-GYU007", "GYU007", map[string]any{"filing_no": filingNo, "change_type": "1", "aae031": "2099-12-31",
			"change_reason": "E2E无效", "aae011": "王五", "aae036": "2025-04-01 09:30:00"}))
		if r := mustStatus(t, replies["inv-GYU007"], "invalid"); r != nil {
			t.Errorf("payload on an invalid reply: %v", r)
		}
		if w.sim.Seen(func(r wisim.Request) bool { return strings.Contains(fmt.Sprint(r.Input), "E2E无效") }) {
			t.Fatal("the simulator received an invalid message")
		}
	})

	t.Run("rejected by the national system", func(t *testing.T) {
		replies := w.exchange(
			w.msg("rej-GYU010", "GYU010", map[string]any{"qr_code": "QR-EXPIRED", "akb020": "H35020300123", "aae036": "2025-04-01 09:30:00"}),
			w.msg("rej-GYU008", "GYU008", map[string]any{"download_code": "GYD006", "batch_no": "D-UNKNOWN", "record_count": 1, "records": []any{map[string]any{"record_id": "X", "result_flag": "1"}}}),
		)
		for id, code := range map[string]string{"rej-GYU010": "E5001", "rej-GYU008": "E2003"} {
			r := replies[id]
			mustStatus(t, r, "rejected")
			if r.External == nil || r.External.Code != code || r.External.Message == "" || r.External.MsgID == "" {
				t.Errorf("%s: external %+v, want code %s with message and serial", id, r.External, code)
			}
		}
	})

	t.Run("lost reply is reconciled with GYD053", func(t *testing.T) {
		w.sim.Inject(wisim.Fault{Code: "GYU009", Kind: wisim.FaultLostReply, Match: func(in map[string]any) bool { return in["akb020"] == "HLOST0001" }})
		replies := w.exchange(w.msg("lost-GYU009", "GYU009", map[string]any{"akb020": "HLOST0001", "akb021": "丢包测试机构", "institution_type": "1", "aab299": "350200", "aae030": "2024-01-01", "valid_flag": "1"}))
		r := replies["lost-GYU009"]
		mustStatus(t, r, "ok")
		if r.Attempts < 2 {
			t.Errorf("attempts = %d, want a retry", r.Attempts)
		}
		if n := w.sim.Accepted("GYU009", "HLOST0001"); n != 1 {
			t.Fatalf("the national system accepted it %d times, want exactly 1", n)
		}
		if !w.sim.Seen(func(q wisim.Request) bool { return q.Code == "GYD053" && q.Input["orig_code"] == "GYU009" }) {
			t.Fatal("no GYD053 reconciliation")
		}
	})

	t.Run("download survives plugin kills", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("finds the plugin process through /proc, which only Linux has")
		}
		type scenario struct {
			name  string
			job   string
			typ   string
			add   func(i int)
			fault wisim.Fault
			kill  bool
		}
		apps := func(prefix string) func(int) {
			return func(i int) {
				w.sim.AddApplication(wisim.SampleApplication(prefix, i, "350200"), wisim.SampleAttachment(fmt.Sprintf("FJ%s%d", prefix, i)))
			}
		}
		filings := func(prefix string) func(int) {
			return func(i int) { w.sim.AddFiling(wisim.SampleFiling(prefix, i, "350200")) }
		}
		// Drain what earlier subtests queued (an approved filing is offered by GYD006).
		for _, job := range []string{"GYD001", "GYD006"} {
			if code, body := w.trigger(job); code != http.StatusOK {
				t.Fatalf("job %s: %d %s", job, code, body)
			}
		}
		for _, sc := range []scenario{
			// Killed while publishing: after two records, the third's attachment is being fetched.
			{"killed while publishing", "GYD001", "workinjury.filing_application.downloaded", apps("KP"),
				wisim.Fault{Code: "GYD054", Kind: wisim.FaultHold, Match: func(in map[string]any) bool { return in["attachment_id"] == "FJKP3" }}, true},
			// Killed after the national system took the feedback, before medgate recorded it.
			{"killed after the feedback", "GYD006", "workinjury.filing.downloaded", filings("KF"),
				wisim.Fault{Code: "GYU008", Kind: wisim.FaultHold, After: true}, true},
			// The download reply is lost: recovered with GYD008 and GYR005.
			{"download reply lost", "GYD001", "workinjury.filing_application.downloaded", apps("KL"),
				wisim.Fault{Code: "GYD001", Kind: wisim.FaultLostReply}, false},
		} {
			before := nonEmptyBatches(w.sim.Batches(sc.job))
			for i := 1; i <= 4; i++ {
				sc.add(i)
			}
			f := w.sim.Inject(sc.fault)
			done := make(chan struct{})
			go func() { defer close(done); w.trigger(sc.job) }()
			if sc.kill {
				select {
				case <-f.Reached():
				case <-time.After(60 * time.Second):
					t.Fatalf("%s: the hold was not reached", sc.name)
				}
				if n := w.killPlugin(); n != 1 {
					t.Fatalf("%s: killed %d plugin processes, want 1", sc.name, n)
				}
				f.Release()
			}
			<-done
			harness.Eventually(t, 60*time.Second, sc.name+": the resumed job", func() bool {
				code, _ := w.trigger(sc.job)
				return code == http.StatusOK
			})
			batches := nonEmptyBatches(w.sim.Batches(sc.job))[len(before):]
			if len(batches) != 1 || batches[0].Feedbacks != 1 || batches[0].Records != 4 {
				t.Fatalf("%s: batches %+v; want one batch of 4 acknowledged once", sc.name, batches)
			}
			feedbacks := 0
			for _, q := range w.sim.Received("GYU008") {
				if q.Input["batch_no"] == batches[0].No {
					feedbacks++
				}
			}
			if feedbacks != 1 {
				t.Fatalf("%s: GYU008 sent %d times for batch %s, want once", sc.name, feedbacks, batches[0].No)
			}
			wantDeliveries := 1
			if !sc.kill {
				wantDeliveries = 2 // the lost batch, asked for again with GYR005
			}
			if batches[0].Deliveries != wantDeliveries {
				t.Fatalf("%s: batch delivered %d times, want %d", sc.name, batches[0].Deliveries, wantDeliveries)
			}
			evs := w.events(sc.typ, 0)
			for _, id := range batches[0].IDs {
				n := 0
				for evID, copies := range evs {
					if strings.Contains(evID, "/"+id) {
						n += len(copies)
					}
				}
				if n != 1 {
					t.Fatalf("%s: record %s published %d times, want exactly once", sc.name, id, n)
				}
			}
			t.Logf("%s: 4 records published once, feedback accepted once, batch delivered %d time(s)", sc.name, batches[0].Deliveries)
		}
	})
}

func nonEmptyBatches(bs []wisim.BatchInfo) []wisim.BatchInfo {
	var out []wisim.BatchInfo
	for _, b := range bs {
		if b.Records > 0 {
			out = append(out, b)
		}
	}
	return out
}
