package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/medgate/medgate/plugins/hsa"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// maxWarnings bounds the output warnings in a reply.
const maxWarnings = 10

// single runs one transaction whose payload is its input.
func (r *run) single(ctx context.Context, infno string) (resp *sdk.HandleResponse, err error) {
	m, bad := decode(r.req.Payload)
	if bad != nil {
		return bad, nil
	}
	sc, ok := r.s.set.Get("selfpay", infno)
	if !ok {
		return nil, fmt.Errorf("selfpay: schema selfpay/%s is missing", infno)
	}
	r.fillSingle(infno, m)
	ds := fieldDiags(sc.ValidateInput(m), infno+" input is not valid")
	switch infno {
	case "4201A":
		items, _ := m[nodeFees].([]any)
		ds = append(ds, r.feeRules(items, mdtrtIDOf(infno, m), "$."+nodeFees)...)
		feeWarnings(&ds, items, nil, "$."+nodeFees)
	case "4202":
		if md, ok := m[nodeMdtrt].(map[string]any); ok {
			r.checkCode(&ds, "$."+nodeMdtrt, md)
			visitTimeWarnings(&ds, "$."+nodeMdtrt, md)
		}
	case "4204":
		if fd, ok := m["feedetail"].(map[string]any); ok {
			r.checkCode(&ds, "$.feedetail", fd)
		}
		// Not passed, feedetl deletes every fee detail of the visit
		// (若费用明细流水信息不传，则删除全部): passed empty or null (a HIS
		// serializing the list of lines it found to delete, none), it
		// would wipe the visit's lines when the sender meant to delete none.
		if v, sent := m["feedetl"]; sent {
			if list, isList := v.([]any); v == nil || (isList && len(list) == 0) {
				ds.Error("$.feedetl", schemas.RuleRequired, "feedetl names no fee line to delete",
					"list the bkkp_sn of the lines to delete, or leave feedetl out to delete every fee detail of the visit (若费用明细流水信息不传，则删除全部费用明细)")
			}
		}
	case "4203", "4207", "4209":
		r.checkCode(&ds, "$", m)
	case "4208":
		begin, ok1 := visitTime(m, "begntime")
		end, ok2 := visitTime(m, "endtime")
		if ok1 && ok2 && end.Before(begin) {
			ds.Warn("$.endtime", "time", "the search's endtime is before its begntime",
				fmt.Sprintf("no visit can fall between begntime %s and endtime %s, so the platform lists none; swap them to search that period", str(m["begntime"]), str(m["endtime"])))
		}
	}
	if sc.Direction == schemas.DirectionQuery {
		pagesFromOne(&ds, m)
	}
	if ds.HasError() {
		return r.refuse(ctx, ds)
	}
	// What the checks warn of goes with every answer, the stored reply's too.
	defer func() { resp = withWarnings(resp, ds) }()
	if sc.Direction == schemas.DirectionQuery {
		return r.query(ctx, infno, sc, m)
	}
	st, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	if st != nil && st.Final != nil {
		r.claimed = st.MdtrtID // released if a crash left it claimed
		return st.Final.response(), nil
	}
	id := mdtrtIDOf(infno, m)
	if st != nil && (st.Op != infno || st.MdtrtID != id) {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.id", Rule: "state", Summary: "this message id was used for another operation",
			Detail: fmt.Sprintf("message %s started %s of visit %s; give every message its own id", r.req.MessageID, st.Op, st.MdtrtID)}), nil
	}
	if st == nil {
		// The state before the claim, as for an upload: a claim whose
		// message has no state is known to be left behind.
		st = &wfState{Op: infno, MdtrtID: id, Step: stepSingle, Started: r.a.now().UTC()}
		if err := r.save(ctx, st); err != nil {
			return nil, err
		}
	}
	// A single change of a visit waits for a workflow of the visit in
	// progress (and holds one back) as a workflow does: its call would
	// interleave with the workflow's 4204, 4201A and 4203 at the platform.
	if wait, err := r.claim(ctx, infno, id, claimField(infno)); wait != nil || err != nil {
		return wait, err
	}
	input := any(m)
	var sns []string
	if infno == "4201A" {
		for _, it := range m[nodeFees].([]any) {
			sns = append(sns, str(it.(map[string]any)["bkkp_sn"]))
		}
	}
	if st.Inflight != nil {
		done, rest, err := r.reconcileSingle(ctx, st, m)
		if err != nil {
			return r.stop(ctx, st, nil, unsettled(st.Inflight, err))
		}
		if done {
			if err := r.noteCompletion(ctx, infno, st.MdtrtID, m); err != nil {
				return nil, err
			}
			st.log(stepLog{Step: stepSingle, Infno: infno, MsgID: st.Inflight.MsgID, Outcome: outcomeReconciled, Message: "the platform already has it"})
			st.Inflight = nil
			return r.finishSingle(ctx, st, nil)
		}
		if rest != nil {
			input, sns = map[string]any{nodeFees: rest}, nil
			for _, it := range rest {
				sns = append(sns, str(it.(map[string]any)["bkkp_sn"]))
			}
		}
		st.Inflight = nil
	}
	res, err := r.send(ctx, st, stepSingle, 0, infno, input, sns)
	if err != nil {
		return r.stop(ctx, st, nil, err)
	}
	// Before the reply is stored: should this write fail, the message is
	// handled again, reconciles the call and writes it then.
	if err := r.noteCompletion(ctx, infno, st.MdtrtID, m); err != nil {
		return nil, err
	}
	st.log(stepResult(stepSingle, infno, 0, len(sns), res, nil))
	return r.finishSingle(ctx, st, res)
}

