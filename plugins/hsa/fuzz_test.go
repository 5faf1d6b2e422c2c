package hsa

import (
	"encoding/json"
	"testing"
)

// FuzzParseResponse: any body either parses into a consistent response or
// fails with ErrNotEnvelope; it never panics. A parsed response's output,
// when present, is valid JSON, and parsing it as a page never panics.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		`{"infcode":0,"inf_refmsgid":"350200202504010930000000000001","output":{"recordCounts":1,"pages":1,"data":[{"bkkpSn":"1"}]}}`,
		`{"infcode":"-1","err_msg":"失败","output":null}`,
		`{"infcode":0,"enc_type":"SM4","output":"24+Yhm3IuBJoCwSlTbMsug=="}`,
		"\xef\xbb\xbf{\"infcode\":\"0\"}",
		`{"infcode":1e3}`, `{"infcode":"\u0030"}`, `[]`, `null`, `{"output":[[[[[]]]]]}`, `<html>`, `{"infcode":0,"output":[1,"x",{}]}`,
	} {
		f.Add([]byte(s))
	}
	p := Defaults().Paging
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseResponse(body)
		if err != nil {
			return
		}
		if r.Infcode < -9999 || r.Infcode > 9999 {
			t.Fatalf("infcode %d out of range", r.Infcode)
		}
		if r.Output != nil && !json.Valid(r.Output) {
			t.Fatalf("output %q is not JSON", r.Output)
		}
		_, _ = ParsePage(r.Output, p)
	})
}

// FuzzParseMsgID: parsing never panics and what parses formats back.
func FuzzParseMsgID(f *testing.F) {
	f.Add("H35020300001202504010930000001")
	f.Add("H3502030000120250401093000000")
	f.Add("张三张三张三张三张三张三张三张三张三张三")
	f.Fuzz(func(t *testing.T, id string) {
		code, ts, seq, err := ParseMsgID(id)
		if err != nil {
			return
		}
		if got := FormatMsgID(code, ts, int64(seq)+1, 0, 10000); got != id {
			t.Fatalf("round trip %q → %q", id, got)
		}
	})
}
