package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/schemas"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// hostStateLimit is medgate's default pluginLimits.stateValueBytes.
const hostStateLimit = 1 << 20

// limitedHost is a MemoryHost that refuses a state value above limit bytes
// as medgate's host does past stateValueBytes: nothing written, gRPC
// ResourceExhausted "larger than max", which the SDK reports as
// sdk.ErrTooLarge.
type limitedHost struct {
	*sdktest.MemoryHost
	limit int
}

func (h *limitedHost) refuse(n int) error {
	return status.Errorf(codes.ResourceExhausted, "the state value of %d bytes is larger than max %d bytes, the plugin's limit stateValueBytes", n, h.limit)
}

func (h *limitedHost) Put(ctx context.Context, site, key string, value []byte) (int64, error) {
	if len(value) > h.limit {
		return 0, h.refuse(len(value))
	}
	return h.MemoryHost.Put(ctx, site, key, value)
}

func (h *limitedHost) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	if len(value) > h.limit {
		return 0, h.refuse(len(value))
	}
	return h.MemoryHost.CompareAndSet(ctx, site, key, expect, value)
}

func (h *limitedHost) WriteState(ctx context.Context, site string, writes []sdk.StateWrite) ([]int64, error) {
	for i, w := range writes {
		if len(w.Value) > h.limit {
			return nil, &sdk.WriteError{Index: i, Applied: 0, Err: h.refuse(len(w.Value))}
		}
	}
	return h.MemoryHost.WriteState(ctx, site, writes)
}

// Fillers of fields counted in characters: Chinese text (three bytes in
// UTF-8), and the character a JSON encoder writes longest ("&" is written
// \u0026 by Go's, six bytes).
const (
	chineseChar = "鑫"
	escapedChar = "&"
)

// padTo returns v lengthened to the field's maxLength with filler (v is
// kept as the start, so ids stay unique).
func padTo(f schemas.Field, v, filler string) string {
	if f.MaxLength <= 0 {
		return v
	}
	if f.Unit() == schemas.UnitBytes {
		if len(v) >= f.MaxLength {
			return v
		}
		return v + strings.Repeat("x", f.MaxLength-len(v))
	}
	n := len([]rune(v))
	if n >= f.MaxLength {
		return v
	}
	return v + strings.Repeat(filler, f.MaxLength-n)
}

// longest returns rec with every free-text string field of fields (not
// enums, dates or numbers) at its schema's maxLength, keeping what rec
// has as the start of each value, filled with filler.
func longest(rec map[string]any, fields []schemas.Field, filler string) map[string]any {
	out := map[string]any{}
	for k, v := range rec {
		out[k] = v
	}
	for _, f := range fields {
		if f.Type.Kind != schemas.KindString {
			continue
		}
		out[f.Name] = padTo(f, str(rec, f.Name), filler)
	}
	return out
}

// recordFieldsOf returns the fields of the records of a download schema.
func recordFieldsOf(t testing.TB, code string) []schemas.Field {
	t.Helper()
	sc, ok := schemas.Embedded().Get(Name, code)
	if !ok {
		t.Fatalf("no schema %s", code)
	}
	for _, f := range sc.Output {
		if f.Name == "records" {
			return f.Fields
		}
	}
	t.Fatalf("schema %s declares no records", code)
	return nil
}

