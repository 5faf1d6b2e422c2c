package adapter

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/medgate/medgate/schemas"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestFailReasonFitsTheGYU008Schema: the reason a record could not be
// delivered goes out in GYU008's fail_reason, whose length the field list
// bounds – in characters or, as many official tables count them, in
// bytes. A site whose GYU008 schema bounds it tighter than medgate's
// reconstruction must still get its feedback accepted: a reason too long
// is refused on every try, and the batch blocks the code for good.
func TestFailReasonFitsTheGYU008Schema(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		field string // the fail_reason lines replacing maxLength 200
		fits  func(string) bool
	}{
		"20 characters": {field: "        maxLength: 20\n", fits: func(s string) bool { return utf8.RuneCountInString(s) <= 20 }},
		"40 bytes":      {field: "        maxLength: 40\n        lengthUnit: bytes\n", fits: func(s string) bool { return len(s) <= 40 }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			yaml := gyu008FailReason(t, tc.field)
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "workinjury"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "workinjury", "GYU008.yaml"), yaml, 0o644); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, withSettings(setSchemaDir, dir), withSim(func(c *wisim.Config) {
				c.Spec = overlayFS{base: schemas.EmbeddedFS(), files: fstest.MapFS{"workinjury/GYU008.yaml": {Data: yaml}}}
			}), withSeed(func(s *wisim.Server) {
				s.AddApplication(wisim.SampleApplication("FRL", 1, "350200"))
				bad := wisim.SampleApplication("FRL", 2, "350200")
				bad["attachments"] = []any{map[string]any{"attachment_id": "FJ-MISSING-ATTACHMENT", "attachment_type": "01"}}
				s.AddApplication(bad)
			}))
			if r := e.runJob(JobFilingApplications); r.Diagnostics.HasError() {
				t.Fatalf("job: %s", r.Diagnostics)
			}
			b := nonEmpty(e.sim.Batches("GYD001"))
			if len(b) != 1 || !b[0].Acked {
				t.Fatalf("batches %+v; want the batch acknowledged", b)
			}
			fb := e.sim.Received("GYU008")
			var reason string
			for _, x := range fb[len(fb)-1].Input["records"].([]any) {
				if r := x.(map[string]any); r["record_id"] == "SQFRL00000002" {
					reason, _ = r["fail_reason"].(string)
				}
			}
			if reason == "" || !utf8.ValidString(reason) || !tc.fits(reason) {
				t.Fatalf("fail_reason %q (%d bytes): want a valid, non-empty text within the schema's bound", reason, len(reason))
			}
			if n := e.sim.Pending("GYD001"); n != 1 {
				t.Fatalf("%d applications pending, want the undeliverable one", n)
			}
		})
	}
}

// gyu008FailReason returns medgate's GYU008 schema with fail_reason's
// maxLength replaced by field.
func gyu008FailReason(t *testing.T, field string) []byte {
	t.Helper()
	b, err := fs.ReadFile(schemas.EmbeddedFS(), "workinjury/GYU008.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const old = "      - name: fail_reason\n        label: 失败原因\n        type: string\n        maxLength: 200\n"
	if !bytes.Contains(b, []byte(old)) {
		t.Fatal("GYU008: fail_reason not found as expected; update this test")
	}
	return []byte(strings.Replace(string(b), old, strings.TrimSuffix(old, "        maxLength: 200\n")+field, 1))
}

// overlayFS is base with files in place of its own.
type overlayFS struct {
	base  fs.FS
	files fstest.MapFS
}

func (o overlayFS) Open(name string) (fs.File, error) {
	if _, ok := o.files[name]; ok {
		return o.files.Open(name)
	}
	return o.base.Open(name)
}

func TestFailReason(t *testing.T) {
	t.Parallel()
	const reason = "附件ab下载失败" // 2 + 2 + 4 characters, 6 + 2 + 12 bytes
	for name, tc := range map[string]struct {
		f    *schemas.Field
		want string
	}{
		"no fail_reason in the field list": {nil, ""},
		"no bound":                         {&schemas.Field{}, reason},
		"characters":                       {&schemas.Field{MaxLength: 5}, "附件ab下"},
		"bytes at a character boundary":    {&schemas.Field{MaxLength: 11, LengthUnit: schemas.UnitBytes}, "附件ab下"},
		"bytes inside a character":         {&schemas.Field{MaxLength: 10, LengthUnit: schemas.UnitBytes}, "附件ab"},
		"fits in bytes":                    {&schemas.Field{MaxLength: 20, LengthUnit: schemas.UnitBytes}, reason},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := failReason(tc.f, reason); got != tc.want {
				t.Errorf("failReason = %q, want %q", got, tc.want)
			}
		})
	}
}
