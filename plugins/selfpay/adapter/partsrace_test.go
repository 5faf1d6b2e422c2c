package adapter

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// hookHost is a memory host that runs hook once, the first time after a
// call (op "get", "put") of a key matching match was served, before it
// answers: the test sets the interleaving of two workflows there. It
// fails the deletes of kept fee lines while noChunkDelete holds, as a
// process dying before it deleted them.
type hookHost struct {
	*sdktest.MemoryHost
	mu            sync.Mutex
	match         func(op, key string) bool
	hook          func()
	noChunkDelete atomic.Bool
}

// on arms hook for the first call match accepts.
func (h *hookHost) on(match func(op, key string) bool, hook func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.match, h.hook = match, hook
}

func (h *hookHost) fire(op, key string) {
	h.mu.Lock()
	hook := h.hook
	if hook == nil || !h.match(op, key) {
		h.mu.Unlock()
		return
	}
	h.hook, h.match = nil, nil
	h.mu.Unlock()
	hook()
}

func (h *hookHost) Get(ctx context.Context, site, key string) (sdk.Entry, error) {
	e, err := h.MemoryHost.Get(ctx, site, key)
	h.fire("get", key)
	return e, err
}

func (h *hookHost) Put(ctx context.Context, site, key string, value []byte) (int64, error) {
	v, err := h.MemoryHost.Put(ctx, site, key, value)
	h.fire("put", key)
	return v, err
}

func (h *hookHost) Delete(ctx context.Context, site, key string) error {
	if h.noChunkDelete.Load() && strings.HasPrefix(key, "partlines/") {
		return errCrash
	}
	return h.MemoryHost.Delete(ctx, site, key)
}

// TestPartsRaceTheExpireJob: a part of a set kept while the parts-expire
// job removes the set's lines, and the reverse, in the two orders that
// went wrong, each set by the test (hookHost), no sleeps.
//
//   - "the job drops the set while its part 2 is kept": the message of
//     part 2 read the set's record and wrote its lines; the job then
//     dropped the set (partsKeep past), deleting the lines its record
//     named and the set's partsopen/ entry; the part's record write lost
//     its compare-and-set and the message was retried and refused (the set
//     dropped). Its lines stayed, named by no record and no entry: kept
//     for good. Now the part removes them when its record write loses.
//   - "the job removes an ended set's lines as the set begins again": the
//     job read the record of a set whose upload ended (refused whole, its
//     lines left by a crash); the set's part 1 then came again under a new
//     message id (as the reply says to) and was kept under the same keys;
//     the job then deleted the lines the record it read named: the new
//     part 1's. The last part then failed, its part 1 gone. Each beginning
//     of a set now keeps its lines under keys of its own (partChunkKey).
func TestPartsRaceTheExpireJob(t *testing.T) {
	t.Parallel()
	testCases := map[string]func(t *testing.T, e *env, h *hookHost, skew *atomic.Int64){
		"the job drops the set while its part 2 is kept": func(t *testing.T, e *env, h *hookHost, skew *atomic.Int64) {
			const id = "ZYRA"
			parts, _ := stayInParts(id, "S1", 30, 3)
			wantStatus(t, e.must(OpUpload, "ra-1", parts[0], 1), sdk.StatusOK)
			var ran atomic.Bool
			h.on(func(op, key string) bool {
				return op == "put" && strings.HasPrefix(key, "partlines/"+id+"/S1/") && strings.Contains(key, "/002/")
			}, func() {
				ran.Store(true)
				skew.Store(int64(time.Hour + time.Minute)) // past partsKeep
				r, err := e.runJob(JobPartsExpire)
				if err != nil || !strings.Contains(r.Summary, "dropped set S1") {
					t.Errorf("the job did not drop set S1 while part 2 was kept: %v %v", r, err)
				}
			})
			if r, err := e.handle(OpUpload, "ra-2", parts[1], 1); err == nil && r.Status == sdk.StatusOK {
				t.Fatalf("part 2 was kept in a set dropped meanwhile: %s", r.Payload)
			}
			if !ran.Load() {
				t.Fatal("the job did not run while part 2 was kept: the test does not test")
			}
			// The host retries the message: the set is dropped.
			wantStatus(t, e.must(OpUpload, "ra-2", parts[1], 2), sdk.StatusInvalid)
			for range 2 {
				if _, err := e.runJob(JobPartsExpire); err != nil {
					t.Fatal(err)
				}
			}
			if keys := keptLines(t, e.host, id); len(keys) > 0 {
				t.Errorf("lines no set owns are kept: %v", keys)
			}
			if es, _ := e.host.Scan(context.Background(), testSite, partsIndexPrefix, 0); len(es) > 0 {
				t.Errorf("%d entries left under %s", len(es), partsIndexPrefix)
			}
		},
		"the job removes an ended set's lines as the set begins again": func(t *testing.T, e *env, h *hookHost, skew *atomic.Int64) {
			const id = "ZYRB"
			parts, total := stayInParts(id, "S1", 30, 2)
			wrong, _ := stayInParts(id, "S1", 30, 2)
			for _, p := range wrong {
				p[nodeMdtrt].(map[string]any)["medfee_sumamt"] = "1.00" // the stay refused whole
			}
			h.noChunkDelete.Store(true)
			wantStatus(t, e.must(OpUpload, "rb-1", wrong[0], 1), sdk.StatusOK)
			wantStatus(t, e.must(OpUpload, "rb-2", wrong[1], 1), sdk.StatusInvalid)
			h.noChunkDelete.Store(false)
			if len(keptLines(t, e.host, id)) == 0 {
				t.Fatal("the refused set left no lines: the test does not test")
			}
			skew.Store(int64(time.Hour + time.Minute)) // its entry past partsKeep
			var ran atomic.Bool
			h.on(func(op, key string) bool { return op == "get" && key == partsKey(id) }, func() {
				// The job read the record; the set begins again.
				ran.Store(true)
				wantStatus(t, e.must(OpUpload, "rb-1-again", parts[0], 1), sdk.StatusOK)
			})
			if _, err := e.runJob(JobPartsExpire); err != nil {
				t.Fatal(err)
			}
			if !ran.Load() {
				t.Fatal("the set did not begin again while the job ran: the test does not test")
			}
			wantStatus(t, e.must(OpUpload, "rb-2-again", parts[1], 1), sdk.StatusOK)
			wantLedger(t, e.sim, id, 30, total)
			if keys := keptLines(t, e.host, id); len(keys) > 0 {
				t.Errorf("lines kept after the upload: %v", keys)
			}
		},
	}
	for name, run := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var skew atomic.Int64
			e := newEnvSim(t, selfpaysim.Options{PaasID: testPaas, Token: testToken, MaxSkew: 3 * time.Hour}, func(s map[string]string) { s["partsKeep"] = "1h" })
			h := &hookHost{MemoryHost: e.host}
			e.restartWith(New(WithPauseMargin(0), WithClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })), h)
			run(t, e, h, &skew)
		})
	}
}

