package adapter_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	tracecode "github.com/medgate/medgate/test/sim/tracecode"
)

// TestExportShowsOneVersionOnEverySheet: the one-click export reads the
// documents twice, once for the stock sheet (出入库数据) and once for the
// trace-code sheet (追溯码明细). A document saved again between the two
// passes (an upload sent again, a fetch of a document the platform
// changed) was listed in one version on the stock sheet and in the other
// on the trace-code sheet: lines and code counts there that the codes do
// not match. Likewise a document that left the export's days between the
// passes had lines and no codes, and one stored between them codes and
// no lines. Whatever happens between the passes, each document is on
// both sheets in one version (its code rows, line by line, as many as the
// stock sheet's 追溯码数 says) or on neither.
func TestExportShowsOneVersionOnEverySheet(t *testing.T) {
	t.Parallel()
	v1, v2 := codesOf("8100001", 300000, 3), codesOf("8100002", 400000, 2)
	testCases := map[string]struct {
		// between runs after the stock sheet, before the trace-code sheet
		// reads the day.
		between func(t *testing.T, e *env)
	}{
		"saved again with other lines and codes": {between: func(t *testing.T, e *env) {
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-P1", "102", line(2, "2", v2...))), sdk.StatusOK)
		}},
		"saved again with more codes on its line": {between: func(t *testing.T, e *env) {
			codes := append(append([]string{}, v1...), v2...)
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-P1", "102", line(1, "5", codes...))), sdk.StatusOK)
		}},
		"moved to a day outside the export": {between: func(t *testing.T, e *env) {
			b := bill("RK-P1", "102", line(1, "3", v1...))
			b["billTime"] = "2026-11-25 09:30:00"
			must[uploadReply](t, e.send(adapter.OpStockInUpload, b), sdk.StatusOK)
		}},
		"another document stored": {between: func(t *testing.T, e *env) {
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-P2", "102", line(1, "2", v2...))), sdk.StatusOK)
		}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var hh *readHookHost
			e := newEnvOn(t, nil, func(m *sdktest.MemoryHost) sdkhost.HostServer {
				hh = &readHookHost{MemoryHost: m}
				return hh
			})
			// Another document of the day, which nothing changes.
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-P0", "102", line(1, "1", drugCode("8100003", 9)))), sdk.StatusOK)
			// RK-P1's first upload gets no answer, so it may be sent again
			// with other content.
			e.sim.Fail("upload", tracecode.FailHTTP500, 1)
			if r := e.send(adapter.OpStockInUpload, bill("RK-P1", "102", line(1, "3", v1...))); r.Status == sdk.StatusOK {
				t.Fatalf("the first upload was to fail: %s", r.Payload)
			}
			// The stock sheet reads the day's count first, the trace-code
			// sheet second.
			hh.arm("count/doc/20261126", 1, func() { tc.between(t, e) })
			sheets := exportSheets(t, e, "2026-11-26", "2026-11-26", "bills", "codes")
			if !hh.ran.Load() {
				t.Fatal("nothing changed between the two sheets' passes: the test does not test")
			}
			// 追溯码数 by document and line on the stock sheet, code rows by
			// document and line on the trace-code sheet.
			bills, codes := map[string]string{}, map[string]int{}
			for _, row := range sheets["出入库数据"] {
				bills[row[2]+" line "+row[9]] = row[21]
			}
			for _, row := range sheets["追溯码明细"] {
				codes[row[1]+" line "+row[4]]++
			}
			var diffs []string
			for k, n := range bills {
				if fmt.Sprint(codes[k]) != n {
					diffs = append(diffs, fmt.Sprintf("%s: 出入库数据 says %s codes, 追溯码明细 lists %d", k, n, codes[k]))
				}
			}
			for k, n := range codes {
				if _, ok := bills[k]; !ok {
					diffs = append(diffs, fmt.Sprintf("%s: 追溯码明细 lists %d codes, 出入库数据 has no such line", k, n))
				}
			}
			sort.Strings(diffs)
			if len(diffs) > 0 {
				t.Errorf("the two sheets show different versions of a document:\n%s", strings.Join(diffs, "\n"))
			}
			if bills["RK-P0 line 1"] != "1" {
				t.Errorf("the unchanged document RK-P0 is not exported whole: %v", bills)
			}
		})
	}
}

