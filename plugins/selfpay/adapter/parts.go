package adapter

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// A stay too large for one message (the host refuses a message above
// processing.maxPayloadBytes, at most one Kafka record: about 1,000–1,800
// fee lines) is sent as a set of selfpay.upload parts under the visit's
// key, each carrying
//
//	"part": {"set": "<the HIS's id of this upload>", "no": n, "of": N}
//
// the visit and its diagnoses (the same in every part) and its share of
// the fee lines, in order. Parts 1 … N-1 are kept in the plugin's state
// (partlines/<visit>/<set>/<gen>/<no>/<chunk>, the set's record under
// parts/<visit>; see partChunkKey) and answered "part-received", nothing
// sent; part N
// assembles the stay and runs it as one selfpay.upload of every line
// (its message's workflow: batches, resume after a lost answer,
// completion, the patient's record), the checks of a whole stay
// (bkkp_sn unique, the lines adding up to medfee_sumamt) made on the
// assembled lines. The rules:
//
//   - a set begins with its part 1; a part n arrives after part n-1 (the
//     host keeps order per key): one that skips a part is refused, naming
//     the part missing, and the set waits for it;
//   - a part received again with the same content (a redelivery, or the
//     HIS sending it again under a new message id) gets the same answer;
//     with other content it is refused (rule part): a set never changes,
//     a corrected stay is a new set;
//   - every part of a set carries the same "of", visit, diagnoses and
//     reupload as its part 1, or it is refused; "no" above "of" is refused;
//   - part 1 of another set drops an unfinished set of the visit (its
//     reply says so), and a later part of the dropped set is refused
//     saying why; while the upload of a set's last part runs, another
//     set waits for it, until no attempt of that upload's message came
//     for claimLapse (lastPartGivenUp): then the new set drops it, and a
//     copy of the last part uploads the set itself (or the message,
//     replayed, resumes it), as import-pending and the replies naming the
//     set say from then on (wholeSetState);
//   - a set left unfinished is dropped partsKeep after its last part
//     (default 24h): a part arriving later is refused, saying so, and
//     import-pending shows the parts waiting until then;
//   - the last part sent again after the upload gets the upload's answer,
//     unless the upload ended otherwise than uploaded (its lines dropped)
//     or a later message changed the visit (a cancel, a 4203
//     cplt_flag=0, another upload): then part 1 of the set under a new
//     message id begins it again and a later part first is refused
//     (endedSet).

// maxParts bounds the parts of one set: the last part holds the whole
// stay in memory (20 parts: some 20,000–36,000 fee lines).
const maxParts = 20

// partChunkBytes bounds one state value of kept fee lines, well below
// the host's stateValueBytes (1 MiB by default).
const partChunkBytes = 256 << 10

// setPattern is a part's set id: it goes into state keys.
var setPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// partRef is the part field of a selfpay.upload.
type partRef struct {
	Set    string
	No, Of int
}

// partsState is a visit's set of parts, under parts/<fixmedins_mdtrt_id>.
type partsState struct {
	Set   string      `json:"set,omitempty"`
	Of    int         `json:"of,omitempty"`
	Visit string      `json:"visit,omitempty"` // hash of the visit, diagnoses and reupload of part 1
	Parts []partEntry `json:"parts,omitempty"`
	// Updated is when the last part was kept.
	Updated time.Time `json:"updated"`
	// FinalMessage is the message of the last part, whose workflow
	// uploads the stay.
	FinalMessage string `json:"finalMessage,omitempty"`
	// Final is the set's outcome once its upload ended.
	Final   *finalized   `json:"final,omitempty"`
	Dropped []droppedSet `json:"dropped,omitempty"`
	// Index is the key of the set's entry under partsopen/, by which the
	// parts-expire job finds it (partsexpire.go); removed with its lines.
	Index string `json:"index,omitempty"`
	// Gen names this beginning of the set (newGen) in the keys of its
	// kept lines, and in its partsopen/ entry; empty for a set begun
	// before generations (its lines under the keys of every beginning).
	Gen string `json:"gen,omitempty"`

	version int64
}

// partEntry is one part kept.
type partEntry struct {
	No int `json:"no"`
	// Hash is of the part's fee lines as the message carried them (a part
	// received again is the same when it hashes the same), Kept of the
	// lines as kept (the institution filled in), checked when read back.
	Hash      string    `json:"hash"`
	Kept      string    `json:"kept"`
	Lines     int       `json:"lines"`
	Chunks    int       `json:"chunks"`
	MessageID string    `json:"messageId"`
	At        time.Time `json:"at"`
}

// droppedSet is an unfinished set dropped, and why.
type droppedSet struct {
	Set string    `json:"set"`
	At  time.Time `json:"at"`
	Why string    `json:"why"`
	// Parts of Of were received when it was dropped.
	Parts int `json:"parts,omitempty"`
	Of    int `json:"of,omitempty"`
}

// maxDropped bounds the dropped sets a visit's record remembers.
const maxDropped = 10

func partsKey(mdtrtID string) string { return "parts/" + mdtrtID }

