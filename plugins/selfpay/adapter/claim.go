package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// One workflow per visit. The host orders messages per Kafka key only, so
// an upload and a cancel (or two uploads) of one visit sent under
// different keys may be handled at once; their 4204 delete-all, 4201A
// batches and 4203 completion or withdrawal would interleave at the
// platform and leave the visit inconsistent there. So a selfpay.upload or
// selfpay.cancel claims its visit, claim/<fixmedins_mdtrt_id>, with
// compare-and-set before its first platform call (and renews the claim on
// every attempt); a workflow of a visit claimed by another message in
// progress sends nothing and waits – retryably and as a deliberate wait
// (sdk.Wait), as the work-injury plugin's GYU003 waits for its month
// (plugins/workinjury/adapter/monthwait.go), since the condition resolves
// by itself. Every operation that can wait is declared an upload
// (adapter.go): the host counts a wait as an attempt and would give any
// other message up after processing.maxAttempts, to the DLQ, while an
// upload it never gives up. The claim is released when the workflow ends, whatever its
// outcome. A claim left behind (a crash in between, a message given up
// on) is recognised as its message's own record (wf/<id>) being done or
// absent – the record is written before the claim – or as no attempt of
// it having renewed the claim for the site's claimLapse (settings.go), and
// then holds nothing back. A workflow in progress renews its claim on
// every attempt, and the host retries it well within that; the plugin
// cannot see the host's retry timing (nor its uploadDeadline, whose
// default the 30-minute default lapse is), so the lapse is a setting.

// visitClaim is the value of claim/<fixmedins_mdtrt_id>; MessageID is
// empty once released.
type visitClaim struct {
	MessageID string    `json:"messageId,omitempty"`
	Op        string    `json:"op,omitempty"`
	Since     time.Time `json:"since"`
	Renewed   time.Time `json:"renewed"`
}

func claimKey(mdtrtID string) string { return "claim/" + mdtrtID }

// claim claims visit id for this message, field being the visit's path in
// the payload. It returns a wait response when another message's workflow
// of the visit is in progress, nil once the claim is this message's.
func (r *run) claim(ctx context.Context, op, id, field string) (*sdk.HandleResponse, error) {
	key := claimKey(id)
	now := r.a.now().UTC()
	var cur visitClaim
	var ver int64
	e, err := r.h.Get(ctx, key)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("selfpay: read the claim on visit %s (%s): %w", id, key, err)
	default:
		ver = e.Version
		if json.Unmarshal(e.Value, &cur) != nil {
			r.a.log.Warn("an unreadable claim on a visit is overwritten", "site", r.s.code, "message", r.req.MessageID, "visit", id, "key", key)
			cur = visitClaim{}
		}
	}
	next := visitClaim{MessageID: r.req.MessageID, Op: op, Since: now, Renewed: now}
	switch cur.MessageID {
	case "":
	case r.req.MessageID:
		next.Since = cur.Since
	default:
		why, err := r.claimStale(ctx, cur, now)
		if err != nil {
			return nil, err
		}
		if why == "" {
			r.a.log.Info("self-pay workflow waits for another workflow of its visit", "site", r.s.code, "message", r.req.MessageID, "visit", id, "holder", cur.MessageID)
			return claimWait(id, field, cur, r.s.opts.claimLapse), nil
		}
		r.a.log.Warn("a stale claim on a visit is taken over", "site", r.s.code, "message", r.req.MessageID, "visit", id, "holder", cur.MessageID, "why", why)
	}
	b, err := json.Marshal(next)
	if err != nil {
		return nil, fmt.Errorf("selfpay: encode the claim on visit %s: %w", id, err)
	}
	if _, err := r.h.CompareAndSet(ctx, key, ver, b); errors.Is(err, sdk.ErrConflict) {
		return sdk.Wait(sdk.Problem(field, "state",
			fmt.Sprintf("visit %s was claimed by another message while message %s claimed it", id, r.req.MessageID),
			"one self-pay workflow runs per visit at a time; nothing was sent and medgate tries this message again by itself")), nil
	} else if err != nil {
		return nil, fmt.Errorf("selfpay: store the claim on visit %s (%s): %w", id, key, err)
	}
	r.claimed = id
	return nil, nil
}

