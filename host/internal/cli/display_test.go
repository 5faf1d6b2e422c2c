package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/artifact"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestCopyResultIsPrivate: the file -out copies (an export that may hold
// patients' data) is readable by its owner only, like the artifact it
// comes from, and the directory holds nothing else afterwards.
func TestCopyResultIsPrivate(t *testing.T) {
	t.Parallel()
	arts := t.TempDir()
	st, err := artifact.New(arts, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Put("tracecode", "s1", "export.xlsx", "", strings.NewReader("PK workbook"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	dst := filepath.Join(out, "export.xlsx")
	if _, err := copyResult(&sdk.FileResult{ArtifactField: "file"}, "tracecode", arts, []byte(`{"file":"`+m.ID+`"}`), dst); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %o, want 0600", dst, fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(dst); string(b) != "PK workbook" {
		t.Errorf("copied %q", b)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 1 {
		t.Errorf("%s holds %d entries, want only the copy", out, len(entries))
	}
}

// TestDisplayFollowsDottedPaths: sdk.Display's field names may be dotted
// paths into the payload ("label.lines"), as the SDK documents and the
// console follows them; the command line shows (and -out copies) the
// same fields, not nothing.
func TestDisplayFollowsDottedPaths(t *testing.T) {
	t.Parallel()
	payload := `{"result":{"no":"R1","patient":{"ward":"3A"},"items":[{"code":"GLU","v":5.6}]}}`
	cases := map[string]struct {
		display sdk.Display
		want    string
	}{
		"headline": {sdk.Display{Headline: "result.no"}, "R1\n"},
		"field":    {sdk.Display{Fields: []sdk.Column{{Field: "result.patient.ward", Title: "Ward"}}}, "Ward: 3A\n"},
		"rows":     {sdk.Display{Rows: "result.items", Columns: []sdk.Column{{Field: "code", Title: "Item"}, {Field: "v", Title: "Value"}}}, "Item  Value\nGLU   5.6\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			if err := showPayload(&out, tc.display, []byte(payload), false); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
	t.Run("file", func(t *testing.T) {
		t.Parallel()
		arts := t.TempDir()
		st, err := artifact.New(arts, 0)
		if err != nil {
			t.Fatal(err)
		}
		m, err := st.Put("acme", "s1", "r.csv", "", strings.NewReader("a,b\n"))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(t.TempDir(), "r.csv")
		if _, err := copyResult(&sdk.FileResult{ArtifactField: "export.file"}, "acme", arts, []byte(`{"export":{"file":"`+m.ID+`"}}`), dst); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(dst); string(b) != "a,b\n" {
			t.Errorf("copied %q", b)
		}
	})
}

// TestDisplayShowsCodeMeanings: a field or column whose sdk.Column
// declares Codes shows a declared value as "meaning (code)", as the
// console does; a value it does not declare, and a column without Codes
// (a plugin built before Codes), show the value as it is.
func TestDisplayShowsCodeMeanings(t *testing.T) {
	t.Parallel()
	codes := map[string]string{"expired": "二维码已过期 expired", "ok": "有效 valid"}
	payload := `{"result":"expired","other":"gone","rows":[{"r":"ok"},{"r":"tampered"}]}`
	cases := map[string]struct {
		display sdk.Display
		want    string
	}{
		"declared field": {sdk.Display{Fields: []sdk.Column{{Field: "result", Title: "结果", Codes: codes}}},
			"结果: 二维码已过期 expired (expired)\n"},
		"value not declared": {sdk.Display{Fields: []sdk.Column{{Field: "other", Title: "其他", Codes: codes}}},
			"其他: gone\n"},
		"no codes": {sdk.Display{Fields: []sdk.Column{{Field: "result", Title: "结果"}}},
			"结果: expired\n"},
		"table": {sdk.Display{Rows: "rows", Columns: []sdk.Column{{Field: "r", Title: "结果", Codes: codes}}},
			"结果\n有效 valid (ok)\ntampered\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			if err := showPayload(&out, tc.display, []byte(payload), false); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
}
