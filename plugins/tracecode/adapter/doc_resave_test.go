package adapter_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	tracecode "github.com/medgate/medgate/test/sim/tracecode"
)

// readHookHost runs during once, just before the Get of a key starting
// with at that follows skip such Gets reads it: as a document saved again
// at that moment, by another message, while an export reads.
type readHookHost struct {
	*sdktest.MemoryHost
	mu     sync.Mutex
	at     string
	skip   int
	during func()
	ran    atomic.Bool
}

func (h *readHookHost) arm(at string, skip int, during func()) {
	h.mu.Lock()
	h.at, h.skip, h.during = at, skip, during
	h.mu.Unlock()
}

func (h *readHookHost) Get(ctx context.Context, site, key string) (sdk.Entry, error) {
	h.mu.Lock()
	var during func()
	if h.during != nil && strings.HasPrefix(key, h.at) {
		if h.skip > 0 {
			h.skip--
		} else {
			during, h.during = h.during, nil
		}
	}
	h.mu.Unlock()
	if during != nil {
		h.ran.Store(true)
		during()
	}
	return h.MemoryHost.Get(ctx, site, key)
}

// codesOf returns n drug codes of a product from serial on.
func codesOf(product string, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = drugCode(product, from+i)
	}
	return out
}

// exportSheets exports from..to and returns the rows (header left out) of
// the given sheets; a message the plugin answers "retry" (the host's
// retry) is sent again.
func exportSheets(t *testing.T, e *env, from, to string, sheets ...string) map[string][][]string {
	t.Helper()
	payload := map[string]any{"from": from, "to": to, "sheets": sheets}
	r := e.send(adapter.OpExport, payload)
	if r.Status == sdk.StatusFailed && r.Retryable {
		// The host retries it; should this reply be the last (given
		// up), it must say what the user does, not only that it runs again.
		if len(r.Diagnostics) == 0 || !strings.Contains(r.Diagnostics[0].Detail, "send the request again under a new message id") {
			t.Errorf("a retried export's reply does not say to send it again should it be the last: %+v", r.Diagnostics)
		}
		r = e.send(adapter.OpExport, payload)
	}
	rep := must[exportReply](t, r, sdk.StatusOK)
	f, err := excelize.OpenFile(rep.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][][]string{}
	for _, s := range f.GetSheetList() {
		rows, err := f.GetRows(s)
		if err != nil {
			t.Fatal(err)
		}
		out[s] = rows[1:]
	}
	return out
}

// TestExportSeesOneVersionOfADocument: a document saved again (an upload
// sent again with other codes, a fetch of a document the platform
// changed) was rewritten in place, chunk by chunk, so an export reading
// its codes at that moment listed rows of both versions, or the old
// version's rows with the new version's lines (院内编码 of a line the
// version it read does not have), or missed rows (a chunk the new
// version no longer has). Each version's codes are kept under keys of
// their own now, and its record switched last: the export lists one
// version whole (a read that finds its version replaced is retried).
func TestExportSeesOneVersionOfADocument(t *testing.T) {
	t.Parallel()
	// Version 1: line 1 with 1,200 codes (3 chunks); version 2: line 2
	// with 700 other codes (2 chunks).
	v1, v2 := codesOf("8100001", 100000, 1200), codesOf("8100002", 200000, 700)
	for name, skip := range map[string]int{
		"before the first chunk":  0,
		"before the second chunk": 1,
		"before the last chunk":   2,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var hh *readHookHost
			e := newEnvOn(t, nil, func(m *sdktest.MemoryHost) sdkhost.HostServer {
				hh = &readHookHost{MemoryHost: m}
				return hh
			})
			e.sim.Fail("upload", tracecode.FailHTTP500, 1)
			r := e.send(adapter.OpStockInUpload, bill("RK-V1", "102", line(1, "1200", v1...)))
			if r.Status == sdk.StatusOK {
				t.Fatalf("the first upload was to fail: %s", r.Payload)
			}
			hh.arm("codes/up/RK-V1/", skip, func() {
				must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-V1", "102", line(2, "700", v2...))), sdk.StatusOK)
			})
			rows := exportSheets(t, e, "2026-11-26", "2026-11-26", "codes")["追溯码明细"]
			if !hh.ran.Load() {
				t.Fatal("the document was not saved again during the export: the test does not test")
			}
			got := make([]string, 0, len(rows))
			for _, row := range rows {
				got = append(got, row[4]+"|"+row[5]+"|"+row[9])
			}
			sort.Strings(got)
			want := func(lineNo int, codes []string) []string {
				out := make([]string, len(codes))
				for i, c := range codes {
					out[i] = fmt.Sprintf("%d|YP%04d|%s", lineNo, lineNo, c)
				}
				sort.Strings(out)
				return out
			}
			if w1, w2 := want(1, v1), want(2, v2); !slicesEqual(got, w1) && !slicesEqual(got, w2) {
				t.Errorf("the export listed %d code rows of RK-V1, %s; want version 1 whole (1,200 rows of line 1) or version 2 whole (700 rows of line 2)", len(got), describe(got))
			}
			// No chunk of the replaced version is left.
			if n := len(e.state("codes/up/RK-V1/")); n != 2 {
				t.Errorf("%d code chunks stored for RK-V1, want the 2 of its version now", n)
			}
		})
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// describe counts rows by line and item code.
func describe(rows []string) string {
	n := map[string]int{}
	for _, r := range rows {
		f := strings.Split(r, "|")
		if f[1] == "" {
			f[1] = "(no item code)"
		}
		n["line "+f[0]+" "+f[1]]++
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+": "+strconv.Itoa(n[k]))
	}
	return strings.Join(parts, ", ")
}