// claimStale tells why a claim of another message no longer holds ("":
// it holds): no renewal for the site's claimLapse, or its message's
// workflow state absent or finished.
func (r *run) claimStale(ctx context.Context, c visitClaim, now time.Time) (string, error) {
	if lapse := r.s.opts.claimLapse; now.Sub(c.Renewed) > lapse {
		return fmt.Sprintf("not renewed for %s (more than claimLapse %s)", now.Sub(c.Renewed).Round(time.Second), lapse), nil
	}
	e, err := r.h.Get(ctx, wfKey(c.MessageID))
	if errors.Is(err, sdk.ErrNotFound) {
		return "its message's workflow state is absent", nil
	}
	if err != nil {
		return "", fmt.Errorf("selfpay: read the workflow state of %s, which claims the visit: %w", c.MessageID, err)
	}
	var st wfState
	if json.Unmarshal(e.Value, &st) == nil && st.Final != nil {
		return "its message's workflow is finished", nil
	}
	// Unreadable or in progress: it holds until it lapses.
	return "", nil
}

// claimWait is the deliberate wait of a workflow whose visit c holds;
// the claim lapses lapse after its last renewal.
func claimWait(id, field string, c visitClaim, lapse time.Duration) *sdk.HandleResponse {
	return sdk.Wait(sdk.Problem(field, "state",
		fmt.Sprintf("rule one-workflow-per-visit: visit %s is being handled by message %s (selfpay.%s), in progress since %s",
			id, c.MessageID, c.Op, c.Since.Format(time.RFC3339)),
		fmt.Sprintf("their 4204, 4201A and 4203 calls must not interleave at the platform, so nothing was sent and medgate tries this message again by itself once message %s is done; "+
			"if that message is in the DLQ, replay it or let its claim lapse (claimLapse %s after its last attempt, at %s)",
			c.MessageID, lapse, c.Renewed.Add(lapse).Format(time.RFC3339))))
}

// releaseClaim releases the claim of this message on visit id, if it
// holds it, by compare-and-set: a claim taken over meanwhile is left
// alone. A claim it cannot release is harmless once the message's record
// is done, and lapses after the site's claimLapse otherwise.
func (r *run) releaseClaim(ctx context.Context, id string) {
	key := claimKey(id)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	e, err := r.h.Get(cctx, key)
	if errors.Is(err, sdk.ErrNotFound) {
		return
	}
	var cur visitClaim
	if err == nil && (json.Unmarshal(e.Value, &cur) != nil || cur.MessageID != r.req.MessageID) {
		return
	}
	if err == nil {
		b, _ := json.Marshal(visitClaim{Since: cur.Since, Renewed: r.a.now().UTC()})
		_, err = r.h.CompareAndSet(cctx, key, e.Version, b)
	}
	if err != nil && !errors.Is(err, sdk.ErrConflict) {
		r.a.log.Warn("cannot release a workflow's claim on its visit; it is ignored once the workflow's record is done, or lapses", "site", r.s.code,
			"message", r.req.MessageID, "visit", id, "key", key, "err", err)
	}
}

// settleClaim releases the visit claimed in this attempt (or found
// claimed by this message) once the workflow's outcome is final: not an
// error and not a retryable failure, after which it resumes.
func (r *run) settleClaim(ctx context.Context, resp *sdk.HandleResponse, err error) {
	if r.claimed == "" || err != nil || resp == nil || resp.Status == sdk.StatusFailed && resp.Retryable {
		return
	}
	r.releaseClaim(ctx, r.claimed)
}