// TestWorstCaseBatchIsDelivered: a batch of 500 records with the longest
// fields the schemas allow (Chinese text, or characters JSON escapes, in
// every free-text field) is larger than the 1 MiB the host takes in one state value. It must still
// be stored, published and fed back once, every record acknowledged:
// a batch that cannot be stored is downloaded again and again (GYD008,
// GYR005) and never delivered nor fed back, and the national system hands
// out no new batch of the code meanwhile.
func TestWorstCaseBatchIsDelivered(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		job, event string
		seed       func(s *wisim.Server, fields []schemas.Field)
	}{
		"filing applications (GYD001)": {job: JobFilingApplications, event: "workinjury.filing_application.downloaded",
			seed: func(s *wisim.Server, fields []schemas.Field) {
				for i := 1; i <= maxBatch; i++ {
					s.AddApplication(longest(wisim.SampleApplication("BIG", i, "350200"), fields, chineseChar))
				}
			}},
		"filings (GYD006)": {job: JobFilings, event: "workinjury.filing.downloaded",
			seed: func(s *wisim.Server, fields []schemas.Field) {
				for i := 1; i <= maxBatch; i++ {
					s.AddFiling(longest(wisim.SampleFiling("BIG", i, "350200"), fields, escapedChar))
				}
			}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fields := recordFieldsOf(t, tc.job)
			e := newEnv(t, withStateLimit(hostStateLimit), withSeed(func(s *wisim.Server) { tc.seed(s, fields) }))
			r := e.runJob(tc.job)
			if r.Diagnostics.HasError() {
				t.Fatalf("job %s: %s", tc.job, r.Diagnostics)
			}
			b := nonEmpty(e.sim.Batches(tc.job))
			if len(b) != 1 || b[0].Records != maxBatch || !b[0].Acked || b[0].Feedbacks != 1 || b[0].Deliveries != 1 {
				t.Fatalf("batches %+v; want one batch of %d records, handed out once and acknowledged once", b, maxBatch)
			}
			fb := e.sim.Received("GYU008")
			if len(fb) != 1 {
				t.Fatalf("%d GYU008 sent, want 1", len(fb))
			}
			recs, _ := fb[0].Input["records"].([]any)
			for _, x := range recs {
				if rr := x.(map[string]any); rr["result_flag"] != "1" {
					t.Fatalf("feedback record %v: want every record acknowledged as delivered", rr)
				}
			}
			evs := e.events(tc.event)
			if len(evs) != maxBatch || len(recs) != maxBatch {
				t.Fatalf("%d events and %d feedback records, want %d each", len(evs), len(recs), maxBatch)
			}
			// The premise: the batch, encoded as one value, is larger than
			// the host takes.
			recsOf := make([]json.RawMessage, len(evs))
			for i, ev := range evs {
				var p struct {
					Record json.RawMessage `json:"record"`
				}
				if err := json.Unmarshal(ev.Payload, &p); err != nil {
					t.Fatal(err)
				}
				recsOf[i] = p.Record
			}
			if whole, err := json.Marshal(recsOf); err != nil || len(whole) <= hostStateLimit {
				t.Fatalf("the batch's records are %d bytes as one value (%v), not above the %d of one state value: the test proves nothing", len(whole), err, hostStateLimit)
			}
			if left, err := e.host.Scan(t.Context(), testSite, "dl/"+tc.job+"/", 0); err != nil || len(left) != 0 {
				keys := make([]string, len(left))
				for i, x := range left {
					keys[i] = x.Key
				}
				t.Errorf("state left under dl/%s/ after the batch was acknowledged: %v (%v)", tc.job, keys, err)
			}
		})
	}
}

// tooLargeHost is an sdk.Host (no gRPC in between) that refuses a state
// value above limit with sdk.ErrTooLarge, as the SDK reports the host's
// refusal.
type tooLargeHost struct {
	sdk.Host
	limit int
}

func (h tooLargeHost) Put(ctx context.Context, k string, v []byte) (int64, error) {
	if len(v) > h.limit {
		return 0, fmt.Errorf("sdk: host state put: %w", sdk.ErrTooLarge)
	}
	return h.Host.Put(ctx, k, v)
}

func (h tooLargeHost) CompareAndSet(ctx context.Context, k string, ver int64, v []byte) (int64, error) {
	if len(v) > h.limit {
		return 0, fmt.Errorf("sdk: host state compare-and-set: %w", sdk.ErrTooLarge)
	}
	return h.Host.CompareAndSet(ctx, k, ver, v)
}

