package hygiene

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// startsChinese tells whether a text starts in Chinese, so the hospital's
// staff read it first: its first sentence (up to the first "。") holds
// Chinese characters, the first of them within its first 40 characters
// (a metric's value, a label or a command may come before it), and the
// text has such a sentence at all.
func startsChinese(s string) bool {
	head, _, ok := strings.Cut(strings.TrimSpace(s), "。")
	if !ok {
		return false
	}
	han, first := 0, -1
	for i, r := range []rune(head) {
		if unicode.Is(unicode.Han, r) {
			han++
			if first < 0 {
				first = i
			}
		}
	}
	return han >= 4 && first < 40
}

func TestStartsChinese(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		text string
		want bool
	}{
		"Chinese":                     {"插件 ecard 未运行。Plugin ecard is not running", true},
		"a value first":               {"{{ $value }} 条回复无法发布。{{ $value }} replies could not be published", true},
		"a command first":             {"GET /admin/plugins/status 给出插件最后的错误。GET /admin/plugins/status gives …", true},
		"English only":                {"Plugin ecard is not running", false},
		"English first":               {"Plugin ecard is not running, or runs without one of its sites: 插件未运行。", false},
		"a Chinese word, no sentence": {"插件 ecard is not running", false},
		"empty":                       {"", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := startsChinese(tc.text); got != tc.want {
				t.Errorf("startsChinese(%q) = %v, want %v", tc.text, got, tc.want)
			}
		})
	}
}

// TestAlertRulesSpeakToTheStaff: every alert rule has a summary and a
// description that start in Chinese (the hospital's staff are paged; the
// English after it is for the vendor), and a runbook_url into README.md
// naming a heading whose section names the alert, so whoever is paged at
// night reads what happened and finds what to do under the alert's name.
func TestAlertRulesSpeakToTheStaff(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range readAlertRules(t) {
		for _, name := range []string{"summary", "description"} {
			if a := r.Annotations[name]; !startsChinese(a) {
				t.Errorf("alert %s: its %s %q does not start in Chinese; write it for the hospital's staff first (中文), the English after it", r.Alert, name, a)
			}
		}
		url := r.Annotations["runbook_url"]
		file, anchor, _ := strings.Cut(url, "#")
		if file != "README.md" || anchor == "" {
			t.Errorf("alert %s: runbook_url %q is not README.md#<heading>; point it at the README section that says what to do", r.Alert, url)
			continue
		}
		section, ok := markdownSection(string(readme), anchor)
		if !ok {
			t.Errorf("alert %s: runbook_url %q names no heading of README.md", r.Alert, url)
			continue
		}
		if !strings.Contains(section, "`"+r.Alert+"`") {
			t.Errorf("alert %s: the README section %q (runbook_url) does not name the alert as `%s`; point runbook_url at the section that does", r.Alert, anchor, r.Alert)
		}
	}
}

// markdownSection returns the part of a Markdown text under the heading
// with the anchor, up to the next heading of its level or above.
func markdownSection(text, anchor string) (string, bool) {
	lines := strings.Split(text, "\n")
	fence := false
	start, level := -1, 0
	for i, line := range lines {
		if strings.HasPrefix(line, "```") {
			fence = !fence
			continue
		}
		if fence || !strings.HasPrefix(line, "#") {
			continue
		}
		l := len(line) - len(strings.TrimLeft(line, "#"))
		if start >= 0 && l <= level {
			return strings.Join(lines[start:i], "\n"), true
		}
		if start < 0 && headingAnchor(strings.TrimLeft(line, "#")) == anchor {
			start, level = i, l
		}
	}
	if start < 0 {
		return "", false
	}
	return strings.Join(lines[start:], "\n"), true
}
