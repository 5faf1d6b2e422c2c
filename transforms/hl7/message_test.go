package hl7

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// adt is a synthetic admission message; segments end in CR as the standard
// says.
const adt = "MSH|^~\\&|HIS|XMDEMO|MEDGATE|XMDEMO|20250401101500||ADT^A01^ADT_A01|MSG0001|P|2.5|||||CHN|UNICODE UTF-8\r" +
	"EVN|A01|20250401101500|||0042^王五\r" +
	"PID|1||ZY20250401001^^^HIS^PI~440301198507150031^^^CHN^NN~SS440301198507150031^^^440300^SS||张三^^^^^^L||19850715|M|||厦门市思明区\\T\\湖滨路1号^^350203||13800000000\r" +
	"PV1|1|I|B03^0312^12^XMDEMO^^^^^骨科一病区|||||||0301||||||||陈医生|ZY20250401001\r" +
	"DG1|1||S82.201^胫骨平台骨折^ICD10||20250401|A\r" +
	"DG1|2||S80.001^膝部挫伤^ICD10||20250401|A\r" +
	"DG1|3||S82.201^胫骨平台骨折^ICD10||20250420|F\r"

func mustParse(t testing.TB, s string) *Message {
	t.Helper()
	m, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func mustLoc(t testing.TB, s string) Location {
	t.Helper()
	l, err := ParseLocation(s)
	if err != nil {
		t.Fatalf("ParseLocation(%q): %v", s, err)
	}
	return l
}

func TestGet(t *testing.T) {
	t.Parallel()
	m := mustParse(t, adt)
	tests := map[string]string{
		"MSH-1":         "|",
		"MSH-2":         "^~\\&",
		"MSH-3":         "HIS",
		"MSH-9":         "ADT",
		"MSH-9.2":       "A01",
		"MSH-9.3":       "ADT_A01",
		"MSH-18":        "UNICODE UTF-8",
		"EVN-5.2":       "王五",
		"PID-3":         "ZY20250401001",
		"PID-3(2)":      "440301198507150031",
		"PID-3(2).5":    "NN",
		"PID-3(5=SS).1": "SS440301198507150031",
		"PID-3(5=XX).1": "",
		"PID-3(9).1":    "",
		"PID-5.1":       "张三",
		"PID-5.7":       "L",
		"PID-11.1":      "厦门市思明区&湖滨路1号",
		"PID-11.1.2":    "",
		"PID-13":        "13800000000",
		"PV1-3.9":       "骨科一病区",
		"PV1-19":        "ZY20250401001",
		"DG1-3.2":       "胫骨平台骨折",
		"DG1[2]-3.2":    "膝部挫伤",
		"DG1[6=F]-5":    "20250420",
		"DG1[4]-3":      "",
		"DG1[6=Z]-3":    "",
		"ZZZ-1":         "",
		"PID-99":        "",
		"PID-3(*).5":    "PI",
	}
	for loc, want := range tests {
		t.Run(loc, func(t *testing.T) {
			t.Parallel()
			if got := m.Get(mustLoc(t, loc)); got != want {
				t.Errorf("Get(%s) = %q, want %q", loc, got, want)
			}
		})
	}
	if got, want := m.Type(), "ADT^A01"; got != want {
		t.Errorf("Type() = %q, want %q", got, want)
	}
	if got, want := m.ControlID(), "MSG0001"; got != want {
		t.Errorf("ControlID() = %q, want %q", got, want)
	}
	if got := len(m.All("DG1")); got != 3 {
		t.Errorf("All(DG1) has %d segments, want 3", got)
	}
	pid := m.All("PID")[0]
	if diff := cmp.Diff([]string{"PI", "NN", "SS"}, pid.All(mustLoc(t, "PID-3(*).5"))); diff != "" {
		t.Errorf("All(PID-3(*).5) (-want +got):\n%s", diff)
	}
	if got := pid.Repetitions(3); got != 3 {
		t.Errorf("Repetitions(3) = %d, want 3", got)
	}
}

func TestParseLineEndings(t *testing.T) {
	t.Parallel()
	for name, sep := range map[string]string{"CR": "\r", "LF": "\n", "CRLF": "\r\n"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			text := strings.ReplaceAll(adt, "\r", sep)
			m := mustParse(t, "\v"+text+"\x1c\r")
			if got := len(m.Segments); got != 7 {
				t.Fatalf("got %d segments, want 7", got)
			}
			if got := m.Get(mustLoc(t, "DG1[3]-6")); got != "F" {
				t.Errorf("DG1[3]-6 = %q, want F", got)
			}
		})
	}
}

