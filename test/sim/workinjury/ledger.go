package workinjury

import (
	"maps"
	"slices"
	"sort"
	"time"
)

// The settlement chain's ledger: every admission, fee detail, settlement,
// deduction, monthly settlement, revocation and clearing record the
// simulated national system holds. Handlers change it with s.mu held;
// downloads and answers are built from it.

// Visit states.
const (
	VisitAdmitted = "admitted" // GYU101 accepted; details may follow
	VisitSettled  = "settled"  // GYU103 accepted
	VisitRevoked  = "revoked"  // GYR002, or GYR003 of its settlement
)

// visit is one admission (GYU101) and what hangs on it.
type visit struct {
	no       string // ykc700, assigned by the simulator
	rec      map[string]any
	akb020   string
	akc190   string
	aac002   string
	aab301   string // the person's 参保地, from the filing
	filingNo string
	at       time.Time // ykc701
	state    string
	details  []*detail // upload order, revoked ones included
	// serials holds the detail_no of every line in details not revoked:
	// a serial names one valid line of the visit, and a line revoked with
	// GYR001 frees its serial for the corrected line. It is kept with
	// details so that a GYU102 checks its lines against it without
	// rebuilding it from every earlier call of the stay.
	serials map[string]struct{}
	settle  *settlement
	// downloadedBy are the senders GYD101 handed the admission out to
	// (GYD102 of its details needs it, per sender as the queues).
	downloadedBy map[string]bool
}

// live returns the details not revoked.
func (v *visit) live() []*detail {
	var out []*detail
	for _, d := range v.details {
		if !d.revoked {
			out = append(out, d)
		}
	}
	return out
}

// detail is one fee line (GYU102).
type detail struct {
	id     string // record id of GYD102: ykc700 + "-" + sequence
	visit  *visit
	serial string // detail_no
	// rec is the line as the GYU102 input carried it. It is shared with
	// that request's Input in Received and never changed: record adds the
	// visit's fields to a copy.
	rec     map[string]any
	amount  Money
	fund    Money
	self    Money
	revoked bool
}

// record is the GYD102 record of the detail: the line as uploaded, with
// its visit and whether it is revoked.
func (d *detail) record() map[string]any {
	rec := make(map[string]any, len(d.rec)+5)
	maps.Copy(rec, d.rec)
	v := d.visit
	rec["ykc700"], rec["akc190"], rec["akb020"], rec["aab301"] = v.no, v.akc190, v.akb020, v.aab301
	rec["revoked"] = yes(d.revoked)
	return rec
}

// settlement is a discharge settlement (GYU103) or an assistive-device
// settlement (GYU303).
type settlement struct {
	no       string // settle_no
	visit    *visit // nil for a device settlement
	device   bool
	akb020   string
	aac002   string
	aab301   string
	rec      map[string]any
	total    Money
	fund     Money
	self     Money
	at       time.Time // settle_time
	revoked  bool
	revoking *revocation
	monthly  string // month_settle_no of the monthly settlement that includes it
}

// deduction is an audit deduction (GYU004, or added by a test as made by
// the national side).
type deduction struct {
	no       string
	settle   *settlement
	akb020   string
	amount   Money
	rec      map[string]any
	at       time.Time
	revoked  bool
	revoking *revocation
	national bool
}

// revocation is a GYR001–GYR004 record, downloaded with GYD401–GYD404.
type revocation struct {
	no   string
	code string // GYR001 … GYR004
	rec  map[string]any
	at   time.Time
}

// monthly is an institution's monthly settlement (GYU003).
type monthly struct {
	no     string
	akb020 string
	month  string // YYYY-MM
	rec    map[string]any
	sums   MonthSums
	items  []monthItem
	at     time.Time
}

// clearingRec is a clearing (费用清分) record, downloaded with GYD005 once
// its payables and receivables are confirmed.
type clearingRec struct {
	no  string
	rec map[string]any
}