// pagesFromOne reports a query's page_num or page_size below 1, which the
// schemas (whole numbers of at most 4 digits) let through: pages count
// from 1 (当前页数), and a page holds at least one record (本页数据量).
func pagesFromOne(ds *sdk.Diagnostics, m map[string]any) {
	for _, k := range []string{"page_num", "page_size"} {
		v, ok := m[k]
		if !ok || v == nil || str(v) == "" {
			continue // required: the schema says so
		}
		if n, err := strconv.Atoi(strings.TrimSpace(str(v))); err == nil && n < 1 {
			ds.Error("$."+k, "range", k+" must be 1 or more",
				fmt.Sprintf("%d is not a page: pages count from 1 and hold at least one record; send page_num 1 for the first page and page_size up to 9999", n))
		}
	}
}

// claimField is the path of the visit in the input of a single
// transaction infno, for the diagnostics of its claim.
func claimField(infno string) string {
	switch infno {
	case "4201A":
		return "$." + nodeFees + "[0].fixmedins_mdtrt_id"
	case "4202":
		return "$." + nodeMdtrt + ".fixmedins_mdtrt_id"
	case "4204":
		return "$.feedetail.fixmedins_mdtrt_id"
	}
	return "$.fixmedins_mdtrt_id"
}

// noteCompletion records what a single 4203 that took effect changed in
// the record of a visit medgate uploaded (patient/<id>), so that
// import-pending and the check refusing a second upload of a completed
// visit follow the platform: cplt_flag=1, uploaded and complete;
// cplt_flag=0, withdrawn (cancelled: the visit is open, to be uploaded
// again). A visit medgate holds no record of is left alone: medgate
// knows nothing else of it.
func (r *run) noteCompletion(ctx context.Context, infno, mdtrtID string, m map[string]any) error {
	if infno != "4203" {
		return nil
	}
	p, err := r.patient(ctx, mdtrtID)
	if err != nil || p == nil {
		return err
	}
	switch str(m["cplt_flag"]) {
	case "1":
		p.Status, p.Step, p.Reason = statusUploaded, stepDone, ""
	case "0":
		p.Status, p.Step = statusCancelled, ""
		p.Reason = fmt.Sprintf("the completion was withdrawn by selfpay.4203 cplt_flag=0 (message %s); upload it again", r.req.MessageID)
	default:
		return nil
	}
	p.MessageID = r.req.MessageID
	return r.putPatient(ctx, p)
}

