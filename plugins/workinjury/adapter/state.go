package adapter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// The adapter keeps its state in the host's store (namespaced by plugin and
// site). Keys:
//
//	msg/<message id>            sentRecord: serial and outcome of an upload
//	apply/<apply_no>            applyState: a downloaded filing application
//	filing/<filing_no>          filingState: a filing this site knows of
//	person/<hash>/<inst type>   filing_no of the person's valid filing
//	att/<attachment_id>         attachmentState: uploaded with GYU002
//	inst/<akb020>               instState: an institution and its type
//	instup/<akb020>             hash of the institution last uploaded (GYU009 job)
//	dl/<code>                   dlState: the download workflow of GYD001/GYD006/GYD009
//	dl/<code>/progress          dlProgress: records published of the current batch
//	dl/<code>/batch/<serial>/<i> the records of the stored batch from index i on
//	                            (batchstore.go)
//	visit/<ykc700>              visitState: an admission uploaded with GYU101
//	visit/<ykc700>/details/<id> visitDetails: the fee details of GYU102 message id
//	                            (GYU102, revoked by GYR001/GYR003); state written
//	                            before keeps them all in visit/<ykc700>/details
//	adm/<akb020>/<akc190>       claimState: the inpatient/outpatient number's use
//	settle/<settle_no>          settleState: a settlement (GYU103, GYU303)
//	devlines/<akb020>/<hash>    map detail_no → settle_no: the lines of the person's
//	                            device settlements (GYU303) there not revoked (GYR003)
//	deduct/<deduct_no>          deductState: an audit deduction (GYU004)
//	deductwait/<settle_no>/<message id>
//	                            a GYU004 naming the settlement, marked before it is
//	                            sent with the sum of its deductions of it: a later
//	                            GYU004 of the settlement may wait for it (settling.go)
//	deductgate/<settle_no>      moved by every deductwait mark of the settlement; a
//	                            GYU004 marks itself with a compare-and-set of it (settling.go)
//	deductmsg/<deduct_no>/<message id>
//	                            a GYU004 or GYR004 naming the deduction, marked before it
//	                            is sent: a later GYR004 of it, or GYU004 of the number,
//	                            waits for its outcome (settling.go)
//	month/<akb020>/<yyyyMM>     monthIndex: what the month's GYU003 must list
//	monthdone/<akb020>/<yyyyMM> claimState: the month's GYU003 (with its parts' messages
//	                            when it goes in parts)
//	monthpart/<akb020>/<yyyyMM>/<part_no>
//	                            monthPart: the items of one part of a GYU003 in parts,
//	                            written before the part claims itself in monthdone
//	monthwait/<akb020>/<yyyyMM>/<message id>
//	                            an upload adding to the month, marked before it is
//	                            sent: GYU003 waits while its outcome is unknown
//	monthgate/<akb020>/<yyyyMM> bumped by every mark of the month; a GYU003
//	                            compare-and-sets it before it is sent (monthwait.go)
//	card/<hash>/<akb020>        time of the person's last successful GYD052
//	holder/<hash>               cardHolder: the holder of a card (by a hash of its
//	                            number) a successful GYD052 named, for GYD055
//	late/<message id>           an upload already reported as late
//	dladm/<akb020>/<akc190>     dlAdmission: an admission downloaded (GYD101)
//	dldet/<ykc700>              map detail_no → revoked: details downloaded (GYD102, GYD401)
//	dldeduct/<deduct_no>        dlDeduction: a deduction downloaded (GYD004, GYD404); one
//	                            of a settlement uploaded here and not uploaded here is
//	                            listed in the settlement (Downloaded) and its month
//	dlrevwait/<akb020>          map deduct_no → month: deductions GYD004 gave as revoked
//	                            whose revocation (GYD404, which dates it) is not downloaded
//	                            yet; GYU003 of that month or later is refused meanwhile
//	dlvisit/<ykc700>            deduction numbers downloaded for a settlement not known
//	                            here yet, of a visit admitted here (its GYU103 without a
//	                            known outcome): attached once the settlement is, then
//	                            removed (attachPending, dropPending)
//	redl/<code>/<key>           a complete re-download still to run (after GYD401/GYD404)
//	                            (its input, with medgate_refusals: refusals so far)
//	redeliver/<code>            redelivery: a date-range GYR005 whose records are still handed out again
//
// ID numbers never appear in keys: persons are keyed by a hash.

