package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"slices"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// FuzzObjectKeys checks the one-pass key scan against encoding/json: what
// objectKeys accepts is a JSON object encoding/json reads into a
// visitDetails-shaped map, with the same names.
//
//	go test -run '^$' -fuzz FuzzObjectKeys -fuzztime 60s ./plugins/workinjury/adapter
func FuzzObjectKeys(f *testing.F) {
	for _, s := range []string{
		`{}`, ` {} `, `{"D1":{"a":"1.00","f":"1.00","s":"0.00"},"D2":{"a":"2.00","f":"1.00","s":"1.00","r":true}}`,
		`{"D1":{}}`, `{"D1":{"x":-1.5e3,"y":null,"z":false}}`, `{"D\u00e9":{}}`, `{"D1":{"a":{"b":1}}}`, `{"D1":[]}`,
		`{"D1":{},}`, `{"D1":{}} x`, `[]`, `null`, `{"D1":{"a":01}}`, `{"D1":"x"}`, "{\"D1\":{\"a\":\"\xff\"}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got []string
		if !objectKeys(b, func(k []byte) { got = append(got, string(k)) }) {
			return
		}
		var m map[string]map[string]any
		if err := json.Unmarshal(b, &m); err != nil || m == nil {
			t.Fatalf("objectKeys accepted %q, encoding/json does not: %v", b, err)
		}
		slices.Sort(got)
		got = slices.Compact(got)
		var want []string
		for k := range m {
			want = append(want, k)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("objectKeys(%q) = %q, encoding/json gives %q", b, got, want)
		}
	})
}