// partChunkKey is the key of chunk chunk of part no of set set of visit
// mdtrtID, begun as generation gen. A set's lines are under a prefix of
// its beginning's own: a set begun again (the same set id, once it ended
// or was dropped) writes other keys than the one before it, so removing
// what the one before left (a crash, or the parts-expire job reading the
// record before the set began again) never removes the new one's lines.
// A set begun before generations (gen "") has its lines under
// partlines/<visit>/<set>/<no>/<chunk>, no starting with 0.
func partChunkKey(mdtrtID, set, gen string, no, chunk int) string {
	if gen == "" {
		return fmt.Sprintf("partlines/%s/%s/%03d/%03d", mdtrtID, set, no, chunk)
	}
	return fmt.Sprintf("partlines/%s/%s/%s/%03d/%03d", mdtrtID, set, gen, no, chunk)
}

// newGen returns a new generation of a set's kept lines: "g" and 16 hex
// digits, so it never begins with 0 as the parts of a set kept before
// generations do (partlines/<visit>/<set>/0…).
func newGen() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "g" + hex.EncodeToString(b[:])
}

// parsePart reads and removes $.part of m; nil when there is none.
func parsePart(m map[string]any) (*partRef, sdk.Diagnostics) {
	v, ok := m["part"]
	if !ok {
		return nil, nil
	}
	delete(m, "part")
	var ds sdk.Diagnostics
	pm, isObj := v.(map[string]any)
	if !isObj {
		ds.Error("$.part", schemas.RuleType, "part must be an object", `send "part": {"set": "<your id of this upload>", "no": 1, "of": 4}, or leave it out for a stay sent in one message`)
		return nil, ds
	}
	for _, k := range sortedKeys(pm) {
		if k != "set" && k != "no" && k != "of" {
			ds.Error("$.part."+k, schemas.RuleUnknown, "part does not take this field", "send set, no and of")
		}
	}
	p := &partRef{Set: str(pm["set"])}
	if !setPattern.MatchString(p.Set) {
		ds.Error("$.part.set", "format", "part.set must be 1 to 64 letters, digits, '.', '_' or '-'",
			"give every part of one upload the same set id, and a new upload of the visit (a correction) a new one, e.g. the visit id and the time the HIS cut the stay")
	}
	num := func(k string, dst *int) bool {
		n, err := strconv.Atoi(str(pm[k]))
		if _, isNum := pm[k].(json.Number); !isNum || err != nil {
			ds.Error("$.part."+k, schemas.RuleType, "part."+k+" must be a whole number", fmt.Sprintf("write a number from 1 to %d", maxParts))
			return false
		}
		*dst = n
		return true
	}
	okNo, okOf := num("no", &p.No), num("of", &p.Of)
	if okOf && (p.Of < 1 || p.Of > maxParts) {
		ds.Error("$.part.of", "range", fmt.Sprintf("a set of %d parts", p.Of),
			fmt.Sprintf("a set has 1 to %d parts; cut the stay's fee lines into fewer, larger parts (each message up to processing.maxPayloadBytes)", maxParts))
	}
	if okNo && okOf && (p.No < 1 || p.No > p.Of) {
		ds.Error("$.part.no", "range", fmt.Sprintf("part %d of %d", p.No, p.Of),
			fmt.Sprintf("no counts the parts from 1 to of (%d); a part after the last one is never part of the set: send a new set with every part", p.Of))
	}
	if ds.HasError() {
		return nil, ds
	}
	return p, nil
}

