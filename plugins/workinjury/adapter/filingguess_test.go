package adapter

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestUnknownInstitutionTypeIsNotGuessed: one valid filing per person per
// institution type (GYU006). The type of an institution known here (GYD009,
// GYU009) decides; for one not known here the filing type tells only an
// assistive-device filing's (3): any other may be at a medical (1) or a
// rehabilitation (2) institution. A filing that may be correct is sent, with
// a not-checked warning naming the institution and the filing it may
// duplicate; it is refused only when the person has a valid filing of every
// type it can be of.
func TestUnknownInstitutionTypeIsNotGuessed(t *testing.T) {
	t.Parallel()
	const (
		medical = "H44030000001" // type 1, known here
		rehab   = "R44030000002" // type 2, known here
		unknown = "R44030099998" // type 2 at the national system, not known here
	)
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution(medical, "深圳市示例医院", "1", "440300"))
		s.AddInstitution(wisim.SampleInstitution(rehab, "深圳市示例康复医院", "2", "440300"))
		s.AddInstitution(wisim.SampleInstitution(unknown, "深圳市另一康复医院", "2", "440300"))
	}))
	for _, i := range []struct{ akb020, name, typ string }{{medical, "深圳市示例医院", "1"}, {rehab, "深圳市示例康复医院", "2"}} {
		e.mustOK(e.send("GYU009", map[string]any{"akb020": i.akb020, "akb021": i.name, "institution_type": i.typ, "aab299": "440300", "aae030": "2024-01-01", "valid_flag": "1"}))
	}
	ids := e.uploadAttachments(1)
	tests := map[string]struct {
		person int
		prior  []string // institutions of the person's valid filings
		at     string   // the new filing's institution
		want   string   // field:rule of an error, "" for ok
		warn   string   // what a not-checked warning must name
	}{
		"unknown institution beside a valid medical filing":       {person: 81, prior: []string{medical}, at: unknown, warn: unknown},
		"known medical institution beside a valid medical filing": {person: 82, prior: []string{medical}, at: medical, want: "$.aac002:state"},
		"unknown institution beside valid filings of both types":  {person: 83, prior: []string{medical, rehab}, at: unknown, want: "$.aac002:state"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var priorNos []string
			for _, akb020 := range tc.prior {
				f := localFiling(tc.person, ids...)
				f["akb020"] = akb020
				priorNos = append(priorNos, e.mustOK(e.send("GYU006", f))["filing_no"].(string))
			}
			f := localFiling(tc.person, ids...)
			f["akb020"] = tc.at
			before := len(e.sim.Received("GYU006"))
			r := e.send("GYU006", f)
			if tc.want != "" {
				if r.Status != sdk.StatusInvalid || !contains(fields(r), tc.want) {
					t.Fatalf("status %s %v (external %+v), want invalid with %s", r.Status, fields(r), r.External, tc.want)
				}
				if n := len(e.sim.Received("GYU006")); n != before {
					t.Fatalf("GYU006 reached the national system although invalid")
				}
				return
			}
			if r.Status != sdk.StatusOK {
				t.Fatalf("status %s %s (external %+v), want ok: a filing that may be correct is refused on a guess of its institution type", r.Status, r.Diagnostics, r.External)
			}
			var warned bool
			for _, d := range r.Diagnostics {
				m := d.Message()
				warned = warned || (d.Severity == sdk.SeverityWarning && d.Rule == "not-checked" && strings.Contains(m, tc.warn) && strings.Contains(m, priorNos[0]))
			}
			if !warned {
				t.Fatalf("no not-checked warning naming institution %s and the valid filing %s: %s", tc.warn, priorNos[0], r.Diagnostics)
			}
		})
	}
}

