package adapter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/pii"
	"github.com/medgate/medgate/schemas"
)

// The download workflow (DESIGN.md guarantee 4) for GYD001, GYD006 and
// GYD009, one batch at a time:
//
//	fetching  the serial of the download call is stored, then the call is made
//	stored    the batch (≤500 records) is stored in host state
//	          each record is published as an event with a stable id; the
//	          count of published records is stored after each one
//	feedback  GYU008 acknowledges the batch (per-record result flags); its
//	          serial is stored before it is sent
//	done      the batch number becomes the incremental cursor
//
// Every step is stored before the next begins, so a crash anywhere resumes
// at the stored step: a lost download reply is found with GYD008 and asked
// for again with GYR005 (the national system refuses a new download while a
// batch is unacknowledged); a feedback whose outcome is unknown is
// reconciled with GYD053 before any resend; a refused feedback of a batch
// GYD008 no longer lists (acknowledged some other way) closes the batch;
// records already published are not published again. A record that cannot
// be delivered (invalid, or its attachment cannot be fetched) is fed back
// as failed, so that the national system offers it again in a later batch.

// Workflow steps.
const (
	stepIdle     = ""
	stepFetching = "fetching"
	stepStored   = "stored"
	stepFeedback = "feedback"
	stepDone     = "done"
)

