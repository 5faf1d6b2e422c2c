package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// The lifecycle of a stay, kept per visit in plugin state and checked
// before anything is sent (requirements §2.2.1 items 8–26, workinjury.md
// §3.1). Each problem names its rule and the offending values:
//
//	GYU101  approved filing (local, else GYD051); admission day within the
//	        filing's validity, at the filing's institution and place; the
//	        institution's agreement valid that day; the inpatient/outpatient
//	        number not used before at that institution (a revoked admission
//	        frees it); GYD051 / GYD052 preconditions per site
//	GYU102  admission uploaded and not revoked or settled; per line
//	        |price × qty − amount| ≤ amountTolerance and fund + self = amount,
//	        none negative, qty > 0; detail_no unique among the visit's
//	        valid lines (one revoked with GYR001 may be uploaded again);
//	        ≤500 lines (schema). An accepted answer that
//	        cannot tell which lines were taken records none (unaccountedLines)
//	GYU103  every fee detail uploaded (none in flight, at least one);
//	        akc264, fund_pay, self_pay = sums of the valid details;
//	        full_own_pay ≤ self_pay; discharge and settle_time not before admission;
//	        rehab_plan_id only for rehabilitation stays, uploaded with GYU002;
//	        GYD051 precondition
//	GYU101  (also) not at an assistive-device institution (type 3)
//	GYU102, GYU103, GYR001, GYR002  wait while a GYU103 of the visit has no
//	        known outcome (settling.go)
//	GYU103  waits while a GYR001 of the visit has no known outcome
//	        (settling.go, rule revocation-outcome-known)
//	GYU101, GYR001, GYR002, GYR003  wait while a revocation they depend
//	        on has no known outcome: a GYR002 or GYR003 freeing the
//	        inpatient number, a GYR001 of the visit (for a GYR001: one
//	        that may revoke a line it names, revokingOverlap), another
//	        GYR002 of the visit or GYR003 of the settlement (revokewait.go, rule
//	        revocation-outcome-known)
//	GYU102, GYU103  wait when the other marked itself on the visit between
//	        their check and their own mark (settling.go, rule stay-unchanged);
//	        so do GYR001 and GYU103 of one visit
//	GYU303  device filing (filing_type 3) verified; the institution known,
//	        of type 3, in the filing's place (aab299), agreement valid on
//	        config_date; per line as GYU102, each detail_no settled once
//	        for the person at the institution (unless revoked with GYR003);
//	        aac142 = Σ amount = fund_pay + self_pay; GYD051 precondition;
//	        waits while another GYU303 of the person there carrying one of
//	        its lines has no known outcome, or marked itself between its
//	        check and its own mark (settling.go)
//	GYR001  stay not settled; the details exist and are not revoked; revoking
//	        all (none listed) waits for every GYU102 of the stay to have an outcome
//	GYR002  admission uploaded, not revoked, not settled; no valid details
//	GYR003  settlement uploaded and not revoked, of that visit/institution;
//	        its rehabilitation plan is revoked with it (GYU103 refuses it then)
//	GYR004  deductions uploaded and not revoked; waits while an upload or
//	        revocation of one of them has no known outcome (settling.go)
//	GYU004  settlement uploaded, not revoked, same institution (and same
//	        visit, when ykc700 is given); deduct_time not before its
//	        settle_time; amount > 0;
//	        all valid deductions of a settlement ≤ its fund_pay (downloaded
//	        ones included: deductionDownloaded), and waits
//	        when only deductions without a known outcome yet would take
//	        them past it, or when another GYU004 of the settlement marked
//	        itself since its check (settling.go); the institution of this province;
//	        deduct_no unused (waits while another GYU004 of it has no
//	        known outcome). An accepted GYU004 or GYR004 answer whose count
//	        is not the number sent records none (unaccountedDeductions)
//	GYU003  once per institution and month; the items are exactly the
//	        month's settlements, settlement revocations, deductions and
//	        deduction revocations with their settlements and amounts; the header amounts are
//	        their sums; person_count = settle_count − revoke_count > 0; no
//	        upload of the month still without an outcome (monthwait.go).
//	        A month of more than 500 items goes in parts (part_no of
//	        part_count, monthparts.go): every part has the whole month's
//	        header, its items are records of the month, none in another
//	        part, and the last part completes the month
//	GYU103, GYU303, GYR003, GYU004, GYR004  not dated in a month its
//	        institution already settled; wait while it is being settled
//	        (monthwait.go, rule month-not-settled)
//	GYD052  the person has an approved filing (local, else GYD051);
//	GYD055  the same for the card's holder (cardcheck.go)
//
// Money is exact decimal arithmetic (money.go).

// unavailableError: a precondition needs the national system, which gave
// no trustworthy answer; the message is retried, not refused.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

var monthRE = regexp.MustCompile(`^[0-9]{4}(0[1-9]|1[0-2])$`)

// dayOf returns the YYYY-MM-DD of a date or datetime text.
func dayOf(t string) string {
	if len(t) >= 10 {
		return t[:10]
	}
	return t
}

// monthOf returns the yyyyMM of a datetime text ("2025-04-20 10:30:00").
func monthOf(t string) string {
	if len(t) >= 7 && t[4] == '-' {
		return t[:4] + t[5:7]
	}
	return ""
}

// lifecycle checks one message of the settlement chain.
type lifecycle struct {
	a     *Adapter
	ctx   context.Context
	h     sdk.Host
	c     *siteConfig
	msgID string
	doc   map[string]any
	ds    *sdk.Diagnostics
	// wait, when set, is the stay's settlement without a known outcome
	// that the message waits for (settling.go).
	wait *settleWaitError
	// dwait, when set, is the deductions without a known outcome that a
	// GYU004 waits for (settling.go).
	dwait *deductWaitError
	// mwait, when set, is the monthly settlement without an outcome yet
	// of a month the message adds to (monthwait.go).
	mwait *monthClaimError
	// devwait, when set, is the device settlements without a known
	// outcome that carry lines of a GYU303 (settling.go).
	devwait *deviceWaitError
	// rwait, when set, is the revocation without a known outcome that the
	// message waits for (revokewait.go).
	rwait *revokeWaitError
	// xwait, when set, is the upload or revocation of a deduction without
	// a known outcome that a GYR004 of the deduction, or a GYU004 of its
	// number, waits for (settling.go).
	xwait *deductionMsgWaitError
}

func (l *lifecycle) fail(path, rule, summary, detail string) { l.ds.Error(path, rule, summary, detail) }

// checkLifecycle runs the lifecycle rules of code, if it has any.
func (a *Adapter) checkLifecycle(ctx context.Context, h sdk.Host, c *siteConfig, msgID, code string, doc map[string]any, ds *sdk.Diagnostics) error {
	l := &lifecycle{a: a, ctx: ctx, h: h, c: c, msgID: msgID, doc: doc, ds: ds}
	if err := l.run(code); err != nil {
		return err
	}
	switch code {
	case "GYU103", "GYU303", "GYR003", "GYU004", "GYR004":
		// No record into a month already settled (monthwait.go).
		if err := l.monthsNotSettled(code); err != nil {
			return err
		}
	}
	if l.wait != nil {
		return l.wait
	}
	if l.dwait != nil {
		return l.dwait
	}
	if l.mwait != nil {
		return l.mwait
	}
	if l.devwait != nil {
		return l.devwait
	}
	if l.rwait != nil {
		return l.rwait
	}
	if l.xwait != nil {
		return l.xwait
	}
	return nil
}

// run runs the lifecycle rules of code.
func (l *lifecycle) run(code string) error {
	switch code {
	case "GYU101":
		return l.admission()
	case "GYU102":
		return l.feeDetails()
	case "GYU103":
		return l.settlement()
	case "GYU303":
		return l.deviceSettlement()
	case "GYR001":
		return l.revokeDetails()
	case "GYR002":
		return l.revokeAdmission()
	case "GYR003":
		return l.revokeSettlement()
	case "GYR004":
		return l.revokeDeductions()
	case "GYU004":
		return l.deductions()
	case "GYU003":
		return l.monthly()
	case "GYD102":
		return l.detailDownload()
	case "GYD052", "GYD055":
		return l.cardFiling(code)
	}
	return nil
}

// ---- filings and institutions ----

// filingCheck verifies the filing behind an upload: from local state, and
// with GYD051 when the filing is not known here or the site asks for the
// national check (remote).
type filingCheck struct {
	path     string // JSON path of the filing number
	filingNo string
	aac002   string
	aac003   string
	akb020   string
	aab299   string
	// placePath is the JSON path a wrong place is reported at: the
	// message's aab299, or (GYU303, which has none) the institution whose
	// place aab299 is.
	placePath string
	day       string // YYYY-MM-DD the filing must cover
	scene     string // verifyScene: 1 admission, 2 discharge, 3 device
	device    bool   // an assistive-device filing is needed
	remote    bool
}

// placeAt is the path a wrong place of treatment is reported at.
func (fc filingCheck) placeAt() string {
	if fc.placePath != "" {
		return fc.placePath
	}
	return "$.aab299"
}

func (l *lifecycle) checkFiling(fc filingCheck) error {
	var f filingState
	ver, err := getJSON(l.ctx, l.h, "filing/"+fc.filingNo, &f)
	if err != nil {
		return err
	}
	if ver > 0 {
		l.localFiling(fc, f)
	}
	if ver > 0 && !fc.remote {
		return nil
	}
	return l.remoteFiling(fc, ver == 0)
}

func (l *lifecycle) localFiling(fc filingCheck, f filingState) {
	no := fc.filingNo
	if f.Status != filingApproved && f.Status != filingChanged {
		l.fail(fc.path, "state", fmt.Sprintf("rule approved-filing: filing %s has status %s, not approved (1) or changed (3)", no, f.Status),
			"only a person with an approved filing can be admitted or settled")
		return
	}
	if f.Person != "" && fc.aac002 != "" && f.Person != personKey(fc.aac002) {
		l.fail("$.aac002", "consistency", "rule filing-person: filing "+no+" belongs to another person", "send the filing number of this person")
	}
	if fc.day != "" && ((f.AAE030 != "" && fc.day < f.AAE030) || (f.AAE031 != "" && fc.day > f.AAE031)) {
		l.fail(fc.path, "state", fmt.Sprintf("rule filing-validity: %s is outside filing %s's validity %s – %s", fc.day, no, orOpen(f.AAE030), orOpen(f.AAE031)),
			"the admission or settlement date must lie within the filing's validity; extend it with GYU007 first")
	}
	if f.AKB020 != "" && fc.akb020 != "" && f.AKB020 != fc.akb020 {
		l.fail("$.akb020", "consistency", fmt.Sprintf("rule filing-institution: filing %s is for institution %s, not %s", no, f.AKB020, fc.akb020),
			"change the filing's institution with GYU007 (change_type 2) first")
	}
	if f.AAB299 != "" && fc.aab299 != "" && f.AAB299 != fc.aab299 {
		l.fail(fc.placeAt(), "consistency", fmt.Sprintf("rule filing-place: filing %s is for place of treatment %s, not %s", no, f.AAB299, fc.aab299),
			"change the filing's place of treatment with GYU007 (change_type 3) first")
	}
	if fc.device && f.InstType != "3" {
		l.fail(fc.path, "state", fmt.Sprintf("rule device-filing: filing %s is for institution type %s, not an assistive-device filing (3)", no, f.InstType),
			"an assistive-device settlement needs the person's assistive-device configuration filing")
	}
}

// noNationalKey marks the context of the rules of a message the schema
// already refused (withoutNationalChecks).
type noNationalKey struct{}

// withoutNationalChecks returns ctx for the business rules of a message
// with schema errors: it is refused anyway and nothing of it may go out,
// so the rules that need the national system (GYD051) are left out. The
// platform sees them once it sends the message again with its fields fixed.
func withoutNationalChecks(ctx context.Context) context.Context {
	return context.WithValue(ctx, noNationalKey{}, true)
}

// nationalChecksAllowed reports whether the rules may ask the national
// system (see withoutNationalChecks).
func nationalChecksAllowed(ctx context.Context) bool {
	off, _ := ctx.Value(noNationalKey{}).(bool)
	return !off
}