// hashJSON is the SHA-256 of v as JSON (maps in key order, numbers as
// written): two parts of the same content hash the same.
func hashJSON(v any) string {
	b, _ := json.Marshal(v)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// partProblem is an invalid answer to a part, rule part.
func partProblem(field, summary, detail string) *sdk.HandleResponse {
	return sdk.Invalid(sdk.Diagnostic{Field: field, Rule: "part", Summary: summary, Detail: detail})
}

// uploadPart handles a selfpay.upload carrying part p (see above).
func (r *run) uploadPart(ctx context.Context, m map[string]any, p *partRef) (*sdk.HandleResponse, error) {
	reupload, _ := m["reupload"].(bool)
	visitHash := hashJSON(map[string]any{nodeMdtrt: m[nodeMdtrt], nodeDiags: m[nodeDiags], "reupload": reupload})
	partHash := hashJSON(m[nodeFees])
	in, ds := r.validateUpload(m, false)
	if ds.HasError() {
		return r.refuse(ctx, ds)
	}
	st, err := r.loadParts(ctx, in.mdtrtID)
	if err != nil {
		return nil, err
	}
	now := r.a.now().UTC()
	if st.Set != "" && st.Final == nil && st.FinalMessage == "" && now.Sub(st.Updated) > r.s.opts.partsKeep {
		why := fmt.Sprintf("no part of it arrived for more than partsKeep (%s) after part %d of %d (at %s)", r.s.opts.partsKeep, len(st.Parts), st.Of, shownTime(st.Updated))
		if err := r.dropSet(ctx, in.mdtrtID, st, now, why); err != nil {
			return nil, err
		}
	}
	var notes sdk.Diagnostics
	again, err := r.endedSet(ctx, in.mdtrtID, st, p)
	if err != nil {
		return nil, err
	}
	if again != "" {
		if p.No != 1 {
			return partProblem("$.part.no", fmt.Sprintf("set %s of visit %s ended; part %d of it begins nothing", p.Set, in.mdtrtID, p.No),
				fmt.Sprintf("%s; nothing was kept or sent. To upload the stay again, send the set again from its part 1 (the same set id or a new one), every part", again)), nil
		}
		notes.Warn("$.part.set", "part", fmt.Sprintf("set %s of visit %s begins again", p.Set, in.mdtrtID),
			again+"; this part 1 begins the set again, and its last part uploads the stay again")
	}
	if st.Set != p.Set || again != "" {
		if p.No != 1 {
			detail := fmt.Sprintf("a set begins with its part 1, and part 1 of set %s of visit %s was never received%s; nothing was kept or sent. Send the set's parts in order from part 1, under the visit's key",
				p.Set, in.mdtrtID, r.partsInProgress(ctx, in.mdtrtID, st))
			for _, d := range st.Dropped {
				if d.Set == p.Set {
					detail = fmt.Sprintf("set %s of visit %s was dropped at %s: %s; nothing was kept or sent. Send the stay again from part 1, as a new set (a new part.set)",
						p.Set, in.mdtrtID, shownTime(d.At), d.Why)
				}
			}
			return partProblem("$.part.no", fmt.Sprintf("part %d of set %s arrived without part 1 of set %s", p.No, p.Set, p.Set), detail), nil
		}
		if !in.reupload {
			// Refused now rather than once every part is in: the upload of
			// the last part would be (runUpload).
			pr, err := r.patient(ctx, in.mdtrtID)
			if err != nil {
				return nil, err
			}
			if pr != nil && pr.Status == statusUploaded {
				return sdk.Invalid(sdk.Diagnostic{Field: "$." + nodeMdtrt + ".fixmedins_mdtrt_id", Rule: "state", Summary: "this visit is already uploaded and complete",
					Detail: fmt.Sprintf("message %s completed it at %s; nothing was kept or sent. Send selfpay.cancel first, or send the set with \"reupload\": true in every part to withdraw the completion and upload again", pr.MessageID, shownTime(pr.UpdatedAt))}), nil
			}
		}
		if err := r.setEnded(ctx, in.mdtrtID, st, now); err != nil {
			return nil, err
		}
		if st.Set != "" && st.Final == nil {
			why := fmt.Sprintf("set %s began (message %s) before it was whole", p.Set, r.req.MessageID)
			if st.FinalMessage != "" {
				gone, err := r.lastPartGivenUp(ctx, in.mdtrtID, st, now)
				if err != nil {
					return nil, err
				}
				if gone == "" {
					return sdk.Wait(sdk.Problem("$.part.set", "state",
						fmt.Sprintf("the upload of set %s of visit %s runs under message %s", st.Set, in.mdtrtID, st.FinalMessage),
						fmt.Sprintf("set %s begins once it is done, or once no attempt of message %s came for claimLapse (%s); nothing was kept or sent and medgate tries this message again by itself",
							p.Set, st.FinalMessage, r.s.opts.claimLapse))), nil
				}
				why = fmt.Sprintf("%s; set %s began (message %s), whose upload deletes what set %s left on the platform (4204) before sending its own lines", gone, p.Set, r.req.MessageID, st.Set)
			}
			notes.Warn("$.part.set", "part", fmt.Sprintf("set %s of visit %s, unfinished, was dropped", st.Set, in.mdtrtID),
				fmt.Sprintf("parts 1–%d of %d of set %s were received (the last at %s); %s. Its later parts are refused", len(st.Parts), st.Of, st.Set, shownTime(st.Updated), why))
			if err := r.dropSet(ctx, in.mdtrtID, st, now, why); err != nil {
				return nil, err
			}
		} else if st.Set != "" {
			r.deleteChunks(ctx, in.mdtrtID, st) // left by a crash after the set ended
		}
		kept := st.Dropped[:0:0]
		for _, d := range st.Dropped {
			if d.Set != p.Set {
				kept = append(kept, d)
			}
		}
		*st = partsState{Set: p.Set, Of: p.Of, Visit: visitHash, Dropped: kept, Updated: now, Gen: newGen(), version: st.version}
	}
	switch {
	case p.Of != st.Of:
		return partProblem("$.part.of", fmt.Sprintf("part %d of set %s says of %d", p.No, p.Set, p.Of),
			fmt.Sprintf("set %s of visit %s was begun with %d parts (of %d in its part 1); nothing was kept or sent. Every part of a set carries the same of: send the stay as a new set if it was cut otherwise",
				p.Set, in.mdtrtID, st.Of, st.Of)), nil
	case visitHash != st.Visit:
		return partProblem("$."+nodeMdtrt, fmt.Sprintf("part %d of set %s carries another visit, diagnoses or reupload than its part 1", p.No, p.Set),
			fmt.Sprintf("every part of set %s of visit %s carries the same ownPayPatnMdtrtD, ownPayPatnDiagListD and reupload as its part 1; nothing was kept or sent. "+
				"Parts of two uploads may be mixed: send the stay as a new set (a new part.set), every part alike", p.Set, in.mdtrtID)), nil
	case p.No <= len(st.Parts):
		e := st.Parts[p.No-1]
		if e.Hash != partHash {
			return partProblem("$."+nodeFees, fmt.Sprintf("part %d of set %s was received already, with other fee lines", p.No, p.Set),
				fmt.Sprintf("message %s brought part %d of set %s of visit %s at %s with %d other fee lines; a set never changes, so nothing was kept or sent. "+
					"To correct the stay, send it again as a new set (a new part.set) with every part", e.MessageID, p.No, p.Set, in.mdtrtID, shownTime(e.At), e.Lines)), nil
		}
		if p.No < st.Of {
			return r.partReceived(in.mdtrtID, st, p.No, nil), nil
		}
		return r.lastPart(ctx, st, in)
	case p.No > len(st.Parts)+1:
		return partProblem("$.part.no", fmt.Sprintf("part %d of set %s arrived, but part %d is missing", p.No, p.Set, len(st.Parts)+1),
			fmt.Sprintf("parts 1–%d of %d of set %s of visit %s were received; parts arrive in order under the visit's key, so part %d was not sent. Nothing was kept or sent: "+
				"send part %d, then the parts after it", len(st.Parts), st.Of, p.Set, in.mdtrtID, len(st.Parts)+1, len(st.Parts)+1)), nil
	}
	entry := ""
	if st.Index == "" {
		if err := r.indexSet(ctx, in.mdtrtID, st, now); err != nil {
			return nil, err
		}
		entry = st.Index
	}
	chunks, err := r.keepChunks(ctx, in.mdtrtID, st.Gen, p, in.fees)
	if err != nil {
		return nil, err
	}
	st.Parts = append(st.Parts, partEntry{No: p.No, Hash: partHash, Kept: hashJSON(in.fees), Lines: len(in.fees), Chunks: chunks, MessageID: r.req.MessageID, At: now})
	st.Updated = now
	if p.No == st.Of {
		st.FinalMessage = r.req.MessageID
	}
	if err := r.saveParts(ctx, in.mdtrtID, st); err != nil {
		if errors.Is(err, sdk.ErrConflict) {
			r.unkeepPart(ctx, in.mdtrtID, st, p.No, chunks, entry)
		}
		return nil, err
	}
	if p.No < st.Of {
		r.a.log.Info("self-pay upload part kept", "site", r.s.code, "message", r.req.MessageID, "visit", in.mdtrtID, "set", p.Set, "part", p.No, "of", p.Of, "lines", len(in.fees))
		return withWarnings(r.partReceived(in.mdtrtID, st, p.No, notes), ds), nil
	}
	resp, err := r.lastPart(ctx, st, in)
	if resp != nil {
		resp.Diagnostics = append(notes, resp.Diagnostics...)
	}
	return resp, err
}

// endedSet says why set p, whose outcome is stored, begins again at its
// part 1 ("" when it does not, or p is not that set): its upload ended
// otherwise than uploaded (refused, failed for staff, its parts refused
// whole), its kept lines dropped with it; or it was uploaded whole and a
// message after that changed the visit (selfpay.cancel, a single 4203
// cplt_flag=0, another upload), so that its stored answer, uploaded, is
// no longer what the platform holds. A part received again under its own
// message id still gets the set's answer (the same message).
func (r *run) endedSet(ctx context.Context, mdtrtID string, st *partsState, p *partRef) (string, error) {
	if st.Set != p.Set || st.Final == nil {
		return "", nil
	}
	if p.No <= len(st.Parts) && st.Parts[p.No-1].MessageID == r.req.MessageID {
		return "", nil
	}
	if st.Final.Status != sdk.StatusOK {
		return fmt.Sprintf("the upload of set %s by message %s, its last part, ended %s, and the set's kept lines were dropped", st.Set, st.FinalMessage, st.Final.Status), nil
	}
	pr, err := r.patient(ctx, mdtrtID)
	if err != nil || pr == nil || pr.MessageID == st.FinalMessage {
		return "", err
	}
	return fmt.Sprintf("message %s uploaded set %s whole, and message %s changed the visit since (at %s, now %s)",
		st.FinalMessage, st.Set, pr.MessageID, shownTime(pr.UpdatedAt), pr.Status), nil
}

// partsInProgress describes a visit's set of parts for a reply ("" none).
func (r *run) partsInProgress(ctx context.Context, mdtrtID string, st *partsState) string {
	switch {
	case st.Set == "":
		return ""
	case st.Final != nil:
		return fmt.Sprintf(" (the visit's last set, %s, was uploaded whole by message %s)", st.Set, st.FinalMessage)
	case st.FinalMessage != "":
		state, _, err := r.wholeSetState(ctx, mdtrtID, st)
		if err != nil {
			// The refusal stands without it; the claim is read again at
			// the next message of the visit.
			return fmt.Sprintf(" (the visit's set %s is whole, its upload by message %s; whether it runs is unknown: %v)", st.Set, st.FinalMessage, err)
		}
		return " (the visit's " + state + ")"
	}
	return fmt.Sprintf(" (the visit's parts in progress are of set %s: parts 1–%d of %d received, the last at %s)", st.Set, len(st.Parts), st.Of, shownTime(st.Updated))
}

// partReceived is the answer to part no of a set, kept: the same for the
// part whenever it is received again.
func (r *run) partReceived(mdtrtID string, st *partsState, no int, notes sdk.Diagnostics) *sdk.HandleResponse {
	lines := 0
	for _, e := range st.Parts[:no] {
		lines += e.Lines
	}
	payload, _ := json.Marshal(map[string]any{
		"fixmedinsMdtrtId": mdtrtID, "operation": OpUpload, "status": "part-received",
		"set": st.Set, "part": no, "of": st.Of, "lines": st.Parts[no-1].Lines, "linesReceived": lines,
		"message": fmt.Sprintf("part %d of %d of set %s kept, nothing sent yet; the stay is uploaded when part %d arrives (unfinished parts are dropped %s after the last)",
			no, st.Of, st.Set, st.Of, r.s.opts.partsKeep),
	})
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: payload, Diagnostics: notes}
}

