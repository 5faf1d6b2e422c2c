package adapter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// centsFee is fee line i of a visit with an amount in fen that varies
// from line to line, so that totals are decimals, not a multiple of one
// price.
func centsFee(mdtrt string, i int) map[string]any {
	f := fee(mdtrt, i)
	amt := fmt.Sprintf("%d.%02d", 1+i%97, i%100)
	f["cnt"], f["pric"], f["det_item_fee_sumamt"], f["fulamt_ownpay_amt"] = "1", amt, amt, amt
	return f
}

// stayInParts is a stay of n fee lines (centsFee) cut into k
// selfpay.upload parts of set, in order, and the stay's total.
func stayInParts(mdtrt, set string, n, k int) ([]map[string]any, string) {
	var sum big.Rat
	fees := make([]any, n)
	for i := range fees {
		f := centsFee(mdtrt, i+1)
		fees[i] = f
		r, _ := new(big.Rat).SetString(f["det_item_fee_sumamt"].(string))
		sum.Add(&sum, r)
	}
	total := sum.FloatString(2)
	parts := make([]map[string]any, k)
	for p := range parts {
		v := visit(mdtrt, n)
		v["medfee_sumamt"] = total
		lo, hi := p*n/k, (p+1)*n/k
		parts[p] = map[string]any{nodeMdtrt: v, nodeDiags: diagnoses(), nodeFees: append([]any(nil), fees[lo:hi]...),
			"part": map[string]any{"set": set, "no": p + 1, "of": k}}
	}
	return parts, total
}

// wantLedger checks the simulator's ledger of visit id: complete, every
// line of 1…n exactly once, and its lines adding up to total as a
// decimal, the visit's medfee_sumamt too.
func wantLedger(t *testing.T, sim *selfpaysim.Sim, id string, n int, total string) {
	t.Helper()
	v := sim.Visit(testCode, id)
	if !v.Complete || !v.VisitUploaded {
		t.Fatalf("visit %s on the platform: complete %v, uploaded %v", id, v.Complete, v.VisitUploaded)
	}
	seen := map[string]int{}
	for _, sn := range v.Fees {
		seen[sn]++
	}
	for i := 1; i <= n; i++ {
		sn := fmt.Sprintf("%s-%04d", id, i)
		if seen[sn] != 1 {
			t.Errorf("line %s is on the platform %d times", sn, seen[sn])
		}
	}
	if len(v.Fees) != n {
		t.Errorf("the platform holds %d lines, want %d", len(v.Fees), n)
	}
	want, _ := new(big.Rat).SetString(total)
	for what, got := range map[string]string{"the lines' sum": v.FeesSumamt, "medfee_sumamt": v.MedfeeSumamt} {
		g, ok := new(big.Rat).SetString(got)
		if !ok || g.Cmp(want) != 0 {
			t.Errorf("%s on the platform is %q, want %s", what, got, total)
		}
	}
}

// maxMessageBytes is the host's default processing.maxPayloadBytes.
const maxMessageBytes = 983616

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// platformCalls counts the calls the simulator received.
func platformCalls(sim *selfpaysim.Sim) int { return len(sim.Calls()) }