// TestUploadedAmong: numbers are found in both layouts and in maps that
// only encoding/json reads (escaped names), not in another visit whose
// number starts with this one; an unreadable map is an error.
func TestUploadedAmong(t *testing.T) {
	ctx := t.Context()
	h := hostFor(sdktest.NewMemoryHost(), testSite)
	put := func(key, v string) {
		t.Helper()
		if _, err := h.Put(ctx, key, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	put("visit/V1/details", `{"0001":{"a":"1.00","f":"1.00","s":"0.00"}}`)
	put("visit/V1/details/m2", `{"0002":{"a":"2.00","f":"1.00","s":"1.00","r":true},"0003":{"a":"3.00","f":"3.00","s":"0.00"}}`)
	put("visit/V1/details/m3", `{"A\u003c1":{"a":"3.00","f":"3.00","s":"0.00"}}`)
	put("visit/V10/details/m4", `{"0004":{"a":"4.00","f":"4.00","s":"0.00"}}`)
	l := &lifecycle{a: &Adapter{}, c: &siteConfig{code: testSite}, ctx: ctx, h: h}
	nos := map[string]struct{}{"0001": {}, "0002": {}, "0004": {}, "0005": {}, "A<1": {}}
	got, err := l.uploadedAmong("V1", nos)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"0001": true, "0002": true, "A<1": true}
	if len(got) != len(want) {
		t.Fatalf("uploadedAmong = %v, want %v", got, want)
	}
	for k := range want {
		if !got[k] {
			t.Errorf("uploadedAmong = %v, want %v", got, want)
		}
	}
	put("visit/V1/details/m5", `{"0006":`)
	if _, err := l.uploadedAmong("V1", nos); err == nil {
		t.Error("uploadedAmong read a map that is not JSON without an error")
	}
}

// sendingHost is the host side of sdk.ScanKnown as medgate answers it: the
// values of the maps the plugin holds at their version are left out. It
// notes the keys whose values it sent (by Scan or ScanKnown).
type sendingHost struct {
	sdk.Host
	sent []string
}

func (h *sendingHost) Scan(ctx context.Context, prefix string, limit int) ([]sdk.Entry, error) {
	es, err := h.Host.Scan(ctx, prefix, limit)
	for _, e := range es {
		h.sent = append(h.sent, e.Key)
	}
	return es, err
}

func (h *sendingHost) ScanKnown(ctx context.Context, prefix string, limit int, known map[string]int64) ([]sdk.Entry, error) {
	es, err := h.Host.Scan(ctx, prefix, limit)
	for i, e := range es {
		if v, ok := known[e.Key]; ok && v == e.Version {
			es[i].Value = nil
		} else {
			h.sent = append(h.sent, e.Key)
		}
	}
	return es, err
}

// TestUploadedAmongReadsEachMapOnce: the rule keeps the numbers of the
// maps it read, so the host sends each map once per plugin process, not
// once per call of the stay; a map whose version changed (the older
// layout, extended) is read again, numbers are kept per site, and the
// answers are what a full scan gives.
func TestUploadedAmongReadsEachMapOnce(t *testing.T) {
	ctx := t.Context()
	mem := sdktest.NewMemoryHost()
	h := &sendingHost{Host: hostFor(mem, testSite)}
	put := func(h sdk.Host, key, v string) {
		t.Helper()
		if _, err := h.Put(ctx, key, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	a := &Adapter{}
	check := func(h sdk.Host, site string, nos []string, want []string, wantSent []string) {
		t.Helper()
		s, _ := h.(*sendingHost)
		if s != nil {
			s.sent = nil
		}
		set := map[string]struct{}{}
		for _, no := range nos {
			set[no] = struct{}{}
		}
		l := &lifecycle{a: a, c: &siteConfig{code: site}, ctx: ctx, h: h}
		got, err := l.uploadedAmong("V1", set)
		if err != nil {
			t.Fatal(err)
		}
		var gotNos []string
		for no := range got {
			gotNos = append(gotNos, no)
		}
		slices.Sort(gotNos)
		if !slices.Equal(gotNos, want) {
			t.Errorf("uploadedAmong(%v) = %v, want %v", nos, gotNos, want)
		}
		if s != nil && !slices.Equal(s.sent, wantSent) {
			t.Errorf("the host sent the values of %v, want %v", s.sent, wantSent)
		}
	}
	put(h, "visit/V1/details", `{"0001":{"a":"1.00","f":"1.00","s":"0.00"}}`)
	put(h, "visit/V1/details/m2", `{"0002":{"a":"2.00","f":"1.00","s":"1.00"},"A\u003c1":{}}`)
	check(h, testSite, []string{"0001", "0002", "0003", "A<1"}, []string{"0001", "0002", "A<1"}, []string{"visit/V1/details", "visit/V1/details/m2"})
	put(h, "visit/V1/details/m3", `{"0003":{"a":"3.00","f":"3.00","s":"0.00"}}`)
	check(h, testSite, []string{"0001", "0002", "0003", "0004", "A<1"}, []string{"0001", "0002", "0003", "A<1"}, []string{"visit/V1/details/m3"})
	check(h, testSite, []string{"0003", "0005"}, []string{"0003"}, nil)
	put(h, "visit/V1/details", `{"0001":{"a":"1.00","f":"1.00","s":"0.00","r":true},"0005":{}}`) // version 2
	check(h, testSite, []string{"0003", "0005"}, []string{"0003", "0005"}, []string{"visit/V1/details"})

	// Another site has the same keys at the same versions, other numbers.
	other := &sendingHost{Host: hostFor(mem, "other")}
	put(other, "visit/V1/details", `{"0009":{}}`)
	put(other, "visit/V1/details/m2", `{"0008":{}}`)
	check(other, "other", []string{"0001", "0002", "0008", "0009"}, []string{"0008", "0009"}, []string{"visit/V1/details", "visit/V1/details/m2"})

	// A host without ScanKnown sends every value; the numbers held are
	// used where the versions match.
	check(hostFor(mem, testSite), testSite, []string{"0001", "0003", "0006"}, []string{"0001", "0003"}, nil)
}

// TestSeenDetailsBound: the numbers held stay under seenDetailsBytes, the
// least recently used map going first.
func TestSeenDetailsBound(t *testing.T) {
	var s seenDetails
	nos := bytes.Repeat([]byte("D0000000000000001\x00"), 500)
	n := 2*seenDetailsBytes/len(nos) + 1
	for i := range n {
		s.put("s", fmt.Sprintf("visit/V%d/", i), fmt.Sprintf("visit/V%d/details/m", i), 1, nos)
		if i == 0 {
			continue
		}
		s.held("s", "visit/V0/") // keeps V0 in use
	}
	if s.bytes > seenDetailsBytes || s.lru.Len() != s.len() {
		t.Errorf("%d bytes held in %d maps (%d listed), want at most %d", s.bytes, s.len(), s.lru.Len(), seenDetailsBytes)
	}
	if s.held("s", "visit/V0/") == nil || s.held("s", "visit/V1/") != nil {
		t.Error("the map used last was dropped, or the one least recently used was kept")
	}
}

// FuzzMoneyOf: moneyOf gives what money(decOr0(…)) gives, for strings and
// JSON numbers.
func FuzzMoneyOf(f *testing.F) {
	for _, s := range []string{"0.00", "10.00", "01.00", "-1.00", "-0.00", "1.0", "1.000", " 2.50 ", "1e2", "", "x.00", "123456789012345678901234567890.99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, doc := range []map[string]any{{"v": s}, {"v": json.Number(s)}} {
			if got, want := moneyOf(doc, "v"), money(decOr0(doc, "v")); got != want {
				t.Fatalf("moneyOf(%#v) = %q, money(decOr0) = %q", doc["v"], got, want)
			}
		}
	})
}

// FuzzAppendJSON: for any decoded payload, appendJSON writes what
// encoding/json (no HTML escaping) writes, or declines.
//
//	go test -run '^$' -fuzz FuzzAppendJSON -fuzztime 60s ./plugins/workinjury/adapter
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"b":1,"a":"x","c":[1,"2",null,true,false,{"z":{}}]}`, `{"n":"张三 <a&b>","t":"\t\n\r\b\f\u0001\u2028\u2029\"\\"}`,
		`{"x":-1.50e+10,"y":0}`, "{\"bad\":\"\xff\xfe\"}", `{"":[]}`, `[1,2]`, `"s"`, `null`,
		`{"fee":[{"a":1,"b":2},{"b":3,"a":4},{"a":1,"c":2},{"a":1},{},{"a":1,"b":2},null,{"a":1,"b":2,"c":3},[{"b":1,"a":2}]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		dec := json.NewDecoder(bytes.NewReader(in))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return
		}
		want, err := encodeStd(v)
		if err != nil {
			t.Skip()
		}
		got, ok := appendJSON(nil, v)
		if !ok {
			t.Fatalf("appendJSON declined %q", in)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("appendJSON(%q) = %s, encoding/json gives %s", in, got, want)
		}
	})
}

