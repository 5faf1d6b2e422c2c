package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/plugins/sdk"
)

// isolatingPlugin plays a plugin process that message "bad" crashes once,
// after which the plugin host isolates bad's site: its later calls fail
// with ErrSiteIsolated without reaching the process. Message "other" is
// handled only once bad has been called three times, or gives up after
// wait.
type isolatingPlugin struct {
	wait   time.Duration
	mu     sync.Mutex
	bad    int           // calls of "bad"
	third  chan struct{} // closed at bad's third call
	second chan struct{} // closed at bad's second call
}

func (p *isolatingPlugin) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	if req.MessageID == "other" {
		t := time.NewTimer(p.wait)
		defer t.Stop()
		select {
		case <-p.third:
			return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
		case <-t.C:
			return nil, errors.New("bad's retry did not come while this message was in the plugin")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p.mu.Lock()
	p.bad++
	n := p.bad
	p.mu.Unlock()
	switch n {
	case 1:
		return nil, &pluginhost.CrashError{Plugin: "x", Generation: 1, Err: errors.New("connection is shut down")}
	case 2:
		close(p.second)
	case 3:
		close(p.third)
	}
	return nil, fmt.Errorf("plugin %q: %w: site %q: its messages crash the plugin", "x", pluginhost.ErrSiteIsolated, req.Site)
}

// TestIsolatedSiteDoesNotGoAlone: a message that crashed the plugin is
// retried alone in it, so a second crash is its own; but once the plugin
// host has isolated its site (ErrSiteIsolated: the site's calls no longer
// reach the process, so they cannot crash it), its retries go in with the
// other messages again. They used to keep going alone, each waiting for
// every call in the plugin to end and holding every new call of every
// site back meanwhile: an isolated site's messages, retried until a
// reload, kept stalling the plugin for all its other sites.
func TestIsolatedSiteDoesNotGoAlone(t *testing.T) {
	t.Parallel()
	// other waits within the call timeout (1s) for bad's retry.
	plugin := &isolatingPlugin{wait: 500 * time.Millisecond, second: make(chan struct{}), third: make(chan struct{})}
	p, _, _ := newProc(t, plugin, true)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	badDone := make(chan error, 1)
	go func() {
		_, err := p.Process(ctx, Input{Value: msg("bad", "x.do"), Key: "bad"})
		badDone <- err
	}()
	select {
	case <-plugin.second:
	case <-time.After(30 * time.Second):
		t.Fatal("the crashed message was not retried")
	}
	r, err := p.Process(t.Context(), Input{Value: msg("other", "x.do"), Key: "other"})
	if err != nil || r.Status != message.StatusOK || r.Attempts != 1 {
		t.Errorf("another message in the plugin while the isolated site's message is retried: %v %+v; want ok at its first attempt (the retry not waiting for it to leave)", err, r)
	}
	cancel()
	if err := <-badDone; err == nil {
		t.Error("the isolated site's upload ended; want it retried until stopped")
	}
}
