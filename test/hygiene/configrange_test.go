package hygiene

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// configRangeRE is a range check of host/internal/config:
// add("kafka.maxInFlight", "must be between 1 and 10000, is %d", …).
var configRangeRE = regexp.MustCompile(`add\("([a-zA-Z][a-zA-Z0-9.]*)", "must be between (\S+?)(?: \([^)]*\))? and ([^\s,:"]+)`)

// configRange is one key's validated range.
type configRange struct{ key, lo, hi string }

// configRanges returns the ranges src checks with literal keys and bounds.
func configRanges(src string) []configRange {
	var out []configRange
	for _, m := range configRangeRE.FindAllStringSubmatch(src, -1) {
		if strings.Contains(m[2], "%") || strings.Contains(m[3], "%") {
			continue // a computed bound: the README states the rule
		}
		out = append(out, configRange{m[1], m[2], m[3]})
	}
	return out
}

// configRows returns the rows of README's configuration tables ("| key |"
// tables under "## Configuration") by key: a first cell's backticked
// names, a name without a dot being a sibling of the first.
func configRows(readme string) map[string]string {
	rows := map[string]string{}
	in, inTable := false, false
	for _, line := range strings.Split(readme, "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Configuration"
			continue
		case !in:
			continue
		case strings.HasPrefix(line, "| key |"):
			inTable = true
			continue
		case !strings.HasPrefix(line, "|"):
			inTable = false
			continue
		case !inTable || strings.HasPrefix(line, "|---"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		var first string
		for _, k := range backticked(cells[0]) {
			if first != "" && !strings.Contains(k, ".") {
				k = first[:strings.LastIndex(first, ".")+1] + k
			}
			if first == "" {
				first = k
			}
			rows[k] = line
		}
	}
	return rows
}

// parenRE is a parenthesis inside a README row: "between 0s (no load
// balancer) and 2m".
var parenRE = regexp.MustCompile(`\s*\([^()]*\)`)

// statesRange reports whether a README row states the range lo..hi: "lo
// to hi", "between lo and hi" or "lo … hi" (backticks and a parenthesis
// after lo aside, any case), or, for a bound named by another key, "at
// most hi".
func statesRange(row, lo, hi string) bool {
	r := strings.ToLower(strings.ReplaceAll(row, "`", ""))
	lo, hi = strings.ToLower(lo), strings.ToLower(hi)
	for _, text := range []string{r, parenRE.ReplaceAllString(r, "")} {
		for _, f := range []string{"%s to %s", "between %s and %s", "%s … %s", "%s–%s"} {
			if strings.Contains(text, fmt.Sprintf(f, lo, hi)) {
				return true
			}
		}
	}
	short := hi[strings.LastIndex(hi, ".")+1:]
	return strings.Contains(hi, ".") && (strings.Contains(r, "at most "+hi) || strings.Contains(r, "at most "+short))
}

// configRangeProblems names every range src validates that readme's row
// of the key does not state.
func configRangeProblems(readme, src string) []string {
	rows := configRows(readme)
	var out []string
	for _, c := range configRanges(src) {
		row, ok := rows[c.key]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("README.md, ## Configuration: no row for `%s`, which the configuration checks to be between %s and %s; add one", c.key, c.lo, c.hi))
		case !statesRange(row, c.lo, c.hi):
			out = append(out, fmt.Sprintf("README.md, ## Configuration: the row of `%s` does not say it is %s to %s, as the configuration checks; a value outside is refused at start", c.key, c.lo, c.hi))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestConfigRangeProblems(t *testing.T) {
	t.Parallel()
	const head = "## Configuration\n\n| key | default | meaning |\n|---|---|---|\n"
	const src = `add("kafka.maxInFlight", "must be between 1 and 10000, is %d", n)`
	tests := []struct {
		name, readme, src string
		want              []string
	}{
		{"stated", head + "| `kafka.maxInFlight` | 64 | messages at once, 1 to 10000 |\n", src, nil},
		{"stated with backticks and between", head + "| `kafka.maxInFlight` | 64 | Between `1` and `10000` |\n", src, nil},
		{"a parenthesis after the lower bound", head + "| `kafka.maxInFlight` | 64 | between `1` (one at a time) and `10000` |\n", src, nil},
		{"not stated", head + "| `kafka.maxInFlight` | 64 | messages at once |\n", src, []string{"does not say it is 1 to 10000"}},
		{"another range", head + "| `kafka.maxInFlight` | 64 | 1 to 1000 |\n", src, []string{"does not say"}},
		{"no row", head + "| `kafka.brokers` | — | the brokers |\n", src, []string{"no row for `kafka.maxInFlight`"}},
		{"a sibling key", head + "| `kafka.partitions` / `maxInFlight` | 6 / 64 | each 1 to 10000 |\n", src, nil},
		{"a parenthesis in the bound", head + "| `kafka.replyLinger` | 2ms | 0s to 1s |\n",
			`add("kafka.replyLinger", "must be between 0s (send at once) and 1s, is %s", d)`, nil},
		{"a bound by another key", head + "| `http.maxConnectionsPerAddress` | 256 (at most `maxConnections`) | per address |\n",
			`add("http.maxConnectionsPerAddress", "must be between 1 and http.maxConnections (%d)", n)`, nil},
		{"a computed bound is skipped", head, `add("processing.maxPayloadBytes", "must be between 1 and %d, is %d", m, n)`, nil},
		{"outside the section", "## Other\n\n| key | default | meaning |\n|---|---|---|\n| `kafka.maxInFlight` | 64 | 1 to 10000 |\n", src,
			[]string{"no row"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := configRangeProblems(tc.readme, tc.src)
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %d problems containing %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestREADMEConfigTablesStateValidatedRanges: an administrator sets a
// value from README's configuration tables, and medgate refuses to start
// on one outside the range host/internal/config checks. So every range it
// checks as "must be between A and B" for a named key is stated in that
// key's row ("A to B"), and a changed bound shows up here.
func TestREADMEConfigTablesStateValidatedRanges(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	files, err := filepath.Glob(filepath.Join(root, "host", "internal", "config", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(data)
	}
	if n := len(configRanges(src.String())); n < 10 {
		t.Fatalf("host/internal/config checks only %d ranges as `add(\"key\", \"must be between …\"`; did its wording change? update configRangeRE", n)
	}
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range configRangeProblems(string(data), src.String()) {
		t.Error(p)
	}
}
