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
	"github.com/medgate/medgate/plugins/smenvelope"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// withAnswers rewrites the signed data of the simulator's successful
// answers to code with f, sealed again with the simulator's keys: a
// national system whose answers differ from the simulator's.
func withAnswers(code string, f func(answer map[string]any)) envOption {
	return func(c *envConfig) {
		c.wrap = func(next http.Handler, opts smenvelope.Options, kp wisim.KeyPair) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, err := io.ReadAll(r.Body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				out := rec.Body.Bytes()
				if _, qenv, err := smenvelope.Open(opts, kp.SimulatorKeys(), body); err == nil && textOf(qenv[opts.Fields.TxCode]) == code {
					if ab, aenv, err := smenvelope.Open(opts, kp.AdapterKeys(), out); err == nil {
						var answer map[string]any
						if json.Unmarshal(ab, &answer) == nil && answer != nil {
							f(answer)
							nb, _ := json.Marshal(answer)
							env := map[string]string{}
							for k, v := range aenv {
								if k != opts.Fields.Key && k != opts.Fields.Data && k != opts.Fields.Sign {
									env[k] = textOf(v)
								}
							}
							if sealed, err := smenvelope.SealJSON(opts, kp.SimulatorKeys(), env, nb); err == nil {
								out = sealed
							}
						}
					}
				}
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.Header().Del("Content-Length")
				w.WriteHeader(rec.Code)
				_, _ = w.Write(out)
			})
		}
	}
}

// refuseLine0002 turns a GYU102 answer into one that accepts the call but
// refuses its line 0002 (result_flag 0), as GYU102's output allows.
func refuseLine0002(answer map[string]any) {
	results, _ := answer["results"].([]any)
	n := 0
	for _, x := range results {
		r, _ := x.(map[string]any)
		if r["detail_no"] == "0002" {
			r["result_flag"], r["fail_reason"] = "0", "目录编码不存在"
			continue
		}
		n++
	}
	answer["accepted_count"] = n
}

// A GYU102 the national system accepts while refusing some of its lines
// (result_flag 0) uploaded only the others: only they are recorded, so
// the settlement is checked against the lines the national system has, a
// refused line can be sent again, and the reply says which were refused.
func TestFeeLinesRefusedInAnAcceptedCallAreNotRecorded(t *testing.T) {
	t.Parallel()
	for name, lost := range map[string]bool{"answered": false, "reconciled after a lost reply": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, withAnswers("GYU102", refuseLine0002), withGYD053(func(q, a map[string]any) {
				echoQueried(q, a)
				if q["orig_code"] != "GYU102" {
					return
				}
				var o map[string]any
				if s, _ := a["orig_output"].(string); json.Unmarshal([]byte(s), &o) == nil && o != nil {
					refuseLine0002(o)
					b, _ := json.Marshal(o)
					a["orig_output"] = string(b)
				}
			}))
			v := c.admit("ZY0701")
			lines := []map[string]any{line("0001", "10.00", "2", "5.00"), line("0002", "12.5", "3", "0")}
			msg := fees(v, "ZY0701", lines...)
			var r *sdk.HandleResponse
			if lost {
				c.sim.Inject(wisim.Fault{Code: "GYU102", Kind: wisim.FaultLostReply})
				if r = c.handle("m-fees", "GYU102", msg, false); r.Status != sdk.StatusFailed {
					t.Fatalf("lost reply: status %s", r.Status)
				}
				r = c.handle("m-fees", "GYU102", msg, true)
			} else {
				r = c.handle("m-fees", "GYU102", msg, false)
			}
			c.mustOK(r)
			warned := false
			for _, d := range r.Diagnostics {
				warned = warned || (d.Severity == sdk.SeverityWarning && strings.Contains(d.Summary, "0002") && strings.Contains(d.Summary, "目录编码不存在"))
			}
			if !warned {
				t.Errorf("the reply does not warn that line 0002 was refused: %s", r.Diagnostics)
			}
			// The redelivered message gets the same reply.
			if again := c.handle("m-fees", "GYU102", msg, true); len(again.Diagnostics) != len(r.Diagnostics) {
				t.Errorf("redelivered: diagnostics %s, first reply %s", again.Diagnostics, r.Diagnostics)
			}
			h := hostFor(c.host, testSite)
			dm, err := (&lifecycle{a: c.impl, ctx: t.Context(), h: h}).details(v)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := dm["0002"]; ok || dm["0001"].Amount != "20.00" {
				t.Fatalf("recorded lines %+v, want 0001 only", dm)
			}
			// The settlement of the accepted line passes the rules.
			cfg, err := c.impl.site(testSite)
			if err != nil {
				t.Fatal(err)
			}
			doc := c.settlementOf(v, "ZY0701", lines[:1])
			b, _ := json.Marshal(doc)
			dec, _, _ := decodePayload(b)
			ds, err := c.impl.checkRules(t.Context(), h, cfg, "m-settle", "GYU103", dec)
			if err != nil || ds.HasError() {
				t.Fatalf("settlement of the accepted line: %v %s", err, ds)
			}
			// The refused line may be sent again under its number.
			b, _ = json.Marshal(fees(v, "ZY0701", lines[1]))
			dec, _, _ = decodePayload(b)
			if ds, err := c.impl.checkRules(t.Context(), h, cfg, "m-fees-2", "GYU102", dec); err != nil || ds.HasError() {
				t.Fatalf("the refused line sent again: %v %s", err, ds)
			}
		})
	}
}
