package adapter

import (
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// withHISRef returns a schema overlay (schemaDir) whose GYU002 declares
// one more platform-only field, his_ref, as a site may add one: the
// adapter must not know platform-only fields by name.
func withHISRef(t *testing.T) string {
	t.Helper()
	b, err := fs.ReadFile(schemas.EmbeddedFS(), "workinjury/GYU002.yaml")
	if err != nil {
		t.Fatal(err)
	}
	field := "input:\n  - name: his_ref\n    label: HIS 单号（平台字段）\n    type: string\n    maxLength: 40\n    platformOnly: true\n    example: HIS0001\n"
	out := strings.Replace(string(b), "input:\n", field, 1)
	if out == string(b) {
		t.Fatal("GYU002.yaml has no input: line; update this test")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "workinjury"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "workinjury", "GYU002.yaml"), []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPlatformOnlyNeverSent: the fields a schema marks platformOnly are
// accepted in the platform message and removed before the request is
// sealed, whatever their value (a null or empty file_url included) and
// whichever field it is (one a site's schema adds included): the national
// system receives only its own fields.
func TestPlatformOnlyNeverSent(t *testing.T) {
	t.Parallel()
	raw := []byte("%PDF-1.4 工伤认定决定书")
	content := base64.StdEncoding.EncodeToString(raw)
	upload := func(top, item map[string]any) map[string]any {
		att := map[string]any{"attachment_type": "01", "file_name": "a.pdf", "file_format": "pdf", "file_size": len(raw), "file_content": content}
		for k, v := range item {
			att[k] = v
		}
		doc := map[string]any{"biz_type": "1", "biz_no": "LOCAL0001", "attachments": []any{att}}
		for k, v := range top {
			doc[k] = v
		}
		return doc
	}
	tests := map[string]struct {
		overlay bool
		doc     map[string]any
	}{
		"empty link":                   {doc: upload(nil, map[string]any{"file_url": ""})},
		"null link":                    {doc: upload(nil, map[string]any{"file_url": nil})},
		"a site's platform-only field": {overlay: true, doc: upload(map[string]any{"his_ref": "HIS0001"}, nil)},
		"a site's field, null link":    {overlay: true, doc: upload(map[string]any{"his_ref": "HIS0001"}, map[string]any{"file_url": nil})},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var opts []envOption
			if tc.overlay {
				opts = append(opts, withSettings(setSchemaDir, withHISRef(t)))
			}
			e := newEnv(t, opts...)
			r := e.send("GYU002", tc.doc)
			if r.Status != sdk.StatusOK {
				t.Fatalf("status %s, want ok: %s", r.Status, r.Diagnostics)
			}
			got := e.sim.Received("GYU002")
			if len(got) != 1 {
				t.Fatalf("the national system received %d GYU002 requests, want 1", len(got))
			}
			if _, ok := got[0].Input["his_ref"]; ok {
				t.Errorf("the sealed national request carries his_ref, a platform-only field: %v", got[0].Input)
			}
			if c := sentContent(t, e.sim); len(c) != 1 || c[0] != content {
				t.Errorf("the national request's file_content is not the item's content")
			}
		})
	}
}
