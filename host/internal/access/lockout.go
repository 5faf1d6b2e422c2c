package access

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Lockout refuses sign-ins for a user from one client address after
// Failures failed attempts within For, until For has passed since the
// last failure. It is keyed by user and address together, so a guesser
// locks out only that user from the guesser's own address: colleagues
// behind the same proxy (whose real address the proxy forwards, see
// [Proxy.ClientAddr]) and the same user elsewhere can still sign in.
//
// It also bounds the guesses at one user's password from every address
// together (a botnet, or a /16 of the hospital's network): after
// userFailures failures for the user within the window, whatever the
// addresses, a sign-in of that user from an address they have not
// signed in from (since medgate started) is checked only one at a time,
// each turn after a wait that doubles with every further failure (1 s,
// 2 s, 4 s … up to userMaxWait); meanwhile the others are refused
// unchecked, even with the right password. From an address where the
// user signed in before, the user is not slowed down by guesses made
// elsewhere, so a guesser cannot lock the real user out of their own
// workstation. The count ends once the user has had a full window
// without a failure after the last wait.
//
// An address here is what [LockAddr] makes of the client's: an IPv6
// client counts by its /64, which one host or one network holds whole
// (a guesser with a /64 would otherwise start afresh at each of its 2^64
// addresses), an IPv4 client by its own address.
type Lockout struct {
	failures int
	window   time.Duration
	now      func() time.Time

	userFailures int
	userMaxWait  time.Duration
	// onLock, when set, is told each lockout as it begins (see OnLock).
	onLock func(kind string)

	mu    sync.Mutex
	m     map[lockKey]*lockState
	users map[string]*userState
}

// userState is one user's failures from every address together, and
// the addresses the user signed in from.
type userState struct {
	failures int       // failures counted since the count last ended
	last     time.Time // the last failure
	turn     time.Time // no sign-in from an unknown address is checked before this
	known    []string  // addresses the user signed in from, the latest last
}

// Defaults and bounds of the per-user limit.
const (
	// DefaultUserFailures is the failures for one user from every address
	// within the window before each further sign-in from an address the
	// user never signed in from waits its turn.
	DefaultUserFailures = 20
	// DefaultUserMaxWait is the longest turn.
	DefaultUserMaxWait = 15 * time.Minute
	// firstUserWait is the first turn; each failure doubles it.
	firstUserWait = time.Second
	// maxKnownAddrs is how many addresses a user signed in from are
	// remembered (the most recent).
	maxKnownAddrs = 16
	// maxUserKeys bounds the per-user table; users with the fewest
	// failures go first.
	maxUserKeys = 20000
)

type lockKey struct{ user, addr string }

type lockState struct {
	times []time.Time // failures within the window, oldest first
	// until is when the lockout ends: a window after the failure that
	// reached the limit, or after the last failure counted while locked
	// (zero: never locked). It is kept apart from times, whose first
	// failures leave the window before it ends.
	until time.Time
}

// maxLockKeys bounds the lockout's memory (see evict for what goes first).
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
	return &Lockout{failures: failures, window: window, now: now, m: map[lockKey]*lockState{},
		userFailures: DefaultUserFailures, userMaxWait: DefaultUserMaxWait, users: map[string]*userState{}}
}

// PerUser sets the bound across addresses: failures failures for one
// user from every address within the window, then sign-ins from
// addresses the user never signed in from wait their turn, up to maxWait
// (defaults DefaultUserFailures and DefaultUserMaxWait when not
// positive). It returns l; call it before l is used.
func (l *Lockout) PerUser(failures int, maxWait time.Duration) *Lockout {
	if failures <= 0 {
		failures = DefaultUserFailures
	}
	if maxWait <= 0 {
		maxWait = DefaultUserMaxWait
	}
	l.userFailures, l.userMaxWait = failures, max(maxWait, firstUserWait)
	return l
}

// Kinds of lockout OnLock is told.
const (
	// LockAddress: a user's failed sign-ins from one address reached the
	// limit; that address waits out the window.
	LockAddress = "address"
	// LockUser: a user's failed sign-ins from every address together
	// reached the per-user limit; addresses the user never signed in
	// from wait their turn (someone guessing from many addresses).
	LockUser = "user"
)