func TestUnescape(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		`a\F\b`:             "a|b",
		`a\S\b\T\c\R\d\E\e`: `a^b&c~d\e`,
		`line1\.br\line2`:   "line1\nline2",
		`x\.sp2\y`:          "x\ny",
		`x\.sk\y`:           "x y",
		`\H\bold\N\`:        "bold",
		`\.in+4\text`:       "text",
		`\X41\\X4243\`:      "ABC",
		`\XE5BCA0\`:         "张",
		`\XZZ\`:             `\XZZ\`,
		`\Zlocal\x`:         `\Zlocal\x`,
		`tail\`:             `tail\`,
		`\\`:                `\\`,
		`\P\`:               `\P\`,
		`\C2D41\abc`:        "abc",
		`a\F\\S\b`:          "a|^b",
		`""`:                "",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			m := mustParse(t, "MSH|^~\\&|A\rZZZ|"+in+"\r")
			if got := m.Get(mustLoc(t, "ZZZ-1")); got != want {
				t.Errorf("unescape(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"plain", "a|b^c&d~e\\f", "两行\n文本", "cr\rlf\n", "#trunc", ""} {
		m := mustParse(t, "MSH|^~\\&#|A\rZZZ|"+Escape(s, Delimiters{Field: '|', Component: '^', Repetition: '~', Escape: '\\', Subcomponent: '&', Truncation: '#'})+"\r")
		if got := m.Get(mustLoc(t, "ZZZ-1")); got != s {
			t.Errorf("round trip of %q gave %q", s, got)
		}
	}
}

func TestOtherDelimiters(t *testing.T) {
	t.Parallel()
	m := mustParse(t, "MSH*:!%@*A*B\rPID*1**ID1:x:y!ID2:z**%F%")
	tests := map[string]string{"PID-3": "ID1", "PID-3.3": "y", "PID-3(2).2": "z", "PID-5": "*", "MSH-2": ":!%@"}
	for loc, want := range tests {
		if got := m.Get(mustLoc(t, loc)); got != want {
			t.Errorf("%s = %q, want %q", loc, got, want)
		}
	}
}

func TestCharsets(t *testing.T) {
	t.Parallel()
	// 億, 區, 乗 and 儈 end in the bytes of |, ^, \ and ~ in GB 18030.
	const name = "億區乗儈张三"
	text := func(declared string) string {
		return "MSH|^~\\&|HIS|XM|MG|XM|20250401||ADT^A01|1|P|2.5|||||CHN|" + declared + "\rPID|1||X||" + name + "^^^^^^L|\rZZZ|\\X" + "D5C5" + "\\\r"
	}
	gb := func(declared string) []byte {
		b, err := Encode(text(declared), "GB18030")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := map[string]struct {
		data    []byte
		opts    Options
		charset string
		err     error
	}{
		"GB 18030-2000": {data: gb("GB 18030-2000"), charset: "GB18030"},
		"GBK":           {data: gb("GBK"), charset: "GB18030"},
		"default":       {data: gb(""), opts: Options{DefaultCharset: "GB18030"}, charset: "GB18030"},
		"undeclared":    {data: gb(""), err: ErrEncoding},
		"unknown":       {data: []byte("MSH|^~\\&|||||||ADT^A01|1|P|2.5|||||CHN|ISO IR87\r"), err: ErrCharset},
		"utf8":          {data: []byte("MSH|^~\\&|||||||ADT^A01|1|P|2.5|||||CHN|UNICODE UTF-8\rPID|1||X||" + name + "^^^^^^L|\rZZZ|\\XE5BCA0\\\r"), charset: "UTF-8"},
		// A message taken out of a JSON string is already Unicode; only its
		// hex escapes are bytes in the declared character set.
		"text declaring GB 18030": {data: []byte(text("GB 18030-2000")), opts: Options{Text: true}, charset: "GB18030"},
		"text, GB 18030 default":  {data: []byte(text("")), opts: Options{Text: true, DefaultCharset: "GB18030"}, charset: "GB18030"},
		"bad GB18030":             {data: []byte("MSH|^~\\&|||||||ADT^A01|1|P|2.5|||||CHN|GB18030\rPID|1||\x81\x20\r"), err: ErrEncoding},
	}
	for name2, tc := range tests {
		t.Run(name2, func(t *testing.T) {
			t.Parallel()
			m, err := ParseWith(tc.data, tc.opts)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Charset != tc.charset {
				t.Errorf("Charset = %q, want %q", m.Charset, tc.charset)
			}
			if got := m.Get(mustLoc(t, "PID-5")); got != name {
				t.Errorf("PID-5 = %q, want %q", got, name)
			}
			if got := m.Get(mustLoc(t, "PID-5.7")); got != "L" {
				t.Errorf("PID-5.7 = %q, want L", got)
			}
			if got := m.Get(mustLoc(t, "ZZZ-1")); got != "张" {
				t.Errorf("hex escape ZZZ-1 = %q, want 张", got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in   string
		err  error
		text string
	}{
		"empty":             {in: "", err: ErrNotHL7},
		"not HL7":           {in: `{"a":1}`, err: ErrNotHL7},
		"short":             {in: "MSH", err: ErrDelimiters},
		"letter sep":        {in: "MSHA^~\\&", err: ErrDelimiters},
		"no encoding":       {in: "MSH||A", err: ErrDelimiters},
		"repeated":          {in: "MSH|^^\\&|A", err: ErrDelimiters},
		"bad segment":       {in: "MSH|^~\\&|A\rPID|1||名字\r第二行|x\r", err: ErrSegment, text: "segment 3"},
		"lower segment":     {in: "MSH|^~\\&|A\rpid|1\r", err: ErrSegment},
		"second MSH":        {in: "MSH|^~\\&|A\rMSH|^~\\&|B\r", err: ErrSegment},
		"second MSH, batch": {in: "MSH|^~\\&|A\rMSH|^~\\&|B\r", err: ErrBatch, text: "one message at a time"},
		"batch":             {in: "BHS|^~\\&|A\rMSH|^~\\&|B\rBTS|1\r", err: ErrBatch, text: "starts with BHS"},
		"file batch":        {in: "FHS|^~\\&|A\rBHS|^~\\&|A\rMSH|^~\\&|B\r", err: ErrNotHL7, text: "starts with FHS"},
		"invalid utf8":      {in: "MSH|^~\\&|A\rPID|\xff\r", err: ErrEncoding},
		"field sep space":   {in: "MSH ^~\\&", err: ErrDelimiters},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %q, want it to mention %q", err, tc.text)
			}
		})
	}
}

func TestParseLocation(t *testing.T) {
	t.Parallel()
	ok := map[string]Location{
		"PID-5":         {Segment: "PID", Field: 5},
		"PID-5.1":       {Segment: "PID", Field: 5, Component: 1},
		"PID-3(2).1.2":  {Segment: "PID", Field: 3, Repetition: 2, Component: 1, Subcomponent: 2},
		"PID-3(*).1":    {Segment: "PID", Field: 3, Repetition: AllRepetitions, Component: 1},
		"PID-3(5=SS).1": {Segment: "PID", Field: 3, SelectComponent: 5, SelectRepValue: "SS", Component: 1},
		"DG1[2]-3":      {Segment: "DG1", Occurrence: 2, Field: 3},
		"DG1[6=A]-3.2":  {Segment: "DG1", SelectField: 6, SelectValue: "A", Field: 3, Component: 2},
		"ZWI-1":         {Segment: "ZWI", Field: 1},
		"MSH-2":         {Segment: "MSH", Field: 2},
	}
	for in, want := range ok {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLocation(in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			again, err := ParseLocation(got.String())
			if err != nil {
				t.Fatalf("String() = %q does not parse: %v", got.String(), err)
			}
			if again.String() != got.String() {
				t.Errorf("String() not stable: %q then %q", got.String(), again.String())
			}
		})
	}
	for _, in := range []string{"", "PID", "pid-5", "PID5", "PID-0", "PID-x", "PID-5.", "PID-5.0", "PID-5(0)", "PID-5(", "PID[0]-1", "PID[-1", "PID-5.1.2.3", "PID-01", "PID-3(5=)", "PID[3=]-1", "MSH-2.2", "PID-5 ", "P1-1"} {
		t.Run("bad "+in, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseLocation(in); !errors.Is(err, ErrLocation) {
				t.Errorf("ParseLocation(%q) err = %v, want ErrLocation", in, err)
			}
		})
	}
}

// TestRecodeEscapes: hex escapes of a GB 18030 or Latin-1 message are
// rewritten as UTF-8 bytes, and read back the same from a UTF-8 message.
func TestRecodeEscapes(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		charset, raw, want string
	}{
		"GB 18030":           {"GB 18030-2000", `a\XD5C5\b`, `a\XE5BCA0\b`},
		"Latin-1":            {"8859/1", `\XE9\`, `\XC3A9\`},
		"UTF-8 unchanged":    {"UNICODE UTF-8", `\XE5BCA0\`, `\XE5BCA0\`},
		"other sequences":    {"GB 18030-2000", `\F\\.br\\X41\`, `\F\\.br\\X41\`},
		"invalid kept":       {"GB 18030-2000", `\X\\XZZ\\X81\`, `\X\\XZZ\\X81\`},
		"unknown then valid": {"GB 18030-2000", `\Q\XD5C5\`, `\Q\XE5BCA0\`},
		"unterminated":       {"GB 18030-2000", `x\XD5C5`, `x\XD5C5`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := mustParse(t, "MSH|^~\\&|A|||||||||||||||"+tc.charset+"\rZZZ|"+tc.raw+"\r")
			got := m.RecodeEscapes(m.Segments[1].Field(1))
			if got != tc.want {
				t.Fatalf("RecodeEscapes(%q) = %q, want %q", tc.raw, got, tc.want)
			}
			utf := mustParse(t, "MSH|^~\\&|A\rZZZ|"+got+"\r")
			if a, b := utf.Segments[1].Value(1, 1, 1, 1), m.Segments[1].Value(1, 1, 1, 1); a != b {
				t.Errorf("read back from UTF-8 as %q, from %s as %q", a, tc.charset, b)
			}
		})
	}
}

func TestPeekControlID(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ data, want string }{
		"plain":             {"MSH|^~\\&|A|B|C|D|20250401||ADT^A01|M1|P|2.5\rPID|1\r", "M1"},
		"framed, escaped":   {"\vMSH|^~\\&|A|B|C|D|20250401||ADT^A01|M\\F\\1^x|P\r\x1c\r", "M|1"},
		"bad segment after": {"MSH*^~\\&*A*B*C*D*20250401**ADT^A01*M2*P\rpid*1\r", "M2"},
		"invalid UTF-8":     {"MSH|^~\\&|A|B|C|D|20250401||ADT^A01|M3|P\rPID|\xcd\xf5\r", "M3"},
		"short MSH":         {"MSH|^~\\&|A|B|C|D|20250401||ADT^A01\r", ""},
		"empty":             {"MSH|^~\\&|A|B|C|D|20250401||ADT^A01||P\r", ""},
		"null":              {"MSH|^~\\&|A|B|C|D|20250401||ADT^A01|\"\"|P\r", ""},
		"not ASCII":         {"MSH|^~\\&|A|B|C|D|20250401||ADT^A01|\xcd\xf5|P\r", ""},
		"not HL7":           {"PID|1\r", ""},
		"bad delimiters":    {"MSHA^~\\&|A\r", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := PeekControlID([]byte(tc.data)); got != tc.want {
				t.Errorf("PeekControlID(%q) = %q, want %q", tc.data, got, tc.want)
			}
		})
	}
}

// TestManyRepetitionsLinear checks that a field with very many repetitions
// (a crafted message: PID-3 of half a million "~") is read in time linear
// in its length by a repetition selector and by "(*)": reading repetition
// r by splitting the field again from its start made each read quadratic,
// minutes of CPU for one message well under the MLLP size limit.
func TestManyRepetitionsLinear(t *testing.T) {
	t.Parallel()
	const reps = 1 << 19
	msg := "MSH|^~\\&|HIS|XMDEMO|MEDGATE|XMDEMO|20250401101500||ADT^A01|MSG0001|P|2.5\r" +
		"PID|1||" + strings.Repeat("~", reps-1) + "440301198507150031^^^CHN^SS\r"
	m := mustParse(t, msg)
	pid := m.Segment(mustLoc(t, "PID-3"), 0, -1)
	sel, all := mustLoc(t, "PID-3(5=SS).1"), mustLoc(t, "PID-3(*).5")
	type result struct {
		sel  string
		all  []string
		star string
	}
	done := make(chan result, 1)
	go func() {
		done <- result{sel: pid.Get(sel), all: pid.All(all), star: pid.Get(all)}
	}()
	select {
	case r := <-done:
		if r.sel != "440301198507150031" {
			t.Errorf("Get(PID-3(5=SS).1) = %q, want 440301198507150031", r.sel)
		}
		if len(r.all) != reps || r.all[reps-1] != "SS" {
			t.Errorf("All(PID-3(*).5): %d values, want %d ending in SS", len(r.all), reps)
		}
		if r.star != "SS" {
			t.Errorf("Get(PID-3(*).5) = %q, want SS", r.star)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("reading PID-3 with %d repetitions took over 20s; reads must be linear in the field's length", reps)
	}
}