// lastPart uploads the stay of a set whose parts are all kept, or answers
// as its upload did.
func (r *run) lastPart(ctx context.Context, st *partsState, in *uploadInput) (*sdk.HandleResponse, error) {
	if st.Final != nil {
		return st.Final.response(), nil
	}
	var notes sdk.Diagnostics
	if st.FinalMessage != r.req.MessageID {
		// The last part sent again under another message id while the
		// first copy's upload runs: it answers as that one, once done.
		e, err := r.h.Get(ctx, wfKey(st.FinalMessage))
		if err != nil && !errors.Is(err, sdk.ErrNotFound) {
			return nil, fmt.Errorf("selfpay: read the workflow state of %s, which uploads set %s: %w", st.FinalMessage, st.Set, err)
		}
		var wf wfState
		if err == nil && json.Unmarshal(e.Value, &wf) == nil && wf.Final != nil {
			return wf.Final.response(), nil
		}
		gone, err := r.lastPartGivenUp(ctx, in.mdtrtID, st, r.a.now().UTC())
		if err != nil {
			return nil, err
		}
		if gone == "" {
			return sdk.Wait(sdk.Problem("$.part.no", "state", fmt.Sprintf("the upload of set %s of visit %s runs under message %s", st.Set, in.mdtrtID, st.FinalMessage),
				fmt.Sprintf("this copy of its last part sends nothing; medgate tries it again by itself and it then answers as that message, or uploads the stay itself once no attempt of message %s came for claimLapse (%s)",
					st.FinalMessage, r.s.opts.claimLapse))), nil
		}
		// That message is given up: this copy uploads the set.
		r.a.log.Warn("the upload of a set of self-pay parts was given up; a copy of its last part uploads it", "site", r.s.code, "message", r.req.MessageID,
			"visit", in.mdtrtID, "set", st.Set, "given up", st.FinalMessage)
		notes = sdk.Diagnostics{{Severity: sdk.SeverityWarning, Field: "$.part.no", Rule: "part",
			Summary: fmt.Sprintf("this message uploads set %s of visit %s", st.Set, in.mdtrtID),
			Detail:  gone + "; this copy of the set's last part uploads the stay, the 4204 first deleting what that message left on the platform"}}
		st.FinalMessage = r.req.MessageID
		if err := r.saveParts(ctx, in.mdtrtID, st); err != nil {
			return nil, err
		}
	}
	fees, err := r.readChunks(ctx, in.mdtrtID, st)
	if err != nil {
		return nil, err
	}
	whole := map[string]any{nodeMdtrt: in.mdtrt, nodeDiags: in.diags, nodeFees: fees}
	if in.reupload {
		whole["reupload"] = true
	}
	full, ds := r.validateUpload(whole, true)
	ds = partPaths(ds, st)
	if ds.HasError() {
		ds = append(ds, sdk.Diagnostic{Severity: sdk.SeverityError, Field: "$.part.set", Rule: "part", Summary: fmt.Sprintf("set %s is refused whole", st.Set),
			Detail: "its parts are dropped; correct the stay in the HIS and send it again as a new set (a new part.set), every part"})
		resp, err := r.refuse(ctx, ds)
		if err != nil || resp == nil {
			return resp, err
		}
		return resp, r.endSet(ctx, in.mdtrtID, st, resp)
	}
	r.parts = st
	resp, err := r.runUpload(ctx, full)
	resp = withWarnings(resp, append(notes, ds...))
	if err != nil || resp == nil || resp.Status == sdk.StatusFailed && resp.Retryable {
		return resp, err
	}
	if resp.Status != sdk.StatusOK {
		// What the upload's own reply advises (send the message again)
		// would get this answer again: the set's kept lines go with it.
		resp.Diagnostics = append(slices.Clip(resp.Diagnostics), sdk.Diagnostic{Severity: sdk.SeverityError, Field: "$.part.set", Rule: "part",
			Summary: fmt.Sprintf("set %s of visit %s ended %s, its kept parts dropped", st.Set, in.mdtrtID, resp.Status),
			Detail:  fmt.Sprintf("its last part sent again answers as now; once the cause is resolved, send the stay again from part 1 (set %s again, or a new set), every part", st.Set)})
	}
	return resp, r.endSet(ctx, in.mdtrtID, st, resp)
}

