package message

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"id":"a","site":"s","type":"p.o","payload":{}}`))
	f.Add([]byte(`{"id":"a","site":"s","type":"p.o","format":"hl7v2","payload":"MSH|^~\\&|"}`))
	f.Add([]byte(`{"id":`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, errs := Parse(data)
		if env == nil {
			t.Fatal("nil envelope")
		}
		for _, e := range errs {
			if e.Rule == "" || e.Message == "" {
				t.Fatalf("error without rule or message: %+v", e)
			}
		}
		_ = env.PayloadBytes()
	})
}

// TestParse: every problem of an envelope is reported at once, each with
// its field and rule; a sound one comes back with its format filled in.
func TestParse(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		in   string
		want []string // "field rule"
	}{
		"sound json":    {in: `{"id":"a","site":"s","type":"p.o","payload":{}}`},
		"sound hl7":     {in: `{"id":"a","site":"s","type":"p.o","format":"hl7v2","payload":"MSH|^~\\&|"}`},
		"not json":      {in: `{"id":`, want: []string{"$ syntax"}},
		"two objects":   {in: `{"id":"a","site":"s","type":"p.o","payload":{}} {}`, want: []string{"$ syntax"}},
		"unknown field": {in: `{"id":"a","site":"s","type":"p.o","payload":{},"x":1}`, want: []string{"$ syntax"}},
		"all missing":   {in: `{}`, want: []string{"$.id required", "$.site required", "$.type required", "$.payload required"}},
		"all malformed": {in: `{"id":"a b","site":"s","type":"po","occurredAt":"yesterday","replyTo":"a/b","format":"xml","payload":{}}`,
			want: []string{"$.id format", "$.type format", "$.occurredAt format", "$.replyTo format", "$.format enum"}},
		"hl7 not a string": {in: `{"id":"a","site":"s","type":"p.o","format":"hl7v2","payload":{}}`, want: []string{"$.payload type"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env, errs := Parse([]byte(tc.in))
			var got []string
			for _, e := range errs {
				got = append(got, e.Field+" "+e.Rule)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("errors %v, want %v", got, tc.want)
			}
			if len(errs) == 0 && env.Format == "" {
				t.Error("a sound envelope has no format")
			}
		})
	}
	env, _ := Parse([]byte(`{"id":"a","site":"s","type":"p.o","format":"hl7v2","occurredAt":"2026-11-26T08:30:00+08:00","payload":"MSH|x"}`))
	if string(env.PayloadBytes()) != "MSH|x" || env.Occurred().IsZero() || Plugin(env.Type) != "p" {
		t.Errorf("payload %q, occurred %v, plugin %q", env.PayloadBytes(), env.Occurred(), Plugin(env.Type))
	}
}

// TestAdmit: only a request within the size limit, with a usable key and
// id, is queued.
func TestAdmit(t *testing.T) {
	t.Parallel()
	ok := `{"id":"m-1","site":"s","type":"p.o","payload":{}}`
	if id, admitted := Admit([]byte(ok), "visit-1", 1024); !admitted || id != "m-1" {
		t.Errorf("Admit = %q, %v; want m-1, true", id, admitted)
	}
	for name, tc := range map[string]struct {
		value, key string
		limit      int
	}{
		"too large":  {ok, "k", 10},
		"long key":   {ok, strings.Repeat("k", MaxKeyBytes+1), 1024},
		"NUL in key": {ok, "k\x00", 1024},
		"no id":      {`{"site":"s","type":"p.o","payload":{}}`, "k", 1024},
		"bad id":     {`{"id":"a b","site":"s","type":"p.o","payload":{}}`, "k", 1024},
	} {
		if id, admitted := Admit([]byte(tc.value), tc.key, tc.limit); admitted {
			t.Errorf("%s: admitted as %q", name, id)
		}
	}
	if CheckKey(strings.Repeat("k", MaxKeyBytes)) != nil || CheckKey("\xff") == nil {
		t.Error("CheckKey: a key of MaxKeyBytes must pass, one that is not UTF-8 must not")
	}
}

// The patterns the hand-written checks of message.go implement.
var (
	typeRE    = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}\.[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	idRE      = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)
	replyToRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)
)

// TestPatterns: validType, ValidID and validTopic accept exactly what
// their regexps match.
func TestPatterns(t *testing.T) {
	t.Parallel()
	for _, s := range patternSeeds() {
		checkPatterns(t, s)
	}
}

// FuzzPatterns: the same on any input.
func FuzzPatterns(f *testing.F) {
	for _, s := range patternSeeds() {
		f.Add(s)
	}
	f.Fuzz(checkPatterns)
}

func checkPatterns(t *testing.T, s string) {
	if got, want := validType(s), typeRE.MatchString(s); got != want {
		t.Errorf("validType(%q) = %v, the pattern says %v", s, got, want)
	}
	if got, want := ValidID(s), idRE.MatchString(s); got != want {
		t.Errorf("ValidID(%q) = %v, the pattern says %v", s, got, want)
	}
	if got, want := validTopic(s), replyToRE.MatchString(s); got != want {
		t.Errorf("validTopic(%q) = %v, the pattern says %v", s, got, want)
	}
}

func patternSeeds() []string {
	return []string{"", ".", "a.", ".b", "a.b", "ledger.noop", "workinjury.GYD051", "a_b-c.D.e_f-9", "A.b", "1a.b", "a..b", "a.b.",
		"a.-b", "a-.b", "a b.c", "a.b c", "a\n.b", "a.b\n", "é.b", "a.é", "a.b\x00",
		strings.Repeat("a", 32) + ".b", strings.Repeat("a", 33) + ".b", "a." + strings.Repeat("b", 64), "a." + strings.Repeat("b", 65),
		"m-1", "a b", "\x7f", "!~", strings.Repeat("x", 128), strings.Repeat("x", 129), "replies", "replies.v2", "a/b",
		strings.Repeat("r", 249), strings.Repeat("r", 250), "\xff"}
}

// TestSameRequest: a message sent again, however written, is the same
// request; one with another site, type, format or payload is not, and a
// huge exponent costs nothing.
func TestSameRequest(t *testing.T) {
	t.Parallel()
	const a = `{"id":"x","site":"s1","type":"x.do","occurredAt":"2026-12-04T08:00:00+08:00","payload":{"n":1,"l":[1,"b"],"o":{"k":null}}}`
	cases := []struct {
		name           string
		recorded, sent string
		same           bool
	}{
		{"equal bytes", a, a, true},
		{"no recorded request", "", a, true},
		{"respaced, reordered, 1.0, other occurredAt and replyTo", a, ` { "payload" : {"o":{"k":null},"l":[1.0,"b"],"n":1e0}, "replyTo":"r", "type":"x.do","site":"s1","id":"x","format":"json"}`, true},
		{"another payload value", a, `{"id":"x","site":"s1","type":"x.do","payload":{"n":2,"l":[1,"b"],"o":{"k":null}}}`, false},
		{"a member more", a, `{"id":"x","site":"s1","type":"x.do","payload":{"n":1,"l":[1,"b"],"o":{"k":null},"m":0}}`, false},
		{"array order", a, `{"id":"x","site":"s1","type":"x.do","payload":{"n":1,"l":["b",1],"o":{"k":null}}}`, false},
		{"a string for a number", a, `{"id":"x","site":"s1","type":"x.do","payload":{"n":"1","l":[1,"b"],"o":{"k":null}}}`, false},
		{"another site", a, `{"id":"x","site":"s2","type":"x.do","payload":{"n":1,"l":[1,"b"],"o":{"k":null}}}`, false},
		{"another type", a, `{"id":"x","site":"s1","type":"x.undo","payload":{"n":1,"l":[1,"b"],"o":{"k":null}}}`, false},
		{"another format", a, `{"id":"x","site":"s1","type":"x.do","format":"hl7v2","payload":"MSH|"}`, false},
		{"not JSON", a, `{"id":"x",`, false},
		{"huge exponents", `{"id":"x","site":"s1","type":"x.do","payload":1e999999999}`, `{"id":"x","site":"s1","type":"x.do","payload":2e999999999}`, false},
		// The MLLP listener declares UTF-8 in MSH-18 since 52c914d; a
		// message it recorded before is the same as its resend since.
		{"MLLP message before and after MSH-18 UNICODE UTF-8", `{"id":"hl7:H:F:1","site":"s1","type":"x.do","format":"hl7v2","payload":"MSH|^~\\&|H|F|||202612031015||ADT^A28|1|P|2.5\rPID|1\r"}`,
			`{"id":"hl7:H:F:1","site":"s1","type":"x.do","format":"hl7v2","payload":"MSH|^~\\&|H|F|||202612031015||ADT^A28|1|P|2.5||||||UNICODE UTF-8\rPID|1\r"}`, true},
		{"MLLP message, another segment", `{"id":"hl7:H:F:1","site":"s1","type":"x.do","format":"hl7v2","payload":"MSH|^~\\&|H|F|||202612031015||ADT^A28|1|P|2.5\rPID|1\r"}`,
			`{"id":"hl7:H:F:1","site":"s1","type":"x.do","format":"hl7v2","payload":"MSH|^~\\&|H|F|||202612031015||ADT^A28|1|P|2.5||||||UNICODE UTF-8\rPID|2\r"}`, false},
		{"MLLP message, another MSH-18", `{"id":"hl7:H:F:1","site":"s1","type":"x.do","format":"hl7v2","payload":"MSH|^~\\&|H|F|||202612031015||ADT^A28|1|P|2.5||||||GB 18030-2000\rPID|1\r"}`,
			`{"id":"hl7:H:F:1","site":"s1","type":"x.do","format":"hl7v2","payload":"MSH|^~\\&|H|F|||202612031015||ADT^A28|1|P|2.5||||||UNICODE UTF-8\rPID|1\r"}`, false},
		{"a platform's HL7 message with MSH-18 added", `{"id":"k1","site":"s1","type":"x.do","format":"hl7v2","payload":"MSH|^~\\&|H|F|||202612031015||ADT^A28|1|P|2.5\rPID|1\r"}`,
			`{"id":"k1","site":"s1","type":"x.do","format":"hl7v2","payload":"MSH|^~\\&|H|F|||202612031015||ADT^A28|1|P|2.5||||||UNICODE UTF-8\rPID|1\r"}`, false},
	}
	for _, tc := range cases {
		if got := SameRequest([]byte(tc.recorded), []byte(tc.sent)); got != tc.same {
			t.Errorf("%s: SameRequest = %v, want %v", tc.name, got, tc.same)
		}
	}
}

// TestSameRequestNumbersExactly: numbers are compared as exact decimals,
// so a resend that differs only beyond float64 precision (a 19-digit id
// sent as a number, an amount's last cent) is a different request, while
// the same value however written stays the same request.
func TestSameRequestNumbersExactly(t *testing.T) {
	t.Parallel()
	env := func(n string) string {
		return `{"id":"x","site":"s1","type":"x.do","payload":{"n":` + n + `}}`
	}
	cases := []struct {
		a, b string
		same bool
	}{
		{"1234567890123456789", "1234567890123456788", false},
		{"12345678901234567.01", "12345678901234567.02", false},
		{"9007199254740993", "9007199254740992", false},
		{"0.1000000000000000000001", "0.1", false},
		{"1e400", "1.0000000000000000001e400", false},
		{"-1", "1", false},
		{"1", "1.0", true},
		{"1", "1.00", true},
		{"1", "1e0", true},
		{"1.0", "1E+0", true},
		{"100", "1e2", true},
		{"0.01", "1e-2", true},
		{"12345678901234567.010", "1234567890123456701e-2", true},
		{"1234567890123456789", "1234567890123456789.000", true},
		{"0", "-0", true},
		{"0", "0.000e5", true},
		{"-2.50", "-25e-1", true},
		{"1e400", "10e399", true},
		{"1e999999999", "10e999999998", true},
		{"1e-999999999", "0.1e-999999998", true},
	}
	for _, tc := range cases {
		if got := SameRequest([]byte(env(tc.a)), []byte(env(tc.b))); got != tc.same {
			t.Errorf("payload %s then %s: SameRequest = %v, want %v", tc.a, tc.b, got, tc.same)
		}
		if got := SameRequest([]byte(env(tc.b)), []byte(env(tc.a))); got != tc.same {
			t.Errorf("payload %s then %s: SameRequest = %v, want %v", tc.b, tc.a, got, tc.same)
		}
	}
}
