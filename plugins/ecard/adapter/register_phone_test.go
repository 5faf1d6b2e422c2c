package adapter

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRegisterInternationalPhone: visitors without a mainland mobile
// number (foreigners, Hong Kong, Macao and Taiwan residents) register with
// an international number in E.164 form when their document is not a
// mainland one; holders of mainland documents keep the mainland rule. A
// mainland mobile written with +86 is stored as its 11 digits, so giving
// it either way is the same phone. Replies, the work list and the journal
// show the number masked.
func TestRegisterInternationalPhone(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		id        map[string]string
		wantRule  string // "" when the registration succeeds
		wantPhone string // the stored phone, masked as ecard.get shows it
	}{
		"passport, Hong Kong number": {
			id:        map[string]string{"name": "Chan Tai Man", "idType": "03", "idNumber": "K12345678", "issuingCountry": "GBR", "phone": "+85291234567"},
			wantPhone: "+85*****4567",
		},
		"home return permit, Macao number": {
			id:        map[string]string{"name": "陈大文", "idType": "06", "idNumber": "M12345678", "phone": "+85366123456"},
			wantPhone: "+85*****3456",
		},
		"Taiwan permit, Taiwan number": {
			id:        map[string]string{"name": "林志明", "idType": "07", "idNumber": "12345678", "phone": "+886912345678"},
			wantPhone: "+88******5678",
		},
		"passport, +86 mainland mobile stored as 11 digits": {
			id:        map[string]string{"name": "John Smith", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "+8613812345678"},
			wantPhone: "138****5678",
		},
		"passport, +86 landline": {
			id:       map[string]string{"name": "John Smith", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "+861062345678"},
			wantRule: "format",
		},
		"resident card, international number": {
			id:       map[string]string{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "+85291234567"},
			wantRule: "format",
		},
		"resident card, +86": {
			id:       map[string]string{"name": "张三丰", "idType": "01", "idNumber": testResidentID, "phone": "+8613812345678"},
			wantRule: "format",
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			r := e.call(OpRegister, tc.id)
			if tc.wantRule != "" {
				if diff := cmp.Diff([]diag{{Field: "$.phone", Rule: tc.wantRule, Error: true}}, diagsOf(r.Diagnostics)); diff != "" || r.Status != sdk.StatusInvalid {
					t.Errorf("status %s, diagnostics (-want +got):\n%s", r.Status, diff)
				}
				return
			}
			if r.Status != sdk.StatusOK {
				t.Fatalf("status %s: %s", r.Status, r.Diagnostics)
			}
			var reg registerReply
			e.ok(OpRegister, tc.id, &reg) // again: the same card
			var got getReply
			e.ok(OpGet, map[string]string{"cardNo": reg.CardNo}, &got)
			if got.Phone != tc.wantPhone {
				t.Errorf("ecard.get phone %q, want %q", got.Phone, tc.wantPhone)
			}
			var list struct{ Items []recentItem }
			e.ok(OpCardsList, map[string]any{}, &list)
			if len(list.Items) != 1 || list.Items[0].Phone != tc.wantPhone {
				t.Errorf("work list %+v, want one card with phone %q", list.Items, tc.wantPhone)
			}
			raw := strings.TrimPrefix(tc.id["phone"], "+86")
			for _, x := range e.host.Exchanges() {
				if strings.Contains(string(x.Exchange.Request), raw) || strings.Contains(string(x.Exchange.Response), raw) {
					t.Errorf("journal entry %s %s holds the phone unmasked", x.Exchange.Request, x.Exchange.Response)
				}
			}
		})
	}

	t.Run("+86 and 11 digits are the same phone", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, testSettings())
		id := map[string]string{"name": "John Smith", "idType": "03", "idNumber": "E12345678", "issuingCountry": "GBR", "phone": "13812345678"}
		first := e.register(id)
		id["phone"] = "+8613812345678"
		r := e.call(OpRegister, id)
		if r.Status != sdk.StatusOK || len(r.Diagnostics) != 0 {
			t.Errorf("registering again with the number as +86: status %s, diagnostics %s; want ok without a phone mismatch", r.Status, r.Diagnostics)
		}
		if again := e.register(id); again.CardNo != first.CardNo || again.Created {
			t.Errorf("registering again: %+v, want card %s", again, first.CardNo)
		}
	})
}
