package daemon

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/medgate/medgate/host/internal/api"
	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/ingress"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// handlerFunc plays a plugin.
type handlerFunc func(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error)

func (f handlerFunc) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return f(ctx, req)
}

// runningDaemon is a daemon wired as Start wires it (its HTTP server with
// the ingress and the admin API, its Kafka consumer on a kfake broker,
// the pipeline with plugin h for site s1, type x.do), running. inflight
// counts the HTTP requests being served.
func runningDaemon(t *testing.T, h pipeline.Handler) (d *Daemon, inflight *atomic.Int64) {
	t.Helper()
	st, err := store.Open(t.Context(), store.DriverSQLite, filepath.Join(t.TempDir(), "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	return runningDaemonOn(t, h, st, slog.New(slog.DiscardHandler))
}

// runningDaemonOn is runningDaemon on store st, logging to log.
func runningDaemonOn(t *testing.T, h pipeline.Handler, st store.Store, log *slog.Logger) (d *Daemon, inflight *atomic.Int64) {
	t.Helper()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	cfg := bus.Config{Brokers: kc.ListenAddrs(), ClientID: "daemon-test"}
	if err := bus.EnsureTopics(t.Context(), cfg, []string{"requests"}, 1, 1); err != nil {
		t.Fatal(err)
	}
	d = &Daemon{log: log, store: st, busCfg: cfg}
	if d.producer, err = bus.NewProducer(cfg); err != nil {
		t.Fatal(err)
	}
	if d.proc, err = pipeline.New(pipeline.Options{Store: st, Publisher: discard{}, Topics: pipeline.Topics{Replies: "replies", DLQ: "dlq"}, Logger: log,
		MaxPayloadBytes: 1 << 20, MaxAttempts: 1, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		CallTimeout: time.Minute, UploadDeadline: 30 * time.Minute, RetryBudget: time.Minute, Stored: d.handOver}); err != nil {
		t.Fatal(err)
	}
	d.proc.SetRoutes(&pipeline.Routes{Sites: map[string]map[string]*pipeline.Target{"s1": {"x": {Plugin: "x", Handler: h, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do"}}}}}})
	d.ingress = ingress.New(ingress.Options{Store: st, Publisher: d.producer, Processor: d.proc, Topic: "requests", MaxPayloadBytes: 1 << 20, Logger: log})
	cc := cfg
	cc.GroupID = "medgate"
	if d.consumer, err = bus.NewConsumer(cc, []string{"requests"}, d.handleKafka); err != nil {
		t.Fatal(err)
	}
	ln, err := api.Listen("127.0.0.1:0", api.ConnLimits{})
	if err != nil {
		t.Fatal(err)
	}
	d.httpAddr = ln.Addr().String()
	inflight = &atomic.Int64{}
	ah := api.Handler(d, api.Options{IngressTimeout: time.Minute, MaxBodyBytes: 1 << 20, Registry: prometheus.NewRegistry(), Logger: log})
	d.serveHTTP(api.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		defer inflight.Add(-1)
		ah.ServeHTTP(w, r)
	}), api.Timeouts{ReadHeader: time.Minute, Read: time.Minute, Write: 2 * time.Minute, Idle: time.Minute}), ln)
	runCtx, cancel := context.WithCancel(context.Background())
	d.stopRun = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		_ = d.consumer.Run(runCtx)
	}()
	return d, inflight
}

// answer is the answer to an HTTP request.
type answer struct {
	code  int
	reply message.Reply
	body  string
	err   error
}

// post sends the message with id to the daemon's ingress; its answer goes
// to the channel returned.
func post(d *Daemon, id string) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		body := `{"id":"` + id + `","site":"s1","type":"x.do","payload":{}}`
		resp, err := http.Post("http://"+d.HTTPAddr()+"/v1/messages", "application/json", strings.NewReader(body))
		if err != nil {
			out <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		a := answer{code: resp.StatusCode, body: string(b), err: err}
		_ = json.Unmarshal(b, &a.reply)
		out <- a
	}()
	return out
}

// closed reports whether addr no longer accepts connections.
func closed(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return true
	}
	_ = c.Close()
	return false
}

// TestCloseFinishesAcceptedHTTPRequests: an HTTP request accepted before
// shutdown, its message being handled by this instance's consumer, gets
// its outcome: Close stops the HTTP server from taking new requests first
// and lets the requests it took finish, while the consumer still runs.
// The consumer used to be stopped first, cutting the message short (left
// pending for a redelivery) while its client waited, and new HTTP
// requests were still taken meanwhile.
func TestCloseFinishesAcceptedHTTPRequests(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	var addr atomic.Value
	d, inflight := runningDaemon(t, handlerFunc(func(ctx context.Context, _ *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		close(entered)
		// The plugin answers once the HTTP server takes no more
		// requests (Close has begun), unless its call is cut short.
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for !closed(addr.Load().(string)) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-tick.C:
			}
		}
		return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"done":true}`)}, nil
	}))
	addr.Store(d.HTTPAddr())
	got := post(d, "m1")
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the message did not reach the plugin")
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n := inflight.Load(); n != 0 {
		t.Errorf("Close returned with %d HTTP requests still being served; want every accepted request answered", n)
	}
	select {
	case a := <-got:
		if a.err != nil || a.code != http.StatusOK || a.reply.Status != message.StatusOK {
			t.Fatalf("the accepted request got HTTP %d %s (%v); want 200 with its outcome", a.code, a.body, a.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the accepted request got no answer")
	}
}

// TestCloseTellsWaitingHTTPClients: an HTTP request whose outcome is not
// ready within the shutdown's grace (its plugin call goes on) is answered
// before medgate exits, told that its message is queued and will be
// completed and to ask again with the same id (504), not cut off with its
// connection. Close used to return with it still waiting.
func TestCloseTellsWaitingHTTPClients(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	d, inflight := runningDaemon(t, handlerFunc(func(ctx context.Context, _ *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		close(entered)
		<-ctx.Done() // the external system takes its time
		return nil, ctx.Err()
	}))
	d.grace = 200 * time.Millisecond
	got := post(d, "m2")
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the message did not reach the plugin")
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n := inflight.Load(); n != 0 {
		t.Errorf("Close returned with %d HTTP requests still being served; want every accepted request answered", n)
	}
	select {
	case a := <-got:
		if a.err != nil || a.code != http.StatusGatewayTimeout || !strings.Contains(a.body, "send the same message (same id) again later") {
			t.Fatalf("the waiting request got HTTP %d %s (%v); want 504 telling it to ask again with the same id", a.code, a.body, a.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting request got no answer")
	}
}