// lastPartGivenUp says why the upload of set st, begun by the message of
// its last part, is taken for given up ("" when it is not): that
// message's claim on the visit was not renewed for claimLapse, no attempt
// of it having come since (the host gave it up to the DLQ, or staff
// stopped it), as any workflow's claim lapses (claim.go). Another message
// may then upload the stay, as it may take the claim over.
func (r *run) lastPartGivenUp(ctx context.Context, mdtrtID string, st *partsState, now time.Time) (string, error) {
	e, err := r.h.Get(ctx, claimKey(mdtrtID))
	if errors.Is(err, sdk.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("selfpay: read the claim on visit %s (%s): %w", mdtrtID, claimKey(mdtrtID), err)
	}
	var c visitClaim
	if json.Unmarshal(e.Value, &c) != nil || c.MessageID != st.FinalMessage {
		return "", nil
	}
	if lapse := r.s.opts.claimLapse; now.Sub(c.Renewed) > lapse {
		return fmt.Sprintf("the upload of set %s by message %s, its last part, stopped part-way, and no attempt of that message came for more than claimLapse (%s; the last at %s)",
			st.Set, st.FinalMessage, lapse, shownTime(c.Renewed)), nil
	}
	return "", nil
}

// setEnded learns whether the upload of a whole set, begun by its last
// part's message, has ended in a way the set's record missed (its
// workflow finished while the part's checks failed, settings having
// changed between attempts): then the set takes that outcome. A last part
// whose workflow never began, partsKeep ago, is dropped.
func (r *run) setEnded(ctx context.Context, mdtrtID string, st *partsState, now time.Time) error {
	if st.Set == "" || st.Final != nil || st.FinalMessage == "" {
		return nil
	}
	e, err := r.h.Get(ctx, wfKey(st.FinalMessage))
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		if now.Sub(st.Updated) > r.s.opts.partsKeep {
			return r.dropSet(ctx, mdtrtID, st, now, fmt.Sprintf("its last part (message %s) did not begin the upload within partsKeep (%s)", st.FinalMessage, r.s.opts.partsKeep))
		}
		return nil
	case err != nil:
		return fmt.Errorf("selfpay: read the workflow state of %s, which uploads set %s: %w", st.FinalMessage, st.Set, err)
	}
	var wf wfState
	if json.Unmarshal(e.Value, &wf) != nil || wf.Final == nil {
		return nil
	}
	st.Final = wf.Final
	if err := r.saveParts(ctx, mdtrtID, st); err != nil {
		return err
	}
	r.deleteChunks(ctx, mdtrtID, st)
	return nil
}

