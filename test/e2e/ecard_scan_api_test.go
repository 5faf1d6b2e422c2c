package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
)

// documentedCall is one curl command of the README's scan API section,
// with the HTTP status and the reply it documents.
type documentedCall struct {
	method, path string
	headers      map[string]string
	body         string
	status       int
	reply        any
}

// readmeScanCalls reads the section "Scan at the counter" of the README:
// each ```sh block holds one curl command and a "# → HTTP <status>"
// line, and the ```json block after it the documented reply.
func readmeScanCalls(t *testing.T) []documentedCall {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Scan at the counter")
	if !ok {
		t.Fatal(`README.md has no section "## Scan at the counter"`)
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	blocks := regexp.MustCompile("(?s)```(sh|json)\n(.*?)```").FindAllStringSubmatch(section, -1)
	var calls []documentedCall
	for i := 0; i < len(blocks); i++ {
		if blocks[i][1] != "sh" {
			continue
		}
		if i+1 >= len(blocks) || blocks[i+1][1] != "json" {
			t.Fatalf("README scan section: the sh block %q is not followed by a json block with its reply", blocks[i][2])
		}
		c := parseCurl(t, blocks[i][2])
		if err := json.Unmarshal([]byte(blocks[i+1][2]), &c.reply); err != nil {
			t.Fatalf("README scan section: the documented reply is not JSON: %v\n%s", err, blocks[i+1][2])
		}
		calls = append(calls, c)
		i++
	}
	return calls
}

// parseCurl reads a curl command as the README writes it: the URL, -H
// headers and -d body in single quotes, lines continued with \, and a
// "# → HTTP <status>" line.
func parseCurl(t *testing.T, block string) documentedCall {
	t.Helper()
	cmd := strings.ReplaceAll(block, "\\\n", " ")
	c := documentedCall{method: http.MethodGet, headers: map[string]string{}}
	if m := regexp.MustCompile(`# → HTTP (\d{3})`).FindStringSubmatch(cmd); m != nil {
		c.status, _ = strconv.Atoi(m[1])
	} else {
		t.Fatalf("README scan section: no \"# → HTTP <status>\" line in %q", block)
	}
	line, _, _ := strings.Cut(cmd, "\n")
	if !strings.HasPrefix(strings.TrimSpace(line), "curl ") {
		t.Fatalf("README scan section: %q is not a curl command", line)
	}
	if m := regexp.MustCompile(`https?://[^/\s]+(/\S*)`).FindStringSubmatch(line); m != nil {
		c.path = m[1]
	} else {
		t.Fatalf("README scan section: no URL in %q", line)
	}
	for _, m := range regexp.MustCompile(`-H '([^']*)'`).FindAllStringSubmatch(line, -1) {
		k, v, _ := strings.Cut(m[1], ":")
		c.headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if m := regexp.MustCompile(`-d '([^']*)'`).FindStringSubmatch(line); m != nil {
		c.body, c.method = m[1], http.MethodPost
	}
	return c
}

// matchDocumented checks got against the documented value: every
// documented key of an object, every documented item of a list, equal
// scalars; "…" in a documented string stands for any text.
func matchDocumented(path string, doc, got any) []string {
	switch d := doc.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: documented an object, got %v", path, got)}
		}
		var diffs []string
		for k, v := range d {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: documented, missing from the reply", path, k))
				continue
			}
			diffs = append(diffs, matchDocumented(path+"."+k, v, gv)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) < len(d) {
			return []string{fmt.Sprintf("%s: documented %d items, got %v", path, len(d), got)}
		}
		var diffs []string
		for i := range d {
			diffs = append(diffs, matchDocumented(fmt.Sprintf("%s[%d]", path, i), d[i], g[i])...)
		}
		return diffs
	case string:
		g, ok := got.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: documented %q, got %v", path, d, got)}
		}
		parts := strings.Split(d, "…")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		if !regexp.MustCompile(`(?s)^` + strings.Join(parts, ".+") + `$`).MatchString(g) {
			return []string{fmt.Sprintf("%s: documented %q, got %q", path, d, g)}
		}
		return nil
	}
	if fmt.Sprint(doc) != fmt.Sprint(got) {
		return []string{fmt.Sprintf("%s: documented %v, got %v", path, doc, got)}
	}
	return nil
}

