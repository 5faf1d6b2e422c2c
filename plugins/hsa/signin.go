package hsa

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// signInState is the host-state record of the 9001 sign-in of one
// operator, shared by every instance: today's sign_no, or a claim (an
// instance is signing in: ClaimedBy and ClaimUntil set, SignNo empty), or
// neither (forgotten, or released by a claimant whose 9001 failed).
type signInState struct {
	Day      string `json:"day,omitempty"` // yyyy-MM-dd in UTC+8
	SignNo   string `json:"signNo,omitempty"`
	SignTime string `json:"signTime,omitempty"`
	MsgID    string `json:"msgid,omitempty"`
	// ClaimedBy names the instance sending the 9001 (host/pid/random).
	ClaimedBy string `json:"claimedBy,omitempty"`
	// ClaimUntil is when the claim lapses if no sign_no was written over
	// it: another instance may then claim and sign in itself.
	ClaimUntil time.Time `json:"claimUntil,omitzero"`
	// Until is when the platform's day of the sign-in ends, on the clock
	// of the instance that signed in: the platform's sign_time (UTC+8)
	// says which day the sign_no is for, whatever the instance's clock
	// reads; zero when the answer gave no readable sign_time (then only
	// Day bounds it).
	Until time.Time `json:"until,omitzero"`
}

// usable reports whether st holds a sign_no for day (UTC+8, on this
// client's clock) that the platform's day has not ended for at now.
func (st signInState) usable(day string, now time.Time) bool {
	return st.Day == day && st.SignNo != "" && (st.Until.IsZero() || now.Before(st.Until))
}

func signInKey(opter string) string { return "hsa/signin/" + opter }

const (
	// signInPrepare bounds what a claimant does around the 9001 exchange
	// itself (allocating its msgid, building the envelope).
	signInPrepare = 10 * time.Second
	// signInSettle bounds writing the sign_no over the claim.
	signInSettle = 10 * time.Second
	// signInSkew is how far the clocks of two instances may differ
	// without one taking over the claim of another still signing in.
	signInSkew = 10 * time.Second
	// signInPoll is how often an instance waiting for another's 9001
	// reads the state.
	signInPoll = 200 * time.Millisecond
)

// claimTTL is how long a claim to sign in holds: the claimant's 9001 runs
// under a deadline of the call timeout plus signInPrepare, journaling it
// takes at most journalTimeout, and writing its sign_no signInSettle;
// signInSkew more allows for the clocks of the instances. A claimant that
// has written nothing by then has died or hung: its claim no longer
// blocks the others (with the default 30s timeout: 70s).
func (c *Client) claimTTL() time.Duration {
	return c.cfg.Timeout + signInPrepare + journalTimeout + signInSettle + signInSkew
}

// instanceID names this client in its claims, for whoever reads the
// state: the host name, the process id and a random part.
func instanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// SignNo returns today's sign_no for the configured operator, signing in
// with 9001 when there is none yet today. It is cached in memory and in
// host state, and every instance sharing the state uses the sign_no the
// state holds (read again before each call, so a sign_no another instance
// replaced is not sent again): one instance claims the sign-in there (a version-checked
// write) before sending 9001 and the others wait for its sign_no, so an
// operator signs in once a day whatever the number of instances.
func (c *Client) SignNo(ctx context.Context, h Host, messageID string) (string, error) {
	return c.signNo(ctx, h, messageID, "")
}

// signNo is SignNo that never returns refused, the sign_no the platform
// refused as expired ("" for none): a cached one that is still refused is
// replaced by a new 9001, one another call or instance already got is
// used as it is. One call of this client signs in at a time; the others
// wait for it and use its sign_no, and across instances the claim in host
// state does the same, so calls refused for the same sign_no sign in
// again once between them.
func (c *Client) signNo(ctx context.Context, h Host, messageID, refused string) (string, error) {
	day := c.now().In(cst).Format("2006-01-02")
	key := signInKey(c.cfg.Opter)
	cached := func() (string, bool) {
		c.mu.Lock()
		st, ok := c.signin[key]
		c.mu.Unlock()
		if ok && st.usable(day, c.now()) && st.SignNo != refused {
			return st.SignNo, true
		}
		return "", false
	}
	if no, ok := cached(); ok {
		return c.newerSignNo(ctx, h, key, day, no, refused), nil
	}
	select {
	case c.signing <- struct{}{}:
		defer func() { <-c.signing }()
	case <-ctx.Done():
		return "", fmt.Errorf("wait for the 9001 sign-in of another call: %w", ctx.Err())
	}
	if no, ok := cached(); ok {
		return no, nil
	}
	return c.sharedSignNo(ctx, h, key, day, messageID, refused)
}

