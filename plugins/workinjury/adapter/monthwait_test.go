package adapter

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestMonthWaitsForUnknownOutcomes: a monthly settlement (GYU003) does not
// go out while an upload that may be a record of the institution's month
// has no known outcome (its answer was lost): its items would be built on a
// picture the national system may not share. It fails retryably, not
// invalid, since the condition resolves by itself, and as a deliberate wait
// (sdk.Wait), so that the host does not take it for trouble of the
// national system and open the site's circuit. Once the upload is
// reconciled (GYD053) or refused, the GYU003 goes.
func TestMonthWaitsForUnknownOutcomes(t *testing.T) {
	t.Parallel()
	lost := func(c *chain, code string) {
		c.sim.Inject(wisim.Fault{Code: code, Kind: wisim.FaultLostReply})
	}
	// send sends a message whose answer is lost and returns its id.
	sendLost := func(c *chain, id, code string, in map[string]any) string {
		lost(c, code)
		if r := c.handle(id, code, in, false); r.Status != sdk.StatusFailed || !r.Retryable || r.Waiting {
			c.t.Fatalf("%s with its answer lost: %s (waiting %v) %s, want failed and retryable, no wait (the national system did not answer)", code, r.Status, r.Waiting, r.Diagnostics)
		}
		return id
	}
	june := func(d map[string]any) map[string]any {
		d["deduct_time"] = stampT(admitDay.Add(40 * 24 * time.Hour))
		return d
	}
	const rule = "rule month-outcomes-known"
	runRuleCases(t, map[string]ruleCase{
		"a deduction without a known outcome": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			sendLost(c, "ded-1", "GYU004", deductions(deduction("KK0601", s, "2.50")))
			return c.monthly(hospital, "202505")
		}, wait: true, field: "$.settle_month", rule: rule},
		"a deduction whose message id has slashes, without a known outcome": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			sendLost(c, "his/2025/ded-1", "GYU004", deductions(deduction("KK0601", s, "2.50")))
			return c.monthly(hospital, "202505")
		}, wait: true, field: "$.settle_month", rule: rule},
		"the deduction reconciled": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			in := deductions(deduction("KK0601", s, "2.50"))
			sendLost(c, "ded-1", "GYU004", in)
			c.mustOK(c.handle("ded-1", "GYU004", in, true))
			return c.monthly(hospital, "202505")
		}, ok: true},
		"a deduction refused": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			c.sim.Inject(wisim.Fault{Code: "GYU004", Kind: wisim.FaultBusiness, ErrCode: "E8002", ErrMessage: "扣款金额有误"})
			if r := c.send("GYU004", deductions(deduction("KK0601", s, "2.50"))); r.Status != sdk.StatusRejected {
				c.t.Fatalf("GYU004: %s, want rejected", r.Status)
			}
			return c.monthly(hospital, "202505")
		}, ok: true},
		"a deduction of another month without a known outcome": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			sendLost(c, "ded-1", "GYU004", deductions(june(deduction("KK0601", s, "2.50"))))
			return c.monthly(hospital, "202505")
		}, ok: true},
		"a settlement without a known outcome": {code: "GYU003", prepare: func(c *chain) map[string]any {
			c.settle("ZY0601")
			v, lines := c.stay("ZY0602")
			sendLost(c, "set-2", "GYU103", c.settlementOf(v, "ZY0602", lines))
			return c.monthly(hospital, "202505")
		}, wait: true, field: "$.settle_month", rule: rule},
		"a settlement revocation without a known outcome": {code: "GYU003", prepare: func(c *chain) map[string]any {
			c.settle("ZY0601")
			v, s := c.settle("ZY0602")
			sendLost(c, "rev-2", "GYR003", map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误",
				"revoke_time": revokeT(100), "aae011": "王五"})
			return c.monthly(hospital, "202505")
		}, wait: true, field: "$.settle_month", rule: rule},
		"a deduction revocation without a known outcome": {code: "GYU003", prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			c.mustOK(c.send("GYU004", deductions(deduction("KK0601", s, "2.50"))))
			sendLost(c, "drev-1", "GYR004", map[string]any{"deductions": []any{map[string]any{"deduct_no": "KK0601"}},
				"revoke_time": stampT(admitDay.Add(11 * 24 * time.Hour)), "aae011": "王五"})
			return c.monthly(hospital, "202505")
		}, wait: true, field: "$.settle_month", rule: rule},
	})
}

