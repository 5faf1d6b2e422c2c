package message

import (
	"strings"
	"testing"
)

// TestRequestNotUTF8: a request in GBK (a platform that writes its JSON in
// its own code page) is answered invalid, rule encoding, at the first
// string that is not UTF-8, without quoting its bytes; it was passed on
// with its Chinese texts turned into U+FFFD and answered ok.
func TestRequestNotUTF8(t *testing.T) {
	t.Parallel()
	gbk := "\xd5\xc5\xc8\xfd\xb7\xe1" // 张三丰 in GBK
	cases := map[string]struct {
		in    string
		field string
	}{
		"payload value":      {in: `{"id":"a","site":"s","type":"p.o","payload":{"person":{"name":"` + gbk + `"}}}`, field: "$.payload.person.name"},
		"in an array":        {in: `{"id":"a","site":"s","type":"p.o","payload":{"diagnoses":[{"code":"J18"},{"code":"J19","name":"` + gbk + `"}]}}`, field: "$.payload.diagnoses[1].name"},
		"after nested":       {in: `{"id":"a","site":"s","type":"p.o","payload":{"a":{"b":[1,[2,3],{"c":"d"}]},"e":["x","` + gbk + `"]}}`, field: "$.payload.e[1]"},
		"odd member name":    {in: `{"id":"a","site":"s","type":"p.o","payload":{"fee item":"` + gbk + `"}}`, field: `$.payload["fee item"]`},
		"member name":        {in: `{"id":"a","site":"s","type":"p.o","payload":{"x":{"` + gbk + `":1}}}`, field: "$.payload.x"},
		"hl7 string":         {in: `{"id":"a","site":"s","type":"p.o","format":"hl7v2","payload":"MSH|^~\\&|HIS\rPID|||1||` + gbk + `"}`, field: "$.payload"},
		"top-level envelope": {in: `{"id":"a","site":"` + gbk + `","type":"p.o","payload":{}}`, field: "$.site"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env, errs := Parse([]byte(tc.in))
			var enc *ReplyError
			for i := range errs {
				if errs[i].Rule == "encoding" {
					enc = &errs[i]
				}
			}
			if enc == nil {
				t.Fatalf("errors %+v: none with rule encoding", errs)
			}
			if enc.Field != tc.field {
				t.Errorf("field %q, want %q", enc.Field, tc.field)
			}
			if !strings.Contains(enc.Message, "UTF-8") || !strings.Contains(enc.Message, "GBK") || !strings.Contains(enc.Message, tc.field) {
				t.Errorf("message %q does not say what and where", enc.Message)
			}
			if strings.Contains(enc.Message, gbk) || strings.Contains(enc.Message, "\ufffd") {
				t.Errorf("message quotes the text: %q", enc.Message)
			}
			if env.ID != "a" {
				t.Errorf("id %q: the reply could not name the request", env.ID)
			}
		})
	}
	if _, errs := Parse([]byte(`{"id":"a","site":"s","type":"p.o","payload":{"name":"张三丰"}}`)); len(errs) != 0 {
		t.Errorf("UTF-8 request: errors %+v", errs)
	}
}

// TestRequestWithByteOrderMark: a request whose JSON starts with a UTF-8
// byte order mark (a .NET platform writing with the encoding's preamble)
// is read as without it, as RFC 8259 allows: it was answered invalid,
// "invalid character 'ï'", with an empty requestId the platform could not
// match. It is the same message as the one without the mark.
func TestRequestWithByteOrderMark(t *testing.T) {
	t.Parallel()
	plain := `{"id":"a","site":"s","type":"p.o","payload":{"name":"张三丰"}}`
	env, errs := Parse([]byte("\xef\xbb\xbf" + plain))
	if len(errs) != 0 || env.ID != "a" || string(env.PayloadBytes()) != `{"name":"张三丰"}` {
		t.Fatalf("envelope %+v, errors %+v", env, errs)
	}
	if id, ok := Admit([]byte("\xef\xbb\xbf"+plain), "k", 1<<20); !ok || id != "a" {
		t.Errorf("Admit = %q, %v", id, ok)
	}
	if !SameRequest([]byte(plain), []byte("\xef\xbb\xbf"+plain)) || !SameRequest([]byte("\xef\xbb\xbf"+plain), []byte(plain)) {
		t.Error("the message with the mark is not the same as without it")
	}
	// A mark anywhere else is not one to ignore.
	if _, errs := Parse([]byte(`{"id":"a","site":"s","type":"p.o","payload":` + "\xef\xbb\xbf" + `{}}`)); len(errs) == 0 {
		t.Error("a byte order mark inside the JSON was accepted")
	}
}
