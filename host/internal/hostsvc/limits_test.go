package hostsvc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// fakeClock is the buckets' clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// limited returns services over a fresh store with plugin p limited by l,
// events recorded, on a fake clock.
func limited(t *testing.T, l Limits) (*Services, *recorder, *fakeClock, store.Store) {
	t.Helper()
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(st, "medgate.events")
	pub := &recorder{}
	s.SetPublisher(pub)
	clk := &fakeClock{t: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)}
	s.now = clk.now
	s.SetLimits(map[string]Limits{"p": l})
	return s, pub, clk, st
}

// checkRefusal fails t unless err is the refusal of limit key at value.
func checkRefusal(t *testing.T, err error, key string, value int) {
	t.Helper()
	var le *LimitError
	if !errors.Is(err, ErrLimit) || !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LimitError", err)
	}
	if le.Plugin != "p" || le.Site != "s1" || le.Key != key || le.Value != value {
		t.Errorf("refusal %+v, want plugin p, site s1, key %s, value %d", le, key, value)
	}
	if c := status.Code(err); c != codes.ResourceExhausted {
		t.Errorf("the plugin receives %s, want ResourceExhausted", c)
	}
	for _, want := range []string{`plugin "p"`, `site "s1"`, key, "pluginLimits." + key, "plugins:", "reload"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
}

