package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// A revocation whose outcome is not known – in flight, or sent with its
// answer lost until GYD053 reconciles it – may have revoked what it names
// at the national system, or not. Local state only records a revocation
// once it is known to be accepted, so a message checked meanwhile would be
// checked against the state before it: the same revocation under another
// message id would be sent and refused as a double revocation (E7002,
// E7003, E6102); an admission (GYU101) with the inpatient number a GYR002
// or GYR003 frees would be refused locally as a number in use, with the
// advice to revoke the admission that is being revoked; an admission
// revocation (GYR002) after a GYR001 of every fee line would be refused
// because the lines are still valid here. So, as a settlement marks its
// stay (settling.go), a revocation marks what it revokes before it is
// first sent and removes the mark once its outcome is known
// (unmarkSettling):
//
//	GYR001  the visit's Revoking list (settling.go, markRevokingChecked)
//	GYR002  the visit's Unadmitting list (markRevocation)
//	GYR003  the settlement's Revoking list (markRevocation)
//
// and the messages that depend on its outcome wait, retryably and as a
// deliberate wait, with rule revocation-outcome-known: a GYR001 or GYR002
// of a visit with a GYR001 or GYR002 without a known outcome, a GYR003 of
// a settlement with one, a GYU101 whose inpatient number is held by a
// visit with one (its admission or its settlement being revoked). Each
// goes on by its own rules once the revocation is reconciled on its own
// next attempt. A GYR002 or GYR003 marks itself with a compare-and-set
// on the version its check read, so two checked at the same instant do
// not both go out, and one whose visit or settlement changed since (one
// of the same accepted and finished meanwhile) is checked again. A mark whose message is done, or never went out, holds
// nothing back.

// revokeWaitError says that a message depends on the outcome of a
// revocation that is not known yet.
type revokeWaitError struct {
	field string
	// what is the revocation waited for ("the settlement revocation
	// (GYR003) of settlement …"); open its messages; then what happens
	// to this message once the outcome is known.
	what, then string
	open       []string
	// stale are the revocations of open sent longer ago than the upload
	// deadline (staleRevocations): most likely given up, to be replayed.
	stale []staleRevocation
}

func (e *revokeWaitError) Error() string {
	return fmt.Sprintf("rule revocation-outcome-known: %s has no known outcome yet: %s", e.what, strings.Join(e.open, ", "))
}

// response is the retryable failure of a message that waits, marked as a
// deliberate wait (it does not count towards the site's circuit breaker).
func (e *revokeWaitError) response() *sdk.HandleResponse {
	detail := "its answer was lost or has not come yet, so whether it revoked anything at the national system is not known; nothing was sent and medgate tries this message again by itself. " +
		"The revocation is reconciled with GYD053 on its own next attempt – if it is in the DLQ, replay it; nothing else is to be done. " + e.then
	if len(e.stale) > 0 {
		var parts []string
		for _, s := range e.stale {
			parts = append(parts, s.String())
		}
		detail = strings.Join(parts, "; ") + ". A revocation still being processed is reconciled on its next attempt, seconds after the last, so this one is most likely no longer processed (in the DLQ): " +
			"replay it (" + replayCommands(e.stale) + ", or Replay on the console) – its attempt asks GYD053 for its outcome and never sends it again – and this message goes on by itself. " + e.then
	}
	return sdk.Wait(sdk.Problem(e.field, "state", e.Error(), detail))
}

// staleRevocation is a revocation without a known outcome sent longer ago
// than the upload deadline.
type staleRevocation struct {
	id, code, serial string
	sentAt           time.Time
	age              time.Duration
}

func (s staleRevocation) String() string {
	return fmt.Sprintf("revocation message %s (%s, serial %s) was sent at %s and has had no known outcome for %s", s.id, s.code, s.serial,
		s.sentAt.In(cst).Format("2006-01-02 15:04:05"), s.age.Round(time.Minute))
}

func replayCommands(st []staleRevocation) string {
	var cmds []string
	for _, s := range st {
		cmds = append(cmds, "`medgate replay "+s.id+"`")
	}
	return strings.Join(cmds, ", ")
}

