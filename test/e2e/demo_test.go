package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/test/harness"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
	"github.com/medgate/medgate/test/testenv"
)

// demoStep is one step of the README's kcat walk-through: a job the reader
// runs with `bin/medgate job run`, or a request line sent under a key.
type demoStep struct {
	job string          // workinjury/demo/GYU009
	key string          // the Kafka key of the request
	req json.RawMessage // the request line as written, $variables unexpanded
}

var (
	demoJobRun = regexp.MustCompile(`^bin/medgate job run -config deploy/demo/medgate\.yaml (\S+)$`)
	demoSend   = regexp.MustCompile(`^k (\S+) <<'?EOF'?$`)
)

// readmeDemoKcat reads the sh block after "Play the platform with kcat" in
// the README's "Try the demo" section: its job runs and its requests, in
// order, as a reader following it runs them.
func readmeDemoKcat(t *testing.T) []demoStep {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "\n## Try the demo\n")
	if i < 0 {
		t.Fatal(`README.md has no section "## Try the demo"`)
	}
	s = s[i+1:]
	if j := strings.Index(s[3:], "\n## "); j >= 0 {
		s = s[:j+3]
	}
	i = strings.Index(s, "Play the platform with kcat")
	if i < 0 {
		t.Fatal(`README "Try the demo" does not show how to play the platform with kcat (a work-injury stay, GYU101 → GYU102 → GYU103, on the demo site): a newcomer has no working example of the message contract on Kafka`)
	}
	s = s[i:]
	i = strings.Index(s, "```sh\n")
	if i < 0 {
		t.Fatal(`README "Try the demo": no sh block after "Play the platform with kcat"`)
	}
	block := s[i+len("```sh\n"):]
	block = block[:strings.Index(block, "```")]
	var steps []demoStep
	lines := strings.Split(block, "\n")
	for n := 0; n < len(lines); n++ {
		line := strings.TrimSpace(lines[n])
		if m := demoJobRun.FindStringSubmatch(line); m != nil {
			steps = append(steps, demoStep{job: m[1]})
			continue
		}
		m := demoSend.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for n++; n < len(lines) && strings.TrimSpace(lines[n]) != "EOF"; n++ {
			steps = append(steps, demoStep{key: m[1], req: json.RawMessage(lines[n])})
		}
	}
	return steps
}

// TestDemoStayDocumented follows the README's kcat walk-through of a
// work-injury stay on the demo site as a newcomer would: against a national
// simulator seeded as `make run` seeds it (medgate-sim) and a medgate whose
// site demo has the workinjury plugin with the demo's institutions file, it
// runs each documented job, sends each documented request line under its
// key (with $visit, read from the GYU101 reply as the README's shell does)
// and expects every reply ok, as the README says. Without the GYU009 run
// the README once lacked, the GYU101 is invalid (institution not known).
func TestDemoStayDocumented(t *testing.T) {
	t.Parallel()
	steps := readmeDemoKcat(t)
	var types []string
	for _, s := range steps {
		if s.req != nil {
			var r harness.Request
			if err := json.Unmarshal(s.req, &r); err != nil {
				t.Fatalf("README kcat line is not one JSON request: %v\n%s", err, s.req)
			}
			types = append(types, r.Type)
		}
	}
	if strings.Join(types, ",") != "workinjury.GYU101,workinjury.GYU102,workinjury.GYU103" {
		t.Fatalf("README kcat walk-through sends %v, want a stay: workinjury.GYU101, GYU102, GYU103", types)
	}

	brokers := testenv.Kafka(t)
	bins := harness.Binaries(t)
	kp, err := wisim.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := wisim.New(wisim.Config{Options: smenvelope.Defaults(), Keys: kp.SimulatorKeys(), Region: "350200"})
	if err != nil {
		t.Fatal(err)
	}
	sim.Seed(20, 10) // as test/sim/cmd/medgate-sim seeds the demo's simulator
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg := harness.NewConfig(t, brokers)
	keyDir := writeAdapterKeys(t, kp, cfg)
	cfg.Plugins = []string{"workinjury"}
	cfg.Sites = []map[string]any{{"code": "demo", "plugins": map[string]any{"workinjury": map[string]any{"settings": map[string]any{
		"url": srv.URL + "/", "regionCode": "350200", "keyDir": keyDir, "timeout": "5s",
		"institutionsFile": filepath.Join(harness.RepoRoot(t), "deploy", "demo", "workinjury-institutions.json"),
	}}}}}
	mg := harness.Start(t, bins, cfg.Write(t, bins))
	p := harness.NewPlatform(t, brokers, cfg.Topics())

	vars := map[string]string{}
	for _, s := range steps {
		if s.job != "" {
			plugin, rest, _ := strings.Cut(s.job, "/")
			site, job, _ := strings.Cut(rest, "/")
			resp, err := http.Post("http://"+mg.HTTPAddr+"/admin/jobs/"+plugin+"/"+site+"/"+job+"/run", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("README step `job run %s`: HTTP %d %s", s.job, resp.StatusCode, body)
			}
			continue
		}
		line := os.Expand(string(s.req), func(v string) string {
			val, ok := vars[v]
			if !ok {
				t.Fatalf("README kcat line uses $%s before any reply gives it: %s", v, s.req)
			}
			return val
		})
		var req harness.Request
		if err := json.Unmarshal([]byte(line), &req); err != nil {
			t.Fatalf("README kcat line: %v\n%s", err, line)
		}
		p.Send(s.key, req)
		r := p.Replies([]string{req.ID}, 60*time.Second)[req.ID]
		out := mustStatus(t, r, "ok")
		if v, ok := out["ykc700"].(string); ok {
			vars["visit"] = v
		}
	}
	if vars["visit"] == "" {
		t.Fatal("no reply of the README walk-through gave the national visit number (ykc700)")
	}
	if adm := sim.Admissions("H35020300123", "ZY20260401001"); len(adm) != 1 || adm[0].VisitNo != vars["visit"] || adm[0].State != wisim.VisitSettled {
		t.Errorf("the simulator holds %+v for the README's stay, want one settled visit %s", adm, vars["visit"])
	}
}

