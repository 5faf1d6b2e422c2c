package adapter_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// TestMIUploadInFlightSurvivesReconfigure: the host reconfigures a site
// (reload) while a medical-insurance upload of that site is waiting for
// the national platform's answer. Configure releases the replaced
// client; the upload in flight must still finish on the client it
// started with, its line accepted once and recorded as accepted.
func TestMIUploadInFlightSurvivesReconfigure(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, cst)}
	sim := tracecode.New(tracecode.Options{AppID: "app-1", AppSecret: appSecret, OrgCode: "H35020300001", TokenTTL: time.Hour, Seed: 42,
		Now: clk.Now, HSAPaasID: "paas-1", HSAToken: hsaToken})
	// The national endpoint holds each 3502 call until released: a slow
	// platform, with no sleep.
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hsa/api" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if bytes.Contains(body, []byte(`"infno":"3502"`)) {
				select {
				case arrived <- struct{}{}:
				default:
				}
				<-release
			}
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	a := adapter.New(adapter.WithClock(clk.Now), adapter.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	host := sdktest.NewMemoryHost()
	e := &env{t: t, sim: sim, url: srv.URL, host: host, plugin: sdktest.Connect(t, a, host), clock: clk, dir: t.TempDir()}
	s := baseSettings(srv.URL, e.dir)
	if ds := e.configure(s); ds.HasError() {
		t.Fatal(ds)
	}
	c := drugCode("8100001", 21)
	must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("MI-R", "102", line(1, "1", c))), sdk.StatusOK)

	type result struct {
		r   *sdk.HandleResponse
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := e.plugin.Handle(context.Background(), &sdk.HandleRequest{Site: site, Type: adapter.OpMIUpload, MessageID: "mi-1",
			Format: "json", Payload: []byte(`{"billNo":"MI-R"}`), Attempt: 1})
		done <- result{r, err}
	}()
	deadline := time.After(30 * time.Second)
	select {
	case <-arrived:
	case res := <-done:
		t.Fatalf("the upload ended before reaching the platform: %v %+v", res.err, res.r)
	case <-deadline:
		t.Fatal("the upload never reached the platform")
	}
	// Reload with changed settings while the call is in flight.
	s["miOpterName"] = "接口2"
	if ds := e.configure(s); ds.HasError() {
		t.Fatal(ds)
	}
	close(release)
	var res result
	select {
	case res = <-done:
	case <-deadline:
		t.Fatal("the upload in flight never finished")
	}
	if res.err != nil {
		t.Fatalf("the upload in flight failed: %v", res.err)
	}
	out := must[miReply](t, res.r, sdk.StatusOK)
	if out.Status != "ok" || len(out.Lines) != 1 || out.Lines[0].Status != "ok" {
		t.Errorf("the upload in flight: %+v", out)
	}
	if _, ok := sim.HSARecords()["MI-R-1"]; !ok {
		t.Errorf("the platform has no record of the line uploaded in flight")
	}
	// Sent again on the new client: already accepted, nothing is sent.
	again := must[miReply](t, e.send(adapter.OpMIUpload, map[string]string{"billNo": "MI-R"}), sdk.StatusOK)
	if again.Status != "ok" || sim.Stats().Calls["hsa"] != 1 {
		t.Errorf("after the reload: %+v, %d national calls (want 1)", again, sim.Stats().Calls["hsa"])
	}
}
