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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// validateLenient accepts members the schema does not declare in answers of
// the national system (a newer specification may add fields).
var validateLenient = schemas.ValidateOptions{AllowUnknown: true}

// RunJob implements sdk.Plugin.
func (a *Adapter) RunJob(ctx context.Context, req *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	c, err := a.site(req.Site)
	if err != nil {
		return nil, err
	}
	msgID := "job/" + req.Job + "/" + req.TraceID
	switch req.Job {
	case JobFilingApplications, JobFilings:
		sum, err := a.download(ctx, req.Host, c, msgID, req.Job, map[string]any{"aab299": c.region}, c.maxBatches, feedbackRefusedTries)
		resp := &sdk.RunJobResponse{Processed: sum.published(), Summary: fmt.Sprintf("%s: %d batch(es), %d record(s) published", req.Job, len(sum.Batches), sum.published())}
		if fc := (*fetchClaimedError)(nil); errors.As(err, &fc) {
			// Another run is fetching the code, or recovering its lost
			// fetch: this run leaves it to that one, as a message would.
			// Nothing failed, so no error (which the job list shows and
			// the stall alert counts).
			a.log.Info("scheduled download skipped: another run is fetching the code", "site", c.code, "code", req.Job, "err", err)
			resp.Summary += "; waiting: " + err.Error()
			return resp, nil
		}
		warnUndelivered(sum, &resp.Diagnostics)
		if err != nil {
			resp.Diagnostics.Error("", "download", req.Job+" download stopped; the next run resumes from the stored step", err.Error())
		}
		var fp *feedbackPending
		if errors.As(err, &fp) {
			// What is overdue, or about to be, in the job's result: the
			// next run is up to 30 minutes away.
			what := fmt.Sprintf("the download-result feedback (GYU008) of %s batch %s is not accepted yet; it is due at %s", fp.code, fp.batch, fp.due.In(cst).Format(redeliveryLayout))
			if fp.late() {
				resp.Diagnostics.Error("", "feedback-late", what+fmt.Sprintf(", %s ago (the 30-minute rule)", fp.now.Sub(fp.due).Round(time.Second)),
					"the next run sends it again; run it now with medgate job run "+Name+"/"+c.code+"/"+req.Job+", and if the national system keeps refusing it, ask its operators (the refusal is in the error above)")
			} else {
				resp.Diagnostics.Warn("", "feedback-due", what+fmt.Sprintf(", in %s", fp.due.Sub(fp.now).Round(time.Second)),
					"the next run sends it again; if that is after the deadline, run it now with medgate job run "+Name+"/"+c.code+"/"+req.Job)
			}
		}
		if sum.Held != "" {
			resp.Diagnostics.Warn(setPendingAudit, "precondition", req.Job+" held: applications await their audit", sum.Held)
		}
		return resp, nil
	case JobInstitutions:
		return a.uploadInstitutions(ctx, req.Host, c), nil
	case JobFeedback:
		return a.finishStored(ctx, req.Host, c, msgID), nil
	}
	return nil, fmt.Errorf("workinjury: unknown job %q (jobs: GYD001, GYD006, GYU009, GYU008)", req.Job)
}