// TestUploadInParts: a stay of 5,000 lines, too large for one message, is
// sent as four selfpay.upload parts under one key; the first three are
// kept and answered, nothing sent, and the last uploads the whole stay
// as one upload does: every line once, the totals equal, the patient's
// record written for import-pending.
func TestUploadInParts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	parts, total := stayInParts("ZYP5K", "S1", 5000, 4)
	whole := upload("ZYP5K", 5000)
	if b, _ := json.Marshal(whole); len(b) <= maxMessageBytes {
		t.Fatalf("the stay is %d bytes, which one message carries (at most %d)", len(b), maxMessageBytes)
	}
	for i, p := range parts {
		if b, _ := json.Marshal(p); len(b) > maxMessageBytes {
			t.Fatalf("part %d is %d bytes, more than one message carries (%d)", i+1, len(b), maxMessageBytes)
		}
	}
	for i, p := range parts[:3] {
		r := e.must(OpUpload, fmt.Sprintf("p5k-%d", i+1), p, 1)
		wantStatus(t, r, sdk.StatusOK)
		got := payloadOf(t, r)
		if got["status"] != "part-received" || got["part"] != float64(i+1) || got["of"] != float64(4) || got["linesReceived"] != float64((i+1)*1250) {
			t.Errorf("part %d answered %v", i+1, got)
		}
	}
	if n := platformCalls(e.sim); n != 0 {
		t.Fatalf("%d calls reached the platform before the last part", n)
	}
	r := e.must(OpUpload, "p5k-4", parts[3], 1)
	wantStatus(t, r, sdk.StatusOK)
	got := payloadOf(t, r)
	if got["status"] != statusUploaded || got["feeLines"] != float64(5000) || got["parts"] != float64(4) || got["set"] != "S1" {
		t.Errorf("the last part answered %v", got)
	}
	wantLedger(t, e.sim, "ZYP5K", 5000, total)
	if n := e.sim.Count("4202", "ZYP5K"); n != 1 {
		t.Errorf("4202 applied %d times", n)
	}
	// import-pending knows the visit as uploaded with every line.
	csv := "医药机构就诊ID,姓名,身份证号,入院时间,医疗总费用\nZYP5K,张三," + testCert + ",2025-03-25," + total + "\n"
	rep := e.must(OpImportPending, "p5k-pending", map[string]any{"filename": "p.csv", "content": b64(csv)}, 1)
	wantStatus(t, rep, sdk.StatusOK)
	if s := string(rep.Payload); !strings.Contains(s, `"status":"uploaded"`) || !strings.Contains(s, "5000 fee lines") {
		t.Errorf("import-pending reports %s", s)
	}
}

// TestUploadPartRedelivered: a part handled again (the host redelivering
// it, or the HIS sending it again under a new message id) with the same
// content gets the same answer and is kept once; with other content it is
// refused and the first kept. The last part sent again after the upload
// gets the upload's answer, nothing resent.
func TestUploadPartRedelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	parts, total := stayInParts("ZYPR", "S1", 120, 3)
	first := e.must(OpUpload, "pr-1", parts[0], 1)
	wantStatus(t, first, sdk.StatusOK)
	other, _ := stayInParts("ZYPR", "S1", 121, 3) // other lines under part 1
	testCases := map[string]struct {
		id      string
		payload map[string]any
		attempt int
		status  sdk.Status
		rule    string
	}{
		"the host redelivers it":         {id: "pr-1", payload: parts[0], attempt: 2, status: sdk.StatusOK},
		"the HIS sends it again":         {id: "pr-1-again", payload: parts[0], attempt: 1, status: sdk.StatusOK},
		"the HIS sends other lines as 1": {id: "pr-1-other", payload: other[0], attempt: 1, status: sdk.StatusInvalid, rule: "part"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			r := e.must(OpUpload, tc.id, tc.payload, tc.attempt)
			wantStatus(t, r, tc.status)
			if tc.status == sdk.StatusOK && string(r.Payload) != string(first.Payload) {
				t.Errorf("answered %s, the first time %s", r.Payload, first.Payload)
			}
			if tc.rule != "" && (len(r.Diagnostics) == 0 || r.Diagnostics[0].Rule != tc.rule || !strings.Contains(r.Diagnostics[0].Message(), "part 1")) {
				t.Errorf("diagnostics %v, want rule %s naming part 1", r.Diagnostics, tc.rule)
			}
		})
	}
	wantStatus(t, e.must(OpUpload, "pr-2", parts[1], 1), sdk.StatusOK)
	last := e.must(OpUpload, "pr-3", parts[2], 1)
	wantStatus(t, last, sdk.StatusOK)
	wantLedger(t, e.sim, "ZYPR", 120, total)
	calls := platformCalls(e.sim)
	for name, id := range map[string]string{"redelivered": "pr-3", "sent again": "pr-3-again"} {
		r := e.must(OpUpload, id, parts[2], 2)
		wantStatus(t, r, sdk.StatusOK)
		if string(r.Payload) != string(last.Payload) {
			t.Errorf("the last part %s answered %s, the first time %s", name, r.Payload, last.Payload)
		}
	}
	// A part of the finished set again: the same answer as before.
	if r := e.must(OpUpload, "pr-2-late", parts[1], 1); r.Status != sdk.StatusOK || payloadOf(t, r)["part"] != float64(2) {
		t.Errorf("part 2 again after the upload: %s %v %s", r.Status, r.Diagnostics, r.Payload)
	}
	if n := platformCalls(e.sim); n != calls {
		t.Errorf("%d calls after the upload was done", n-calls)
	}
	wantLedger(t, e.sim, "ZYPR", 120, total)
}