// TestUnknownInstitutionTypeIsNotGuessedOnApproval: the same rule for a
// GYU001 approval of an application whose institution is not known here
// (a rehabilitation institution at the national system), the applicant
// holding a valid filing at a medical institution known here: sent, with
// a not-checked warning naming the institution and that filing.
func TestUnknownInstitutionTypeIsNotGuessedOnApproval(t *testing.T) {
	t.Parallel()
	const medical, unknown = "H44030000001", "R35020300777"
	app := wisim.SampleApplication("UIT", 1, "350200")
	app["akb020"] = unknown
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution(medical, "深圳市示例医院", "1", "440300"))
		s.AddInstitution(wisim.SampleInstitution(unknown, "厦门市示例康复医院", "2", "350200"))
		s.AddApplication(app, wisim.SampleAttachment("FJUIT1"))
	}))
	e.mustOK(e.send("GYU009", map[string]any{"akb020": medical, "akb021": "深圳市示例医院", "institution_type": "1", "aab299": "440300", "aae030": "2024-01-01", "valid_flag": "1"}))
	prior := localFiling(91, e.uploadAttachments(1)...)
	prior["aac002"], prior["aac044"], prior["aac003"] = app["aac002"], app["aac002"], app["aac003"]
	priorNo := e.mustOK(e.send("GYU006", prior))["filing_no"].(string)
	if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() || r.Processed != 1 {
		t.Fatalf("GYD001 job: %s, processed %d", r.Diagnostics, r.Processed)
	}
	r := e.send("GYU001", map[string]any{"apply_no": app["apply_no"], "aac002": app["aac002"], "aac003": app["aac003"], "audit_result": "1",
		"auditor": "李四", "audit_time": "2025-04-01 09:30:00", "aae030": "2025-04-01", "aae031": "2026-12-31"})
	if r.Status != sdk.StatusOK {
		t.Fatalf("status %s %s (external %+v), want ok: an approval that may be correct is refused on a guess of its institution type", r.Status, r.Diagnostics, r.External)
	}
	var warned bool
	for _, d := range r.Diagnostics {
		warned = warned || (d.Rule == "not-checked" && strings.Contains(d.Message(), unknown) && strings.Contains(d.Message(), priorNo))
	}
	if !warned {
		t.Fatalf("no not-checked warning naming institution %s and the valid filing %s: %s", unknown, priorNo, r.Diagnostics)
	}
}

// TestGuessedFilingTypeDecidesNothing: a filing accepted at an institution
// not known here is recorded under a guessed institution type (1, medical,
// for all but an assistive-device filing) until the institution is known.
// A later filing of the person is checked against it (one valid filing per
// person per institution type) only by the type the institution has once
// known: until then the guess refuses nothing (sent, with a not-checked
// warning naming that filing); once the institution is known, a filing of
// its real type is refused and one of the other type is not.
func TestGuessedFilingTypeDecidesNothing(t *testing.T) {
	t.Parallel()
	const (
		medical = "H44030000001" // type 1, known here
		rehab   = "R44030000002" // type 2, known here
	)
	inst := func(akb020, typ string) map[string]any {
		return map[string]any{"akb020": akb020, "akb021": "深圳市示例机构" + akb020[len(akb020)-2:], "institution_type": typ, "aab299": "440300", "aae030": "2024-01-01", "valid_flag": "1"}
	}
	tests := map[string]struct {
		first     string // type of the first filing's institution at the national system
		knownLate bool   // its type is told here (GYU009) before the second filing
		at        string // the second filing's institution (known here)
		want      string // field:rule of an error, "" for ok
		warn      bool   // a not-checked warning naming the first filing
	}{
		"rehabilitation, still unknown; second at a medical one": {first: "2", at: medical, warn: true},
		"rehabilitation, known since; second at a medical one":   {first: "2", knownLate: true, at: medical},
		"rehabilitation, known since; second at another rehab":   {first: "2", knownLate: true, at: rehab, want: "$.aac002:state"},
		"medical, known since; second at another medical one":    {first: "1", knownLate: true, at: medical, want: "$.aac002:state"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			unknown := "R44030099" + tc.first + "98"
			e := newEnv(t, withSeed(func(s *wisim.Server) {
				s.AddInstitution(wisim.SampleInstitution(medical, "深圳市示例医院", "1", "440300"))
				s.AddInstitution(wisim.SampleInstitution(rehab, "深圳市示例康复医院", "2", "440300"))
				s.AddInstitution(wisim.SampleInstitution(unknown, "深圳市另一机构", tc.first, "440300"))
			}))
			e.mustOK(e.send("GYU009", inst(medical, "1")))
			e.mustOK(e.send("GYU009", inst(rehab, "2")))
			ids := e.uploadAttachments(1)
			f := localFiling(84, ids...)
			f["akb020"] = unknown
			firstNo := e.mustOK(e.send("GYU006", f))["filing_no"].(string)
			if tc.knownLate {
				e.mustOK(e.send("GYU009", inst(unknown, tc.first)))
			}
			f = localFiling(84, ids...)
			f["akb020"] = tc.at
			before := len(e.sim.Received("GYU006"))
			r := e.send("GYU006", f)
			if tc.want != "" {
				if r.Status != sdk.StatusInvalid || !contains(fields(r), tc.want) {
					t.Fatalf("status %s %s (external %+v), want invalid with %s: filing %s is of that type", r.Status, r.Diagnostics, r.External, tc.want, firstNo)
				}
				if n := len(e.sim.Received("GYU006")); n != before {
					t.Fatalf("GYU006 reached the national system although invalid")
				}
				return
			}
			if r.Status != sdk.StatusOK {
				t.Fatalf("status %s %s (external %+v), want ok: refused on the guessed type of filing %s's institution", r.Status, r.Diagnostics, r.External, firstNo)
			}
			var warned bool
			for _, d := range r.Diagnostics {
				warned = warned || (d.Severity == sdk.SeverityWarning && d.Rule == "not-checked" && strings.Contains(d.Message(), firstNo))
			}
			if warned != tc.warn {
				t.Fatalf("not-checked warning naming filing %s: %v, want %v: %s", firstNo, warned, tc.warn, r.Diagnostics)
			}
		})
	}
}

