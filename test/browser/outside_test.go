package browser_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/browser"
	"github.com/medgate/medgate/test/harness"
	tcsim "github.com/medgate/medgate/test/sim/tracecode"
	"github.com/medgate/medgate/test/testenv"
	"github.com/xuri/excelize/v2"
)

// TestOutsideScanPageSaysWhatWasScanned: the console's 扫码 Scan page is the
// counter's scanning station. Every scan reply, accepted or refused,
// carries payload.message, the sentence in Chinese for the person at the
// counter (plugins/ecard/README.md); the page shows it, with the refusal's
// card number and masked name where the reply has them. Before, a refused
// scan (a temporary card not linked, a resident ID number of a registered
// patient) showed only the rule table in English, and an accepted one no
// sentence at all. The sentence expected is the one the HTTP ingress
// returns for the same text, so the test follows the plugin's wording.
func TestOutsideScanPageSaysWhatWasScanned(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startPagesMedgate(t)
	base := "http://" + mg.HTTPAddr
	code, reg := post(t, base, fmt.Sprintf("outside-reg-%d", time.Now().UnixNano()), "ecard.register", map[string]any{"name": "张三丰", "idType": "01", "idNumber": patientID, "phone": "13812345678"})
	var card struct{ CardNo string }
	if err := json.Unmarshal(reg.Payload, &card); code != http.StatusOK || err != nil || card.CardNo == "" {
		t.Fatalf("ecard.register: HTTP %d %+v", code, reg)
	}
	_, qr := post(t, base, fmt.Sprintf("outside-qr-%d", time.Now().UnixNano()), "ecard.qrcode", map[string]any{"cardNo": card.CardNo})
	var code2 struct{ Text string }
	if err := json.Unmarshal(qr.Payload, &code2); err != nil || code2.Text == "" {
		t.Fatalf("ecard.qrcode: %+v", qr)
	}

	b := browser.Start(t, base)
	b.SignIn(map[string]string{"user": operatorUser, "password": password(operatorUser)})
	tests := map[string]struct {
		text     string
		status   string // of the same scan through the ingress
		withCard bool   // the page shows the card number of the reply
	}{
		"an e-card QR code":              {text: code2.Text, status: "ok", withCard: true},
		"a temporary card not linked":    {text: "99000123", status: "invalid"},
		"the ID number of a card holder": {text: patientID, status: "invalid", withCard: true},
		"a trace code":                   {text: "81234567890123456789", status: "invalid"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, want := post(t, base, fmt.Sprintf("outside-scan-%d", time.Now().UnixNano()), "ecard.scan", map[string]any{"text": tc.text})
			var p struct{ Message, CardNo string }
			if err := json.Unmarshal(want.Payload, &p); err != nil || want.Status != tc.status || p.Message == "" {
				t.Fatalf("ecard.scan of %q through the ingress: status %s, payload %s; want %s with a message", tc.text, want.Status, want.Payload, tc.status)
			}
			b.Go("/console/form/ecard/scan")
			b.Type(`form[action="/console/form/ecard/scan"] input[name=text]`, tc.text+"\r") // the scanner types, then Enter
			b.WaitTrue(browser.StepTimeout, "the scan's reply", `document.querySelector("main .notice, main .result") !== null && document.readyState === "complete"`)
			main := b.Text("main")
			if !strings.Contains(main, p.Message) {
				t.Errorf("the scan page for %s does not show the reply's message %q; it shows:\n%s", name, p.Message, main)
			}
			if tc.withCard && !strings.Contains(main, p.CardNo) {
				t.Errorf("the scan page for %s does not show the reply's card number %s; it shows:\n%s", name, p.CardNo, main)
			}
			if strings.Contains(main, "张三丰") || strings.Contains(main, patientID) {
				t.Errorf("the scan page for %s shows personal data unmasked:\n%s", name, main)
			}
			for _, pr := range b.Problems() {
				t.Errorf("the scan page for %s went wrong in Chromium: %s", name, pr)
			}
		})
	}
}