// remoteFiling asks GYD051; unknown says the filing was not known here,
// and a valid answer is remembered. For a message the schema refused
// (withoutNationalChecks) it asks nothing and finds nothing.
func (l *lifecycle) remoteFiling(fc filingCheck, unknown bool) error {
	if !nationalChecksAllowed(l.ctx) {
		return nil
	}
	in := map[string]any{"aac002": fc.aac002, "aac003": fc.aac003, "akb020": fc.akb020, "visit_date": fc.day, "scene": fc.scene, "filing_no": fc.filingNo}
	if fc.aac003 == "" {
		in["aac003"] = "-"
	}
	if fc.filingNo == "" {
		// The card checks name no filing: GYD051 looks for the person's.
		delete(in, "filing_no")
	}
	subject := "filing " + fc.filingNo
	if fc.filingNo == "" {
		subject = "the person's filing"
	}
	serial, err := l.a.newSerial(l.ctx, l.h, l.c)
	if err != nil {
		return err
	}
	out := l.a.call(l.ctx, l.h, l.c, l.msgID, "GYD051", serial, in)
	switch out.kind {
	case kindOK:
	case kindRejected:
		l.fail(fc.path, "GYD051", fmt.Sprintf("rule approved-filing: the national filing verification (GYD051, serial %s) refused %s: %s %s", serial, subject, out.code, out.message),
			"the person needs an approved filing for this institution and date")
		return nil
	default:
		return &unavailableError{fmt.Errorf("the filing verification GYD051 (serial %s) gave no trustworthy answer: %w", serial, out.err)}
	}
	var r map[string]any
	if err := decodeJSON(out.output, &r); err != nil {
		return &unavailableError{fmt.Errorf("the GYD051 answer (serial %s) is not readable: %w", serial, err)}
	}
	where := "GYD051 serial " + serial
	if unknown {
		where = subject + " is not known at this site; " + where
	}
	if str(r, "filing_valid") != "1" {
		l.fail(fc.path, "GYD051", fmt.Sprintf("rule approved-filing: %s says there is no valid filing: %s", where, nationalText(str(r, "check_message"))),
			"the person needs an approved filing covering this institution and date")
		return nil
	}
	if no := str(r, "filing_no"); no != "" && fc.filingNo != "" && no != fc.filingNo {
		l.fail(fc.path, "GYD051", fmt.Sprintf("rule approved-filing: %s names filing %s, not %s", where, no, fc.filingNo), "send the person's valid filing number")
		return nil
	}
	from, to := str(r, "aae030"), str(r, "aae031")
	if fc.day != "" && ((from != "" && fc.day < from) || (to != "" && fc.day > to)) {
		l.fail(fc.path, "GYD051", fmt.Sprintf("rule filing-validity: %s gives the validity %s – %s, which does not cover %s", where, orOpen(from), orOpen(to), fc.day), "")
		return nil
	}
	if fc.device && str(r, "filing_type") != "" && str(r, "filing_type") != "3" {
		l.fail(fc.path, "GYD051", fmt.Sprintf("rule device-filing: %s gives filing type %s, not an assistive-device filing (3)", where, str(r, "filing_type")), "")
		return nil
	}
	if p := str(r, "aab299"); p != "" && fc.aab299 != "" && p != fc.aab299 {
		l.fail(fc.placeAt(), "GYD051", fmt.Sprintf("rule filing-place: %s gives the place of treatment %s, not %s", where, p, fc.aab299), "")
		return nil
	}
	if !unknown {
		return nil
	}
	status := str(r, "filing_status")
	if status == "" {
		status = filingApproved
	}
	var it string
	guessed := false
	if str(r, "filing_type") == "3" || fc.device {
		it = "3"
	} else if it, guessed, err = l.a.instTypeOf(l.ctx, l.h, fc.akb020, str(r, "filing_type")); err != nil {
		return err
	}
	no := fc.filingNo
	if no == "" {
		if no = str(r, "filing_no"); no == "" {
			return nil // nothing to remember it by
		}
	}
	return l.a.putFiling(l.ctx, l.h, no, filingState{Status: status, Person: personKey(fc.aac002), InstType: it, InstGuessed: guessed,
		AKB020: str(r, "akb020"), AAB299: str(r, "aab299"), AAE030: from, AAE031: to})
}

// institution checks that akb020 is known with an agreement valid on day.
func (l *lifecycle) institution(akb020, day string) (instState, bool, error) {
	var st instState
	ver, err := getJSON(l.ctx, l.h, "inst/"+akb020, &st)
	if err != nil {
		return st, false, err
	}
	if ver == 0 {
		l.fail("$.akb020", "precondition", "rule institution-agreement: institution "+akb020+" is not known at this site",
			"upload it with GYU009 (job or message) or download it with GYD009 first")
		return st, false, nil
	}
	if !st.agreementValid(day) {
		l.fail("$.akb020", "state", fmt.Sprintf("rule institution-agreement: institution %s has no valid agreement on %s (valid flag %s, %s – %s)", akb020, day, st.Valid, orOpen(st.AAE030), orOpen(st.AAE031)),
			"only institutions with a valid agreement (协议机构状态有效) can admit")
		return st, false, nil
	}
	return st, true, nil
}

// ---- GYU101 ----

func (l *lifecycle) admission() error {
	d := l.doc
	akb020, akc190, admitted := str(d, "akb020"), str(d, "akc190"), str(d, "ykc701")
	day := dayOf(admitted)
	if akb020 == "" || akc190 == "" || str(d, "filing_no") == "" || admitted == "" {
		return nil // the schema reports them
	}
	if err := l.checkFiling(filingCheck{path: "$.filing_no", filingNo: str(d, "filing_no"), aac002: str(d, "aac002"), aac003: str(d, "aac003"),
		akb020: akb020, aab299: str(d, "aab299"), day: day, scene: "1", remote: l.c.pre[preFilingAdmission]}); err != nil {
		return err
	}
	if inst, ok, err := l.institution(akb020, day); err != nil {
		return err
	} else if ok && inst.Type == "3" {
		l.fail("$.akb020", "consistency", "rule institution-kind: institution "+akb020+" is an assistive-device institution (type 3); it does not admit",
			"assistive-device settlements are uploaded with GYU303")
	}
	if l.c.pre[preCardAdmission] {
		var at time.Time
		ver, err := getJSON(l.ctx, l.h, "card/"+personKey(str(d, "aac002"))+"/"+akb020, &at)
		if err != nil {
			return err
		}
		if ver == 0 || l.a.now().Sub(at) > l.c.cardAuthMaxAge {
			l.fail("$.aac002", "precondition", fmt.Sprintf("rule card-authentication: no successful social-security-card authentication (GYD052) of this person at %s within %s", akb020, l.c.cardAuthMaxAge),
				"authenticate the card with a workinjury.GYD052 message first (the site requires it: preconditions GYD052@admission)")
		}
	}
	var cl claimState
	ver, err := getJSON(l.ctx, l.h, "adm/"+akb020+"/"+akc190, &cl)
	if err != nil {
		return err
	}
	if ver > 0 && cl.MessageID != l.msgID && !cl.Revoked && cl.Done && cl.Ref != "" {
		// The visit holding the number may be being revoked (GYR002, or
		// GYR003 with its settlement): whether the number is free depends
		// on that outcome (revokewait.go).
		var v visitState
		if vver, err := getJSON(l.ctx, l.h, "visit/"+cl.Ref, &v); err != nil {
			return err
		} else if vver > 0 {
			what, open, err := l.revocationsOpen(cl.Ref, v)
			if err != nil {
				return err
			}
			if len(open) > 0 {
				l.rwait = &revokeWaitError{field: "$.akc190", what: what, open: open,
					then: fmt.Sprintf("If it was accepted, inpatient number %s is free again and this admission is sent; if it was refused, the number stays with visit %s and this message is answered invalid (rule unique-inpatient-number).", akc190, cl.Ref)}
				return nil
			}
		}
	}
	if ver > 0 && cl.MessageID != l.msgID && !cl.Revoked {
		detail := "an inpatient/outpatient number is used once per institution; revoke the wrong admission with GYR002 first"
		// A settled stay's admission is not revoked with GYR002 (its
		// settlement holds it): a new stay needs a number of its own, and
		// only a wrong settlement is revoked, with GYR003, which revokes
		// the admission with it.
		var v visitState
		if cl.Done && cl.Ref != "" {
			if _, err := getJSON(l.ctx, l.h, "visit/"+cl.Ref, &v); err != nil {
				return err
			}
		}
		if v.Status == visitSettled {
			detail = fmt.Sprintf("住院号/门诊号在同一机构只能使用一次，且就诊 %s 已结算（结算 %s），不能用 GYR002 撤销：新的住院请使用新的住院号/门诊号；仅当本消息就是该次住院且其结算有误时，先用 GYR003 撤销结算（入院登记随之撤销）再重新入院登记；"+
				"an inpatient/outpatient number is used once per institution, and visit %s is settled (settlement %s), so GYR002 cannot revoke it: admit a new stay under a number of its own; only if this is that stay and its settlement is wrong, revoke the settlement with GYR003 (which revokes the admission with it), then admit it again", cl.Ref, v.SettleNo, cl.Ref, v.SettleNo)
		}
		if cl.Done {
			l.fail("$.akc190", "state", fmt.Sprintf("rule unique-inpatient-number: %s was already used at %s (visit %s)", akc190, akb020, cl.Ref), detail)
		} else {
			l.fail("$.akc190", "state", fmt.Sprintf("rule unique-inpatient-number: %s at %s is being admitted by message %s", akc190, akb020, cl.MessageID), detail)
		}
	}
	return nil
}

// ---- visits and details ----

func (l *lifecycle) visit(ykc700 string) (visitState, bool, error) {
	var v visitState
	if ykc700 == "" {
		return v, false, nil
	}
	ver, err := getJSONAhead(l.ctx, l.h, "visit/"+ykc700, &v)
	if err != nil {
		return v, false, err
	}
	noteChecked(l.ctx, "visit/"+ykc700, ver)
	if m, _ := l.ctx.Value(visitMemoKey{}).(*visitMemo); m != nil && ver > 0 {
		// A GYU102 marks itself in flight on this version (markInFlight)
		// instead of reading the visit again.
		m.key, m.ver, m.v = "visit/"+ykc700, ver, v
	}
	if ver == 0 {
		l.fail("$.ykc700", "precondition", "rule admission-uploaded: visit "+ykc700+" was not admitted through this site (GYU101)",
			"upload the admission with GYU101 first and use the ykc700 it returns")
		return v, false, nil
	}
	return v, true, nil
}

func (l *lifecycle) details(ykc700 string) (visitDetails, error) {
	keys, maps, err := detailChunks(l.ctx, l.h, ykc700)
	if err != nil {
		return nil, err
	}
	if len(keys) == 1 {
		return maps[0], nil
	}
	// A detail number revoked with GYR001 may be uploaded again (the
	// corrected line): the valid line of a number wins over its revoked
	// ones, whatever the order of the maps.
	dm := visitDetails{}
	for _, m := range maps {
		for no, d := range m {
			if cur, seen := dm[no]; !seen || (cur.Revoked && !d.Revoked) {
				dm[no] = d
			}
		}
	}
	return dm, nil
}

// detailsKey is where a visit's fee lines are kept. Each accepted GYU102
// keeps its own lines under detailsKey/<message id>, so that a call
// writes its lines only rather than reading, extending and writing back
// every line of the stay. A single map at detailsKey itself is the layout
// of state written before, and is read too.
func detailsKey(ykc700 string) string { return "visit/" + ykc700 + "/details" }

// detailChunks returns the keys and maps of a visit's fee lines, in key
// order (the map of the older layout first).
func detailChunks(ctx context.Context, h sdk.Host, ykc700 string) ([]string, []visitDetails, error) {
	base := detailsKey(ykc700)
	es, err := h.Scan(ctx, base, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("read state %s: %w", base, err)
	}
	var keys []string
	var maps []visitDetails
	for _, e := range es {
		if e.Key != base && !strings.HasPrefix(e.Key, base+"/") {
			continue // another visit whose number starts with this one
		}
		var dm visitDetails
		if err := json.Unmarshal(e.Value, &dm); err != nil {
			return nil, nil, fmt.Errorf("state %s is not readable JSON: %w", e.Key, err)
		}
		keys, maps = append(keys, e.Key), append(maps, dm)
	}
	return keys, maps, nil
}

