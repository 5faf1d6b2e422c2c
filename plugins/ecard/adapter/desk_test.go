package adapter

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestDeskRegistersOnceAndLabels: the cashier's desk registers a new
// person and labels the card; the same person again gets the same card
// and a new label; a bad validity registers nobody.
func TestDeskRegistersOnceAndLabels(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	in := map[string]any{"name": "张三丰", "idType": "01", "idNumber": "11010519491231002X", "phone": "13812345678", "validity": "72h"}
	var first deskReply
	e.ok(OpDesk, in, &first)
	if !first.Created || first.CardNo == "" || !strings.HasPrefix(first.Outcome, "新登记") || first.IDTypeName != "居民身份证" {
		t.Fatalf("first desk reply = %+v", first)
	}
	wantLines := []string{first.CardNo, "张*丰", "有效期至 " + first.Label.Expires}
	if strings.Join(first.Label.Lines, "|") != strings.Join(wantLines, "|") || len(first.LabelPNG) == 0 {
		t.Errorf("label lines %q (label PNG %d bytes), want %q", first.Label.Lines, len(first.LabelPNG), wantLines)
	}
	if got := decodeQR(t, first.PNG); got != first.Text {
		t.Errorf("the QR code reads %q, want the sealed text %q", got, first.Text)
	}
	if st, _, out := e.scan(first.Text); st != sdk.StatusOK || out["cardNo"] != first.CardNo {
		t.Errorf("scan of the desk's code: %s %v", st, out)
	}

	var again deskReply
	e.ok(OpDesk, in, &again)
	if again.Created || again.CardNo != first.CardNo || !strings.HasPrefix(again.Outcome, "已有电子卡") {
		t.Errorf("second desk reply = created %v card %s outcome %q; want the same card %s", again.Created, again.CardNo, again.Outcome, first.CardNo)
	}

	bad := map[string]any{"name": "李四", "idType": "01", "idNumber": "110105194912310038", "phone": "13912345678", "validity": "forever"}
	r := e.call(OpDesk, bad)
	if r.Status != sdk.StatusInvalid || len(r.Diagnostics) != 1 || r.Diagnostics[0].Field != "$.validity" {
		t.Fatalf("bad validity: %s %+v", r.Status, r.Diagnostics)
	}
	if keys := e.keysWithPrefix("person/"); len(keys) != 1 {
		t.Errorf("person keys after a refused desk call: %v, want only the first person's", keys)
	}
	if r := e.call(OpDesk, map[string]any{"name": "王五"}); r.Status != sdk.StatusInvalid {
		t.Errorf("incomplete identity: %s, want invalid", r.Status)
	}
}

// TestDeskDecodeErrorPath: a desk payload field of the wrong type is
// reported at its JSON path ($.name), not at a Go-internal one.
func TestDeskDecodeErrorPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	r := e.call(OpDesk, map[string]any{"name": 5})
	if r.Status != sdk.StatusInvalid || len(r.Diagnostics) != 1 || r.Diagnostics[0].Field != "$.name" || r.Diagnostics[0].Rule != "type" {
		t.Fatalf("desk with a number as name: %s %+v, want invalid at $.name rule type", r.Status, r.Diagnostics)
	}
}

// TestDeskBlankValidity: a blank validity is the site's default, as the
// desk's own check treats it; it must not register the person and then be
// refused by the QR step.
func TestDeskBlankValidity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	in := map[string]any{"name": "张三丰", "idType": "01", "idNumber": "11010519491231002X", "phone": "13812345678", "validity": " "}
	r := e.call(OpDesk, in)
	if r.Status != sdk.StatusOK {
		t.Fatalf("desk with a blank validity: %s %+v (person keys %v), want ok with the default validity",
			r.Status, r.Diagnostics, e.keysWithPrefix("person/"))
	}
	var out deskReply
	if err := json.Unmarshal(r.Payload, &out); err != nil {
		t.Fatal(err)
	}
	if want := testT0.Add(72 * time.Hour); !out.ExpiresAt.Equal(want) {
		t.Errorf("expiresAt %s, want the default validity's %s", out.ExpiresAt, want)
	}
}

// TestDeskListsEveryProblem: a desk call with a bad validity and a bad
// identity is refused with every problem at once, not only the validity's.
func TestDeskListsEveryProblem(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	in := map[string]any{"name": "张三丰", "idType": "01", "idNumber": "11010519491231002Y", "phone": "1381234567", "validity": "forever"}
	r := e.call(OpDesk, in)
	fields := map[string]bool{}
	for _, d := range r.Diagnostics {
		fields[d.Field] = true
	}
	if r.Status != sdk.StatusInvalid || !fields["$.validity"] || !fields["$.idNumber"] || !fields["$.phone"] {
		t.Fatalf("desk with bad validity, ID number and phone: %s %+v; want invalid naming all three", r.Status, r.Diagnostics)
	}
	if keys := e.keysWithPrefix("person/"); len(keys) != 0 {
		t.Errorf("person keys after a refused desk call: %v", keys)
	}
}

// TestFormKeysAreNotPersonal: a form's key becomes the message's business
// key, which the host keeps unencrypted (store, Kafka key, console lists)
// while it seals requests and replies; no form may key its messages by a
// name, ID number or phone.
func TestFormKeysAreNotPersonal(t *testing.T) {
	t.Parallel()
	for _, f := range forms() {
		switch f.Key {
		case "name", "idNumber", "phone":
			t.Errorf("form %s keys its messages by the personal field %q", f.Name, f.Key)
		}
	}
}

// TestDeskValidityRuleAsOnPrint: the desk refuses a bad validity "as on
// ecard.qrcode" (README), so an integration that branches on the rule
// sees the same rule from both: type for a text that is not a duration,
// range for a duration outside 1s–2160h.
func TestDeskValidityRuleAsOnPrint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	reg := e.register(zhang())
	tests := map[string]struct {
		validity string
		rule     string
	}{
		"three days in words": {"3 days", "type"},
		"three days in hanzi": {"3天", "type"},
		"a word":              {"forever", "type"},
		"zero":                {"0s", "range"},
		"over 90 days":        {"2161h", "range"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for op, payload := range map[string]map[string]any{
				OpQRCode: {"cardNo": reg.CardNo, "validity": tc.validity},
				OpDesk:   {"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "13812345678", "validity": tc.validity},
			} {
				r := e.call(op, payload)
				var got []diag
				for _, d := range diagsOf(r.Diagnostics) {
					if d.Field == "$.validity" {
						got = append(got, d)
					}
				}
				if want := []diag{{"$.validity", tc.rule, true}}; r.Status != sdk.StatusInvalid || !slices.Equal(got, want) {
					t.Errorf("%s with validity %q: %s %v, want invalid with %v", op, tc.validity, r.Status, got, want)
				}
			}
		})
	}
}
