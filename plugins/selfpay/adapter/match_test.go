package adapter

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

func TestSameMasked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		answer, sent string
		want         bool
	}{
		{"张三", "张三", true},
		{"张*", "张三", true},
		{"张*", "张三丰", true},
		{"张**", "张三丰", true},
		{"*三", "张三", true},
		{"张*丰", "张三丰", true},
		{"**", "张三", true},
		{"欧阳*", "欧阳娜娜", true},
		{"350***********1234", testCert, true},
		{"张＊", "张三", true},
		{"张*", "李三", false},
		{"张*", "张", false}, // the mask stands for at least one character
		{"*四", "张三", false},
		{"张*丰", "张三峰", false},
		{"张三", "张四", false},
		{"", "张三", false},
		{"350***********9999", testCert, false},
		{"a.c*", "abcd", false}, // literal characters are not patterns
	}
	for _, tc := range cases {
		if got := sameMasked(tc.answer, tc.sent); got != tc.want {
			t.Errorf("sameMasked(%q, %q) = %v, want %v", tc.answer, tc.sent, got, tc.want)
		}
	}
}

func TestSameValueTimes(t *testing.T) {
	t.Parallel()
	const sent = "2025-03-25 10:00:30"
	cases := []struct {
		answer string
		want   bool
	}{
		{"2025-03-25 10:00:30", true},
		{"2025-03-25 10:00", true}, // seconds dropped
		{"2025/03/25 10:00:30", true},
		{"2025/3/25 10:00", true},
		{"2025-03-25T10:00:30", true},
		{"2025-03-25T02:00:30Z", true}, // the same moment in UTC
		{"20250325100030", true},
		{"202503251000", true},
		{"2025-03-25 10:00:30.0", true},
		{"2025-03-25 10:00:31", false}, // both write seconds: they differ
		{"2025-03-25 10:01", false},
		{"2025-03-25 11:00:30", false},
		{"2025-03-26 10:00:30", false},
		{"2025-03-25", false}, // a date is midnight
		{"20250325100031", false},
	}
	for _, tc := range cases {
		if got := sameValue(tc.answer, sent); got != tc.want {
			t.Errorf("sameValue(%q, %q) = %v, want %v", tc.answer, sent, got, tc.want)
		}
	}
	// Dates: a date agrees with the same date at midnight, whatever the layout.
	for a, want := range map[string]bool{"2025/03/25": true, "20250325": true, "2025-03-25 00:00": true, "2025-03-24": false} {
		if got := sameValue(a, "2025-03-25"); got != want {
			t.Errorf("sameValue(%q, 2025-03-25) = %v, want %v", a, got, want)
		}
	}
	// Numbers are not read as compact dates.
	if sameValue("202503251000", "20250325100000") {
		t.Error("two different numbers compared as times")
	}
}

// visitRec is the 4208 record of visit(id, n) as the simulator answers it.
func visitRec(id string, n int) map[string]any {
	rec := map[string]any{"fixmedinsCode": testCode}
	for k, v := range visit(id, n) {
		rec[camelName(k)] = v
	}
	return rec
}

// TestSameVisitMaskedAndReformatted: a 4208 record of the visit sent,
// answered with the name and ID number masked or the times in another
// layout, is the visit; a record of another visit, or of the visit as an
// earlier upload left it, is not.
func TestSameVisitMaskedAndReformatted(t *testing.T) {
	t.Parallel()
	sent := visit("ZYM", 2)
	cases := map[string]struct {
		edit func(map[string]any)
		want bool
	}{
		"as sent":                  {func(map[string]any) {}, true},
		"name masked":              {func(r map[string]any) { r["psnName"] = "张*" }, true},
		"name and ID masked":       {func(r map[string]any) { r["psnName"], r["certno"] = "*三", "350***********1234" }, true},
		"seconds dropped":          {func(r map[string]any) { r["begntime"], r["endtime"] = "2025-03-25 10:00", "2025-04-01 09:00" }, true},
		"slashes":                  {func(r map[string]any) { r["begntime"], r["endtime"] = "2025/03/25 10:00:00", "2025/04/01 09:00:00" }, true},
		"compact":                  {func(r map[string]any) { r["begntime"], r["endtime"] = "20250325100000", "20250401090000" }, true},
		"masked name of another":   {func(r map[string]any) { r["psnName"] = "李*" }, false},
		"another admission minute": {func(r map[string]any) { r["begntime"] = "2025-03-25 10:01" }, false},
		"another discharge":        {func(r map[string]any) { r["endtime"] = "2025/04/02 09:00:00" }, false},
		"another total":            {func(r map[string]any) { r["medfeeSumamt"] = "33.00" }, false},
		"another medical type":     {func(r map[string]any) { r["medType"] = "22" }, false},
	}
	for name, tc := range cases {
		rec := visitRec("ZYM", 2)
		tc.edit(rec)
		if got := sameVisit(rec, sent, nil); got != tc.want {
			t.Errorf("%s: sameVisit = %v, want %v", name, got, tc.want)
		}
	}
}