// fillSingle fills the institution code and name where a transaction's
// input leaves them out.
func (r *run) fillSingle(infno string, m map[string]any) {
	switch infno {
	case "4201A":
		items, _ := m[nodeFees].([]any)
		for _, it := range items {
			if fm, ok := it.(map[string]any); ok {
				r.fillInstitution(fm, true)
			}
		}
	case "4202":
		if md, ok := m[nodeMdtrt].(map[string]any); ok {
			r.fillInstitution(md, true)
		}
	case "4204":
		if fd, ok := m["feedetail"].(map[string]any); ok {
			r.fillInstitution(fd, false)
		}
	case "4203", "4207", "4209":
		r.fillInstitution(m, false)
	}
}

// reconcileSingle settles a single transaction in flight. It returns done
// when the platform has it, or, for 4201A, the lines still missing.
func (r *run) reconcileSingle(ctx context.Context, st *wfState, m map[string]any) (done bool, rest []any, err error) {
	f := st.Inflight
	r.a.log.Info("reconciling a call whose outcome is unknown", "site", r.s.code, "message", r.req.MessageID, "infno", f.Infno, "msgid", f.MsgID)
	switch f.Infno {
	case "4201A":
		present, err := r.linesThere(ctx, st.MdtrtID, m[nodeFees].([]any))
		if err != nil {
			return false, nil, err
		}
		for _, it := range m[nodeFees].([]any) {
			if !present[str(it.(map[string]any)["bkkp_sn"])] {
				rest = append(rest, it)
			}
		}
		return len(rest) == 0, rest, nil
	case "4202":
		md, _ := m[nodeMdtrt].(map[string]any)
		diags, _ := m[nodeDiags].([]any)
		applied, err := r.visitApplied(ctx, md, diags)
		return applied, nil, err
	case "4204":
		// Sent again after it was applied, 4204 is refused (nothing left
		// to delete): done when 4207 shows none of its lines.
		present, err := r.uploadedSNs(ctx, st.MdtrtID)
		if err != nil {
			return false, nil, err
		}
		list, _ := m["feedetl"].([]any)
		if len(list) == 0 {
			deleted, err := r.detailsDeleted(ctx, st.MdtrtID)
			return deleted, nil, err
		}
		for _, it := range list {
			if it, ok := it.(map[string]any); ok && present[str(it["bkkp_sn"])] {
				return false, nil, nil
			}
		}
		return true, nil, nil
	case "4203":
		if str(m["cplt_flag"]) == "1" {
			applied, err := r.completionApplied(ctx, st.MdtrtID, nil)
			return applied, nil, err
		}
		// cplt_flag=0, settled as a selfpay.cancel's: 4208 searched by
		// what medgate stored of the visit, as the input names no one.
		applied, err := r.withdrawalApplied(ctx, st.MdtrtID, nil)
		return applied, nil, err
	}
	return false, nil, nil
}

// errCompletionUnknown says a 4203 cplt_flag=1 whose outcome is unknown
// cannot be reconciled: 4208 does not list the visit, or lists it without
// a cpltFlag of 0 or 1 (see completionApplied).
var errCompletionUnknown = errors.New("the outcome of 4203 cplt_flag=1 is unknown and cannot be reconciled")

// errWithdrawalUnknown says a 4203 cplt_flag=0 whose outcome is unknown
// cannot be reconciled: 4208 does not list the visit, or lists it without
// a cpltFlag of 0 or 1 (see withdrawalApplied).
var errWithdrawalUnknown = errors.New("the outcome of 4203 cplt_flag=0 is unknown and cannot be reconciled")

