package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// registerEndingInX registers passport holders until one gets an e-card
// number whose check character is X, links temporary card tempNo to it
// and returns its number and a registered number whose check character is
// a digit.
func registerEndingInX(e *env, tempNo string) (xNo, digitNo string) {
	e.tb.Helper()
	for i := 0; xNo == "" || digitNo == ""; i++ {
		if i == 100 {
			e.tb.Fatalf("100 registrations and no e-card number ending in X and one ending in a digit (%q, %q)", xNo, digitNo)
		}
		no := e.register(person(i)).CardNo
		switch {
		case strings.HasSuffix(no, "X") && xNo == "":
			xNo = no
		case !strings.HasSuffix(no, "X") && digitNo == "":
			digitNo = no
		}
	}
	e.ok(OpLink, map[string]any{"cardNo": xNo, "tempCardNo": tempNo}, nil)
	return xNo, digitNo
}

// TestTypedLowerCaseCheckX: an e-card number typed by staff with its check
// character X as x (the print page, the desk, a HIS form; Caps Lock, or a
// scanner in lower-case mode) is read by ecard.get, ecard.link,
// ecard.revoke and ecard.qrcode as the number with X, as ecard.scan reads
// it: no e-card number ends in x, so nothing else could be meant. The
// check character must still match: a number whose X is wrong stays
// unknown, and the refusal says its check fails instead of telling staff
// to type the upper-case X that fails too. Temporary-card numbers keep
// their case. Before, these operations answered x with unknown-card and a
// detail saying to type an upper-case X.
func TestTypedLowerCaseCheckX(t *testing.T) {
	t.Parallel()
	const tempNo = "99000123x" // a temporary card whose HIS number ends in a lower-case x
	testCases := map[string]struct {
		settings func() map[string]string
		typ      string
		// payload is the payload, given the registered number ending in X
		// and the one ending in a digit.
		payload func(xNo, digitNo string) map[string]any
		// wantCardNo is the cardNo of the reply: "X" for the number ending
		// in X, "typed" for the payload's cardNo as sent.
		wantCardNo string
		// wantRule is the rule of the refusal; empty when the reply is ok.
		wantRule string
		// detailHas and detailHasNot are in and not in the refusal's detail.
		detailHas, detailHasNot string
		want                    map[string]any
	}{
		"ecard.get, lower-case x": {
			typ:        OpGet,
			payload:    func(x, _ string) map[string]any { return map[string]any{"cardNo": strings.ToLower(x)} },
			wantCardNo: "X", want: map[string]any{"status": "active"},
		},
		"ecard.get, full-width lower-case ｘ": {
			typ:        OpGet,
			payload:    func(x, _ string) map[string]any { return map[string]any{"cardNo": fullWidth(strings.ToLower(x))} },
			wantCardNo: "X", want: map[string]any{"status": "active"},
		},
		"ecard.get, upper-case X": {
			typ:        OpGet,
			payload:    func(x, _ string) map[string]any { return map[string]any{"cardNo": x} },
			wantCardNo: "X", want: map[string]any{"status": "active"},
		},
		"ecard.qrcode, lower-case x (print page)": {
			typ: OpQRCode,
			payload: func(x, _ string) map[string]any {
				return map[string]any{"cardNo": strings.ToLower(x), "printLabel": true}
			},
			wantCardNo: "X",
		},
		"ecard.link, lower-case x": {
			typ: OpLink,
			payload: func(x, _ string) map[string]any {
				return map[string]any{"cardNo": strings.ToLower(x), "tempCardNo": "99000456"}
			},
			wantCardNo: "X", want: map[string]any{"tempCardNo": "99000456", "alreadyLinked": false},
		},
		"ecard.revoke, lower-case x": {
			typ: OpRevoke,
			payload: func(x, _ string) map[string]any {
				return map[string]any{"cardNo": strings.ToLower(x), "reason": "duplicate registration"}
			},
			wantCardNo: "X", want: map[string]any{"status": "revoked"},
		},
		"ecard.get, lower-case x where the check character is a digit": {
			typ: OpGet,
			payload: func(_, d string) map[string]any {
				return map[string]any{"cardNo": d[:len(d)-1] + "x"}
			},
			wantCardNo: "typed", wantRule: "unknown-card", detailHas: "check", detailHasNot: "uppercase",
		},
		"ecard.qrcode, lower-case x where the check character is a digit": {
			typ: OpQRCode,
			payload: func(_, d string) map[string]any {
				return map[string]any{"cardNo": d[:len(d)-1] + "x"}
			},
			wantCardNo: "typed", wantRule: "unknown-card", detailHas: "check", detailHasNot: "uppercase",
		},
		"ecard.get, temporary card ending in x": {
			typ:        OpGet,
			payload:    func(string, string) map[string]any { return map[string]any{"tempCardNo": tempNo} },
			wantCardNo: "X", want: map[string]any{"matchedTempCardNo": tempNo},
		},
		"ecard.get, temporary card as cardNo, ending in x": {
			typ:        OpGet,
			payload:    func(string, string) map[string]any { return map[string]any{"cardNo": tempNo} },
			wantCardNo: "X", want: map[string]any{"matchedTempCardNo": tempNo},
		},
		"ecard.get, temporary card in another case": {
			typ:        OpGet,
			payload:    func(string, string) map[string]any { return map[string]any{"tempCardNo": strings.ToUpper(tempNo)} },
			wantCardNo: "none", wantRule: "unknown-card",
		},
		"luhn site: x is no check character": {
			settings: func() map[string]string {
				s := testSettings()
				s[setCardCheck] = card.CheckLuhn
				return s
			},
			typ:        OpGet,
			payload:    func(_, d string) map[string]any { return map[string]any{"cardNo": d[:len(d)-1] + "x"} },
			wantCardNo: "typed", wantRule: "unknown-card",
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			settings := testSettings()
			if tc.settings != nil {
				settings = tc.settings()
			}
			e := newEnv(t, settings)
			var xNo, digitNo string
			if settings[setCardCheck] == card.CheckLuhn {
				// No Luhn number ends in X: the digit one stands for both.
				xNo = e.register(person(0)).CardNo
				digitNo = xNo
			} else {
				xNo, digitNo = registerEndingInX(e, tempNo)
			}
			payload := tc.payload(xNo, digitNo)
			r := e.call(tc.typ, payload)
			var got map[string]any
			if len(r.Payload) > 0 {
				if err := json.Unmarshal(r.Payload, &got); err != nil {
					t.Fatalf("decode reply %s: %v", r.Payload, err)
				}
			}
			if tc.wantRule == "" {
				if r.Status != sdk.StatusOK {
					t.Fatalf("%s %v: %s %s, want ok", tc.typ, payload, r.Status, r.Diagnostics)
				}
			} else {
				if r.Status != sdk.StatusInvalid || len(r.Diagnostics) != 1 || r.Diagnostics[0].Rule != tc.wantRule {
					t.Fatalf("%s %v: %s %s, want invalid, %s", tc.typ, payload, r.Status, r.Diagnostics, tc.wantRule)
				}
				d := r.Diagnostics[0].Detail
				if !strings.Contains(d, tc.detailHas) || tc.detailHasNot != "" && strings.Contains(d, tc.detailHasNot) {
					t.Errorf("detail %q: want it to hold %q and not %q", d, tc.detailHas, tc.detailHasNot)
				}
			}
			switch tc.wantCardNo {
			case "X":
				if got["cardNo"] != xNo {
					t.Errorf("reply cardNo %v, want %s", got["cardNo"], xNo)
				}
			case "typed":
				if got["cardNo"] != payload["cardNo"] {
					t.Errorf("reply cardNo %v, want %v as typed", got["cardNo"], payload["cardNo"])
				}
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("reply %s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}