// TestGuessedFilingTypeRefusesNoChange: a change of a person's filing at a
// medical institution (GYU007, new end date) is checked against the
// person's other valid filing of its type; a filing accepted since at an
// institution not known here, recorded under the guessed type 1, is no
// ground to refuse it (it may be of type 2): sent, with a not-checked
// warning naming that filing.
func TestGuessedFilingTypeRefusesNoChange(t *testing.T) {
	t.Parallel()
	const medical, unknown = "H44030000001", "R44030099298"
	e := newEnv(t, withSeed(func(s *wisim.Server) {
		s.AddInstitution(wisim.SampleInstitution(medical, "深圳市示例医院", "1", "440300"))
		s.AddInstitution(wisim.SampleInstitution(unknown, "深圳市另一康复医院", "2", "440300"))
	}))
	e.mustOK(e.send("GYU009", map[string]any{"akb020": medical, "akb021": "深圳市示例医院", "institution_type": "1", "aab299": "440300", "aae030": "2024-01-01", "valid_flag": "1"}))
	ids := e.uploadAttachments(1)
	f := localFiling(86, ids...)
	f["akb020"] = medical
	medNo := e.mustOK(e.send("GYU006", f))["filing_no"].(string)
	f = localFiling(86, ids...)
	f["akb020"] = unknown
	guessNo := e.mustOK(e.send("GYU006", f))["filing_no"].(string)
	r := e.send("GYU007", map[string]any{"filing_no": medNo, "change_type": "1", "aae031": "2099-12-30", "change_reason": "测试", "aae011": "王五", "aae036": "2025-04-01 09:30:00"})
	if r.Status != sdk.StatusOK {
		t.Fatalf("status %s %s (external %+v), want ok: refused on the guessed type of filing %s's institution", r.Status, r.Diagnostics, r.External, guessNo)
	}
	var warned bool
	for _, d := range r.Diagnostics {
		warned = warned || (d.Rule == "not-checked" && strings.Contains(d.Message(), guessNo))
	}
	if !warned {
		t.Fatalf("no not-checked warning naming filing %s: %s", guessNo, r.Diagnostics)
	}
}

