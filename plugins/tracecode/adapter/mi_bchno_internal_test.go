package adapter

import (
	"strconv"
	"strings"
	"testing"
)

// TestMIBatchNoForms: a document the hospital uploaded keeps
// <billNo>-<lineNo>; a fetched one's lines differ by supplier, fit the
// field's 30 characters however long the number, and are the same on
// every call.
func TestMIBatchNoForms(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("9", 28)
	tests := map[string]struct {
		docNo, source string
		line          int
		wantPrefix    string
	}{
		"uploaded":                         {docNo: "RK-1", source: sourceUpload, line: 2, wantPrefix: "RK-1-2"},
		"fetched":                          {docNo: "PS-0001", source: sourcePlatform, line: 3, wantPrefix: "PS-0001-"},
		"fetched, number too long for tag": {docNo: long, source: sourcePlatform, line: 12},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := miBatchNo(&docRecord{DocNo: tc.docNo, Source: tc.source, FromOrgCode: "91350200MA31A0001X"}, tc.line)
			b := miBatchNo(&docRecord{DocNo: tc.docNo, Source: tc.source, FromOrgCode: "91350200MA31B0002Y"}, tc.line)
			again := miBatchNo(&docRecord{DocNo: tc.docNo, Source: tc.source, FromOrgCode: "91350200MA31A0001X"}, tc.line)
			if a != again {
				t.Errorf("not stable: %q then %q", a, again)
			}
			if !strings.HasPrefix(a, tc.wantPrefix) || len(a) > miBchnoMax || !strings.HasSuffix(a, "-"+strconv.Itoa(tc.line)) {
				t.Errorf("batch number %q: want prefix %q, the line number last, at most %d characters", a, tc.wantPrefix, miBchnoMax)
			}
			if tc.source == sourcePlatform && a == b {
				t.Errorf("two suppliers' documents %s share batch number %q", tc.docNo, a)
			}
			if tc.source == sourceUpload && a != tc.wantPrefix {
				t.Errorf("uploaded document's batch number %q, want %q", a, tc.wantPrefix)
			}
		})
	}
}
