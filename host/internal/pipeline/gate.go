package pipeline

import (
	"context"
	"errors"
	"sync"
)

// gates hold one gate per plugin process.
type gates struct {
	mu sync.Mutex
	m  map[string]*gate
}

func (g *gates) get(plugin string) *gate {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]*gate{}
	}
	if g.m[plugin] == nil {
		g.m[plugin] = &gate{changed: make(chan struct{})}
	}
	return g.m[plugin]
}

// gate lets calls into one plugin process run together, or one alone: a
// message suspected of crashing the plugin is retried alone, so that a
// crash during its call is its own and not that of another message in the
// same process. Waiting calls alone go before new shared calls.
type gate struct {
	mu      sync.Mutex
	shared  int  // shared calls in the plugin
	alone   bool // a call alone is in the plugin
	waiting int  // calls waiting to go alone
	changed chan struct{}
}

// errReleased is enter's error when it gave up because stop was closed.
var errReleased = errors.New("the message's partition is being released")

// enter waits until the call may go in (alone or shared), ctx ends or
// stop is closed (the partition of the consumer's delivery is being
// released: bus.Released, nil outside the consumer), which is no time to
// start a call; the returned function lets it out.
func (g *gate) enter(ctx context.Context, alone bool, stop <-chan struct{}) (func(), error) {
	g.mu.Lock()
	if alone {
		g.waiting++
	}
	for {
		if alone && !g.alone && g.shared == 0 {
			g.waiting--
			g.alone = true
			g.mu.Unlock()
			return func() { g.leave(func() { g.alone = false }) }, nil
		}
		if !alone && !g.alone && g.waiting == 0 {
			g.shared++
			g.mu.Unlock()
			return func() { g.leave(func() { g.shared-- }) }, nil
		}
		ch := g.changed
		g.mu.Unlock()
		select {
		case <-ctx.Done():
			if alone {
				g.leave(func() { g.waiting-- })
			}
			return nil, ctx.Err()
		case <-stop:
			if alone {
				g.leave(func() { g.waiting-- })
			}
			return nil, errReleased
		case <-ch:
		}
		g.mu.Lock()
	}
}

// leave applies change and wakes the waiting calls.
func (g *gate) leave(change func()) {
	g.mu.Lock()
	change()
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}