// getJSON reads key into v and returns its version (0 when absent).
func getJSON(ctx context.Context, h sdk.Host, key string, v any) (int64, error) {
	e, err := h.Get(ctx, key)
	return decodeEntry(key, e, err, v)
}

// decodeEntry is the rest of getJSON once the host answered with e or err.
func decodeEntry(key string, e sdk.Entry, err error, v any) (int64, error) {
	if errors.Is(err, sdk.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read state %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value, v); err != nil {
		return 0, fmt.Errorf("state %s is not readable JSON: %w", key, err)
	}
	return e.Version, nil
}

// putJSON writes v at key.
func putJSON(ctx context.Context, h sdk.Host, key string, v any) error {
	b, err := encodeState(v)
	if err != nil {
		return fmt.Errorf("encode state %s: %w", key, err)
	}
	if _, err := h.Put(ctx, key, b); err != nil {
		return fmt.Errorf("write state %s: %w", key, err)
	}
	return nil
}

// casJSON writes v at key if its version is still expect and returns the
// new version; a lost race is sdk.ErrConflict.
func casJSON(ctx context.Context, h sdk.Host, key string, expect int64, v any) (int64, error) {
	b, err := encodeState(v)
	if err != nil {
		return 0, fmt.Errorf("encode state %s: %w", key, err)
	}
	n, err := h.CompareAndSet(ctx, key, expect, b)
	if err != nil {
		return 0, fmt.Errorf("write state %s: %w", key, err)
	}
	return n, nil
}

// sentRecord is what the adapter knows of an upload it sent for a message.
type sentRecord struct {
	Code   string    `json:"code"`
	Serial string    `json:"serial"`
	Date   string    `json:"date"` // day of the call, UTC+8, for GYD053
	SentAt time.Time `json:"sentAt"`
	Sends  int       `json:"sends"` // requests sent, over all serials
	// Done is set once the outcome is known; Status is ok or rejected.
	Done    bool            `json:"done,omitempty"`
	Status  string          `json:"status,omitempty"`
	ExtCode string          `json:"extCode,omitempty"`
	ExtMsg  string          `json:"extMsg,omitempty"`
	Output  json.RawMessage `json:"output,omitempty"`
	// Reconciled says the outcome came from GYD053.
	Reconciled bool `json:"reconciled,omitempty"`
}

// applyState is a filing application downloaded with GYD001.
type applyState struct {
	Status   string `json:"status"` // downloaded | audited
	Result   string `json:"result,omitempty"`
	FilingNo string `json:"filingNo,omitempty"`
	BatchNo  string `json:"batchNo,omitempty"`
	// FilingType, AKB020, Person (the applicant, by personKey), the place
	// (AAB299) and the period applied for (AAE030, AAE031) come from the
	// downloaded record.
	FilingType string    `json:"filingType,omitempty"`
	AKB020     string    `json:"akb020,omitempty"`
	Person     string    `json:"person,omitempty"`
	AAB299     string    `json:"aab299,omitempty"`
	AAE030     string    `json:"aae030,omitempty"`
	AAE031     string    `json:"aae031,omitempty"`
	At         time.Time `json:"at"`
	// AuditRefused: the national system refused a GYU001 of the
	// application (verified); it no longer holds GYD001 back
	// (pendingAuditCheck local) and may still be audited again.
	AuditRefused bool `json:"auditRefused,omitempty"`
}

// Application states.
const (
	applyDownloaded = "downloaded"
	applyAudited    = "audited"
)

// filingState is a filing this site knows of (uploaded, approved or
// downloaded). Status uses the filingStatus code table.
type filingState struct {
	Status   string `json:"status"`
	Person   string `json:"person"`
	InstType string `json:"instType"`
	// InstGuessed: InstType is a guess (instType: 1 for a filing at an
	// institution this site did not know when it recorded the filing),
	// never the ground of a refusal; the rules read the type the
	// institution has once known (typedFiling).
	InstGuessed bool      `json:"instGuessed,omitempty"`
	AKB020      string    `json:"akb020,omitempty"`
	AAB299      string    `json:"aab299,omitempty"`
	AAE030      string    `json:"aae030,omitempty"`
	AAE031      string    `json:"aae031,omitempty"`
	At          time.Time `json:"at"`
}