// TestExportNotFailedBySameContentSavedAgain: an upload whose attempt
// went unanswered (the platform down, a lost answer) is sent again by the
// host, with the same content, every so often until the platform answers,
// and each attempt saves the document again under a new codes version.
// The export failed (retryable) whenever such a retry fell between its
// stock sheet and its trace-code sheet, or while it read the document's
// codes (the chunks of the version it read removed), though the
// document's lines and codes were what it had begun to list; at a busy
// pharmacy, with a few uploads retrying during an outage, a large export
// failed attempt after attempt until the host gave up. A document saved
// again with the same content is read on in the version now stored.
func TestExportNotFailedBySameContentSavedAgain(t *testing.T) {
	t.Parallel()
	// 1,200 codes: three chunks.
	codes := codesOf("8100001", 500000, 1200)
	testCases := map[string]struct {
		op, billNo, billType string
		docs                 int64 // documents of the day, each with the codes
		// at and skip: the read the retry runs before (readHookHost).
		at     string
		skip   int
		sheets []string
	}{
		"stock-in sent again between the sheets": {op: adapter.OpStockInUpload, billNo: "RK-S1", billType: "102", docs: 1,
			at: "count/doc/20261126", skip: 1, sheets: []string{"bills", "codes"}},
		"stock-out sent again between the sheets": {op: adapter.OpStockOutUpload, billNo: "CK-S1", billType: "202", docs: 2,
			at: "count/doc/20261126", skip: 1, sheets: []string{"bills", "codes"}},
		"stock-in sent again while its codes are read": {op: adapter.OpStockInUpload, billNo: "RK-S1", billType: "102", docs: 1,
			at: "codes/up/RK-S1/", skip: 1, sheets: []string{"bills", "codes"}},
		"stock-out sent again while its codes are read": {op: adapter.OpStockOutUpload, billNo: "CK-S1", billType: "202", docs: 2,
			at: "codes/up/CK-S1/", skip: 2, sheets: []string{"codes"}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var hh *readHookHost
			e := newEnvOn(t, nil, func(m *sdktest.MemoryHost) sdkhost.HostServer {
				hh = &readHookHost{MemoryHost: m}
				return hh
			})
			if tc.op == adapter.OpStockOutUpload {
				must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-S0", "102", line(1, "1200", codes...))), sdk.StatusOK)
			}
			doc := bill(tc.billNo, tc.billType, line(1, "1200", codes...))
			e.sim.Fail("upload", tracecode.FailHTTP500, 1)
			if r := e.send(tc.op, doc); r.Status == sdk.StatusOK {
				t.Fatalf("the first attempt was to fail: %s", r.Payload)
			}
			hh.arm(tc.at, tc.skip, func() {
				must[uploadReply](t, e.send(tc.op, doc), sdk.StatusOK)
			})
			r := e.send(adapter.OpExport, map[string]any{"from": "2026-11-26", "to": "2026-11-26", "sheets": tc.sheets})
			if !hh.ran.Load() {
				t.Fatal("the document was not sent again during the export: the test does not test")
			}
			rep := must[exportReply](t, r, sdk.StatusOK)
			if want := int64(len(codes)) * tc.docs; rep.Rows["codes"] != want {
				t.Errorf("rows %+v, want %d on 追溯码明细", rep.Rows, want)
			}
			if slices.Contains(tc.sheets, "bills") && rep.Rows["bills"] != tc.docs {
				t.Errorf("rows %+v, want %d on 出入库数据", rep.Rows, tc.docs)
			}
		})
	}
}