// revokeDetails marks the lines of a visit revoked: those in only, or all
// when only is empty.
func revokeDetails(ctx context.Context, h sdk.Host, ykc700 string, only map[string]bool) error {
	keys, maps, err := detailChunks(ctx, h, ykc700)
	if err != nil {
		return err
	}
	for i, key := range keys {
		hit := len(only) == 0
		for no := range maps[i] {
			hit = hit || only[no]
		}
		if !hit {
			continue
		}
		if err := update(ctx, h, key, func(dm *visitDetails, _ bool) error {
			for no, d := range *dm {
				if len(only) == 0 || only[no] {
					d.Revoked = true
					(*dm)[no] = d
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// openVisit checks that a visit can take details or a settlement.
func (l *lifecycle) openVisit(ykc700, rule string) (visitState, bool, error) {
	v, ok, err := l.visit(ykc700)
	if err != nil || !ok {
		return v, false, err
	}
	switch v.Status {
	case visitRevoked:
		fix := "admit the patient again with GYU101"
		if rule == "admission-revocable" {
			// A revocation of a revoked admission is most often that
			// revocation sent again: re-admitting would undo it.
			fix = "入院登记已撤销，无需再撤销：若本消息是同一撤销的再次发送（另一经办人，或平台未收到应答），撤销已生效，无需任何操作；" +
				"there is nothing left to revoke: if this message is that revocation sent again (another clerk, or a platform that lost the reply), it has taken effect and nothing is to be done; admit the patient again with GYU101 only if the stay goes on"
		}
		l.fail("$.ykc700", "state", "rule "+rule+": the admission of visit "+ykc700+" was revoked", fix)
		return v, false, nil
	case visitSettled:
		return v, false, l.settledVisit(ykc700, rule, v)
	}
	if a := str(l.doc, "akc190"); a != "" && a != v.AKC190 {
		l.fail("$.akc190", "consistency", fmt.Sprintf("rule visit-number: visit %s has inpatient number %s, not %s", ykc700, v.AKC190, a), "")
	}
	if err := l.settling(ykc700, v); err != nil {
		return v, false, err
	}
	return v, true, nil
}

// settledVisit refuses a message of openVisit that meets a settled stay,
// naming the settlement with its figures. Fee lines (GYU102) are refused
// by rule not-settled: a settlement is made once every fee line is
// uploaded (GYU103 前置校验「费用明细全部上传完成」), and a line sent after it
// would be in none of its sums. A settlement (GYU103) meeting one is most
// often the same settlement sent again (a second cashier, a platform that
// lost the reply): the settlement is its answer, and revoking it (GYR003
// revokes the admission, fee lines and attachments too) is the fix only
// when it is wrong.
func (l *lifecycle) settledVisit(ykc700, rule string, v visitState) error {
	var s settleState
	ver, err := getJSON(l.ctx, l.h, "settle/"+v.SettleNo, &s)
	if err != nil {
		return err
	}
	settled := "settlement " + v.SettleNo
	if ver > 0 {
		settled += fmt.Sprintf(": akc264 %s, fund_pay %s, self_pay %s, settle_time %s", s.Total, s.Fund, s.Self, s.SettleTime)
	}
	redo := "GYR003 撤销结算时国家系统同时撤销入院登记、费用明细及附件，之后用 GYU101 重新入院登记、GYU102 上传全部费用明细，再用 GYU103 结算"
	redoEn := "GYR003 revokes the admission, every fee line and the attachments with the settlement; then admit the patient again with GYU101, upload every fee line with GYU102 and settle with GYU103"
	switch rule {
	case "admission-uploaded": // GYU102
		l.fail("$.ykc700", "state", fmt.Sprintf("rule not-settled: visit %s is already settled (%s); a fee line uploaded now would be in none of its sums", ykc700, settled),
			"已结算的就诊不再上传费用明细；结算有误（漏传明细）时："+redo+"（含本次明细）；a settled stay takes no more fee lines: if the settlement is wrong (lines missing), "+redoEn+" (these lines included)")
	case "settle-open-visit": // GYU103
		l.fail("$.ykc700", "state", fmt.Sprintf("rule %s: visit %s is already settled (%s)", rule, ykc700, settled),
			"若本消息是同一结算的再次发送（另一收费员，或平台未收到应答），结算 "+v.SettleNo+" 即其结果，无需任何操作；仅当该结算有误时："+redo+
				"；if this message is the same settlement sent again (a second cashier, or a platform that lost the reply), settlement "+v.SettleNo+
				" is its answer and nothing is to be done; only if that settlement is wrong: "+redoEn)
	default:
		l.fail("$.ykc700", "state", fmt.Sprintf("rule %s: visit %s is already settled (%s)", rule, ykc700, settled), "revoke the settlement with GYR003 first")
	}
	return nil
}

// lineCheck checks one priced line: qty > 0, price ≥ 0, amount ≥ 0,
// |price × qty − amount| ≤ tolerance; with fund/self: both ≥ 0 and
// fund + self = amount. It returns the amount.
func (l *lifecycle) lineCheck(at string, line map[string]any, withSplit bool) (*big.Rat, bool) {
	qty, ok1 := dec(line, "qty")
	price, ok2 := dec(line, "price")
	amount, ok3 := dec(line, "amount")
	if !ok1 || !ok2 || !ok3 {
		return nil, false // the schema reports them
	}
	good := true
	if qty.Sign() <= 0 {
		l.fail(at+".qty", "range", "rule positive-quantity: qty is "+plain(qty)+"; it must be greater than 0", "revoke wrong lines with GYR001 instead of sending negative ones")
		good = false
	}
	if price.Sign() < 0 {
		l.fail(at+".price", "range", "rule non-negative-price: price is "+plain(price), "")
		good = false
	}
	if amount.Sign() < 0 {
		l.fail(at+".amount", "range", "rule non-negative-amount: amount is "+money(amount), "")
		good = false
	}
	prod := ratMul(price, qty)
	if ratAbsDiff(prod, amount).Cmp(l.c.tolerance) > 0 {
		l.fail(at+".amount", "consistency", fmt.Sprintf("rule price×qty=amount: %s × %s = %s but amount is %s", plain(price), plain(qty), plain(prod), money(amount)),
			"amount must be unit price × quantity (within amountTolerance "+plain(l.c.tolerance)+")")
		good = false
	}
	if withSplit {
		fund, okf := dec(line, "fund_pay")
		self, oks := dec(line, "self_pay")
		if okf && oks {
			if fund.Sign() < 0 || self.Sign() < 0 {
				l.fail(at+".fund_pay", "range", fmt.Sprintf("rule non-negative-amount: fund_pay %s, self_pay %s", money(fund), money(self)), "")
				good = false
			}
			if ratAdd(fund, self).Cmp(amount) != 0 {
				l.fail(at+".fund_pay", "consistency", fmt.Sprintf("rule fund+self=amount: %s + %s = %s but amount is %s", money(fund), money(self), money(ratAdd(fund, self)), money(amount)),
					"the fund-paid and self-paid parts must add up to the amount")
				good = false
			}
		}
	}
	return amount, good
}

func (l *lifecycle) feeDetails() error {
	ykc700 := str(l.doc, "ykc700")
	if _, ok, err := l.openVisit(ykc700, "admission-uploaded"); err != nil || !ok {
		l.linesOnly()
		return err
	}
	l.linesOnly()
	fee, _ := l.doc["fee"].([]any)
	nos := make(map[string]struct{}, len(fee))
	for _, x := range fee {
		line, _ := x.(map[string]any)
		if no := str(line, "detail_no"); no != "" {
			nos[no] = struct{}{}
		}
	}
	old, err := l.uploadedAmong(ykc700, nos)
	if err != nil {
		return err
	}
	if len(old) > 0 {
		// A number whose lines are all revoked (GYR001) is free again: a
		// hospital corrects a line by revoking it and uploading it anew,
		// under the HIS's own number (README, "Fee-detail numbers").
		dm, err := l.details(ykc700)
		if err != nil {
			return err
		}
		for no := range old {
			if d, ok := dm[no]; ok && d.Revoked {
				delete(old, no)
			}
		}
	}
	seen := make(map[string]int, len(fee))
	for i, x := range fee {
		line, _ := x.(map[string]any)
		no := str(line, "detail_no")
		if no == "" {
			continue
		}
		at := func() string { return fmt.Sprintf("$.fee[%d].detail_no", i) } // only for a line that fails
		if j, dup := seen[no]; dup {
			l.fail(at(), "unique", fmt.Sprintf("rule unique-detail-no: detail_no %s is also line %d of this call", no, j), "detail serials are unique per visit")
		} else if old[no] {
			l.fail(at(), "unique", fmt.Sprintf("rule unique-detail-no: detail_no %s is a valid fee detail of visit %s already", no, ykc700),
				"明细流水号已是本次就诊的有效明细：若本消息是同一明细的再次发送（平台未收到应答），该明细已上传，无需任何操作；要更正该明细，先用 GYR001 撤销再重新上传；"+
					"if this is the same line sent again (a platform that lost the reply), it is uploaded already and nothing is to be done; "+
					"a detail number names one valid line of the stay: to correct that line, revoke it with GYR001 first, then upload it again")
		}
		seen[no] = i
	}
	return nil
}

// linesOnly checks the arithmetic of GYU102 lines.
// Lines that pass with int64 arithmetic (lineFits) need no big.Rat;
// the others are checked, and their problems reported, by lineCheck.
func (l *lifecycle) linesOnly() {
	tol, fast := fixedOfRat(l.c.tolerance)
	fee, _ := l.doc["fee"].([]any)
	for i, x := range fee {
		line, _ := x.(map[string]any)
		if fast && lineFits(line, tol) {
			continue
		}
		l.lineCheck(fmt.Sprintf("$.fee[%d]", i), line, true)
	}
}

// ---- GYU103 ----

func (l *lifecycle) settlement() error {
	d := l.doc
	ykc700 := str(d, "ykc700")
	v, ok, err := l.openVisit(ykc700, "settle-open-visit")
	if err != nil || !ok {
		return err
	}
	if l.wait == nil {
		// Lines being revoked (GYR001 without a known outcome) may be
		// gone at the national system: the sums below cannot tell yet.
		if err := l.revoking(ykc700, v); err != nil {
			return err
		}
	}
	if len(v.InFlight) > 0 {
		l.fail("$.ykc700", "precondition", fmt.Sprintf("rule all-details-uploaded: %d fee-detail upload(s) of visit %s are still without an outcome (messages %s)", len(v.InFlight), ykc700, strings.Join(v.InFlight, ", ")),
			"settle once every GYU102 of the stay has been answered")
	}
	dm, err := l.details(ykc700)
	if err != nil {
		return err
	}
	var total, fund, self sumOf
	n := 0
	for _, x := range dm {
		if x.Revoked {
			continue
		}
		n++
		total.add(cents(x.Amount))
		fund.add(cents(x.Fund))
		self.add(cents(x.Self))
	}
	if n == 0 {
		l.fail("$.ykc700", "precondition", "rule all-details-uploaded: visit "+ykc700+" has no valid fee details", "upload the fee details with GYU102 first")
	}
	for _, s := range []struct {
		field, label string
		want         *big.Rat
	}{{"akc264", "total", total.rat()}, {"fund_pay", "fund-paid", fund.rat()}, {"self_pay", "self-paid", self.rat()}} {
		got, ok := dec(d, s.field)
		if ok && got.Cmp(s.want) != 0 {
			l.fail("$."+s.field, "consistency", fmt.Sprintf("rule settlement=Σdetails: %s is %s but the %d valid fee details of visit %s add up to %s", s.field, money(got), n, ykc700, money(s.want)),
				"the settlement's "+s.label+" amount must equal the sum of the uploaded details")
		}
	}
	if own, ok := dec(d, "full_own_pay"); ok {
		if sp, ok := dec(d, "self_pay"); ok && own.Cmp(sp) > 0 {
			l.fail("$.full_own_pay", "consistency", fmt.Sprintf("rule full-own-pay≤self-pay: full_own_pay %s exceeds self_pay %s", money(own), money(sp)), "")
		}
		if own.Sign() < 0 {
			l.fail("$.full_own_pay", "range", "rule non-negative-amount: full_own_pay is "+money(own), "")
		}
	}
	if dis := str(d, "akc194"); dis != "" && v.Admitted != "" && dis < v.Admitted {
		l.fail("$.akc194", "consistency", fmt.Sprintf("rule discharge-after-admission: discharge %s is before admission %s", dis, v.Admitted), "")
	}
	// The settlement of a stay is made during or after it: dated before
	// the admission (a mistyped year or month) it would fall into an
	// earlier month's monthly settlement (GYU003) than the stay's.
	if st := str(d, "settle_time"); st != "" && v.Admitted != "" && st < v.Admitted {
		l.fail("$.settle_time", "consistency", fmt.Sprintf("rule settle-after-admission: settle_time %s is before visit %s's admission %s", st, ykc700, v.Admitted),
			"核对结算时间；give the time the stay was settled, at or after its admission: the month of settle_time is the monthly settlement (GYU003) that counts it")
	}
	if id := str(d, "rehab_plan_id"); id != "" {
		if v.AKA130 != "2" {
			l.fail("$.rehab_plan_id", "consistency", fmt.Sprintf("rule rehab-plan: visit %s is not a rehabilitation stay (aka130 %s)", ykc700, v.AKA130), "only rehabilitation stays (aka130 2) attach a rehabilitation plan")
		}
		var att attachmentState
		ver, err := getJSON(l.ctx, l.h, "att/"+id, &att)
		if err != nil {
			return err
		}
		switch {
		case ver == 0:
			l.fail("$.rehab_plan_id", "precondition", "rule rehab-plan: attachment "+id+" was not uploaded through this site", "upload the plan with GYU002 (attachment_type 07) first")
		case att.Revoked:
			l.fail("$.rehab_plan_id", "state", "rule rehab-plan: attachment "+id+" was revoked with the settlement it was attached to (GYR003)", "upload the plan again with GYU002 (attachment_type 07) and use the new attachment_id")
		case att.Type != "" && att.Type != "07":
			l.fail("$.rehab_plan_id", "consistency", fmt.Sprintf("rule rehab-plan: attachment %s is of type %s, not a rehabilitation plan (07)", id, att.Type),
				"upload the plan with GYU002 (attachment_type 07, biz_type 2, biz_no the stay's ykc700) and use its attachment_id")
		case att.BizType != "2" || att.BizNo != ykc700:
			l.fail("$.rehab_plan_id", "consistency", fmt.Sprintf("rule rehab-plan: attachment %s was uploaded for biz_type %s %s, not for this stay (biz_type 2, %s)", id, att.BizType, att.BizNo, ykc700),
				"upload this stay's plan with GYU002 (attachment_type 07, biz_type 2, biz_no "+ykc700+") and use its attachment_id")
		}
	}
	if l.ds.HasError() || !l.c.pre[preFilingDischarge] {
		return nil
	}
	// The person and filing are the admission's.
	return l.checkFiling(filingCheck{path: "$.ykc700", filingNo: v.FilingNo, aac002: v.AAC002, aac003: v.AAC003, akb020: v.AKB020,
		day: dayOf(str(d, "akc194")), scene: "2", remote: true})
}

// ---- GYU303 ----

func (l *lifecycle) deviceSettlement() error {
	d := l.doc
	items, _ := d["items"].([]any)
	var sum sumOf
	seen := map[string]int{}
	all := true
	for i, x := range items {
		line, _ := x.(map[string]any)
		at := fmt.Sprintf("$.items[%d]", i)
		amt, _ := l.lineCheck(at, line, false)
		if amt == nil {
			all = false
			continue
		}
		sum.add(amt)
		if no := str(line, "detail_no"); no != "" {
			if j, dup := seen[no]; dup {
				l.fail(at+".detail_no", "unique", fmt.Sprintf("rule unique-detail-no: detail_no %s is also item %d", no, j), "")
			}
			seen[no] = i
		}
	}
	// A line is settled once for the person at the institution, unless
	// its settlement was revoked (GYR003).
	if akb020, aac002 := str(d, "akb020"), str(d, "aac002"); akb020 != "" && aac002 != "" && len(seen) > 0 {
		// The lines in flight first: one whose outcome becomes known in
		// between is then seen in flight or settled, never neither.
		w, err := l.deviceLinesOpen(akb020, aac002)
		if err != nil {
			return err
		}
		l.devwait = w
		var used map[string]string
		if _, err := getJSON(l.ctx, l.h, deviceLinesKey(akb020, aac002), &used); err != nil {
			return err
		}
		for i, x := range items {
			line, _ := x.(map[string]any)
			if no := str(line, "detail_no"); no != "" && used[no] != "" {
				l.fail(fmt.Sprintf("$.items[%d].detail_no", i), "unique",
					fmt.Sprintf("rule unique-detail-no: detail_no %s was settled by device settlement %s of this person at %s", no, used[no], akb020),
					"a device line is settled once: if this is that settlement sent again, its answer is settlement "+used[no]+"; otherwise revoke "+used[no]+" with GYR003 first, or number the line anew")
			}
		}
	}
	total, okT := dec(d, "aac142")
	fund, okF := dec(d, "fund_pay")
	self, okS := dec(d, "self_pay")
	if okT && all && total.Cmp(sum.rat()) != 0 {
		l.fail("$.aac142", "consistency", fmt.Sprintf("rule settlement=Σitems: aac142 is %s but the items add up to %s", money(total), money(sum.rat())), "the device settlement total is the sum of its items")
	}
	if okT && okF && okS {
		// 0 is a settlement of free devices (lines priced 0, as GYU102
		// allows); the requirements ask for amounts above 0 only of
		// deductions (GYU004), so only negative amounts are refused.
		if fund.Sign() < 0 || self.Sign() < 0 || total.Sign() < 0 {
			l.fail("$.aac142", "range", fmt.Sprintf("rule non-negative-amount: aac142 %s, fund_pay %s, self_pay %s", money(total), money(fund), money(self)),
				"none of the amounts may be negative: send the settlement as its items add up, and revoke a wrong one with GYR003 instead of sending negative amounts")
		}
		if ratAdd(fund, self).Cmp(total) != 0 {
			l.fail("$.fund_pay", "consistency", fmt.Sprintf("rule fund+self=total: %s + %s = %s but aac142 is %s", money(fund), money(self), money(ratAdd(fund, self)), money(total)), "")
		}
	}
	day := dayOf(firstNonEmpty(str(d, "config_date"), str(d, "settle_time")))
	// place is where the institution is: the filing must cover it.
	var place string
	if akb020 := str(d, "akb020"); akb020 != "" && day != "" {
		if inst, ok, err := l.institution(akb020, day); err != nil {
			return err
		} else if ok {
			if inst.Type != "3" {
				l.fail("$.akb020", "consistency", fmt.Sprintf("rule institution-kind: institution %s is of type %s, not an assistive-device institution (3)", akb020, inst.Type),
					"GYU303 is the settlement of an assistive-device institution")
			}
			place = inst.AAB299
		}
	}
	if str(d, "filing_no") == "" {
		return nil
	}
	return l.checkFiling(filingCheck{path: "$.filing_no", filingNo: str(d, "filing_no"), aac002: str(d, "aac002"), aac003: str(d, "aac003"),
		akb020: str(d, "akb020"), aab299: place, placePath: "$.akb020", day: day, scene: "3", device: true, remote: l.c.pre[preFilingDevice]})
}

// deviceLinesKey is the state key of the device lines (detail_no →
// settle_no) settled for a person at an institution (GYU303).
func deviceLinesKey(akb020, aac002 string) string {
	return "devlines/" + akb020 + "/" + personKey(aac002)
}

// ---- revocations ----

func (l *lifecycle) revokeDetails() error {
	ykc700 := str(l.doc, "ykc700")
	v, ok, err := l.visit(ykc700)
	if err != nil || !ok {
		return err
	}
	if v.Status == visitSettled {
		l.fail("$.ykc700", "state", "rule not-settled: visit "+ykc700+" is settled (settlement "+v.SettleNo+")", "fee details of a settled stay are revoked with the settlement (GYR003)")
		return nil
	}
	if v.Status == visitRevoked {
		l.fail("$.ykc700", "state", "rule not-settled: the admission of visit "+ykc700+" was revoked", "its fee details were revoked before it (GYR002 needs them so): there is nothing left to revoke")
		return nil
	}
	if err := l.settling(ykc700, v); err != nil {
		return err
	}
	// Only a revocation that may revoke a line this one names (or every
	// line) decides which of them are still valid.
	if waits, err := l.detailRevocationsOpen(ykc700, revokingOverlap(v, detailNos(l.doc)),
		"Then this message is checked against the fee lines as that outcome left them: sent, or answered invalid (rule details-exist) if it names lines already revoked."); err != nil || waits {
		// Which lines are still valid depends on that outcome.
		return err
	}
	dm, err := l.details(ykc700)
	if err != nil {
		return err
	}
	list, _ := l.doc["details"].([]any)
	if len(list) == 0 && len(v.InFlight) > 0 {
		// Revoking every detail while a GYU102 of the visit has no known
		// outcome: whether the national system revokes its lines depends
		// on the order it processed both, which nobody here knows, so the
		// local details would no longer match the national ones.
		l.fail("$.ykc700", "state", fmt.Sprintf("rule details-known: %d fee-detail upload(s) of visit %s are still without an outcome (messages %s)", len(v.InFlight), ykc700, strings.Join(v.InFlight, ", ")),
			"wait until every GYU102 of the stay has been answered, or list the details to revoke (details[].detail_no)")
		return nil
	}
	if len(list) == 0 {
		for _, x := range dm {
			if !x.Revoked {
				return nil
			}
		}
		l.fail("$.ykc700", "state", "rule details-exist: visit "+ykc700+" has no valid fee details to revoke", "")
		return nil
	}
	seen := map[string]bool{}
	for i, x := range list {
		r, _ := x.(map[string]any)
		no := str(r, "detail_no")
		at := fmt.Sprintf("$.details[%d].detail_no", i)
		det, ok := dm[no]
		switch {
		case no == "":
		case seen[no]:
			l.fail(at, "unique", "rule details-exist: detail_no "+no+" is listed twice", "")
		case !ok:
			l.fail(at, "state", "rule details-exist: visit "+ykc700+" has no fee detail "+no, "")
		case det.Revoked:
			l.fail(at, "state", "rule details-exist: fee detail "+no+" of visit "+ykc700+" is already revoked", "")
		}
		seen[no] = true
	}
	return nil
}

func (l *lifecycle) revokeAdmission() error {
	ykc700 := str(l.doc, "ykc700")
	v, ok, err := l.openVisit(ykc700, "admission-revocable")
	if err != nil || !ok {
		return err
	}
	if a := str(l.doc, "akb020"); a != "" && a != v.AKB020 {
		l.fail("$.akb020", "consistency", fmt.Sprintf("rule visit-number: visit %s is at institution %s, not %s", ykc700, v.AKB020, a), "")
	}
	if open, err := openOf(l.ctx, l.h, v.Unadmitting, l.msgID); err != nil {
		return err
	} else if len(open) > 0 {
		l.rwait = &revokeWaitError{field: "$.ykc700", what: "the admission revocation (GYR002) of visit " + ykc700, open: open, then: alreadyRevokedThen}
		return nil
	}
	if waits, err := l.detailRevocationsOpen(ykc700, v.Revoking,
		"If it was accepted and no valid fee line is left, this admission revocation is sent; otherwise it is answered invalid (rule no-valid-details)."); err != nil || waits {
		// Whether the fee lines are revoked depends on that outcome.
		return err
	}
	dm, err := l.details(ykc700)
	if err != nil {
		return err
	}
	n := 0
	for _, x := range dm {
		if !x.Revoked {
			n++
		}
	}
	if n > 0 {
		l.fail("$.ykc700", "state", fmt.Sprintf("rule no-valid-details: visit %s still has %d valid fee detail(s)", ykc700, n), "revoke them with GYR001 first")
	}
	if len(v.InFlight) > 0 {
		l.fail("$.ykc700", "state", fmt.Sprintf("rule no-valid-details: %d fee-detail upload(s) of visit %s are still without an outcome", len(v.InFlight), ykc700),
			"wait until every GYU102 of the stay has been answered, revoke the details it added with GYR001, then revoke the admission")
	}
	return nil
}

// detailRevocationsOpen notes in l.rwait the revocations of fee details
// (GYR001) of visit ykc700 among ids still without a known outcome, other
// than the message's own, for a GYR001 or GYR002 of the visit (then: what
// happens to it once the outcome is known); it reports whether there are
// any.
func (l *lifecycle) detailRevocationsOpen(ykc700 string, ids []string, then string) (bool, error) {
	open, err := openOf(l.ctx, l.h, ids, l.msgID)
	if err != nil || len(open) == 0 {
		return false, err
	}
	l.rwait = &revokeWaitError{field: "$.ykc700", what: "a revocation of fee details (GYR001) of visit " + ykc700, open: open, then: then}
	return true, nil
}

// settlementOf reads settlement no, uploaded here and not revoked, for the
// field at path; revoking tells a settlement revocation (GYR003), whose
// refusal of a revoked settlement says the revocation took effect.
func (l *lifecycle) settlementOf(path, no string, revoking bool) (settleState, bool, error) {
	var s settleState
	ver, err := getJSON(l.ctx, l.h, "settle/"+no, &s)
	if err != nil {
		return s, false, err
	}
	noteChecked(l.ctx, "settle/"+no, ver)
	if ver == 0 {
		l.fail(path, "precondition", "rule settlement-uploaded: settlement "+no+" was not uploaded through this site (GYU103/GYU303)", "")
		return s, false, nil
	}
	if s.Revoked {
		fix := ""
		if revoking {
			// Most often the same revocation sent again; a settlement
			// number "not revoked" would be the stay's new settlement,
			// which is right.
			fix = "结算已撤销，无需再撤销：若本消息是同一撤销的再次发送（另一经办人，或平台未收到应答），撤销已生效，无需任何操作；不要改为撤销该次住院重新结算的结算号；" +
				"there is nothing left to revoke: if this message is that revocation sent again (another clerk, or a platform that lost the reply), it has taken effect and nothing is to be done; do not send it with the number of the stay's new settlement instead"
		}
		l.fail(path, "state", "rule settlement-uploaded: settlement "+no+" was revoked at "+s.RevokeTime, fix)
		return s, false, nil
	}
	return s, true, nil
}

func (l *lifecycle) revokeSettlement() error {
	no := str(l.doc, "settle_no")
	s, ok, err := l.settlementOf("$.settle_no", no, true)
	if err != nil || !ok {
		return err
	}
	if y := str(l.doc, "ykc700"); y != s.Visit {
		l.fail("$.ykc700", "consistency", fmt.Sprintf("rule settlement-visit: settlement %s belongs to visit %q, not %q", no, s.Visit, y),
			"medical and rehabilitation settlements name their visit; assistive-device settlements have none")
	}
	if a := str(l.doc, "akb020"); a != "" && a != s.AKB020 {
		l.fail("$.akb020", "consistency", fmt.Sprintf("rule settlement-institution: settlement %s is of institution %s, not %s", no, s.AKB020, a), "")
	}
	if rt := str(l.doc, "revoke_time"); rt != "" && rt < s.SettleTime {
		l.fail("$.revoke_time", "consistency", fmt.Sprintf("rule revoke-after-settle: revoke_time %s is before settle_time %s", rt, s.SettleTime), "")
	}
	if open, err := openOf(l.ctx, l.h, s.Revoking, l.msgID); err != nil {
		return err
	} else if len(open) > 0 {
		l.rwait = &revokeWaitError{field: "$.settle_no", what: "the settlement revocation (GYR003) of settlement " + no, open: open, then: alreadyRevokedThen}
	}
	return nil
}

func (l *lifecycle) revokeDeductions() error {
	list, _ := l.doc["deductions"].([]any)
	seen := map[string]bool{}
	for i, x := range list {
		r, _ := x.(map[string]any)
		no := str(r, "deduct_no")
		if no == "" {
			continue
		}
		at := fmt.Sprintf("$.deductions[%d].deduct_no", i)
		if seen[no] {
			l.fail(at, "unique", "rule deduction-uploaded: deduct_no "+no+" is listed twice", "")
			continue
		}
		seen[no] = true
		var st deductState
		ver, err := getJSON(l.ctx, l.h, "deduct/"+no, &st)
		if err != nil {
			return err
		}
		// An upload or revocation of the deduction without a known
		// outcome decides what this one finds: it waits.
		if ver == 0 || !st.Revoked {
			open, err := deductionMsgsOpen(l.ctx, l.h, no, l.msgID)
			if err != nil {
				return err
			}
			if len(open) > 0 {
				if l.xwait == nil {
					l.xwait = &deductionMsgWaitError{field: at, deductNo: no, open: open}
				}
				continue
			}
		}
		switch {
		case ver == 0:
			l.fail(at, "precondition", "rule deduction-uploaded: deduction "+no+" was not uploaded through this site (GYU004)", "")
		case st.Revoked:
			l.fail(at, "state", "rule deduction-uploaded: deduction "+no+" was already revoked at "+st.RevokeTime, "")
		case str(l.doc, "revoke_time") != "" && str(l.doc, "revoke_time") < st.DeductTime:
			l.fail("$.revoke_time", "consistency", fmt.Sprintf("rule revoke-after-deduct: revoke_time %s is before deduction %s's time %s", str(l.doc, "revoke_time"), no, st.DeductTime), "")
		}
	}
	return nil
}

// ---- GYU004 ----

// deductResentFix is the advice of a deduction number in use: most often
// the same deduction sent again, which a new number would deduct twice.
const deductResentFix = "扣款编号已使用：若本消息是同一笔扣款的再次发送（另一经办人，或平台未收到应答），该扣款已在国家系统，无需任何操作，不要换新编号重发（会重复扣款）；只有另一笔扣款才使用新的扣款编号；" +
	"if this message is that deduction sent again (another clerk, or a platform that lost the reply), it is at the national system already and nothing is to be done: do not send it again under a new deduct_no, which would deduct it twice; only a different deduction takes a deduct_no of its own"

func (l *lifecycle) deductions() error {
	list, _ := l.doc["deductions"].([]any)
	seen := map[string]int{}
	per := map[string]*deductAcc{}
	order := []string{}
	for i, x := range list {
		r, _ := x.(map[string]any)
		at := fmt.Sprintf("$.deductions[%d]", i)
		no := str(r, "deduct_no")
		if no != "" {
			if j, dup := seen[no]; dup {
				l.fail(at+".deduct_no", "unique", fmt.Sprintf("rule unique-deduct-no: deduct_no %s is also item %d", no, j), "")
			} else {
				var st deductState
				ver, err := getJSON(l.ctx, l.h, "deduct/"+no, &st)
				if err != nil {
					return err
				}
				if ver > 0 {
					state := ""
					if st.Revoked {
						state = ", revoked at " + st.RevokeTime
					}
					l.fail(at+".deduct_no", "unique", fmt.Sprintf("rule unique-deduct-no: deduction %s was already uploaded (settlement %s, amount %s, deduct_time %s%s)", no, st.SettleNo, st.Amount, st.DeductTime, state), deductResentFix)
				} else {
					var dl dlDeduction
					if ver, err := getJSON(l.ctx, l.h, "dldeduct/"+no, &dl); err != nil {
						return err
					} else if ver > 0 {
						l.fail(at+".deduct_no", "unique", "rule unique-deduct-no: deduction "+no+" exists at the national system already (downloaded with GYD004, settlement "+dl.SettleNo+")",
							deductResentFix)
					} else if open, err := deductionMsgsOpen(l.ctx, l.h, no, l.msgID); err != nil {
						return err
					} else if len(open) > 0 && l.xwait == nil {
						// Another upload of the number without a known
						// outcome may have used it: wait for it.
						l.xwait = &deductionMsgWaitError{field: at + ".deduct_no", deductNo: no, open: open}
					}
				}
			}
			seen[no] = i
		}
		amt, ok := dec(r, "deduct_amount")
		if ok && amt.Sign() <= 0 {
			l.fail(at+".deduct_amount", "range", "rule deduction>0: deduct_amount is "+money(amt), "a deduction amount must be greater than 0")
		}
		sn := str(r, "settle_no")
		if sn == "" {
			continue
		}
		a := per[sn]
		if a == nil {
			// The deductions without a known outcome are read before the
			// settlement: one whose outcome becomes known in between is
			// then counted twice (its mark goes only after it is applied),
			// never missed.
			pending, open, err := l.deductionsOpen(sn)
			if err != nil {
				return err
			}
			if err := l.a.at("deductions-open"); err != nil {
				return err
			}
			s, found, err := l.settlementOf(at+".settle_no", sn, false)
			if err != nil {
				return err
			}
			if !found {
				per[sn] = &deductAcc{}
				continue
			}
			a = &deductAcc{s: s, pending: pending, open: open}
			per[sn] = a
			order = append(order, sn)
		}
		if a.s.AKB020 == "" {
			continue
		}
		if k := str(r, "akb020"); k != "" && k != a.s.AKB020 {
			l.fail(at+".akb020", "consistency", fmt.Sprintf("rule settlement-institution: settlement %s is of institution %s, not %s", sn, a.s.AKB020, k), "")
		}
		if dt := str(r, "deduct_time"); dt != "" && dt < a.s.SettleTime {
			l.fail(at+".deduct_time", "consistency", fmt.Sprintf("rule deduct-after-settle: deduct_time %s is before settlement %s's settle_time %s", dt, sn, a.s.SettleTime),
				"a deduction audits an uploaded settlement: give the time the agency made it, at or after the settlement")
		}
		if y := str(r, "ykc700"); y != "" && y != a.s.Visit {
			of := "visit " + a.s.Visit
			if a.s.Visit == "" {
				of = "no visit (an assistive-device settlement)"
			}
			l.fail(at+".ykc700", "consistency", fmt.Sprintf("rule settlement-visit: settlement %s belongs to %s, not visit %s", sn, of, y),
				"give the visit (ykc700) of the settlement deducted from, or leave ykc700 out")
		}
		if ok && amt.Sign() > 0 {
			a.sum.add(amt)
			a.items = append(a.items, i)
		}
	}
	for _, sn := range order {
		a := per[sn]
		var before sumOf
		for _, no := range a.s.Deducts {
			var st deductState
			if _, err := getJSON(l.ctx, l.h, "deduct/"+no, &st); err != nil {
				return err
			}
			if !st.Revoked {
				before.add(cents(st.Amount))
			}
		}
		// Deductions downloaded (GYD004) but not uploaded here exist at
		// the national system all the same, which counts them.
		var dlSum sumOf
		var dlNos []string
		for _, no := range a.s.Downloaded {
			if slices.Contains(a.s.Deducts, no) {
				continue
			}
			var dl dlDeduction
			if _, err := getJSON(l.ctx, l.h, "dldeduct/"+no, &dl); err != nil {
				return err
			}
			if !dl.Revoked {
				before.add(cents(dl.Amount))
				dlSum.add(cents(dl.Amount))
				dlNos = append(dlNos, no)
			}
		}
		all := ratAdd(before.rat(), a.sum.rat())
		fund := cents(a.s.Fund)
		switch {
		case len(a.items) == 0:
		case all.Cmp(fund) > 0:
			already, detail := money(before.rat()), "the deductions of a settlement cannot exceed its fund-paid total"
			if len(dlNos) > 0 {
				already += fmt.Sprintf(", of which %s made elsewhere and downloaded with GYD004: %s", money(dlSum.rat()), strings.Join(dlNos, ", "))
				detail += "; a downloaded deduction counts until its revocation is downloaded (GYD404): if one was revoked at the national system, run the GYD404 download and send this message again"
			}
			l.fail(fmt.Sprintf("$.deductions[%d].deduct_amount", a.items[len(a.items)-1]), "consistency",
				fmt.Sprintf("rule deduction≤fund-paid: deductions of settlement %s would total %s (%s already, %s now) but its fund-paid amount is %s", sn, money(all), already, money(a.sum.rat()), money(fund)),
				detail)
		case l.dwait == nil:
			// Deductions of the settlement sent without a known outcome
			// yet may be deductions at the national system: when the
			// check fails with them counted, it waits for them.
			if with := ratAdd(all, a.pending); len(a.open) > 0 && with.Cmp(fund) > 0 {
				l.dwait = &deductWaitError{field: fmt.Sprintf("$.deductions[%d].deduct_amount", a.items[len(a.items)-1]),
					settleNo: sn, open: a.open, total: money(with), fund: money(fund)}
			}
		}
		var inst instState
		ver, err := getJSON(l.ctx, l.h, "inst/"+a.s.AKB020, &inst)
		if err != nil {
			return err
		}
		at := fmt.Sprintf("$.deductions[%d].akb020", a.items0())
		switch {
		case ver == 0 || inst.AAB299 == "":
			l.fail(at, "precondition", "rule institution-in-province: institution "+a.s.AKB020+" is not known to be of this province", "upload it with GYU009 or download it with GYD009 first")
		case len(inst.AAB299) < 2 || inst.AAB299[:2] != l.c.region[:2]:
			l.fail(at, "precondition", fmt.Sprintf("rule institution-in-province: institution %s is in region %s, not in this province (%s…)", a.s.AKB020, inst.AAB299, l.c.region[:2]), "only this province's agency deducts from its institutions")
		}
	}
	return nil
}

// ---- GYU003 ----

func (l *lifecycle) monthly() error {
	d := l.doc
	akb020, m := str(d, "akb020"), str(d, "settle_month")
	if m != "" && !monthRE.MatchString(m) {
		l.fail("$.settle_month", "format", "rule month-format: settle_month "+strconv.Quote(m)+" is not yyyyMM", "e.g. 202505")
		return nil
	}
	if akb020 == "" || m == "" {
		return nil
	}
	var undated map[string]string
	if _, err := getJSON(l.ctx, l.h, "dlrevwait/"+akb020, &undated); err != nil {
		return err
	}
	for _, no := range slices.Sorted(maps.Keys(undated)) {
		if dm := undated[no]; dm == "" || dm <= m {
			l.fail("$.items", "precondition", fmt.Sprintf("rule month-items: deduction %s (made in %s) was revoked at the national system, as the GYD004 download says, but its revocation has not been downloaded, so its revoke_time and the month it counts in are not known here", no, dm),
				"run the GYD404 download (deduction revocations), then send this message again: the revocation is then listed in the month of its revoke_time")
		}
	}
	items, _ := d["items"].([]any)
	type key struct{ t, ref string }
	got := map[key]int{}
	var sums [5]sumOf
	var totals, selfs sumOf
	// A settlement item may leave out its total_amount and self_pay (they
	// are optional): the header's total_amount and self_pay are then
	// checked against the month's settlements known here (monthItems).
	var noTotal, noSelf bool
	counts := [5]int{}
	for i, x := range items {
		r, _ := x.(map[string]any)
		t, ref := str(r, "item_type"), str(r, "ref_no")
		at := fmt.Sprintf("$.items[%d]", i)
		k := key{t, ref}
		if j, dup := got[k]; dup {
			l.fail(at+".ref_no", "unique", fmt.Sprintf("rule month-items: item type %s %s is also item %d", t, ref, j), "")
			continue
		}
		got[k] = i
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 4 {
			continue
		}
		counts[n]++
		if amt, ok := dec(r, "amount"); ok {
			if amt.Sign() < 0 {
				l.fail(at+".amount", "range", "rule non-negative-amount: amount is "+money(amt), "")
			}
			sums[n].add(amt)
		}
		if t == itemSettlement {
			if v, ok := dec(r, "total_amount"); ok {
				totals.add(v)
			} else {
				noTotal = true
			}
			if v, ok := dec(r, "self_pay"); ok {
				selfs.add(v)
			} else {
				noSelf = true
			}
		}
	}
	header := []struct {
		field string
		want  *big.Rat
		what  string
	}{
		{"total_amount", totals.rat(), "the total_amount of the settlement items (type 1)"},
		{"fund_pay", sums[1].rat(), "the amount of the settlement items (type 1)"},
		{"self_pay", selfs.rat(), "the self_pay of the settlement items (type 1)"},
		{"revoke_amount", sums[2].rat(), "the amount of the settlement-revocation items (type 2)"},
		{"deduct_amount", sums[3].rat(), "the amount of the deduction items (type 3)"},
		{"deduct_revoke_amount", sums[4].rat(), "the amount of the deduction-revocation items (type 4)"},
	}
	net := ratAdd(ratSub(ratSub(sums[1].rat(), sums[2].rat()), sums[3].rat()), sums[4].rat())
	header = append(header, struct {
		field string
		want  *big.Rat
		what  string
	}{"month_fund_pay", net, "fund_pay − revoke_amount − deduct_amount + deduct_revoke_amount"})
	// A part of a month in parts carries the whole month's header, not
	// its items' sums: the header is checked against the month's records
	// known here (monthItems) and its own arithmetic below.
	parted := inParts(d)
	for _, hd := range header {
		if parted || (hd.field == "total_amount" && noTotal) || (hd.field == "self_pay" && noSelf) {
			continue
		}
		if v, ok := dec(d, hd.field); ok && v.Cmp(hd.want) != 0 {
			l.fail("$."+hd.field, "consistency", fmt.Sprintf("rule month-amount=Σitems: %s is %s but %s is %s", hd.field, money(v), hd.what, money(hd.want)), "")
		}
	}
	intField := func(f string) (int, bool) {
		n, err := strconv.Atoi(str(d, f))
		return n, err == nil
	}
	if parted {
		counts[1], _ = intField("settle_count")
		counts[2], _ = intField("revoke_count")
		if v, ok := dec(d, "month_fund_pay"); ok {
			var hs [5]*big.Rat
			for i, f := range []string{"", "fund_pay", "revoke_amount", "deduct_amount", "deduct_revoke_amount"} {
				hs[i], _ = dec(d, f)
			}
			if hs[1] != nil && hs[2] != nil && hs[3] != nil && hs[4] != nil {
				if want := ratAdd(ratSub(ratSub(hs[1], hs[2]), hs[3]), hs[4]); v.Cmp(want) != 0 {
					l.fail("$.month_fund_pay", "consistency", fmt.Sprintf("rule month-amount=Σitems: month_fund_pay is %s but fund_pay − revoke_amount − deduct_amount + deduct_revoke_amount is %s", money(v), money(want)), "")
				}
			}
		}
	}
	if n, ok := intField("settle_count"); ok && n != counts[1] && !parted {
		l.fail("$.settle_count", "consistency", fmt.Sprintf("rule month-count: settle_count is %d but %d settlement items (type 1) are listed", n, counts[1]), "")
	}
	if n, ok := intField("revoke_count"); ok && n != counts[2] && !parted {
		l.fail("$.revoke_count", "consistency", fmt.Sprintf("rule month-count: revoke_count is %d but %d settlement-revocation items (type 2) are listed", n, counts[2]), "")
	}
	if n, ok := intField("person_count"); ok {
		if n != counts[1]-counts[2] {
			l.fail("$.person_count", "consistency", fmt.Sprintf("rule person-count: person_count is %d but settlements − revocations is %d − %d = %d", n, counts[1], counts[2], counts[1]-counts[2]), "")
		}
		if n <= 0 {
			l.fail("$.person_count", "range", fmt.Sprintf("rule person-count>0: person_count is %d (the month's settlements − its settlement revocations, %d − %d; a revocation counts in the month it is dated, whatever month its settlement was in)", n, counts[1], counts[2]),
				"月结人次为本月结算笔数减本月结算撤销笔数（撤销计入撤销时间所在月），须大于0，未发送；本月全部结算均已撤销则无可月结人次，撤销的是以前月份的结算则请向经办机构确认如何月结，不要改动记录日期；"+
					"a monthly settlement needs at least one settled person-time net of revocations, and the national system refuses it as well: nothing was sent. "+
					"If the settle_count and revoke_count are the month's records, the month has nothing to settle as they stand: a month whose settlements were all revoked has no person-time; "+
					"one whose revocations are of earlier months' settlements needs the social-security agency (经办机构) to say how to settle it; do not redate records to get round it")
		}
	}
	// Uploads of the month whose outcome is not known yet: the month's
	// records known here are incomplete, so the items cannot be checked
	// against them, and the message waits (monthWaitError).
	// The gate is read first: a mark made after this read fails the GYU003's
	// compare-and-set right before it is sent (passMonthGate).
	if _, err := readMonthGate(l.ctx, l.h, akb020, m); err != nil {
		return err
	}
	open, err := monthOpen(l.ctx, l.h, akb020, m)
	if err != nil {
		return err
	}
	if len(open) == 0 {
		if err := l.monthItems(akb020, m, items, noTotal, noSelf, parted); err != nil {
			return err
		}
	}
	if parted {
		// Once per institution and month, in parts (monthparts.go).
		if err := l.monthPartRules(akb020, m, len(open) > 0); err != nil {
			return err
		}
		if len(open) > 0 {
			return &monthWaitError{akb020: akb020, month: m, open: open}
		}
		return nil
	}
	// Once per institution and month.
	var cl claimState
	ver, err := getJSON(l.ctx, l.h, "monthdone/"+akb020+"/"+m, &cl)
	if err != nil {
		return err
	}
	if ver > 0 && !cl.Revoked && cl.PartCount > 0 {
		l.fail("$.settle_month", "state", fmt.Sprintf("rule once-per-month: institution %s's %s is settled in %d parts (monthly settlement %s)", akb020, m, cl.PartCount, firstNonEmpty(cl.Ref, "without an outcome yet")),
			"each institution settles each month once; a month in parts is completed with its remaining parts (part_no, part_count)")
	} else if ver > 0 && !cl.Revoked && cl.MessageID != l.msgID {
		// (Revoked: every part of a month in parts was refused.)
		if len(open) == 0 && !l.ds.HasError() {
			// Its items are the month's records known here and its header
			// their sums, as the other message's were: the same monthly
			// settlement, sent again under a new id by a platform that
			// lost the reply. Its answer is that message's (partAgain).
			return &partAgainError{akb020: akb020, month: m, msgID: cl.MessageID, ref: cl.Ref}
		}
		if cl.Done {
			l.fail("$.settle_month", "state", fmt.Sprintf("rule once-per-month: institution %s's %s is already settled (monthly settlement %s)", akb020, m, cl.Ref), "each institution settles each month once")
		} else {
			l.fail("$.settle_month", "state", fmt.Sprintf("rule once-per-month: institution %s's %s is being settled by message %s", akb020, m, cl.MessageID), "")
		}
	}
	if len(open) > 0 {
		return &monthWaitError{akb020: akb020, month: m, open: open}
	}
	return nil
}

// monthItems checks that the items of a GYU003 are exactly the month's
// records known here, with their amounts. With noTotal (noSelf) some
// settlement item leaves out its total_amount (self_pay), and the header's
// is checked against the listed settlements' known here. For a part of a
// month in parts (part), the items must be records of the month, the
// header is checked against all of them, and whether the parts together
// leave one out is checked by the last part (partProblems).
func (l *lifecycle) monthItems(akb020, m string, items []any, noTotal, noSelf, part bool) error {
	type key struct{ t, ref string }
	got := map[key]int{}
	for i, x := range items {
		r, _ := x.(map[string]any)
		k := key{str(r, "item_type"), str(r, "ref_no")}
		if _, dup := got[k]; !dup {
			got[k] = i
		}
	}
	var idx monthIndex
	if _, err := getJSON(l.ctx, l.h, "month/"+akb020+"/"+m, &idx); err != nil {
		return err
	}
	known := map[key]monthItem{}
	for _, it := range idx.Items {
		known[key{it.Type, it.Ref}] = it
	}
	var totals, selfs sumOf
	for k, i := range got {
		it, ok := known[k]
		r, _ := items[i].(map[string]any)
		at := fmt.Sprintf("$.items[%d]", i)
		if !ok {
			l.fail(at+".ref_no", "consistency", fmt.Sprintf("rule month-items: %s (type %s) is not a record of institution %s in %s at this site", k.ref, k.t, akb020, m),
				"list the settlements (by settle_time), settlement revocations (by revoke_time), deductions (by deduct_time) and deduction revocations (by revoke_time) of the month")
			continue
		}
		if sn := str(r, "settle_no"); sn != "" && it.Settle != "" && sn != it.Settle {
			l.fail(at+".settle_no", "consistency", fmt.Sprintf("rule month-items: %s %s (type %s) is of settlement %s, not %s", monthItemKinds[k.t], k.ref, k.t, it.Settle, sn),
				"give the settlement the record belongs to: for a settlement or settlement revocation its own settle_no, for a deduction or deduction revocation the settlement deducted from")
		}
		if amt, ok := dec(r, "amount"); ok && amt.Cmp(cents(it.Amount)) != 0 {
			l.fail(at+".amount", "consistency", fmt.Sprintf("rule month-items: %s (type %s) has amount %s, not %s", k.ref, k.t, it.Amount, money(amt)), "")
		}
		if k.t == itemSettlement {
			totals.add(cents(it.Total))
			selfs.add(cents(it.Self))
		}
		// A settlement revocation (type 2) carries the revoked
		// settlement's amounts too.
		if k.t == itemSettlement || k.t == itemSettleRevoke {
			if v, ok := dec(r, "total_amount"); ok && v.Cmp(cents(it.Total)) != 0 {
				l.fail(at+".total_amount", "consistency", fmt.Sprintf("rule month-items: settlement %s has total %s, not %s", k.ref, it.Total, money(v)), "give the settlement's akc264 (aac142 for an assistive-device settlement)")
			}
			if v, ok := dec(r, "self_pay"); ok && v.Cmp(cents(it.Self)) != 0 {
				l.fail(at+".self_pay", "consistency", fmt.Sprintf("rule month-items: settlement %s has self_pay %s, not %s", k.ref, it.Self, money(v)), "give the settlement's self_pay")
			}
		}
	}
	if part {
		l.monthHeaderKnown(akb020, m, idx)
		return nil
	}
	for _, hd := range []struct {
		field string
		left  bool
		want  *big.Rat
	}{{"total_amount", noTotal, totals.rat()}, {"self_pay", noSelf, selfs.rat()}} {
		if v, ok := dec(l.doc, hd.field); hd.left && ok && v.Cmp(hd.want) != 0 {
			l.fail("$."+hd.field, "consistency", fmt.Sprintf("rule month-amount=Σitems: %s is %s but the settlements listed (type 1) have %s %s at this site (some items leave out their %s)", hd.field, money(v), hd.field, money(hd.want), hd.field),
				"the header's "+hd.field+" is the sum of the month's settlements'")
		}
	}
	var missing []string
	for _, it := range idx.Items {
		if _, ok := got[key{it.Type, it.Ref}]; !ok {
			missing = append(missing, "type "+it.Type+" "+it.Ref)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		l.fail("$.items", "consistency", fmt.Sprintf("rule month-items: %d record(s) of institution %s in %s are missing: %s", len(missing), akb020, m, strings.Join(missing, ", ")), "")
	}
	return nil
}

// monthHeaderKnown checks the header of a part of a month in parts against
// the month's records known here (idx): it is the whole month's.
func (l *lifecycle) monthHeaderKnown(akb020, m string, idx monthIndex) {
	var sums [5]sumOf
	var totals, selfs sumOf
	counts := [5]int{}
	for _, it := range idx.Items {
		n, err := strconv.Atoi(it.Type)
		if err != nil || n < 1 || n > 4 {
			continue
		}
		counts[n]++
		sums[n].add(cents(it.Amount))
		if it.Type == itemSettlement {
			totals.add(cents(it.Total))
			selfs.add(cents(it.Self))
		}
	}
	net := ratAdd(ratSub(ratSub(sums[1].rat(), sums[2].rat()), sums[3].rat()), sums[4].rat())
	want := map[string]string{
		"settle_count": strconv.Itoa(counts[1]), "revoke_count": strconv.Itoa(counts[2]), "person_count": strconv.Itoa(counts[1] - counts[2]),
		"total_amount": money(totals.rat()), "fund_pay": money(sums[1].rat()), "self_pay": money(selfs.rat()),
		"revoke_amount": money(sums[2].rat()), "deduct_amount": money(sums[3].rat()), "deduct_revoke_amount": money(sums[4].rat()),
		"month_fund_pay": money(net),
	}
	got := monthHeader(l.doc)
	for _, f := range monthHeaderFields {
		if got[f] != want[f] {
			l.fail("$."+f, "consistency", fmt.Sprintf("rule month-amount=Σitems: %s is %s but institution %s's %s records known here (all parts together) give %s", f, got[f], akb020, m, want[f]),
				"every part carries the whole month's header: the sums and counts of all its records, not of the part's items")
		}
	}
}

// deductAcc gathers one settlement's deductions of a GYU004 call.
type deductAcc struct {
	s     settleState
	sum   sumOf
	items []int
	// pending and open are the settlement's deductions sent by other
	// messages without a known outcome yet: their sum and who they are.
	pending *big.Rat
	open    []string
}

func (a *deductAcc) items0() int {
	if len(a.items) == 0 {
		return 0
	}
	return a.items[0]
}

// ---- GYD102 ----

func (l *lifecycle) detailDownload() error {
	akb020, akc190 := str(l.doc, "akb020"), str(l.doc, "akc190")
	if akb020 == "" || akc190 == "" {
		return nil
	}
	var adm dlAdmission
	ver, err := getJSON(l.ctx, l.h, "dladm/"+akb020+"/"+akc190, &adm)
	if err != nil {
		return err
	}
	if ver == 0 {
		l.fail("$.akc190", "precondition", fmt.Sprintf("rule admission-downloaded: no admission of %s at %s was downloaded (GYD101)", akc190, akb020),
			"download the admissions with GYD101 first; GYD102 takes the institution and inpatient number from them")
	}
	if y := str(l.doc, "ykc700"); y != "" && ver > 0 && y != adm.YKC700 {
		l.fail("$.ykc700", "consistency", fmt.Sprintf("rule admission-downloaded: the admission of %s at %s is visit %s, not %s", akc190, akb020, adm.YKC700, y),
			"send the visit GYD101 downloaded for the inpatient number ("+adm.YKC700+"), or leave ykc700 out")
	}
	return nil
}

// claimKeys are the unique business keys an upload reserves before it is
// sent: an inpatient number at an institution (GYU101), an institution's
// month (GYU003).
func claimKeys(code string, doc map[string]any) []string {
	switch code {
	case "GYU101":
		return []string{"adm/" + str(doc, "akb020") + "/" + str(doc, "akc190")}
	case "GYU003":
		if inParts(doc) {
			// A part claims its place in the month (claimMonthPart).
			return nil
		}
		return []string{"monthdone/" + str(doc, "akb020") + "/" + str(doc, "settle_month")}
	}
	return nil
}

// claim reserves the keys of a message that passed every check. A key held
// by another message (not revoked) makes the message invalid: this can
// only happen when two messages race past the checks.
func (a *Adapter) claim(ctx context.Context, h sdk.Host, msgID, code string, doc map[string]any) (sdk.Diagnostics, error) {
	var ds sdk.Diagnostics
	for _, k := range claimKeys(code, doc) {
		var cl claimState
		ver, err := getJSON(ctx, h, k, &cl)
		if err != nil {
			return nil, err
		}
		if ver > 0 && cl.MessageID == msgID {
			continue
		}
		if ver > 0 && !cl.Revoked {
			ds.Error("$", "state", "rule unique-key: "+k+" is taken by message "+cl.MessageID, "an inpatient number is used once per institution; an institution settles a month once")
			continue
		}
		if _, err := casJSON(ctx, h, k, ver, claimState{MessageID: msgID, At: a.now().UTC()}); errors.Is(err, sdk.ErrConflict) {
			ds.Error("$", "state", "rule unique-key: "+k+" was claimed at the same moment by another message", "")
		} else if err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// release frees the keys of a message that was refused or never sent.
func (a *Adapter) release(ctx context.Context, h sdk.Host, msgID, code string, doc map[string]any) {
	if code == "GYU003" && inParts(doc) {
		a.releasePart(ctx, h, msgID, doc)
		return
	}
	for _, k := range claimKeys(code, doc) {
		var cl claimState
		ver, err := getJSON(ctx, h, k, &cl)
		if err != nil || ver == 0 || cl.MessageID != msgID || cl.Done {
			continue
		}
		if err := h.Delete(ctx, k); err != nil {
			a.log.Warn("cannot release a claim; it stays until the message is replayed", "key", k, "err", err)
		}
	}
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	return dec.Decode(v)
}

// ---- effects of accepted uploads ----

// errSkip from an update function leaves the value unchanged.
var errSkip = errors.New("no change")

// update reads key into v, lets f change it and writes it back with
// compare-and-set, retrying a lost race a few times.
func update[T any](ctx context.Context, h sdk.Host, key string, f func(v *T, exists bool) error) error {
	for range 8 {
		var v T
		ver, err := getJSON(ctx, h, key, &v)
		if err != nil {
			return err
		}
		if err := f(&v, ver > 0); errors.Is(err, errSkip) {
			return nil
		} else if err != nil {
			return err
		}
		if _, err := casJSON(ctx, h, key, ver, v); errors.Is(err, sdk.ErrConflict) {
			continue
		} else {
			return err
		}
	}
	return fmt.Errorf("state %s changes too often; try again", key)
}

// revokeDeduction marks the deduction no, when this site knows it,
// revoked at rt (an earlier revocation's time is kept) and records the
// revocation in its institution's month (both idempotent).
func revokeDeduction(ctx context.Context, h sdk.Host, no, rt string) error {
	var st deductState
	if err := update(ctx, h, "deduct/"+no, func(cur *deductState, exists bool) error {
		if !exists {
			return errSkip
		}
		if !cur.Revoked {
			cur.Revoked, cur.RevokeTime = true, rt
		}
		st = *cur
		return nil
	}); err != nil {
		return err
	}
	return addMonthItem(ctx, h, st.AKB020, monthOf(st.RevokeTime), monthItem{Type: itemDeductRevoke, Ref: no, Settle: st.SettleNo, Amount: st.Amount, Time: st.RevokeTime})
}

// addMonthItem records an item of an institution's month (idempotent).
func addMonthItem(ctx context.Context, h sdk.Host, akb020, month string, it monthItem) error {
	if akb020 == "" || month == "" {
		return nil
	}
	return update(ctx, h, "month/"+akb020+"/"+month, func(idx *monthIndex, _ bool) error {
		for _, x := range idx.Items {
			if x.Type == it.Type && x.Ref == it.Ref {
				return nil
			}
		}
		idx.Items = append(idx.Items, it)
		return nil
	})
}

// applyLifecycle records the effects of an accepted upload of the
// settlement chain. It is idempotent: a reconciled outcome applies again.
func (a *Adapter) applyLifecycle(ctx context.Context, h sdk.Host, msgID, code string, doc, out map[string]any, output json.RawMessage) error {
	now := a.now().UTC()
	switch code {
	case "GYU101":
		ykc700 := str(out, "ykc700")
		akb020, akc190 := str(doc, "akb020"), str(doc, "akc190")
		it, err := a.instType(ctx, h, akb020, "")
		if err != nil {
			return err
		}
		if ykc700 != "" {
			if err := update(ctx, h, "visit/"+ykc700, func(v *visitState, exists bool) error {
				if exists {
					return nil
				}
				*v = visitState{AKB020: akb020, AKC190: akc190, Person: personKey(str(doc, "aac002")), AAC002: str(doc, "aac002"), AAC003: str(doc, "aac003"), FilingNo: str(doc, "filing_no"),
					AKA130: str(doc, "aka130"), InstType: it, AAB301: str(doc, "aab301"), Admitted: str(doc, "ykc701"), Status: visitAdmitted, At: now}
				return nil
			}); err != nil {
				return err
			}
		}
		return putJSON(ctx, h, "adm/"+akb020+"/"+akc190, claimState{MessageID: msgID, Done: true, Ref: ykc700, At: now})
	case "GYU102":
		ykc700 := str(doc, "ykc700")
		key := detailsKey(ykc700) + "/" + msgID
		refused := refusedLines(output)
		// The key is new unless this is applied again: create it without
		// reading it first, and merge into what is there otherwise.
		if _, err := casJSON(ctx, h, key, 0, feeLines(doc, nil, refused)); errors.Is(err, sdk.ErrConflict) {
			if err := update(ctx, h, key, func(dm *visitDetails, _ bool) error {
				*dm = feeLines(doc, *dm, refused)
				return nil
			}); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		return a.inFlight(ctx, h, ykc700, msgID, false)
	case "GYU103", "GYU303":
		no := str(out, "settle_no")
		if no == "" {
			return nil
		}
		s := settleState{AKB020: str(doc, "akb020"), Person: personKey(str(doc, "aac002")), Fund: money(decOr0(doc, "fund_pay")),
			Self: money(decOr0(doc, "self_pay")), SettleTime: str(doc, "settle_time"), At: now}
		if code == "GYU103" {
			ykc700 := str(doc, "ykc700")
			var v visitState
			if _, err := getJSON(ctx, h, "visit/"+ykc700, &v); err != nil {
				return err
			}
			s.Visit, s.AKB020, s.InstType, s.Person, s.Total = ykc700, v.AKB020, v.InstType, v.Person, money(decOr0(doc, "akc264"))
			s.RehabPlan = str(doc, "rehab_plan_id")
			if err := update(ctx, h, "visit/"+ykc700, func(v *visitState, exists bool) error {
				if !exists {
					return errSkip
				}
				v.Status, v.SettleNo = visitSettled, no
				return nil
			}); err != nil {
				return err
			}
		} else {
			s.InstType, s.Total = "3", money(decOr0(doc, "aac142"))
			if err := update(ctx, h, deviceLinesKey(s.AKB020, str(doc, "aac002")), func(m *map[string]string, _ bool) error {
				if *m == nil {
					*m = map[string]string{}
				}
				items, _ := doc["items"].([]any)
				for _, x := range items {
					line, _ := x.(map[string]any)
					if dn := str(line, "detail_no"); dn != "" {
						(*m)[dn] = no
					}
				}
				return nil
			}); err != nil {
				return err
			}
		}
		if err := update(ctx, h, "settle/"+no, func(cur *settleState, exists bool) error {
			if !exists {
				*cur = s
			}
			return nil
		}); err != nil {
			return err
		}
		if err := addMonthItem(ctx, h, s.AKB020, monthOf(s.SettleTime), monthItem{Type: itemSettlement, Ref: no, Settle: no, Amount: s.Fund, Total: s.Total, Self: s.Self, Time: s.SettleTime}); err != nil {
			return err
		}
		if code == "GYU103" {
			return a.attachPending(ctx, h, s.Visit, no)
		}
		return nil
	case "GYR001":
		ykc700 := str(doc, "ykc700")
		list, _ := doc["details"].([]any)
		only := map[string]bool{}
		for _, x := range list {
			r, _ := x.(map[string]any)
			only[str(r, "detail_no")] = true
		}
		return revokeDetails(ctx, h, ykc700, only)
	case "GYR002":
		return a.revokeVisit(ctx, h, str(doc, "ykc700"))
	case "GYR003":
		no := str(doc, "settle_no")
		var s settleState
		if err := update(ctx, h, "settle/"+no, func(cur *settleState, exists bool) error {
			if !exists {
				return errSkip
			}
			if !cur.Revoked {
				cur.Revoked, cur.RevokeTime = true, str(doc, "revoke_time")
			}
			s = *cur
			return nil
		}); err != nil {
			return err
		}
		if s.RehabPlan != "" {
			// GYR003 revokes the settlement's attachments too.
			if err := update(ctx, h, "att/"+s.RehabPlan, func(att *attachmentState, exists bool) error {
				if !exists || att.Revoked {
					return errSkip
				}
				att.Revoked = true
				return nil
			}); err != nil {
				return err
			}
		}
		if s.Visit == "" && s.InstType == "3" {
			// A revoked device settlement frees its lines.
			if err := update(ctx, h, "devlines/"+s.AKB020+"/"+s.Person, func(m *map[string]string, exists bool) error {
				if !exists {
					return errSkip
				}
				for dn, sn := range *m {
					if sn == no {
						delete(*m, dn)
					}
				}
				return nil
			}); err != nil {
				return err
			}
		}
		if s.Visit != "" {
			if err := revokeDetails(ctx, h, s.Visit, nil); err != nil {
				return err
			}
			if err := a.revokeVisit(ctx, h, s.Visit); err != nil {
				return err
			}
		}
		return addMonthItem(ctx, h, s.AKB020, monthOf(s.RevokeTime), monthItem{Type: itemSettleRevoke, Ref: no, Settle: no, Amount: s.Fund, Total: s.Total, Self: s.Self, Time: s.RevokeTime})
	case "GYU004":
		list, _ := doc["deductions"].([]any)
		for _, x := range list {
			r, _ := x.(map[string]any)
			no, sn := str(r, "deduct_no"), str(r, "settle_no")
			var s settleState
			if _, err := getJSON(ctx, h, "settle/"+sn, &s); err != nil {
				return err
			}
			st := deductState{SettleNo: sn, AKB020: s.AKB020, Amount: money(decOr0(r, "deduct_amount")), DeductTime: str(r, "deduct_time"), At: now}
			if err := update(ctx, h, "deduct/"+no, func(cur *deductState, exists bool) error {
				if !exists {
					*cur = st
				}
				return nil
			}); err != nil {
				return err
			}
			if err := update(ctx, h, "settle/"+sn, func(cur *settleState, exists bool) error {
				if !exists || slices.Contains(cur.Deducts, no) {
					return errSkip
				}
				{
					cur.Deducts = append(cur.Deducts, no)
				}
				return nil
			}); err != nil {
				return err
			}
			if err := addMonthItem(ctx, h, s.AKB020, monthOf(st.DeductTime), monthItem{Type: itemDeduction, Ref: no, Settle: sn, Amount: st.Amount, Time: st.DeductTime}); err != nil {
				return err
			}
		}
	case "GYR004":
		list, _ := doc["deductions"].([]any)
		rt := str(doc, "revoke_time")
		for _, x := range list {
			r, _ := x.(map[string]any)
			if err := revokeDeduction(ctx, h, str(r, "deduct_no"), rt); err != nil {
				return err
			}
		}
	case "GYU003":
		if inParts(doc) {
			return partAccepted(ctx, h, msgID, doc, str(out, "month_settle_no"))
		}
		return putJSON(ctx, h, "monthdone/"+str(doc, "akb020")+"/"+str(doc, "settle_month"),
			claimState{MessageID: msgID, Done: true, Ref: str(out, "month_settle_no"), At: now})
	}
	return nil
}

// deductionDownloaded records a deduction downloaded with GYD004 (rec). One
// of a settlement uploaded here that was not uploaded here (made by the
// agency through another channel) exists at the national system all the
// same: it counts towards the settlement's limit (rule
// deduction≤fund-paid) and is a record of the institution's month, which
// its monthly settlement (GYU003) lists, as the national system's does.
// A revocation once recorded stays (a deduction is revoked once).
func (a *Adapter) deductionDownloaded(ctx context.Context, h sdk.Host, rec map[string]any) error {
	no, sn := str(rec, "deduct_no"), str(rec, "settle_no")
	var dl dlDeduction
	if err := update(ctx, h, "dldeduct/"+no, func(d *dlDeduction, exists bool) error {
		revoked := d.Revoked || str(rec, "revoked") == "1"
		*d = dlDeduction{SettleNo: sn, Visit: firstNonEmpty(str(rec, "ykc700"), d.Visit), Revoked: revoked, AKB020: str(rec, "akb020"), Amount: moneyOf(rec, "deduct_amount"),
			DeductTime: str(rec, "deduct_time"), RevokeTime: d.RevokeTime, At: a.now().UTC()}
		dl = *d
		return nil
	}); err != nil {
		return err
	}
	own, s, err := a.ownSettlement(ctx, h, no, sn)
	if err != nil {
		return err
	}
	if s != nil && dl.Revoked && dl.RevokeTime == "" {
		// Revoked at the national system, its revocation not downloaded
		// (GYD404): its month is not known here yet, unless it was
		// revoked here (GYR004), which dated it.
		var st deductState
		if own {
			if _, err := getJSON(ctx, h, "deduct/"+no, &st); err != nil {
				return err
			}
		}
		if !st.Revoked {
			if err := revocationUndated(ctx, h, s.AKB020, no, monthOf(dl.DeductTime), true); err != nil {
				return err
			}
		}
	}
	if own {
		return nil
	}
	if s == nil {
		return a.pendDownloaded(ctx, h, no, dl)
	}
	return attachDownloaded(ctx, h, no, dl, s)
}

// revocationUndated adds (add) or removes deduction no of institution
// akb020, made in month, to the deductions a GYD004 gave as revoked whose
// revocation (GYD404, which dates it) was not downloaded yet
// (dlrevwait/<akb020>): the monthly settlements (GYU003) of that month and
// later ones cannot tell whether the revocation is theirs until it is.
func revocationUndated(ctx context.Context, h sdk.Host, akb020, no, month string, add bool) error {
	if akb020 == "" {
		return nil
	}
	return update(ctx, h, "dlrevwait/"+akb020, func(m *map[string]string, exists bool) error {
		_, has := (*m)[no]
		switch {
		case add && !has:
			if *m == nil {
				*m = map[string]string{}
			}
			(*m)[no] = month
		case !add && has:
			delete(*m, no)
		default:
			return errSkip
		}
		return nil
	})
}

// attachDownloaded lists downloaded deduction no (dl, not uploaded here)
// in its settlement s, uploaded here, and puts it in its institution's
// month, with its revocation when that is downloaded (idempotent).
func attachDownloaded(ctx context.Context, h sdk.Host, no string, dl dlDeduction, s *settleState) error {
	if err := update(ctx, h, "settle/"+dl.SettleNo, func(cur *settleState, exists bool) error {
		if !exists || slices.Contains(cur.Downloaded, no) {
			return errSkip
		}
		cur.Downloaded = append(cur.Downloaded, no)
		return nil
	}); err != nil {
		return err
	}
	if err := addMonthItem(ctx, h, s.AKB020, monthOf(dl.DeductTime), monthItem{Type: itemDeduction, Ref: no, Settle: dl.SettleNo, Amount: dl.Amount, Time: dl.DeductTime}); err != nil {
		return err
	}
	if !dl.Revoked || dl.RevokeTime == "" {
		return nil
	}
	return addMonthItem(ctx, h, s.AKB020, monthOf(dl.RevokeTime), monthItem{Type: itemDeductRevoke, Ref: no, Settle: dl.SettleNo, Amount: dl.Amount, Time: dl.RevokeTime})
}

// pendDownloaded keeps downloaded deduction no (dl), of a settlement not
// known here, for its visit (dl.Visit) when that visit was admitted here:
// the settlement may be the visit's, uploaded with a GYU103 whose outcome
// is not known yet; attachPending attaches it once it is. A deduction of a
// visit not admitted here, or of a visit whose settlement is known here and
// is another one, is of another settlement, never attached: nothing is
// kept.
//
// The visit's settlement may become known while the deduction is added
// (dlvisit/<ykc700>), its attachPending having read the list before (or
// removed it since): so the visit is read again once the deduction is in
// the list, and a settlement stored by then attaches the deduction here
// (when it is that settlement's) and the list is settled as attachPending
// does. The GYU103's effects store the visit's settlement number, then the
// settlement, then run attachPending: whichever way the two interleave,
// one of them, or both (attaching is idempotent), attaches it.
func (a *Adapter) pendDownloaded(ctx context.Context, h sdk.Host, no string, dl dlDeduction) error {
	if dl.Visit == "" {
		return nil
	}
	var v visitState
	if ver, err := getJSON(ctx, h, "visit/"+dl.Visit, &v); err != nil || ver == 0 {
		return err
	}
	if v.SettleNo != "" && v.SettleNo != dl.SettleNo {
		return nil
	}
	if err := update(ctx, h, pendingKey(dl.Visit), func(nos *[]string, _ bool) error {
		if slices.Contains(*nos, no) {
			return errSkip
		}
		*nos = append(*nos, no)
		return nil
	}); err != nil {
		return err
	}
	var now visitState
	if ver, err := getJSON(ctx, h, "visit/"+dl.Visit, &now); err != nil || ver == 0 || now.SettleNo == "" {
		return err
	}
	var s settleState
	if ver, err := getJSON(ctx, h, "settle/"+now.SettleNo, &s); err != nil || ver == 0 {
		return err
	}
	if now.SettleNo == dl.SettleNo {
		if err := attachPendingOne(ctx, h, no, dl, &s); err != nil {
			return err
		}
	}
	return a.attachPending(ctx, h, dl.Visit, now.SettleNo)
}

// pendingKey is the key of the deductions downloaded for visit ykc700
// before its settlement was known here (pendDownloaded).
func pendingKey(ykc700 string) string { return "dlvisit/" + ykc700 }

// attachPending attaches the deductions downloaded for visit ykc700 before
// its settlement sn was known here (pendDownloaded), now that it is, and
// then removes their list: every deduction in it is attached, or is of
// another settlement, which the visit (settled with sn) never has. The
// list goes only once every attach is made, so a stop in between leaves
// it whole, and the effects of the GYU103, applied again, attach again
// (idempotent: nothing twice).
func (a *Adapter) attachPending(ctx context.Context, h sdk.Host, ykc700, sn string) error {
	if ykc700 == "" {
		return nil
	}
	var nos []string
	if ver, err := getJSON(ctx, h, pendingKey(ykc700), &nos); err != nil || ver == 0 {
		return err
	}
	var s settleState
	if ver, err := getJSON(ctx, h, "settle/"+sn, &s); err != nil || ver == 0 {
		return err
	}
	for _, no := range nos {
		var dl dlDeduction
		if ver, err := getJSON(ctx, h, "dldeduct/"+no, &dl); err != nil {
			return err
		} else if ver == 0 || dl.SettleNo != sn {
			continue
		}
		if err := attachPendingOne(ctx, h, no, dl, &s); err != nil {
			return err
		}
	}
	if err := a.at("dlvisit-attached"); err != nil {
		return err
	}
	return dropPending(ctx, h, ykc700, nos)
}

// attachPendingOne attaches downloaded deduction no (dl) of settlement s,
// kept by pendDownloaded, as deductionDownloaded does for a settlement
// known when the deduction is downloaded (idempotent).
func attachPendingOne(ctx context.Context, h sdk.Host, no string, dl dlDeduction, s *settleState) error {
	if err := attachDownloaded(ctx, h, no, dl, s); err != nil {
		return err
	}
	if dl.Revoked && dl.RevokeTime == "" {
		// Given as revoked by GYD004, its revocation not downloaded:
		// as deductionDownloaded does for a known settlement.
		return revocationUndated(ctx, h, s.AKB020, no, monthOf(dl.DeductTime), true)
	}
	return nil
}

// dropPending removes done, the deductions attachPending attached (or
// found of another settlement), from the list of visit ykc700, and the
// list once nothing else is in it. A deduction added after the list was
// read stays (compare-and-set on the version read): its own
// pendDownloaded attaches it, finding the settlement known. The host has
// no conditional delete: one added between the last read and the delete
// is removed with the list, which loses nothing, since that
// pendDownloaded, which added it after the settlement was stored, finds
// the settlement and attaches it itself.
func dropPending(ctx context.Context, h sdk.Host, ykc700 string, done []string) error {
	key := pendingKey(ykc700)
	for range 8 {
		var nos []string
		ver, err := getJSON(ctx, h, key, &nos)
		if err != nil || ver == 0 {
			return err
		}
		rest := slices.DeleteFunc(nos, func(no string) bool { return slices.Contains(done, no) })
		if len(rest) == 0 {
			if err := h.Delete(ctx, key); err != nil {
				return fmt.Errorf("remove state %s: %w", key, err)
			}
			return nil
		}
		if _, err := casJSON(ctx, h, key, ver, rest); errors.Is(err, sdk.ErrConflict) {
			continue
		} else {
			return err
		}
	}
	return fmt.Errorf("state %s changes too often; try again", key)
}

// deductionRevocationDownloaded records the revocation of a deduction
// downloaded with GYD404 (rec; dldeduct/ is marked revoked by the download
// workflow). For a deduction of a settlement uploaded here it is a record
// of the institution's month (deductionDownloaded); for one uploaded here
// it marks the deduction revoked, as an accepted GYR004 would.
func (a *Adapter) deductionRevocationDownloaded(ctx context.Context, h sdk.Host, rec map[string]any) error {
	no, sn, rt := str(rec, "deduct_no"), str(rec, "settle_no"), str(rec, "revoke_time")
	var dl dlDeduction
	if err := update(ctx, h, "dldeduct/"+no, func(d *dlDeduction, exists bool) error {
		if !exists {
			d.SettleNo, d.At = sn, a.now().UTC()
		}
		d.Revoked = true
		if d.RevokeTime == "" {
			d.RevokeTime = rt
		}
		if d.Amount == "" {
			d.Amount, d.AKB020 = moneyOf(rec, "deduct_amount"), str(rec, "akb020")
		}
		dl = *d
		return nil
	}); err != nil {
		return err
	}
	if err := revocationUndated(ctx, h, firstNonEmpty(dl.AKB020, str(rec, "akb020")), no, "", false); err != nil {
		return err
	}
	own, s, err := a.ownSettlement(ctx, h, no, sn)
	if err != nil {
		return err
	}
	if own {
		return revokeDeduction(ctx, h, no, rt)
	}
	if s == nil {
		return a.pendDownloaded(ctx, h, no, dl)
	}
	return attachDownloaded(ctx, h, no, dl, s)
}

// ownSettlement tells, for a downloaded deduction no of settlement sn,
// whether it was uploaded here (own), and returns the settlement when it
// was uploaded here (nil otherwise: a settlement of elsewhere, whose
// deductions no rule here counts).
func (a *Adapter) ownSettlement(ctx context.Context, h sdk.Host, no, sn string) (bool, *settleState, error) {
	var s settleState
	ver, err := getJSON(ctx, h, "settle/"+sn, &s)
	if err != nil || ver == 0 {
		return false, nil, err
	}
	var st deductState
	ver, err = getJSON(ctx, h, "deduct/"+no, &st)
	if err != nil {
		return false, nil, err
	}
	return ver > 0, &s, nil
}

// revokeVisit marks a visit's admission revoked and frees its inpatient
// number.
func (a *Adapter) revokeVisit(ctx context.Context, h sdk.Host, ykc700 string) error {
	var v visitState
	if err := update(ctx, h, "visit/"+ykc700, func(cur *visitState, exists bool) error {
		if !exists {
			return errSkip
		}
		cur.Status = visitRevoked
		v = *cur
		return nil
	}); err != nil {
		return err
	}
	return update(ctx, h, "adm/"+v.AKB020+"/"+v.AKC190, func(cl *claimState, exists bool) error {
		if !exists || cl.Ref != ykc700 || cl.Revoked {
			return errSkip
		}
		cl.Revoked = true
		return nil
	})
}

// feeLines adds the fee lines of a GYU102 doc to dm (nil: a new map) and
// returns it, leaving out the lines the national system refused (refused,
// from refusedLines): they were not uploaded. The rule unique-detail-no
// kept lines of other calls out of this one; applied again (reconciled),
// it keeps what is recorded: a detail number dm has is left as it is.
func feeLines(doc map[string]any, dm visitDetails, refused map[string]string) visitDetails {
	fee, _ := doc["fee"].([]any)
	if dm == nil {
		dm = make(visitDetails, len(fee))
	}
	for _, x := range fee {
		line, _ := x.(map[string]any)
		no := str(line, "detail_no")
		if _, ok := dm[no]; ok {
			continue
		}
		if _, ok := refused[no]; ok {
			continue
		}
		dm[no] = detailState{Amount: moneyOf(line, "amount"), Fund: moneyOf(line, "fund_pay"), Self: moneyOf(line, "self_pay")}
	}
	return dm
}

// inFlight adds (add) or removes a GYU102 message of a visit whose outcome
// is unknown. With a visitMemo in ctx (see withVisitMemo) it writes on
// the version this message last read or wrote, and reads the visit again
// only when that compare-and-set fails.
func (a *Adapter) inFlight(ctx context.Context, h sdk.Host, ykc700, msgID string, add bool) error {
	if ykc700 == "" {
		return nil
	}
	return markInFlight(ctx, h, "visit/"+ykc700, msgID, add)
}

// refusedLines returns the fee lines an accepted GYU102 answer refuses
// one by one (results[].result_flag other than 1), by detail_no, with the
// national system's reason. The call is accepted, but those lines were not
// uploaded: they must count neither in the settlement's sums nor as
// detail numbers used. An answer whose every result_flag is written "1"
// (the usual one) is not decoded; one that is not readable, or lists no
// results, refuses nothing.
func refusedLines(output json.RawMessage) map[string]string {
	flags := bytes.Count(output, []byte(`"result_flag"`))
	if flags == 0 || bytes.Count(output, []byte(`"result_flag":"1"`)) == flags {
		return nil
	}
	var o struct {
		Results []map[string]any `json:"results"`
	}
	if err := decodeJSON(output, &o); err != nil {
		return nil
	}
	var refused map[string]string
	for _, r := range o.Results {
		no, flag := str(r, "detail_no"), str(r, "result_flag")
		if no == "" || flag == "" || flag == "1" {
			continue
		}
		if refused == nil {
			refused = map[string]string{}
		}
		refused[no] = nationalText(str(r, "fail_reason"))
	}
	return refused
}

// unaccountedLines says why an accepted GYU102 answer cannot tell which of
// the lines sent (doc's fee) the national system took, or returns "" when
// it can: its accepted_count plus the lines it refuses one by one
// (refusedLines) must be the number of lines sent. A count lower than that
// without the refused lines named (results missing, or listing fewer) says
// some lines were not taken without saying which; a higher one contradicts
// the refusals. An answer without accepted_count is read by its results
// alone (accepted_count is part of medgate's reconstruction of GYU102).
func unaccountedLines(doc map[string]any, output json.RawMessage) string {
	var o struct {
		Accepted json.RawMessage `json:"accepted_count"`
	}
	if err := decodeJSON(output, &o); err != nil || len(o.Accepted) == 0 || string(o.Accepted) == "null" {
		return ""
	}
	fee, _ := doc["fee"].([]any)
	sent := map[string]bool{}
	for _, x := range fee {
		r, _ := x.(map[string]any)
		sent[str(r, "detail_no")] = true
	}
	raw := strings.Trim(string(o.Accepted), `"`)
	accepted, err := strconv.Atoi(raw)
	if err != nil {
		return fmt.Sprintf("its accepted_count %s is not a whole number", string(o.Accepted))
	}
	refused := 0
	for no := range refusedLines(output) {
		if sent[no] {
			refused++
		}
	}
	switch {
	case accepted+refused == len(fee):
		return ""
	case accepted+refused > len(fee):
		return fmt.Sprintf("it accepted %d of %d fee line(s) sent and refuses %d by detail_no, which contradict each other",
			accepted, len(fee), refused)
	}
	return fmt.Sprintf("it accepted %d of %d fee line(s) sent and refuses %d by detail_no, so %d line(s) are not accounted for",
		accepted, len(fee), refused, len(fee)-accepted-refused)
}

// unaccountedDeductions says why an accepted GYU004 (GYR004) answer cannot
// tell which of the deductions sent (doc's deductions) the national system
// took (revoked), or returns "" when it can: its accepted_count
// (revoked_count) must be the number of deductions sent. The answer names
// no deduction one by one, so a lower count says some were left out
// without saying which, and a higher one counts deductions not sent. An
// answer without the count is read as taking every deduction (the count is
// part of medgate's reconstruction of GYU004 and GYR004).
func unaccountedDeductions(code string, doc map[string]any, output json.RawMessage) string {
	field, what := "accepted_count", "took"
	if code == "GYR004" {
		field, what = "revoked_count", "revoked"
	}
	var o map[string]json.RawMessage
	if err := decodeJSON(output, &o); err != nil {
		return ""
	}
	raw, ok := o[field]
	if !ok || len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	list, _ := doc["deductions"].([]any)
	n, err := strconv.Atoi(strings.Trim(string(raw), `"`))
	switch {
	case err != nil:
		return fmt.Sprintf("its %s %s is not a whole number", field, string(raw))
	case n < len(list):
		return fmt.Sprintf("its %s says it %s %d of %d deduction(s) sent without naming them, so %d deduction(s) are not accounted for",
			field, what, n, len(list), len(list)-n)
	case n > len(list):
		return fmt.Sprintf("its %s says it %s %d deduction(s) but %d were sent", field, what, n, len(list))
	}
	return ""
}

// maxRefusedListed bounds the refused lines a reply names one by one.
const maxRefusedListed = 20

// refusedWarning is the warning of an accepted GYU102 reply that names
// the lines the national system refused, or nil when it refused none.
func refusedWarning(output json.RawMessage) *sdk.Diagnostic {
	refused := refusedLines(output)
	if len(refused) == 0 {
		return nil
	}
	nos := slices.Sorted(maps.Keys(refused))
	var parts []string
	for i, no := range nos {
		if i == maxRefusedListed {
			parts = append(parts, fmt.Sprintf("and %d more", len(nos)-i))
			break
		}
		p := no
		if why := refused[no]; why != "" {
			p += " (" + why + ")"
		}
		parts = append(parts, p)
	}
	return &sdk.Diagnostic{Severity: sdk.SeverityWarning, Field: "$.fee", Rule: "line-refused",
		Summary: fmt.Sprintf("the national system accepted the call but refused %d fee line(s): %s", len(nos), strings.Join(parts, ", ")),
		Detail:  "only the other lines were uploaded (they alone count towards the settlement, GYU103); correct the refused lines and send them again with GYU102, under the same detail_no or a new one"}
}
