package schemas

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type pathRule struct{ Path, Rule string }

func pathRules(errs []FieldError) []pathRule {
	if len(errs) == 0 {
		return nil
	}
	out := make([]pathRule, len(errs))
	for i, e := range errs {
		out[i] = pathRule{e.Path, e.Rule}
	}
	return out
}

// fees builds a fee array of n valid lines as JSON.
func fees(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = `{"qty": 1}`
	}
	return "[" + strings.Join(items, ",") + "]"
}

func TestValidateInput(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		code    string
		doc     string
		floats  bool // decode numbers as float64 instead of json.Number
		opts    []ValidateOptions
		want    []pathRule
		wantMsg string // substring of the first error's message
	}{
		"valid minimal": {
			doc: `{"name": "张三", "fee": [{"qty": 1}]}`,
		},
		"valid everything": {
			doc: `{"name": "张三李四", "nameb": "张三", "code": "2", "inline": "B", "count": "123", "amount": "-1234.5",
				"day": "2025-02-28", "day8": "20250228", "at": "2025-04-01 23:59:59", "flag": false,
				"patient": {"id": "P1"}, "fee": [{"qty": 12.25, "item": "药品一二三四五六七八"}]}`,
		},
		"required: missing, null and empty string": {
			doc:     `{"name": "", "fee": [{"qty": null}], "patient": {}}`,
			want:    []pathRule{{"$.fee[0].qty", RuleRequired}, {"$.name", RuleRequired}, {"$.patient.id", RuleRequired}},
			wantMsg: "数量 (qty) is required and is missing, null or empty; send a number of type decimal(8,2)",
		},
		"required: missing array": {
			doc:  `{"name": "张三"}`,
			want: []pathRule{{"$.fee", RuleRequired}},
		},
		"type: thousands separators and full-width digits, with how to write the number": {
			doc:     `{"name": "张三", "fee": [{"qty": "1,234.50"}]}`,
			want:    []pathRule{{"$.fee[0].qty", RuleType}},
			wantMsg: `must be a number, or a string of ASCII digits with an optional sign and decimal point such as "1234.56" (no thousands separators, spaces or full-width digits), got string "1,234.50"`,
		},
		"type: full-width digits": {
			doc:     `{"name": "张三", "fee": [{"qty": "１２"}]}`,
			want:    []pathRule{{"$.fee[0].qty", RuleType}},
			wantMsg: "no thousands separators, spaces or full-width digits",
		},
		"length: Chinese counted in characters": {
			doc:     `{"name": "张三李四王", "fee": [{"qty": 1}]}`,
			want:    []pathRule{{"$.name", RuleLength}},
			wantMsg: "姓名 (name) is 5 chars long, at most 4 allowed; shorten it",
		},
		"length: four Chinese characters fit four chars although they are 12 bytes": {
			doc: `{"name": "张三李四", "fee": [{"qty": 1}]}`,
		},
		"length: Chinese counted in bytes": {
			doc:     `{"name": "张三", "nameb": "张三丰", "fee": [{"qty": 1}]}`,
			want:    []pathRule{{"$.nameb", RuleLength}},
			wantMsg: "字节姓名 (nameb) is 9 bytes long, at most 6 allowed",
		},
		"length: ASCII in bytes": {
			doc: `{"name": "ab", "nameb": "abcdef", "fee": [{"qty": 1}]}`,
		},
		"length: integer digits": {
			doc:  `{"name": "张三", "count": 1234, "fee": [{"qty": 1}]}`,
			want: []pathRule{{"$.count", RuleLength}},
		},
		"type: number for a string field": {
			doc:     `{"name": 12, "fee": [{"qty": 1}]}`,
			want:    []pathRule{{"$.name", RuleType}},
			wantMsg: `姓名 (name) must be a JSON string, got number 12; send it quoted, as "12"`,
		},
		"type: integer must be whole": {
			doc:     `{"name": "张三", "count": 3.5, "fee": [{"qty": 1}]}`,
			want:    []pathRule{{"$.count", RuleType}},
			wantMsg: "must be a whole number",
		},
		"type: integer accepts 3.0, numeric strings and exponents": {
			doc: `{"name": "张三", "count": 3.0, "amount": "12", "fee": [{"qty": 1e2}]}`,
		},
		"type: integer as numeric string": {
			doc: `{"name": "张三", "count": "007", "fee": [{"qty": "0.50"}]}`,
		},
		"type: non-numeric string for integer": {
			doc:  `{"name": "张三", "count": "12a", "fee": [{"qty": " 1"}]}`,
			want: []pathRule{{"$.count", RuleType}, {"$.fee[0].qty", RuleType}},
		},
		"type: decimal scale": {
			doc:     `{"name": "张三", "amount": 1.234, "fee": [{"qty": 1}]}`,
			want:    []pathRule{{"$.amount", RuleType}},
			wantMsg: "金额 (amount) has 3 digits after the decimal point, decimal(6,2) allows 2; round it to 2 places",
		},
		"type: decimal trailing zeros do not count": {
			doc: `{"name": "张三", "amount": 1.2300, "fee": [{"qty": "5.000"}]}`,
		},
		"type: decimal precision": {
			doc:     `{"name": "张三", "amount": "12345.6", "fee": [{"qty": 1}]}`,
			want:    []pathRule{{"$.amount", RuleType}},
			wantMsg: "has 5 digits before the decimal point, decimal(6,2) allows 4",
		},
		"type: decimal from float64": {
			doc:    `{"name": "张三", "amount": 0.1, "count": 12, "fee": [{"qty": 99.99}]}`,
			floats: true,
		},
		"type: decimal from float64 with too many places": {
			doc:    `{"name": "张三", "amount": 0.125, "fee": [{"qty": 1}]}`,
			floats: true,
			want:   []pathRule{{"$.amount", RuleType}},
		},
		"type: huge exponent is refused without work": {
			doc:  `{"name": "张三", "amount": 1e999999999, "fee": [{"qty": 1}]}`,
			want: []pathRule{{"$.amount", RuleType}},
		},
		"type: boolean": {
			doc:  `{"name": "张三", "flag": "true", "fee": [{"qty": 1}]}`,
			want: []pathRule{{"$.flag", RuleType}},
		},
		"type: object": {
			doc:  `{"name": "张三", "patient": "P1", "fee": [{"qty": 1}]}`,
			want: []pathRule{{"$.patient", RuleType}},
		},
		"type: array": {
			doc:     `{"name": "张三", "fee": {"qty": 1}}`,
			want:    []pathRule{{"$.fee", RuleType}},
			wantMsg: "wrap a single item in [ ]",
		},
		"type: array item not an object": {
			doc:  `{"name": "张三", "fee": ["x", null, {"qty": 1}]}`,
			want: []pathRule{{"$.fee[0]", RuleType}, {"$.fee[1]", RuleType}},
		},
		"type: top level not an object": {
			doc:  `[1, 2]`,
			want: []pathRule{{"$", RuleType}},
		},
		"enum: unknown code": {
			doc:     `{"name": "张三", "code": "3", "inline": "C", "fee": [{"qty": 1}]}`,
			want:    []pathRule{{"$.code", RuleEnum}, {"$.inline", RuleEnum}},
			wantMsg: `性别 (code): "3" is not a known code; use one of "1" (男), "2" (女)`,
		},
		"enum: number instead of code string": {
			doc:  `{"name": "张三", "code": 1, "fee": [{"qty": 1}]}`,
			want: []pathRule{{"$.code", RuleType}},
		},
		"format: date": {
			doc:     `{"name": "张三", "day": "2025/04/01", "day8": "2025-04-01", "fee": [{"qty": 1}]}`,
			want:    []pathRule{{"$.day", RuleFormat}, {"$.day8", RuleFormat}},
			wantMsg: `日期 (day): "2025/04/01" does not match the layout "2006-01-02"; write it like "2025-04-01"`,
		},
		"format: impossible date": {
			doc:  `{"name": "张三", "day": "2025-02-30", "fee": [{"qty": 1}]}`,
			want: []pathRule{{"$.day", RuleFormat}},
		},
		"format: datetime": {
			doc:  `{"name": "张三", "at": "2025-04-01T08:30:00Z", "fee": [{"qty": 1}]}`,
			want: []pathRule{{"$.at", RuleFormat}},
		},
		// time.Parse takes fractional seconds the layout does not have; the
		// receiving system does not.
		"format: datetime with fractional seconds": {
			doc:  `{"name": "张三", "at": "2025-04-01 08:30:00.123", "fee": [{"qty": 1}]}`,
			want: []pathRule{{"$.at", RuleFormat}},
		},
		"format: datetime with a comma fraction": {
			doc:  `{"name": "张三", "at": "2025-04-01 08:30:00,5", "fee": [{"qty": 1}]}`,
			want: []pathRule{{"$.at", RuleFormat}},
		},
		"nested array paths sort numerically": {
			doc: `{"name": "张三", "fee": [{"qty": 1}, {"qty": 1}, {"qty": 1}, {"qty": "x"}, {"qty": 1}, {"qty": 1},
				{"qty": 1}, {"qty": 1}, {"qty": 1}, {"qty": 1}, {"qty": 1, "item": "01234567890"}, {}]}`,
			want: []pathRule{{"$.fee[3].qty", RuleType}, {"$.fee[10].item", RuleLength}, {"$.fee[11].qty", RuleRequired}},
		},
		"minItems": {
			doc:     `{"name": "张三", "fee": []}`,
			want:    []pathRule{{"$.fee", RuleLength}},
			wantMsg: "费用明细 (fee) has 0 item(s), at least 1 needed",
		},
		"batch: 500 lines are fine": {
			doc: `{"name": "张三", "fee": ` + fees(500) + `}`,
		},
		"batch: 501 lines exceed the limit": {
			doc:     `{"name": "张三", "fee": ` + fees(501) + `}`,
			want:    []pathRule{{"$.fee", RuleBatch}},
			wantMsg: "费用明细 (fee) has 501 items, more than the batch limit of 500 per T001 call; split them into several calls of at most 500",
		},
		"batch: 10 attachments are fine": {
			code: "T002",
			doc:  `{"attachments": [` + strings.Repeat(`{"file": "a.pdf"},`, 9) + `{"file": "a.pdf"}]}`,
		},
		"batch: 11 attachments exceed the limit": {
			code: "T002",
			doc:  `{"attachments": [` + strings.Repeat(`{"file": "a.pdf"},`, 10) + `{"file": "a.pdf"}]}`,
			want: []pathRule{{"$.attachments", RuleBatch}},
		},
		"unknown fields at every level": {
			doc:     `{"nmae": "张三", "name": "张三", "fee": [{"qty": 1, "x": 1}], "patient": {"id": "1", "y": 2}, "a b": 1}`,
			want:    []pathRule{{`$["a b"]`, RuleUnknown}, {"$.fee[0].x", RuleUnknown}, {"$.nmae", RuleUnknown}, {"$.patient.y", RuleUnknown}},
			wantMsg: "T001 input does not declare this field; remove it",
		},
		"unknown field suggests the near name": {
			doc:     `{"nmae": "张三", "name": "张三", "fee": [{"qty": 1}]}`,
			want:    []pathRule{{"$.nmae", RuleUnknown}},
			wantMsg: `remove it or rename it to "name"`,
		},
		"unknown fields allowed": {
			doc:  `{"nmae": "张三", "name": "张三", "fee": [{"qty": 1, "x": 1}]}`,
			opts: []ValidateOptions{{AllowUnknown: true}},
		},
		"every error at once": {
			doc: `{"name": "张三李四王五", "code": "9", "count": 1.5, "day": "x", "flag": 1, "fee": [{"qty": 1.001}], "extra": true}`,
			want: []pathRule{{"$.code", RuleEnum}, {"$.count", RuleType}, {"$.day", RuleFormat}, {"$.extra", RuleUnknown},
				{"$.fee[0].qty", RuleType}, {"$.flag", RuleType}, {"$.name", RuleLength}},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code := tc.code
			if code == "" {
				code = "T001"
			}
			s := testSchema(t, code)
			var doc any
			if tc.floats {
				if err := json.Unmarshal([]byte(tc.doc), &doc); err != nil {
					t.Fatal(err)
				}
			} else {
				doc = decodeJSON(t, tc.doc)
			}
			got := s.ValidateInput(doc, tc.opts...)
			if diff := cmp.Diff(tc.want, pathRules(got)); diff != "" {
				t.Errorf("errors (-want +got):\n%s\nfull: %v", diff, got)
			}
			if tc.wantMsg != "" && (len(got) == 0 || !strings.Contains(got[0].Message, tc.wantMsg)) {
				t.Errorf("first message = %q, want it to contain %q", first(got), tc.wantMsg)
			}
		})
	}
}