// Filing status codes (schemas/workinjury/codes/filingStatus.yaml).
const (
	filingPending    = "0"
	filingApproved   = "1"
	filingRefused    = "2"
	filingChanged    = "3"
	filingTerminated = "4"
)

// valid reports whether the filing can be used on day (YYYY-MM-DD).
func (f filingState) valid(day string) bool {
	if f.Status != filingApproved && f.Status != filingChanged {
		return false
	}
	return f.AAE031 == "" || f.AAE031 >= day
}

// invalid reports whether the filing is invalid for good: refused or
// terminated. Its status may never become valid again.
func (f filingState) invalid() bool {
	return f.Status == filingRefused || f.Status == filingTerminated
}

// attachmentState is an attachment uploaded with GYU002.
type attachmentState struct {
	BizType  string    `json:"bizType"`
	BizNo    string    `json:"bizNo"`
	Type     string    `json:"type"`
	FileName string    `json:"fileName"`
	At       time.Time `json:"at"`
	// Revoked: the attachment went with a settlement revoked by GYR003
	// (a rehabilitation plan); it can no longer be referred to.
	Revoked bool `json:"revoked,omitempty"`
}

// instState is an institution from GYD009 or GYU009.
type instState struct {
	Type   string    `json:"type"`
	Valid  string    `json:"valid"`
	AAB299 string    `json:"aab299,omitempty"`
	AAE030 string    `json:"aae030,omitempty"`
	AAE031 string    `json:"aae031,omitempty"`
	At     time.Time `json:"at"`
}

// agreementValid reports whether the institution's agreement is valid on
// day (YYYY-MM-DD).
func (s instState) agreementValid(day string) bool {
	if s.Valid != "1" {
		return false
	}
	if s.AAE030 != "" && day < s.AAE030 {
		return false
	}
	return s.AAE031 == "" || day <= s.AAE031
}

// Visit states.
const (
	visitAdmitted = "admitted"
	visitSettled  = "settled"
	visitRevoked  = "revoked"
)

// visitState is an admission uploaded with GYU101, keyed by the national
// visit number (ykc700).
type visitState struct {
	AKB020 string `json:"akb020"`
	AKC190 string `json:"akc190"`
	Person string `json:"person"`
	// AAC002 and AAC003 are kept (in the value, never in a key) for the
	// GYD051 check at discharge.
	AAC002   string `json:"aac002,omitempty"`
	AAC003   string `json:"aac003,omitempty"`
	FilingNo string `json:"filingNo"`
	AKA130   string `json:"aka130"`
	InstType string `json:"instType,omitempty"`
	AAB301   string `json:"aab301,omitempty"`
	Admitted string `json:"admitted"` // ykc701
	Status   string `json:"status"`
	SettleNo string `json:"settleNo,omitempty"`
	// InFlight lists the GYU102 messages sent for this visit whose outcome
	// is not known yet: a settlement waits for them.
	InFlight []string `json:"inFlight,omitempty"`
	// Settling lists the GYU103 messages sent for this visit whose
	// outcome is not known yet: the stay's details wait for them
	// (settling.go).
	Settling []string `json:"settling,omitempty"`
	// Revoking lists the GYR001 messages sent for this visit whose
	// outcome is not known yet: a settlement of the stay waits for them
	// (settling.go).
	Revoking []string `json:"revoking,omitempty"`
	// RevokingLines are the detail numbers each GYR001 of Revoking names:
	// another GYR001 of the stay waits for it only when they share a line
	// (revokingOverlap). A GYR001 not in it revokes every line (it names
	// none, or was marked before this was kept).
	RevokingLines map[string][]string `json:"revokingLines,omitempty"`
	// Unadmitting lists the GYR002 messages sent for this visit whose
	// outcome is not known yet: another GYR002 of the visit and a GYU101
	// with its inpatient number wait for them (revokewait.go).
	Unadmitting []string  `json:"unadmitting,omitempty"`
	At          time.Time `json:"at"`
}

// detailState is one uploaded fee line; amounts are two-decimal strings.
type detailState struct {
	Amount  string `json:"a"`
	Fund    string `json:"f"`
	Self    string `json:"s"`
	Revoked bool   `json:"r,omitempty"`
}

// visitDetails are the fee lines of a visit by detail_no.
type visitDetails map[string]detailState

