package hsa

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// memHost is an in-memory Host. Its state has sdk.Host's version
// semantics: 1 after the first write, CompareAndSet only over the version
// expected (0: the key must not exist).
type memHost struct {
	mu      sync.Mutex
	state   map[string]sdk.Entry
	seq     int64
	journal []sdk.Exchange
	gets    int // Get calls
	// onGet, when set, is called (without the lock) after each Get with
	// the number of Gets so far.
	onGet func(n int)
}

func newMemHost() *memHost { return &memHost{state: map[string]sdk.Entry{}} }

func (h *memHost) Get(_ context.Context, key string) (sdk.Entry, error) {
	h.mu.Lock()
	h.gets++
	n, fn := h.gets, h.onGet
	e, ok := h.state[key]
	h.mu.Unlock()
	if fn != nil {
		fn(n)
	}
	if !ok {
		return sdk.Entry{}, sdk.ErrNotFound
	}
	return e, nil
}

func (h *memHost) getCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gets
}

func (h *memHost) CompareAndSet(_ context.Context, key string, expect int64, v []byte) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.state[key]
	if e.Version != expect {
		return 0, sdk.ErrConflict
	}
	e.Key, e.Value, e.Version = key, append([]byte(nil), v...), e.Version+1
	h.state[key] = e
	return e.Version, nil
}

func (h *memHost) Put(_ context.Context, key string, v []byte) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.state[key]
	e.Key, e.Value, e.Version = key, append([]byte(nil), v...), e.Version+1
	h.state[key] = e
	return e.Version, nil
}

func (h *memHost) NextSequence(context.Context, string) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	return h.seq, nil
}

func (h *memHost) Journal(_ context.Context, x sdk.Exchange) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.journal = append(h.journal, x)
	return int64(len(h.journal)), nil
}

func (h *memHost) exchanges() []sdk.Exchange {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.Exchange(nil), h.journal...)
}

// testConfig is a valid configuration pointing at url.
func testConfig(url string) Config {
	c := Defaults()
	c.BaseURL = url
	c.FixmedinsCode = "H35020300001"
	c.FixmedinsName = "厦门市示例医院"
	c.MdtrtareaAdmvs = "350200"
	c.RecerSysCode = "CSTEST"
	c.Opter = "OP001"
	c.OpterName = "接口"
	c.PaasID = "paas-1"
	c.Token = "tok123"
	c.Timeout = 5 * time.Second
	c.ConnectTimeout = 2 * time.Second
	return c
}

// fixedClock returns a clock at 2025-04-01 09:30:00 UTC+8.
func fixedClock() func() time.Time {
	t := time.Date(2025, 4, 1, 9, 30, 0, 0, cst)
	return func() time.Time { return t }
}

func newClient(t testing.TB, cfg Config, opts ...Option) *Client {
	t.Helper()
	c, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
