package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	chromium "github.com/medgate/medgate/test/browser"
	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/testenv"
)

// TestExamplePluginFromItsOwnModule builds the vendor walkthrough's example
// plugin (plugins/sdk/example) the way a vendor builds theirs, as a module
// of its own, checks that it imports nothing of medgate but the SDK and the
// schemas validation library (and no Excel library), and
// runs it under the real medgate: an operation through Kafka, its remote
// and local commands through the generic command line, and a file it hands
// to medgate (PutArtifact) copied out by reference; then its console pages
// in Chromium (exampleConsolePages).
func TestExamplePluginFromItsOwnModule(t *testing.T) {
	t.Parallel()
	root := harness.RepoRoot(t)
	dir := filepath.Join(root, "plugins", "sdk", "example")
	bin := filepath.Join(t.TempDir(), "hello")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the example as its own module: %v\n%s", err, out)
	}
	// The example's own tests, with sdktest, as a vendor runs them.
	vt := exec.Command("go", "test", "-count=1", ".")
	vt.Dir = dir
	vt.Env = append(os.Environ(), "GOWORK=off")
	if out, err := vt.CombinedOutput(); err != nil {
		t.Fatalf("the example's own tests: %v\n%s", err, out)
	}
	list := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".")
	list.Dir = dir
	list.Env = append(os.Environ(), "GOWORK=off")
	deps, err := list.Output()
	if err != nil {
		t.Fatalf("go list the example's dependencies: %v", err)
	}
	var sdkSeen bool
	for _, d := range strings.Fields(string(deps)) {
		if strings.HasPrefix(d, "github.com/xuri/excelize/") {
			t.Errorf("the example plugin links %s; validating with package schemas must not pull in the spreadsheet importer (schemas/importer)", d)
		}
		if rest, ok := strings.CutPrefix(d, "github.com/medgate/medgate/"); ok {
			if rest != "plugins/sdk" && !strings.HasPrefix(rest, "plugins/sdk/") && rest != "schemas" {
				t.Errorf("the example plugin depends on %s; a vendor's plugin may import only the SDK and, to validate, package schemas", d)
			}
			sdkSeen = sdkSeen || rest == "plugins/sdk"
		}
	}
	if !sdkSeen {
		t.Fatalf("the example does not import the SDK; go list printed:\n%s", deps)
	}

	brokers := testenv.Kafka(t)
	shared := harness.Binaries(t)
	bins := &harness.Bins{Medgate: shared.Medgate, Plugins: map[string]string{"hello": bin}, SHA256: map[string]string{}}
	if bins.SHA256["hello"], err = harness.FileSHA256(bin); err != nil {
		t.Fatal(err)
	}
	cfg := harness.NewConfig(t, brokers)
	cfg.Plugins = []string{"hello"}
	cfg.Sites = []map[string]any{{"code": "s1", "plugins": map[string]any{"hello": map[string]any{"settings": map[string]any{"greeting": "你好", "maxNameLength": "8"}}}}}
	cfgPath := cfg.Write(t, bins)
	mg := harness.Start(t, bins, cfgPath)
	p := harness.NewPlatform(t, brokers, cfg.Topics())

	p.Send("k1", harness.Request{ID: "hello-1", Site: "s1", Type: "hello.greet", OccurredAt: time.Now().Format(time.RFC3339), Payload: map[string]any{"name": "Ada"}},
		harness.Request{ID: "hello-2", Site: "s1", Type: "hello.greet", OccurredAt: time.Now().Format(time.RFC3339), Payload: map[string]any{"name": "Bartholomew"}})
	replies := p.Replies([]string{"hello-1", "hello-2"}, 30*time.Second)
	var greeted struct{ Greeting, Name string }
	if r := replies["hello-1"]; r.Status != "ok" || json.Unmarshal(r.Payload, &greeted) != nil || greeted.Greeting != "你好" || greeted.Name != "Ada" {
		t.Fatalf("hello.greet: %+v\nmedgate log:\n%s", r, tail(mg.Logs(), 30))
	}
	// The example keeps the name under a key medgate masks
	// (pii.PersonalKey): the admin API, like the console, shows it masked.
	resp, err := http.Get("http://" + mg.HTTPAddr + "/admin/messages/hello-1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "Ada") || !strings.Contains(string(body), `"A**"`) {
		t.Errorf("GET /admin/messages/hello-1: HTTP %d, the name unmasked or not at all:\n%s", resp.StatusCode, body)
	}
	if r := replies["hello-2"]; r.Status != "invalid" || len(r.Errors) != 1 || r.Errors[0].Field != "$.name" {
		t.Errorf("a name over maxNameLength: %+v", r)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cases := map[string]struct {
		args []string
		fail bool
		want []string
	}{
		"remote command":             {args: []string{"hello", "greet", "-config", cfgPath, "Grace"}, want: []string{"greeting: 你好", "name: G***e"}},
		"local command":              {args: []string{"hello", "check-name", "-config", cfgPath, "Ada"}, want: []string{`"Ada" is a name site s1 accepts`}},
		"local command refuses":      {args: []string{"hello", "check-name", "-config", cfgPath, "Bartholomew"}, fail: true, want: []string{"at most 8 (setting maxNameLength)"}},
		"help from the declarations": {args: []string{"help", "-config", cfgPath}, want: []string{"medgate hello greet", "medgate hello check-name"}},
		"file through a command":     {args: []string{"hello", "badge", "-config", cfgPath, "-out", filepath.Join(cfg.Dir, "badge.txt"), "Grace"}, want: []string{"copied badge.txt"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := exec.CommandContext(ctx, bins.Medgate, tc.args...).CombinedOutput()
			if (err != nil) != tc.fail {
				t.Fatalf("medgate %s: err %v, want failure %v\n%s", strings.Join(tc.args, " "), err, tc.fail, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	if data, err := os.ReadFile(filepath.Join(cfg.Dir, "badge.txt")); err != nil || string(data) != "你好, Grace\n" {
		t.Errorf("the badge copied with -out: %q, %v", data, err)
	}
	exampleConsolePages(t, mg)
}

// exampleConsolePages drives, in headless Chromium, the console pages the
// example plugin declares through the SDK, the only shipped code with a
// work-list row action: its "greeted" work list, the badge form its name
// link opens (sent, and the file it makes downloaded), and the list's
// Forget button (POST /console/action, after its prompt), which removes
// the row. No page may log a console error or fail a request.
func exampleConsolePages(t *testing.T, mg *harness.Medgate) {
	t.Helper()
	b := chromium.Start(t, "http://"+mg.HTTPAddr)
	b.SignIn(map[string]string{"user": "vendor01 示例"}) // no users configured: the console asks only for a name
	const list = "/console/worklists?plugin=hello&list=greeted"
	ada := `tr:has(a[href^="/console/form/hello/badge?"][href*="name=Ada"])`
	b.Go(list)
	b.Wait(ada)
	b.Shot("greeted-list")
	b.Click(ada + ` a[href^="/console/form/hello/badge?"]`)
	form := `form[action="/console/form/hello/badge"]`
	b.Wait(form + ` input[name=name]`)
	if v := b.Attr(form+` input[name=name]`, "value"); v != "Ada" {
		t.Errorf("the badge form opened from Ada's row has name %q", v)
	}
	b.Click(form + ` button[type=submit]`)
	b.Wait(`a[href^="/console/download/"]`)
	b.Shot("badge-ready")
	if got := string(b.Download(`a[href^="/console/download/"]`)); got != "你好, Ada\n" {
		t.Errorf("the badge downloaded from the console is %q, want %q", got, "你好, Ada\n")
	}
	b.Go(list)
	before := len(b.Dialogs())
	b.Click(ada + ` form[action="/console/action"] button[type=submit]`)
	b.WaitText(".notice.ok", "Forget")
	if d := b.Dialogs(); len(d) != before+1 || d[len(d)-1] != "Forget this greeting?" {
		t.Errorf("the Forget button asked %q, want one prompt %q", d[before:], "Forget this greeting?")
	}
	b.Shot("forgotten")
	b.Go(list)
	b.WaitText("main", "Grace")
	if n := b.Nodes(ada); n != 0 {
		t.Errorf("after Forget the greeted list still has %d row(s) of Ada", n)
	}
	b.WaitTrue(chromium.StepTimeout, "the page loaded", `document.readyState === "complete"`)
	for _, p := range b.Problems() {
		t.Errorf("an example plugin page went wrong in Chromium: %s", p)
	}
}