// OnLock sets f to be told each lockout as it begins, with its kind
// (LockAddress, LockUser), once: further failures while locked are not
// told. f is called with the lockout's lock held: it must be quick and
// not call l. It returns l; call it before l is used.
func (l *Lockout) OnLock(f func(kind string)) *Lockout {
	l.onLock = f
	return l
}

// LockAddr is the address the lockout counts a client address as: an
// IPv6 address's /64 network ("2001:db8:1:2::/64", with the zone of a
// link-local one: each link is another network), an IPv4 address (an
// IPv4-mapped IPv6 one written as IPv4) as it is, and anything that is
// no address (a Unix socket's) unchanged.
func LockAddr(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	pf, err := a.Prefix(64)
	if err != nil {
		return addr
	}
	if z := a.Zone(); z != "" {
		return pf.String() + "%" + z
	}
	return pf.String()
}

// Refusal says why a sign-in is not checked: how long to wait, and
// whether the wait is for the user from every address the user has not
// signed in from (AllAddresses) rather than from this one address.
type Refusal struct {
	Wait         time.Duration
	AllAddresses bool
}

// Begin is called before a sign-in of user from addr is checked: a zero
// Refusal lets it be checked, anything else says how long it must wait:
// the longer of the user's lockout at addr and, from an address the user
// has not signed in from, the user's turn, so a sign-in that waits what
// it was told is not refused again for the other. While the user's
// sign-ins from unknown addresses wait their turn, a sign-in let through
// takes the turn, so guesses sent at once from many addresses are still
// checked one at a time.
func (l *Lockout) Begin(user, addr string) Refusal {
	addr = LockAddr(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.lockedAt(user, addr, now)
	u := l.user(user, now)
	if u == nil || u.failures < l.userFailures || u.knows(addr) {
		return Refusal{Wait: w}
	}
	if tw := u.turn.Sub(now); tw > w {
		return Refusal{Wait: tw, AllAddresses: true}
	}
	if w > 0 {
		return Refusal{Wait: w}
	}
	u.turn = now.Add(l.userWait(u.failures))
	return Refusal{}
}

// userWait is the turn after n failures (n at least userFailures).
func (l *Lockout) userWait(n int) time.Duration {
	over := n - l.userFailures
	if over >= 30 {
		return l.userMaxWait
	}
	return min(l.userMaxWait, firstUserWait<<over)
}

// user returns user's state, ended (nil) once the user has had a full
// window without a failure after the last turn.
func (l *Lockout) user(name string, now time.Time) *userState {
	u := l.users[name]
	if u == nil {
		return nil
	}
	if u.failures > 0 && now.Sub(u.last) > l.window && now.Sub(u.turn) > l.window {
		u.failures, u.turn = 0, time.Time{}
	}
	if u.failures == 0 && len(u.known) == 0 {
		delete(l.users, name)
		return nil
	}
	return u
}

func (u *userState) knows(addr string) bool {
	return slices.Contains(u.known, addr)
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
	if len(st.times) == 0 && !st.until.After(now) {
		delete(l.m, k)
		return nil
	}
	return st
}

// Locked returns how long user must still wait at addr (0: not locked):
// the longer of the lockout of user at addr and, from an address user
// never signed in from, the user's turn (see [Lockout.Begin], which also
// takes the turn).
func (l *Lockout) Locked(user, addr string) time.Duration {
	addr = LockAddr(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.lockedAt(user, addr, now)
	if u := l.user(user, now); u != nil && u.failures >= l.userFailures && !u.knows(addr) {
		return max(w, u.turn.Sub(now))
	}
	return w
}

// lockedAt is how long user must still wait at addr by the lockout of
// the user at that address alone.
func (l *Lockout) lockedAt(user, addr string, now time.Time) time.Duration {
	st := l.recent(lockKey{user, addr}, now)
	if st == nil || !st.until.After(now) {
		return 0
	}
	return st.until.Sub(now)
}

// Fail records a failed sign-in and reports whether the user is now
// locked out at addr.
func (l *Lockout) Fail(user, addr string) bool {
	addr = LockAddr(addr)
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
	wasLocked := st.until.After(now)
	st.times = append(st.times, now)
	if len(st.times) > l.failures {
		st.times = st.times[len(st.times)-l.failures:]
	}
	locked := wasLocked || len(st.times) >= l.failures
	if locked {
		// Refused until a whole window after this failure, as
		// lockedAt reports (the 429's Retry-After).
		st.until = now.Add(l.window)
	}
	if !wasLocked && locked && l.onLock != nil {
		l.onLock(LockAddress)
	}
	u := l.user(user, now)
	if u == nil {
		if len(l.users) >= maxUserKeys {
			l.evictUser(now)
		}
		u = &userState{}
		l.users[user] = u
	}
	u.failures++
	u.last = now
	if u.failures == l.userFailures && l.onLock != nil {
		l.onLock(LockUser)
	}
	if u.failures >= l.userFailures {
		u.turn = now.Add(l.userWait(u.failures))
	}
	return locked
}

// Succeed forgets the user's failures at addr and remembers addr as one
// the user signs in from. The user's failures from other addresses are
// not forgotten: a guesser elsewhere goes on waiting.
func (l *Lockout) Succeed(user, addr string) {
	addr = LockAddr(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, lockKey{user, addr})
	now := l.now()
	u := l.user(user, now)
	if u == nil {
		if len(l.users) >= maxUserKeys {
			l.evictUser(now)
		}
		u = &userState{}
		l.users[user] = u
	}
	u.known = slices.DeleteFunc(u.known, func(k string) bool { return k == addr })
	if len(u.known) >= maxKnownAddrs {
		u.known = u.known[1:]
	}
	u.known = append(u.known, addr)
}

// Unlock lifts user's sign-in lockouts and returns how many were in
// force. With addr "" it lifts them everywhere: the user's failures at
// every address and browser are forgotten, and so is the user's count
// across addresses (guesses elsewhere then start afresh). With an
// address it lifts the lockout of the user there alone (addr as
// [LockAddr] makes it: an IPv6 address frees its /64), and remembers the
// address as one the user signs in from, as a sign-in there would (see
// [Lockout.Succeed]), so the user is not kept waiting there by guesses
// made elsewhere either; the count across addresses stays for the
// others. The addresses the user signed in from stay remembered.
//
// The counts are this instance's own (each medgate instance keeps its
// own): Unlock lifts nothing another instance holds.
func (l *Lockout) Unlock(user, addr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	lifted := 0
	if addr != "" {
		addr = LockAddr(addr)
		k := lockKey{user, addr}
		if st := l.recent(k, now); st != nil && st.until.After(now) {
			lifted++
		}
		delete(l.m, k)
		u := l.user(user, now)
		if u != nil && u.failures >= l.userFailures && !u.knows(addr) && u.turn.After(now) {
			lifted++
		}
		if u == nil {
			if len(l.users) >= maxUserKeys {
				l.evictUser(now)
			}
			u = &userState{}
			l.users[user] = u
		}
		if !u.knows(addr) {
			if len(u.known) >= maxKnownAddrs {
				u.known = u.known[1:]
			}
			u.known = append(u.known, addr)
		}
		return lifted
	}
	for k := range l.m {
		if k.user != user {
			continue
		}
		if st := l.recent(k, now); st != nil && st.until.After(now) {
			lifted++
		}
		delete(l.m, k)
	}
	if u := l.user(user, now); u != nil {
		if u.failures >= l.userFailures && u.turn.After(now) {
			lifted++
		}
		u.failures, u.turn, u.last = 0, time.Time{}, time.Time{}
		l.user(user, now) // drops the state when nothing is left of it
	}
	return lifted
}

// TokenLockUser is the lockout's user for sign-ins with the admin token
// (the console's): the token signs in under any name that is not a
// user's, so its failures from an address count together whatever names
// they use. No user name can hold a control character, so none is this
// one. medgate unlock -token lifts its lockouts.
const TokenLockUser = "\x00admin token"

// Lock is one sign-in lockout in force (see [Lockout.Locks]).
type Lock struct {
	// Addr is where the user is locked out: the address as [LockAddr]
	// counts it (an IPv6 address's /64), or a browser's key (the
	// console's device cookie); "" when AllAddresses.
	Addr string
	// AllAddresses: the per-user bound (guesses from many addresses):
	// sign-ins from every address the user has not signed in from wait
	// their turn until Until.
	AllAddresses bool
	// Until is when the lockout ends unless more failures extend it.
	Until time.Time
}

// Locks returns the sign-in lockouts in force now on this instance, by
// user: for each user the per-user turn first, then the addresses in
// the order their lockouts end. Users not locked out are not listed.
func (l *Lockout) Locks() map[string][]Lock {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	out := map[string][]Lock{}
	for name := range l.users {
		if u := l.user(name, now); u != nil && u.failures >= l.userFailures && u.turn.After(now) {
			out[name] = append(out[name], Lock{AllAddresses: true, Until: u.turn})
		}
	}
	for k := range l.m {
		if st := l.recent(k, now); st != nil && st.until.After(now) {
			out[k.user] = append(out[k.user], Lock{Addr: k.addr, Until: st.until})
		}
	}
	for _, ls := range out {
		slices.SortFunc(ls, func(a, b Lock) int {
			if a.AllAddresses != b.AllAddresses {
				if a.AllAddresses {
					return -1
				}
				return 1
			}
			return cmp.Or(a.Until.Compare(b.Until), cmp.Compare(a.Addr, b.Addr))
		})
	}
	return out
}

// UnlockWhere is where an unlock at addr ("": every address) acts, in
// English and in Chinese: the address as the lockout counts it (an IPv6
// address's /64), or every address.
func UnlockWhere(addr string) (where, whereZH string) {
	if addr == "" {
		return "every address", "所有地址"
	}
	where = LockAddr(addr)
	return where, where
}

// UnlockDetail is the audit detail of an unlock at addr ("": every
// address) that lifted lifted lockouts, as the admin API and the console
// record it (Chinese first): where, as the lockout counts the address
// (an IPv6 address's /64), or "every address", and that it acted on
// this instance only. where is that place, for the answer.
func UnlockDetail(addr string, lifted int) (where, detail string) {
	where, whereZH := UnlockWhere(addr)
	n := strconv.Itoa(lifted)
	return where, "解除登录锁定：" + whereZH + "，解除 " + n + " 项（仅本实例）。sign-in lockout lifted at " + where + ": " + n + " lifted (this instance only)"
}

// Knows reports whether user signed in from addr (see Succeed) and it is
// still among the addresses remembered for the user: the console asks it
// of a browser's device key (a key made up by anyone else is not known).
func (l *Lockout) Knows(user, addr string) bool {
	addr = LockAddr(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.user(user, l.now())
	return u != nil && u.knows(addr)
}

// evictUser makes room in the per-user table: ended counts first, then,
// among the users who have not signed in since medgate started, the one
// with the fewest failures (so names sprayed once each cannot push out
// the count of a user under attack). The addresses users signed in from
// go only when the table holds nothing else (the least failures first):
// anyone may fill it with made-up names failed past the per-user bound,
// and pushing out a real user's addresses would let a guesser keep the
// user out of their own workstation. Only a sign-in adds them.
func (l *Lockout) evictUser(now time.Time) {
	for name := range l.users {
		l.user(name, now)
	}
	for len(l.users) >= maxUserKeys {
		var victim string
		least, known := -1, true
		for name, u := range l.users {
			k := len(u.known) > 0
			if least < 0 || (known && !k) || (k == known && u.failures < least) {
				victim, least, known = name, u.failures, k
			}
		}
		delete(l.users, victim)
	}
}

// evict drops expired entries, then, to make room, the entry not locked
// out whose last failure is oldest: anyone can fill the table with
// failures of made-up names, and that must not end a lockout in force
// (at an address the per-user bound does not slow down, it is the only
// bound). Only a table of lockouts alone gives up the one ending first.
func (l *Lockout) evict(now time.Time) {
	var oldest, ending lockKey
	var at, until time.Time
	for k := range l.m {
		st := l.recent(k, now)
		switch {
		case st == nil:
		case st.until.After(now):
			if until.IsZero() || st.until.Before(until) {
				ending, until = k, st.until
			}
		case len(st.times) > 0 && (at.IsZero() || st.times[len(st.times)-1].Before(at)):
			oldest, at = k, st.times[len(st.times)-1]
		}
	}
	if len(l.m) < maxLockKeys {
		return
	}
	if !at.IsZero() {
		delete(l.m, oldest)
		return
	}
	delete(l.m, ending)
}
