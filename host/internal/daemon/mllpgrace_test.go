package daemon

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/metrics"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/transforms/hl7"
)

// TestMLLPShutdownGraceFromConfig: the MLLP listeners the daemon opens
// take their shutdown grace from mllp.shutdownGrace. At Close, a message
// whose outcome does not come has its connection cut once that grace is
// over (its sender resends and gets the stored outcome), not after the
// 5s default, which the listeners used whatever was configured.
func TestMLLPShutdownGraceFromConfig(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(release) }) }
	t.Cleanup(releaseAll)
	d, _ := runningDaemon(t, handlerFunc(func(ctx context.Context, _ *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
	}))
	d.metrics = &metrics.Metrics{Registry: prometheus.NewRegistry()}
	src := "kafka:\n  embedded: {}\nsites:\n  - code: s1\nmllp:\n  shutdownGrace: 200ms\n  listeners:\n" +
		"    - address: \"127.0.0.1:0\"\n      site: s1\n      messageTypes: {\"ADT^A28\": x.do}\n"
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "medgate.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.startMLLP(t.Context(), cfg, d.log); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", d.mllp[0].Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := "MSH|^~\\&|HIS|XMFY|MEDGATE|XMFY|20261203101500||ADT^A28^ADT_A05|G1|P|2.5\rPID|1||X1\r"
	if err := hl7.NewWriter(c).WriteMessage([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the message did not reach the plugin within 10s")
	}
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	// Far above the 200ms grace, below the 5s default.
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read %d bytes, %v; want the connection cut once mllp.shutdownGrace (200ms) is over", n, err)
	}
	releaseAll()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return within 30s")
	}
}