// akb020Optional returns a schema overlay (schemaDir) in which akb020 is
// optional in GYU004's deductions and in GYR003, as an official field list
// replacing medgate's reconstructed schemas may have it.
func akb020Optional(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "workinjury"), 0o755); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(- name: akb020\n(?:[ \t]+(?:label|type|maxLength): .*\n)*)([ \t]+required: true\n)`)
	for _, code := range []string{"GYU004", "GYR003"} {
		b, err := fs.ReadFile(schemas.EmbeddedFS(), "workinjury/"+code+".yaml")
		if err != nil {
			t.Fatal(err)
		}
		out := re.ReplaceAll(b, []byte("$1"))
		if string(out) == string(b) {
			t.Fatalf("%s: akb020 is not required in the embedded schema; update this test", code)
		}
		if err := os.WriteFile(filepath.Join(dir, "workinjury", code+".yaml"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestMonthWaitsWithoutTheInstitution: the institution whose month a
// deduction (GYU004) or settlement revocation (GYR003) adds to is the
// settlement's, as the month's index has it, not the akb020 the message
// may carry: an upload without one (a schema overlay where it is optional)
// whose outcome is unknown still holds the month's GYU003 back.
func TestMonthWaitsWithoutTheInstitution(t *testing.T) {
	t.Parallel()
	const rule = "rule month-outcomes-known"
	opts := func() []envOption { return []envOption{withSettings(setSchemaDir, akb020Optional(t))} }
	lost := func(c *chain, id, code string, in map[string]any) {
		c.sim.Inject(wisim.Fault{Code: code, Kind: wisim.FaultLostReply})
		if r := c.handle(id, code, in, false); r.Status != sdk.StatusFailed || !r.Retryable {
			c.t.Fatalf("%s with its answer lost: %s %s, want failed and retryable", code, r.Status, r.Diagnostics)
		}
	}
	runRuleCases(t, map[string]ruleCase{
		"a deduction without akb020": {code: "GYU003", opts: opts(), prepare: func(c *chain) map[string]any {
			_, s := c.settle("ZY0601")
			d := deduction("KK0601", s, "2.50")
			delete(d, "akb020")
			lost(c, "ded-1", "GYU004", deductions(d))
			return c.monthly(hospital, "202505")
		}, wait: true, field: "$.settle_month", rule: rule},
		"a settlement revocation without akb020": {code: "GYU003", opts: opts(), prepare: func(c *chain) map[string]any {
			c.settle("ZY0601")
			v, s := c.settle("ZY0602")
			lost(c, "rev-2", "GYR003", map[string]any{"settle_no": s, "ykc700": v, "revoke_reason": "结算有误",
				"revoke_time": revokeT(100), "aae011": "王五"})
			return c.monthly(hospital, "202505")
		}, wait: true, field: "$.settle_month", rule: rule},
	})
}

// TestMonthWaitResolvesByItself: the hospital's monthly settlement lists a
// deduction whose answer was lost. Its first attempt is a retryable failure
// (not invalid, although the month's records known here lack the
// deduction: they cannot be judged yet), nothing is sent; once the
// deduction is reconciled on its own next attempt, the same message's
// retry goes out, once. An error of the message itself stays final.
func TestMonthWaitResolvesByItself(t *testing.T) {
	t.Parallel()
	withDeduction := func(c *chain, m map[string]any, no, settleNo, amount, at string) map[string]any {
		m["items"] = append(m["items"].([]any), map[string]any{"item_type": itemDeduction, "ref_no": no, "settle_no": settleNo,
			"amount": json.Number(amount), "biz_time": at})
		m["deduct_amount"] = json.Number(money(ratAdd(cents(string(m["deduct_amount"].(json.Number))), cents(amount))))
		m["month_fund_pay"] = json.Number(money(ratSub(cents(string(m["month_fund_pay"].(json.Number))), cents(amount))))
		return m
	}
	t.Run("waits, then goes", func(t *testing.T) {
		t.Parallel()
		c := newChain(t)
		_, s := c.settle("ZY0601")
		d := deduction("KK0601", s, "2.50")
		in := deductions(d)
		c.sim.Inject(wisim.Fault{Code: "GYU004", Kind: wisim.FaultLostReply})
		if r := c.handle("ded-1", "GYU004", in, false); r.Status != sdk.StatusFailed || !r.Retryable {
			t.Fatalf("GYU004 with its answer lost: %s %s, want failed and retryable", r.Status, r.Diagnostics)
		}
		m := withDeduction(c, c.monthly(hospital, "202505"), "KK0601", s, "2.50", d["deduct_time"].(string))
		c.wantWait(t, c.handle("mon-1", "GYU003", m, false), "GYU003", 0, "$.settle_month", "rule month-outcomes-known")
		c.mustOK(c.handle("ded-1", "GYU004", in, true))
		c.mustOK(c.handle("mon-1", "GYU003", m, true))
		if n := len(c.sim.Received("GYU003")); n != 1 {
			t.Fatalf("GYU003 reached the simulator %d times, want 1", n)
		}
	})
	t.Run("an error of its own stays invalid", func(t *testing.T) {
		t.Parallel()
		c := newChain(t)
		_, s := c.settle("ZY0601")
		c.sim.Inject(wisim.Fault{Code: "GYU004", Kind: wisim.FaultLostReply})
		c.handle("ded-1", "GYU004", deductions(deduction("KK0601", s, "2.50")), false)
		m := c.monthly(hospital, "202505")
		m["person_count"] = 7
		c.wantInvalid(t, c.handle("mon-1", "GYU003", m, false), "GYU003", 0, "$.person_count", "rule person-count")
	})
}

// TestMonthWaitRace: an upload of the month (a deduction) checked before a
// GYU003 of the month claimed it, and marked while that GYU003 is between
// its check of the month's marks and its send. Without the month's gate
// both went out; now the GYU003 fails retryably, nothing sent, and the
// deduction, which finds the month claimed after marking itself, waits
// too, nothing sent. The deduction's next attempt goes out; the GYU003's
// next attempt is checked again (its list lacks the deduction: invalid),
// and a corrected one goes out.
func TestMonthWaitRace(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	_, s := c.settle("ZY0601")
	in := deductions(deduction("KK0601", s, "2.50"))
	payload, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	// The deduction runs on its own goroutine: checked and recorded, it
	// waits at "recorded" until the GYU003 has read its month's gate and
	// checked the marks ("monthly-checked"), which waits for the deduction.
	recorded, release := make(chan struct{}), make(chan struct{})
	type result struct {
		r   *sdk.HandleResponse
		err error
	}
	done := make(chan result, 1)
	var mu sync.Mutex
	var atRecorded, atChecked bool
	var raced result
	c.impl.hook = func(p string) error {
		mu.Lock()
		first := (p == "recorded" && !atRecorded) || (p == "monthly-checked" && !atChecked)
		atRecorded = atRecorded || p == "recorded"
		atChecked = atChecked || p == "monthly-checked"
		mu.Unlock()
		switch {
		case first && p == "recorded":
			close(recorded)
			<-release
		case first && p == "monthly-checked":
			close(release)
			res := <-done
			mu.Lock()
			raced = res
			mu.Unlock()
		}
		return nil
	}
	go func() {
		r, err := c.p.Handle(context.Background(), &sdk.HandleRequest{Site: testSite, Type: Name + ".GYU004", MessageID: "ded-1", Key: "ded-1",
			Format: "json", Payload: payload, Attempt: 1, Deadline: time.Now().Add(time.Minute)})
		done <- result{r, err}
	}()
	select {
	case <-recorded:
	case res := <-done:
		t.Fatalf("the deduction finished before it was recorded: %+v %v", res.r, res.err)
	}
	m := c.monthly(hospital, "202505")
	r := c.handle("mon-1", "GYU003", m, false)
	mu.Lock()
	got := raced
	mu.Unlock()
	if got.err != nil || got.r == nil {
		t.Fatalf("the racing GYU004: %+v %v", got.r, got.err)
	}
	c.wantWait(t, got.r, "GYU004", 0, "$.deductions[0].deduct_time", "rule month-not-settled")
	c.wantWait(t, r, "GYU003", 0, "$.settle_month", "rule month-outcomes-known")
	c.impl.hook = nil
	c.mustOK(c.handle("ded-1", "GYU004", in, true))
	// Its list lacks the deduction, now a record of the month: final.
	c.wantInvalid(t, c.handle("mon-1", "GYU003", m, true), "GYU003", 0, "$.items", "rule month-items")
	c.mustOK(c.send("GYU003", c.monthly(hospital, "202505")))
	if n := len(c.sim.Received("GYU003")); n != 1 {
		t.Fatalf("GYU003 reached the simulator %d times, want 1", n)
	}
}