// encodeStd is marshal's encoding/json path.
func encodeStd(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// TestAppendJSONNumbers: json.Number values encoding/json refuses or
// rewrites are left to it.
func TestAppendJSONNumbers(t *testing.T) {
	for _, n := range []json.Number{"", "01", "1.", "abc", "1e", "--1"} {
		if _, ok := appendJSON(nil, map[string]any{"n": n}); ok {
			t.Errorf("appendJSON accepted json.Number %q", n)
		}
	}
	got, err := marshal(map[string]any{"n": json.Number("")})
	if want, _ := encodeStd(map[string]any{"n": json.Number("")}); err != nil || !bytes.Equal(got, want) {
		t.Errorf("marshal of an empty json.Number = %s, %v; want %s", got, err, want)
	}
}

// FuzzLineFits: a line lineFits passes is one lineCheck (big.Rat) passes
// without a diagnostic.
//
//	go test -run '^$' -fuzz FuzzLineFits -fuzztime 60s ./plugins/workinjury/adapter
func FuzzLineFits(f *testing.F) {
	f.Add("2", "10.00", "20.00", "15.00", "5.00", "0.005", false)
	f.Add("3", "3.333333", "10.00", "10.00", "0.00", "0.01", true)
	f.Add("1", "9223372036854775807", "9223372036854775807", "9223372036854775807", "0", "0", false)
	f.Add("0.5", "-1", "0.50", "0.25", "0.25", "0.005", true)
	f.Add("1", "1", "1.00", "0.5", "0.5", "0.0000001", false)
	f.Fuzz(func(t *testing.T, qty, price, amount, fund, self, tolText string, numbers bool) {
		tol, ok := new(big.Rat).SetString(tolText)
		if !ok || tol.Sign() < 0 {
			return
		}
		ft, ok := fixedOfRat(tol)
		if !ok {
			return
		}
		line := map[string]any{}
		for k, v := range map[string]string{"qty": qty, "price": price, "amount": amount, "fund_pay": fund, "self_pay": self} {
			if numbers {
				line[k] = json.Number(v)
			} else {
				line[k] = v
			}
		}
		if !lineFits(line, ft) {
			return
		}
		var ds sdk.Diagnostics
		l := &lifecycle{c: &siteConfig{tolerance: tol}, ds: &ds}
		if _, good := l.lineCheck("$.fee[0]", line, true); !good || len(ds) > 0 {
			t.Fatalf("lineFits passed %v (tolerance %s), lineCheck says %v", line, tolText, ds)
		}
	})
}

// TestLineFitsCommonLines: the usual lines take the int64 path.
func TestLineFitsCommonLines(t *testing.T) {
	tol, ok := fixedOfRat(big.NewRat(5, 1000))
	if !ok {
		t.Fatal("the default tolerance 0.005 is not a fixed")
	}
	for _, line := range []map[string]any{
		{"qty": json.Number("2"), "price": json.Number("10.00"), "amount": json.Number("20.00"), "fund_pay": json.Number("15.00"), "self_pay": json.Number("5.00")},
		{"qty": "3", "price": "3.333", "amount": "10.00", "fund_pay": "10.00", "self_pay": "0.00"},
	} {
		if !lineFits(line, tol) {
			t.Errorf("lineFits(%v) = false, want true", line)
		}
	}
	bad := map[string]any{"qty": "2", "price": "10.00", "amount": "20.01", "fund_pay": "15.00", "self_pay": "5.00"}
	if lineFits(bad, tol) {
		t.Errorf("lineFits(%v) = true: amount is off by 0.01", bad)
	}
}

// FuzzParsePayload checks the one-pass payload parser against
// encoding/json (UseNumber): what parsePayload accepts, encoding/json
// decodes to the same object.
//
//	go test -run '^$' -fuzz FuzzParsePayload -fuzztime 60s ./plugins/workinjury/adapter
func FuzzParsePayload(f *testing.F) {
	for _, s := range []string{
		`{}`, ` {"a":[1,-2.5e3,"x",null,true,false,{"b":[]}],"a":"dup"} `, `{"n":"张三","m":{"k":{}}}`, `[]`, `null`,
		`{"a":"\n"}`, "{\"a\":\"\xff\"}", `{"a":01}`, `{"a":[1,]}`, `{"a":1}x`, `{"a":[[[[[[[[[[1]]]]]]]]]]}`, `{"a":tru}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, ok := parsePayload(in)
		if !ok {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(in))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil || want == nil {
			t.Fatalf("parsePayload accepted %q, encoding/json does not: %v", in, err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			t.Fatalf("parsePayload accepted %q with trailing data", in)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parsePayload(%q) = %#v, encoding/json gives %#v", in, got, want)
		}
	})
}

// FuzzEncodeDetails: encodeState writes a visit's fee details byte for
// byte as json.Marshal does, and objectKeys reads their names in one pass.
//
//	go test ./plugins/workinjury/adapter -run '^$' -fuzz FuzzEncodeDetails -fuzztime 30s
func FuzzEncodeDetails(f *testing.F) {
	f.Add("D00000001", "20.00", "15.00", "5.00", false, "D00000002", true)
	f.Add("D<1>", "1&2", "", "\"", true, "", false)
	f.Add("明细1", "20.00", "15.00", "5.00", false, "\x7f", true)
	f.Fuzz(func(t *testing.T, k1, a, fund, self string, r bool, k2 string, r2 bool) {
		d := visitDetails{k1: {Amount: a, Fund: fund, Self: self, Revoked: r}, k2: {Amount: self, Fund: a, Self: fund, Revoked: r2}}
		got, err := encodeState(d)
		want, werr := json.Marshal(d)
		if err != nil || werr != nil || !bytes.Equal(got, want) {
			t.Fatalf("encodeState %s (%v), json.Marshal %s (%v)", got, err, want, werr)
		}
	})
}

// TestEncodeDetailsOnePass: 500 lines of plain details take the path
// without reflection and come out as json.Marshal writes them.
func TestEncodeDetailsOnePass(t *testing.T) {
	t.Parallel()
	d := visitDetails{}
	for i := range 500 {
		d[fmt.Sprintf("D%08d", i)] = detailState{Amount: "20.00", Fund: "15.00", Self: "5.00", Revoked: i%7 == 0}
	}
	if _, ok := appendDetails(nil, d); !ok {
		t.Fatal("plain details did not take the path without reflection")
	}
	got, _ := encodeState(d)
	want, _ := json.Marshal(d)
	if !bytes.Equal(got, want) {
		t.Fatalf("encodeState differs from json.Marshal:\n%s\n%s", got, want)
	}
	n := 0
	if !objectKeys(got, func([]byte) { n++ }) || n != 500 {
		t.Fatalf("objectKeys read %d names", n)
	}
	for _, v := range []any{visitDetails(nil), visitDetails{}, sentRecord{Code: "GYU102"}} {
		got, _ := encodeState(v)
		want, _ := json.Marshal(v)
		if !bytes.Equal(got, want) {
			t.Fatalf("encodeState(%#v) = %s, json.Marshal %s", v, got, want)
		}
	}
}