// dlState is the stored workflow of one download transaction.
type dlState struct {
	Code        string         `json:"code"`
	Step        string         `json:"step"`
	Input       map[string]any `json:"input,omitempty"`
	FetchSerial string         `json:"fetchSerial,omitempty"`
	FetchDate   string         `json:"fetchDate,omitempty"`
	BatchNo     string         `json:"batchNo,omitempty"`
	HasMore     bool           `json:"hasMore,omitempty"`
	// Records are the records of the batch, read from the chunks
	// (loadRecords) or from Inline; never written with the state.
	Records []json.RawMessage `json:"-"`
	// Inline holds the records in a state written before batches were
	// kept in chunks; nil for a batch stored since.
	Inline []json.RawMessage `json:"records,omitempty"`
	// ChunkPrefix, Chunks and RecordCount say where the stored batch is:
	// the key prefix of its chunks (dl/<code>/batch/<fetch serial>/), the
	// index of the first record of each chunk (its key is the prefix and
	// the index), and how many records they hold in all (batchstore.go).
	ChunkPrefix string `json:"chunkPrefix,omitempty"`
	Chunks      []int  `json:"chunks,omitempty"`
	RecordCount int    `json:"recordCount,omitempty"`
	// Parts are the chunks of one record that the host refused as one
	// state value: the chunk's index → how many parts of the record's
	// bytes are stored under its key (putParts).
	Parts map[int]int `json:"parts,omitempty"`
	// Failed are the records of the batch that could not be delivered
	// (failureKey → reason), fixed when publishing ends and saved with the
	// step feedback by the same compare-and-set: the feedback flags exactly
	// what the run that moved the batch on published, whatever another
	// run wrote to the progress meanwhile. Nil in a state written before
	// it was kept here (the progress is read then).
	Failed map[string]string `json:"failed"`
	// FeedbackSent is true from just before GYU008 leaves until its
	// outcome is known.
	FeedbackSent   bool   `json:"feedbackSent,omitempty"`
	FeedbackSerial string `json:"feedbackSerial,omitempty"`
	FeedbackDate   string `json:"feedbackDate,omitempty"`
	// FeedbackParts is how many parts of the feedback the national system
	// accepted: a batch above the GYU008 limit (the national system broke
	// its own, 单次最多下载500条) is fed back in parts of at most that many
	// records, in the batch's order (feedbackPart); FeedbackSerial is the
	// serial of the part after them. 0 for a batch within the limit.
	FeedbackParts int    `json:"feedbackParts,omitempty"`
	LastBatchNo   string `json:"lastBatchNo,omitempty"`
	// StoredAt is when the batch was stored: its feedback is due within
	// uploadDeadline of it.
	StoredAt    time.Time `json:"storedAt,omitempty"`
	Batches     int64     `json:"batches"`
	Redownloads int64     `json:"redownloads"`
	// Redelivery is the serial of the date-range GYR005 whose re-delivery
	// the stored batch belongs to (redeliveryOf), or "": its records get
	// event ids of their own, the same whenever the batch is published.
	Redelivery string `json:"redelivery,omitempty"`
	// RedeliveryBefore is that GYR005's redelivery.Before: records of the
	// batch changed after it are new, and keep their ordinary event ids.
	RedeliveryBefore string `json:"redeliveryBefore,omitempty"`
	// RecoverBatch and RecoverRefusals count the refusals of the GYR005
	// asking again for the lost batch RecoverBatch (recoverRefused).
	RecoverBatch    string `json:"recoverBatch,omitempty"`
	RecoverRefusals int    `json:"recoverRefusals,omitempty"`
	// RecoverAlerted: workinjury.redownload.refused was published for
	// RecoverBatch.
	RecoverAlerted bool `json:"recoverAlerted,omitempty"`
	// ClaimedBy is the message (or job run) making this fetch
	// (startFetch) or that claimed it, lost, to recover it (downloadRun);
	// "" once its run gave it up with an error (releaseClaim). While the
	// step is fetching and the claim is fresh (UpdatedAt within the call
	// timeout plus fetchStaleMargin), another run waits for it
	// (*fetchClaimedError) instead of asking for the batch a second time.
	ClaimedBy string    `json:"claimedBy,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// fetchClaimedError says that another run (a message, the GYU008 job or
// a scheduled download, perhaps in another process) is making the fetch
// of a code, or claimed it, lost, a moment ago and may still be
// recovering it.
type fetchClaimedError struct {
	code, serial string
	// by is the claiming run: a message id, or job/<job>/<run>.
	by    string
	until time.Time
}

func (e *fetchClaimedError) Error() string {
	return fmt.Sprintf("the %s download (serial %s) is being fetched, or recovered after its answer was lost, by another run (%s); it is taken over as lost if nothing moves it before %s",
		e.code, e.serial, e.by, e.until.In(cst).Format(redeliveryLayout))
}

// response is the retryable failure of a message that waits for that
// recovery, marked as a deliberate wait.
func (e *fetchClaimedError) response() *sdk.HandleResponse {
	return sdk.Wait(sdk.Problem("", "state", e.Error(),
		"nothing was sent: recovering the batch twice would ask the national system for it twice; medgate tries this message again by itself and it goes on from the stored step once the recovery moved it on"))
}

// dlProgress counts the published records of the current batch.
type dlProgress struct {
	BatchNo   string            `json:"batchNo"`
	Published int               `json:"published"`
	Failed    map[string]string `json:"failed,omitempty"` // failureKey → reason
}

// dlSummary reports a download run.
type dlSummary struct {
	Code    string            `json:"download_code"`
	Batches []batchSummary    `json:"batches"`
	Records []json.RawMessage `json:"records,omitempty"` // GYD009 only
	// FollowUps are the complete re-downloads a revocation download ran
	// (GYD401 → GYD102, GYD404 → GYD004).
	FollowUps []dlSummary `json:"follow_ups,omitempty"`
	// Refused are the complete re-downloads the national system refused
	// in this run (redownloadRefused).
	Refused []refusedFollowUp `json:"refused_follow_ups,omitempty"`
	// Held says why no (further) batch was fetched although one could
	// have been: GYD001 applications awaiting their audit
	// (pendingAuditCheck local).
	Held string `json:"held,omitempty"`
}

type batchSummary struct {
	BatchNo     string `json:"batch_no"`
	RecordCount int    `json:"record_count"`
	Published   int    `json:"published"`
	Failed      int    `json:"failed"`
	HasMore     bool   `json:"has_more"`
	// FeedbackParts is the number of GYU008 calls that acknowledged a
	// batch above the limit (0: one, the batch within it).
	FeedbackParts int `json:"feedback_parts,omitempty"`
	// Undelivered are the records fed back as failed: record id
	// (stay/detail_no for GYD102) → why it could not be delivered.
	Undelivered map[string]string `json:"undelivered,omitempty"`
}

// warnUndelivered adds to ds a warning for each batch of s (and of its
// follow-ups) with records that could not be delivered, naming them and
// why: they were fed back as failed, and the national system offers them
// again, so a record that cannot be delivered at all fails on every run
// until staff see to it. A batch above the batch limit, delivered and fed
// back in parts, is warned of too (rule over-limit).
func warnUndelivered(s dlSummary, ds *sdk.Diagnostics) {
	for _, b := range s.Batches {
		if b.FeedbackParts > 1 {
			ds.Warn("", "over-limit", fmt.Sprintf("%s batch %s carried %d records, more than the %d a download may carry (单次最多下载500条): a fault of the national system; every record was stored and published, and the batch was fed back in %d GYU008 calls of at most %d records",
				s.Code, b.BatchNo, b.RecordCount, maxBatch, b.FeedbackParts, maxBatch), "nothing to do here; report the batch to the national system's operators (see the workinjury.download.batch_over_limit event)")
		}
		if len(b.Undelivered) == 0 {
			continue
		}
		const show = 10
		ids := slices.Sorted(maps.Keys(b.Undelivered))
		var parts []string
		for _, id := range ids[:min(len(ids), show)] {
			parts = append(parts, id+": "+b.Undelivered[id])
		}
		if len(ids) > show {
			parts = append(parts, fmt.Sprintf("and %d more", len(ids)-show))
		}
		ds.Warn("", "undelivered", fmt.Sprintf("%d record(s) of %s batch %s could not be delivered; they were fed back as failed, and the national system offers them again",
			len(ids), s.Code, b.BatchNo), strings.Join(parts, "; ")+"; see to the cause (an attachment, the field list), or each later batch fails them again")
	}
	for _, f := range s.FollowUps {
		warnUndelivered(f, ds)
	}
}

func (s dlSummary) published() int64 {
	var n int64
	for _, b := range s.Batches {
		n += int64(b.Published)
	}
	for _, f := range s.FollowUps {
		n += f.published()
	}
	return n
}

// dlError is a download that stopped; rejected errors carry the national
// system's verified answer.
type dlError struct {
	rejected bool
	// unknown: the national system gave no trustworthy answer; trying again
	// may succeed.
	unknown bool
	// feedbackOf names the batch whose download-result feedback (GYU008)
	// the national system refused ("": the refusal is not of a feedback).
	// The batch was downloaded and published; it stays unacknowledged
	// until the feedback is sent again.
	feedbackOf string
	serial     string
	code       string
	message    string
	err        error
}

func (e *dlError) Error() string {
	if e.rejected && e.feedbackOf != "" {
		return fmt.Sprintf("the national system refused the download-result feedback (GYU008) of batch %s (serial %s): code %s: %s; "+
			"its records were published, and the feedback is sent again under a new serial when the download runs again", e.feedbackOf, e.serial, e.code, pii.Text(e.message))
	}
	if e.rejected {
		return fmt.Sprintf("the national system refused (serial %s): code %s: %s", e.serial, e.code, pii.Text(e.message))
	}
	return e.err.Error()
}

func (e *dlError) Unwrap() error { return e.err }

// eventTypes are the event types of downloaded records; every code here
// runs the download workflow.
var eventTypes = map[string]string{
	"GYD001": "workinjury.filing_application.downloaded",
	"GYD006": "workinjury.filing.downloaded",
	"GYD009": "workinjury.institution.downloaded",
	"GYD101": "workinjury.admission.downloaded",
	"GYD102": "workinjury.fee_detail.downloaded",
	"GYD103": "workinjury.settlement.downloaded",
	"GYD004": "workinjury.deduction.downloaded",
	"GYD403": "workinjury.settlement_revocation.downloaded",
	"GYD401": "workinjury.fee_detail_revocation.downloaded",
	"GYD402": "workinjury.admission_revocation.downloaded",
	"GYD404": "workinjury.deduction_revocation.downloaded",
	"GYD003": "workinjury.monthly_settlement.downloaded",
	"GYD005": "workinjury.clearing.downloaded",
}

// recordIDField names, per download, the field that identifies a record
// in its GYU008 feedback (record_id).
var recordIDField = map[string]string{
	"GYD001": "apply_no", "GYD006": "filing_no", "GYD009": "akb020",
	"GYD101": "ykc700", "GYD102": "detail_no", "GYD103": "settle_no", "GYD004": "deduct_no",
	"GYD003": "month_settle_no", "GYD005": "clear_no",
	"GYD401": "revoke_no", "GYD402": "revoke_no", "GYD403": "revoke_no", "GYD404": "deduct_no",
}

// recordID returns the national key of a downloaded record.
func recordID(code string, rec map[string]any) string {
	if f, ok := recordIDField[code]; ok {
		return str(rec, f)
	}
	return str(rec, "akb020")
}

// eventKey is the record's part of its event id: the record id, qualified
// by the visit for fee details (detail numbers are unique per visit only).
func eventKey(code string, rec map[string]any, id string) string {
	if code == "GYD102" && str(rec, "ykc700") != "" {
		return str(rec, "ykc700") + "/" + id
	}
	return id
}

// feedbackHasStay reports whether the site's GYU008 schema declares the
// stay (ykc700) of a fee detail in its records. medgate's reconstructed
// schema does: a GYD102 detail_no is unique only within one stay, so two
// records of one batch can share their record_id. An official field list
// without it gets no such field (an undeclared field would make every
// feedback invalid, and block the download for good).
func feedbackHasStay(c *siteConfig) bool {
	return feedbackField(c, "ykc700") != nil
}

// feedbackField returns the field name of the records of the site's
// GYU008 schema, or nil when they declare none.
func feedbackField(c *siteConfig, name string) *schemas.Field {
	sc, ok := c.schemas.Get(Name, "GYU008")
	if !ok {
		return nil
	}
	for _, f := range sc.Input {
		if f.Name != "records" {
			continue
		}
		for i := range f.Fields {
			if f.Fields[i].Name == name {
				return &f.Fields[i]
			}
		}
	}
	return nil
}

// failReason returns why a record could not be delivered as the site's
// GYU008 fail_reason f may carry it: cut to its maxLength, counted in its
// unit (bytes are cut at a character boundary), or "" when its field list
// has no fail_reason (an undeclared field, like a reason too long, would
// have the feedback refused on every try, and block the download for good).
func failReason(f *schemas.Field, reason string) string {
	if f == nil {
		return ""
	}
	if f.MaxLength <= 0 {
		return reason
	}
	if f.Unit() != schemas.UnitBytes {
		return truncate(reason, f.MaxLength)
	}
	if len(reason) <= f.MaxLength {
		return reason
	}
	cut := f.MaxLength
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}

// failureKey is the record's key in the failures of its batch
// (dlState.Failed, dlProgress.Failed): the record id, qualified by the
// stay (ykc700) for fee details, whose detail_no is unique only within one
// stay, so that a detail that cannot be delivered does not flag a detail
// of the same number of another stay in the same batch as failed too.
func failureKey(code string, rec map[string]any, id string) string {
	if code == "GYD102" {
		return str(rec, "ykc700") + "/" + id
	}
	return id
}

// failedReason returns why the record (id, failure key k) could not be
// delivered, from the failures of its batch. A state written before the
// failures were kept per stay has the bare record id: it is looked up too,
// which at worst flags one more record as failed (offered again, its event
// id unchanged), never acknowledges an undelivered one.
func failedReason(failed map[string]string, k, id string) (string, bool) {
	if reason, ok := failed[k]; ok {
		return reason, true
	}
	if k != id {
		reason, ok := failed[id]
		return reason, ok
	}
	return "", false
}

// followUpOf: after these downloads, the local records they revoke are
// downloaded again completely with the target download.
var followUpOf = map[string]string{"GYD401": "GYD102", "GYD404": "GYD004"}

// at calls the test hook.
func (a *Adapter) at(point string) error {
	if a.hook == nil {
		return nil
	}
	return a.hook(point)
}

// lockDownload lets one workflow per site and code run in this process.
// Across processes the host's job lease and the compare-and-set of every
// step keep runs apart.
func (a *Adapter) lockDownload(ctx context.Context, site, code string) (func(), error) {
	a.dlMu.Lock()
	ch := a.dlRun[site+"/"+code]
	if ch == nil {
		ch = make(chan struct{}, 1)
		a.dlRun[site+"/"+code] = ch
	}
	a.dlMu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the running %s download: %w", code, ctx.Err())
	}
}

// download runs downloadCode, then for a revocation download the
// complete re-downloads it queued (GYD401 → GYD102 of the visit, GYD404 →
// GYD004 of the settlement). A queued re-download that gets no trustworthy
// answer stays queued for the next run, and the run stops there. One the
// national system refuses (a verified business error) is reported in the
// summary (Refused) and the queue goes on with the others; it is tried
// again by the next runs, up to redownloadTries refusals in all, and then
// dropped with an ALERT and a workinjury.redownload.dropped event (see
// redownloadRefused).
//
// refusedTries is how many times a run sends a feedback the national
// system refuses: feedbackRefusedTries for a scheduled job, 1 for a
// message, whose retry the host makes.
func (a *Adapter) download(ctx context.Context, h sdk.Host, c *siteConfig, messageID, code string, input map[string]any, maxBatches, refusedTries int) (dlSummary, error) {
	sum, err := a.downloadCode(ctx, h, c, messageID, code, input, maxBatches, refusedTries)
	target := followUpOf[code]
	if err != nil || target == "" {
		return sum, err
	}
	entries, err := h.Scan(ctx, "redl/"+target+"/", 200)
	if err != nil {
		return sum, fmt.Errorf("read the queued %s re-downloads: %w", target, err)
	}
	for _, e := range entries {
		var in map[string]any
		if err := decodeJSON(e.Value, &in); err != nil {
			_ = h.Delete(ctx, e.Key)
			continue
		}
		refusals, _ := strconv.Atoi(str(in, redlRefusals))
		delete(in, redlRefusals)
		fs, err := a.downloadCode(ctx, h, c, messageID, target, in, max(maxBatches, c.maxBatches), refusedTries)
		sum.FollowUps = append(sum.FollowUps, fs)
		var de *dlError
		// A refused feedback is no refusal of the re-download, which ran:
		// its batch must be fed back, and the run stops below.
		if errors.As(err, &de) && de.rejected && de.feedbackOf == "" {
			r, rerr := a.redownloadRefused(ctx, h, c, code, target, e, in, refusals+1, de)
			sum.Refused = append(sum.Refused, r)
			if rerr != nil {
				return sum, rerr
			}
			continue
		}
		if err != nil {
			return sum, fmt.Errorf("complete re-download %s %v after %s: %w", target, in, code, err)
		}
		if n := len(fs.Batches); n > 0 && fs.Batches[n-1].HasMore {
			// Not complete within maxBatchesPerRun: it stays queued, with
			// the last batch of its pass as the cursor, so the next run
			// goes on after it instead of starting the pass over (which
			// would hand out the same first batches on every run and
			// never complete). A re-download queued again meanwhile (a
			// newer revocation: e's version changed) starts a pass of
			// its own and is left as it is.
			next := maps.Clone(in)
			next["last_batch_no"] = fs.Batches[n-1].BatchNo
			if _, err := casJSON(ctx, h, e.Key, e.Version, next); err != nil && !errors.Is(err, sdk.ErrConflict) {
				return sum, fmt.Errorf("keep the place of the complete re-download %s: %w", e.Key, err)
			}
			continue
		}
		// Complete: removed only if not queued again meanwhile (a newer
		// revocation of the same records, downloaded by another run,
		// needs a pass after it): compare-and-set on the version read,
		// then delete.
		if _, err := h.CompareAndSet(ctx, e.Key, e.Version, e.Value); err == nil {
			if err := h.Delete(ctx, e.Key); err != nil {
				return sum, fmt.Errorf("remove the completed re-download %s: %w", e.Key, err)
			}
		} else if !errors.Is(err, sdk.ErrConflict) {
			return sum, fmt.Errorf("remove the completed re-download %s: %w", e.Key, err)
		}
	}
	return sum, nil
}

// redownloadTries is how many times a complete re-download is asked for
// while the national system refuses it: once per revocation download
// (GYD401, GYD404) that runs the queue. A refusal may pass (the national
// side not yet consistent right after a revocation, a batch of the code
// still held out to someone else), so one refusal does not drop it; a
// refusal that stays would otherwise keep it queued, and failing, for
// ever.
const redownloadTries = 3

// redlRefusals is the member of a queued re-download (redl/…) counting its
// refusals so far; it is removed before the input is sent.
const redlRefusals = "medgate_refusals"

// refusedFollowUp reports a complete re-download the national system
// refused, in the summary of the revocation download that ran it.
type refusedFollowUp struct {
	Code     string         `json:"download_code"`
	Input    map[string]any `json:"input"`
	Serial   string         `json:"serial"`
	ExtCode  string         `json:"code"`
	Message  string         `json:"message"`
	Refusals int            `json:"refusals"`
	// Dropped: the re-download was refused redownloadTries times and is
	// no longer queued.
	Dropped bool `json:"dropped"`
}

// redownloadRefused records the n-th refusal of the queued re-download e
// (input in): below redownloadTries it stays queued with the count, else
// it is removed, an ALERT logged and workinjury.redownload.dropped
// published so that staff download the records by hand (GYD102 / GYD004
// with full_flag 1) or find out why they are refused. A re-download queued
// again meanwhile (a newer revocation: e's version changed) is left as it
// is, with its own count.
func (a *Adapter) redownloadRefused(ctx context.Context, h sdk.Host, c *siteConfig, code, target string, e sdk.Entry, in map[string]any, n int, de *dlError) (refusedFollowUp, error) {
	r := refusedFollowUp{Code: target, Input: in, Serial: de.serial, ExtCode: de.code, Message: de.message, Refusals: n, Dropped: n >= redownloadTries}
	if !r.Dropped {
		kept := maps.Clone(in)
		kept[redlRefusals] = strconv.Itoa(n)
		if _, err := casJSON(ctx, h, e.Key, e.Version, kept); err != nil && !errors.Is(err, sdk.ErrConflict) {
			return r, fmt.Errorf("count the refusal of the complete re-download %s: %w", e.Key, err)
		}
		a.log.Warn("the national system refused a complete re-download; it is asked for again by the next runs", "site", c.code, "after", code,
			"code", target, "key", e.Key, "serial", de.serial, "extCode", de.code, "refusals", n, "of", redownloadTries)
		return r, nil
	}
	payload, err := marshal(map[string]any{"site": c.code, "after": code, "downloadCode": target, "input": in, "serial": de.serial,
		"code": de.code, "message": de.message, "refusals": n})
	if err != nil {
		return r, err
	}
	// Published before the entry goes: a run stopped in between asks once
	// more and publishes the same event id again.
	if err := h.Publish(ctx, sdk.Event{ID: Name + "/" + c.code + "/redownload-dropped/" + e.Key + "/" + strconv.FormatInt(e.Version, 10),
		Type: "workinjury.redownload.dropped", Key: strings.TrimPrefix(e.Key, "redl/"+target+"/"), Payload: payload, OccurredAt: a.now(),
		Headers: map[string]string{"workinjury-code": target}}); err != nil {
		return r, fmt.Errorf("publish the dropped complete re-download %s: %w", e.Key, err)
	}
	// Removed only if not queued again since (compare-and-set on its
	// version, then delete).
	if _, err := h.CompareAndSet(ctx, e.Key, e.Version, e.Value); err == nil {
		if err := h.Delete(ctx, e.Key); err != nil {
			return r, fmt.Errorf("drop the refused complete re-download %s: %w", e.Key, err)
		}
	} else if !errors.Is(err, sdk.ErrConflict) {
		return r, fmt.Errorf("drop the refused complete re-download %s: %w", e.Key, err)
	}
	a.log.Error("ALERT: the national system refused a complete re-download "+strconv.Itoa(n)+" times; it is dropped: download the records by hand or find out why",
		"site", c.code, "after", code, "code", target, "key", e.Key, "serial", de.serial, "extCode", de.code)
	return r, nil
}

// downloadCode finishes an interrupted batch, if any, then fetches new
// batches while the national system has more, at most maxBatches of them.
// A feedback (GYU008) that gets no trustworthy answer is retried with
// backoff within the run, held to the 30-minute rule (feedbackDue); one the
// national system refuses is sent up to refusedTries times, with backoff
// (feedbackRefusedWait). A run that stops with a batch still to feed back
// returns a *feedbackPending naming the batch and when its feedback is due.
func (a *Adapter) downloadCode(ctx context.Context, h sdk.Host, c *siteConfig, messageID, code string, input map[string]any, maxBatches, refusedTries int) (dlSummary, error) {
	return a.downloadRun(ctx, h, c, messageID, code, input, maxBatches, refusedTries, 0)
}

// downloadRun is downloadCode. A run with stale above 0 (the GYU008 job,
// which must not race a fetch in flight) leaves a fetch alone whose state
// moved within stale, and returns without doing anything.
func (a *Adapter) downloadRun(ctx context.Context, h sdk.Host, c *siteConfig, messageID, code string, input map[string]any, maxBatches, refusedTries int, stale time.Duration) (dlSummary, error) {
	sum := dlSummary{Code: code}
	runStart := a.now()
	fbTries, refused := 0, 0
	release, err := a.lockDownload(ctx, c.code, code)
	if err != nil {
		return sum, err
	}
	defer release()
	key := "dl/" + code
	fetched := 0
	for {
		var st dlState
		ver, err := getJSON(ctx, h, key, &st)
		if err != nil {
			return sum, err
		}
		st.Code = code
		if st.Step == stepStored || st.Step == stepFeedback {
			if err := a.loadRecords(ctx, h, &st); err != nil {
				return sum, err
			}
		}
		switch st.Step {
		case stepFetching:
			if stale > 0 && a.now().Sub(st.UpdatedAt) <= stale {
				return sum, nil // perhaps still in flight, in another process
			}
			if stale == 0 && st.ClaimedBy != "" && st.ClaimedBy != messageID {
				// Claimed by another run that may still be fetching or
				// recovering it: a message (or scheduled download) waits,
				// until the claim is as stale as a lost fetch the job
				// takes over.
				if until := st.UpdatedAt.Add(c.timeout + fetchStaleMargin); !a.now().After(until) {
					return sum, &fetchClaimedError{code: code, serial: st.FetchSerial, by: st.ClaimedBy, until: until}
				}
			}
			stale = 0
			if err := a.at("fetch:claim"); err != nil {
				return sum, err
			}
			// Claimed by compare-and-set before anything is sent: of two
			// runs that read the same lost fetch (a message and the GYU008
			// job), one asks for the batch again, the other stops here
			// (or, reading it after the claim, waits: above).
			st.ClaimedBy = messageID
			if err := a.save(ctx, h, key, &st, &ver); err != nil {
				return sum, err
			}
			if err := a.recoverFetch(ctx, h, c, messageID, key, &st, &ver); err != nil {
				return sum, a.releaseClaim(ctx, h, key, &st, &ver, messageID, err)
			}
			if st.Step == stepFetching {
				if err := a.fetch(ctx, h, c, messageID, key, &st, &ver, &sum, false); err != nil {
					return sum, a.releaseClaim(ctx, h, key, &st, &ver, messageID, err)
				}
			}
		case stepStored:
			if err := a.publish(ctx, h, c, messageID, key, &st, &ver); err != nil {
				// The feedback waits for every record: held up here past
				// its deadline, it is late as much as a failing one.
				if now := a.now(); !st.StoredAt.IsZero() && now.After(st.StoredAt.Add(c.deadline)) {
					a.feedbackLate(ctx, h, c, &st, now, err)
				}
				return sum, err
			}
		case stepFeedback:
			if err := a.feedback(ctx, h, c, messageID, key, &st, &ver, &sum); err != nil {
				var de *dlError
				switch {
				case errors.As(err, &de) && de.unknown:
					fbTries++
					if werr := a.feedbackDue(ctx, h, c, &st, runStart, fbTries, err); werr != nil {
						return sum, a.pending(c, &st, werr)
					}
				case errors.As(err, &de) && de.rejected && de.feedbackOf != "" && refused+1 < refusedTries:
					refused++
					if werr := a.feedbackRefusedWait(ctx, c, &st, refused, err); werr != nil {
						return sum, a.pending(c, &st, werr)
					}
				case errors.As(err, &de) && (de.rejected && de.feedbackOf != ""):
					return sum, a.pending(c, &st, err)
				default:
					return sum, err
				}
			}
		default:
			if fetched >= maxBatches || (fetched > 0 && !st.HasMore) {
				return sum, nil
			}
			if code == "GYD001" && c.auditGate {
				held, err := a.applicationsAwaitingAudit(ctx, h)
				if err != nil {
					return sum, err
				}
				if len(held) > 0 {
					sum.Held = heldMessage(held)
					a.log.Info("GYD001 held: applications downloaded here await their audit (pendingAuditCheck local)", "site", c.code, "count", len(held))
					return sum, nil
				}
			}
			fetched++
			in := map[string]any{}
			for k, v := range input {
				in[k] = v
			}
			// A complete re-download (full_flag 1) starts from the first
			// record, or after the batch its queued entry names (a pass
			// continued from an earlier run); the later batches of this
			// run go on after the previous one, whatever the input named.
			if _, given := in["last_batch_no"]; st.LastBatchNo != "" && (fetched > 1 || (!given && str(in, "full_flag") != "1")) {
				in["last_batch_no"] = st.LastBatchNo
			}
			if err := a.startFetch(ctx, h, c, messageID, key, &st, &ver, in); err != nil {
				return sum, err
			}
			if err := a.fetch(ctx, h, c, messageID, key, &st, &ver, &sum, true); err != nil {
				return sum, a.releaseClaim(ctx, h, key, &st, &ver, messageID, err)
			}
		}
	}
}

// releaseClaim gives up the claim of messageID on the fetch of st when
// the fetch, or its recovery, stopped with err still at step fetching
// (refused, or its answer lost), so that the next run recovers it without
// waiting for the claim to go stale; a run that crashed keeps it until
// then. It returns err; a failed release is left to go stale.
func (a *Adapter) releaseClaim(ctx context.Context, h sdk.Host, key string, st *dlState, ver *int64, messageID string, err error) error {
	if st.Step == stepFetching && st.ClaimedBy == messageID {
		st.ClaimedBy = ""
		if serr := a.save(ctx, h, key, st, ver); serr != nil {
			st.ClaimedBy = messageID
		}
	}
	return err
}

// feedbackRefusedTries is how many times one run sends the feedback of a
// batch the national system refuses (a verified business error) while
// GYD008 still lists the batch: a refusal may pass (the system busy), and
// the next run, 30 minutes later, would miss the 30-minute feedback rule;
// one that never passes costs this many sends a run, never a loop.
const feedbackRefusedTries = 3

// save writes st with compare-and-set; a conflict means another run moved
// the workflow on and this run stops.
func (a *Adapter) save(ctx context.Context, h sdk.Host, key string, st *dlState, ver *int64) error {
	st.UpdatedAt = a.now().UTC()
	n, err := casJSON(ctx, h, key, *ver, st)
	if errors.Is(err, sdk.ErrConflict) {
		return fmt.Errorf("the %s download was moved on by another run; this run stops: %w", st.Code, err)
	}
	if err != nil {
		return err
	}
	*ver = n
	return nil
}

// startFetch moves st to step fetching with a new serial, claimed by the
// run making the fetch (messageID): while it is in flight, in this
// instance or another, a message of the code waits for it as for a fresh
// recovery claim instead of taking it for lost and asking for its batch a
// second time; a fetch that ends in an error gives the claim up
// (releaseClaim), and one whose run crashed keeps it until it is stale.
func (a *Adapter) startFetch(ctx context.Context, h sdk.Host, c *siteConfig, messageID, key string, st *dlState, ver *int64, in map[string]any) error {
	serial, err := a.newSerial(ctx, h, c)
	if err != nil {
		return err
	}
	st.Step, st.Input, st.FetchSerial, st.FetchDate = stepFetching, in, serial, a.now().In(cst).Format("2006-01-02")
	st.BatchNo, st.HasMore, st.Records, st.Failed, st.FeedbackSent, st.FeedbackSerial, st.FeedbackDate = "", false, nil, nil, false, "", ""
	st.FeedbackParts, st.ClaimedBy = 0, messageID
	st.Inline, st.ChunkPrefix, st.Chunks, st.RecordCount, st.Parts = nil, "", nil, 0, nil
	return a.save(ctx, h, key, st, ver)
}

// fetch makes the download call stored in st and stores the batch.
func (a *Adapter) fetch(ctx context.Context, h sdk.Host, c *siteConfig, messageID, key string, st *dlState, ver *int64, sum *dlSummary, mayRecover bool) error {
	in := st.Input
	if in == nil {
		// A request without filters ({}) is stored without input
		// (omitempty) and read back nil; it is sent as {} again, not as
		// null, which the national system refuses.
		in = map[string]any{}
	}
	out := a.call(ctx, h, c, messageID, st.Code, st.FetchSerial, in)
	if err := a.at("fetch:answered"); err != nil {
		return err
	}
	switch out.kind {
	case kindOK:
	case kindRejected:
		if mayRecover {
			// Perhaps a batch is outstanding that this site does not hold
			// (state lost, or fetched elsewhere): recover it.
			if b, err := a.outstanding(ctx, h, c, messageID, st.Code); err == nil && b != "" {
				a.log.Warn("the national system holds an unacknowledged batch this site does not know; asking for it again", "site", c.code, "code", st.Code, "batch", b)
				if err := a.recoverFetch(ctx, h, c, messageID, key, st, ver); err != nil {
					return err
				}
				if st.Step == stepFetching {
					return a.fetch(ctx, h, c, messageID, key, st, ver, sum, false)
				}
				return nil
			}
		}
		st.Step = stepDone
		if err := a.save(ctx, h, key, st, ver); err != nil {
			return err
		}
		return &dlError{rejected: true, serial: out.serial, code: out.code, message: out.message}
	case kindLocal:
		st.Step = stepDone
		if err := a.save(ctx, h, key, st, ver); err != nil {
			return err
		}
		return &dlError{err: out.err}
	default:
		return &dlError{err: fmt.Errorf("%w; the next run finds the batch with GYD008 and asks for it again with GYR005", out.err)}
	}
	var o struct {
		BatchNo string            `json:"batch_no"`
		HasMore json.Number       `json:"has_more"`
		Records []json.RawMessage `json:"records"`
	}
	dec := json.NewDecoder(bytes.NewReader(out.output))
	dec.UseNumber()
	if err := dec.Decode(&o); err != nil {
		return &dlError{err: fmt.Errorf("the %s answer (serial %s) is not readable: %w", st.Code, out.serial, err)}
	}
	// A batch above the limit (the national system broke its own) is
	// stored and delivered all the same: refusing it would gain nothing,
	// since asking for it again (GYR005) hands out the same batch, and the
	// national system refuses every other download of the code while it is
	// unacknowledged. Its feedback goes in parts within the GYU008 limit
	// (feedbackPart), and operators are told once it is stored.
	overLimit := len(o.Records) > batchLimit(c, st.Code)
	st.BatchNo, st.HasMore, st.Records = o.BatchNo, o.HasMore.String() == "1", o.Records
	end, err := a.redeliveryOfBatch(ctx, h, c, st)
	if err != nil {
		return err
	}
	if len(o.Records) == 0 {
		st.Step = stepDone
		sum.Batches = append(sum.Batches, batchSummary{BatchNo: o.BatchNo, HasMore: st.HasMore})
		if err := a.save(ctx, h, key, st, ver); err != nil || end == nil {
			return err
		}
		return end()
	}
	// The records go into chunks of their own before the step says the
	// batch is stored: a batch of 500 records may be larger than the host
	// takes in one state value. A run stopped in between leaves the step
	// fetching, and the chunks are dropped once it is recovered.
	if err := a.storeRecords(ctx, h, key, st); err != nil {
		return err
	}
	if err := a.at("fetch:chunked"); err != nil {
		return err
	}
	st.Step, st.StoredAt = stepStored, a.now().UTC()
	if err := a.save(ctx, h, key, st, ver); err != nil {
		if errors.Is(err, sdk.ErrConflict) {
			// Not written: another run moved the workflow on, and no
			// state names these chunks. After any other failure the
			// write may have been made, and they stay (a later recovery
			// or the batch's acknowledgement drops them).
			a.dropChunks(ctx, h, st.ChunkPrefix)
		}
		return err
	}
	if end != nil {
		if err := end(); err != nil {
			return err
		}
	}
	if overLimit {
		a.overLimit(ctx, h, c, st, out.serial)
	}
	a.log.Info("download batch stored", "site", c.code, "code", st.Code, "batch", st.BatchNo, "records", len(st.Records), "hasMore", st.HasMore)
	return a.at("stored")
}

// redelivery is a date-range GYR005 accepted by the national system
// (redeliver/<download code>): the records it hands out again come in the
// code's next batches, mixed with new ones, until the code has no more.
type redelivery struct {
	Serial string `json:"serial"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Before bounds what can be handed out again: every record version
	// delivered before the GYR005 had its update_time by then – by the
	// time the GYR005 was sent, and by the end of its date range (aae031),
	// when its batches were handed out – so a record whose update_time is
	// after it is new ("2006-01-02 15:04:05", UTC+8; "" before this field
	// existed: every record counts as handed out again).
	Before string `json:"before,omitempty"`
	// Drained are the scopes (redeliveryScope) of filtered downloads
	// that had no more records since: their batches are ordinary again.
	Drained []string `json:"drained,omitempty"`
}

