package schemas

import (
	"strings"
	"testing"
	"testing/fstest"
)

// personalFS declares each scalar kind twice: once marked personal, once
// not, so that every error kind is seen on both.
var personalFS = fstest.MapFS{
	"pii/P001.yaml": {Data: []byte(`code: P001
name: 个人数据
system: pii
direction: upload
source: test
input:
  - name: certno
    label: 证件号码
    type: string
    maxLength: 18
    personal: true
  - name: ref
    label: 单据号
    type: string
    maxLength: 18
  - name: brdy
    label: 出生日期
    type: date
    personal: true
  - name: day
    label: 日期
    type: date
  - name: seen
    label: 就诊时间
    type: datetime
    personal: true
  - name: at
    label: 时间
    type: datetime
  - name: cardno
    label: 社保卡号
    type: integer
    maxLength: 9
    personal: true
  - name: count
    label: 数量
    type: integer
    maxLength: 9
  - name: income
    label: 收入
    type: decimal(10,2)
    personal: true
  - name: amount
    label: 金额
    type: decimal(10,2)
  - name: gend
    label: 性别
    type: enum
    codes: {"1": 男, "2": 女}
    personal: true
  - name: kind
    label: 类别
    type: enum
    codes: {"1": 甲, "2": 乙}
  - name: masked
    label: 已脱敏
    type: boolean
    personal: true
  - name: flag
    label: 标志
    type: boolean
  - name: psn_name
    label: 姓名
    type: string
    pattern: '\p{Han}+'
    personal: true
  - name: code
    label: 编码
    type: string
    pattern: '[A-Z]+'
  - name: patient
    label: 患者
    type: object
    fields:
      - name: id
        type: string
`)},
}

// TestPersonalValuesAreNotQuoted: the validator's messages quoted the
// value they refused (a number sent unquoted: "send it quoted, as
// \"350203198001011234\""; a birth date in the wrong layout; a code that
// is not in the table), and they reach the invalid reply, the console and
// the journal. A field marked personal is shown masked as in the logs
// (first and last characters), with what is wrong; a field that is not
// keeps its value, so the integration team can find the bad record.
func TestPersonalValuesAreNotQuoted(t *testing.T) {
	t.Parallel()
	set, err := Load(personalFS)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := set.Get("pii", "P001")
	testCases := map[string]struct {
		doc  string
		rule string
		leak string   // must not appear in the message ("" = none)
		want []string // must appear in the message
	}{
		"type: personal string sent as a number": {
			doc: `{"certno": 350203198001011234}`, rule: RuleType, leak: "350203198001011234",
			want: []string{"证件号码 (certno) must be a JSON string", "350***********1234", "send it quoted"},
		},
		"type: string sent as a number": {
			doc: `{"ref": 2025040100000123}`, rule: RuleType,
			want: []string{`send it quoted, as "2025040100000123"`},
		},
		"length: personal string too long": {
			doc: `{"certno": "3502031980010112345"}`, rule: RuleLength, leak: "3502031980010112345",
			want: []string{"is 19 chars long, at most 18 allowed"},
		},
		"length: string too long": {
			doc: `{"ref": "3502031980010112345"}`, rule: RuleLength,
			want: []string{"is 19 chars long, at most 18 allowed"},
		},
		"format: personal date in another layout": {
			doc: `{"brdy": "1980/01/31"}`, rule: RuleFormat, leak: "1980/01/31",
			want: []string{`"1***/**/*1"`, `does not match the layout "2006-01-02"`},
		},
		"format: date in another layout": {
			doc: `{"day": "2025/01/31"}`, rule: RuleFormat,
			want: []string{`"2025/01/31" does not match the layout "2006-01-02"`},
		},
		"format: personal datetime with a T": {
			doc: `{"seen": "1980-01-31T08:30:00"}`, rule: RuleFormat, leak: "1980-01-31",
			want: []string{`"198*-**-*****:*0:00"`, `does not match the layout "2006-01-02 15:04:05"`},
		},
		"format: datetime with a T": {
			doc: `{"at": "2025-01-31T08:30:00"}`, rule: RuleFormat,
			want: []string{`"2025-01-31T08:30:00" does not match`},
		},
		"type: personal integer sent as text": {
			doc: `{"cardno": "A12345678"}`, rule: RuleType, leak: "A12345678",
			want: []string{"must be a number", `got string "A*******8"`},
		},
		"type: integer sent as text": {
			doc: `{"count": "A12"}`, rule: RuleType,
			want: []string{`got string "A12"`},
		},
		"type: personal integer with a fraction": {
			doc: `{"cardno": 123456.5}`, rule: RuleType, leak: "123456.5",
			want: []string{"must be a whole number", `"1*****.5"`},
		},
		"type: integer with a fraction": {
			doc: `{"count": 12.5}`, rule: RuleType,
			want: []string{`must be a whole number, got "12.5"`},
		},
		"length: personal integer with too many digits": {
			doc: `{"cardno": 1234567890}`, rule: RuleLength, leak: "1234567890",
			want: []string{"has 10 digits, at most 9 allowed"},
		},
		"type: personal decimal too large": {
			doc: `{"income": 123456789.5}`, rule: RuleType, leak: "123456789",
			want: []string{"has 9 digits before the decimal point"},
		},
		"type: personal decimal that is no number": {
			doc: `{"income": "12e999"}`, rule: RuleType, leak: "12e999",
			want: []string{"must be a number"},
		},
		"type: decimal that is no number": {
			doc: `{"amount": "12e999"}`, rule: RuleType,
			want: []string{`"12e999"`},
		},
		"enum: personal code not in the table": {
			doc: `{"gend": "女性"}`, rule: RuleEnum, leak: "女性",
			want: []string{`"女*" is not a known code`, `"1" (男)`},
		},
		"enum: code not in the table": {
			doc: `{"kind": "丙丁"}`, rule: RuleEnum,
			want: []string{`"丙丁" is not a known code`},
		},
		"type: personal boolean sent as text": {
			doc: `{"masked": "yes-张三"}`, rule: RuleType, leak: "张三",
			want: []string{"must be true or false", `got string "y**-*三"`},
		},
		"type: boolean sent as text": {
			doc: `{"flag": "yes"}`, rule: RuleType,
			want: []string{`got string "yes"`},
		},
		"type: personal string sent as an object": {
			doc: `{"psn_name": {"given": "三丰"}}`, rule: RuleType, leak: "三丰",
			want: []string{"must be a JSON string, got an object"},
		},
		"pattern: personal string": {
			doc: `{"psn_name": "Zhang San"}`, rule: RulePattern, leak: "Zhang",
			want: []string{"does not match the pattern"},
		},
		"pattern: string": {
			doc: `{"code": "abc"}`, rule: RulePattern,
			want: []string{"does not match the pattern"},
		},
		// An object or array given a scalar: the kind says what is wrong,
		// the value (a name or number in the wrong place) is not needed.
		"type: object sent as a string": {
			doc: `{"patient": "张三丰 350203198001011234"}`, rule: RuleType, leak: "张三丰",
			want: []string{"患者 (patient) must be a JSON object, got a string"},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := sc.ValidateInput(decodeJSON(t, tc.doc))
			if len(errs) != 1 || errs[0].Rule != tc.rule {
				t.Fatalf("want one %s error, got %v", tc.rule, errs)
			}
			msg := errs[0].Message
			if tc.leak != "" && strings.Contains(msg, tc.leak) {
				t.Errorf("the message quotes the value %q: %s", tc.leak, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("the message lacks %q: %s", w, msg)
				}
			}
		})
	}
}