// endSet stores a set's outcome and drops its kept lines.
func (r *run) endSet(ctx context.Context, mdtrtID string, st *partsState, resp *sdk.HandleResponse) error {
	st.Final = &finalized{Status: resp.Status, Payload: resp.Payload, External: resp.External, Diagnostics: resp.Diagnostics}
	if err := r.saveParts(ctx, mdtrtID, st); err != nil {
		return err
	}
	r.deleteChunks(ctx, mdtrtID, st)
	return nil
}

// partPaths names the part, and the line's index in it, in diagnostics
// of the assembled stay's fee lines (the path, and the other line a
// repeated bkkp_sn names).
func partPaths(ds sdk.Diagnostics, st *partsState) sdk.Diagnostics {
	locate := func(n int) (no, line int, ok bool) {
		for _, e := range st.Parts {
			if n < e.Lines {
				return e.No, n, true
			}
			n -= e.Lines
		}
		return 0, 0, false
	}
	prefix := "$." + nodeFees + "["
	out := make(sdk.Diagnostics, 0, len(ds))
	for _, d := range ds {
		if rest, ok := strings.CutPrefix(d.Field, prefix); ok {
			if i, tail, ok := strings.Cut(rest, "]"); ok {
				if n, err := strconv.Atoi(i); err == nil {
					if no, line, ok := locate(n); ok {
						d.Field = fmt.Sprintf("%s%d]%s", prefix, line, tail)
						d.Summary = fmt.Sprintf("part %d of %d: %s", no, st.Of, d.Summary)
					}
				}
			}
		}
		d.Detail = alsoLine.ReplaceAllStringFunc(d.Detail, func(m string) string {
			n, _ := strconv.Atoi(alsoLine.FindStringSubmatch(m)[1])
			if no, line, ok := locate(n); ok {
				return fmt.Sprintf("is also line %d of part %d;", line, no)
			}
			return m
		})
		out = append(out, d)
	}
	return out
}

// alsoLine is how feeRules names the other line of a repeated bkkp_sn.
var alsoLine = regexp.MustCompile(`is also line (\d+);`)