// redeliveryRequested remembers an accepted date-range GYR005 (serial) so
// that the records it hands out again get event ids of their own: staff
// ask for it because the records were lost locally, and a platform that
// drops events by id would drop the very records asked for. A GYR005 by
// batch_no is left alone: it hands out a batch never delivered (its reply
// lost), whose records keep their ids.
//
// sentAt is when the GYR005 was sent (zero: not known, now is used).
func (a *Adapter) redeliveryRequested(ctx context.Context, h sdk.Host, c *siteConfig, doc map[string]any, serial string, sentAt time.Time) error {
	code := str(doc, "download_code")
	if str(doc, "batch_no") != "" || eventTypes[code] == "" {
		return nil
	}
	if sentAt.IsZero() {
		sentAt = a.now()
	}
	if err := update(ctx, h, "redeliver/"+code, func(r *redelivery, exists bool) error {
		if exists && r.Serial == serial {
			return errSkip // a replay of the same request
		}
		*r = redelivery{Serial: serial, From: str(doc, "aae030"), To: str(doc, "aae031"), Before: redeliveryBound(str(doc, "aae031"), sentAt)}
		return nil
	}); err != nil {
		return fmt.Errorf("remember the re-download %s of %s: %w", serial, code, err)
	}
	a.log.Info("date-range re-download accepted; the records handed out again get event ids of their own", "site", c.code,
		"code", code, "serial", serial, "from", str(doc, "aae030"), "to", str(doc, "aae031"))
	return nil
}