// staleRevocations returns the revocations of open (openOf's entries,
// "<message id> (<code>, serial <serial>)") that were sent longer ago than
// the upload deadline without a known outcome. The adapter does not
// resolve them itself: it cannot tell a revocation the host gave up (the
// DLQ: after plugin crashes, or a failure that is not retryable) from one
// still being retried, and the platform holds the failed reply of a given
// up one until it is replayed, so only its replay gives the hospital the
// revocation's real outcome. A revocation's next attempt comes seconds
// after the last (the host's backoff), and reconciles it with GYD053; one
// still without an outcome past the 30-minute deadline is either in the
// DLQ or meets a national system without trustworthy answers (its own
// late ALERT says so), and a replay of it is harmless either way: it asks
// GYD053 first and never sends the revocation again.
func (a *Adapter) staleRevocations(ctx context.Context, h sdk.Host, c *siteConfig, open []string) []staleRevocation {
	var out []staleRevocation
	now := a.now()
	for _, o := range open {
		i := strings.LastIndex(o, " (")
		if i <= 0 {
			continue
		}
		id := o[:i]
		var rec sentRecord
		if ver, err := getJSON(ctx, h, "msg/"+id, &rec); err != nil || ver == 0 || rec.Done || rec.SentAt.IsZero() {
			continue
		}
		if age := now.Sub(rec.SentAt); age > c.deadline {
			out = append(out, staleRevocation{id: id, code: rec.Code, serial: rec.Serial, sentAt: rec.SentAt, age: age})
		}
	}
	return out
}

// waitResponse is the reply of a message that waits for the revocations
// of e. A revocation that has had no outcome for longer than the upload
// deadline (staleRevocations) is named as the message to replay, in the
// reply and, once per revocation, in an ALERT line and a
// workinjury.revocation.stale event: the message that claims its revstale
// record (a compare-and-set, see staleMark) gives them, so two messages
// waiting at once, in one instance or two, give them once.
func (a *Adapter) waitResponse(ctx context.Context, h sdk.Host, c *siteConfig, msgID, code string, e *revokeWaitError) *sdk.HandleResponse {
	e.stale = a.staleRevocations(ctx, h, c, e.open)
	for _, s := range e.stale {
		key := staleKey(s.id)
		var mark staleMark
		ver, err := getJSON(ctx, h, key, &mark)
		if err != nil || ver > 0 && (mark.Published || a.now().Sub(mark.At) < staleClaimLease) {
			continue
		}
		if err := a.at("revstale-read"); err != nil {
			continue
		}
		claimed, err := casJSON(ctx, h, key, ver, staleMark{At: a.now().UTC()})
		if err != nil {
			if !errors.Is(err, sdk.ErrConflict) {
				a.log.Warn("cannot claim the stale-revocation ALERT; it is tried again on the next attempt", "replay", s.id, "err", err)
			}
			continue
		}
		a.log.Error("ALERT: a revocation has had no known outcome for longer than the upload deadline and holds back the messages of its stay: replay it (medgate replay ID); its attempt asks GYD053 for the outcome and never sends it again",
			"site", c.code, "replay", s.id, "code", s.code, "serial", s.serial, "sentAt", s.sentAt, "age", s.age.Round(time.Second).String(),
			"waiting", msgID, "waitingCode", code)
		payload, _ := marshal(map[string]any{"site": c.code, "messageId": s.id, "code": s.code, "serial": s.serial, "sentAt": s.sentAt,
			"ageSeconds": int64(s.age / time.Second), "waiting": msgID, "waitingCode": code, "fix": "medgate replay " + s.id})
		if err := h.Publish(ctx, sdk.Event{ID: Name + "/" + c.code + "/revocation-stale/" + s.id, Type: "workinjury.revocation.stale", Key: s.id,
			Payload: payload, OccurredAt: a.now(), Headers: map[string]string{"workinjury-code": s.code}}); err != nil {
			a.log.Warn("cannot publish the stale-revocation event; it is tried again on the next attempt", "replay", s.id, "err", err)
			if err := h.Delete(ctx, key); err != nil {
				a.log.Warn("cannot release the stale-revocation claim; the event is tried again once the claim expires", "replay", s.id, "expiresIn", staleClaimLease.String(), "err", err)
			}
			continue
		}
		if _, err := casJSON(ctx, h, key, claimed, staleMark{At: a.now().UTC(), Published: true}); err != nil {
			a.log.Warn("cannot record the stale-revocation event; it may be given again once the claim expires", "replay", s.id, "expiresIn", staleClaimLease.String(), "err", err)
		}
	}
	return e.response()
}

// staleClaimLease is how long a claim on a stale revocation's ALERT whose
// event was not recorded as published (its claimant stopped in between)
// keeps other messages from giving them.
const staleClaimLease = time.Minute

