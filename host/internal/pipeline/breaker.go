package pipeline

import (
	"sync"
	"time"
)

// breaker is a circuit breaker per plugin and site: after Threshold
// consecutive transient failures it opens for Cooldown, during which calls
// fail at once (and are retried with backoff like any transient failure)
// instead of hammering an external system that is down. After the cooldown
// one call is let through; its success closes the circuit.
type breaker struct {
	threshold int
	cooldown  time.Duration

	mu    sync.Mutex
	state map[string]*circuit
}

type circuit struct {
	failures  int
	openUntil time.Time
	probing   bool
}

func newBreaker(threshold int, cooldown time.Duration) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, state: map[string]*circuit{}}
}

// allow reports whether a call may go out now.
func (b *breaker) allow(key string, now time.Time) bool {
	if b == nil || b.threshold <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.state[key]
	if c == nil || c.failures < b.threshold {
		return true
	}
	if now.Before(c.openUntil) || c.probing {
		return false
	}
	c.probing = true // half-open: one call tests the water
	return true
}

// done records the outcome of a call that went out.
func (b *breaker) done(key string, transientFailure bool, now time.Time) {
	if b == nil || b.threshold <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.state[key]
	if c == nil {
		c = &circuit{}
		b.state[key] = c
	}
	c.probing = false
	if !transientFailure {
		c.failures = 0
		return
	}
	c.failures++
	if c.failures >= b.threshold {
		c.openUntil = now.Add(b.cooldown)
	}
}

// abandon records that a call allow let through did not go out after
// all: a half-open circuit lets the next call probe instead.
func (b *breaker) abandon(key string) {
	if b == nil || b.threshold <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.state[key]; c != nil {
		c.probing = false
	}
}

// open reports whether the circuit of key is open (for readiness and logs).
func (b *breaker) open(key string, now time.Time) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.state[key]
	return c != nil && c.failures >= b.threshold && now.Before(c.openUntil)
}