// redeliveryLayout is the layout of redelivery.Before, in UTC+8 (cst).
const redeliveryLayout = "2006-01-02 15:04:05"

// redeliveryBound is redelivery.Before of a GYR005 sent at sentAt with
// date range end to (aae031): the earlier of sentAt and the end of that
// day, to the second (rounded down: a record of that very second counts
// as handed out again).
func redeliveryBound(to string, sentAt time.Time) string {
	bound := sentAt.In(cst).Truncate(time.Second)
	if d, err := time.ParseInLocation("2006-01-02", dayOf(to), cst); err == nil {
		if end := d.AddDate(0, 0, 1).Add(-time.Second); end.Before(bound) {
			bound = end
		}
	}
	return bound.Format(redeliveryLayout)
}

// newSince reports whether a record with update_time updated was changed
// after before (redelivery.Before), so cannot have been delivered before
// the GYR005: false when either is empty or not a time it can read.
func newSince(updated, before string) bool {
	if updated == "" || before == "" {
		return false
	}
	b, err := time.ParseInLocation(redeliveryLayout, before, cst)
	if err != nil {
		return false
	}
	for _, layout := range []string{redeliveryLayout, "2006-01-02T15:04:05", "20060102150405"} {
		if u, err := time.ParseInLocation(layout, updated, cst); err == nil {
			return u.After(b)
		}
	}
	return false
}

// redeliveryScope names the records a download asks for beyond the whole
// code ("": the code's incremental queue): its filters, without the
// cursor and the default region.
func redeliveryScope(c *siteConfig, in map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(in)) {
		v := fmt.Sprint(in[k])
		if k == "last_batch_no" || k == "full_flag" || v == "" || (k == "aab299" && v == c.region) {
			continue
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "&")
}

// redeliveryOfBatch marks the batch just fetched as part of a pending
// date-range re-download of its code (st.Redelivery). When the download
// has no more records it returns end, to be called once the batch is
// stored, which ends the re-download: for the whole code (the entry is
// removed, if unchanged since it was read), or for the download's filters
// only (they are added to Drained). A run stopped before end leaves the
// re-download pending a little longer: a later batch gets new ids too,
// which drops nothing; ended before the batch is stored, a batch fetched
// again would lose its own. Complete re-downloads (full_flag 1) are left
// alone: their event ids name their batch already.
func (a *Adapter) redeliveryOfBatch(ctx context.Context, h sdk.Host, c *siteConfig, st *dlState) (end func() error, err error) {
	st.Redelivery, st.RedeliveryBefore = "", ""
	if str(st.Input, "full_flag") == "1" {
		return nil, nil
	}
	key := "redeliver/" + st.Code
	var r redelivery
	ver, err := getJSON(ctx, h, key, &r)
	if err != nil || ver == 0 {
		return nil, err
	}
	scope := redeliveryScope(c, st.Input)
	if slices.Contains(r.Drained, scope) {
		return nil, nil
	}
	st.Redelivery, st.RedeliveryBefore = r.Serial, r.Before
	if st.HasMore {
		return nil, nil
	}
	return func() error {
		if scope != "" {
			r.Drained = append(r.Drained, scope)
			if _, err := casJSON(ctx, h, key, ver, r); err != nil && !errors.Is(err, sdk.ErrConflict) {
				return fmt.Errorf("end the re-download %s of %s for %s: %w", r.Serial, st.Code, scope, err)
			}
			return nil
		}
		// Removed only if not replaced by a newer re-download since.
		if _, err := casJSON(ctx, h, key, ver, r); err == nil {
			if err := h.Delete(ctx, key); err != nil {
				return fmt.Errorf("end the re-download %s of %s: %w", r.Serial, st.Code, err)
			}
		} else if !errors.Is(err, sdk.ErrConflict) {
			return fmt.Errorf("end the re-download %s of %s: %w", r.Serial, st.Code, err)
		}
		a.log.Info("date-range re-download delivered", "site", c.code, "code", st.Code, "serial", r.Serial, "lastBatch", st.BatchNo)
		return nil
	}, nil
}

// maxBatch is the most records of a download batch and of its GYU008
// feedback (requirements 2.2.1: 单次最多500条).
const maxBatch = 500

// batchLimit is the most records a batch of code may carry: the schema's
// limit of its records, at most maxBatch.
func batchLimit(c *siteConfig, code string) int {
	if sc, ok := c.schemas.Get(Name, code); ok && sc.BatchLimit > 0 && sc.BatchLimit < maxBatch {
		return sc.BatchLimit
	}
	return maxBatch
}

// outstanding returns an unacknowledged batch of code (GYD008), or "".
func (a *Adapter) outstanding(ctx context.Context, h sdk.Host, c *siteConfig, messageID, code string) (string, error) {
	serial, err := a.newSerial(ctx, h, c)
	if err != nil {
		return "", err
	}
	out := a.call(ctx, h, c, messageID, "GYD008", serial, map[string]any{"download_code": code})
	switch out.kind {
	case kindOK:
	case kindRejected:
		return "", fmt.Errorf("GYD008 refused: code %s: %s", out.code, pii.Text(out.message))
	default:
		return "", out.err
	}
	var o struct {
		Batches []struct {
			Code    string `json:"download_code"`
			BatchNo string `json:"batch_no"`
		} `json:"batches"`
	}
	if err := json.Unmarshal(out.output, &o); err != nil {
		return "", fmt.Errorf("GYD008 answer is not readable: %w", err)
	}
	for _, b := range o.Batches {
		if b.Code == code {
			return b.BatchNo, nil
		}
	}
	return "", nil
}