// TestExportSeesAMovedDocumentOnce: a document whose date moves while an
// export reads the days is stored anew on its new day. Moved to a day the
// export had still to read, after it had listed the document, it was
// listed twice; moved back to a day the export had read, it was listed
// not at all (its old record removed before the export got there).
func TestExportSeesAMovedDocumentOnce(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		from, to string // the document's date before and after
		at       string // the read the move runs before
	}{
		"ahead, after the export listed it":  {from: "2026-11-24", to: "2026-11-26", at: "count/doc/20261126"},
		"back, before the export got to it":  {from: "2026-11-26", to: "2026-11-24", at: "count/doc/20261126"},
		"ahead, before the export got to it": {from: "2026-11-24", to: "2026-11-26", at: "count/doc/20261124"},
		"back, as the export reads it":       {from: "2026-11-26", to: "2026-11-24", at: "docidx/up/RK-M1"},
		"back, with the export in between":   {from: "2026-11-26", to: "2026-11-24", at: "count/doc/20261125"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var hh *readHookHost
			e := newEnvOn(t, nil, func(m *sdktest.MemoryHost) sdkhost.HostServer {
				hh = &readHookHost{MemoryHost: m}
				return hh
			})
			doc := func(day string, codes ...string) map[string]any {
				b := bill("RK-M1", "102", line(1, strconv.Itoa(len(codes)), codes...))
				b["billTime"] = day + " 09:30:00"
				return b
			}
			// Another document on each day, so that every day is read.
			for i, day := range []string{"2026-11-24", "2026-11-25", "2026-11-26"} {
				b := doc(day, drugCode("8100003", 500+i))
				b["billNo"] = "RK-O" + strconv.Itoa(i)
				must[uploadReply](t, e.send(adapter.OpStockInUpload, b), sdk.StatusOK)
			}
			e.sim.Fail("upload", tracecode.FailHTTP500, 1)
			if r := e.send(adapter.OpStockInUpload, doc(tc.from, drugCode("8100001", 1))); r.Status == sdk.StatusOK {
				t.Fatalf("the first upload was to fail: %s", r.Payload)
			}
			hh.arm(tc.at, 0, func() {
				must[uploadReply](t, e.send(adapter.OpStockInUpload, doc(tc.to, drugCode("8100001", 2))), sdk.StatusOK)
			})
			rows := exportSheets(t, e, "2026-11-24", "2026-11-26", "bills")["出入库数据"]
			if !hh.ran.Load() {
				t.Fatalf("the document did not move during the export: the test does not test")
			}
			n, others := 0, 0
			for _, row := range rows {
				switch {
				case row[2] == "RK-M1":
					n++
				case strings.HasPrefix(row[2], "RK-O"):
					others++
				}
			}
			if n != 1 {
				t.Errorf("the moved document RK-M1 is listed %d times, want once", n)
			}
			if others != 3 {
				t.Errorf("%d other documents listed, want 3", others)
			}
			// Once its date moved, an export of the old day alone does not
			// list it, and one of the new day does.
			for day, want := range map[string]int{tc.from: 0, tc.to: 1} {
				n := 0
				for _, row := range exportSheets(t, e, day, day, "bills", "codes")["出入库数据"] {
					if row[2] == "RK-M1" {
						n++
					}
				}
				if n != want {
					t.Errorf("an export of %s lists RK-M1 %d times, want %d", day, n, want)
				}
			}
		})
	}
}

// TestStockOutAgainWithOtherContentRefusedPutsCodesBack: a stock-out sent
// again under its number with other content replaces the stored document
// (its codes a new version) before it is sent. Refused then, it puts back
// the codes of both attempts, and read those of the earlier attempt after
// they were replaced: now that a replaced version's codes are removed, the
// refusal found them gone and the message failed to be retried, the
// refusal unrecorded. They are read before the document is saved again.
func TestStockOutAgainWithOtherContentRefusedPutsCodesBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a, b, c := drugCode("8100001", 71), drugCode("8100001", 72), drugCode("8100001", 73)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-R", "102", line(1, "3", a, b, c))), sdk.StatusOK)
	// The first attempt's outcome is unknown: its codes stay out.
	e.sim.Fail("upload", tracecode.FailHTTP500, 1)
	if r := e.send(adapter.OpStockOutUpload, bill("CK-R", "202", line(1, "2", a, b))); r.Status == sdk.StatusOK {
		t.Fatalf("the first attempt was to have no answer: %s", r.Payload)
	}
	// Sent again with other codes (the first is not on the platform), and
	// refused before it is processed (the credentials).
	e.sim.Fail("upload", tracecode.FailAuth, 2)
	r := e.send(adapter.OpStockOutUpload, bill("CK-R", "202", line(1, "2", a, c)))
	if r.Status != sdk.StatusRejected {
		t.Fatalf("the second attempt: %s %v %s, want rejected (the credentials refused)", r.Status, r.Diagnostics, r.Payload)
	}
	// Every code is back in stock: a stock-out of all three goes out.
	must[uploadReply](t, e.send(adapter.OpStockOutUpload, bill("CK-S", "202", line(1, "3", a, b, c))), sdk.StatusOK)
}
