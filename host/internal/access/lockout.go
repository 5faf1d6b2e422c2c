package access

import (
	"sync"
	"time"
)

// Lockout refuses sign-ins for a user from one client address after
// Failures failed attempts within For, until For has passed since the
// last failure. It is keyed by user and address together, so a guesser
// locks out only that user from the guesser's own address: colleagues
// behind the same proxy (whose real address the proxy forwards, see
// [Proxy.ClientAddr]) and the same user elsewhere can still sign in.
type Lockout struct {
	failures int
	window   time.Duration
	now      func() time.Time

	mu sync.Mutex
	m  map[lockKey]*lockState
}

type lockKey struct{ user, addr string }

type lockState struct {
	times []time.Time // failures within the window, oldest first
}

// maxLockKeys bounds the lockout's memory; the stalest entries go first.
const maxLockKeys = 20000

// NewLockout returns a lockout after failures failures within window
// (defaults 5 and 15 minutes when not positive). now is the clock
// (time.Now when nil).
func NewLockout(failures int, window time.Duration, now func() time.Time) *Lockout {
	if failures <= 0 {
		failures = 5
	}
	if window <= 0 {
		window = 15 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	return &Lockout{failures: failures, window: window, now: now, m: map[lockKey]*lockState{}}
}

// recent drops failures older than the window and returns what is left.
func (l *Lockout) recent(k lockKey, now time.Time) *lockState {
	st := l.m[k]
	if st == nil {
		return nil
	}
	cut := now.Add(-l.window)
	i := 0
	for i < len(st.times) && !st.times[i].After(cut) {
		i++
	}
	st.times = st.times[i:]
	if len(st.times) == 0 {
		delete(l.m, k)
		return nil
	}
	return st
}

// Locked returns how long user must still wait at addr (0: not locked).
func (l *Lockout) Locked(user, addr string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	st := l.recent(lockKey{user, addr}, now)
	if st == nil || len(st.times) < l.failures {
		return 0
	}
	return st.times[len(st.times)-1].Add(l.window).Sub(now)
}

// Fail records a failed sign-in and reports whether the user is now
// locked out at addr.
func (l *Lockout) Fail(user, addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := lockKey{user, addr}
	st := l.recent(k, now)
	if st == nil {
		if len(l.m) >= maxLockKeys {
			l.evict(now)
		}
		st = &lockState{}
		l.m[k] = st
	}
	st.times = append(st.times, now)
	if len(st.times) > l.failures {
		st.times = st.times[len(st.times)-l.failures:]
	}
	return len(st.times) >= l.failures
}

// Succeed forgets the user's failures at addr.
func (l *Lockout) Succeed(user, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, lockKey{user, addr})
}

// evict drops expired entries, then the one whose last failure is oldest.
func (l *Lockout) evict(now time.Time) {
	var oldest lockKey
	var at time.Time
	for k := range l.m {
		st := l.recent(k, now)
		if st != nil && (at.IsZero() || st.times[len(st.times)-1].Before(at)) {
			oldest, at = k, st.times[len(st.times)-1]
		}
	}
	if len(l.m) >= maxLockKeys {
		delete(l.m, oldest)
	}
}