// recoverFetch handles a fetch whose reply was lost: GYD008 tells whether a
// batch was handed out; if so GYR005 asks for it again and st becomes a new
// fetch, else st goes back to idle.
func (a *Adapter) recoverFetch(ctx context.Context, h sdk.Host, c *siteConfig, messageID, key string, st *dlState, ver *int64) error {
	b, err := a.outstanding(ctx, h, c, messageID, st.Code)
	if err != nil {
		return &dlError{err: fmt.Errorf("recover the lost %s reply (serial %s): %w", st.Code, st.FetchSerial, err)}
	}
	// Chunks the lost fetch may have written before the run stopped
	// (storeRecords) belong to no stored batch: dropped once the step
	// has moved past that fetch.
	lost := chunkPrefix(key, st.FetchSerial)
	if b == "" {
		a.log.Info("the lost download handed out nothing; fetching again", "site", c.code, "code", st.Code, "serial", st.FetchSerial)
		st.Step = stepIdle
		if err := a.save(ctx, h, key, st, ver); err != nil {
			return err
		}
		a.dropChunks(ctx, h, lost)
		return nil
	}
	serial, err := a.newSerial(ctx, h, c)
	if err != nil {
		return err
	}
	in := map[string]any{"download_code": st.Code, "batch_no": b,
		"reason": "medgate: the reply of " + st.FetchSerial + " was lost; download the batch again"}
	out := a.call(ctx, h, c, messageID, "GYR005", serial, in)
	switch out.kind {
	case kindOK:
	case kindRejected:
		if err := a.recoverRefused(ctx, h, c, key, st, ver, b, serial, out.code, out.message); err != nil {
			return err
		}
		return &dlError{rejected: true, serial: serial, code: out.code, message: out.message}
	default:
		return &dlError{err: fmt.Errorf("GYR005 for batch %s: %w", b, out.err)}
	}
	if flag, msg := redownloadAccepted(out.output); flag != "1" {
		if err := a.recoverRefused(ctx, h, c, key, st, ver, b, serial, "accept_flag="+flag, msg); err != nil {
			return err
		}
		return &dlError{err: fmt.Errorf("GYR005 (serial %s) did not accept the re-download of batch %s: %s; the next run asks again", serial, b, msg)}
	}
	a.log.Info("lost download batch requested again", "site", c.code, "code", st.Code, "batch", b)
	st.Redownloads++
	st.RecoverBatch, st.RecoverRefusals, st.RecoverAlerted = "", 0, false
	fs, err := a.newSerial(ctx, h, c)
	if err != nil {
		return err
	}
	st.FetchSerial, st.FetchDate = fs, a.now().In(cst).Format("2006-01-02")
	if err := a.save(ctx, h, key, st, ver); err != nil {
		return err
	}
	a.dropChunks(ctx, h, lost)
	return nil
}

// recoverAlertAt is the refusal of the GYR005 asking again for a lost
// batch at which staff are alerted. The request is not given up after it:
// the national system hands out no new batch of the code while this one
// is unacknowledged, so going back to incremental downloads would only be
// refused and recovered again, and the batch cannot be acknowledged
// without its records (GYU008 lists every one of them, and acknowledging
// records never stored would lose them). Every later run asks again: a
// refusal may pass, and the batch is closed as soon as GYD008 no longer
// lists it.
const recoverAlertAt = 3

// recoverRefused records a refusal of the GYR005 (serial) asking again for
// the lost batch b of st: the count is kept in st (the step stays
// fetching); from recoverAlertAt refusals on each refusal logs an ALERT,
// and workinjury.redownload.refused is published once per batch, so that
// staff learn that the code's downloads are held until the national
// system hands the batch out again or no longer lists it (GYD008).
func (a *Adapter) recoverRefused(ctx context.Context, h sdk.Host, c *siteConfig, key string, st *dlState, ver *int64, b, serial, extCode, extMsg string) error {
	if st.RecoverBatch != b {
		st.RecoverBatch, st.RecoverRefusals, st.RecoverAlerted = b, 0, false
	}
	st.RecoverRefusals++
	n := st.RecoverRefusals
	if n < recoverAlertAt {
		a.log.Warn("the national system refused to hand out a lost download batch again (GYR005); the next run asks again", "site", c.code,
			"code", st.Code, "batch", b, "lostSerial", st.FetchSerial, "serial", serial, "extCode", extCode, "refusals", n, "alertAt", recoverAlertAt)
		return a.save(ctx, h, key, st, ver)
	}
	a.log.Error("ALERT: the national system keeps refusing to hand out a lost download batch again (GYR005); no new "+st.Code+
		" batch is downloaded until it does or GYD008 no longer lists the batch: ask the national system's operators to hand it out again",
		"site", c.code, "code", st.Code, "batch", b, "lostSerial", st.FetchSerial, "serial", serial, "extCode", extCode, "refusals", n)
	if !st.RecoverAlerted {
		payload, err := marshal(map[string]any{"site": c.code, "downloadCode": st.Code, "batchNo": b, "lostSerial": st.FetchSerial,
			"serial": serial, "code": extCode, "message": extMsg, "refusals": n})
		if err != nil {
			return err
		}
		// Stable id: published again only if the run stops before the
		// state below is saved.
		err = h.Publish(ctx, sdk.Event{ID: Name + "/" + c.code + "/redownload-refused/" + st.Code + "/" + b,
			Type: "workinjury.redownload.refused", Key: b, Payload: payload, OccurredAt: a.now(),
			Headers: map[string]string{"workinjury-download-code": st.Code, "workinjury-batch": b}})
		if err != nil {
			a.log.Warn("cannot publish the refused re-download event; the next refusal publishes it", "site", c.code, "code", st.Code, "batch", b, "err", err)
		}
		st.RecoverAlerted = err == nil
	}
	return a.save(ctx, h, key, st, ver)
}

// maxReasonChars is the most of why a record could not be delivered that
// is kept with its batch (dlProgress.Failed, dlState.Failed): a reason may
// carry a message of the national system, which nothing bounds, and the
// reasons of 500 records must fit one state value with the batch's
// workflow. The feedback carries at most the GYU008 fail_reason's bound
// (200 characters in the reconstructed schema) anyway.
const maxReasonChars = 200

// publish delivers every record of the stored batch not yet published.
func (a *Adapter) publish(ctx context.Context, h sdk.Host, c *siteConfig, messageID, key string, st *dlState, ver *int64) error {
	pkey := key + "/progress"
	var pr dlProgress
	if _, err := getJSON(ctx, h, pkey, &pr); err != nil {
		return err
	}
	if pr.BatchNo != st.BatchNo {
		pr = dlProgress{BatchNo: st.BatchNo}
	}
	if pr.Failed == nil {
		pr.Failed = map[string]string{}
	}
	invalid := a.invalidRecords(c, st)
	for i := pr.Published; i < len(st.Records); i++ {
		var rec map[string]any
		dec := json.NewDecoder(bytes.NewReader(st.Records[i]))
		dec.UseNumber()
		_ = dec.Decode(&rec)
		id := recordID(st.Code, rec)
		if id == "" {
			id = fmt.Sprintf("#%d", i)
		}
		fk := failureKey(st.Code, rec, id)
		if reason, bad := invalid[i]; bad {
			pr.Failed[fk] = truncate(reason, maxReasonChars)
		} else {
			ev, reason, err := a.event(ctx, h, c, messageID, st, rec, id)
			if err != nil {
				return err
			}
			if reason == "" && len(ev.Payload) > a.eventBytes {
				// Refused by the events topic on every try, it would hold
				// the batch for good: fed back as failed, the batch goes on.
				reason = a.tooLarge(ctx, h, c, st, id, len(st.Records[i]), len(ev.Payload))
			}
			if reason != "" {
				pr.Failed[fk] = truncate(reason, maxReasonChars)
			} else {
				if err := a.downloaded(ctx, h, st.Code, st.BatchNo, rec); err != nil {
					return err
				}
				if err := h.Publish(ctx, ev); err != nil {
					return fmt.Errorf("publish record %s of batch %s: %w", id, st.BatchNo, err)
				}
				// A record handed out twice in the batch: this later
				// copy, the record as it is now, reached the platform,
				// and an earlier version that could not is superseded.
				delete(pr.Failed, fk)
			}
		}
		pr.Published = i + 1
		if err := fitFailures(pr.Failed, func() error { return putJSON(ctx, h, pkey, pr) }); err != nil {
			return err
		}
		if err := a.at("published:" + strconv.Itoa(i+1)); err != nil {
			return err
		}
	}
	serial, err := a.newSerial(ctx, h, c)
	if err != nil {
		return err
	}
	st.Step, st.FeedbackSerial, st.FeedbackDate, st.FeedbackSent = stepFeedback, serial, a.now().In(cst).Format("2006-01-02"), false
	st.Failed = pr.Failed
	return fitFailures(st.Failed, func() error { return a.save(ctx, h, key, st, ver) })
}

// reasonSteps are the lengths the reasons of a batch's failures are cut
// to, one after the other, while the host refuses the state holding them
// for its size (stateValueBytes set low): shorter reasons (their start,
// which says what failed) rather than a batch that never moves on.
var reasonSteps = []int{60, 24}

// fitFailures runs write, and again with the reasons in failed cut
// shorter (reasonSteps) while the host refuses it for its size.
func fitFailures(failed map[string]string, write func() error) error {
	err := write()
	for _, n := range reasonSteps {
		if !errors.Is(err, sdk.ErrTooLarge) {
			return err
		}
		for k, v := range failed {
			failed[k] = truncate(v, n)
		}
		err = write()
	}
	return err
}

// maxEventBytes bounds the payload of a download event: the host refuses
// a larger one on every try (sdk.MaxEventPayloadBytes).
const maxEventBytes = sdk.MaxEventPayloadBytes

// tooLarge reports a record of st whose event (eventSize bytes, the
// record recSize of them) is larger than the events topic takes, so that
// the operator sees it (an ALERT, a workinjury.download.record_too_large
// event), and returns the reason its feedback gives the national system.
func (a *Adapter) tooLarge(ctx context.Context, h sdk.Host, c *siteConfig, st *dlState, id string, recSize, eventSize int) string {
	fix := "the record cannot reach the platform as one event: get it from the national system by hand; it is offered again in later batches and fed back as failed each time"
	if recSize <= a.eventBytes {
		fix = "its attachments travel inside the event: set attachmentDir so that they are written to files, and the record is delivered when the national system offers it again"
	}
	a.log.Error("ALERT: a downloaded record is larger than an event can carry; it was fed back as failed (GYU008), the rest of its batch is delivered",
		"site", c.code, "code", st.Code, "batch", st.BatchNo, "record", id, "recordBytes", recSize, "eventBytes", eventSize, "limit", a.eventBytes, "fix", fix)
	payload, err := marshal(map[string]any{"site": c.code, "downloadCode": st.Code, "batchNo": st.BatchNo, "recordId": id,
		"recordBytes": recSize, "eventBytes": eventSize, "limit": a.eventBytes, "fix": fix})
	if err == nil {
		err = h.Publish(ctx, sdk.Event{ID: Name + "/" + c.code + "/record-too-large/" + st.Code + "/" + st.BatchNo + "/" + id,
			Type: "workinjury.download.record_too_large", Key: id, Payload: payload, OccurredAt: a.now()})
	}
	if err != nil {
		a.log.Warn("cannot publish workinjury.download.record_too_large; the ALERT above stands for it", "site", c.code, "code", st.Code, "batch", st.BatchNo, "err", err)
	}
	if recSize <= a.eventBytes {
		return fmt.Sprintf("记录连同附件共 %d 字节，超过医院单条消息上限 %d 字节，未能接收；医院配置附件目录后请再次下发", eventSize, a.eventBytes)
	}
	return fmt.Sprintf("记录过大（%d 字节），超过医院单条消息上限 %d 字节，未能接收；请核实该记录（如明细或附件条目过多）", recSize, a.eventBytes)
}

