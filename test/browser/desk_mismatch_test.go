package browser_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/browser"
	"github.com/medgate/medgate/test/testenv"
)

// TestDeskNameMismatchInTheConsole: at the cashier's desk page, an ID
// number whose card was registered under another name prints nothing: the
// page says so in Chinese with the card number and the stored name
// (masked), and shows no label. After an admin corrected the name on the
// 电子卡更正姓名 page (refused to the cashier, naming the role), the desk prints the label with the corrected name;
// with 确认打印 (confirmName) it prints a card whose name differs.
func TestDeskNameMismatchInTheConsole(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startPagesMedgateWith(t, nil)
	base := "http://" + mg.HTTPAddr
	stamp := time.Now().UnixNano()
	_, reg := post(t, base, fmt.Sprintf("mismatch-reg-%d", stamp), "ecard.register",
		map[string]any{"name": "张三风", "idType": "01", "idNumber": patientID, "phone": "13812345678"})
	var registered struct{ CardNo string }
	if err := json.Unmarshal(reg.Payload, &registered); reg.Status != "ok" || err != nil || registered.CardNo == "" {
		t.Fatalf("ecard.register: %+v", reg)
	}

	b := browser.Start(t, base)
	b.SignIn(map[string]string{"user": operatorUser, "password": password(operatorUser)})
	desk := func(name, confirm string) {
		t.Helper()
		b.Go("/console/form/ecard/desk")
		b.Fill(map[string]string{`input[name=name]`: name, `input[name=idNumber]`: patientID, `input[name=phone]`: "13812345678", `select[name=confirmName]`: confirm})
		b.Click(`form[action="/console/form/ecard/desk"] button[type=submit]`)
		b.Wait(".result, .notice.bad")
	}

	desk("张三丰", "false")
	b.WaitText("main", "未打印")
	b.Shot("desk-name-mismatch")
	readable := func(what string) {
		t.Helper()
		var problems []string
		b.Eval(readsInChinese, &problems)
		for _, p := range problems {
			t.Errorf("%s: %s", what, p)
		}
	}
	readable("the refused desk page")
	main := b.Text("main")
	for _, want := range []string{registered.CardNo, "张*风"} {
		if !strings.Contains(main, want) {
			t.Errorf("the refused desk page lacks %q:\n%s", want, main)
		}
	}
	if n := b.Nodes(".label-card img.qr"); n != 0 || strings.Contains(main, "张三风") {
		t.Errorf("the refused desk page shows %d label codes or the stored full name:\n%s", n, main)
	}

	desk("张三丰", "true")
	b.Wait(".label-card img.qr")
	if label := b.Text(".label-card"); !strings.Contains(label, "张*风") {
		t.Errorf("the confirmed label %q does not name the card's holder 张*风", label)
	}

	// The correction is an admin's (the plugin declares it): the
	// cashier's browser is refused, saying which role it needs, and an
	// admin corrects the name in another.
	b.Go("/console/form/ecard/rename")
	b.WaitText("main", "需要角色 admin")
	if n := b.Nodes(`form[action="/console/form/ecard/rename"]`); n != 0 {
		t.Errorf("the operator is shown the rename form (%d)", n)
	}
	adm := browser.Start(t, base)
	adm.SignIn(map[string]string{"user": adminUser, "password": password(adminUser)})
	adm.Go("/console/form/ecard/rename")
	adm.Fill(map[string]string{`input[name=cardNo]`: registered.CardNo, `input[name=idNumber]`: patientID, `input[name=name]`: "张三丰", `input[name=reason]`: "登记时姓名输错"})
	adm.Click(`form[action="/console/form/ecard/rename"] button[type=submit]`)
	adm.WaitText(".result", "张*丰")
	adm.Shot("rename-done")
	var problems []string
	adm.Eval(readsInChinese, &problems)
	for _, p := range problems {
		t.Errorf("the rename page's answer: %s", p)
	}

	desk("张三丰", "false")
	b.Wait(".label-card img.qr")
	if label := b.Text(".label-card"); !strings.Contains(label, "张*丰") || !strings.Contains(b.Text(".result"), "已有电子卡") {
		t.Errorf("after the correction the desk shows %q with label %q; want the existing card labelled 张*丰", b.Text(".result"), label)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("page problems: %v", p)
	}
}