// TestChangeOfGuessedFilingIsNotRefusedOnItsGuess: a filing accepted at
// an institution not known here is recorded under the guessed type 1. A
// change of that filing itself (GYU007, new end date) was checked as a
// change of a type-1 filing, so the person's valid filing at a medical
// institution known here – accepted beside it by the national system,
// which knows the first is at a rehabilitation institution – refused the
// change as a second valid filing of type 1, nothing sent. While the
// institution is not known the guess refuses nothing (sent, not-checked
// warning naming the other filing); once it is known, its real type
// decides.
func TestChangeOfGuessedFilingIsNotRefusedOnItsGuess(t *testing.T) {
	t.Parallel()
	const medical = "H44030000001" // type 1, known here
	inst := func(akb020, typ string) map[string]any {
		return map[string]any{"akb020": akb020, "akb021": "深圳市示例机构" + akb020[len(akb020)-2:], "institution_type": typ, "aab299": "440300", "aae030": "2024-01-01", "valid_flag": "1"}
	}
	tests := map[string]struct {
		first     string // type of the guessed filing's institution at the national system
		knownLate bool   // its type is told here (GYU009) before the change
		move      string // the change moves the filing to this institution (change_type 2); "" extends it (change_type 1)
		want      string // field:rule of an error, "" for ok
		warn      bool   // a not-checked warning naming the medical filing
	}{
		"rehabilitation, still unknown": {first: "2", warn: true},
		"rehabilitation, known since":   {first: "2", knownLate: true},
		"moved to the medical one":      {first: "2", move: medical, want: "$.akb020:state"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			unknown := "R44030099" + tc.first + "97"
			e := newEnv(t, withSeed(func(s *wisim.Server) {
				s.AddInstitution(wisim.SampleInstitution(medical, "深圳市示例医院", "1", "440300"))
				s.AddInstitution(wisim.SampleInstitution(unknown, "深圳市另一机构", tc.first, "440300"))
			}))
			e.mustOK(e.send("GYU009", inst(medical, "1")))
			ids := e.uploadAttachments(1)
			f := localFiling(87, ids...)
			f["akb020"] = unknown
			guessNo := e.mustOK(e.send("GYU006", f))["filing_no"].(string)
			f = localFiling(87, ids...)
			f["akb020"] = medical
			medNo := e.mustOK(e.send("GYU006", f))["filing_no"].(string)
			if tc.knownLate {
				e.mustOK(e.send("GYU009", inst(unknown, tc.first)))
			}
			before := len(e.sim.Received("GYU007"))
			change := map[string]any{"filing_no": guessNo, "change_type": "1", "aae031": "2099-12-30", "change_reason": "测试", "aae011": "王五", "aae036": "2025-04-01 09:30:00"}
			if tc.move != "" {
				delete(change, "aae031")
				change["change_type"], change["akb020"] = "2", tc.move
			}
			r := e.send("GYU007", change)
			if tc.want != "" {
				if r.Status != sdk.StatusInvalid || !contains(fields(r), tc.want) {
					t.Fatalf("status %s %s (external %+v), want invalid with %s", r.Status, r.Diagnostics, r.External, tc.want)
				}
				if n := len(e.sim.Received("GYU007")); n != before {
					t.Fatalf("GYU007 reached the national system although invalid")
				}
				return
			}
			if r.Status != sdk.StatusOK {
				t.Fatalf("status %s %s (external %+v), want ok: the change of filing %s is refused on the guessed type of its own institution", r.Status, r.Diagnostics, r.External, guessNo)
			}
			var warned bool
			for _, d := range r.Diagnostics {
				warned = warned || (d.Severity == sdk.SeverityWarning && d.Rule == "not-checked" && strings.Contains(d.Message(), medNo))
			}
			if warned != tc.warn {
				t.Fatalf("not-checked warning naming filing %s: %v, want %v: %s", medNo, warned, tc.warn, r.Diagnostics)
			}
		})
	}
}