// invalidRecords validates the stored batch against the schema's output
// fields and returns the reason per failing record index.
func (a *Adapter) invalidRecords(c *siteConfig, st *dlState) map[int]string {
	out := map[int]string{}
	sc, ok := c.schemas.Get(Name, st.Code)
	if !ok {
		return out
	}
	recs := make([]any, len(st.Records))
	for i, r := range st.Records {
		var v any
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		_ = dec.Decode(&v)
		recs[i] = v
	}
	hasMore := "0"
	if st.HasMore {
		hasMore = "1"
	}
	doc := map[string]any{"batch_no": st.BatchNo, "record_count": json.Number(strconv.Itoa(len(recs))), "has_more": hasMore, "records": recs}
	for _, fe := range sc.ValidateOutput(doc, validateLenient) {
		rest, ok := strings.CutPrefix(fe.Path, "$.records[")
		if !ok {
			continue
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			continue
		}
		i, err := strconv.Atoi(rest[:end])
		if err != nil || i < 0 || i >= len(recs) {
			continue
		}
		if _, seen := out[i]; !seen {
			out[i] = "记录不符合接口规范: " + fe.Path + " " + fe.Rule
		}
	}
	return out
}

// downloaded records what a downloaded record tells the business rules.
func (a *Adapter) downloaded(ctx context.Context, h sdk.Host, code, batchNo string, rec map[string]any) error {
	now := a.now().UTC()
	switch code {
	case "GYD001":
		no := str(rec, "apply_no")
		var st applyState
		if _, err := getJSON(ctx, h, "apply/"+no, &st); err != nil {
			return err
		}
		if st.Status == applyAudited {
			return nil
		}
		return putJSON(ctx, h, "apply/"+no, applyState{Status: applyDownloaded, BatchNo: batchNo,
			FilingType: str(rec, "filing_type"), AKB020: str(rec, "akb020"), Person: personKey(str(rec, "aac002")),
			AAB299: str(rec, "aab299"), AAE030: str(rec, "aae030"), AAE031: str(rec, "aae031"), At: now})
	case "GYD006":
		no := str(rec, "filing_no")
		var cur filingState
		ver, err := getJSON(ctx, h, "filing/"+no, &cur)
		if err != nil {
			return err
		}
		f := filingState{Status: str(rec, "filing_status"), Person: personKey(str(rec, "aac002")),
			AKB020: str(rec, "akb020"), AAB299: str(rec, "aab299"), AAE030: str(rec, "aae030"), AAE031: str(rec, "aae031")}
		if ver > 0 && cur.invalid() && !f.invalid() {
			f.Status = cur.Status // a filing never returns from invalid to valid
		}
		// At an institution not known here the type is a guess that
		// refuses nothing (InstGuessed), as for a filing uploaded there.
		if f.InstType, f.InstGuessed, err = a.instTypeOf(ctx, h, f.AKB020, str(rec, "filing_type")); err != nil {
			return err
		}
		return a.putFiling(ctx, h, no, f)
	case "GYD009":
		return putJSON(ctx, h, "inst/"+str(rec, "akb020"), instFrom(rec, now))
	case "GYD101":
		return putJSON(ctx, h, "dladm/"+str(rec, "akb020")+"/"+str(rec, "akc190"), dlAdmission{YKC700: str(rec, "ykc700"), At: now})
	case "GYD402":
		return update(ctx, h, "dladm/"+str(rec, "akb020")+"/"+str(rec, "akc190"), func(d *dlAdmission, exists bool) error {
			if !exists || d.YKC700 != str(rec, "ykc700") {
				return errSkip
			}
			d.Revoked = true
			return nil
		})
	case "GYD102":
		return update(ctx, h, "dldet/"+str(rec, "ykc700"), func(m *map[string]bool, _ bool) error {
			if *m == nil {
				*m = map[string]bool{}
			}
			(*m)[str(rec, "detail_no")] = str(rec, "revoked") == "1"
			return nil
		})
	case "GYD401":
		// Revoke the local details, then download the visit's complete
		// details again (after this batch: download's follow-ups).
		list, _ := rec["details"].([]any)
		only := map[string]bool{}
		for _, x := range list {
			d, _ := x.(map[string]any)
			only[str(d, "detail_no")] = true
		}
		hadDetails := false
		if err := update(ctx, h, "dldet/"+str(rec, "ykc700"), func(m *map[string]bool, exists bool) error {
			if !exists {
				return errSkip
			}
			hadDetails = true
			for k := range *m {
				if len(only) == 0 || only[k] {
					(*m)[k] = true
				}
			}
			return nil
		}); err != nil {
			return err
		}
		// GYD102 may only be asked for an admission downloaded here
		// (GYD101; requirement 11): a revocation of a stay this site
		// never downloaded has nothing here to replace, and a complete
		// re-download of it would be refused on every run.
		var adm dlAdmission
		ver, err := getJSON(ctx, h, "dladm/"+str(rec, "akb020")+"/"+str(rec, "akc190"), &adm)
		if err != nil {
			return err
		}
		if !hadDetails && (ver == 0 || adm.YKC700 != str(rec, "ykc700")) {
			a.log.Info("fee-detail revocation of an admission not downloaded here; no complete re-download", "code", code,
				"batch", batchNo, "revoke_no", str(rec, "revoke_no"))
			return nil
		}
		return putJSON(ctx, h, "redl/GYD102/"+str(rec, "akb020")+"/"+str(rec, "akc190"),
			map[string]any{"akb020": str(rec, "akb020"), "akc190": str(rec, "akc190"), "ykc700": str(rec, "ykc700"), "full_flag": "1"})
	case "GYD004":
		return a.deductionDownloaded(ctx, h, rec) // lifecycle.go
	case "GYD404":
		if err := a.deductionRevocationDownloaded(ctx, h, rec); err != nil { // lifecycle.go
			return err
		}
		return putJSON(ctx, h, "redl/GYD004/"+str(rec, "settle_no"), map[string]any{"settle_no": str(rec, "settle_no"), "full_flag": "1"})
	}
	return nil
}

// feedbackDue waits before the next try of a feedback that got no
// trustworthy answer. The feedback is due within uploadDeadline of the
// download (the 30-minute rule): it is retried with backoff inside the
// run; past the deadline an event (workinjury.feedback.late) is published
// and an error logged once per batch, and it is still retried. One run
// retries for at most one uploadDeadline; the next run carries on.
func (a *Adapter) feedbackDue(ctx context.Context, h sdk.Host, c *siteConfig, st *dlState, runStart time.Time, tries int, cause error) error {
	now := a.now()
	if !st.StoredAt.IsZero() && now.After(st.StoredAt.Add(c.deadline)) {
		a.feedbackLate(ctx, h, c, st, now, cause)
	}
	wait := time.Second << min(tries-1, 10)
	if wait > c.fbBackoff {
		wait = c.fbBackoff
	}
	if now.Add(wait).After(runStart.Add(c.deadline)) {
		return fmt.Errorf("%w; the feedback is retried by the next run", cause)
	}
	a.log.Warn("feedback got no trustworthy answer; retrying", "site", c.code, "code", st.Code, "batch", st.BatchNo, "try", tries, "wait", wait.String(), "err", pii.Text(cause.Error()))
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w; stopped: %w", cause, ctx.Err())
	case <-time.After(wait):
		return nil
	}
}

// feedbackRefusedWait waits before the n-th resend of a feedback the
// national system refused (cause): 1s, 2s, 4s …, at most feedbackMaxBackoff.
func (a *Adapter) feedbackRefusedWait(ctx context.Context, c *siteConfig, st *dlState, n int, cause error) error {
	wait := min(time.Second<<min(n-1, 10), c.fbBackoff)
	a.log.Warn("the national system refused the download feedback (GYU008); sending it again under a new serial", "site", c.code, "code", st.Code,
		"batch", st.BatchNo, "try", n+1, "of", feedbackRefusedTries, "wait", wait.String(), "err", pii.Text(cause.Error()))
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w; stopped: %w", cause, ctx.Err())
	case <-time.After(wait):
		return nil
	}
}

// feedbackPending is a run that stopped before the feedback (GYU008) of a
// stored batch was accepted: the batch and when its feedback is due (the
// 30-minute rule, from when the batch was stored).
type feedbackPending struct {
	code, batch string
	due, now    time.Time
	err         error
}

func (e *feedbackPending) Error() string {
	if e.now.After(e.due) {
		return fmt.Sprintf("%v; the feedback of %s batch %s is late: it was due at %s, %s ago", e.err, e.code, e.batch,
			e.due.In(cst).Format(redeliveryLayout), e.now.Sub(e.due).Round(time.Second))
	}
	return fmt.Sprintf("%v; the feedback of %s batch %s is due at %s, in %s", e.err, e.code, e.batch,
		e.due.In(cst).Format(redeliveryLayout), e.due.Sub(e.now).Round(time.Second))
}

func (e *feedbackPending) Unwrap() error { return e.err }

// late reports whether the feedback is past its deadline.
func (e *feedbackPending) late() bool { return e.now.After(e.due) }

// pending wraps err, which stopped the feedback of the batch of st.
func (a *Adapter) pending(c *siteConfig, st *dlState, err error) error {
	if st.StoredAt.IsZero() {
		return err
	}
	return &feedbackPending{code: st.Code, batch: st.BatchNo, due: st.StoredAt.Add(c.deadline), now: a.now(), err: err}
}