// newerSignNo returns the sign_no host state holds for today when another
// instance has replaced the one this client keeps in memory (cached), and
// cached otherwise. Reading the state before each call (one Get, beside
// the msgid sequence and the journal the call writes there anyway) saves
// every instance a refusal of a sign_no another instance has already
// replaced: without signInExpiredCodes listed, such a refusal ends the
// message rejected. A state without a newer sign_no (the same, another
// day's, none, unreadable, or refused) or that cannot be read leaves the
// cached one in use; this never signs in.
func (c *Client) newerSignNo(ctx context.Context, h Host, key, day, cached, refused string) string {
	e, err := h.Get(ctx, key)
	if err != nil {
		if !errors.Is(err, sdk.ErrNotFound) {
			c.log.Warn("cannot read the shared 9001 sign-in; using this instance's", "key", key, "err", err)
		}
		return cached
	}
	var st signInState
	if json.Unmarshal(e.Value, &st) != nil || !st.usable(day, c.now()) || st.SignNo == cached || st.SignNo == refused {
		return cached
	}
	c.remember(key, st)
	return st.SignNo
}

// sharedSignNo reads the sign-in from host state and uses its sign_no;
// waits while another instance's claim holds; and otherwise claims the
// sign-in, sends 9001 and writes the sign_no over its claim. It sends at
// most one 9001.
func (c *Client) sharedSignNo(ctx context.Context, h Host, key, day, messageID, refused string) (string, error) {
	var (
		seenVer int64     = -1 // the claim being waited for, by version
		seenAt  time.Time      // when this client first saw it, on its clock
		sent    bool           // this call sent its 9001
	)
	for {
		var st signInState
		var ver int64
		e, err := h.Get(ctx, key)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
		case err != nil:
			return "", fmt.Errorf("read the 9001 sign-in state %q from the host: %w", key, err)
		default:
			ver = e.Version
			if json.Unmarshal(e.Value, &st) != nil {
				st = signInState{} // unreadable: replaced as if absent
			}
		}
		if st.usable(day, c.now()) && st.SignNo != refused {
			c.remember(key, st)
			return st.SignNo, nil
		}
		now := c.now()
		// A claim of this client is one an earlier call of it left (its
		// release failed): no other call of this client is signing in.
		if st.Day == day && st.SignNo == "" && st.ClaimedBy != "" && st.ClaimedBy != c.id {
			if ver != seenVer {
				seenVer, seenAt = ver, now
			}
			// A claim lapses at its ClaimUntil, or claimTTL after this
			// client first saw it, should the claimant's clock be ahead.
			if now.Before(st.ClaimUntil) && now.Sub(seenAt) < c.claimTTL() {
				if err := c.pause(ctx); err != nil {
					return "", fmt.Errorf("wait for the 9001 sign-in that instance %s claimed until %s: %w; the claim lapses by then and this instance signs in itself",
						st.ClaimedBy, st.ClaimUntil.In(cst).Format(time.RFC3339), err)
				}
				continue
			}
		}
		if sent {
			// The sign_no of this call's 9001 could not be written: its
			// claim lapsed, another instance took it over, and the state
			// holds no sign_no now. One call sends one 9001.
			return "", fmt.Errorf("the 9001 sign-in of this instance was not stored: it took longer than its claim (%s), another instance took the claim over and the host state %q holds no sign_no now; nothing more was sent: retry the call, and if this repeats check the platform's 9001 answer time against the timeout setting and the instances' clocks", c.claimTTL(), key)
		}
		no, claimed, err := c.claimAndSignIn(ctx, h, key, day, ver, messageID)
		switch {
		case err != nil:
			return "", err
		case no != "":
			return no, nil
		case claimed:
			sent = true
		}
		// Another instance wrote first: read again.
	}
}

// claimAndSignIn claims the sign-in over version ver of the state (0: no
// state), sends 9001 and writes its sign_no over the claim. It returns
// the sign_no, or "" when another instance wrote first: before the claim
// (claimed false) or over a claim that lapsed while the 9001 was out
// (claimed true: the 9001 was sent and its sign_no is not used).
func (c *Client) claimAndSignIn(ctx context.Context, h Host, key, day string, ver int64, messageID string) (signNo string, claimed bool, err error) {
	start := c.now()
	claim, _ := json.Marshal(signInState{Day: day, ClaimedBy: c.id, ClaimUntil: start.Add(c.claimTTL())})
	claimVer, err := h.CompareAndSet(ctx, key, ver, claim)
	if errors.Is(err, sdk.ErrConflict) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("claim the 9001 sign-in in host state %q: %w", key, err)
	}
	// Writes that must happen even when ctx ended: the call has been made.
	write := func(st signInState) error {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signInSettle)
		defer cancel()
		b, _ := json.Marshal(st)
		_, err := h.CompareAndSet(wctx, key, claimVer, b)
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout+signInPrepare)
	defer cancel()
	st, err := c.signIn(sctx, h, day, messageID)
	if err != nil {
		// Release the claim so others need not wait for it to lapse.
		if rerr := write(signInState{Day: day}); rerr != nil && !errors.Is(rerr, sdk.ErrConflict) {
			c.log.Warn("cannot release the claim of a failed 9001 sign-in; other instances sign in once it lapses", "key", key, "claim", c.claimTTL(), "err", rerr)
		}
		return "", true, err
	}
	switch err := write(st); {
	case errors.Is(err, sdk.ErrConflict):
		c.log.Warn("the 9001 sign-in took longer than its claim and another instance claimed it; using that instance's sign-in", "msgid", st.MsgID, "claim", c.claimTTL())
		return "", true, nil
	case err != nil:
		return "", true, fmt.Errorf("store the 9001 sign-in (msgid %s) in host state %q: %w; other instances sign in again once this claim lapses (%s)", st.MsgID, key, err, c.claimTTL())
	}
	c.remember(key, st)
	return st.SignNo, true, nil
}