// TestTopLevelNotAnObject: a payload that is a JSON string (a bare ID
// number, a name) is described by its kind, not quoted.
func TestTopLevelNotAnObject(t *testing.T) {
	t.Parallel()
	set, err := Load(personalFS)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := set.Get("pii", "P001")
	errs := sc.ValidateInput("张三丰 350203198001011234")
	if len(errs) != 1 || errs[0].Rule != RuleType {
		t.Fatalf("want one type error, got %v", errs)
	}
	if m := errs[0].Message; strings.Contains(m, "张三丰") || strings.Contains(m, "350203198001011234") || !strings.Contains(m, "got a string") {
		t.Errorf("message %q quotes the payload or does not say it is a string", m)
	}
}

// TestPersonalKeyword: personal is a boolean of scalar fields, and a
// schema written with WriteYAML keeps it.
func TestPersonalKeyword(t *testing.T) {
	t.Parallel()
	bad := fstest.MapFS{"pii/P002.yaml": {Data: []byte(`code: P002
name: 个人数据
system: pii
direction: upload
source: test
input:
  - name: patient
    type: object
    personal: true
    fields:
      - name: id
        type: string
  - name: certno
    type: string
    personal: yes please
`)}}
	_, err := Load(bad)
	for _, want := range []string{
		`pii/P002.yaml:9: field "input.patient.personal": personal applies to scalar fields, not object`,
		`pii/P002.yaml:15: field "input.certno.personal": expected true or false`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("loading lacks %q: %v", want, err)
		}
	}

	set, err := Load(personalFS)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := set.Get("pii", "P001")
	var b strings.Builder
	if err := WriteYAML(&b, sc); err != nil {
		t.Fatal(err)
	}
	again, err := Load(fstest.MapFS{"pii/P001.yaml": {Data: []byte(b.String())}})
	if err != nil {
		t.Fatalf("the written schema does not load: %v\n%s", err, b.String())
	}
	sc2, _ := again.Get("pii", "P001")
	for i := range sc.Input {
		if got, want := sc2.Input[i].Personal, sc.Input[i].Personal; got != want {
			t.Errorf("field %s: personal %v after WriteYAML, want %v", sc.Input[i].Name, got, want)
		}
	}
}

// TestPersonalFieldsAreMarked: every built-in field whose name or label
// says it carries personal data is marked personal, so the validator
// never quotes its value.
func TestPersonalFieldsAreMarked(t *testing.T) {
	t.Parallel()
	set := Embedded()
	if err := CheckEmbedded(); err != nil {
		t.Fatal(err)
	}
	for _, sc := range set.List("") {
		for side, fields := range map[string][]Field{"input": sc.Input, "output": sc.Output} {
			walkFields(fields, side, func(at string, f *Field) {
				if !f.Type.Scalar() {
					return
				}
				if LooksPersonal(f.Name, f.Label) && !f.Personal {
					t.Errorf("%s: %s (%s) carries personal data and is not marked; add personal: true", sc.File, at, f.Label)
				}
			})
		}
	}
}
