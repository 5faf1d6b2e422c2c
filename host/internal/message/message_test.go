package message

import "testing"

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