// withdrawalApplied tells whether a 4203 cplt_flag=0 of visit mdtrtID
// whose outcome is unknown took effect (see flagApplied); when it cannot
// be told the error wraps errWithdrawalUnknown and the caller resends
// nothing, since a blind resend could reopen a visit someone completed
// again meanwhile.
func (r *run) withdrawalApplied(ctx context.Context, mdtrtID string, mdtrt map[string]any) (bool, error) {
	return r.flagApplied(ctx, "0", mdtrtID, mdtrt, errWithdrawalUnknown)
}

// detailsDeleted tells whether a 4204 of every detail of visit mdtrtID
// whose outcome is unknown took effect: 4207 shows no detail left
// (detailsLeft, which counts records it cannot read as left). Sent
// again after it was applied, it would only be refused for having nothing
// to delete; details left mean it did not take effect.
func (r *run) detailsDeleted(ctx context.Context, mdtrtID string) (bool, error) {
	left, err := r.detailsLeft(ctx, mdtrtID)
	return left == 0, err
}

// completionApplied tells whether a 4203 cplt_flag=1 of visit mdtrtID
// whose outcome is unknown took effect (see flagApplied); when it cannot
// be told the error wraps errCompletionUnknown and the caller resends
// nothing. A miss proves nothing about the 4203, which only sets the flag
// of a visit already on the platform: the search may have used fields the
// platform holds otherwise, or the visit may be on a page not read.
func (r *run) completionApplied(ctx context.Context, mdtrtID string, mdtrt map[string]any) (bool, error) {
	return r.flagApplied(ctx, "1", mdtrtID, mdtrt, errCompletionUnknown)
}

// flagApplied tells whether a 4203 that set visit mdtrtID's cplt_flag to
// sent, whose outcome is unknown, took effect: 4208 shows the visit's
// cpltFlag as sent (true: not to be resent) or as the other value (false:
// it did not, send it again). 4208 is searched by the certificate type
// and number of mdtrt (the visit of a selfpay.upload; not its name, which
// a re-upload may correct and the platform holds the old one of until the
// 4202) or, with mdtrt nil, by what medgate stored of the visit
// (completionFlag). When 4208 does not list the visit, or lists it with
// any other cpltFlag, the outcome stays unknown: the error wraps unknown.
func (r *run) flagApplied(ctx context.Context, sent, mdtrtID string, mdtrt map[string]any, unknown error) (bool, error) {
	var flag string
	if mdtrt == nil {
		f, err := r.completionFlag(ctx, mdtrtID, unknown)
		if err != nil {
			return false, err
		}
		flag = f
	} else {
		rec, err := r.findVisit(ctx, mdtrt, byCertificate)
		if err != nil {
			return false, err
		}
		if rec == nil {
			return false, fmt.Errorf("%w: 4208 by the patient's certificate type and number of this message does not list visit %s", unknown, mdtrtID)
		}
		flag = str(rec["cpltFlag"])
	}
	switch flag {
	case sent:
		return true, nil
	case "0", "1":
		return false, nil
	}
	return false, fmt.Errorf("%w: 4208 lists visit %s with cpltFlag %q, neither 0 nor 1", unknown, mdtrtID, flag)
}

// completionFlag returns the cpltFlag the platform shows for visit
// mdtrtID. 4208 has no search by fixmedins_mdtrt_id, so it searches by
// what medgate stored of the visit when it uploaded it (patient/<id>:
// begntime and medfee_sumamt, kept in clear; the name and ID number are
// kept masked and cannot be searched by) and picks the record of the
// visit. Without a stored visit, or when 4208 does not list the visit,
// the outcome stays unknown: the error wraps unknown and says what is
// missing, and the caller resends nothing.
func (r *run) completionFlag(ctx context.Context, mdtrtID string, unknown error) (string, error) {
	p, err := r.patient(ctx, mdtrtID)
	if err != nil {
		return "", err
	}
	if p == nil || p.Begntime == "" {
		return "", fmt.Errorf("%w: medgate holds no record of visit %s (it was not uploaded with selfpay.upload), so 4208 cannot find it", unknown, mdtrtID)
	}
	if err := r.beforeCall(ctx); err != nil {
		return "", err
	}
	q := map[string]any{"begntime": p.Begntime, "endtime": p.Begntime}
	if p.MedfeeSumamt != "" {
		q["medfee_sumamt"] = p.MedfeeSumamt
	}
	rec, err := r.visitRecord(ctx, q, mdtrtID, nil)
	if err != nil {
		return "", err
	}
	if rec == nil {
		return "", fmt.Errorf("%w: 4208 by the visit's begntime %s and medfee_sumamt %s does not list visit %s", unknown, p.Begntime, p.MedfeeSumamt, mdtrtID)
	}
	return str(rec["cpltFlag"]), nil
}