// TestUploadPartMissing: a part that skips one is refused, naming the part
// missing, and nothing is sent; once the missing part arrives, the rest
// goes on.
func TestUploadPartMissing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	parts, total := stayInParts("ZYPM", "S1", 200, 4)
	wantStatus(t, e.must(OpUpload, "pm-1", parts[0], 1), sdk.StatusOK)
	wantStatus(t, e.must(OpUpload, "pm-2", parts[1], 1), sdk.StatusOK)
	r := e.must(OpUpload, "pm-4", parts[3], 1)
	wantStatus(t, r, sdk.StatusInvalid)
	if len(r.Diagnostics) == 0 || r.Diagnostics[0].Rule != "part" || !strings.Contains(r.Diagnostics[0].Message(), "part 3") {
		t.Fatalf("diagnostics %v, want rule part naming part 3", r.Diagnostics)
	}
	if n := platformCalls(e.sim); n != 0 {
		t.Fatalf("%d calls with a part missing", n)
	}
	wantStatus(t, e.must(OpUpload, "pm-3", parts[2], 1), sdk.StatusOK)
	wantStatus(t, e.must(OpUpload, "pm-4b", parts[3], 1), sdk.StatusOK)
	wantLedger(t, e.sim, "ZYPM", 200, total)
}

// TestUploadPartsMixed: parts of two sets of one visit, a part beyond the
// set's count, a part whose visit differs from its set's first part, and
// sets that break the stay's rules only together are refused with what
// to do; a new set's first part drops an unfinished set, and says so.
func TestUploadPartsMixed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a, _ := stayInParts("ZYPX", "A", 90, 3)
	b, total := stayInParts("ZYPX", "B", 90, 2)
	wantStatus(t, e.must(OpUpload, "a-1", a[0], 1), sdk.StatusOK)
	wantStatus(t, e.must(OpUpload, "a-2", a[1], 1), sdk.StatusOK)
	changed, _ := stayInParts("ZYPX", "A", 90, 3)
	changed[2][nodeMdtrt].(map[string]any)["endtime"] = "2025-04-02 09:00:00"
	beyond, _ := stayInParts("ZYPX", "A", 90, 3)
	beyond[2]["part"] = map[string]any{"set": "A", "no": 4, "of": 3}
	recount, _ := stayInParts("ZYPX", "A", 90, 3)
	recount[2]["part"] = map[string]any{"set": "A", "no": 3, "of": 4}
	testCases := map[string]struct {
		payload map[string]any
		field   string
		says    string
	}{
		"another set's second part":   {payload: b[1], field: "$.part.no", says: "part 1 of set B"},
		"a visit other than part 1's": {payload: changed[2], field: "$.ownPayPatnMdtrtD", says: "part 1"},
		"a part after the last":       {payload: beyond[2], field: "$.part.no", says: "of 3"},
		"another count of parts":      {payload: recount[2], field: "$.part.of", says: "3 parts"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			r := e.must(OpUpload, "x-"+name, tc.payload, 1)
			wantStatus(t, r, sdk.StatusInvalid)
			if len(r.Diagnostics) == 0 || r.Diagnostics[0].Field != tc.field || !strings.Contains(r.Diagnostics[0].Message(), tc.says) {
				t.Errorf("diagnostics %v, want %s saying %q", r.Diagnostics, tc.field, tc.says)
			}
		})
	}
	// Set B starts over: set A, unfinished, is dropped, and the reply says so.
	r := e.must(OpUpload, "b-1", b[0], 1)
	wantStatus(t, r, sdk.StatusOK)
	if !strings.Contains(r.Diagnostics.String(), "set A") {
		t.Errorf("the first part of set B does not tell set A was dropped: %v", r.Diagnostics)
	}
	late := e.must(OpUpload, "a-3", a[2], 1)
	wantStatus(t, late, sdk.StatusInvalid)
	if !strings.Contains(late.Diagnostics.String(), "set B") {
		t.Errorf("a late part of set A: %v", late.Diagnostics)
	}
	wantStatus(t, e.must(OpUpload, "b-2", b[1], 1), sdk.StatusOK)
	wantLedger(t, e.sim, "ZYPX", 90, total)

	// A bkkp_sn in two parts is found once the set is whole: the last part
	// is refused, naming the part and line, and nothing is sent.
	dup, _ := stayInParts("ZYPD", "D", 10, 2)
	dup[1][nodeFees].([]any)[0] = centsFee("ZYPD", 1)
	wantStatus(t, e.must(OpUpload, "d-1", dup[0], 1), sdk.StatusOK)
	rd := e.must(OpUpload, "d-2", dup[1], 1)
	wantStatus(t, rd, sdk.StatusInvalid)
	if s := rd.Diagnostics.String(); !strings.Contains(s, "part 2 of 2") || !strings.Contains(s, "bkkp_sn") || !strings.Contains(s, "is also line 0 of part 1") {
		t.Errorf("a bkkp_sn repeated across parts: %v", rd.Diagnostics)
	}
	if v := e.sim.Visit(testCode, "ZYPD"); v.Exists {
		t.Errorf("the platform holds %+v of a refused set", v)
	}
}

