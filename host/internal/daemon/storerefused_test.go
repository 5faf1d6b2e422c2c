package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/test/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Stop()
	os.Exit(code)
}

// calls records the plugin's calls: message id and Recovering, in order.
type calls struct {
	mu  sync.Mutex
	all []bool // Recovering of each call
}

func (c *calls) Handle(_ context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, req.Recovering)
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"done":true}`)}, nil
}

func (c *calls) list() []bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bool(nil), c.all...)
}

// committedOffset returns the committed offset of group on partition 0
// of topic (-1: none).
func committedOffset(t *testing.T, brokers []string, group, topic string) int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatalf("NewClusterAdmin: %v", err)
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
	if err != nil {
		return -1 // kfake, before the group's first join
	}
	if b := resp.GetBlock(topic, 0); b != nil && b.Err == sarama.ErrNoError {
		return b.Offset
	}
	return -1
}

// refusedCount returns medgate_store_refused_total{reason} in reg.
func refusedCount(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "medgate_store_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// postMessage sends message id to the daemon's ingress and returns the
// answer's status, Retry-After and body.
func postMessage(t *testing.T, d *Daemon, id string) (int, string, string) {
	t.Helper()
	body := `{"id":"` + id + `","site":"s1","type":"x.do","payload":{}}`
	resp, err := http.Post("http://"+d.HTTPAddr()+"/v1/messages", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

// TestStoreRefusingWrites: while the database refuses writes (here a
// PostgreSQL server answering disk_full, 53100, to every write of the
// messages table, raised by a trigger; once when a message is recorded,
// once when its outcome is), medgate loses nothing and says why, once:
// the message's Kafka offset is not committed, its handler is retried
// with backoff (no busy loop); /readyz names the cause and the fix; the
// log has one ALERT for the interval however many writes were refused,
// which medgate_store_refused_total{reason="disk_full"} counts; the HTTP
// client is answered 503 with Retry-After, not 500 and not after its
// whole timeout. Once the server takes writes again, with no restart,
// the message is finished, its offset committed, the plugin called again
// only to reconcile (Recovering), and the same id sent again gets the
// stored outcome. (/readyz turning ok again RefusalWindow later is
// TestSQLiteRefusesWrites'.)
func TestStoreRefusingWrites(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		on        string // the writes of the messages table refused
		firstCall bool   // whether the plugin is called before the refusal
	}{
		"when the message is recorded": {on: "INSERT OR UPDATE", firstCall: false},
		"when its outcome is stored":   {on: "UPDATE", firstCall: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := testenv.Postgres(t)
			ctx := t.Context()
			var logged syncLog
			log := slog.New(slog.NewTextHandler(&logged, nil))
			refusals := newStoreRefusals(log, time.Now)
			reg := prometheus.NewRegistry()
			if err := refusals.register(reg); err != nil {
				t.Fatal(err)
			}
			st, err := store.OpenPostgres(ctx, dsn, store.WithRefusals(refusals.heard))
			if err != nil {
				t.Fatal(err)
			}
			admin, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { admin.Close(context.Background()) })
			exec := func(sql string) {
				t.Helper()
				if _, err := admin.Exec(ctx, sql); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			exec(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$`)
			exec(`CREATE TRIGGER refuse BEFORE ` + tc.on + ` ON messages FOR EACH ROW EXECUTE FUNCTION refuse()`)

			plugin := &calls{}
			d, _ := runningDaemonOn(t, plugin, st, log)
			d.refusals = refusals
			t.Cleanup(func() { _ = d.Close() })

			start := time.Now()
			code, retryAfter, body := postMessage(t, d, "m-1")
			if code != http.StatusServiceUnavailable || retryAfter == "" || !strings.Contains(body, "disk is full") {
				t.Errorf("HTTP answer while the store refuses writes: %d, Retry-After %q, %s; want 503 with Retry-After saying the disk is full", code, retryAfter, body)
			}
			refused := func() float64 { return refusedCount(t, reg, store.RefusedDiskFull) }
			pollFor(t, 30*time.Second, "three refused writes", func() bool { return refused() >= 3 })
			elapsed := time.Since(start)

			ready := d.Ready(ctx)["store"]
			for _, want := range []string{"refuses writes", "disk full on the PostgreSQL server", "free space"} {
				if !strings.Contains(ready, want) {
					t.Errorf("/readyz store %q does not say %q", ready, want)
				}
			}
			// The same over HTTP, and the admin API still reads.
			for path, want := range map[string]int{"/readyz": http.StatusServiceUnavailable, "/admin/messages?limit=5": http.StatusOK} {
				resp, err := http.Get("http://" + d.HTTPAddr() + path)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("GET %s while the store refuses writes: %d %s, want %d", path, resp.StatusCode, b, want)
				}
				if path == "/readyz" && (resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "disk full")) {
					t.Errorf("GET /readyz: Retry-After %q, %s; want Retry-After and the store's refusal", resp.Header.Get("Retry-After"), b)
				}
			}
			if n := strings.Count(logged.String(), "ALERT: the store refuses writes"); n != 1 {
				t.Errorf("%d ALERTs for %v refused writes within a minute, want 1:\n%s", n, refused(), logged.String())
			}
			// The consumer retries after 250ms, doubling: a busy loop
			// would refuse hundreds of writes meanwhile.
			if max := 5 + 4*elapsed.Seconds(); refused() > max {
				t.Errorf("%v writes refused in %v: a busy loop (want at most %v)", refused(), elapsed, max)
			}
			if off := committedOffset(t, d.Brokers(), "medgate", "requests"); off > 0 {
				t.Errorf("committed offset %d while the message's outcome cannot be stored", off)
			}
			if got := plugin.list(); tc.firstCall != (len(got) > 0) {
				t.Errorf("plugin calls before the store took writes: %v", got)
			}

			exec(`DROP TRIGGER refuse ON messages`)
			pollFor(t, 30*time.Second, "the message done", func() bool {
				m, err := st.GetMessage(ctx, "m-1")
				return err == nil && m.Status == store.StatusDone
			})
			pollFor(t, 30*time.Second, "the offset committed", func() bool {
				return committedOffset(t, d.Brokers(), "medgate", "requests") == 1
			})
			got := plugin.list()
			if len(got) == 0 || got[0] {
				t.Errorf("plugin calls %v: want a first call not recovering", got)
			}
			for i, rec := range got[1:] {
				if !rec {
					t.Errorf("plugin call %d of %v not Recovering: the message would be sent out twice", i+2, got)
				}
			}
			code, _, body = postMessage(t, d, "m-1")
			var r struct{ Status string }
			if code != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil || r.Status != "ok" {
				t.Errorf("the same id sent again: %d %s, want the stored outcome", code, body)
			}
			if n := len(plugin.list()); n != len(got) {
				t.Errorf("the same id sent again called the plugin (%d calls, %d before)", n, len(got))
			}
		})
	}
}