// claimState reserves a unique business key (an inpatient number at an
// institution, an institution's month) for one message until its outcome
// is known; Ref is what the accepted upload produced.
type claimState struct {
	MessageID string    `json:"messageId"`
	Done      bool      `json:"done,omitempty"`
	Ref       string    `json:"ref,omitempty"`
	Revoked   bool      `json:"revoked,omitempty"`
	At        time.Time `json:"at"`
	// PartCount, Header and Parts are set for a month settled in parts
	// (GYU003 with part_no/part_count, monthparts.go): how many parts, the
	// header every part carries, and the message of each part claimed
	// (by part_no). Done is set from the first accepted part on.
	PartCount int               `json:"partCount,omitempty"`
	Header    map[string]string `json:"header,omitempty"`
	Parts     map[string]string `json:"parts,omitempty"`
}

// settleState is a settlement uploaded with GYU103 or GYU303.
type settleState struct {
	Visit      string   `json:"visit,omitempty"` // ykc700; empty for assistive devices
	AKB020     string   `json:"akb020"`
	InstType   string   `json:"instType"`
	Person     string   `json:"person"`
	Total      string   `json:"total"`
	Fund       string   `json:"fund"`
	Self       string   `json:"self"`
	SettleTime string   `json:"settleTime"`
	Revoked    bool     `json:"revoked,omitempty"`
	RevokeTime string   `json:"revokeTime,omitempty"`
	Deducts    []string `json:"deducts,omitempty"`
	// Downloaded are the deductions of the settlement this site downloaded
	// (GYD004) without having uploaded them (dldeduct/<deduct_no>).
	Downloaded []string `json:"downloaded,omitempty"`
	// RehabPlan is the rehabilitation plan attached (rehab_plan_id),
	// revoked with the settlement.
	RehabPlan string `json:"rehabPlan,omitempty"`
	// Revoking lists the GYR003 messages sent for this settlement whose
	// outcome is not known yet: another GYR003 of it and a GYU101 with
	// its visit's inpatient number wait for them (revokewait.go).
	Revoking []string  `json:"revoking,omitempty"`
	At       time.Time `json:"at"`
}

// deductState is an audit deduction uploaded with GYU004.
type deductState struct {
	SettleNo   string    `json:"settleNo"`
	AKB020     string    `json:"akb020"`
	Amount     string    `json:"amount"`
	DeductTime string    `json:"deductTime"`
	Revoked    bool      `json:"revoked,omitempty"`
	RevokeTime string    `json:"revokeTime,omitempty"`
	At         time.Time `json:"at"`
}

// Monthly-settlement item types (codes/monthItemType.yaml).
const (
	itemSettlement   = "1"
	itemSettleRevoke = "2"
	itemDeduction    = "3"
	itemDeductRevoke = "4"
)

// monthItemKinds names the monthly-settlement item types in messages.
var monthItemKinds = map[string]string{itemSettlement: "settlement", itemSettleRevoke: "settlement revocation", itemDeduction: "deduction", itemDeductRevoke: "deduction revocation"}

// monthItem is one line a monthly settlement (GYU003) must list.
type monthItem struct {
	Type   string `json:"type"`
	Ref    string `json:"ref"`
	Settle string `json:"settle"`
	Amount string `json:"amount"`
	Total  string `json:"total,omitempty"`
	Self   string `json:"self,omitempty"`
	Time   string `json:"time"`
}

// monthIndex is every item of an institution's month.
type monthIndex struct {
	Items []monthItem `json:"items"`
}

// dlAdmission is an admission downloaded with GYD101.
type dlAdmission struct {
	YKC700  string    `json:"ykc700"`
	Revoked bool      `json:"revoked,omitempty"`
	At      time.Time `json:"at"`
}

// dlDeduction is a deduction downloaded with GYD004. Its amount, time and
// institution are kept for a deduction of a settlement uploaded here that
// was not uploaded here (deductionDownloaded): it counts towards the
// settlement's limit and is a record of the institution's month.
type dlDeduction struct {
	SettleNo   string    `json:"settleNo"`
	Visit      string    `json:"visit,omitempty"`
	Revoked    bool      `json:"revoked,omitempty"`
	AKB020     string    `json:"akb020,omitempty"`
	Amount     string    `json:"amount,omitempty"`
	DeductTime string    `json:"deductTime,omitempty"`
	RevokeTime string    `json:"revokeTime,omitempty"`
	At         time.Time `json:"at"`
}