// TestScanAPIDocumented sends the scan calls of the README's "Scan at the
// counter" section exactly as written there (method, path, headers, body)
// to a medgate whose demo site has the e-card plugin (temporary cards
// start with 9), after the README's "Try the demo" commands that register
// the demo patient and link 99000123 to the card, and checks the HTTP status
// and every documented field of each reply: the JSON scan, a refusal that
// says what the text is, and the HL7 v2 QBP^Q22 query mapped by the demo
// site's mapping.
func TestScanAPIDocumented(t *testing.T) {
	t.Parallel()
	calls := readmeScanCalls(t)
	if len(calls) < 3 {
		t.Fatalf("README scan section documents %d calls, want the JSON scan, a refusal and the HL7 query", len(calls))
	}
	_, mg, _ := start(t, func(c *harness.Config) {
		ecardConfig(t, c)
		c.Sites[0]["code"] = "demo"
	})
	base := "http://" + mg.HTTPAddr
	// The README's "Try the demo" registers the demo patient and links
	// the temporary card 99000123 that the scan section's first call
	// reads: those commands run here as written (against this medgate),
	// so the section holds every step a reader needs before it.
	cardNo := runREADMEDemoCard(t, mg.HTTPAddr)

	for i, c := range calls {
		req, err := http.NewRequest(c.method, base+c.path, bytes.NewReader([]byte(c.body)))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("README call %d: HTTP %d, documented %d: %s", i+1, resp.StatusCode, c.status, got)
		}
		var reply any
		if err := json.Unmarshal(got, &reply); err != nil {
			t.Fatalf("README call %d: the reply is not JSON: %v: %s", i+1, err, got)
		}
		for _, d := range matchDocumented("$", c.reply, reply) {
			t.Errorf("README call %d: %s", i+1, d)
		}
		if i == 0 && !strings.Contains(string(got), `"cardNo":"`+cardNo+`"`) {
			t.Errorf("README call 1: the reply does not name the card %s that \"Try the demo\" registered and linked: %s", cardNo, got)
		}
	}
}

// runREADMEDemoCard runs the shell lines of the README's "Try the demo"
// from the e-card registration (card=$(curl …)) up to the QR code
// request, with bash, curl and jq, against the ingress at addr, and
// returns the card number the registration gave.
func runREADMEDemoCard(t *testing.T, addr string) string {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's demo commands need %s: %v", tool, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Try the demo\n")
	if !ok {
		t.Fatal(`README.md has no section "## Try the demo"`)
	}
	start := strings.Index(section, "card=$(curl")
	end := strings.Index(section, `\"type\":\"ecard.qrcode\"`)
	if start < 0 || end < start {
		t.Fatal(`README "Try the demo": no e-card registration (card=$(curl …)) before the QR code request`)
	}
	end = strings.LastIndex(section[:end], "\n")
	script := strings.ReplaceAll(section[start:end], "localhost:8080", addr) + "\nprintf '\\n%s\\n' \"$card\"\n"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("README \"Try the demo\", the registration and what follows it up to the QR code: %v\n%s\n%s", err, script, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	cardNo := lines[len(lines)-1]
	if !regexp.MustCompile(`^\d{15}$`).MatchString(cardNo) {
		t.Fatalf("README \"Try the demo\": $card is %q after the registration, want a card number:\n%s", cardNo, out)
	}
	return cardNo
}

// TestMatchDocumented: the comparison TestScanAPIDocumented relies on
// fails on a differing, missing or mistyped documented field.
func TestMatchDocumented(t *testing.T) {
	t.Parallel()
	var doc any
	_ = json.Unmarshal([]byte(`{"a":"x…z","b":[{"c":1}],"d":true}`), &doc)
	testCases := map[string]struct {
		got   string
		diffs int
	}{
		"equal, more fields":  {got: `{"a":"xyyz","b":[{"c":1,"e":2}],"d":true,"f":0}`, diffs: 0},
		"wildcard mismatch":   {got: `{"a":"xz","b":[{"c":1}],"d":true}`, diffs: 1},
		"missing field":       {got: `{"a":"xyz","b":[{"c":1}]}`, diffs: 1},
		"different number":    {got: `{"a":"xyz","b":[{"c":2}],"d":true}`, diffs: 1},
		"list too short":      {got: `{"a":"xyz","b":[],"d":true}`, diffs: 1},
		"object is no object": {got: `[]`, diffs: 1},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got any
			_ = json.Unmarshal([]byte(tc.got), &got)
			if d := matchDocumented("$", doc, got); len(d) != tc.diffs {
				t.Errorf("%d differences %v, want %d", len(d), d, tc.diffs)
			}
		})
	}
}