// ledger holds the chain's records; it lives inside Server under s.mu.
type ledger struct {
	visits      map[string]*visit       // by ykc700
	details     map[string]*detail      // by record id
	settles     map[string]*settlement  // by settle_no
	deductions  map[string]*deduction   // by deduct_no
	revocations map[string]*revocation  // by revoke_no
	monthlies   map[string]*monthly     // by monthly_no
	clearings   map[string]*clearingRec // by clear_month + "/" + aab301
	// parted are the monthly settlements uploaded in parts (GYU003 with
	// part_no/part_count), by akb020 + "/" + settle_month, from the
	// first accepted part on.
	parted map[string]*partedMonth
}

// partedMonth is a monthly settlement uploaded in parts. Its records and
// sums are fixed by the first accepted part (no record can be added to
// the month while parts are missing: E8009); once every part is accepted
// it is a monthly settlement like a single call's, in monthlies.
type partedMonth struct {
	no    string
	count int
	sums  MonthSums
	want  map[string]monthItem // by item key (type + "/" + ref)
	parts map[int][]string     // accepted parts: their item keys, in order
	owner map[string]int       // item key → its part
	list  []monthItem          // the month's records, ordered as monthItems
	done  bool
}

func newLedger() ledger {
	return ledger{
		visits: map[string]*visit{}, details: map[string]*detail{}, settles: map[string]*settlement{},
		deductions: map[string]*deduction{}, revocations: map[string]*revocation{}, monthlies: map[string]*monthly{},
		clearings: map[string]*clearingRec{}, parted: map[string]*partedMonth{},
	}
}

// AdmissionInfo is a snapshot of one admission in the ledger.
type AdmissionInfo struct {
	VisitNo  string // ykc700
	FilingNo string
	AAC002   string
	AKB020   string
	AKC190   string
	State    string // VisitAdmitted, VisitSettled or VisitRevoked
	// Details counts the fee lines not revoked; Revoked the revoked ones.
	Details, RevokedDetails int
	// Amount, Fund and Self are the sums of the details not revoked.
	Amount, Fund, Self Money
	SettleNo           string
	Record             map[string]any
}

// DetailInfo is a snapshot of one fee line.
type DetailInfo struct {
	ID, VisitNo, DetailNo string
	Amount, Fund, Self    Money
	Revoked               bool
}

// SettlementInfo is a snapshot of one settlement.
type SettlementInfo struct {
	SettleNo, VisitNo, AKB020, AAC002 string
	Device                            bool
	Total, Fund, Self                 Money
	At                                time.Time
	Revoked                           bool
	// Deducted is the sum of the deductions on it not revoked.
	Deducted Money
	// Monthly is the month_settle_no of the monthly settlement (or its
	// accepted part) that lists it, empty before.
	Monthly string
	Record  map[string]any
}

// DeductionInfo is a snapshot of one deduction.
type DeductionInfo struct {
	DeductNo, SettleNo, AKB020 string
	Amount                     Money
	At                         time.Time
	Revoked, National          bool
}

// MonthlyInfo is a snapshot of one monthly settlement.
type MonthlyInfo struct {
	MonthlyNo, AKB020, Month string
	Sums                     MonthSums
	Record                   map[string]any
}

func (v *visit) info() AdmissionInfo {
	a := AdmissionInfo{VisitNo: v.no, FilingNo: v.filingNo, AAC002: v.aac002, AKB020: v.akb020, AKC190: v.akc190, State: v.state, Record: maps.Clone(v.rec)}
	for _, d := range v.details {
		if d.revoked {
			a.RevokedDetails++
			continue
		}
		a.Details++
		a.Amount += d.amount
		a.Fund += d.fund
		a.Self += d.self
	}
	if v.settle != nil {
		a.SettleNo = v.settle.no
	}
	return a
}

// Admissions returns every admission accepted for inpatient number akc190
// at institution akb020, revoked ones included, oldest first: a test that
// an upload reached the national system exactly once wants one.
func (s *Server) Admissions(akb020, akc190 string) []AdmissionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var vs []*visit
	for _, v := range s.l.visits {
		if v.akb020 == akb020 && v.akc190 == akc190 {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].no < vs[j].no })
	out := make([]AdmissionInfo, len(vs))
	for i, v := range vs {
		out[i] = v.info()
	}
	return out
}

// Admission returns the admission with visit number ykc700.
func (s *Server) Admission(ykc700 string) (AdmissionInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.l.visits[ykc700]
	if v == nil {
		return AdmissionInfo{}, false
	}
	return v.info(), true
}