// personKey hashes a social-security number for use in state keys.
func personKey(aac002 string) string {
	sum := sha256.Sum256([]byte("medgate-workinjury-person:" + aac002))
	return hex.EncodeToString(sum[:12])
}

// blank reports whether doc gives k no value: absent, null, "" or white
// space alone (schemas.Blank), as the requirements' 非空校验 judges a
// required value.
func blank(doc map[string]any, k string) bool { return schemas.Blank(str(doc, k)) }

func str(doc map[string]any, k string) string {
	switch v := doc[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// visitMemo is the visit a GYU102 message last read or wrote (key at
// version ver holds v). The message marks itself in flight before it is
// sent and clears the mark once its outcome is known; with the memo the
// second write is a compare-and-set on the version the first one returned,
// without reading the visit again. If anything else changed the visit in
// between, the compare-and-set fails and the visit is read as before.
type visitMemo struct {
	key string
	ver int64
	v   visitState
}

type visitMemoKey struct{}

// memoOf returns the visitMemo of ctx, or nil.
func memoOf(ctx context.Context) *visitMemo {
	m, _ := ctx.Value(visitMemoKey{}).(*visitMemo)
	return m
}

// withVisitMemo returns ctx carrying an empty visitMemo.
func withVisitMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, visitMemoKey{}, &visitMemo{})
}

// editInFlight adds or removes msgID in v's in-flight list and reports
// whether that changed it.
func editInFlight(v *visitState, msgID string, add bool) bool {
	has := slices.Contains(v.InFlight, msgID)
	switch {
	case add && !has:
		v.InFlight = append(v.InFlight, msgID)
	case !add && has:
		v.InFlight = slices.DeleteFunc(v.InFlight, func(s string) bool { return s == msgID })
	default:
		return false
	}
	return true
}

// markInFlight adds (add) or removes msgID in the in-flight list of the
// visit at key; a visit that does not exist is left alone.
func markInFlight(ctx context.Context, h sdk.Host, key, msgID string, add bool) error {
	m, _ := ctx.Value(visitMemoKey{}).(*visitMemo)
	if m != nil && m.key == key && m.ver > 0 {
		v := m.v
		v.InFlight = slices.Clone(v.InFlight)
		if editInFlight(&v, msgID, add) {
			nv, err := casJSON(ctx, h, key, m.ver, v)
			if err == nil {
				m.ver, m.v = nv, v
				return nil
			}
			if !errors.Is(err, sdk.ErrConflict) {
				return err
			}
		}
		// Changed by someone else, or nothing to change as far as the
		// memo knows: read the visit.
	}
	for range 8 {
		var v visitState
		ver, err := getJSON(ctx, h, key, &v)
		if err != nil {
			return err
		}
		if ver == 0 {
			return nil
		}
		editInFlight(&v, msgID, add)
		nv, err := casJSON(ctx, h, key, ver, v)
		if errors.Is(err, sdk.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		if m != nil {
			m.key, m.ver, m.v = key, nv, v
		}
		return nil
	}
	return fmt.Errorf("state %s changes too often; try again", key)
}

// prefetch is a state read started ahead, in the background, while the
// Handle makes the read before it (a GYU102 reads its message's record,
// then, for the rules, its visit: the two round trips into the host now
// overlap). The first read of key in the Handle takes its result
// (getJSONAhead); it is what that read would have returned had it been
// made when the prefetch started, before any write of the Handle.
type prefetch struct {
	key   string
	taken atomic.Bool
	done  chan struct{}
	e     sdk.Entry
	err   error
}

type prefetchKey struct{}

// withPrefetch starts reading key from h and returns ctx carrying the
// read for getJSONAhead.
func withPrefetch(ctx context.Context, h sdk.Host, key string) context.Context {
	p := &prefetch{key: key, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.e, p.err = h.Get(ctx, key)
	}()
	return context.WithValue(ctx, prefetchKey{}, p)
}

// getJSONAhead is getJSON that takes the result of a prefetch of key in
// ctx, the first time only; later reads ask the host.
func getJSONAhead(ctx context.Context, h sdk.Host, key string, v any) (int64, error) {
	p, _ := ctx.Value(prefetchKey{}).(*prefetch)
	if p == nil || p.key != key || p.taken.Swap(true) {
		return getJSON(ctx, h, key, v)
	}
	<-p.done
	return decodeEntry(key, p.e, p.err, v)
}
