package adapter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestInstitutionListedTwice: an institutionsFile that lists one
// institution twice with different content (an export that appends the
// changed row) must not upload both on every run: the national record
// would flip between them every 30 minutes, and neither is known to be
// the current one. The rows are reported, naming both, and neither is
// uploaded; the others go on. The same row twice is one institution.
func TestInstitutionListedTwice(t *testing.T) {
	t.Parallel()
	const twice, other = "H35020300771", "H35020300772"
	cases := map[string]struct {
		second   map[string]any
		uploads  int // GYU009 of the institution listed twice, over two runs
		reported bool
	}{
		"two versions":       {second: with(institution(twice), "valid_flag", "0"), uploads: 0, reported: true},
		"the same row twice": {second: institution(twice), uploads: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "institutions.json")
			b, err := json.Marshal([]any{institution(twice), institution(other), tc.second})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, b, 0o600); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, withSettings(setInstitutionsFile, file))
			for run := 1; run <= 2; run++ {
				r := e.runJob(JobInstitutions)
				var reported bool
				for _, d := range r.Diagnostics {
					reported = reported || (d.Severity == sdk.SeverityError && strings.Contains(d.Summary+d.Detail, twice) &&
						strings.Contains(d.Field, "[0]") && strings.Contains(d.Field, "[2]"))
				}
				if reported != tc.reported || (!tc.reported && r.Diagnostics.HasError()) {
					t.Fatalf("run %d: diagnostics %s; want the two rows reported: %v", run, r.Diagnostics, tc.reported)
				}
			}
			n := map[string]int{}
			for _, q := range e.sim.Received("GYU009") {
				n[str(q.Input, "akb020")]++
			}
			if n[twice] != tc.uploads || n[other] != 1 {
				t.Fatalf("GYU009 uploads %v over two runs; want %d of %s and 1 of %s", n, tc.uploads, twice, other)
			}
		})
	}
}

// TestRefusedInstitutionIsUploadedAgain: the GYU009 job is what uploads
// the institutions of institutionsFile; no one else sends them again. An
// institution the national system refused (a refusal may pass: the
// system busy, an agreement not yet registered there) is uploaded again
// by the next run, under a new message, not answered with the stored
// refusal until its row changes.
func TestRefusedInstitutionIsUploadedAgain(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		refusals int
	}{
		"refused once":  {refusals: 1},
		"refused twice": {refusals: 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "institutions.json")
			b, err := json.Marshal([]any{institution("H35020300781")})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, b, 0o600); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, withSettings(setInstitutionsFile, file))
			e.sim.Inject(wisim.Fault{Code: "GYU009", Kind: wisim.FaultBusiness, Times: tc.refusals, ErrCode: "E9001", ErrMessage: "系统繁忙"})
			for run := 1; run <= tc.refusals; run++ {
				if r := e.runJob(JobInstitutions); !r.Diagnostics.HasError() || r.Processed != 0 {
					t.Fatalf("run %d: %s %s; want the refusal reported", run, r.Summary, r.Diagnostics)
				}
			}
			if r := e.runJob(JobInstitutions); r.Diagnostics.HasError() || r.Processed != 1 {
				t.Fatalf("run after the refusals: %s %s; want the institution uploaded", r.Summary, r.Diagnostics)
			}
			if r := e.runJob(JobInstitutions); r.Diagnostics.HasError() || r.Processed != 0 {
				t.Fatalf("run after the upload: %s %s; want nothing to upload", r.Summary, r.Diagnostics)
			}
			if n := len(e.sim.Received("GYU009")); n != tc.refusals+1 {
				t.Fatalf("GYU009 sent %d times, want %d", n, tc.refusals+1)
			}
		})
	}
}
