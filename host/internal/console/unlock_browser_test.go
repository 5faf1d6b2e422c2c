package console

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/browser"
)

// TestUnlockButtonInChromium: an admin in headless Chromium finds a
// locked-out user marked locked on the users page (where and until
// when), clicks Unlock, answers the confirmation, and reads what was
// lifted; the user is no longer shown locked, the lockout is lifted
// (the user's right password signs in) and the unlock is audited with
// the admin's name.
func TestUnlockButtonInChromium(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	apw := f.addUser("root", access.Admin)
	f.addUser("amy", access.Operator)
	f.lockOut("amy", "10.4.0.1")

	b := browser.Start(t, f.srv.URL)
	b.SignIn(map[string]string{"user": "root", "password": apw})
	b.Go("/console/admin/users")
	row := `.locks[data-user="amy"]`
	b.WaitText(row, "已锁定 locked")
	if txt := b.Text(row); !strings.Contains(txt, "from 10.4.0.1 until 2026-11-26 08:10:00") {
		t.Errorf("amy's lockout does not say where and until when: %q", txt)
	}
	b.Shot("locked")
	b.Click(row + ` button[type=submit]`)
	b.WaitText(".notice", "已解除锁定")
	b.Shot("unlocked")
	if txt := b.Text(".notice"); !strings.Contains(txt, "amy: 1 sign-in lockout(s) lifted at every address and browser on this instance") {
		t.Errorf("the page after the unlock says %q", txt)
	}
	if n := b.Nodes(row); n != 0 {
		t.Errorf("amy is still shown locked after the unlock")
	}
	if d := b.Dialogs(); len(d) != 1 || !strings.Contains(d[0], "解除 amy 的登录锁定") {
		t.Errorf("the Unlock button asked %q, want one confirmation naming amy", d)
	}
	if w := f.lockout.Locked("amy", "10.4.0.1"); w != 0 {
		t.Errorf("amy is still locked out at 10.4.0.1 for %s", w)
	}
	got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "user.unlock"})
	if err != nil || len(got) == 0 || got[0].Actor != "root" || got[0].Target != "amy" || got[0].Outcome != "ok" {
		t.Errorf("audit of the unlock (newest first): %v %+v", err, got)
	}
	for _, p := range b.Problems() {
		t.Errorf("the users page went wrong in Chromium: %s", p)
	}
}