// staleMark is the revstale record of a stale revocation: claimed at At by
// the message that gives its ALERT, Published once its event is. The first
// records held only the time the event was published, as a JSON string:
// such a record reads as published.
type staleMark struct {
	At        time.Time `json:"at"`
	Published bool      `json:"published,omitempty"`
}

// UnmarshalJSON reads a staleMark, or the time of a first record.
func (m *staleMark) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		m.Published = true
		return json.Unmarshal(b, &m.At)
	}
	type plain staleMark
	return json.Unmarshal(b, (*plain)(m))
}

// staleKey records that the ALERT and event of stale revocation msgID were
// given (waitResponse); it is removed once the revocation's outcome is
// known (unmarkSettling).
func staleKey(msgID string) string { return "revstale/" + msgID }

// revocationsOpen returns the revocations of visit v (the admission,
// GYR002; the settlement, GYR003) still without a known outcome, other
// than the message's own, and what they are.
func (l *lifecycle) revocationsOpen(ykc700 string, v visitState) (string, []string, error) {
	open, err := openOf(l.ctx, l.h, v.Unadmitting, l.msgID)
	if err != nil || len(open) > 0 {
		return "the admission revocation (GYR002) of visit " + ykc700, open, err
	}
	if v.SettleNo == "" {
		return "", nil, nil
	}
	var s settleState
	if _, err := getJSON(l.ctx, l.h, "settle/"+v.SettleNo, &s); err != nil {
		return "", nil, err
	}
	open, err = openOf(l.ctx, l.h, s.Revoking, l.msgID)
	return "the settlement revocation (GYR003) of settlement " + v.SettleNo + " (visit " + ykc700 + ")", open, err
}

// revocationList picks the list a GYR002 or GYR003 marks itself on: its
// state key and the list in that value.
func revocationList(code string, doc map[string]any) (string, func(v any) *[]string) {
	switch code {
	case "GYR002":
		if y := str(doc, "ykc700"); y != "" {
			return "visit/" + y, func(v any) *[]string { return &v.(*visitState).Unadmitting }
		}
	case "GYR003":
		if no := str(doc, "settle_no"); no != "" {
			return "settle/" + no, func(v any) *[]string { return &v.(*settleState).Revoking }
		}
	}
	return "", nil
}

// markRevocation marks a GYR002 on its visit, a GYR003 on its settlement,
// before it is sent; another revocation of the same marked there without a
// known outcome (one that marked itself since this one's check) fails it
// with a *revokeWaitError, nothing marked. The mark is a compare-and-set on
// the version the message's rules read (revokeChecks): a visit or
// settlement changed since – another revocation of the same accepted and
// finished meanwhile leaves no mark, only a newer version – fails it with
// a *revokeChangedError, nothing marked, and its next attempt is checked
// again. A visit or settlement that does not exist is left alone.
//
// A resend (an earlier attempt's serial never reached the national system,
// GYD053 says; the rules do not run again) finds its mark in place, made
// before that attempt was sent. One that does not stopped between
// recording its serial and marking itself (a crash, a store write failing):
// another revocation of the same may have been checked, sent and accepted
// meanwhile without waiting for it, and sending it unchecked would be
// refused as a double revocation (E6102, E7002). It fails with a
// *revokeChangedError, nothing marked, and its next attempt is checked
// again (answered invalid if already revoked).
func markRevocation(ctx context.Context, h sdk.Host, code, msgID string, doc map[string]any, resend bool) error {
	key, list := revocationList(code, doc)
	if key == "" {
		return nil
	}
	if code == "GYR002" {
		return markRevocationOn[visitState](ctx, h, key, msgID, list, "the admission revocation (GYR002) of visit "+str(doc, "ykc700"), "$.ykc700", resend)
	}
	return markRevocationOn[settleState](ctx, h, key, msgID, list, "the settlement revocation (GYR003) of settlement "+str(doc, "settle_no"), "$.settle_no", resend)
}