// TestPartsBegunBeforeGenerations: a set whose part 1 was kept before its
// lines were kept under keys of its beginning (partsState.Gen empty,
// partlines/<visit>/<set>/<no>/<chunk>), as medgate is upgraded between
// its parts, goes on under those keys: its last part uploads the stay
// whole, and no line is left.
func TestPartsBegunBeforeGenerations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	const id = "ZYLG"
	parts, total := stayInParts(id, "S1", 30, 2)
	wantStatus(t, e.must(OpUpload, "lg-1", parts[0], 1), sdk.StatusOK)
	// As the plugin before generations kept it.
	en, err := e.host.Get(ctx, testSite, partsKey(id))
	if err != nil {
		t.Fatal(err)
	}
	var st partsState
	if err := json.Unmarshal(en.Value, &st); err != nil || st.Gen == "" {
		t.Fatalf("part 1's record %s (%v) has no generation: the test does not test", en.Value, err)
	}
	for _, k := range keptLines(t, e.host, id) {
		v, err := e.host.Get(ctx, testSite, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.host.Put(ctx, testSite, strings.Replace(k, "/"+st.Gen+"/", "/", 1), v.Value); err != nil {
			t.Fatal(err)
		}
		if err := e.host.Delete(ctx, testSite, k); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(partsIndexEntry{Visit: id, Set: "S1"})
	if _, err := e.host.Put(ctx, testSite, st.Index, b); err != nil {
		t.Fatal(err)
	}
	st.Gen = ""
	b, _ = json.Marshal(st)
	if _, err := e.host.Put(ctx, testSite, partsKey(id), b); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.must(OpUpload, "lg-2", parts[1], 1), sdk.StatusOK)
	wantLedger(t, e.sim, id, 30, total)
	if keys := keptLines(t, e.host, id); len(keys) > 0 {
		t.Errorf("lines kept after the upload: %v", keys)
	}
	if es, _ := e.host.Scan(ctx, testSite, partsIndexPrefix, 0); len(es) > 0 {
		t.Errorf("%d entries left under %s", len(es), partsIndexPrefix)
	}
}