func (r *run) finishSingle(ctx context.Context, st *wfState, res *hsa.Result) (*sdk.HandleResponse, error) {
	out := map[string]any{"infno": st.Op, "fixmedinsMdtrtId": st.MdtrtID, "steps": st.Steps}
	var ext *sdk.External
	if n := len(st.Steps); n > 0 {
		out["msgid"] = st.Steps[n-1].MsgID
		out["reconciled"] = st.Steps[n-1].Outcome == outcomeReconciled
		ext = &sdk.External{System: r.s.cfg.System, Code: "0", MsgID: st.Steps[n-1].MsgID}
	}
	if res != nil && len(res.Warnings) > 0 {
		out["warnings"] = res.Warnings
	}
	payload, _ := json.Marshal(out)
	st.Final = &finalized{Status: sdk.StatusOK, Payload: payload, External: ext}
	if err := r.save(ctx, st); err != nil {
		return nil, err
	}
	return st.Final.response(), nil
}

// query runs 4207, 4208 or 4209: no side effect, so no state; the reply
// carries the platform's output, each record checked against the schema
// (problems are warnings). An output that cannot be read as a page (none,
// or without its list of records) is failed, retryable, never an empty
// list.
func (r *run) query(ctx context.Context, infno string, sc *schemas.Schema, m map[string]any) (*sdk.HandleResponse, error) {
	res, err := r.s.client.Do(ctx, r.h, hsa.Call{Infno: infno, Input: m, MessageID: r.req.MessageID})
	if err != nil {
		return r.outcome(r.transient(err), "selfpay."+infno)
	}
	warnings := append([]string(nil), res.Warnings...)
	pg, perr := hsa.ParsePage(res.Output, r.s.cfg.Paging)
	if perr != nil {
		// No records read is not "no records": staff would take the
		// visit's fee lines or diagnoses for missing.
		return r.outcome(&hsa.AnswerError{Infno: infno, MsgID: res.MsgID, Err: perr}, "selfpay."+infno)
	}
	if infno == "4207" || infno == "4209" {
		// About one visit: another visit's records are not shown as its.
		if err := ownRecords(infno, res.MsgID, mdtrtIDOf(infno, m), str(m["fixmedins_code"]), pg.Records); err != nil {
			return r.outcome(err, "selfpay."+infno)
		}
	}
	for i, raw := range pg.Records {
		var rec any
		if decodeRecord(raw, &rec) != nil {
			continue
		}
		for _, fe := range sc.ValidateOutput(rec, schemas.ValidateOptions{AllowUnknown: true}) {
			if len(warnings) < maxWarnings {
				warnings = append(warnings, fmt.Sprintf("record %d: %s", i+1, fe.Error()))
			}
		}
	}
	out := map[string]any{"infno": infno, "msgid": res.MsgID, "recordCounts": pg.Total, "pages": pg.Pages, "records": pg.Records}
	if pg.Records == nil {
		out["records"] = []any{}
	}
	if len(warnings) > 0 {
		out["warnings"] = warnings
	}
	payload, _ := json.Marshal(out)
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: payload,
		External: &sdk.External{System: r.s.cfg.System, Code: "0", MsgID: res.MsgID}}, nil
}
