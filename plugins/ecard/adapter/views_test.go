package adapter

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// consolePayload builds the payload the console sends for form f when the
// operator types typed (field name → text) and leaves the other fields as
// the page shows them: the page fills an empty field with its declared
// Default, a field still empty is left out, and Fixed is sent as it is
// (host/internal/console, formPage and formValue).
func consolePayload(tb testing.TB, f sdk.Form, typed map[string]string) map[string]any {
	tb.Helper()
	payload := map[string]any{}
	for k, v := range f.Fixed {
		payload[k] = v
	}
	for _, fl := range f.Fields {
		v := strings.TrimSpace(typed[fl.Name])
		if v == "" {
			v = fl.Default
		}
		if v == "" {
			if fl.Required {
				tb.Fatalf("form %s: required field %s left empty", f.Name, fl.Name)
			}
			continue
		}
		payload[fl.Name] = v
	}
	return payload
}

// TestConsoleFormsKeepSiteValidity: a QR code printed from the console's
// cashier desk or print page, the validity field left as the page shows
// it, is valid for the site's qrValidity, not for a validity the form
// declares for every site.
func TestConsoleFormsKeepSiteValidity(t *testing.T) {
	t.Parallel()
	s := testSettings()
	s[setQRValidity] = "24h"
	e := newEnv(t, s)
	d, err := e.p.Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string]sdk.Form{}
	for _, f := range d.Forms {
		forms[f.Name] = f
	}
	cardNo := e.register(person(1)).CardNo
	testCases := map[string]struct {
		form  string
		typed map[string]string
	}{
		"cashier desk": {form: FormDesk, typed: zhang()},
		"print page":   {form: FormPrint, typed: map[string]string{"cardNo": cardNo}},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			f, ok := forms[tc.form]
			if !ok {
				t.Fatalf("no form %q declared", tc.form)
			}
			var q qrReply
			e.ok(f.Operation, consolePayload(t, f, tc.typed), &q)
			if want := testT0.Add(24 * time.Hour); !q.ExpiresAt.Equal(want) {
				t.Errorf("%s: code expires at %s, want %s (the site's qrValidity 24h)", tc.form, q.ExpiresAt, want)
			}
		})
	}
}

// TestWorkListColumnsFilled: every column the recent-cards work list
// declares is a field of its items, for a revoked newborn's card (which
// has every optional field), so no column stays blank in the console.
func TestWorkListColumnsFilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo := e.registerAny(newbornOf("李梅之女", "2", 1)).CardNo
	e.clock.Set(testT0.Add(time.Minute))
	e.ok(OpRevoke, map[string]string{"cardNo": cardNo, "reason": "child registered with own ID"}, nil)
	var got struct{ Items []map[string]any }
	e.ok(OpCardsList, map[string]any{}, &got)
	if len(got.Items) != 1 {
		t.Fatalf("items %v, want the one card", got.Items)
	}
	item := got.Items[0]
	if item["revokedAt"] != testT0.Add(time.Minute).Format(time.RFC3339) {
		t.Errorf("revokedAt = %v, want %s", item["revokedAt"], testT0.Add(time.Minute).Format(time.RFC3339))
	}
	for _, v := range workListViews() {
		if v.List != WorkListRecent {
			continue
		}
		for _, c := range v.Columns {
			if _, ok := item[c.Field]; !ok {
				t.Errorf("column %s (%s) is not a field of the work-list item %v", c.Field, c.Title, item)
			}
		}
	}
}

// TestScanResultCodesDeclared: the scan page shows the cashier the
// result's meaning in Chinese, not a bare code: the scan form's result
// column declares every result a scan replies (sdk.Column.Codes), and the
// card status column both statuses, each meaning leading in Chinese.
func TestScanResultCodesDeclared(t *testing.T) {
	t.Parallel()
	d, err := New().Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string]sdk.Column{}
	for _, f := range d.Forms {
		if f.Name == FormScan {
			for _, c := range f.Result.Fields {
				cols[c.Field] = c
			}
		}
	}
	tests := map[string]struct {
		field string
		codes []string
	}{
		"result": {"result", []string{ResultOK, ResultTemporaryCard, ResultExpired, ResultNotYetValid, ResultTampered, ResultRevoked,
			ResultNotECard, ResultUnknownCard, ResultOtherSite, ResultOldFormat}},
		"card status": {"status", []string{statusLive, statusDead}},
	}
	han := func(r rune) bool { return unicode.Is(unicode.Han, r) }
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			col, ok := cols[tc.field]
			if !ok {
				t.Fatalf("the scan form shows no field %q", tc.field)
			}
			for _, code := range tc.codes {
				m := col.Codes[code]
				if r := []rune(strings.TrimSpace(m)); len(r) == 0 || !han(r[0]) {
					t.Errorf("scan %s %q: meaning %q, want a text leading in Chinese", tc.field, code, m)
				}
			}
		})
	}
}

// TestIDTypeCodesDeclared: the recent-cards work list shows the meaning of
// a card's idType, not a bare 01 or 03: every ID type a registration
// accepts (asked of the identity check for each two-digit code) has a
// meaning in the idType column, leading in Chinese, and no meaning is
// declared for a type that is refused.
func TestIDTypeCodesDeclared(t *testing.T) {
	t.Parallel()
	d, err := New().Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var col *sdk.Column
	for _, v := range d.WorkListViews {
		for i, c := range v.Columns {
			if v.List == WorkListRecent && c.Field == "idType" {
				col = &v.Columns[i]
			}
		}
	}
	if col == nil {
		t.Fatal("the recent-cards work list has no idType column")
	}
	han := func(r rune) bool { return unicode.Is(unicode.Han, r) }
	accepted := 0
	for n := range 100 {
		code := fmt.Sprintf("%02d", n)
		refused := false
		for _, fe := range card.ValidateIdentity(card.Identity{IDType: code}) {
			refused = refused || (fe.Field == "$.idType" && fe.Rule == "id_type")
		}
		m, declared := col.Codes[code]
		switch {
		case refused && declared:
			t.Errorf("idType %s is refused by registration but declared as %q", code, m)
		case !refused:
			accepted++
			if r := []rune(strings.TrimSpace(m)); len(r) == 0 || !han(r[0]) {
				t.Errorf("idType %s is accepted; its meaning is %q, want a text leading in Chinese", code, m)
			}
		}
	}
	if accepted == 0 {
		t.Fatal("no ID type is accepted: the identity check is not asked right")
	}
}