// worstValue returns the longest value field f allows, for record i: free
// text filled with a character JSON escapes (six bytes each as sent), ids
// made unique by i.
func worstValue(f schemas.Field, i int) any {
	switch f.Type.Kind {
	case schemas.KindString:
		return padTo(f, fmt.Sprintf("%d", i), escapedChar)
	case schemas.KindEnum:
		long := ""
		for c := range f.Codes {
			if len(c) > len(long) || (len(c) == len(long) && c > long) {
				long = c
			}
		}
		return long
	case schemas.KindDate:
		return "2025-12-31"
	case schemas.KindDateTime:
		return "2025-12-31 23:59:59"
	case schemas.KindInteger:
		return json.Number(strings.Repeat("9", max(f.MaxLength, 1)))
	case schemas.KindDecimal:
		n := strings.Repeat("9", f.Type.Precision-f.Type.Scale)
		if f.Type.Scale > 0 {
			n += "." + strings.Repeat("9", f.Type.Scale)
		}
		return json.Number(n)
	case schemas.KindBoolean:
		return false
	case schemas.KindObject:
		return worstRecord(f.Fields, i)
	case schemas.KindArray:
		// An array without maxItems has no bound: ten items, the most
		// any list of the schemas allows where one is set (GYU006).
		n := f.MaxItems
		if n == 0 || n > 10 {
			n = 10
		}
		items := make([]any, n)
		for k := range items {
			items[k] = worstRecord(f.Fields, i*100+k)
		}
		return items
	}
	return nil
}

// worstRecord returns a record with every field of fields at its longest.
func worstRecord(fields []schemas.Field, i int) map[string]any {
	rec := map[string]any{}
	for _, f := range fields {
		rec[f.Name] = worstValue(f, i)
	}
	return rec
}

// TestWorstCaseBatchesFitInChunks: for every download code, a batch of
// 500 records with every field at the longest its schema allows is stored
// in chunks the host takes, and read back as it came, byte for byte; with
// the host's limit lowered below a chunk, the chunks are split until they
// fit. A record larger than the limit by itself is refused with an error
// naming the setting to raise, and nothing is stored.
func TestWorstCaseBatchesFitInChunks(t *testing.T) {
	t.Parallel()
	limits := map[string]int{"the default limit": hostStateLimit, "a limit of 64 KiB": 64 << 10}
	for code := range eventTypes {
		for lname, limit := range limits {
			t.Run(code+" with "+lname, func(t *testing.T) {
				t.Parallel()
				fields := recordFieldsOf(t, code)
				st := &dlState{Code: code, BatchNo: "D-WORST", FetchSerial: "S-" + code}
				for i := range maxBatch {
					b, err := json.Marshal(worstRecord(fields, i))
					if err != nil {
						t.Fatal(err)
					}
					st.Records = append(st.Records, b)
				}
				mem := sdktest.NewMemoryHost()
				h := tooLargeHost{Host: hostFor(mem, testSite), limit: limit}
				a := New(WithLogger(discardLogger()))
				if err := a.storeRecords(t.Context(), h, "dl/"+code, st); err != nil {
					t.Fatalf("store: %v", err)
				}
				want := st.Records
				back := &dlState{Code: code, BatchNo: st.BatchNo, ChunkPrefix: st.ChunkPrefix, Chunks: st.Chunks, RecordCount: st.RecordCount}
				if err := a.loadRecords(t.Context(), h, back); err != nil {
					t.Fatalf("load: %v", err)
				}
				if len(back.Records) != len(want) {
					t.Fatalf("read back %d records, want %d", len(back.Records), len(want))
				}
				for i := range want {
					if string(back.Records[i]) != string(want[i]) {
						t.Fatalf("record %d read back as %s, want %s", i, back.Records[i], want[i])
					}
				}
				a.dropChunks(t.Context(), h, st.ChunkPrefix)
				if left, _ := mem.Scan(t.Context(), testSite, "dl/", 0); len(left) != 0 {
					t.Fatalf("%d chunks left after they were dropped", len(left))
				}
			})
		}
	}
	t.Run("a record larger than the limit", func(t *testing.T) {
		t.Parallel()
		mem := sdktest.NewMemoryHost()
		h := tooLargeHost{Host: hostFor(mem, testSite), limit: 1 << 10}
		st := &dlState{Code: "GYD001", BatchNo: "D-HUGE", FetchSerial: "S-HUGE",
			Records: []json.RawMessage{[]byte(`{"apply_no":"A1"}`), []byte(`{"apply_no":"A2","apply_reason":"` + strings.Repeat("x", 2<<10) + `"}`)}}
		err := New(WithLogger(discardLogger())).storeRecords(t.Context(), h, "dl/GYD001", st)
		if err == nil || !strings.Contains(err.Error(), "stateValueBytes") || !strings.Contains(err.Error(), "record 2") {
			t.Fatalf("store: %v; want an error naming record 2 and stateValueBytes", err)
		}
		if st.ChunkPrefix != "" || st.RecordCount != 0 {
			t.Fatalf("state %+v names chunks of a batch not stored", st)
		}
	})
}

