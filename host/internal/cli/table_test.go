package cli

import (
	"strings"
	"testing"
	"unicode"

	"github.com/medgate/medgate/plugins/sdk"
)

// cells is the display width of s as a terminal shows it, counted here on
// its own: a Han ideograph or a full-width form (U+FF01–U+FF60) takes two
// cells, anything else in these tests one.
func cells(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r), r >= 0xFF01 && r <= 0xFF60, r == '　':
			n += 2
		default:
			n++
		}
	}
	return n
}

// TestTableAlignsByDisplayWidth: plugins declare Chinese-first column
// titles (行号 ROW, 就诊ID VISIT) and rows hold Chinese values; in a
// terminal every cell of a column starts at the same cell, and columns
// stay two cells apart, whatever mix of wide and narrow characters
// comes before them.
func TestTableAlignsByDisplayWidth(t *testing.T) {
	t.Parallel()
	cols := []sdk.Column{{Field: "row", Title: "行号 ROW"}, {Field: "visit", Title: "就诊ID VISIT"}, {Field: "name", Title: "药品 DRUG"}, {Field: "qty", Title: "QTY"}}
	cases := map[string][]map[string]any{
		"ascii values under Chinese titles": {
			{"row": "1", "visit": "V2026120500001", "name": "aspirin", "qty": "2"},
			{"row": "12", "visit": "V9", "name": "ibuprofen 200mg", "qty": "10"},
		},
		"Chinese values wider than titles": {
			{"row": "第一行", "visit": "门诊2026", "name": "阿莫西林胶囊（0.25g）", "qty": "2"},
			{"row": "2", "visit": "住院V1", "name": "aspirin", "qty": "十"},
		},
		"mixed and empty cells": {
			{"row": "1", "visit": "", "name": "头孢克肟 cefixime", "qty": "1"},
			{"row": "２", "visit": "V3", "name": "", "qty": "3"},
		},
	}
	for name, rows := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			anyRows := make([]any, len(rows))
			want := make([][]string, len(rows)+1)
			for _, c := range cols {
				want[0] = append(want[0], c.Title)
			}
			for i, r := range rows {
				anyRows[i] = r
				for _, c := range cols {
					v, _ := r[c.Field].(string)
					if v == "" {
						v = "-"
					}
					want[i+1] = append(want[i+1], v)
				}
			}
			var out strings.Builder
			if err := table(&out, cols, anyRows, textShown(false)); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != len(want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
			}
			// starts[j] is where column j starts, in cells, on the header.
			var starts []int
			for i, line := range lines {
				if strings.HasSuffix(line, " ") {
					t.Errorf("line %d ends in spaces: %q", i, line)
				}
				at := 0 // byte offset searched from
				for j, cell := range want[i] {
					k := strings.Index(line[at:], cell)
					if k < 0 {
						t.Fatalf("line %d has no %q after byte %d:\n%s", i, cell, at, out.String())
					}
					gap := line[at : at+k]
					if strings.Trim(gap, " ") != "" {
						t.Fatalf("line %d: %q stands between column %d and %q:\n%s", i, gap, j-1, cell, out.String())
					}
					start := cells(line[:at+k])
					if j > 0 && len(gap) < 2 {
						t.Errorf("line %d: column %d (%q) is %d space(s) after the one before, want at least 2:\n%s", i, j, cell, len(gap), out.String())
					}
					if i == 0 {
						starts = append(starts, start)
					} else if start != starts[j] {
						t.Errorf("line %d: %q starts at cell %d, its column (%q) at cell %d:\n%s", i, cell, start, cols[j].Title, starts[j], out.String())
					}
					at += k + len(cell)
				}
			}
		})
	}
}