func markRevocationOn[T any](ctx context.Context, h sdk.Host, key, msgID string, list func(any) *[]string, what, field string, resend bool) error {
	checked := checkedVersion(ctx, key)
	for range 8 {
		var v T
		ver, err := getJSON(ctx, h, key, &v)
		if err != nil {
			return err
		}
		l := list(&v)
		if ver == 0 || slices.Contains(*l, msgID) {
			return nil
		}
		if resend {
			return &revokeChangedError{field: field, what: strings.Replace(key, "/", " ", 1), unmarked: true}
		}
		open, err := openOf(ctx, h, *l, msgID)
		if err != nil {
			return err
		}
		if len(open) > 0 {
			return &revokeWaitError{field: field, what: what, open: open, then: alreadyRevokedThen}
		}
		if checked > 0 && ver != checked {
			return &revokeChangedError{field: field, what: strings.Replace(key, "/", " ", 1)}
		}
		*l = append(*l, msgID)
		if _, err := casJSON(ctx, h, key, ver, v); errors.Is(err, sdk.ErrConflict) {
			// Read again: another revocation's mark waits, any other
			// change (with a checked version) is checked again.
			continue
		} else {
			return err
		}
	}
	return fmt.Errorf("state %s changes too often; try again", key)
}

// revokeChecks are the versions of the visits and settlements a GYR002 or
// GYR003 message's rules read (state key → version), so that its mark is
// a compare-and-set on what its check saw (markRevocation): another
// revocation of the same accepted and finished in between leaves no mark,
// only a newer version.
type revokeChecks struct {
	mu  sync.Mutex
	ver map[string]int64
}

type revokeChecksKey struct{}

// withRevokeChecks returns ctx carrying an empty revokeChecks.
func withRevokeChecks(ctx context.Context) context.Context {
	return context.WithValue(ctx, revokeChecksKey{}, &revokeChecks{ver: map[string]int64{}})
}

// noteChecked remembers, with revokeChecks in ctx, that the rules read key
// at version ver (the first read counts).
func noteChecked(ctx context.Context, key string, ver int64) {
	rc, _ := ctx.Value(revokeChecksKey{}).(*revokeChecks)
	if rc == nil || ver == 0 {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if _, ok := rc.ver[key]; !ok {
		rc.ver[key] = ver
	}
}

// checkedVersion is the version of key the rules read; 0 when they did not
// run in this attempt (a resend after GYD053 found no trace: its mark was
// in place all along).
func checkedVersion(ctx context.Context, key string) int64 {
	rc, _ := ctx.Value(revokeChecksKey{}).(*revokeChecks)
	if rc == nil {
		return 0
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.ver[key]
}

// revokeChangedError says that what a revocation revokes changed between
// its check and its mark: another revocation of the same may have been
// accepted meanwhile, so it is checked again instead of being sent.
type revokeChangedError struct {
	field, what string
	// unmarked: a resend whose mark was not in place (markRevocation).
	unmarked bool
}

func (e *revokeChangedError) Error() string {
	if e.unmarked {
		return "rule revocation-unchanged: an earlier attempt of this revocation stopped before it marked " + e.what + " (it never reached the national system), so another revocation of the same may have finished meanwhile"
	}
	return "rule revocation-unchanged: " + e.what + " changed while this revocation was being checked (another revocation of the same may have finished meanwhile)"
}

// response is the retryable failure of a revocation that is checked again,
// marked as a deliberate wait.
func (e *revokeChangedError) response() *sdk.HandleResponse {
	return sdk.Wait(sdk.Problem(e.field, "state", e.Error(),
		"its check did not count that change, so nothing was sent; medgate checks this message again by itself, with the change counted: if what it revokes was revoked meanwhile, it is answered invalid (already revoked: nothing to do)"))
}

// unmarkRevocation removes a GYR002 or GYR003 from the list it marked
// itself on (markRevocation).
func unmarkRevocation(ctx context.Context, h sdk.Host, code, msgID string, doc map[string]any) error {
	key, list := revocationList(code, doc)
	switch {
	case key == "":
		return nil
	case code == "GYR002":
		return unmarkRevocationOn[visitState](ctx, h, key, msgID, list)
	}
	return unmarkRevocationOn[settleState](ctx, h, key, msgID, list)
}

func unmarkRevocationOn[T any](ctx context.Context, h sdk.Host, key, msgID string, list func(any) *[]string) error {
	return update(ctx, h, key, func(v *T, exists bool) error {
		l := list(v)
		if !exists || !slices.Contains(*l, msgID) {
			return errSkip
		}
		*l = slices.DeleteFunc(*l, func(id string) bool { return id == msgID })
		return nil
	})
}

// alreadyRevokedThen is what happens to a revocation that waits for
// another revocation of the same.
const alreadyRevokedThen = "If that revocation was accepted, this message is answered invalid (already revoked: nothing to do); if it was refused, this message is sent."