// TestUploadPartsLostAnswerInTheLastPart: the answer to a 4201A in the
// middle of the upload the last part runs is lost; the next attempt of
// that message reconciles and goes on, every line once.
func TestUploadPartsLostAnswerInTheLastPart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(s map[string]string) { s["batchSize"] = "20" })
	parts, total := stayInParts("ZYPL", "S1", 400, 4)
	for i, p := range parts[:3] {
		wantStatus(t, e.must(OpUpload, fmt.Sprintf("pl-%d", i+1), p, 1), sdk.StatusOK)
	}
	e.sim.Fail(selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultLostReply, After: 10})
	r := e.must(OpUpload, "pl-4", parts[3], 1)
	wantStatus(t, r, sdk.StatusFailed)
	if !r.Retryable {
		t.Fatalf("a lost answer is not retryable: %+v", r)
	}
	r = e.must(OpUpload, "pl-4", parts[3], 2)
	wantStatus(t, r, sdk.StatusOK)
	if payloadOf(t, r)["reconciled"] != true {
		t.Errorf("the lost batch was not reconciled: %s", r.Payload)
	}
	wantLedger(t, e.sim, "ZYPL", 400, total)
}

// TestUploadPartsLeftIncomplete: parts of a set left unfinished are kept
// for partsKeep after the last one; a part arriving later is refused,
// saying the set was dropped and how to send it again, and import-pending
// tells the office of the parts waiting.
func TestUploadPartsLeftIncomplete(t *testing.T) {
	t.Parallel()
	// The plugin's clock runs ahead by skew (the x-tif timestamps too, so
	// it is set back before anything is sent).
	var skew atomic.Int64
	e := newEnv(t, func(s map[string]string) { s["partsKeep"] = "2h" })
	e.restartWith(New(WithPauseMargin(0), WithClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })), e.host)
	parts, total := stayInParts("ZYPI", "S1", 60, 3)
	wantStatus(t, e.must(OpUpload, "pi-1", parts[0], 1), sdk.StatusOK)
	csv := "医药机构就诊ID,姓名,身份证号,入院时间\nZYPI,张三," + testCert + ",2025-03-25\n"
	rep := e.must(OpImportPending, "pi-pending", map[string]any{"filename": "p.csv", "content": b64(csv)}, 1)
	if s := string(rep.Payload); !strings.Contains(s, "part 1 of 3") {
		t.Errorf("import-pending does not tell of the parts waiting: %s", s)
	}
	skew.Store(int64(2*time.Hour + time.Minute))
	r := e.must(OpUpload, "pi-2", parts[1], 1)
	wantStatus(t, r, sdk.StatusInvalid)
	if s := r.Diagnostics.String(); !strings.Contains(s, "partsKeep") || !strings.Contains(s, "part 1") {
		t.Errorf("a part after the set lapsed: %v", r.Diagnostics)
	}
	// Sent again from its first part, the set goes through.
	skew.Store(0)
	for i, p := range parts {
		wantStatus(t, e.must(OpUpload, fmt.Sprintf("pi-again-%d", i+1), p, 1), sdk.StatusOK)
	}
	wantLedger(t, e.sim, "ZYPI", 60, total)
}