// loadParts returns a visit's set of parts (empty when there is none).
func (r *run) loadParts(ctx context.Context, mdtrtID string) (*partsState, error) {
	e, err := r.h.Get(ctx, partsKey(mdtrtID))
	if errors.Is(err, sdk.ErrNotFound) {
		return &partsState{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("selfpay: read the parts of visit %s: %w", mdtrtID, err)
	}
	var st partsState
	if err := json.Unmarshal(e.Value, &st); err != nil {
		return nil, fmt.Errorf("selfpay: the parts record of visit %s is unreadable: %w; delete key %s and send the stay again from part 1", mdtrtID, err, partsKey(mdtrtID))
	}
	st.version = e.Version
	return &st, nil
}

// saveParts writes a visit's set of parts with compare-and-set.
func (r *run) saveParts(ctx context.Context, mdtrtID string, st *partsState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("selfpay: encode the parts of visit %s: %w", mdtrtID, err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	v, err := r.h.CompareAndSet(sctx, partsKey(mdtrtID), st.version, b)
	if errors.Is(err, sdk.ErrConflict) {
		return fmt.Errorf("selfpay: the parts of visit %s changed meanwhile (another medgate instance handles a part of it); the message is tried again: %w", mdtrtID, err)
	}
	if err != nil {
		return fmt.Errorf("selfpay: store the parts of visit %s: %w", mdtrtID, err)
	}
	st.version = v
	return nil
}

// dropSet drops a visit's unfinished set, remembering why.
func (r *run) dropSet(ctx context.Context, mdtrtID string, st *partsState, now time.Time, why string) error {
	r.a.log.Warn("an unfinished set of self-pay upload parts is dropped", "site", r.s.code, "message", r.req.MessageID, "visit", mdtrtID,
		"set", st.Set, "parts", len(st.Parts), "of", st.Of, "why", why)
	old := *st
	dropped := append(st.Dropped, droppedSet{Set: st.Set, At: now, Why: why, Parts: len(st.Parts), Of: st.Of})
	if len(dropped) > maxDropped {
		dropped = dropped[len(dropped)-maxDropped:]
	}
	*st = partsState{Dropped: dropped, Updated: now, version: st.version}
	if err := r.saveParts(ctx, mdtrtID, st); err != nil {
		return err
	}
	r.deleteChunks(ctx, mdtrtID, &old)
	return nil
}

// keepChunks stores the fee lines of part p of generation gen in values
// of at most partChunkBytes and returns how many.
func (r *run) keepChunks(ctx context.Context, mdtrtID, gen string, p *partRef, fees []any) (int, error) {
	var buf bytes.Buffer
	n := 0
	flush := func() error {
		buf.WriteByte(']')
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		key := partChunkKey(mdtrtID, p.Set, gen, p.No, n)
		if _, err := r.h.Put(pctx, key, buf.Bytes()); err != nil {
			if errors.Is(err, sdk.ErrTooLarge) {
				return fmt.Errorf("selfpay: keep part %d of set %s of visit %s (%s): %w; raise the host's pluginLimits stateValueBytes to at least %d", p.No, p.Set, mdtrtID, key, err, partChunkBytes)
			}
			return fmt.Errorf("selfpay: keep part %d of set %s of visit %s (%s): %w", p.No, p.Set, mdtrtID, key, err)
		}
		n++
		buf.Reset()
		return nil
	}
	for _, f := range fees {
		b, err := json.Marshal(f)
		if err != nil {
			return 0, fmt.Errorf("selfpay: encode a fee line of part %d: %w", p.No, err)
		}
		if buf.Len() > 0 && buf.Len()+len(b)+2 > partChunkBytes {
			if err := flush(); err != nil {
				return 0, err
			}
		}
		if buf.Len() == 0 {
			buf.WriteByte('[')
		} else {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	if buf.Len() > 0 {
		if err := flush(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// readChunks returns every fee line of a set's parts, in order.
func (r *run) readChunks(ctx context.Context, mdtrtID string, st *partsState) ([]any, error) {
	var fees []any
	for _, e := range st.Parts {
		var part []any
		for c := range e.Chunks {
			key := partChunkKey(mdtrtID, st.Set, st.Gen, e.No, c)
			v, err := r.h.Get(ctx, key)
			if err != nil {
				return nil, fmt.Errorf("selfpay: read part %d of set %s of visit %s (%s): %w; if it is gone, send the stay again as a new set", e.No, st.Set, mdtrtID, key, err)
			}
			var lines []any
			if err := decodeRecord(v.Value, &lines); err != nil {
				return nil, fmt.Errorf("selfpay: part %d of set %s of visit %s (%s) is unreadable: %w; send the stay again as a new set", e.No, st.Set, mdtrtID, key, err)
			}
			part = append(part, lines...)
		}
		if len(part) != e.Lines || hashJSON(part) != e.Kept {
			return nil, fmt.Errorf("selfpay: part %d of set %s of visit %s reads back as %d fee lines other than the %d kept; send the stay again as a new set", e.No, st.Set, mdtrtID, len(part), e.Lines)
		}
		fees = append(fees, part...)
	}
	return fees, nil
}

// deleteChunks removes the kept fee lines of a set, then its partsopen/
// entry; one left behind (a crash, a failed delete) is logged, and the
// parts-expire job removes it.
func (r *run) deleteChunks(ctx context.Context, mdtrtID string, st *partsState) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	failed := false
	for _, e := range st.Parts {
		for c := range e.Chunks {
			if err := r.h.Delete(dctx, partChunkKey(mdtrtID, st.Set, st.Gen, e.No, c)); err != nil {
				failed = true
				r.a.log.Warn("cannot delete kept fee lines of a set of parts; the parts-expire job removes them", "site", r.s.code, "visit", mdtrtID, "set", st.Set, "part", e.No, "err", err)
			}
		}
	}
	if failed || st.Index == "" {
		return
	}
	if err := r.h.Delete(dctx, st.Index); err != nil {
		r.a.log.Warn("cannot delete the entry of an ended set of parts; the parts-expire job removes it", "site", r.s.code, "visit", mdtrtID, "set", st.Set, "key", st.Index, "err", err)
	}
}

// unkeepPart removes the chunks part no of set st kept (and the set's
// partsopen/ entry, when this attempt wrote it: entry) once storing the
// set's record lost its compare-and-set: the record changed since it was
// read, by the parts-expire job or another part's message dropping or
// replacing the set. The one that changed it removed the lines its record
// named, which these chunks were not yet, and maybe before they were
// written; and the set's entry with them: so no one else ever would.
// Unless the record read now holds the part of the same beginning of the
// set (another instance stored it: its chunks are these keys). A set begun before generations shares its keys with
// any other beginning of it: its chunks are left, as before.
func (r *run) unkeepPart(ctx context.Context, mdtrtID string, st *partsState, no, chunks int, entry string) {
	if st.Gen == "" {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	cur, err := r.loadParts(dctx, mdtrtID)
	if err != nil {
		r.a.log.Warn("cannot tell whether a part's kept lines are its set's after its record changed meanwhile; the parts-expire job removes them with the set", "site", r.s.code,
			"message", r.req.MessageID, "visit", mdtrtID, "set", st.Set, "part", no, "err", err)
		return
	}
	if cur.Set == st.Set && cur.Gen == st.Gen && cur.Final == nil && len(cur.Parts) >= no {
		return
	}
	for c := range chunks {
		if err := r.h.Delete(dctx, partChunkKey(mdtrtID, st.Set, st.Gen, no, c)); err != nil {
			r.a.log.Warn("cannot delete the kept lines of a part whose set's record changed meanwhile; the parts-expire job removes them", "site", r.s.code,
				"message", r.req.MessageID, "visit", mdtrtID, "set", st.Set, "part", no, "err", err)
			return
		}
	}
	if entry != "" && cur.Index != entry {
		if err := r.h.Delete(dctx, entry); err != nil {
			r.a.log.Warn("cannot delete the entry of a set whose record changed meanwhile; the parts-expire job removes it", "site", r.s.code,
				"message", r.req.MessageID, "visit", mdtrtID, "set", st.Set, "key", entry, "err", err)
		}
	}
}

// partsKind is what partsNote tells of a visit's set of parts.
type partsKind int

const (
	partsNone    partsKind = iota // no set in progress (one dropped, maybe)
	partsSending                  // parts kept, or the whole set uploading
	partsGivenUp                  // the whole set's upload given up (lastPartGivenUp)
)

// partsNote tells import-pending of a visit's set of parts in progress,
// or of its last set, dropped unfinished after since ("" neither).
func (r *run) partsNote(ctx context.Context, mdtrtID string, since time.Time) (note string, kind partsKind, err error) {
	st, err := r.loadParts(ctx, mdtrtID)
	if err != nil || st.Final != nil {
		return "", partsNone, err
	}
	if st.Set == "" {
		if len(st.Dropped) == 0 {
			return "", partsNone, nil
		}
		d := st.Dropped[len(st.Dropped)-1]
		if !d.At.After(since) {
			return "", partsNone, nil
		}
		got := ""
		if d.Of > 0 && d.Parts > 0 {
			got = fmt.Sprintf(" (part %s of %d received)", partSpan(d.Parts), d.Of)
		}
		return fmt.Sprintf("; set %s%s was dropped unfinished at %s: %s. Send the stay again from part 1, as a new set",
			d.Set, got, shownTime(d.At), d.Why), partsNone, nil
	}
	if st.FinalMessage != "" {
		state, gone, err := r.wholeSetState(ctx, mdtrtID, st)
		if err != nil {
			return "", partsNone, err
		}
		if gone {
			return "; " + state, partsGivenUp, nil
		}
		return "; " + state, partsSending, nil
	}
	until := st.Updated.Add(r.s.opts.partsKeep)
	if r.a.now().After(until) {
		return fmt.Sprintf("; parts 1–%d of %d of set %s were received, the last at %s, and are dropped (partsKeep %s): send the stay again from part 1",
			len(st.Parts), st.Of, st.Set, shownTime(st.Updated), r.s.opts.partsKeep), partsSending, nil
	}
	return fmt.Sprintf("; part %s of %d of set %s received, the last at %s: the stay is uploaded when part %d arrives, and the parts are dropped if none arrives by %s (partsKeep)",
		partSpan(len(st.Parts)), st.Of, st.Set, shownTime(st.Updated), st.Of, shownTime(until)), partsSending, nil
}

// wholeSetState says how the upload of whole set st (its last part's
// message, st.FinalMessage, uploads it) stands: running, or given up
// (gone; lastPartGivenUp) and what the user does then. The two ways the
// plugin takes a given-up upload up again: the last part sent again under
// a new message id uploads the set itself (lastPart), or the message
// replayed (it is failed in medgate) resumes its own upload.
func (r *run) wholeSetState(ctx context.Context, mdtrtID string, st *partsState) (state string, gone bool, err error) {
	why, err := r.lastPartGivenUp(ctx, mdtrtID, st, r.a.now().UTC())
	if err != nil {
		return "", false, err
	}
	if why == "" {
		return fmt.Sprintf("set %s of %d parts is whole and its upload runs (message %s)", st.Set, st.Of, st.FinalMessage), false, nil
	}
	return fmt.Sprintf("set %s of %d parts is whole, but its upload was given up: %s. To upload the stay, send part %d of set %s again under a new message id: "+
		"it uploads the set, its 4204 first deleting what message %s left on the platform; or, if message %s is failed in medgate (the DLQ), replay it (`medgate replay %s`), which resumes its upload",
		st.Set, st.Of, why, st.Of, st.Set, st.FinalMessage, st.FinalMessage, st.FinalMessage), true, nil
}

func partSpan(n int) string {
	if n == 1 {
		return "1"
	}
	return "1–" + strconv.Itoa(n)
}
