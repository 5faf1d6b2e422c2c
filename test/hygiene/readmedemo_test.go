package hygiene

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeShellFunc returns the definition of the shell function name in
// the README's sh blocks: from the line "name() {" to the line ending
// with "; }", as a reader pastes it.
func readmeShellFunc(t *testing.T, name string) string {
	t.Helper()
	var def []string
	for _, l := range readREADME(t).shellLines {
		text := strings.TrimSpace(l.text)
		if def == nil && !strings.HasPrefix(text, name+"() {") {
			continue
		}
		def = append(def, l.text)
		if strings.HasSuffix(text, "; }") || strings.Contains(text, "; }  ") || strings.Contains(text, "; } #") {
			return strings.Join(def, "\n")
		}
	}
	t.Fatalf("README.md: no shell function %s() { …; } in a sh block", name)
	return ""
}

// TestREADMEReplyHelper: the README's kcat walk-through reads a reply
// with its shell function reply, and the next request takes the visit
// number from it (visit=$(reply stay-101 | jq -r .payload.ykc700)). It
// runs here with a kcat that prints the replies topic as given: the reply
// comes out once, also when the topic holds it twice (a reader who runs
// the walk-through again gets the stored reply published again, and two
// lines in $visit broke the next request into invalid records), and
// reply waits while the reply is not there yet.
func TestREADMEReplyHelper(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's reply function needs %s: %v", tool, err)
		}
	}
	reply := readmeShellFunc(t, "reply")
	const (
		r1    = `{"requestId":"stay-101","status":"ok","payload":{"ykc700":"JZ350200202604010001"}}`
		other = `{"requestId":"stay-102","status":"ok","payload":{"accepted_count":2}}`
	)
	cases := map[string]struct {
		topic [][]string // what kcat prints on its first, second, … call (the last repeats)
	}{
		"once":                 {topic: [][]string{{other, r1}}},
		"twice on the topic":   {topic: [][]string{{r1, other, r1}}},
		"not there yet, first": {topic: [][]string{{}, {other}, {other, r1, r1}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for i, recs := range tc.topic {
				text := ""
				for _, r := range recs {
					text += r + "\n"
				}
				if err := os.WriteFile(filepath.Join(dir, "out."+strconv.Itoa(i)), []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// kcat -C … -e: the topic as it is at this call, then exit.
			kcat := `#!/usr/bin/env bash
dir=$(dirname "$0"); n=$(cat "$dir/calls" 2>/dev/null || echo 0); echo $((n+1)) > "$dir/calls"
f="$dir/out.$n"; [ -f "$f" ] || f="$dir/out.` + strconv.Itoa(len(tc.topic)-1) + `"
cat "$f"
`
			if err := os.WriteFile(filepath.Join(dir, "kcat"), []byte(kcat), 0o700); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-c", reply+"\nvisit=$(reply stay-101 | jq -r .payload.ykc700)\nprintf '%s' \"$visit\"")
			cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("README reply function: %v\n%s", err, out)
			}
			if got := string(out); got != "JZ350200202604010001" {
				t.Errorf("visit=$(reply stay-101 | jq -r .payload.ykc700) is %q, want the one visit number JZ350200202604010001\nthe function:\n%s", got, reply)
			}
		})
	}
}