// TestGuessedFilingKeepsTheOtherFilingChecked: a filing recorded under a
// guessed type shared the person's index of type 1 with filings known to
// be of type 1, and the later of the two replaced the other there. A
// medical filing accepted beside a guessed one (at what is a
// rehabilitation institution at the national system) hid the guessed one:
// once its institution was known as type 2, a second rehabilitation filing
// was sent and refused by the national system (E3001). A guessed filing
// accepted after a medical one hid that one: a second medical filing was
// sent with a not-checked warning and refused likewise. Both filings are
// checked now, each by the type it has.
func TestGuessedFilingKeepsTheOtherFilingChecked(t *testing.T) {
	t.Parallel()
	const (
		medical = "H44030000001" // type 1, known here
		rehab   = "R44030000002" // type 2, known here
		unknown = "R44030099296" // type 2 at the national system, not known here at first
	)
	inst := func(akb020, typ string) map[string]any {
		return map[string]any{"akb020": akb020, "akb021": "深圳市示例机构" + akb020[len(akb020)-2:], "institution_type": typ, "aab299": "440300", "aae030": "2024-01-01", "valid_flag": "1"}
	}
	tests := map[string]struct {
		order     []string // institutions of the person's first two filings, in order
		knownLate bool     // the unknown institution is told here (GYU009) before the third filing
		third     string   // the third filing's institution
		want      string   // field:rule of the refusal
	}{
		"guessed, medical, then a rehabilitation one": {order: []string{unknown, medical}, knownLate: true, third: rehab, want: "$.aac002:state"},
		"medical, guessed, then a medical one":        {order: []string{medical, unknown}, third: medical, want: "$.aac002:state"},
		"guessed, medical, then a medical one":        {order: []string{unknown, medical}, third: medical, want: "$.aac002:state"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSeed(func(s *wisim.Server) {
				s.AddInstitution(wisim.SampleInstitution(medical, "深圳市示例医院", "1", "440300"))
				s.AddInstitution(wisim.SampleInstitution(rehab, "深圳市示例康复医院", "2", "440300"))
				s.AddInstitution(wisim.SampleInstitution(unknown, "深圳市另一康复医院", "2", "440300"))
			}))
			e.mustOK(e.send("GYU009", inst(medical, "1")))
			e.mustOK(e.send("GYU009", inst(rehab, "2")))
			ids := e.uploadAttachments(1)
			for _, at := range tc.order {
				f := localFiling(88, ids...)
				f["akb020"] = at
				e.mustOK(e.send("GYU006", f))
			}
			if tc.knownLate {
				e.mustOK(e.send("GYU009", inst(unknown, "2")))
			}
			f := localFiling(88, ids...)
			f["akb020"] = tc.third
			before := len(e.sim.Received("GYU006"))
			r := e.send("GYU006", f)
			if r.Status != sdk.StatusInvalid || !contains(fields(r), tc.want) {
				t.Fatalf("status %s %s (external %+v), want invalid with %s: the person has a valid filing of that type", r.Status, r.Diagnostics, r.External, tc.want)
			}
			if n := len(e.sim.Received("GYU006")); n != before {
				t.Fatalf("GYU006 reached the national system although invalid")
			}
		})
	}
}