// TestVisitKey: a 4208 record without a visit id is the visit when its
// ID number (masked or not), begntime (to the minute) and total agree.
func TestVisitKey(t *testing.T) {
	t.Parallel()
	k := &visitKey{certno: testCert, begntime: "2025-03-25 10:00:30", amount: "22.00"}
	cases := map[string]struct {
		rec  map[string]any
		want bool
	}{
		"same":                {map[string]any{"certno": testCert, "begntime": "2025-03-25 10:00:30", "medfeeSumamt": "22"}, true},
		"masked, minute only": {map[string]any{"certno": "350***********1234", "begntime": "2025/03/25 10:00", "medfeeSumamt": 22.0}, true},
		"another minute":      {map[string]any{"certno": testCert, "begntime": "2025-03-25 10:01:30", "medfeeSumamt": "22"}, false},
		"another total":       {map[string]any{"certno": testCert, "begntime": "2025-03-25 10:00:30", "medfeeSumamt": "22.01"}, false},
		"another person":      {map[string]any{"certno": "350***********9999", "begntime": "2025-03-25 10:00:30", "medfeeSumamt": "22"}, false},
		"no begntime":         {map[string]any{"certno": testCert, "medfeeSumamt": "22"}, false},
	}
	for name, tc := range cases {
		if got := k.matches(tc.rec); got != tc.want {
			t.Errorf("%s: matches = %v, want %v", name, got, tc.want)
		}
	}
	if (*visitKey)(nil).matches(cases["same"].rec) {
		t.Error("a nil key matched")
	}
}

// reshaped4208 serves the simulator with edit applied to every record of
// its 4208 answers, as a platform masking or reformatting them would.
func reshaped4208(edit func(map[string]any)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				Infno string `json:"infno"`
			}
			if json.Unmarshal(body, &req) != nil || req.Infno != "4208" {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var env map[string]any
			if json.Unmarshal(rec.Body.Bytes(), &env) == nil {
				if out, ok := env["output"].(map[string]any); ok {
					for _, it := range asList(out["data"]) {
						if m, ok := it.(map[string]any); ok {
							edit(m)
						}
					}
				}
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_ = json.NewEncoder(w).Encode(env)
		})
	}
}

// TestLost4202ReconciledWithMaskedAnswers: a 4202 applied whose answer
// was lost is reconciled with 4208; a platform that masks names, drops
// the seconds, writes times its own way or leaves the visit id out of
// its answers made it look absent, and it was sent again (a second visit
// at the platform). It is now found and not resent; a visit it does not
// hold is still sent again, not taken for another visit of the patient.
func TestLost4202ReconciledWithMaskedAnswers(t *testing.T) {
	t.Parallel()
	mask := func(m map[string]any) {
		if n, ok := m["psnName"].(string); ok && n != "" {
			m["psnName"] = string([]rune(n)[:1]) + "*"
		}
		if c, ok := m["certno"].(string); ok && len(c) > 7 {
			m["certno"] = c[:3] + strings.Repeat("*", len(c)-7) + c[len(c)-4:]
		}
	}
	minutes := func(m map[string]any) {
		for _, k := range []string{"begntime", "endtime"} {
			if s, ok := m[k].(string); ok && len(s) == 19 {
				m[k] = strings.ReplaceAll(s[:16], "-", "/")
			}
		}
	}
	noID := func(m map[string]any) { delete(m, "fixmedinsMdtrtId") }
	cases := map[string]struct {
		edit func(map[string]any)
		mode string // the fault of the 4202
	}{
		"name and ID masked":                  {mask, selfpaysim.FaultLostReply},
		"times without seconds, slashes":      {minutes, selfpaysim.FaultLostReply},
		"masked, reformatted, no visit id":    {func(m map[string]any) { mask(m); minutes(m); noID(m) }, selfpaysim.FaultLostReply},
		"not applied, another visit on file":  {func(m map[string]any) { mask(m); minutes(m); noID(m) }, selfpaysim.FaultDrop},
		"not applied, masked, with visit ids": {func(m map[string]any) { mask(m); minutes(m) }, selfpaysim.FaultDrop},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, reshaped4208(tc.edit), nil)
			// An earlier visit of the same patient, complete on the platform.
			wantStatus(t, e.must(OpUpload, "earlier", upload("ZYE", 3), 1), sdk.StatusOK)
			const id = "ZYMASK"
			p := upload(id, 2)
			p[nodeMdtrt].(map[string]any)["begntime"] = "2025-03-27 08:15:00"
			e.sim.Fail(selfpaysim.Fault{Infno: "4202", Mode: tc.mode})
			wantStatus(t, e.must(OpUpload, "mask", p, 1), sdk.StatusFailed)
			r := e.must(OpUpload, "mask", p, 2)
			wantStatus(t, r, sdk.StatusOK)
			if n := e.sim.Count("4202", id); n != 1 {
				t.Errorf("4202 applied %d times, want once", n)
			}
			if v := e.sim.Visit(testCode, id); !v.Complete || len(v.Fees) != 2 {
				t.Errorf("platform has %+v", v)
			}
			if reconciled := payloadOf(t, r)["reconciled"] == true; reconciled != (tc.mode == selfpaysim.FaultLostReply) {
				t.Errorf("reconciled %v with the 4202 %s: %s", reconciled, tc.mode, r.Payload)
			}
		})
	}
}