// Details returns the fee lines of a visit in upload order, revoked ones
// included.
func (s *Server) Details(ykc700 string) []DetailInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.l.visits[ykc700]
	if v == nil {
		return nil
	}
	out := make([]DetailInfo, len(v.details))
	for i, d := range v.details {
		out[i] = DetailInfo{ID: d.id, VisitNo: v.no, DetailNo: d.serial, Amount: d.amount, Fund: d.fund, Self: d.self, Revoked: d.revoked}
	}
	return out
}

func (st *settlement) info(l *ledger) SettlementInfo {
	i := SettlementInfo{SettleNo: st.no, AKB020: st.akb020, AAC002: st.aac002, Device: st.device, Total: st.total, Fund: st.fund,
		Self: st.self, At: st.at, Revoked: st.revoked, Deducted: l.deducted(st), Monthly: st.monthly, Record: maps.Clone(st.rec)}
	if st.visit != nil {
		i.VisitNo = st.visit.no
	}
	return i
}

// Settlement returns the settlement settle_no.
func (s *Server) Settlement(settleNo string) (SettlementInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.l.settles[settleNo]
	if st == nil {
		return SettlementInfo{}, false
	}
	return st.info(&s.l), true
}

// Settlements returns the settlements of person aac002 (every person when
// empty), revoked ones included, ordered by settlement number.
func (s *Server) Settlements(aac002 string) []SettlementInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SettlementInfo
	for _, no := range sortedKeys(s.l.settles) {
		if st := s.l.settles[no]; aac002 == "" || st.aac002 == aac002 {
			out = append(out, st.info(&s.l))
		}
	}
	return out
}

// Deductions returns the deductions on settlement settleNo (all when
// empty), revoked ones included, ordered by deduction number.
func (s *Server) Deductions(settleNo string) []DeductionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []DeductionInfo
	for _, no := range sortedKeys(s.l.deductions) {
		d := s.l.deductions[no]
		if settleNo == "" || d.settle.no == settleNo {
			out = append(out, DeductionInfo{DeductNo: d.no, SettleNo: d.settle.no, AKB020: d.akb020, Amount: d.amount, At: d.at, Revoked: d.revoked, National: d.national})
		}
	}
	return out
}

// Monthlies returns the monthly settlements of institution akb020 for
// month (YYYY-MM); empty arguments match every one.
func (s *Server) Monthlies(akb020, month string) []MonthlyInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []MonthlyInfo
	for _, no := range sortedKeys(s.l.monthlies) {
		m := s.l.monthlies[no]
		if (akb020 == "" || m.akb020 == akb020) && (month == "" || m.month == month) {
			out = append(out, MonthlyInfo{MonthlyNo: m.no, AKB020: m.akb020, Month: m.month, Sums: m.sums, Record: maps.Clone(m.rec)})
		}
	}
	return out
}

// MonthPartsInfo is a snapshot of a monthly settlement uploaded in parts.
type MonthPartsInfo struct {
	MonthlyNo string
	PartCount int
	// Parts maps each accepted part to the item keys it listed
	// (item_type + "/" + ref_no).
	Parts map[int][]string
	// Complete: every part is accepted and the month is in Monthlies.
	Complete bool
}

// MonthParts returns the monthly settlement of institution akb020 for
// month (yyyyMM) uploaded in parts, false when no part was accepted.
func (s *Server) MonthParts(akb020, month string) (MonthPartsInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.l.parted[akb020+"/"+month]
	if p == nil {
		return MonthPartsInfo{}, false
	}
	info := MonthPartsInfo{MonthlyNo: p.no, PartCount: p.count, Parts: map[int][]string{}, Complete: p.done}
	for n, keys := range p.parts {
		info.Parts[n] = slices.Clone(keys)
	}
	return info, true
}

// deducted sums the deductions on st not revoked; s.mu is held.
func (l *ledger) deducted(st *settlement) Money {
	var sum Money
	for _, d := range l.deductions {
		if d.settle == st && !d.revoked {
			sum += d.amount
		}
	}
	return sum
}
