package adapter

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// BenchmarkScan measures ecard.scan end to end through the real gRPC
// protocol in memory: open the sealed code, one state read over the host
// broker, and the reply.
func BenchmarkScan(b *testing.B) {
	e := newEnv(b, testSettings())
	_, q := e.issue(nil)
	payload, err := json.Marshal(map[string]string{"text": q.Text})
	if err != nil {
		b.Fatal(err)
	}
	req := &sdk.HandleRequest{Site: testSite, Type: OpScan, MessageID: "bench", Format: "json", Payload: payload, Attempt: 1}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := e.p.Handle(ctx, req)
		if err != nil || r.Status != sdk.StatusOK {
			b.Fatalf("scan: %v %v", err, r)
		}
	}
}

// BenchmarkScanDirect is the same scan without the gRPC hop, through a
// plugin-side host that serves state from the in-memory host directly.
func BenchmarkScanDirect(b *testing.B) {
	e := newEnv(b, testSettings())
	_, q := e.issue(nil)
	a := New(WithClock(e.clock.Now))
	a.mustConfigureDirect(b)
	payload, _ := json.Marshal(map[string]string{"text": q.Text})
	req := &sdk.HandleRequest{Site: testSite, Type: OpScan, MessageID: "bench", Format: "json", Payload: payload, Attempt: 1,
		Host: siteHost{h: e.host, site: testSite}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := a.Handle(ctx, req)
		if err != nil || r.Status != sdk.StatusOK {
			b.Fatalf("scan: %v %v", err, r)
		}
	}
}

func (a *Adapter) mustConfigureDirect(tb testing.TB) {
	tb.Helper()
	r, err := a.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: testSettings()})
	if err != nil || r.Diagnostics.HasError() {
		tb.Fatalf("Configure: %v %s", err, r.Diagnostics)
	}
}

// siteHost binds a HostServer to one site, as the SDK does on the plugin
// side.
type siteHost struct {
	h    sdkhost.HostServer
	site string
}

func (s siteHost) Get(ctx context.Context, key string) (sdk.Entry, error) {
	return s.h.Get(ctx, s.site, key)
}

func (s siteHost) Put(ctx context.Context, key string, v []byte) (int64, error) {
	return s.h.Put(ctx, s.site, key, v)
}

func (s siteHost) CompareAndSet(ctx context.Context, key string, expect int64, v []byte) (int64, error) {
	return s.h.CompareAndSet(ctx, s.site, key, expect, v)
}

func (s siteHost) Scan(ctx context.Context, prefix string, limit int) ([]sdk.Entry, error) {
	return s.h.Scan(ctx, s.site, prefix, limit)
}

func (s siteHost) Delete(ctx context.Context, key string) error { return s.h.Delete(ctx, s.site, key) }

func (s siteHost) NextSequence(ctx context.Context, name string) (int64, error) {
	return s.h.NextSequence(ctx, s.site, name)
}

func (s siteHost) Publish(ctx context.Context, ev sdk.Event) error {
	return s.h.Publish(ctx, s.site, ev)
}

func (s siteHost) Journal(ctx context.Context, x sdk.Exchange) (int64, error) {
	return s.h.Journal(ctx, s.site, x)
}