// TestDownloadedFilingTypeIsGuessedToo: a filing downloaded with GYD006
// at an institution not known here was recorded under type 1 (medical)
// as if known, not as a guess (InstGuessed), so it refused a filing of
// the person at a medical institution known here as a second valid
// filing of type 1, although the national system, which knows the
// institution as a rehabilitation one, accepts it. Recorded as a guess,
// it refuses nothing until the institution is known: the filing is sent,
// with a not-checked warning naming it; once the institution is known,
// its type decides.
func TestDownloadedFilingTypeIsGuessedToo(t *testing.T) {
	t.Parallel()
	const (
		medical = "H44030000001" // type 1, known here
		there   = "R35020399297" // where the downloaded filing is, not known here at first
	)
	inst := func(akb020, typ, region string) map[string]any {
		return map[string]any{"akb020": akb020, "akb021": "示例机构" + akb020[len(akb020)-2:], "institution_type": typ, "aab299": region, "aae030": "2024-01-01", "valid_flag": "1"}
	}
	tests := map[string]struct {
		typ       string // the downloaded filing's institution type at the national system
		knownLate bool   // told here (GYU009) before the new filing
		want      string // field:rule of an error, "" for ok
		warn      bool   // a not-checked warning naming the downloaded filing
	}{
		"rehabilitation, still unknown": {typ: "2", warn: true},
		"rehabilitation, known since":   {typ: "2", knownLate: true},
		"medical, known since":          {typ: "1", knownLate: true, want: "$.aac002:state"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dl := wisim.SampleFiling("DLG", 7, "350200")
			dl["akb020"], dl["filing_no"] = there, "BADLG"+tc.typ+"0000007"
			e := newEnv(t, withSeed(func(s *wisim.Server) {
				s.AddInstitution(wisim.SampleInstitution(medical, "深圳市示例医院", "1", "440300"))
				s.AddInstitution(wisim.SampleInstitution(there, "厦门市示例机构", tc.typ, "350200"))
				s.AddFiling(dl)
			}))
			e.mustOK(e.send("GYU009", inst(medical, "1", "440300")))
			if r := e.runJob(JobFilings); r.Diagnostics.HasError() || r.Processed != 1 {
				t.Fatalf("GYD006 job: %s, processed %d", r.Diagnostics, r.Processed)
			}
			if tc.knownLate {
				e.mustOK(e.send("GYU009", inst(there, tc.typ, "350200")))
			}
			f := localFiling(89, e.uploadAttachments(1)...)
			f["aac002"], f["aac044"], f["aac003"] = dl["aac002"], dl["aac002"], dl["aac003"]
			f["akb020"] = medical
			before := len(e.sim.Received("GYU006"))
			r := e.send("GYU006", f)
			no := dl["filing_no"].(string)
			if tc.want != "" {
				if r.Status != sdk.StatusInvalid || !contains(fields(r), tc.want) {
					t.Fatalf("status %s %s (external %+v), want invalid with %s: filing %s is of that type", r.Status, r.Diagnostics, r.External, tc.want, no)
				}
				if n := len(e.sim.Received("GYU006")); n != before {
					t.Fatalf("GYU006 reached the national system although invalid")
				}
				return
			}
			if r.Status != sdk.StatusOK {
				t.Fatalf("status %s %s (external %+v), want ok: refused on the guessed type of downloaded filing %s's institution", r.Status, r.Diagnostics, r.External, no)
			}
			var warned bool
			for _, d := range r.Diagnostics {
				warned = warned || (d.Severity == sdk.SeverityWarning && d.Rule == "not-checked" && strings.Contains(d.Message(), no))
			}
			if warned != tc.warn {
				t.Fatalf("not-checked warning naming filing %s: %v, want %v: %s", no, warned, tc.warn, r.Diagnostics)
			}
		})
	}
}

// TestGuessedFilingNamedOnce: a filing at an institution not known here
// may be of type 1 or 2, and so may the person's filing recorded under a
// guessed type; the not-checked warning named that filing once for each
// type it was checked as ("BA… (at institution …), BA… (at institution
// …)"). It names each filing once.
func TestGuessedFilingNamedOnce(t *testing.T) {
	t.Parallel()
	const first, second = "R44030099295", "R44030099294" // rehabilitation institutions at the national system, not known here
	tests := map[string]struct {
		code string // the second message: a new filing, or a change of the first
	}{
		"new filing": {code: "GYU006"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSeed(func(s *wisim.Server) {
				s.AddInstitution(wisim.SampleInstitution(first, "深圳市康复机构一", "2", "440300"))
				s.AddInstitution(wisim.SampleInstitution(second, "深圳市康复机构二", "2", "440300"))
			}))
			ids := e.uploadAttachments(1)
			f := localFiling(90, ids...)
			f["akb020"] = first
			firstNo := e.mustOK(e.send("GYU006", f))["filing_no"].(string)
			f = localFiling(90, ids...)
			f["akb020"] = second
			r := e.send(tc.code, f)
			var msgs []string
			for _, d := range r.Diagnostics {
				if d.Rule == "not-checked" && strings.Contains(d.Message(), firstNo) {
					msgs = append(msgs, d.Message())
				}
			}
			if len(msgs) != 1 || strings.Count(msgs[0], firstNo+" (at institution") != 1 {
				t.Fatalf("status %s; want one not-checked warning naming filing %s once, got %q", r.Status, firstNo, msgs)
			}
		})
	}
}
