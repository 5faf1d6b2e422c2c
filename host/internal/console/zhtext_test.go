package console

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

var (
	// zhSkipped are the parts of a template that are not its text: code,
	// scripts, styles and template actions (what plugins, people and the
	// store supply).
	zhSkipped = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<pre.*?</pre>|<code>.*?</code>|\{\{.*?\}\}`)
	// zhBlock is a tag that starts or ends a block of text: a paragraph,
	// a cell, a label, a button … (not <br>, <b>, <a>, <span>: a Chinese
	// sentence and its English after a <br> are one text).
	zhBlock = regexp.MustCompile(`</?(?:p|li|td|th|h1|h2|h3|dt|dd|label|legend|button|option|summary|div|section|tr|table|thead|tbody|ul|ol|form|select|details|header|nav|main|footer|fieldset|dl)\b[^>]*>`)
	zhTag   = regexp.MustCompile(`<[^>]*>`)
	// zhAttr is an attribute people read: a tooltip, a question asked
	// before an action, a field's hint.
	zhAttr    = regexp.MustCompile(`\b(?:title|data-confirm|data-busy|aria-label|alt)="([^"]*)"`)
	zhWords   = regexp.MustCompile(`[A-Za-z]{2,}\s+[A-Za-z]{2,}`)
	zhEnglish = regexp.MustCompile(`[A-Za-z]{2,}`)
)

// zhProblem says why text would not be understood by a reader of
// Chinese, or "" when it would: two English words in a row and no
// Chinese, or eight English words and more with fewer than half as many
// Chinese characters (a Chinese label before a long English explanation).
func zhProblem(text string) string {
	han := 0
	for _, r := range text {
		if unicode.Is(unicode.Han, r) {
			han++
		}
	}
	en := len(zhEnglish.FindAllString(text, -1))
	switch {
	case han == 0 && zhWords.MatchString(text):
		return "English only"
	case en >= 8 && 2*han < en:
		return "mostly English"
	}
	return ""
}

// TestTemplatesReadInChinese: the hospital's staff read the console in
// Chinese. Every text the host's pages write themselves (each block of
// text of every template, each tooltip and question) has Chinese first or
// beside its English, whichever branch of a template shows it: an
// English-only text brought back into a page fails here, and
// TestConsoleReadsInChinese (test/browser) reads the pages as shown.
func TestTemplatesReadInChinese(t *testing.T) {
	t.Parallel()
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates: %v", err)
	}
	for _, f := range files {
		b, err := fs.ReadFile(templateFS, f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		for _, m := range zhAttr.FindAllStringSubmatch(zhSkipped.ReplaceAllString(src, " "), -1) {
			if p := zhProblem(m[1]); p != "" {
				t.Errorf("%s: %s in an attribute: %q", f, p, m[1])
			}
		}
		for _, chunk := range zhBlock.Split(zhSkipped.ReplaceAllString(src, " "), -1) {
			text := strings.Join(strings.Fields(zhTag.ReplaceAllString(chunk, " ")), " ")
			if p := zhProblem(text); p != "" {
				t.Errorf("%s: %s: %q", f, p, text)
			}
		}
	}
}

// TestZhProblem: the rule of TestTemplatesReadInChinese.
func TestZhProblem(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		text, want string
	}{
		"English only":                 {"No reply stored yet.", "English only"},
		"a code alone":                 {"GYD053", ""},
		"Chinese then English":         {"尚未保存回复。No reply stored yet.", ""},
		"a Chinese label before prose": {"下一步 What to do: fix the cause named above, then replay it from this page", "mostly English"},
		"Chinese and English alike":    {"本页每 30 秒自动刷新 this page refreshes itself every 30 seconds", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := zhProblem(tc.text); got != tc.want {
				t.Errorf("zhProblem(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}