// TestDemoRegisterAgainWarns: the demo platform registers a person again
// under another name (a typo at one desk, or another person's ID number):
// the plugin README promises the card on record back with a warning
// ($.name, rule mismatch) in the reply, so the platform can flag it. The
// reply reaches the platform by Kafka and by the ingress alike; it is read
// here from both, as raw JSON, since the harness's reply type knows no
// warnings.
func TestDemoRegisterAgainWarns(t *testing.T) {
	t.Parallel()
	cfg, mg, _ := start(t, func(c *harness.Config) {
		ecardConfig(t, c)
		c.Sites[0]["code"] = "demo"
	})
	register := func(id, name string) map[string]any {
		body := `{"id":"` + id + `","site":"demo","type":"ecard.register","payload":{"person":{"name":"` + name +
			`","document":{"type":"resident-id","number":"11010519491231002X"},"mobile":"13812345678"}}}`
		resp, err := http.Post("http://"+mg.HTTPAddr+"/v1/messages", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("register %s: HTTP %d %v %v", id, resp.StatusCode, r, err)
		}
		return r
	}
	first := register("demo-warn-1", "张三丰")
	if w, ok := first["warnings"]; ok {
		t.Errorf("a first registration has warnings %v", w)
	}
	again := register("demo-warn-2", "王小梅")
	onKafka := map[string]any{}
	harness.Eventually(t, 30*time.Second, "the reply to demo-warn-2 on the replies topic", func() bool {
		msgs, _ := harness.ReadTopic(cfg.Brokers, cfg.Topics().Replies, 0, 5*time.Second)
		for _, m := range msgs {
			var r map[string]any
			if json.Unmarshal(m.Value, &r) == nil && r["requestId"] == "demo-warn-2" {
				onKafka = r
				return true
			}
		}
		return false
	})
	for where, r := range map[string]map[string]any{"HTTP ingress": again, "replies topic": onKafka} {
		if r["status"] != "ok" || r["payload"].(map[string]any)["created"] != false {
			t.Errorf("%s: the second registration is %v, want ok with the card on record (created false)", where, r)
		}
		ws, _ := r["warnings"].([]any)
		found := false
		for _, w := range ws {
			if m, _ := w.(map[string]any); m["field"] == "$.name" && m["rule"] == "mismatch" && m["message"] != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the reply to a registration under another name has no warning $.name mismatch: %v", where, r)
		}
	}
}
