package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/plugins/sdk"
)

// crashingProcess plays a plugin process that message "poison" kills on
// every call: every call in the process at that moment fails with a
// CrashError. The first poison call waits until "healthy" is in the process
// too, so that the first crash takes an innocent call with it.
type crashingProcess struct {
	mu        sync.Mutex
	gen       uint64
	inside    map[string]bool
	crashed   chan struct{} // closed when the current generation dies
	healthyIn chan struct{} // closed when "healthy" first entered
	overlaps  []string      // calls of a crashed message that shared the process
	suspects  map[string]bool
	calls     map[string]int
}

func newCrashingProcess() *crashingProcess {
	return &crashingProcess{gen: 1, inside: map[string]bool{}, crashed: make(chan struct{}), healthyIn: make(chan struct{}), suspects: map[string]bool{}, calls: map[string]int{}}
}

func (c *crashingProcess) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	id := req.MessageID
	c.mu.Lock()
	for other := range c.inside {
		if c.suspects[id] || c.suspects[other] {
			c.overlaps = append(c.overlaps, id+" with "+other)
		}
	}
	c.inside[id] = true
	c.calls[id]++
	first := c.calls[id] == 1
	gen, crashed := c.gen, c.crashed
	if id == "healthy" && first {
		close(c.healthyIn)
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.inside, id)
		c.mu.Unlock()
	}()
	crash := func() (*sdk.HandleResponse, error) {
		c.mu.Lock()
		c.suspects[id] = true
		c.mu.Unlock()
		return nil, &pluginhost.CrashError{Plugin: "x", Generation: gen, Err: errors.New("connection is shut down")}
	}
	switch {
	case id == "poison":
		if first {
			<-c.healthyIn
		}
		c.mu.Lock()
		close(c.crashed)
		c.gen++
		c.crashed = make(chan struct{})
		c.mu.Unlock()
		return crash()
	case id == "healthy" && first:
		select {
		case <-crashed:
			return crash()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return ok(req)
}

// TestMessageCrashingThePluginFails: an upload during whose calls the
// plugin process dies every time fails with rule plugin-crash after
// CrashLimit crashes alone in the plugin, and goes to the DLQ; a message
// that was in the process when it died the first time is retried alone,
// not blamed, and answered ok.
func TestMessageCrashingThePluginFails(t *testing.T) {
	t.Parallel()
	proc := newCrashingProcess()
	p, pub, _ := newProc(t, proc, true)
	replies := map[string]*message.Reply{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	// Without a limit the upload would be retried for ever.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, id := range []string{"poison", "healthy"} {
		wg.Go(func() {
			r, err := p.Process(ctx, Input{Value: msg(id, "x.do"), Key: id})
			if err != nil {
				t.Errorf("%s: %v", id, err)
			}
			mu.Lock()
			replies[id] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	if r := replies["poison"]; r == nil || r.Status != message.StatusFailed || len(r.Errors) != 1 || r.Errors[0].Rule != RulePluginCrash || !strings.Contains(r.Errors[0].Message, "cannot be delivered") {
		t.Fatalf("poison: reply %+v; want failed with rule %s", r, RulePluginCrash)
	}
	if got, want := proc.calls["poison"], 1+DefaultCrashLimit; got != want {
		t.Errorf("poison called %d times, want %d (one crash in company, then %d alone)", got, want, DefaultCrashLimit)
	}
	if r := replies["healthy"]; r == nil || r.Status != message.StatusOK {
		t.Fatalf("healthy: reply %+v; want ok (it was only in the process when the poison killed it)", r)
	}
	if len(proc.overlaps) > 0 {
		t.Errorf("calls of a message that had crashed shared the process: %v", proc.overlaps)
	}
	if d := pub.on("dlq"); len(d) != 1 || !strings.Contains(string(d[0].value), `"poison"`) {
		t.Errorf("DLQ records %+v; want only the poison's", d)
	}
}