// TestChunkedBatchAcrossCrashes: a run stopped after the chunks of a batch
// were written but before the step said stored leaves the step fetching:
// the next run asks for the batch again (GYD008, GYR005), delivers and
// feeds it back once, and drops the chunks of the lost fetch. A batch a
// version before chunks stored in the state itself (records inline) is
// still published and fed back.
func TestChunkedBatchAcrossCrashes(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		crashAt     string
		inline      bool // rewrite the stored batch as an older version wrote it
		redownloads int
	}{
		"stopped between the chunks and the step":   {crashAt: "fetch:chunked", redownloads: 1},
		"stopped once stored":                       {crashAt: "stored"},
		"a batch stored inline by an older version": {crashAt: "stored", inline: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withStateLimit(hostStateLimit), withSeed(func(s *wisim.Server) {
				for i := 1; i <= 3; i++ {
					s.AddApplication(wisim.SampleApplication("CK", i, "350200"))
				}
			}))
			e.impl.hook = func(p string) error {
				if p == tc.crashAt {
					return errCrash
				}
				return nil
			}
			if r := e.runJob(JobFilingApplications); !r.Diagnostics.HasError() {
				t.Fatalf("the crashed run reported no error: %s", r.Summary)
			}
			h := hostFor(e.host, testSite)
			if tc.inline {
				var st dlState
				if _, err := getJSON(t.Context(), h, "dl/GYD001", &st); err != nil || st.Step != stepStored {
					t.Fatalf("state %+v (%v), want a stored batch", st, err)
				}
				if err := e.impl.loadRecords(t.Context(), h, &st); err != nil {
					t.Fatal(err)
				}
				e.impl.dropChunks(t.Context(), h, st.ChunkPrefix)
				st.Inline, st.ChunkPrefix, st.Chunks, st.RecordCount = st.Records, "", nil, 0
				if err := putJSON(t.Context(), h, "dl/GYD001", st); err != nil {
					t.Fatal(err)
				}
			}
			e.connect()
			if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
				t.Fatalf("resumed run: %s", r.Diagnostics)
			}
			b := nonEmpty(e.sim.Batches("GYD001"))
			if len(b) != 1 || !b[0].Acked || b[0].Feedbacks != 1 || b[0].Deliveries != 1+tc.redownloads {
				t.Fatalf("batches %+v; want one batch handed out %d time(s), acknowledged once", b, 1+tc.redownloads)
			}
			if n := len(e.sim.Received("GYU008")); n != 1 {
				t.Fatalf("%d GYU008 sent, want 1", n)
			}
			ids := map[string]bool{}
			for _, ev := range e.events("workinjury.filing_application.downloaded") {
				ids[ev.ID] = true
			}
			if len(ids) != 3 {
				t.Fatalf("%d distinct events, want the 3 records", len(ids))
			}
			if left, _ := e.host.Scan(t.Context(), testSite, "dl/GYD001/batch/", 0); len(left) != 0 {
				t.Fatalf("%d chunks left after the batch was acknowledged", len(left))
			}
		})
	}
}

// lostWriteHost makes the first compare-and-set whose value matches and
// then fails, as a host call whose answer is lost after the store made the
// write.
type lostWriteHost struct {
	*sdktest.MemoryHost
	match func(key string, value []byte) bool
	done  atomic.Bool
}

