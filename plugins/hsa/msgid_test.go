package hsa

import (
	"testing"
	"time"
)

func TestFormatMsgID(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 4, 1, 1, 30, 0, 0, time.UTC) // 09:30 in UTC+8
	testCases := map[string]struct {
		n          int64
		base, span int
		want       string
	}{
		"first":              {1, 0, 10000, "H35020300001202504010930000000"},
		"second":             {2, 0, 10000, "H35020300001202504010930000001"},
		"wraps":              {10001, 0, 10000, "H35020300001202504010930000000"},
		"range":              {1, 5000, 5000, "H35020300001202504010930005000"},
		"range wraps":        {5001, 5000, 5000, "H35020300001202504010930005000"},
		"range last":         {5000, 5000, 5000, "H35020300001202504010930009999"},
		"zero span is 10000": {3, 0, 0, "H35020300001202504010930000002"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := FormatMsgID("H35020300001", at, tc.n, tc.base, tc.span)
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if len(got) != 30 {
				t.Errorf("length %d", len(got))
			}
			code, ts, seq, err := ParseMsgID(got)
			if err != nil || code != "H35020300001" || !ts.Equal(at) || seq < tc.base {
				t.Errorf("parse: %s %s %d %v", code, ts, seq, err)
			}
		})
	}
}

func TestParseMsgIDRejects(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", "H3502030000120250401093000000", "H350203000012025040109300000001", "H3502030000120251301093000000X", "H35020300001202504010930000ABC"} {
		if _, _, _, err := ParseMsgID(id); err == nil {
			t.Errorf("%q accepted", id)
		}
	}
}
