package workinjury

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/smenvelope"
)

// callRefused sends a transaction that must be refused and returns the
// code and message of the refusal.
func (c *client) callRefused(code string, input map[string]any) (string, string) {
	c.t.Helper()
	c.n++
	plain, _ := json.Marshal(input)
	env, err := smenvelope.Seal(c.opts, c.keys, map[string]string{"infno": code, "msgid": fmt.Sprintf("T%08d", c.n)}, plain)
	if err != nil {
		c.t.Fatal(err)
	}
	body, _ := json.Marshal(env)
	rec := httptest.NewRecorder()
	c.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
	_, _, err = smenvelope.Open(c.opts, c.keys, rec.Body.Bytes())
	var be *smenvelope.BusinessError
	if !errors.As(err, &be) {
		c.t.Fatalf("%s was not refused (HTTP %d, %v)", code, rec.Code, err)
	}
	return be.Code, be.Message
}

// A monthly settlement whose header is the sum of its own items, one of
// which has the wrong amount (or is missing), is refused with the record
// that differs named, its amount and the ledger's – not only with the
// header sum that follows from it, which tells the institution nothing
// about where to look. A header wrong by itself is refused with both sums.
func TestMonthRefusalNamesTheRecord(t *testing.T) {
	t.Parallel()
	items := func(in map[string]any) []any { return in["items"].([]any) }
	tests := map[string]struct {
		change func(m april, in map[string]any)
		// want are the texts the refusal must show.
		want func(m april) []string
	}{
		"a deduction's amount off, the header summed from the items": {change: func(m april, in map[string]any) {
			items(in)[5].(map[string]any)["amount"] = json.Number("5.01")
			in["deduct_amount"], in["month_fund_pay"] = json.Number("7.01"), json.Number("39.99")
		}, want: func(april) []string { return []string{"K1", "5.01", "5.00"} }},
		"a settlement's fund off, the header summed from the items": {change: func(m april, in map[string]any) {
			items(in)[0].(map[string]any)["amount"] = json.Number("45.10")
			in["fund_pay"], in["month_fund_pay"] = json.Number("90.10"), json.Number("40.10")
		}, want: func(m april) []string { return []string{m.a, "45.10", "45.00"} }},
		"a deduction revocation left out, the header summed from the items": {change: func(m april, in map[string]any) {
			in["items"] = items(in)[:7]
			in["deduct_revoke_amount"], in["month_fund_pay"] = json.Number("0.00"), json.Number("38.00")
		}, want: func(april) []string { return []string{"类型 4", "K2"} }},
		"the header alone off": {change: func(m april, in map[string]any) {
			in["self_pay"] = json.Number("30.01")
		}, want: func(april) []string { return []string{"self_pay", "30.01", "30.00"} }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := newApril(t)
			in := m.input()
			tc.change(m, in)
			code, msg := m.c.callRefused("GYU003", in)
			if code != "E8006" {
				t.Fatalf("GYU003 refused with %s (%s), want E8006", code, msg)
			}
			for _, w := range tc.want(m) {
				if !strings.Contains(msg, w) {
					t.Fatalf("the refusal %q does not show %q", msg, w)
				}
			}
		})
	}
}
