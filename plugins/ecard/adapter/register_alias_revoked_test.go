package adapter

import (
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRegisterResidencePermitRevokedUnderEitherType: a 港澳台居民居住证
// number is one person under idType 09 and under 01 or 02, also once its
// card is revoked. Registering again, under either type, replaces the
// revoked card (previousCardNo, replacedBy, its temporary cards free to
// move), and every later registration, under either type, gets that one
// replacement back. Before, a registration under the other type issued a
// card that replaced nothing, and the next one under the first type issued
// a second live card for the same person.
func TestRegisterResidencePermitRevokedUnderEitherType(t *testing.T) {
	t.Parallel()
	testCases := map[string][]string{
		"09, revoked, then 01, 09, 02": {"09", "01", "09", "02"},
		"01, revoked, then 09, 01, 09": {"01", "09", "01", "09"},
		"02, revoked, then 09, 02":     {"02", "09", "02"},
	}
	for name, types := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			id := map[string]string{"name": "陈大文", "idType": types[0], "idNumber": "810000199408230021", "phone": "13812345679"}
			old := e.register(id).CardNo
			const temp = "99000123"
			e.ok(OpLink, map[string]string{"cardNo": old, "tempCardNo": temp}, nil)
			e.ok(OpRevoke, map[string]string{"cardNo": old, "reason": "lost"}, nil)

			id["idType"] = types[1]
			repl := e.register(id)
			if !repl.Created || repl.PreviousCardNo != old {
				t.Fatalf("registered again as %s: card %s created %v previousCardNo %q; want a new card replacing %s", types[1], repl.CardNo, repl.Created, repl.PreviousCardNo, old)
			}
			var got getReply
			e.ok(OpGet, map[string]string{"cardNo": old}, &got)
			if got.ReplacedBy != repl.CardNo {
				t.Errorf("old card %s replacedBy %q, want %s", old, got.ReplacedBy, repl.CardNo)
			}
			if r := e.call(OpLink, map[string]string{"cardNo": repl.CardNo, "tempCardNo": temp}); r.Status != sdk.StatusOK {
				t.Errorf("link of the old card's temporary card to the replacement: %s %s, want ok", r.Status, r.Diagnostics)
			}
			for _, typ := range types[2:] {
				id["idType"] = typ
				if r := e.register(id); r.Created || r.CardNo != repl.CardNo {
					t.Errorf("then registered as %s: card %s created %v; want the replacement %s back", typ, r.CardNo, r.Created, repl.CardNo)
				}
			}
		})
	}
}

// TestScanResidencePermitNumberAfterReplacement: a scanned residence permit
// number names the person's live card, whichever of the number's ID types
// it was registered under. Before, a number first registered as 01, revoked
// and registered again as 09 scanned as the revoked 01 card ("已注销，请重新
// 注册"), though the person had a live card.
func TestScanResidencePermitNumberAfterReplacement(t *testing.T) {
	t.Parallel()
	for _, types := range [][2]string{{"01", "09"}, {"09", "01"}, {"02", "09"}} {
		t.Run(types[0]+" then "+types[1], func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			id := map[string]string{"name": "陈大文", "idType": types[0], "idNumber": "810000199408230021", "phone": "13812345679"}
			old := e.register(id).CardNo
			e.ok(OpRevoke, map[string]string{"cardNo": old, "reason": "lost"}, nil)
			id["idType"] = types[1]
			repl := e.register(id).CardNo
			_, _, m := e.scan("810000199408230021")
			if m["cardNo"] != repl || m["cardStatus"] != statusLive {
				t.Errorf("scan of the number: card %v (%v), want %s (%s)", m["cardNo"], m["cardStatus"], repl, statusLive)
			}
		})
	}
}