// TestUploadPartsOfAnUploadedVisit: a new set of a visit uploaded and
// complete is refused at its part 1 without reupload, nothing kept or
// sent; with "reupload": true in every part it replaces the stay.
func TestUploadPartsOfAnUploadedVisit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	first, _ := stayInParts("ZYPU", "S1", 40, 2)
	for i, p := range first {
		wantStatus(t, e.must(OpUpload, fmt.Sprintf("pu-1-%d", i+1), p, 1), sdk.StatusOK)
	}
	calls := platformCalls(e.sim)
	second, total := stayInParts("ZYPU", "S2", 30, 2)
	r := e.must(OpUpload, "pu-2-1", second[0], 1)
	wantStatus(t, r, sdk.StatusInvalid)
	if r.Diagnostics[0].Rule != "state" || !strings.Contains(r.Diagnostics[0].Message(), "reupload") {
		t.Errorf("a second set without reupload: %v", r.Diagnostics)
	}
	if n := platformCalls(e.sim); n != calls {
		t.Errorf("%d calls for a refused set", n-calls)
	}
	third, _ := stayInParts("ZYPU", "S3", 30, 2)
	for i, p := range third {
		p["reupload"] = true
		wantStatus(t, e.must(OpUpload, fmt.Sprintf("pu-3-%d", i+1), p, 1), sdk.StatusOK)
	}
	wantLedger(t, e.sim, "ZYPU", 30, total)
}

// partsCrashHost fails every write of parts, kept lines and workflow
// state after the first after, like a process dying there.
type partsCrashHost struct {
	*sdktest.MemoryHost
	mu     sync.Mutex
	writes int
	after  int
}

func (c *partsCrashHost) crashed(key string) bool {
	if !strings.HasPrefix(key, "part") && !strings.HasPrefix(key, "wf/") {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.writes > c.after
}

func (c *partsCrashHost) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	if c.crashed(key) {
		return 0, errCrash
	}
	return c.MemoryHost.CompareAndSet(ctx, site, key, expect, value)
}

func (c *partsCrashHost) Put(ctx context.Context, site, key string, value []byte) (int64, error) {
	if c.crashed(key) {
		return 0, errCrash
	}
	return c.MemoryHost.Put(ctx, site, key, value)
}

