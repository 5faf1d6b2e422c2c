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
