package schemas

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// blankFS holds one transaction with a required field of every type and
// optional text fields beside them.
var blankFS = fstest.MapFS{"test/B001.yaml": {Data: []byte(`code: B001
name: 必填
system: test
direction: upload
source: test
input:
  - {name: s, label: 文本, type: string, maxLength: 10, required: true, example: 张三}
  - {name: e, type: enum, codes: {"1": 是, "0": 否}, required: true, example: "1"}
  - {name: d, type: date, required: true, example: "2025-04-01"}
  - {name: t, type: datetime, format: "20060102150405", required: true, example: "20250401083000"}
  - {name: i, type: integer, maxLength: 9, required: true, example: 1024}
  - {name: n, type: "decimal(8,2)", required: true, example: 1.5}
  - {name: b, type: boolean, required: true, example: true}
  - {name: o, type: object, required: true, fields: [{name: x, type: string, example: x}]}
  - {name: a, type: array, required: true, fields: [{name: x, type: string, example: x}]}
  - {name: os, type: string, example: x}
  - {name: od, type: date, example: "2025-04-01"}
  - {name: oe, type: enum, codes: {"1": 是}, example: "1"}
`)}}

// TestRequiredRefusesBlank: the requirements ask for a non-empty check
// (按【是否必填】属性完成非空校验) of every required field, and a value of
// white space alone (ASCII spaces, tabs and line breaks, the full-width
// space U+3000 a Chinese input method types, a no-break space, a
// zero-width space or BOM left from a copy) holds nothing: it is refused
// as required, whatever the field's type, as "" is. A value with
// characters besides white space is judged as it is, and an optional
// field's blank value by its type (a string of spaces is a string, not a
// date).
func TestRequiredRefusesBlank(t *testing.T) {
	t.Parallel()
	set, err := Load(blankFS)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := set.Get("test", "B001")
	tests := map[string]struct {
		field   string
		value   any
		want    []pathRule
		wantMsg string // substring of the first error's message
	}{
		"string of ASCII spaces":                 {field: "s", value: "   ", want: []pathRule{{"$.s", RuleRequired}}, wantMsg: "文本 (s) is required and holds only white space"},
		"string of U+3000":                       {field: "s", value: "\u3000\u3000", want: []pathRule{{"$.s", RuleRequired}}},
		"string of tabs and CRLF":                {field: "s", value: "\t\r\n", want: []pathRule{{"$.s", RuleRequired}}},
		"string of no-break space":               {field: "s", value: "\u00a0", want: []pathRule{{"$.s", RuleRequired}}},
		"string of zero-width":                   {field: "s", value: "\u200b\ufeff", want: []pathRule{{"$.s", RuleRequired}}},
		"string with content":                    {field: "s", value: "\u3000张三 "},
		"enum":                                   {field: "e", value: " ", want: []pathRule{{"$.e", RuleRequired}}, wantMsg: "send one of"},
		"date":                                   {field: "d", value: "\u3000", want: []pathRule{{"$.d", RuleRequired}}},
		"datetime":                               {field: "t", value: "  ", want: []pathRule{{"$.t", RuleRequired}}},
		"integer":                                {field: "i", value: " ", want: []pathRule{{"$.i", RuleRequired}}},
		"decimal":                                {field: "n", value: "\u3000", want: []pathRule{{"$.n", RuleRequired}}},
		"boolean":                                {field: "b", value: " ", want: []pathRule{{"$.b", RuleRequired}}},
		"object":                                 {field: "o", value: " ", want: []pathRule{{"$.o", RuleRequired}}},
		"array":                                  {field: "a", value: " ", want: []pathRule{{"$.a", RuleRequired}}},
		"optional string of spaces is a string":  {field: "os", value: "  "},
		"optional date of spaces is not a date":  {field: "od", value: "  ", want: []pathRule{{"$.od", RuleFormat}}},
		"optional enum of U+3000 is not a code":  {field: "oe", value: "\u3000", want: []pathRule{{"$.oe", RuleEnum}}},
		"optional empty string is no value":      {field: "od", value: ""},
		"required empty string is still missing": {field: "s", value: "", want: []pathRule{{"$.s", RuleRequired}}, wantMsg: "is required and is missing, null or empty"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc := s.ExampleInput()
			doc[tc.field] = tc.value
			got := s.ValidateInput(doc)
			if diff := cmp.Diff(tc.want, pathRules(got)); diff != "" {
				t.Fatalf("errors (-want +got):\n%s\nfull: %v", diff, got)
			}
			if tc.wantMsg != "" && !strings.Contains(got[0].Message, tc.wantMsg) {
				t.Errorf("message %q does not say %q", got[0].Message, tc.wantMsg)
			}
		})
	}
}

// TestAttachmentBlankFields: the reviewer's case, GYU002 with a file_name
// of spaces, and a file_url of spaces standing in for file_content: both
// hold nothing, so both required fields are missing.
func TestAttachmentBlankFields(t *testing.T) {
	t.Parallel()
	s, err := Embedded().Lookup("workinjury", "GYU002")
	if err != nil {
		t.Fatal(err)
	}
	doc := func(item string) string {
		return `{"biz_type": "1", "biz_no": "BA1", "attachments": [{"attachment_type": "01", "file_format": "pdf", "file_size": 4, ` + item + `}]}`
	}
	tests := map[string]struct {
		doc     string
		want    []pathRule
		wantMsg string
	}{
		"file_name of spaces": {doc: doc(`"file_name": "   ", "file_content": "JVBERi0xLjQK"`),
			want: []pathRule{{"$.attachments[0].file_name", RuleRequired}}, wantMsg: "文件名 (file_name) is required and holds only white space"},
		"file_name of full-width spaces": {doc: doc(`"file_name": "\u3000", "file_content": "JVBERi0xLjQK"`),
			want: []pathRule{{"$.attachments[0].file_name", RuleRequired}}},
		"file_url of spaces stands in for nothing": {doc: doc(`"file_name": "a.pdf", "file_url": "  "`),
			want: []pathRule{{"$.attachments[0].file_content", RuleRequired}}, wantMsg: "or give file_url instead"},
		"file_content of spaces with no link": {doc: doc(`"file_name": "a.pdf", "file_content": " "`),
			want: []pathRule{{"$.attachments[0].file_content", RuleRequired}}},
		"valid": {doc: doc(`"file_name": "工伤认定决定书.pdf", "file_content": "JVBERi0xLjQK"`)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := s.ValidateInput(decodeJSON(t, tc.doc))
			if diff := cmp.Diff(tc.want, pathRules(got)); diff != "" {
				t.Fatalf("errors (-want +got):\n%s\nfull: %v", diff, got)
			}
			if tc.wantMsg != "" && !strings.Contains(got[0].Message, tc.wantMsg) {
				t.Errorf("message %q does not say %q", got[0].Message, tc.wantMsg)
			}
		})
	}
}