// TestUploadPartsResumeAfterCrash: the plugin dies at every write of a
// stay sent in three parts (kept lines, the set's record, the last part's
// workflow); a new process handles the message again, and the HIS goes on
// with the parts after it: the stay ends on the platform whole, every
// line once.
func TestUploadPartsResumeAfterCrash(t *testing.T) {
	t.Parallel()
	parts, total := stayInParts("ZYPC", "S1", 9, 3)
	settings := func(s map[string]string) { s["batchSize"] = "2" }
	probe := newEnv(t, settings)
	counter := &partsCrashHost{MemoryHost: probe.host, after: 1 << 30}
	probe.restart(counter)
	for i, p := range parts {
		wantStatus(t, probe.must(OpUpload, fmt.Sprintf("pc-%d", i+1), p, 1), sdk.StatusOK)
	}
	for after := 0; after < counter.writes; after++ {
		t.Run(fmt.Sprintf("after %d writes", after), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, settings)
			e.restart(&partsCrashHost{MemoryHost: e.host, after: after})
			crashed := -1
			for i, p := range parts {
				r, err := e.handle(OpUpload, fmt.Sprintf("pc-%d", i+1), p, 1)
				if err != nil || r.Status != sdk.StatusOK {
					crashed = i
					break
				}
			}
			if crashed < 0 {
				t.Fatal("no crash happened")
			}
			e.restart(e.host) // a new process; the host redelivers
			for i := crashed; i < len(parts); i++ {
				attempt := 1
				if i == crashed {
					attempt = 2
				}
				wantStatus(t, e.must(OpUpload, fmt.Sprintf("pc-%d", i+1), parts[i], attempt), sdk.StatusOK)
			}
			wantLedger(t, e.sim, "ZYPC", 9, total)
			if n := e.sim.Count("4202", "ZYPC"); n != 1 {
				t.Errorf("4202 applied %d times", n)
			}
		})
	}
}

// TestUploadPartInvalid: a malformed part is invalid with every problem
// at once, the payload's too, and nothing is kept or sent.
func TestUploadPartInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	testCases := map[string]struct {
		part any
		edit func(m map[string]any)
		want []string // "path rule"
	}{
		"not an object":   {part: "1/4", want: []string{"$.part type"}},
		"set with a path": {part: map[string]any{"set": "a/b", "no": 1, "of": 2}, want: []string{"$.part.set format"}},
		"no as text":      {part: map[string]any{"set": "S", "no": "1", "of": 2}, want: []string{"$.part.no type"}},
		"of zero":         {part: map[string]any{"set": "S", "no": 1, "of": 0}, want: []string{"$.part.of range"}},
		"too many parts":  {part: map[string]any{"set": "S", "no": 1, "of": maxParts + 1}, want: []string{"$.part.of range"}},
		"no zero":         {part: map[string]any{"set": "S", "no": 0, "of": 2}, want: []string{"$.part.no range"}},
		"unknown field":   {part: map[string]any{"set": "S", "no": 1, "of": 2, "final": true}, want: []string{"$.part.final unknown"}},
		"and the payload": {part: map[string]any{"set": "S", "no": 1, "of": 0}, edit: func(m map[string]any) {
			delete(m[nodeMdtrt].(map[string]any), "psn_name")
		}, want: []string{"$.part.of range", "$.ownPayPatnMdtrtD.psn_name required"}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			parts, _ := stayInParts("ZYPB", "S", 4, 2)
			m := parts[0]
			m["part"] = tc.part
			if tc.edit != nil {
				tc.edit(m)
			}
			r := e.must(OpUpload, "pb-"+name, m, 1)
			wantStatus(t, r, sdk.StatusInvalid)
			var got []string
			for _, d := range r.Diagnostics {
				got = append(got, d.Field+" "+d.Rule)
			}
			for _, w := range tc.want {
				if !strings.Contains(strings.Join(got, "\n"), w) {
					t.Errorf("missing %q in %v", w, got)
				}
			}
		})
	}
	if n := platformCalls(e.sim); n != 0 {
		t.Errorf("%d calls for invalid parts", n)
	}
	if _, err := e.host.Get(context.Background(), testSite, partsKey("ZYPB")); err == nil {
		t.Error("an invalid part was kept")
	}
}