// TestOutsideExportNamesEverySheet: the 追溯码导出 Export page's sheets
// field is how the pharmacy picks part of the workbook; it names every
// sheet the export writes, by the name the field takes and by the
// workbook's own (Chinese) tab name. Before, it named 4 of the 8 (token,
// bills, codes, mi): the smallest sub-codes, the code hierarchy, the
// drafts and their adjustments could be asked for only by guessing. The
// sheets expected are those of a whole export through the ingress, read
// from its reply and, for the tab names, from the workbook itself.
func TestOutsideExportNamesEverySheet(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startExportMedgate(t)
	base := "http://" + mg.HTTPAddr
	today := time.Now().Format("2006-01-02")
	_, r := post(t, base, fmt.Sprintf("outside-export-%d", time.Now().UnixNano()), "tracecode.export", map[string]any{"from": today, "inline": true})
	var ex struct {
		Sheets []string
		Base64 string
	}
	if err := json.Unmarshal(r.Payload, &ex); err != nil || r.Status != "ok" || len(ex.Sheets) == 0 || ex.Base64 == "" {
		t.Fatalf("tracecode.export of %s: %s %s %+v", today, r.Status, r.Payload, r.Errors)
	}
	raw, err := base64.StdEncoding.DecodeString(ex.Base64)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := excelize.OpenReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the export's workbook: %v", err)
	}
	tabs := wb.GetSheetList()
	if len(tabs) != len(ex.Sheets) {
		t.Fatalf("the export's reply lists sheets %q, its workbook has tabs %q", ex.Sheets, tabs)
	}

	b := browser.Start(t, base)
	b.SignIn(map[string]string{"user": operatorUser, "password": password(operatorUser)})
	b.Go("/console/form/tracecode/export")
	var label string
	b.Eval(`document.querySelector('form[action="/console/form/tracecode/export"] [name=sheets]').closest("label").innerText`, &label)
	for i, s := range ex.Sheets {
		if !regexp.MustCompile(`\b`+s+`\b`).MatchString(label) || !strings.Contains(label, tabs[i]) {
			t.Errorf("the export page's sheets field does not name sheet %q (tab %s): it reads %q", s, tabs[i], label)
		}
	}
	for _, p := range b.Problems() {
		t.Errorf("the export page went wrong in Chromium: %s", p)
	}
}

// startExportMedgate runs medgate with the tracecode plugin against its
// simulator, and the users of startPagesMedgate.
func startExportMedgate(t *testing.T) *harness.Medgate {
	t.Helper()
	const secret = "outside-app-secret-0123456789"
	sim := tcsim.New(tcsim.Options{AppID: "outside-app", AppSecret: secret, OrgCode: "H35020300001", Seed: 7, BillsPerDay: 1})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return startPagesMedgateWith(t, func(cfg *harness.Config, file func(name, v string) string) {
		cfg.Plugins = append(cfg.Plugins, "tracecode")
		cfg.Sites[0]["plugins"].(map[string]any)["tracecode"] = map[string]any{"settings": map[string]any{
			"baseUrl": srv.URL, "appId": "outside-app", "appSecret": file("app-secret", secret), "orgCode": "H35020300001", "orgName": "示例医院",
			"exportDir": filepath.Join(cfg.Dir, "exports"),
		}}
	})
}

// TestOutsideDraftHistoryInChinese: a draft receipt's page (入库单审核)
// lists its changes under 记录 History; the pharmacy reads which change
// and which field in Chinese, as the export's 入库单调整记录 sheet names
// them. Before, the page showed the request's identifiers (setQty, qty,
// setField, produceDate) where the workbook says 修改数量, 数量. The names
// expected are read from the workbook of the same draft.
func TestOutsideDraftHistoryInChinese(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startExportMedgate(t)
	base := "http://" + mg.HTTPAddr
	today := time.Now().Format("2006-01-02")
	if _, r := post(t, base, fmt.Sprintf("outside-fetch-%d", time.Now().UnixNano()), "tracecode.stockin.fetch", map[string]any{"beginDate": today, "endDate": today}); r.Status != "ok" {
		t.Fatalf("tracecode.stockin.fetch: %s %+v", r.Status, r.Errors)
	}
	_, r := post(t, base, fmt.Sprintf("outside-drafts-%d", time.Now().UnixNano()), "tracecode.drafts.list", map[string]any{})
	var list struct{ Items []struct{ ID string } }
	if err := json.Unmarshal(r.Payload, &list); err != nil || len(list.Items) == 0 {
		t.Fatalf("tracecode.drafts.list: %s %s", r.Status, r.Payload)
	}
	draft := list.Items[0].ID

	b := browser.Start(t, base)
	b.SignIn(map[string]string{"user": operatorUser, "password": password(operatorUser)})
	changes := []struct {
		form   string
		fields map[string]string
		reason string
	}{
		{`:has(input[name=qty])`, map[string]string{"qty": "7"}, "少到 short-qty"},
		{`:has(select[name=field])`, map[string]string{"field": "batchNo", "value": "B-OUTSIDE"}, "批号更正 batch-fix"},
	}
	for _, c := range changes {
		b.Go("/console/document/tracecode/draft?site=s1&id=" + draft)
		form := `form[action="/console/document/tracecode/draft/adjust"]` + c.form
		fill := map[string]string{form + ` [name=reason]`: c.reason}
		for k, v := range c.fields {
			fill[form+` [name=`+k+`]`] = v
		}
		b.Fill(fill)
		b.Click(form + ` button[type=submit]`)
		b.WaitText("main", c.reason)
	}
	var rows [][]string
	b.Eval(`(() => {
		const h2 = Array.from(document.querySelectorAll("main h2")).find(h => h.innerText.includes("记录"));
		const table = h2 && h2.parentElement.querySelector("table");
		if (!table) return [];
		const heads = Array.from(table.querySelectorAll("thead th")).map(h => h.innerText.trim());
		const col = w => heads.findIndex(h => h.split(" ")[0] === w);
		const want = ["操作", "字段", "原因"].map(col);
		return Array.from(table.querySelectorAll("tbody tr")).map(r => want.map(i => i < 0 || !r.cells[i] ? "" : r.cells[i].innerText.trim()));
	})()`, &rows)
	b.Shot("history")

	_, r = post(t, base, fmt.Sprintf("outside-export-%d", time.Now().UnixNano()), "tracecode.export", map[string]any{"from": today, "sheets": []string{"adjustments"}, "inline": true})
	var ex struct{ Base64 string }
	if err := json.Unmarshal(r.Payload, &ex); err != nil || ex.Base64 == "" {
		t.Fatalf("tracecode.export: %s %s", r.Status, r.Payload)
	}
	raw, _ := base64.StdEncoding.DecodeString(ex.Base64)
	wb, err := excelize.OpenReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the export's workbook: %v", err)
	}
	sheet, err := wb.GetRows(wb.GetSheetList()[0])
	if err != nil || len(sheet) < 2 {
		t.Fatalf("the adjustments sheet: %v %q", err, sheet)
	}
	col := func(name string) int { return slices.Index(sheet[0], name) }
	opCol, fieldCol, reasonCol := col("操作"), col("字段"), col("原因")
	for _, c := range changes {
		var want []string
		for _, row := range sheet[1:] {
			if len(row) > reasonCol && row[reasonCol] == c.reason {
				want = []string{row[opCol], row[fieldCol]}
			}
		}
		var got []string
		for _, row := range rows {
			if len(row) == 3 && row[2] == c.reason {
				got = row[:2]
			}
		}
		if want == nil || !slices.Equal(got, want) {
			t.Errorf("the history of draft %s shows the change %q as (操作, 字段) %q; the workbook's 入库单调整记录 names it %q", draft, c.reason, got, want)
		}
	}
	for _, p := range b.Problems() {
		t.Errorf("the draft page went wrong in Chromium: %s", p)
	}
}