func (h *lostWriteHost) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	n, err := h.MemoryHost.CompareAndSet(ctx, site, key, expect, value)
	if err == nil && h.match(key, value) && h.done.CompareAndSwap(false, true) {
		return 0, status.Error(codes.Unavailable, "connection reset after the write")
	}
	return n, err
}

// TestStoredBatchKeepsItsChunksWhenTheAnswerIsLost: the compare-and-set
// that says a batch is stored was made, but its answer lost. The chunks it
// names must stay: the next run publishes and feeds back the batch from
// them. Dropped, the stored batch has no records to read, and the workflow
// is stuck on it for good.
func TestStoredBatchKeepsItsChunksWhenTheAnswerIsLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		for i := 1; i <= 3; i++ {
			s.AddApplication(wisim.SampleApplication("LW", i, "350200"))
		}
	}))
	e.server = &lostWriteHost{MemoryHost: e.host, match: func(key string, value []byte) bool {
		return key == "dl/GYD001" && strings.Contains(string(value), `"step":"stored"`)
	}}
	e.connect()
	if r := e.runJob(JobFilingApplications); !r.Diagnostics.HasError() {
		t.Fatalf("the run whose write's answer was lost reported no error: %s", r.Summary)
	}
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
		t.Fatalf("next run: %s", r.Diagnostics)
	}
	b := nonEmpty(e.sim.Batches("GYD001"))
	if len(b) != 1 || !b[0].Acked || b[0].Feedbacks != 1 {
		t.Fatalf("batches %+v; want the batch acknowledged once", b)
	}
	if n := len(e.events("workinjury.filing_application.downloaded")); n != 3 {
		t.Fatalf("%d events, want the 3 records", n)
	}
}

// TestLongRefusalsOfAttachmentsFitTheProgress: why each record of a batch
// could not be delivered is kept with the batch (its progress, then its
// workflow state) until the feedback. The national system's messages have
// no bound of their own: a batch whose every attachment download (GYD054)
// is refused with a long message must still be fed back, its records
// flagged failed, rather than stop every run at the same record because
// the reasons outgrew one state value – with the host's default limit of
// a state value, and with a limit set lower (the chunks of a batch are
// made for that too).
func TestLongRefusalsOfAttachmentsFitTheProgress(t *testing.T) {
	t.Parallel()
	const n = 100
	for name, limit := range map[string]int{"default stateValueBytes": hostStateLimit, "stateValueBytes set to 32 KiB": 32 << 10} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withStateLimit(limit), withSeed(func(s *wisim.Server) {
				for i := 1; i <= n; i++ {
					s.AddApplication(wisim.SampleApplication("LR", i, "350200"), wisim.SampleAttachment(fmt.Sprintf("FJLR%04d", i)))
				}
			}))
			long := strings.Repeat("附件不存在或已被删除", 400) // 4000 characters, 12000 bytes
			e.sim.Inject(wisim.Fault{Code: "GYD054", Kind: wisim.FaultBusiness, Times: -1, ErrCode: "E5001", ErrMessage: long})
			r := e.runJob(JobFilingApplications)
			if r.Diagnostics.HasError() {
				t.Fatalf("job: %s", r.Diagnostics)
			}
			b := nonEmpty(e.sim.Batches("GYD001"))
			if len(b) != 1 || !b[0].Acked || b[0].Feedbacks != 1 {
				t.Fatalf("batches %+v; want the batch fed back once", b)
			}
			fb := e.sim.Received("GYU008")
			recs, _ := fb[len(fb)-1].Input["records"].([]any)
			if len(recs) != n {
				t.Fatalf("feedback of %d records, want %d", len(recs), n)
			}
			for _, x := range recs {
				if rr := x.(map[string]any); rr["result_flag"] != "0" || !strings.Contains(fmt.Sprint(rr["fail_reason"]), "E5001") {
					t.Fatalf("feedback record %v: want it failed, naming the refusal", rr)
				}
			}
		})
	}
}