// finishStored finishes the stored batches of the downloads no other job
// runs (GYD009, GYD101 … asked for by messages): a message whose feedback
// failed replies a retryable failure, but the host gives a download up
// after its retry budget, and the next message of the code may be days
// away, while the feedback is due within 30 minutes and the national
// system hands out nothing more of the code meanwhile. A batch stored or
// being fed back is taken up, and so is a fetch whose answer was lost
// (step fetching) once its state has not moved for longer than any fetch
// takes (the call timeout plus fetchStaleMargin): it is recovered as the
// next message would (GYD008, GYR005), claimed by compare-and-set first
// (downloadRun). A fresher fetch may be in flight and is left alone.
// Nothing new is fetched.
func (a *Adapter) finishStored(ctx context.Context, h sdk.Host, c *siteConfig, msgID string) *sdk.RunJobResponse {
	resp := &sdk.RunJobResponse{}
	finished := 0
	for _, code := range slices.Sorted(maps.Keys(eventTypes)) {
		if code == JobFilingApplications || code == JobFilings {
			continue // their own jobs finish them
		}
		var st dlState
		if _, err := getJSON(ctx, h, "dl/"+code, &st); err != nil {
			resp.Diagnostics.Error("", "state", "cannot read the "+code+" download workflow", err.Error())
			continue
		}
		stale := c.timeout + fetchStaleMargin
		lost := st.Step == stepFetching && st.FetchSerial != "" && a.now().Sub(st.UpdatedAt) > stale
		if st.Step != stepStored && st.Step != stepFeedback && !lost {
			continue
		}
		if lost {
			a.log.Info("recovering a download whose answer was lost: its state has not moved for longer than a fetch takes", "site", c.code, "code", code,
				"serial", st.FetchSerial, "since", st.UpdatedAt)
		} else {
			a.log.Info("finishing a stored download batch whose feedback is due", "site", c.code, "code", code, "batch", st.BatchNo, "step", st.Step)
		}
		sum, err := a.downloadRun(ctx, h, c, msgID, code, nil, 0, feedbackRefusedTries, stale)
		if errors.Is(err, sdk.ErrConflict) {
			// Another run (a message of the code) moved the workflow on
			// between the read and the claim: it acts, this job does not.
			a.log.Info("the download was moved on by another run; left to it", "site", c.code, "code", code)
			continue
		}
		finished += len(sum.Batches)
		resp.Processed += sum.published()
		warnUndelivered(sum, &resp.Diagnostics)
		if err != nil {
			resp.Diagnostics.Error("", "download", fmt.Sprintf("%s batch %s: its feedback is still not accepted; the next run of this job tries again", code, st.BatchNo), err.Error())
		}
	}
	resp.Summary = fmt.Sprintf("%s: %d stored batch(es) fed back", JobFeedback, finished)
	return resp
}

