package adapter

import (
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestAdmissionRevokedTwiceSaysItTookEffect: an admission revocation
// (GYR002) of a visit whose admission is already revoked – most often
// the same revocation sent again under a new message id, by a second
// clerk or a platform that lost the reply – is refused saying there is
// nothing left to revoke and that the revocation took effect, and not,
// as before, "admit the patient again with GYU101", which would have the
// clerk undo the revocation. A fee upload (GYU102) to the revoked visit
// keeps that advice: there it fits.
func TestAdmissionRevokedTwiceSaysItTookEffect(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v := c.admit("ZY0992")
	gyr002 := map[string]any{"ykc700": v, "revoke_reason": "登记有误", "revoke_time": stampT(admitDay.Add(3 * time.Hour)), "aae011": "王五"}
	c.mustOK(c.send("GYR002", gyr002))
	tests := []struct {
		name, code string
		in         map[string]any
		want, not  string
	}{
		{"the revocation again", "GYR002", gyr002, "nothing left to revoke", "was revoked: admit the patient again"},
		{"fee lines to the revoked visit", "GYU102", fees(v, "ZY0992", line("0001", "1", "1", "0")), "admit the patient again with GYU101", "nothing left to revoke"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(c.sim.Received(tc.code))
			r := c.send(tc.code, tc.in)
			if r.Status != sdk.StatusInvalid || !hasField(r, "$.ykc700", "state") {
				t.Fatalf("status %s %v, want invalid at $.ykc700", r.Status, fields(r))
			}
			var msg string
			for _, d := range r.Diagnostics {
				if d.Field == "$.ykc700" {
					msg = d.Message()
				}
			}
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, tc.not) {
				t.Errorf("refusal %q: want it to say %q and not %q", msg, tc.want, tc.not)
			}
			if n := len(c.sim.Received(tc.code)); n != before {
				t.Fatalf("%s reached the national system although invalid", tc.code)
			}
		})
	}
}

// TestSettlementRevokedTwiceSaysItTookEffect: a settlement revocation
// (GYR003) of a settlement already revoked is refused saying the
// revocation took effect and not to revoke the stay's new settlement in
// its place; before, it said to give a settlement number that is not
// revoked, which after the stay was settled again is the right one. A
// deduction (GYU004) on the revoked settlement keeps that advice.
func TestSettlementRevokedTwiceSaysItTookEffect(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v, s := c.settle("ZY0993")
	gyr003 := map[string]any{"settle_no": s, "ykc700": v, "akb020": hospital, "revoke_reason": "结算有误", "revoke_time": revokeT(100), "aae011": "王五"}
	c.mustOK(c.send("GYR003", gyr003))
	tests := []struct {
		name, code, field string
		in                map[string]any
		want, not         string
	}{
		{"the revocation again", "GYR003", "$.settle_no", gyr003, "nothing left to revoke", "that is not revoked"},
		{"a deduction of the revoked settlement", "GYU004", "$.deductions[0].settle_no", deductions(deduction("KK0993", s, "1.00")), "that is not revoked", "nothing left to revoke"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(c.sim.Received(tc.code))
			r := c.send(tc.code, tc.in)
			if r.Status != sdk.StatusInvalid || !hasField(r, tc.field, "state") {
				t.Fatalf("status %s %v, want invalid at %s", r.Status, fields(r), tc.field)
			}
			var msg string
			for _, d := range r.Diagnostics {
				if d.Field == tc.field {
					msg = d.Message()
				}
			}
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, tc.not) {
				t.Errorf("refusal %q: want it to say %q and not %q", msg, tc.want, tc.not)
			}
			if n := len(c.sim.Received(tc.code)); n != before {
				t.Fatalf("%s reached the national system although invalid", tc.code)
			}
		})
	}
}

// TestDeductionResentSaysNotToRenumber: a deduction (GYU004) whose
// deduct_no is already uploaded – most often the same deduction sent
// again under a new message id – is refused naming the deduction as
// uploaded (settlement, amount, time) and saying not to send it again
// under a new number, which would deduct it twice. Before, it said only
// "every deduction has its own number", which reads as "renumber it".
func TestDeductionResentSaysNotToRenumber(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	_, s := c.settle("ZY0994")
	in := deductions(deduction("KK0994", s, "1.25"))
	c.mustOK(c.send("GYU004", in))
	before := len(c.sim.Received("GYU004"))
	r := c.send("GYU004", in)
	if r.Status != sdk.StatusInvalid || !hasField(r, "$.deductions[0].deduct_no", "unique") {
		t.Fatalf("status %s %v, want invalid at $.deductions[0].deduct_no", r.Status, fields(r))
	}
	var msg string
	for _, d := range r.Diagnostics {
		if d.Field == "$.deductions[0].deduct_no" {
			msg = d.Message()
		}
	}
	for _, want := range []string{s, "1.25", "do not send it again under a new deduct_no", "不要换新编号重发"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal %q does not say %q", msg, want)
		}
	}
	if n := len(c.sim.Received("GYU004")); n != before {
		t.Fatalf("GYU004 reached the national system although invalid")
	}
}

// TestFeeLineResentSaysItIsUploaded: a fee upload (GYU102) of a line
// whose detail_no is a valid line of the stay already – most often the
// same upload sent again under a new message id – is refused saying that
// the same line sent again is uploaded and nothing is to be done, beside
// how a wrong line is corrected (GYR001, then upload again); before, it
// gave only the correction, so a clerk revoked and re-uploaded a line that
// was right.
func TestFeeLineResentSaysItIsUploaded(t *testing.T) {
	t.Parallel()
	c := newChain(t)
	v := c.admit("ZY0995")
	in := fees(v, "ZY0995", line("0001", "10.00", "2", "5.00"))
	c.mustOK(c.send("GYU102", in))
	r := c.send("GYU102", in)
	if r.Status != sdk.StatusInvalid || !hasField(r, "$.fee[0].detail_no", "unique") {
		t.Fatalf("status %s %v, want invalid at $.fee[0].detail_no", r.Status, fields(r))
	}
	var msg string
	for _, d := range r.Diagnostics {
		if d.Field == "$.fee[0].detail_no" {
			msg = d.Message()
		}
	}
	for _, want := range []string{"same line sent again", "uploaded already and nothing is to be done", "GYR001", "无需任何操作"} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal %q does not say %q", msg, want)
		}
	}
}