// feedbackLate reports a feedback past its deadline, once per batch.
func (a *Adapter) feedbackLate(ctx context.Context, h sdk.Host, c *siteConfig, st *dlState, now time.Time, cause error) {
	key := "dl/" + st.Code + "/late"
	var batch string
	if _, err := getJSON(ctx, h, key, &batch); err != nil || batch == st.BatchNo {
		return
	}
	due := st.StoredAt.Add(c.deadline)
	a.log.Error("ALERT: download feedback (GYU008) past its 30-minute deadline; it is still sent until accepted", "site", c.code, "code", st.Code,
		"batch", st.BatchNo, "storedAt", st.StoredAt, "overdue", now.Sub(due).Round(time.Second).String(), "err", cause)
	payload, _ := marshal(map[string]any{"site": c.code, "downloadCode": st.Code, "batchNo": st.BatchNo, "storedAt": st.StoredAt,
		"deadline": due, "overdueSeconds": int64(now.Sub(due) / time.Second), "error": cause.Error()})
	ev := sdk.Event{ID: Name + "/" + c.code + "/feedback-late/" + st.Code + "/" + st.BatchNo, Type: "workinjury.feedback.late", Key: st.BatchNo,
		Payload: payload, OccurredAt: now, Headers: map[string]string{"workinjury-download-code": st.Code, "workinjury-batch": st.BatchNo}}
	if err := h.Publish(ctx, ev); err != nil {
		a.log.Warn("cannot publish the late-feedback event", "err", err)
		return
	}
	_ = putJSON(ctx, h, key, st.BatchNo)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// event builds the event of one record, downloading its attachments
// (GYD054). A non-empty reason means the record cannot be delivered and is
// fed back as failed; an error is transient and stops the run.
func (a *Adapter) event(ctx context.Context, h sdk.Host, c *siteConfig, messageID string, st *dlState, rec map[string]any, id string) (sdk.Event, string, error) {
	var atts []map[string]any
	var inline int64
	list, _ := rec["attachments"].([]any)
	for _, x := range list {
		ref, _ := x.(map[string]any)
		aid := str(ref, "attachment_id")
		if aid == "" {
			continue
		}
		serial, err := a.newSerial(ctx, h, c)
		if err != nil {
			return sdk.Event{}, "", err
		}
		out := a.call(ctx, h, c, messageID, "GYD054", serial, map[string]any{"attachment_id": aid})
		switch out.kind {
		case kindOK:
		case kindRejected:
			return sdk.Event{}, fmt.Sprintf("附件 %s 下载失败: %s %s", aid, out.code, out.message), nil
		default:
			return sdk.Event{}, "", &dlError{err: fmt.Errorf("download attachment %s of record %s: %w", aid, id, out.err)}
		}
		// The attachment asked for, whole, or the record is fed back as
		// failed and offered again (attachanswer.go).
		f, content, problem := attachmentAnswer(aid, out.output)
		if problem != "" {
			a.log.Warn("a GYD054 answer is not the attachment asked for; the record is fed back as failed", "site", c.code, "code", st.Code, "batch", st.BatchNo, "record", id, "serial", serial, "problem", problem)
			return sdk.Event{}, problem, nil
		}
		sum := sha256.Sum256(content)
		entry := map[string]any{
			"attachment_id": aid, "attachment_type": firstNonEmpty(str(f, "attachment_type"), str(ref, "attachment_type")),
			"file_name": str(f, "file_name"), "file_format": str(f, "file_format"),
			"size": len(content), "sha256": hex.EncodeToString(sum[:]),
		}
		// Content that is not what its name says is delivered marked,
		// with an ALERT (attachanswer.go).
		if fp := downloadedFormat(str(f, "file_name"), str(f, "file_format"), content); fp != "" {
			a.attachmentFormatAlert(ctx, h, c, aid, serial, fp, content, map[string]any{"downloadCode": st.Code, "batchNo": st.BatchNo, "recordId": id})
			entry["format_problem"] = "attachment " + aid + " is not what its name says: " + fp + "; " + formatFix + " (serial " + serial + ")"
		}
		if c.attachmentDir != "" {
			dir := filepath.Join(c.attachmentDir, unsafeName.ReplaceAllString(c.code, "_"), st.Code)
			name := unsafeName.ReplaceAllString(aid, "_")
			if name != aid || strings.Trim(name, ".") == "" {
				// Ids that differ only in characters a file name cannot
				// keep ("附件1", "文档1"), and "." or "..", which name a
				// directory: the id's hash keeps the file its own.
				idSum := sha256.Sum256([]byte(aid))
				name += "-" + hex.EncodeToString(idSum[:6])
			}
			if ext := unsafeName.ReplaceAllString(str(f, "file_format"), "_"); ext != "" {
				name += "." + ext
			}
			path := filepath.Join(dir, name)
			if err := writeFile(path, content); err != nil {
				return sdk.Event{}, "", fmt.Errorf("store attachment %s: %w; check attachmentDir", aid, err)
			}
			entry["path"] = path
		} else {
			inline += int64(len(content))
			if inline > c.maxInline {
				return sdk.Event{}, fmt.Sprintf("附件合计超过 %d 字节，请配置 attachmentDir 后重新下载", c.maxInline), nil
			}
			entry["file_content"] = str(f, "file_content")
		}
		atts = append(atts, entry)
	}
	evID := Name + "/" + c.code + "/" + st.Code + "/" + eventKey(st.Code, rec, id)
	v := str(rec, "update_time")
	if v != "" {
		evID += "@" + v
	}
	byBatch := v == "" || str(st.Input, "full_flag") == "1"
	if byBatch {
		// A record without update_time is handed out again when it
		// changed (a settlement revoked, a deduction revoked), and a
		// complete re-download delivers the records again on purpose:
		// the batch tells these deliveries apart, and stays the same
		// when the batch is published again.
		evID += "@" + st.BatchNo
	}
	// The id names the record's content as well: a record changed
	// without a new update_time (update_time has second resolution, so
	// two changes within a second share it) must not reuse the id of its
	// earlier version, which deduplication by id downstream would drop.
	// The same content, published again, keeps its id.
	canon, err := json.Marshal(rec) // map keys sorted, numbers as written
	if err != nil {
		return sdk.Event{}, "", err
	}
	contentSum := sha256.Sum256(canon)
	evID += "#" + hex.EncodeToString(contentSum[:6])
	body := map[string]any{
		"site": c.code, "downloadCode": st.Code, "batchNo": st.BatchNo, "record": rec, "attachments": atts,
	}
	if st.Redelivery != "" && !newSince(v, st.RedeliveryBefore) {
		// Handed out again after a date-range GYR005 (a record changed
		// after the GYR005 is new: it keeps its ordinary id): an id of its own
		// (the same whenever this batch is published again), so that a
		// platform dropping known ids does not drop the re-delivery staff
		// asked for. An id that does not name its batch is the one the
		// record had when delivered before (same update_time, same
		// content): the event names it. One that names its batch named
		// another batch then, which is not known here.
		if !byBatch {
			body["redeliveryOf"] = evID
		}
		evID += "~" + st.Redelivery
	}
	payload, err := marshal(body)
	if err != nil {
		return sdk.Event{}, "", err
	}
	return sdk.Event{
		ID: evID, Type: eventTypes[st.Code], Key: id, Payload: payload, OccurredAt: a.now(),
		Headers: map[string]string{"workinjury-download-code": st.Code, "workinjury-batch": st.BatchNo},
	}, "", nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// writeFile writes data atomically with mode 0640.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".att-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o640); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// feedback acknowledges the stored batch with GYU008, exactly once.
func (a *Adapter) feedback(ctx context.Context, h sdk.Host, c *siteConfig, messageID, key string, st *dlState, ver *int64, sum *dlSummary) error {
	pr := dlProgress{BatchNo: st.BatchNo, Published: len(st.Records), Failed: st.Failed}
	if st.Failed == nil {
		// A state written before the failures were kept in it: they are
		// in the progress, if it is still this batch's (checked below).
		if _, err := getJSON(ctx, h, key+"/progress", &pr); err != nil {
			return err
		}
	}
	if st.FeedbackSent {
		r, err := a.reconcile(ctx, h, c, messageID, "GYU008", st.FeedbackSerial, st.FeedbackDate)
		if err != nil {
			return &dlError{unknown: true, err: fmt.Errorf("reconcile the feedback of batch %s (serial %s) with GYD053: %w; nothing is resent until it answers", st.BatchNo, st.FeedbackSerial, err)}
		}
		switch r.status {
		case transOK:
			a.log.Info("feedback of an interrupted run was accepted (GYD053); not sending it again", "site", c.code, "code", st.Code, "batch", st.BatchNo,
				"part", st.FeedbackParts+1)
			return a.fedBack(ctx, h, c, key, st, ver, pr, sum, feedbackRecords(c, st, pr))
		case transPending:
			return &dlError{unknown: true, err: fmt.Errorf("the feedback of batch %s (serial %s) is still being processed; the next run asks again", st.BatchNo, st.FeedbackSerial)}
		}
		serial, err := a.newSerial(ctx, h, c)
		if err != nil {
			return err
		}
		st.FeedbackSerial, st.FeedbackDate = serial, a.now().In(cst).Format("2006-01-02")
	}
	if pr.BatchNo != st.BatchNo {
		// Another batch's progress (a stale write of another run) tells
		// nothing about the records of this one: the batch is published
		// again (under the same event ids) to learn them, rather than
		// acknowledging records that were never delivered.
		a.log.Warn("the progress of the batch to feed back is not its own; publishing the batch again", "site", c.code, "code", st.Code,
			"batch", st.BatchNo, "progressBatch", pr.BatchNo)
		st.Step, st.FeedbackSent = stepStored, false
		return a.save(ctx, h, key, st, ver)
	}
	records := feedbackRecords(c, st, pr)
	part, n, parts := feedbackPart(c, st, records)
	in := map[string]any{"download_code": st.Code, "batch_no": st.BatchNo, "record_count": len(part), "records": part}
	if parts > 1 {
		a.log.Info("feeding back a batch above the limit in parts", "site", c.code, "code", st.Code, "batch", st.BatchNo, "part", n, "parts", parts, "records", len(part))
	}
	if now := a.now(); !st.StoredAt.IsZero() && now.After(st.StoredAt.Add(c.deadline)) {
		// Sent past its deadline (the run that stored the batch stopped
		// before its feedback, and nothing failed since): late all the
		// same, and flagged before it goes.
		a.feedbackLate(ctx, h, c, st, now, fmt.Errorf("the feedback of batch %s is sent %s after the batch was stored, past the %s deadline",
			st.BatchNo, now.Sub(st.StoredAt).Round(time.Second), c.deadline))
	}
	if err := a.at("feedback:sending"); err != nil {
		return err
	}
	// The day GYD053 is asked about is the day the feedback goes out, not
	// the day its serial was drawn (a run stopped before sending it, or a
	// refusal, may lie across midnight).
	st.FeedbackSent, st.FeedbackDate = true, a.now().In(cst).Format("2006-01-02")
	if err := a.save(ctx, h, key, st, ver); err != nil {
		return err
	}
	out := a.call(ctx, h, c, messageID, "GYU008", st.FeedbackSerial, in)
	if err := a.at("feedback:answered"); err != nil {
		return err
	}
	switch out.kind {
	case kindOK:
		return a.fedBack(ctx, h, c, key, st, ver, pr, sum, records)
	case kindRejected, kindLocal:
		st.FeedbackSent = false
		if out.kind == kindRejected {
			// The refused serial is spent: the next try needs a new one.
			serial, err := a.newSerial(ctx, h, c)
			if err != nil {
				return err
			}
			st.FeedbackSerial, st.FeedbackDate = serial, a.now().In(cst).Format("2006-01-02")
		}
		if err := a.save(ctx, h, key, st, ver); err != nil {
			return err
		}
		if out.kind == kindLocal {
			return &dlError{err: out.err}
		}
		// A batch acknowledged some other way is refused on every try:
		// GYD008 tells whether it is still outstanding; if not, it is
		// closed instead of sending the feedback again and again.
		if b, err := a.outstanding(ctx, h, c, messageID, st.Code); err == nil && b != st.BatchNo {
			a.log.Warn("the feedback was refused and GYD008 no longer lists the batch (acknowledged some other way); closing it",
				"site", c.code, "code", st.Code, "batch", st.BatchNo, "serial", out.serial, "extCode", out.code, "extMsg", pii.Text(out.message), "failedRecords", len(pr.Failed))
			return a.batchDone(ctx, h, key, st, ver, pr, sum)
		}
		return &dlError{rejected: true, feedbackOf: st.BatchNo, serial: out.serial, code: out.code, message: out.message}
	default:
		return &dlError{unknown: true, err: fmt.Errorf("feedback of batch %s: %w", st.BatchNo, out.err)}
	}
}

// feedbackRecords are the GYU008 records of the batch of st, one per
// record id, flagged with what pr says was delivered.
func feedbackRecords(c *siteConfig, st *dlState, pr dlProgress) []map[string]any {
	records := make([]map[string]any, 0, len(st.Records))
	withStay := st.Code == "GYD102" && feedbackHasStay(c)
	reasonField := feedbackField(c, "fail_reason")
	fail := func(r map[string]any, reason string) {
		r["result_flag"] = "0"
		if why := failReason(reasonField, reason); why != "" {
			r["fail_reason"] = why
		}
	}
	// A record handed out twice in the batch (two changes of it between
	// downloads) is fed back once: GYU008 acknowledges records by their
	// unique id, and a feedback naming one twice is refused, which would
	// leave the batch unacknowledged for good. Its flag is that of its
	// last copy, the record as it is now (publish keeps the failure of
	// the last copy only).
	seen := map[string]bool{}
	for i, raw := range st.Records {
		var rec map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		_ = dec.Decode(&rec)
		id := recordID(st.Code, rec)
		if id == "" {
			id = fmt.Sprintf("#%d", i)
		}
		fk := failureKey(st.Code, rec, id)
		if seen[fk] {
			continue
		}
		seen[fk] = true
		reason, bad := failedReason(pr.Failed, fk, id)
		r := map[string]any{"record_id": id, "result_flag": "1"}
		if y := str(rec, "ykc700"); withStay && y != "" {
			// Details of two stays may share a detail_no in one batch.
			r["ykc700"] = y
		}
		if bad {
			fail(r, reason)
		}
		records = append(records, r)
	}
	return records
}

// feedbackPart returns the records the next GYU008 of st carries: all of
// them, or, for a batch above the GYU008 limit (a national system that
// broke its own, 单次最多下载500条), part n of parts, at most the limit
// each, in the batch's order (st.FeedbackParts parts accepted before it).
func feedbackPart(c *siteConfig, st *dlState, records []map[string]any) (part []map[string]any, n, parts int) {
	limit := batchLimit(c, "GYU008")
	parts = max(1, (len(records)+limit-1)/limit)
	if parts == 1 {
		return records, 1, 1
	}
	from := min(st.FeedbackParts*limit, len(records))
	return records[from:min(from+limit, len(records))], st.FeedbackParts + 1, parts
}

// fedBack moves the feedback of st on once the national system accepted
// its GYU008 (or the part of it feedbackPart named): to the next part,
// under a serial of its own, else the batch is done.
func (a *Adapter) fedBack(ctx context.Context, h sdk.Host, c *siteConfig, key string, st *dlState, ver *int64, pr dlProgress, sum *dlSummary, records []map[string]any) error {
	_, n, parts := feedbackPart(c, st, records)
	if parts == 1 {
		return a.batchDone(ctx, h, key, st, ver, pr, sum)
	}
	st.FeedbackParts = n
	if n >= parts {
		return a.batchDone(ctx, h, key, st, ver, pr, sum)
	}
	serial, err := a.newSerial(ctx, h, c)
	if err != nil {
		return err
	}
	st.FeedbackSent, st.FeedbackSerial, st.FeedbackDate = false, serial, a.now().In(cst).Format("2006-01-02")
	if err := a.save(ctx, h, key, st, ver); err != nil {
		return err
	}
	a.log.Info("feedback part accepted", "site", c.code, "code", st.Code, "batch", st.BatchNo, "part", n, "parts", parts)
	return nil
}

// overLimit tells operators of a batch above the batch limit, stored and
// delivered all the same (an ALERT line, a
// workinjury.download.batch_over_limit event, never a record): the
// national system broke its own limit, and only its operators can see
// why.
func (a *Adapter) overLimit(ctx context.Context, h sdk.Host, c *siteConfig, st *dlState, serial string) {
	limit := batchLimit(c, st.Code)
	fbLimit := batchLimit(c, "GYU008")
	parts := (len(st.Records) + fbLimit - 1) / fbLimit
	fix := fmt.Sprintf("every record is stored and published, and the batch is fed back in %d GYU008 calls of at most %d records (单次最多上传500条); report the batch to the national system's operators, and, should they refuse a feedback in parts, ask them how to acknowledge it", parts, fbLimit)
	a.log.Error("ALERT: the national system handed out a download batch above the batch limit (单次最多下载500条); it is delivered and fed back in parts",
		"site", c.code, "code", st.Code, "batch", st.BatchNo, "records", len(st.Records), "limit", limit, "serial", serial, "fix", fix)
	payload, err := marshal(map[string]any{"site": c.code, "downloadCode": st.Code, "batchNo": st.BatchNo, "serial": serial,
		"records": len(st.Records), "limit": limit, "feedbackParts": parts, "fix": fix})
	if err == nil {
		err = h.Publish(ctx, sdk.Event{ID: Name + "/" + c.code + "/batch-over-limit/" + st.Code + "/" + st.BatchNo,
			Type: "workinjury.download.batch_over_limit", Key: st.BatchNo, Payload: payload, OccurredAt: a.now()})
	}
	if err != nil {
		a.log.Warn("cannot publish workinjury.download.batch_over_limit; the ALERT above stands for it", "site", c.code, "code", st.Code, "batch", st.BatchNo, "err", err)
	}
}

func (a *Adapter) batchDone(ctx context.Context, h sdk.Host, key string, st *dlState, ver *int64, pr dlProgress, sum *dlSummary) error {
	bs := batchSummary{BatchNo: st.BatchNo, RecordCount: len(st.Records), Published: len(st.Records) - len(pr.Failed), Failed: len(pr.Failed), HasMore: st.HasMore,
		FeedbackParts: st.FeedbackParts}
	if len(pr.Failed) > 0 {
		bs.Undelivered = maps.Clone(pr.Failed)
	}
	sum.Batches = append(sum.Batches, bs)
	if st.Code == "GYD009" {
		sum.Records = append(sum.Records, st.Records...)
	}
	chunks := st.ChunkPrefix
	st.Step, st.LastBatchNo, st.Records, st.Failed, st.FeedbackSent = stepDone, st.BatchNo, nil, nil, false
	st.Inline, st.ChunkPrefix, st.Chunks, st.RecordCount, st.Parts = nil, "", nil, 0, nil
	st.FeedbackParts = 0
	st.Batches++
	if err := a.save(ctx, h, key, st, ver); err != nil {
		return err
	}
	a.dropChunks(ctx, h, chunks)
	if err := h.Delete(ctx, key+"/progress"); err != nil {
		a.log.Warn("cannot clear download progress", "code", st.Code, "err", err)
	}
	if bs.Failed > 0 {
		a.log.Warn("download batch acknowledged with records that could not be delivered (fed back as failed; offered again)", "code", st.Code,
			"batch", bs.BatchNo, "records", bs.RecordCount, "failed", bs.Failed, "undelivered", slices.Sorted(maps.Keys(bs.Undelivered)))
	} else {
		a.log.Info("download batch acknowledged", "code", st.Code, "batch", bs.BatchNo, "records", bs.RecordCount, "failed", bs.Failed)
	}
	return nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// handleDownload runs one download batch for a message (after finishing an
// interrupted one) and replies with the summary.
func (a *Adapter) handleDownload(ctx context.Context, req *sdk.HandleRequest, c *siteConfig, code string, doc map[string]any) *sdk.HandleResponse {
	sum, err := a.download(ctx, req.Host, c, req.MessageID, code, doc, 1, 1)
	if err != nil {
		var fc *fetchClaimedError
		if errors.As(err, &fc) {
			return fc.response()
		}
		var de *dlError
		if errors.As(err, &de) && de.rejected && de.feedbackOf != "" {
			// The download was not refused, its feedback was: final, the
			// reply would leave the batch unacknowledged with nothing to
			// send the feedback again (no job runs an on-demand download),
			// and the national system hands out no new batch of the code
			// until it is acknowledged. The retry of the message sends it.
			r := failed(true, "feedback", "the national system refused the download-result feedback (GYU008) of the "+code+
				" batch "+de.feedbackOf+"; its records were published, and the retry of this message sends the feedback again", err.Error())
			r.External = &sdk.External{System: systemName, Code: de.code, Message: de.message, MsgID: de.serial}
			return r
		}
		if errors.As(err, &de) && de.rejected {
			return rejected(code, de.serial, de.code, de.message)
		}
		return failed(true, "unavailable", "the "+code+" download did not complete; it resumes from its stored step", err.Error())
	}
	payload, err := marshal(sum)
	if err != nil {
		return failed(false, "internal", "cannot encode the download summary", err.Error())
	}
	resp := &sdk.HandleResponse{Status: sdk.StatusOK, Payload: payload, External: &sdk.External{System: systemName, Code: "0"}}
	warnUndelivered(sum, &resp.Diagnostics)
	for _, r := range sum.Refused {
		what := fmt.Sprintf("the national system refused the complete re-download %s %v (refusal %d of %d)", r.Code, r.Input, r.Refusals, redownloadTries)
		next := "it is asked for again by the next " + code + " download"
		if r.Dropped {
			what, next = fmt.Sprintf("the complete re-download %s %v was refused %d times and is dropped", r.Code, r.Input, r.Refusals),
				"the records it would replace stay as downloaded before; download them by hand ("+r.Code+" with full_flag 1) or find out why they are refused (event workinjury.redownload.dropped)"
		}
		resp.Diagnostics.Warn("", "follow-up", what, fmt.Sprintf("code %s: %s (serial %s); %s", r.ExtCode, r.Message, r.Serial, next))
	}
	return resp
}

// applicationsAwaitingAudit returns the numbers of the GYD001 applications
// downloaded here whose audit result (GYU001) has not been accepted, in
// key order, leaving out those whose GYU001 the national system refused
// (it may have audited them itself; GYU001 may only audit applications it
// has not): they are reported to staff by that refusal and must not hold
// every later application back.
func (a *Adapter) applicationsAwaitingAudit(ctx context.Context, h sdk.Host) ([]string, error) {
	es, err := h.Scan(ctx, "apply/", 0)
	if err != nil {
		return nil, fmt.Errorf("read the downloaded applications (pendingAuditCheck local): %w", err)
	}
	var out []string
	for _, e := range es {
		var st applyState
		if err := decodeJSON(e.Value, &st); err != nil {
			return nil, fmt.Errorf("read state %s: %w", e.Key, err)
		}
		if st.Status == applyDownloaded && !st.AuditRefused {
			out = append(out, strings.TrimPrefix(e.Key, "apply/"))
		}
	}
	return out, nil
}

// heldMessage says why GYD001 fetched nothing new and what staff do.
func heldMessage(nos []string) string {
	const show = 10
	list := strings.Join(nos[:min(len(nos), show)], ", ")
	if len(nos) > show {
		list += fmt.Sprintf(" and %d more", len(nos)-show)
	}
	return fmt.Sprintf("no new GYD001 batch: %d application(s) downloaded here await their audit result (%s); "+
		"upload each with workinjury.GYU001 and the next run downloads again (pendingAuditCheck local)", len(nos), list)
}