// TestStoreRefusalAlerts: refused writes are ALERTed once per
// storeAlertEvery, not once each, with how many were refused since the
// last ALERT; a refusal after none for store.RefusalWindow is a new
// outage, ALERTed at once; every one is counted by reason.
func TestStoreRefusalAlerts(t *testing.T) {
	t.Parallel()
	// The words and kind of a real refusal are TestStoreRefusingWrites';
	// here, any error holding store.ErrRefused.
	refused := fmt.Errorf("store: sqlite: begin message %q: %w", "m-1", store.ErrRefused)
	tests := map[string]struct {
		at     []time.Duration // when each write is refused
		alerts []string        // the ALERTs logged: "first n" or "still n"
	}{
		"one":                       {at: []time.Duration{0}, alerts: []string{"first 1"}},
		"many within a minute":      {at: []time.Duration{0, time.Second, 2 * time.Second, 10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second, 50 * time.Second, 59 * time.Second}, alerts: []string{"first 1"}},
		"lasting past a minute":     {at: []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second, 50 * time.Second, 60 * time.Second, 70 * time.Second}, alerts: []string{"first 1", "still 6"}},
		"a new outage after a lull": {at: []time.Duration{0, time.Second, time.Second + store.RefusalWindow + time.Millisecond}, alerts: []string{"first 1", "first 1"}},
		"retries within the window": {at: []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second, 50 * time.Second, 61 * time.Second}, alerts: []string{"first 1", "still 6"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logged syncLog
			start := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
			var now time.Time
			r := newStoreRefusals(slog.New(slog.NewTextHandler(&logged, nil)), func() time.Time { return now })
			reg := prometheus.NewRegistry()
			if err := r.register(reg); err != nil {
				t.Fatal(err)
			}
			for _, d := range tc.at {
				now = start.Add(d)
				r.heard(refused)
			}
			var got []string
			for line := range strings.Lines(logged.String()) {
				switch {
				case strings.Contains(line, "ALERT: the store refuses writes: "):
					got = append(got, "first "+field(line, "refusedWrites"))
				case strings.Contains(line, "ALERT: the store still refuses writes: "):
					got = append(got, "still "+field(line, "refusedWrites"))
				default:
					t.Errorf("unexpected log line %q", line)
				}
			}
			if strings.Join(got, ", ") != strings.Join(tc.alerts, ", ") {
				t.Errorf("ALERTs %v, want %v", got, tc.alerts)
			}
			if n := refusedCount(t, reg, "other"); n != float64(len(tc.at)) {
				t.Errorf("medgate_store_refused_total{reason=%q} = %v, want %d", "other", n, len(tc.at))
			}
		})
	}
}

