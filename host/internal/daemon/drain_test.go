package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestCloseStopsReadyBeforeAccepting: with http.shutdownDelay, a shutdown
// first has /readyz answer 503 (so a Kubernetes Service takes the pod out
// of its endpoints), while the HTTP ingress still takes and completes
// requests, and only then closes its listener. Close used to close the
// listener at once, with /readyz answering 200 to the end, so the Service
// kept sending requests to a pod that refused their connections.
func TestCloseStopsReadyBeforeAccepting(t *testing.T) {
	t.Parallel()
	d, _ := runningDaemon(t, handlerFunc(func(_ context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"done":true}`)}, nil
	}))
	d.drainDelay = 5 * time.Second
	addr := d.HTTPAddr()
	ready := func() (code int, body map[string]string, err error) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &body)
		return resp.StatusCode, body, nil
	}
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		code, body, err := ready()
		if err != nil {
			t.Fatalf("/readyz: %v: the listener closed before /readyz reported the shutdown", err)
		}
		if code == http.StatusServiceUnavailable && body["shutdown"] != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still answers %d %v 30s into the shutdown; want 503 with a shutdown entry", code, body)
		}
		time.Sleep(5 * time.Millisecond) // polling /readyz
	}
	// Not ready, but still taking requests: one sent now is completed.
	// Its connection is closed after the answer, so the client's next
	// request opens a new one, through the load balancer to another
	// instance, rather than finding its kept-alive connection cut when
	// the listener closes (a POST is not retried by clients).
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("/healthz while draining: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !resp.Close {
		t.Errorf("an answer while draining keeps its connection alive (no Connection: close); want it closed after the answer")
	}
	select {
	case a := <-post(d, "m-draining"):
		if a.err != nil || a.code != http.StatusOK || a.reply.Status != message.StatusOK {
			t.Fatalf("a request sent while /readyz said shutting down got HTTP %d %s (%v); want 200 with its outcome", a.code, a.body, a.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a request sent while /readyz said shutting down got no answer")
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Close did not return")
	}
	if _, _, err := ready(); err == nil {
		t.Error("the HTTP listener still accepts after Close")
	}
}