// TestLimitsRefuse: each limit lets a plugin write up to it and refuses
// the next write, which is not made, with an error naming the plugin, the
// limit, its value and the keys that raise it; a rate refills with time.
func TestLimitsRefuse(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("x"), 11)
	cases := map[string]struct {
		limits Limits
		// write makes the i-th write of the case.
		write func(ctx context.Context, h sdkhost.HostServer, i int) error
		ok    int // writes taken before the refusal
		key   string
		value int
		// made counts the writes made (events sent, entries stored, keys).
		made func(t *testing.T, pub *recorder, st store.Store) int
	}{
		"publish": {
			limits: Limits{PublishPerSecond: 2, PublishBurst: 3, JournalPerSecond: NoLimit, JournalBurst: 1, StateValueBytes: 10},
			write: func(ctx context.Context, h sdkhost.HostServer, _ int) error {
				return h.Publish(ctx, "s1", sdk.Event{Type: "p.tick"})
			},
			ok: 3, key: "publishPerSecond", value: 2,
			made: func(_ *testing.T, pub *recorder, _ store.Store) int { return len(pub.recs) },
		},
		"journal": {
			limits: Limits{PublishPerSecond: NoLimit, PublishBurst: 1, JournalPerSecond: 2, JournalBurst: 3, StateValueBytes: 10},
			write: func(ctx context.Context, h sdkhost.HostServer, _ int) error {
				_, err := h.Journal(ctx, "s1", sdk.Exchange{System: "sys", Code: "C1", Status: "ok"})
				return err
			},
			ok: 3, key: "journalPerSecond", value: 2,
			made: func(t *testing.T, _ *recorder, st store.Store) int {
				xs, err := st.ListExchanges(t.Context(), store.ExchangeFilter{Plugin: "p"})
				if err != nil {
					t.Fatal(err)
				}
				return len(xs)
			},
		},
		"state put": {
			limits: Limits{PublishPerSecond: 1, PublishBurst: 1, JournalPerSecond: 1, JournalBurst: 1, StateValueBytes: 10},
			write: func(ctx context.Context, h sdkhost.HostServer, i int) error {
				_, err := h.Put(ctx, "s1", []string{"k0", "k1"}[i], big[:10+i])
				return err
			},
			ok: 1, key: "stateValueBytes", value: 10,
			made: stateKeys,
		},
		"state compare-and-set": {
			limits: Limits{PublishPerSecond: 1, PublishBurst: 1, JournalPerSecond: 1, JournalBurst: 1, StateValueBytes: 10},
			write: func(ctx context.Context, h sdkhost.HostServer, i int) error {
				_, err := h.CompareAndSet(ctx, "s1", []string{"k0", "k1"}[i], 0, big[:10+i])
				return err
			},
			ok: 1, key: "stateValueBytes", value: 10,
			made: stateKeys,
		},
		"state writes": {
			limits: Limits{PublishPerSecond: 1, PublishBurst: 1, JournalPerSecond: 1, JournalBurst: 1, StateValueBytes: 10},
			write: func(ctx context.Context, h sdkhost.HostServer, i int) error {
				// The second call's first write fits: all or none.
				_, err := h.(sdkhost.StateWriteServer).WriteState(ctx, "s1", []sdk.StateWrite{
					{Key: []string{"k0", "k1"}[i], Value: []byte("v"), Put: true},
					{Key: []string{"k2", "k3"}[i], Value: big[:10+i], Put: true},
				})
				return err
			},
			ok: 1, key: "stateValueBytes", value: 10,
			made: func(t *testing.T, pub *recorder, st store.Store) int { return stateKeys(t, pub, st) / 2 },
		},
		"state put rate": {
			limits: Limits{PublishPerSecond: 1, PublishBurst: 1, JournalPerSecond: 1, JournalBurst: 1, StateValueBytes: 10, StateWritesPerSecond: 2, StateWritesBurst: 3},
			write: func(ctx context.Context, h sdkhost.HostServer, i int) error {
				_, err := h.Put(ctx, "s1", fmt.Sprintf("k%d", i), []byte("v"))
				return err
			},
			ok: 3, key: "stateWritesPerSecond", value: 2,
			made: stateKeys,
		},
		"state compare-and-set rate": {
			limits: Limits{PublishPerSecond: 1, PublishBurst: 1, JournalPerSecond: 1, JournalBurst: 1, StateValueBytes: 10, StateWritesPerSecond: 2, StateWritesBurst: 3},
			write: func(ctx context.Context, h sdkhost.HostServer, i int) error {
				_, err := h.CompareAndSet(ctx, "s1", fmt.Sprintf("k%d", i), 0, []byte("v"))
				return err
			},
			ok: 3, key: "stateWritesPerSecond", value: 2,
			made: stateKeys,
		},
		"state writes rate": {
			limits: Limits{PublishPerSecond: 1, PublishBurst: 1, JournalPerSecond: 1, JournalBurst: 1, StateValueBytes: 10, StateWritesPerSecond: 2, StateWritesBurst: 3},
			write: func(ctx context.Context, h sdkhost.HostServer, i int) error {
				// One call, one transaction of the store: one token,
				// however many writes it makes.
				_, err := h.(sdkhost.StateWriteServer).WriteState(ctx, "s1", []sdk.StateWrite{
					{Key: fmt.Sprintf("k%d", 2*i), Value: []byte("v"), Put: true},
					{Key: fmt.Sprintf("k%d", 2*i+1), Value: []byte("v"), Put: true},
				})
				return err
			},
			ok: 3, key: "stateWritesPerSecond", value: 2,
			made: func(t *testing.T, pub *recorder, st store.Store) int { return stateKeys(t, pub, st) / 2 },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, pub, _, st := limited(t, tc.limits)
			h := s.For("p")
			for i := range tc.ok {
				if err := tc.write(t.Context(), h, i); err != nil {
					t.Fatalf("write %d within the limit: %v", i+1, err)
				}
			}
			err := tc.write(t.Context(), h, tc.ok)
			checkRefusal(t, err, tc.key, tc.value)
			if got := tc.made(t, pub, st); got != tc.ok {
				t.Errorf("%d writes made, want %d: the refused one must not be", got, tc.ok)
			}
			if strings.Contains(err.Error(), "k1") || strings.Contains(err.Error(), "k3") || strings.Contains(err.Error(), "k6") {
				t.Errorf("refusal %q names a state key (keys may hold personal data)", err)
			}
		})
	}
}