// signIn sends 9001 and returns today's sign-in from its answer. Its
// sign_time, the platform's clock, bounds it (Until): a clock a few
// minutes ahead of the platform's signs in for "tomorrow" before the
// platform's midnight, one behind keeps "today's" past it.
func (c *Client) signIn(ctx context.Context, h Host, day, messageID string) (signInState, error) {
	input := map[string]any{"signIn": map[string]any{"opter_no": c.cfg.Opter, "mac": c.cfg.SignInMAC, "ip": c.cfg.SignInIP}}
	sent := c.now()
	res, err := c.Do(ctx, h, Call{Infno: "9001", Input: input, MessageID: messageID})
	if err != nil {
		return signInState{}, fmt.Errorf("sign in with 9001: %w", err)
	}
	var out struct {
		Signinoutb struct {
			SignNo   any    `json:"sign_no"`
			SignTime string `json:"sign_time"`
		} `json:"signinoutb"`
	}
	if err := json.Unmarshal(res.Output, &out); err != nil || text(out.Signinoutb.SignNo) == "" {
		return signInState{}, fmt.Errorf("sign in with 9001 (msgid %s): the answer has no signinoutb.sign_no; check the 9001 field names against the province's document", res.MsgID)
	}
	return signInState{Day: day, SignNo: text(out.Signinoutb.SignNo), SignTime: out.Signinoutb.SignTime, MsgID: res.MsgID,
		Until: dayEnd(out.Signinoutb.SignTime, sent)}, nil
}

// dayEnd is when the platform's day of signTime (yyyy-MM-dd HH:mm:ss,
// UTC+8) ends, on this client's clock, given that the 9001 went out at
// sent: sent plus the time from signTime to the platform's next midnight
// (taking sent, not the answer's arrival, ends it early rather than late).
// Zero when signTime cannot be read.
func dayEnd(signTime string, sent time.Time) time.Time {
	t, err := time.ParseInLocation(TimeLayout, strings.TrimSpace(signTime), cst)
	if err != nil {
		return time.Time{}
	}
	y, m, d := t.Date()
	return sent.Add(time.Date(y, m, d+1, 0, 0, 0, 0, cst).Sub(t))
}

// pause waits one poll interval, or until ctx ends.
func (c *Client) pause(ctx context.Context) error {
	t := time.NewTimer(c.signInPoll)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) remember(key string, st signInState) {
	c.mu.Lock()
	c.signin[key] = st
	c.mu.Unlock()
}

// ForgetSignIn drops the sign_no this client uses from memory and from
// host state, so the next call signs in again (for when the platform says
// it expired). When the state already holds another sign_no (another
// instance replaced it), or an instance is signing in, the state is left
// as it is and the next call uses that sign_no: instances that forget the
// same sign_no sign in again once between them. A client that has no
// sign_no in memory forgets the one the state holds.
func (c *Client) ForgetSignIn(ctx context.Context, h Host) error {
	key := signInKey(c.cfg.Opter)
	c.mu.Lock()
	mine := c.signin[key].SignNo
	delete(c.signin, key)
	c.mu.Unlock()
	for {
		e, err := h.Get(ctx, key)
		if errors.Is(err, sdk.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("forget the 9001 sign-in: read host state %q: %w", key, err)
		}
		var st signInState
		if json.Unmarshal(e.Value, &st) == nil && (st.SignNo == "" || mine != "" && st.SignNo != mine) {
			return nil
		}
		_, err = h.CompareAndSet(ctx, key, e.Version, []byte(`{}`))
		if errors.Is(err, sdk.ErrConflict) {
			continue // written meanwhile: look again
		}
		if err != nil {
			return fmt.Errorf("forget the 9001 sign-in: write host state %q: %w", key, err)
		}
		return nil
	}
}