func first(errs []FieldError) string {
	if len(errs) == 0 {
		return "<no errors>"
	}
	return errs[0].Message
}

func TestValidateOutputBatch(t *testing.T) {
	t.Parallel()
	s := testSchema(t, "T003")
	items := make([]any, 501)
	for i := range items {
		items[i] = map[string]any{"id": fmt.Sprint(i)}
	}
	got := s.ValidateOutput(map[string]any{"records": items})
	want := []pathRule{{"$.records", RuleBatch}}
	if diff := cmp.Diff(want, pathRules(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// The input side has no batch field.
	if got := s.ValidateInput(map[string]any{}); got != nil {
		t.Errorf("input: %v", got)
	}
}

func TestValidateGoValues(t *testing.T) {
	t.Parallel()
	s := testSchema(t, "T001")
	doc := map[string]any{
		"name":  "张三",
		"count": 12,
		"fee":   []map[string]any{{"qty": int64(2)}, {"qty": float32(0.5)}},
	}
	if got := s.ValidateInput(doc); got != nil {
		t.Errorf("unexpected errors: %v", got)
	}
	got := s.ValidateInput(map[string]any{"name": "张三", "fee": []map[string]any{{"qty": struct{}{}}}})
	if diff := cmp.Diff([]pathRule{{"$.fee[0].qty", RuleType}}, pathRules(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFieldErrorString(t *testing.T) {
	t.Parallel()
	e := FieldError{Path: "$.fee[3].qty", Rule: RuleType, Message: "must be a number"}
	if got, want := e.Error(), "$.fee[3].qty: type: must be a number"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"field":"$.fee[3].qty","rule":"type","message":"must be a number"}`; got != want {
		t.Errorf("JSON = %s, want %s (the reply contract's errors[] shape)", got, want)
	}
}

func TestParseDecimal(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		in   string
		want decimal
		ok   bool
	}{
		"integer":          {"12", decimal{int: "12"}, true},
		"leading zeros":    {"007", decimal{int: "7"}, true},
		"fraction":         {"-0.50", decimal{neg: true, int: "0", frac: "5"}, true},
		"exponent":         {"1.5e3", decimal{int: "1500"}, true},
		"negative exp":     {"15e-3", decimal{int: "0", frac: "015"}, true},
		"float formatting": {"1e+21", decimal{int: "1000000000000000000000"}, true},
		"empty":            {"", decimal{}, false},
		"letters":          {"1a", decimal{}, false},
		"dot only":         {".", decimal{}, false},
		"huge exponent":    {"1e99999", decimal{}, false},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok := parseDecimal(tc.in)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(decimal{})); ok && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseType(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		in      string
		want    Type
		wantErr string
	}{
		"string":          {in: "string", want: Type{Kind: KindString}},
		"decimal":         {in: "decimal(16,2)", want: Type{Kind: KindDecimal, Precision: 16, Scale: 2}},
		"decimal spaces":  {in: "decimal( 8 , 0 )", want: Type{Kind: KindDecimal, Precision: 8}},
		"decimal no args": {in: "decimal", wantErr: "decimal needs precision and scale"},
		"scale too big":   {in: "decimal(2,3)", wantErr: "scale <= precision"},
		"precision 0":     {in: "decimal(0,0)", wantErr: "1 <= precision"},
		"unknown":         {in: "varchar", wantErr: `type "varchar" is not known`},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseType(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.String() != strings.ReplaceAll(tc.in, " ", "") {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestMatchesLayout(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		layout, s string
		want      bool
	}{
		"datetime":               {DefaultDateTimeFormat, "2025-04-01 08:30:00", true},
		"fractional seconds":     {DefaultDateTimeFormat, "2025-04-01 08:30:00.123", false},
		"comma fraction":         {DefaultDateTimeFormat, "2025-04-01 08:30:00,5", false},
		"zero fraction":          {"20060102150405", "20250401083000.000", false},
		"unpadded month":         {DefaultDateFormat, "2025-4-01", false},
		"declared fraction":      {"2006-01-02 15:04:05.000", "2025-04-01 08:30:00.120", true},
		"RFC 3339 with Z":        {"2006-01-02T15:04:05Z07:00", "2025-04-01T08:30:00Z", true},
		"RFC 3339 with +00:00":   {"2006-01-02T15:04:05Z07:00", "2025-04-01T08:30:00+00:00", true},
		"RFC 3339 with +08:00":   {"2006-01-02T15:04:05Z07:00", "2025-04-01T08:30:00+08:00", true},
		"RFC 3339 with fraction": {"2006-01-02T15:04:05Z07:00", "2025-04-01T08:30:00.5+08:00", false},
		"impossible date":        {DefaultDateFormat, "2025-02-30", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := MatchesLayout(tc.layout, tc.s); got != tc.want {
				t.Errorf("MatchesLayout(%q, %q) = %v, want %v", tc.layout, tc.s, got, tc.want)
			}
		})
	}
}

// TestPlatformOnly: GYU002's file_url is a platform-only stand-in for
// file_content (requiredUnless): an item may give either, one with neither
// fails naming both, file_url is checked by its own rules, and
// StripPlatformOnly leaves only the national fields.
func TestPlatformOnly(t *testing.T) {
	t.Parallel()
	s, err := Embedded().Lookup("workinjury", "GYU002")
	if err != nil {
		t.Fatal(err)
	}
	const item = `"attachment_type": "01", "file_name": "a.pdf", "file_format": "pdf", "file_size": 4`
	doc := func(extra string) string {
		return `{"biz_type": "1", "biz_no": "BA1", "attachments": [{` + item + extra + `}]}`
	}
	tests := map[string]struct {
		doc      string
		want     []pathRule
		wantMsg  string // substring of the first error's message
		stripped bool   // StripPlatformOnly removes something
	}{
		"content only":           {doc: doc(`, "file_content": "JVBERi0xLjQK"`)},
		"link only":              {doc: doc(`, "file_url": "https://emr.hospital.local/docs/a.pdf"`), stripped: true},
		"neither":                {doc: doc(``), want: []pathRule{{"$.attachments[0].file_content", RuleRequired}}, wantMsg: "or give file_url instead"},
		"null link, no content":  {doc: doc(`, "file_url": null`), want: []pathRule{{"$.attachments[0].file_content", RuleRequired}}, stripped: true},
		"empty link, no content": {doc: doc(`, "file_url": ""`), want: []pathRule{{"$.attachments[0].file_content", RuleRequired}}, stripped: true},
		"link not a string":      {doc: doc(`, "file_url": 42`), want: []pathRule{{"$.attachments[0].file_url", RuleType}}, stripped: true},
		"link too long": {doc: doc(`, "file_url": "https://emr.hospital.local/` + strings.Repeat("a", 2000) + `"`),
			want: []pathRule{{"$.attachments[0].file_url", RuleLength}}, stripped: true},
		"unknown beside the link": {doc: doc(`, "file_url": "https://x/a.pdf", "file_link": "x"`), want: []pathRule{{"$.attachments[0].file_link", RuleUnknown}}, stripped: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := decodeJSON(t, tc.doc)
			errs := s.ValidateInput(v)
			if diff := cmp.Diff(tc.want, pathRules(errs)); diff != "" {
				t.Fatalf("errors (-want +got):\n%s\n%v", diff, errs)
			}
			if tc.wantMsg != "" && !strings.Contains(errs[0].Message, tc.wantMsg) {
				t.Errorf("message %q does not say %q", errs[0].Message, tc.wantMsg)
			}
			m := v.(map[string]any)
			if got := s.StripPlatformOnly(m); got != tc.stripped {
				t.Errorf("StripPlatformOnly = %v, want %v", got, tc.stripped)
			}
			for _, x := range m["attachments"].([]any) {
				if _, ok := x.(map[string]any)["file_url"]; ok {
					t.Errorf("file_url is still there after StripPlatformOnly: %v", x)
				}
			}
		})
	}
}
