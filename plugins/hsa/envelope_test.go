package hsa

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestRequestGolden pins the request envelope's JSON, field by field and in
// the specification's order, for the default (Fujian) configuration and
// with SM4.
func TestRequestGolden(t *testing.T) {
	t.Parallel()
	testCases := map[string]func(*Config){
		"request_4203.json":     func(*Config) {},
		"request_4203_sm4.json": func(c *Config) { c.Enc, c.SM4Key, c.AppID = EncSM4, stdKey, "app-1" },
		"request_4203_plain.json": func(c *Config) {
			c.FujianFields, c.InsuplcAdmdvs, c.DevNo, c.Signtype = false, "350100", "DEV-01", "SM2"
		},
	}
	for name, edit := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("http://127.0.0.1:1/")
			edit(&cfg)
			c := newClient(t, cfg, WithClock(fixedClock()))
			req := c.envelope(Call{Infno: "4203"}, "H35020300001202504010930000001", "", c.now())
			if errs := c.reqSchema.ValidateInput(req.fields()); errs != nil {
				t.Fatalf("envelope does not validate: %v", errs)
			}
			input := json.RawMessage(`{"fixmedins_mdtrt_id":"ZY1","fixmedins_code":"H35020300001","cplt_flag":"1"}`)
			req.Input = input
			if cfg.Enc == EncSM4 {
				ct, err := SM4Encrypt(cfg.SM4Key, false, input)
				if err != nil {
					t.Fatal(err)
				}
				req.Input, _ = json.Marshal(ct)
			}
			got, err := marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name, got)
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var pretty any
	if err := json.Unmarshal(got, &pretty); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if diff := cmp.Diff(string(want), string(got)+"\n"); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestParseResponse(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		body    string
		infcode int
		errMsg  string
		output  string
		bad     bool
	}{
		"number":        {body: `{"infcode":0,"inf_refmsgid":"x","output":{"a":1}}`, output: `{"a":1}`},
		"string":        {body: `{"infcode":"0","output":{}}`, output: `{}`},
		"failure":       {body: `{"infcode":-1,"err_msg":"失败"}`, infcode: -1, errMsg: "失败"},
		"failure text":  {body: `{"infcode":"-1","err_msg":null,"output":null}`, infcode: -1},
		"number err":    {body: `{"infcode":-1,"err_msg":12}`, infcode: -1, errMsg: "12"},
		"bom":           {body: "\xef\xbb\xbf{\"infcode\":0}"},
		"spaces":        {body: ` {"infcode": " 0 "} `},
		"no infcode":    {body: `{"err_msg":"x"}`, bad: true},
		"infcode text":  {body: `{"infcode":"abc"}`, bad: true},
		"infcode float": {body: `{"infcode":0.5}`, bad: true},
		"infcode big":   {body: `{"infcode":123456}`, bad: true},
		"array":         {body: `[1,2]`, bad: true},
		"null":          {body: `null`, bad: true},
		"html":          {body: `<html>502 Bad Gateway</html>`, bad: true},
		"deep":          {body: `{"infcode":0,"output":` + deep(100) + `}`, bad: true},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseResponse([]byte(tc.body))
			if tc.bad {
				if err == nil || !errors.Is(err, ErrNotEnvelope) {
					t.Fatalf("err = %v, want ErrNotEnvelope", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Infcode != tc.infcode || r.ErrMsg != tc.errMsg || string(r.Output) != tc.output {
				t.Errorf("got infcode %d err_msg %q output %s", r.Infcode, r.ErrMsg, r.Output)
			}
		})
	}
}

func deep(n int) string {
	s := ""
	for range n {
		s += "["
	}
	for range n {
		s += "]"
	}
	return s
}

func TestResponseSchema(t *testing.T) {
	t.Parallel()
	set, err := EnvelopeSchemas()
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := set.Get("envelope", "response")
	r, err := ParseResponse([]byte(`{"infcode":"0","inf_refmsgid":"350200202504010930000000000001","refmsg_time":"20250401093000123","respond_time":"20250401093000456","err_msg":"","warn_msg":"","output":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if errs := resp.ValidateOutput(r.Fields); errs != nil {
		t.Errorf("a good answer does not validate: %v", errs)
	}
	r, _ = ParseResponse([]byte(`{"infcode":0}`))
	if errs := resp.ValidateOutput(r.Fields); len(errs) != 1 || errs[0].Path != "$.inf_refmsgid" {
		t.Errorf("missing inf_refmsgid: %v", errs)
	}
}

func TestParsePage(t *testing.T) {
	t.Parallel()
	p := Defaults().Paging
	testCases := map[string]struct {
		out             string
		total, pages, n int
		bad             bool
	}{
		"wrapped":         {out: `{"recordCounts":3,"pages":2,"data":[{},{}]}`, total: 3, pages: 2, n: 2},
		"string counts":   {out: `{"recordCounts":"3","pages":"1","data":[{}]}`, total: 3, pages: 1, n: 1},
		"bare array":      {out: `[{},{},{}]`, total: -1, pages: -1, n: 3},
		"empty":           {out: ``, bad: true},
		"null":            {out: `null`, bad: true},
		"null data":       {out: `{"recordCounts":0,"pages":0,"data":null}`, total: 0, pages: 0},
		"no data field":   {out: `{"list":[]}`, bad: true},
		"data not array":  {out: `{"data":"x"}`, bad: true},
		"scalar":          {out: `12`, bad: true},
		"records as text": {out: `{"recordCounts":1,"pages":1,"data":["{\"bkkpSn\":\"1\"}"]}`, bad: true},
		"bare numbers":    {out: `[1,2]`, bad: true},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pg, err := ParsePage(json.RawMessage(tc.out), p)
			if tc.bad {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pg.Total != tc.total || pg.Pages != tc.pages || len(pg.Records) != tc.n {
				t.Errorf("got %+v", pg)
			}
		})
	}
}