func stateKeys(t *testing.T, _ *recorder, st store.Store) int {
	es, err := st.StateScan(t.Context(), "p/s1", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestLimitsRateRefills: a refused plugin may write again once its bucket
// refilled at its rate, never beyond its burst; -1 is no limit; another
// plugin has its own bucket.
func TestLimitsRateRefills(t *testing.T) {
	t.Parallel()
	s, pub, clk, _ := limited(t, Limits{PublishPerSecond: 2, PublishBurst: 2, JournalPerSecond: NoLimit, JournalBurst: 1, StateValueBytes: 1})
	h := s.For("p")
	ev := sdk.Event{Type: "p.tick"}
	publish := func() error { return h.Publish(t.Context(), "s1", ev) }
	for range 2 {
		if err := publish(); err != nil {
			t.Fatal(err)
		}
	}
	if err := publish(); !errors.Is(err, ErrLimit) {
		t.Fatalf("third publish of a burst of 2: %v, want ErrLimit", err)
	}
	clk.add(500 * time.Millisecond) // one token at 2 a second
	if err := publish(); err != nil {
		t.Errorf("publish after the bucket refilled one token: %v", err)
	}
	if err := publish(); !errors.Is(err, ErrLimit) {
		t.Errorf("second publish after one token refilled: %v, want ErrLimit", err)
	}
	clk.add(time.Hour) // refills to the burst, no more
	for i := range 3 {
		if err := publish(); (err != nil) != (i == 2) {
			t.Errorf("publish %d after an hour: %v; want 2 taken, the third refused", i+1, err)
		}
	}
	for i := range 1000 {
		if _, err := h.Journal(t.Context(), "s1", sdk.Exchange{System: "sys", Code: "C"}); err != nil {
			t.Fatalf("journal entry %d with journalPerSecond -1 (no limit): %v", i+1, err)
		}
	}
	// Plugin q has the default limits and its own bucket.
	if err := s.For("q").Publish(t.Context(), "s1", sdk.Event{Type: "q.tick"}); err != nil {
		t.Errorf("another plugin's publish: %v", err)
	}
	if len(pub.recs) != 6 {
		t.Errorf("%d events sent, want 6", len(pub.recs))
	}
}

// TestLimitsReload: SetLimits applies to running plugins at once and
// keeps the bucket of a plugin whose limits did not change.
func TestLimitsReload(t *testing.T) {
	t.Parallel()
	l := Limits{PublishPerSecond: 1, PublishBurst: 1, JournalPerSecond: 1, JournalBurst: 1, StateValueBytes: 10}
	s, _, _, _ := limited(t, l)
	h := s.For("p")
	if err := h.Publish(t.Context(), "s1", sdk.Event{Type: "p.tick"}); err != nil {
		t.Fatal(err)
	}
	s.SetLimits(map[string]Limits{"p": l})
	if err := h.Publish(t.Context(), "s1", sdk.Event{Type: "p.tick"}); !errors.Is(err, ErrLimit) {
		t.Errorf("publish after a reload with the same limits: %v, want ErrLimit (the emptied bucket kept)", err)
	}
	l.PublishBurst, l.StateValueBytes = 5, 100
	s.SetLimits(map[string]Limits{"p": l})
	if err := h.Publish(t.Context(), "s1", sdk.Event{Type: "p.tick"}); err != nil {
		t.Errorf("publish after a reload raised the burst: %v", err)
	}
	if _, err := h.Put(t.Context(), "s1", "k", make([]byte, 100)); err != nil {
		t.Errorf("put of 100 bytes after a reload raised stateValueBytes to 100: %v", err)
	}
}

// TestLimitsDefault: a plugin the configuration says nothing about has
// DefaultLimits: a state value of 1 MiB is taken, one byte more refused.
func TestLimitsDefault(t *testing.T) {
	t.Parallel()
	s, _, _, _ := limited(t, DefaultLimits)
	s.SetLimits(nil)
	h := s.For("p")
	if _, err := h.Put(t.Context(), "s1", "k", make([]byte, 1<<20)); err != nil {
		t.Errorf("put of 1 MiB: %v", err)
	}
	_, err := h.Put(t.Context(), "s1", "k", make([]byte, 1<<20+1))
	checkRefusal(t, err, "stateValueBytes", 1<<20)
	if !strings.Contains(err.Error(), "larger than max") {
		t.Errorf("refusal %q: the SDK reports sdk.ErrTooLarge only for \"larger than max\"", err)
	}
}

// TestLimitsDefaultsAreTheConfiguration's: DefaultLimits (plugins not
// configured) are config.DefaultPluginLimits, field by field, and the
// keys a LimitError names are keys of the configuration.
func TestLimitsDefaultsAreTheConfiguration(t *testing.T) {
	t.Parallel()
	if got := Limits(config.DefaultPluginLimits); got != DefaultLimits {
		t.Errorf("config.DefaultPluginLimits %+v, hostsvc.DefaultLimits %+v; keep them the same", got, DefaultLimits)
	}
	tags := map[string]bool{}
	rt := reflect.TypeFor[config.PluginLimits]()
	for i := range rt.NumField() {
		tags[rt.Field(i).Tag.Get("yaml")] = true
	}
	for _, k := range []string{keyPublishPerSecond, keyPublishBurst, keyJournalPerSecond, keyJournalBurst, keyStateValueBytes,
		keyStateWritesPerSecond, keyStateWritesBurst, keyPerSiteStateWritesPerSecond, keyPerSiteStateWritesBurst} {
		if !tags[k] {
			t.Errorf("a refusal names %q, which is not a key of config.PluginLimits", k)
		}
	}
}

// TestLimitsLogOncePerMinute: refusals are counted each, and logged once
// per plugin and site per minute with the number not logged since.
func TestLimitsLogOncePerMinute(t *testing.T) {
	t.Parallel()
	s, _, clk, _ := limited(t, Limits{PublishPerSecond: 1, PublishBurst: 1, JournalPerSecond: 1, JournalBurst: 1, StateValueBytes: 1})
	var logs bytes.Buffer
	var mu sync.Mutex
	counted := map[string]int{}
	s.SetRefusals(slog.New(slog.NewTextHandler(&logs, nil)), func(plugin, limit string) {
		mu.Lock()
		defer mu.Unlock()
		counted[plugin+"/"+limit]++
	})
	h := s.For("p")
	_ = h.Publish(t.Context(), "s1", sdk.Event{Type: "p.tick"})
	for range 5 {
		if err := h.Publish(t.Context(), "s1", sdk.Event{Type: "p.tick"}); !errors.Is(err, ErrLimit) {
			t.Fatalf("publish past the burst: %v", err)
		}
	}
	if _, err := h.Put(t.Context(), "s1", "secret-key-110105", []byte("vv")); !errors.Is(err, ErrLimit) {
		t.Fatalf("put past stateValueBytes: %v", err)
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 {
		t.Errorf("%d log lines for 6 refusals within a minute, want 1:\n%s", n, logs.String())
	}
	clk.add(time.Minute)
	if err := h.Publish(t.Context(), "s1", sdk.Event{Type: "p.tick"}); err != nil {
		t.Fatal(err) // a minute refilled the bucket
	}
	_ = h.Publish(t.Context(), "s1", sdk.Event{Type: "p.tick"})
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "refusedUnlogged=5") || !strings.Contains(lines[1], "limit=publishPerSecond") {
		t.Errorf("log after a minute:\n%s\nwant a second line with refusedUnlogged=5", logs.String())
	}
	if strings.Contains(logs.String(), "secret-key-110105") {
		t.Errorf("the log names a state key:\n%s", logs.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if want := map[string]int{"p/publishPerSecond": 6, "p/stateValueBytes": 1}; !reflect.DeepEqual(counted, want) {
		t.Errorf("refusals counted %v, want %v", counted, want)
	}
}