// field returns the value of key=value in a text log line.
func field(line, key string) string {
	_, after, ok := strings.Cut(line, " "+key+"=")
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, " ")
	return v
}

// TestStoreRefusalIsOneRetryCause: the consumer's retries of messages
// failing because the store refuses writes are one cause for its retry
// log (bus.Config.RetryCause), whatever the message, the write and the
// times their errors name, so that an outage logs one WARN a minute per
// partition and not one per retry of every message; any other error is
// left to the bus (its text is its cause).
func TestStoreRefusalIsOneRetryCause(t *testing.T) {
	t.Parallel()
	bc, err := BusConfig(&config.Config{}, []string{"localhost:9092"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if bc.RetryCause == nil {
		t.Fatal("BusConfig sets no RetryCause: every retry of every message is logged while the store refuses writes")
	}
	refused := func(offset int, write string) error {
		return fmt.Errorf("message at requests/0 offset %d: record message m-%d: store: postgres: %s: %w since 10:00:0%d", offset, offset, write, store.ErrRefused, offset)
	}
	want := bc.RetryCause(refused(0, "insert message"))
	if want == "" {
		t.Fatalf("RetryCause(%v) = \"\", want a cause", refused(0, "insert message"))
	}
	tests := map[string]struct {
		err  error
		same bool
	}{
		"another message":                      {err: refused(7, "insert message"), same: true},
		"another write":                        {err: refused(3, "store outcome"), same: true},
		"a timeout":                            {err: fmt.Errorf("message at requests/0 offset 1: %w", context.DeadlineExceeded)},
		"the store down, not refusing writes":  {err: fmt.Errorf("message at requests/0 offset 1: store: postgres: %w", store.ErrClosed)},
		"an error naming the refusal in words": {err: errors.New("message at requests/0 offset 1: the store refuses writes")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := bc.RetryCause(tc.err)
			if tc.same && got != want {
				t.Errorf("RetryCause(%v) = %q, want %q, the cause of every refused write", tc.err, got, want)
			}
			if !tc.same && got != "" {
				t.Errorf("RetryCause(%v) = %q, want \"\" (the error's own text)", tc.err, got)
			}
		})
	}
}
