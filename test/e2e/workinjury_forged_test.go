package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/smenvelope"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// forger sits on the network between the adapter and the national system
// and rewrites the response envelope's code and message, which the
// default signature (over the business data) does not cover.
type forger struct {
	mu     sync.Mutex
	code   string // the transaction whose answers are forged; "" none
	to     string // the forged response code
	forged int
}

func (f *forger) forge(code, to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.code, f.to, f.forged = code, to, 0
}

func (f *forger) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.forged
}

func (f *forger) wrap(next http.Handler) http.Handler {
	names := smenvelope.Defaults().Fields
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var env map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		f.mu.Lock()
		if rec.Code == http.StatusOK && dec.Decode(&env) == nil && f.code != "" && env[names.TxCode] == f.code {
			env[names.Code], env[names.Message] = f.to, "forged on the network"
			body, _ = json.Marshal(env)
			f.forged++
		}
		f.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// TestWorkInjuryForgedResponseCodes puts a forger between the plugin and
// the national system: with the default settings the signature covers the
// business data only, so a response code decides nothing. A success turned
// into an error is confirmed as a success by GYD053 (and booked once); an
// error turned into a success is found out by GYD053 and rejected with the
// national system's own signed code (and nothing booked).
func TestWorkInjuryForgedResponseCodes(t *testing.T) {
	t.Parallel()
	f := &forger{}
	e := startHISBehind(t, f.wrap)
	const akb020 = "H35020300123"
	p := e.newPatient(hisSite, "FORGE", 12, akb020, "1", "1")
	admitted := time.Now().Add(-time.Hour).Truncate(time.Second)

	// Success → forged error: still ok, booked once.
	f.forge("GYU101", "E9001")
	r := e.one(p.inpatientNo, e.hl7(e.id("forged-admit"), "GYU101", admitHL7(p, admitted)))
	ykc700, _ := expect(t, r, "ok")["ykc700"].(string)
	if f.count() == 0 {
		t.Fatal("the forger never touched a GYU101 answer; the test proves nothing")
	}
	if adm := e.sim.Admissions(akb020, p.inpatientNo); len(adm) != 1 || adm[0].VisitNo != ykc700 {
		t.Fatalf("national admissions %+v, want exactly one, %s", adm, ykc700)
	}
	if !e.sim.Seen(func(q wisim.Request) bool { return q.Code == "GYD053" && q.Input["orig_code"] == "GYU101" }) {
		t.Error("no GYD053 asked about the forged GYU101 answer")
	}

	// Signed refusal → forged success: rejected with the national code.
	f.forge("GYU102", smenvelope.Defaults().SuccessCodes[0])
	e.sim.Inject(wisim.Fault{Code: "GYU102", Kind: wisim.FaultBusiness, ErrCode: "E6199", ErrMessage: "模拟拒绝"})
	r = e.one(p.inpatientNo, e.hl7(e.id("forged-fees"), "GYU102", chargesHL7(p, ykc700, time.Now(), feeLines(p, admitted.Add(time.Minute), 1, 5))))
	if r.Status != "rejected" || r.External == nil || r.External.Code != "E6199" {
		t.Fatalf("a refusal forged into a success: status %s, external %+v, want rejected with E6199", r.Status, r.External)
	}
	if f.count() == 0 {
		t.Fatal("the forger never touched a GYU102 answer; the test proves nothing")
	}
	if d := e.sim.Details(ykc700); len(d) != 0 {
		t.Fatalf("national fee lines %d, want none", len(d))
	}
	f.forge("", "")

	// The same lines, sent again without forgery, are accepted once.
	r = e.one(p.inpatientNo, e.hl7(e.id("fees-again"), "GYU102", chargesHL7(p, ykc700, time.Now(), feeLines(p, admitted.Add(time.Minute), 1, 5))))
	expect(t, r, "ok")
	if d := e.sim.Details(ykc700); len(d) != 5 {
		t.Fatalf("national fee lines %d, want 5", len(d))
	}
}