// TestOutsideExportResultPerSheet: after an export the page says how many
// rows each sheet of the workbook holds, by the sheet's tab name, as a
// table. Before, it showed the reply's rows object as JSON
// ({"bills":2,"codes":9,…}), keyed by the request's English names. The
// counts and names expected are the workbook's own.
func TestOutsideExportResultPerSheet(t *testing.T) {
	if _, err := browser.Binary(); err != nil && os.Getenv(testenv.RequireServicesEnv) != "1" {
		t.Skipf("browser test skipped: %v", err)
	}
	mg := startExportMedgate(t)
	base := "http://" + mg.HTTPAddr
	today := time.Now().Format("2006-01-02")
	if _, r := post(t, base, fmt.Sprintf("outside-fetch-%d", time.Now().UnixNano()), "tracecode.stockin.fetch", map[string]any{"beginDate": today, "endDate": today}); r.Status != "ok" {
		t.Fatalf("tracecode.stockin.fetch: %s %+v", r.Status, r.Errors)
	}
	b := browser.Start(t, base)
	b.SignIn(map[string]string{"user": operatorUser, "password": password(operatorUser)})
	b.Go("/console/form/tracecode/export")
	form := `form[action="/console/form/tracecode/export"]`
	b.Fill(map[string]string{form + ` [name=from]`: today})
	b.Click(form + ` button[type=submit]`)
	b.Wait(`main .result a[href^="/console/download/"]`)
	var table [][]string
	b.Eval(`Array.from(document.querySelectorAll("main .result table tbody tr")).map(r => Array.from(r.cells).map(c => c.innerText.trim()))`, &table)
	text := b.Text("main .result")
	b.Shot("export-result")
	wb, err := excelize.OpenReader(bytes.NewReader(b.Download(`main .result a[href^="/console/download/"]`)))
	if err != nil {
		t.Fatalf("the workbook downloaded: %v", err)
	}
	var want [][]string
	for _, s := range wb.GetSheetList() {
		rows, err := wb.GetRows(s)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, []string{s, fmt.Sprint(len(rows) - 1)}) // less the header
	}
	if !slices.EqualFunc(table, want, slices.Equal) {
		t.Errorf("the export's result table (sheet, rows) reads %q; the workbook downloaded has %q", table, want)
	}
	if strings.Contains(text, "{") {
		t.Errorf("the export's result shows JSON to the pharmacy:\n%s", text)
	}
	for _, p := range b.Problems() {
		t.Errorf("the export page went wrong in Chromium: %s", p)
	}
}
