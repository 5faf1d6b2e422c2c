package hygiene

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// mdLinkRE is a Markdown link's target: ](target).
var mdLinkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// headingAnchor is the anchor GitHub gives a heading: lower case, every
// character but letters, digits, "-", "_" and spaces dropped, spaces as "-".
func headingAnchor(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// markdownAnchors returns the anchors of the headings of a Markdown text,
// code blocks left out.
func markdownAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	fence := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
			continue
		}
		if !fence && strings.HasPrefix(line, "#") {
			anchors[headingAnchor(strings.TrimLeft(line, "#"))] = true
		}
	}
	return anchors
}

// TestDocumentationLinksResolve: every relative link of README.md, the
// plugins' READMEs and docs/*.md names a file of the repository, and every
// #anchor a heading of the file it points into, so a reader following one
// lands where the text says (docs/performance-history.md's table of
// contents included).
func TestDocumentationLinksResolve(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	docs := []string{"README.md"}
	plugins, err := filepath.Glob(filepath.Join(root, "plugins", "*", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(plugins, pages...) {
		rel, _ := filepath.Rel(root, p)
		docs = append(docs, rel)
	}
	if len(docs) < 3 {
		t.Fatalf("found only %v; is the repository root right?", docs)
	}
	links := 0
	for _, doc := range docs {
		data, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		fence := false
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "```") {
				fence = !fence
			}
			if fence {
				continue
			}
			for _, m := range mdLinkRE.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				links++
				file, anchor, _ := strings.Cut(target, "#")
				path := filepath.Join(root, doc)
				if file != "" {
					path = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
					if _, err := os.Stat(path); err != nil {
						t.Errorf("%s:%d: the link %s names no file of the repository (%v)", doc, i+1, target, err)
						continue
					}
				}
				if anchor == "" || !strings.HasSuffix(path, ".md") {
					continue
				}
				text, err := os.ReadFile(path)
				if err != nil {
					t.Errorf("%s:%d: %v", doc, i+1, err)
					continue
				}
				if !markdownAnchors(string(text))[anchor] {
					t.Errorf("%s:%d: the link %s names no heading of %s; link to a heading's anchor (lower case, punctuation dropped, spaces as -)", doc, i+1, target, filepath.Base(path))
				}
			}
		}
	}
	if links == 0 {
		t.Fatal("no relative links found; is the link pattern right?")
	}
}

// TestPerformanceHistoryContents: the contents of
// docs/performance-history.md list every one of its sections ("## "), in
// order, so a round moved there from docs/performance.md is found.
func TestPerformanceHistoryContents(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "performance-history.md"))
	if err != nil {
		t.Fatal(err)
	}
	var listed, sections []string
	inContents, fence := false, false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		switch {
		case fence:
		case line == "## Contents":
			inContents = true
		case strings.HasPrefix(line, "## "):
			inContents = false
			sections = append(sections, headingAnchor(line[3:]))
		case inContents && strings.HasPrefix(line, "- ["):
			if m := mdLinkRE.FindStringSubmatch(line); m != nil {
				listed = append(listed, strings.TrimPrefix(m[1], "#"))
			}
		}
	}
	if len(sections) < 10 {
		t.Fatalf("docs/performance-history.md has only %d sections; has its form changed?", len(sections))
	}
	for _, a := range sections {
		if !slices.Contains(listed, a) {
			t.Errorf("docs/performance-history.md: the section #%s is not in its Contents; add - [its title](#%s) in its place", a, a)
		}
	}
	for _, a := range listed {
		if !slices.Contains(sections, a) {
			t.Errorf("docs/performance-history.md: its Contents list #%s, which is no section; correct or remove it", a)
		}
	}
	if !t.Failed() && !slices.Equal(listed, sections) {
		t.Errorf("docs/performance-history.md: its Contents are not in the order of its sections; order them as the sections are:\n%q", sections)
	}
}