// uploadInstitutions uploads (GYU009) every institution of institutionsFile
// that is new or changed since its last accepted upload. Each upload is
// keyed by the institution and the hash of its content, so an interrupted
// run is reconciled (GYD053) rather than repeated.
func (a *Adapter) uploadInstitutions(ctx context.Context, h sdk.Host, c *siteConfig) *sdk.RunJobResponse {
	resp := &sdk.RunJobResponse{}
	if c.institutions == "" || !c.instFromFile {
		resp.Summary = "no institutionsFile configured (or institutionsSource excludes file); nothing to upload"
		return resp
	}
	data, err := os.ReadFile(c.institutions)
	if err != nil {
		resp.Diagnostics.Error(setInstitutionsFile, "precondition", "cannot read the institutions file", err.Error())
		return resp
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var list []map[string]any
	if err := dec.Decode(&list); err != nil {
		resp.Diagnostics.Error(setInstitutionsFile, "type", "the institutions file is not a JSON array of objects", err.Error())
		return resp
	}
	sc, ok := c.schemas.Get(Name, "GYU009")
	if !ok {
		resp.Diagnostics.Error("", "schema", "no GYU009 schema", "")
		return resp
	}
	uploaded, unchanged, unapproved := 0, 0, 0
	// Only approved institutions are uploaded; audit_status is the
	// source's, not the national system's, and is not sent.
	approved := make([]bool, len(list))
	for i, inst := range list {
		v, ok := inst["audit_status"]
		delete(inst, "audit_status")
		approved[i] = !ok || str(map[string]any{"v": v}, "v") == "1"
	}
	skip := listedTwice(c.institutions, list, approved, &resp.Diagnostics)
	for i, inst := range list {
		where := fmt.Sprintf("%s[%d]", c.institutions, i)
		if !approved[i] {
			unapproved++
			continue
		}
		if skip[i] {
			continue
		}
		var ds sdk.Diagnostics
		for _, fe := range sc.ValidateInput(inst) {
			ds.Error(where+" "+fe.Path, fe.Rule, fe.Message, "")
		}
		rds, err := a.checkRules(ctx, h, c, "job/GYU009", "GYU009", inst)
		if err != nil {
			resp.Diagnostics.Error(where, "state", "cannot read the adapter state", err.Error())
			return resp
		}
		for _, d := range rds {
			d.Field = where + " " + d.Field
			ds = append(ds, d)
		}
		if ds.HasError() {
			resp.Diagnostics = append(resp.Diagnostics, ds...)
			continue
		}
		canon, _ := json.Marshal(inst) // map keys are sorted: a stable text
		sum := sha256.Sum256(canon)
		hash := hex.EncodeToString(sum[:])
		akb020 := str(inst, "akb020")
		var up struct {
			Hash string `json:"hash"`
			// Seq counts the accepted uploads of the institution: a
			// content uploaded before (changed, then changed back) is a
			// new message, not the stored outcome of the old one.
			Seq int64 `json:"seq,omitempty"`
			// Refused counts the refusals of this content (RefusedHash)
			// since its last accepted upload: each next run uploads it
			// again as a new message, not answered with the stored
			// refusal (nothing but this job sends it again).
			Refused     int64  `json:"refused,omitempty"`
			RefusedHash string `json:"refusedHash,omitempty"`
		}
		if _, err := getJSON(ctx, h, "instup/"+akb020, &up); err != nil {
			resp.Diagnostics.Error(where, "state", "cannot read the adapter state", err.Error())
			return resp
		}
		if up.Hash == hash {
			unchanged++
			continue
		}
		msgID := "job/GYU009/" + akb020 + "/" + hash[:16]
		if up.Seq > 0 {
			msgID = fmt.Sprintf("job/GYU009/%s/%d/%s", akb020, up.Seq, hash[:16])
		}
		if up.RefusedHash == hash && up.Refused > 0 {
			msgID += fmt.Sprintf("/again%d", up.Refused)
		}
		r := a.upload(ctx, &sdk.HandleRequest{Site: c.code, MessageID: msgID, Host: h}, c, "GYU009", inst)
		switch r.Status {
		case sdk.StatusOK:
			up.Hash = hash
			up.Seq++
			up.Refused, up.RefusedHash = 0, ""
			if err := putJSON(ctx, h, "instup/"+akb020, up); err != nil {
				resp.Diagnostics.Error(where, "state", "cannot record the upload", err.Error())
				return resp
			}
			uploaded++
		case sdk.StatusRejected:
			if up.RefusedHash != hash {
				up.Refused, up.RefusedHash = 0, hash
			}
			up.Refused++
			if err := putJSON(ctx, h, "instup/"+akb020, up); err != nil {
				resp.Diagnostics.Error(where, "state", "cannot record the refusal", err.Error())
				return resp
			}
			for _, d := range r.Diagnostics {
				d.Field = where
				d.Detail += "; the next run uploads it again"
				resp.Diagnostics = append(resp.Diagnostics, d)
			}
		default:
			for _, d := range r.Diagnostics {
				d.Field = where
				resp.Diagnostics = append(resp.Diagnostics, d)
			}
		}
	}
	resp.Processed = int64(uploaded)
	resp.Summary = fmt.Sprintf("GYU009: %d institution(s) uploaded, %d unchanged, %d not approved, %d in the file", uploaded, unchanged, unapproved, len(list))
	return resp
}

// listedTwice finds the approved institutions the file lists more than
// once and returns the rows to leave out: every row of an institution
// listed with different contents, reported as an error naming its rows
// (uploading each on every run would flip the national record between
// them, and which is current is not known), and the repeats of a row
// listed again alike.
func listedTwice(file string, list []map[string]any, approved []bool, ds *sdk.Diagnostics) map[int]bool {
	rows := map[string][]int{}
	var order []string
	for i, inst := range list {
		if !approved[i] {
			continue
		}
		k := str(inst, "akb020")
		if k == "" {
			continue // reported by the schema check
		}
		if rows[k] == nil {
			order = append(order, k)
		}
		rows[k] = append(rows[k], i)
	}
	skip := map[int]bool{}
	for _, k := range order {
		is := rows[k]
		if len(is) < 2 {
			continue
		}
		first, _ := json.Marshal(list[is[0]])
		alike := true
		for _, i := range is[1:] {
			b, _ := json.Marshal(list[i]) // map keys are sorted: a stable text
			alike = alike && bytes.Equal(b, first)
		}
		if alike {
			for _, i := range is[1:] {
				skip[i] = true
			}
			continue
		}
		where := make([]string, len(is))
		for j, i := range is {
			where[j] = fmt.Sprintf("%s[%d]", file, i)
			skip[i] = true
		}
		ds.Error(strings.Join(where, ", "), "duplicate", "institution "+k+" is listed "+strconv.Itoa(len(is))+" times with different contents; none of them is uploaded",
			"keep one row per akb020 in the institutions file (the current one); the other institutions are uploaded as usual")
	}
	return skip
}

// fetchStaleMargin is how much longer than the call timeout a download's
// state stays in step fetching, unmoved, before the GYU008 job takes the
// fetch for one whose answer was lost (finishStored): beyond the call, a
// fetch stores the batch's chunks before it moves the step on.
const fetchStaleMargin = 2 * time.Minute
