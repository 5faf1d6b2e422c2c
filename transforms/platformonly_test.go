package transforms

import (
	"strings"
	"testing"
)

// TestPlatformOnlyTarget: a mapping may produce a platform-only field of
// its target schema, GYU002's file_url (a link the adapter fetches and
// sends as file_content): an item with only the link validates, an item
// with neither link nor content is a required problem naming both.
func TestPlatformOnlyTarget(t *testing.T) {
	t.Parallel()
	set := mustLoad(t, map[string]string{"s/json/workinjury.GYU002.yaml": `fields:
  biz_type: $.bizType
  biz_no: $.bizNo
  attachments:
    each: $.documents
    fields:
      attachment_type: '@.type'
      file_name: '@.name'
      file_format: '@.format'
      file_size: '@.size'
      file_content: '@.content'
      file_url: '@.link'
`})
	m, ok := set.Find("s", FormatJSON, "workinjury.GYU002")
	if !ok {
		t.Fatal("mapping workinjury.GYU002 not loaded")
	}
	const doc = `{"bizType": "1", "bizNo": "BA1", "documents": [{"type": "01", "name": "a.pdf", "format": "pdf", "size": 4%s}]}`
	tests := map[string]struct {
		extra string
		want  map[string]any // the output, when valid
		rules []string       // field:rule of each problem, when not
	}{
		"link only": {extra: `, "link": "https://emr.hospital.local/docs/a.pdf"`, want: map[string]any{"biz_type": "1", "biz_no": "BA1", "attachments": []any{map[string]any{
			"attachment_type": "01", "file_name": "a.pdf", "file_format": "pdf", "file_size": "4", "file_url": "https://emr.hospital.local/docs/a.pdf"}}}},
		"content only": {extra: `, "content": "JVBERi0xLjQK"`, want: map[string]any{"biz_type": "1", "biz_no": "BA1", "attachments": []any{map[string]any{
			"attachment_type": "01", "file_name": "a.pdf", "file_format": "pdf", "file_size": "4", "file_content": "JVBERi0xLjQK"}}}},
		"neither":       {rules: []string{"$.attachments[0].file_content:required"}},
		"link too long": {extra: `, "link": "https://emr.hospital.local/` + strings.Repeat("a", 2000) + `"`, rules: []string{"$.attachments[0].file_url:length"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, problems := m.Apply([]byte(strings.Replace(doc, "%s", tc.extra, 1)), nil)
			checkResult(t, m, out, problems, tc.want, tc.rules)
			if name == "neither" && (len(problems) != 1 || !strings.Contains(problems[0].Message, "file_url")) {
				t.Errorf("the problem does not say the link may replace the content: %v", problems)
			}
		})
	}
}

// TestPlatformOnlyStandInMapped: a mapping that maps GYU002's file_url may
// leave file_content unmapped (the adapter fills it from the link); one
// that maps neither is refused when loaded.
func TestPlatformOnlyStandInMapped(t *testing.T) {
	t.Parallel()
	const head = "fields:\n  biz_type: $.bizType\n  biz_no: $.bizNo\n  attachments:\n    each: $.documents\n    fields:\n" +
		"      attachment_type: '@.type'\n      file_name: '@.name'\n      file_format: '@.format'\n      file_size: '@.size'\n"
	tests := map[string]struct {
		extra string
		want  string // in the load error; "" = loads
	}{
		"link mapped":    {extra: "      file_url: '@.link'\n"},
		"content mapped": {extra: "      file_content: '@.content'\n"},
		"neither mapped": {want: "file_content (文件内容（Base64）) is required by GYU002 but the mapping gives it no value"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := loadFiles(t, map[string]string{"s/json/workinjury.GYU002.yaml": head + tc.extra})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("load: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("load error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
