package adapter

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// pendingEnv uploads ZY1 (ok), fails ZY2 (rejected) and leaves ZY3 alone.
func pendingEnv(t *testing.T) *env {
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "p-up-1", upload("ZY1", 2), 1), sdk.StatusOK)
	e.sim.Fail(selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultBusiness, Message: "诊断代码不存在"})
	m := upload("ZY2", 1)
	m[nodeMdtrt].(map[string]any)["certno"] = "350203199001011111"
	wantStatus(t, e.must(OpUpload, "p-up-2", m, 1), sdk.StatusRejected)
	return e
}

const pendingCSV = "自费病人待上传清单\n" +
	"序号,医药机构就诊ID,姓名,身份证号,入院时间,出院时间,医疗总费用\n" +
	"1,ZY1,张三,350203198001011234,2025-03-25 10:00:00,2025-04-01 09:00:00,22.00\n" +
	"2,ZY2,李四,350203199001011111,2025-03-25 10:00:00,2025-04-01 09:00:00,11.00\n" +
	"3,ZY3,王五,350203197001012222,2025-03-20 08:00:00,2025-03-28 09:00:00,100.00\n" +
	",,,,,,\n" +
	"4,,张三,350203198001011234,2025/3/25,,\n" +
	"5,,,,,,99\n"

func TestImportPendingCSV(t *testing.T) {
	t.Parallel()
	e := pendingEnv(t)
	r := e.must(OpImportPending, "imp-1", map[string]any{"filename": "pending.csv", "content": base64.StdEncoding.EncodeToString([]byte(pendingCSV))}, 1)
	wantStatus(t, r, sdk.StatusOK)
	p := payloadOf(t, r)
	want := []struct{ row, status, reason string }{
		{"3", "uploaded", "uploaded and marked complete (2 fee lines)"},
		{"4", "failed", "诊断代码不存在"},
		{"5", "pending", "no selfpay.upload has been received for this visit"},
		{"7", "uploaded", "uploaded and marked complete"},
		{"8", "invalid", "neither a visit id"},
	}
	pats := p["patients"].([]any)
	if len(pats) != len(want) {
		t.Fatalf("%d patients: %v", len(pats), pats)
	}
	for i, w := range want {
		got := pats[i].(map[string]any)
		if fmt.Sprint(got["row"]) != w.row || got["status"] != w.status || !strings.Contains(fmt.Sprint(got["reason"]), w.reason) {
			t.Errorf("patient %d = %v, want row %s %s (%s)", i, got, w.row, w.status, w.reason)
		}
		if strings.Contains(fmt.Sprint(got), "350203198001011234") || strings.Contains(fmt.Sprint(got), "张三") {
			t.Errorf("personal data unmasked: %v", got)
		}
	}
	if pats[3].(map[string]any)["fixmedinsMdtrtId"] != "ZY1" {
		t.Errorf("row 7 was not matched by ID number and admission date: %v", pats[3])
	}
	s := p["summary"].(map[string]any)
	if s["uploaded"] != float64(2) || s["failed"] != float64(1) || s["pending"] != float64(1) || s["invalid"] != float64(1) {
		t.Errorf("summary %v", s)
	}
	if h := p["headline"]; h != "pending.csv：5 名病人 patients — 待上传 pending 1，已上传 uploaded 2，失败 failed 1，无效 invalid 1" {
		t.Errorf("headline %q", h)
	}
}

// TestImportPendingFromTheCommandLine sends the list the way
// `medgate selfpay import-pending` does: a file argument {"name", "content"}.
func TestImportPendingFromTheCommandLine(t *testing.T) {
	t.Parallel()
	e := pendingEnv(t)
	list := map[string]any{"name": "pending.csv", "content": base64.StdEncoding.EncodeToString([]byte(pendingCSV))}
	r := e.must(OpImportPending, "imp-cli", map[string]any{"list": list, "verify": false}, 1)
	wantStatus(t, r, sdk.StatusOK)
	if p := payloadOf(t, r); p["file"] != "pending.csv" || len(p["patients"].([]any)) != 5 {
		t.Fatalf("report %v", p)
	}
	bad := e.must(OpImportPending, "imp-cli-bad", map[string]any{"list": "pending.csv"}, 1)
	wantStatus(t, bad, sdk.StatusInvalid)
	if bad.Diagnostics[0].Field != "$.list" {
		t.Errorf("diagnostics %v", bad.Diagnostics)
	}
}

func TestPendingHeadline(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		summary map[string]int
		want    string
	}{
		"in status order": {map[string]int{"failed": 1, "uploaded": 1, "pending": 1}, "l.csv：3 名病人 patients — 待上传 pending 1，已上传 uploaded 1，失败 failed 1"},
		"zero left out":   {map[string]int{"uploaded": 3, "failed": 0}, "l.csv：3 名病人 patients — 已上传 uploaded 3"},
		"every status": {map[string]int{"pending": 1, "uploading": 1, "uploaded": 1, "failed": 1, "cancelling": 1, "cancelled": 1, "invalid": 1},
			"l.csv：3 名病人 patients — 待上传 pending 1，上传中 uploading 1，已上传 uploaded 1，失败 failed 1，撤销中 cancelling 1，已撤销 cancelled 1，无效 invalid 1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := pendingHeadline("l.csv", 3, tc.summary); got != tc.want {
				t.Errorf("pendingHeadline = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestImportPendingXLSXVerify(t *testing.T) {
	t.Parallel()
	e := pendingEnv(t)
	f := excelize.NewFile()
	rows := [][]any{
		{"就诊ID", "人员姓名", "证件号码", "开始时间"},
		{"ZY1", "张三", "350203198001011234", "2025-03-25 10:00:00"},
		{"ZY3", "王五", "350203197001012222", "2025-03-20 08:00:00"},
	}
	for i, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	// The platform loses ZY1: another system withdraws it (a plugin with
	// its own state and msgid range), so medgate's record still says
	// uploaded.
	mine := e.host
	e.settings["msgidSeqBase"], e.settings["msgidSeqSpan"] = "5000", "5000"
	e.restart(sdktest.NewMemoryHost())
	wantStatus(t, e.must("selfpay.4203", "x-1", map[string]any{"fixmedins_mdtrt_id": "ZY1", "cplt_flag": "0"}, 1), sdk.StatusOK)
	e.settings["msgidSeqBase"], e.settings["msgidSeqSpan"] = "0", "5000"
	e.restart(mine)
	r := e.must(OpImportPending, "imp-2", map[string]any{"filename": "pending.xlsx", "content": base64.StdEncoding.EncodeToString(buf.Bytes()), "verify": true}, 1)
	wantStatus(t, r, sdk.StatusOK)
	pats := payloadOf(t, r)["patients"].([]any)
	zy1, zy3 := pats[0].(map[string]any), pats[1].(map[string]any)
	if zy1["status"] != "failed" || zy1["platform"] != "incomplete" {
		t.Errorf("ZY1 %v", zy1)
	}
	if zy3["status"] != "pending" || zy3["platform"] != "absent" {
		t.Errorf("ZY3 %v", zy3)
	}
}

func TestImportPendingBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	testCases := map[string]struct {
		payload map[string]any
		field   string
	}{
		"no content":    {map[string]any{"filename": "x.csv"}, "$.content"},
		"not base64":    {map[string]any{"content": "@@@"}, "$.content"},
		"no header":     {map[string]any{"filename": "x.csv", "content": base64.StdEncoding.EncodeToString([]byte("a,b\n1,2\n"))}, "$.content"},
		"not xlsx":      {map[string]any{"filename": "x.xlsx", "content": base64.StdEncoding.EncodeToString([]byte("PK\x03\x04garbage"))}, "$.content"},
		"unknown field": {map[string]any{"content": "eA==", "x": 1}, "$.x"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			r := e.must(OpImportPending, "bad-"+name, tc.payload, 1)
			wantStatus(t, r, sdk.StatusInvalid)
			if r.Diagnostics[0].Field != tc.field {
				t.Errorf("diagnostics %v", r.Diagnostics)
			}
		})
	}
}

func TestReadTableGB18030(t *testing.T) {
	t.Parallel()
	// "医药机构就诊ID,姓名\nZY1,张三\n" in GB18030.
	gb := []byte{0xd2, 0xbd, 0xd2, 0xa9, 0xbb, 0xfa, 0xb9, 0xb9, 0xbe, 0xcd, 0xd5, 0xef, 'I', 'D', ',', 0xd0, 0xd5, 0xc3, 0xfb, '\n', 'Z', 'Y', '1', ',', 0xd5, 0xc5, 0xc8, 0xfd, '\n'}
	rows, err := readTable("csv", gb, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][0] != "医药机构就诊ID" || rows[1][1] != "张三" {
		t.Errorf("rows %q", rows)
	}
	tab, err := readTable("csv", []byte("\xef\xbb\xbf就诊ID\t姓名\nZY1\t张三\n"), "")
	if err != nil || len(tab) != 2 || tab[1][1] != "张三" {
		t.Errorf("tab-separated with BOM: %q %v", tab, err)
	}
}

func TestDatePart(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"2025-03-25 10:00:00": "2025-03-25", "2025/3/5": "2025-03-05", "20250325": "2025-03-25", "": ""} {
		if got := datePart(in); got != want {
			t.Errorf("datePart(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReadTableXLSXRowBomb: a small XLSX (a few hundred kilobytes) holding
// hundreds of thousands or millions of rows is refused at once, like a CSV
// file past the row limit; the sheet is not read into memory first.
func TestReadTableXLSXRowBomb(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		rows int
		want string
	}{
		"past the row limit":      {300_000, fmt.Sprintf("more than %d rows", maxPendingRows)},
		"past the unpacked limit": {2_000_000, "unpacks to more than"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := xlsxRows(t, tc.rows)
			if len(data) > maxPendingBytes {
				t.Fatalf("the test file has %d bytes, more than a pending list may", len(data))
			}
			start := time.Now()
			_, err := readTable("xlsx", data, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			// A guard against reading the bomb whole (minutes of CPU), not a
			// performance claim: generous enough for a loaded machine and -race.
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("refusing a %d-byte list of %d rows took %v", len(data), tc.rows, d)
			}
		})
	}
}

// xlsxRows is a minimal workbook: a header row, then n rows of two numbers.
func xlsxRows(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	part := func(name, body string) {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(body))
	}
	part("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`)
	part("_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`)
	part("xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`)
	part("xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`)
	w, err := z.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
		`<row><c t="inlineStr"><is><t>医药机构就诊ID</t></is></c><c t="inlineStr"><is><t>姓名</t></is></c></row>`))
	chunk := bytes.Repeat([]byte(`<row><c><v>1</v></c><c><v>2</v></c></row>`), 10000)
	for range n / 10000 {
		_, _ = w.Write(chunk)
	}
	_, _ = w.Write([]byte(`</sheetData></worksheet>`))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestImportPendingVerifyByIDNumberOnly: a row with only the ID number (no
// visit id, no admission date) of a person the platform has exactly one
// visit of, uploaded outside medgate, is reported as the platform has it,
// not as absent.
func TestImportPendingVerifyByIDNumberOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const id, cert = "ZYO", "350203197001012222"
	v := visit(id, 1)
	v["certno"], v["psn_name"] = cert, "王五"
	wantStatus(t, e.must("selfpay.4201A", "o-1", map[string]any{nodeFees: []any{fee(id, 1)}}, 1), sdk.StatusOK)
	wantStatus(t, e.must("selfpay.4202", "o-2", map[string]any{nodeMdtrt: v, nodeDiags: diagnoses()}, 1), sdk.StatusOK)
	wantStatus(t, e.must("selfpay.4203", "o-3", map[string]any{"fixmedins_mdtrt_id": id, "cplt_flag": "1"}, 1), sdk.StatusOK)
	list := "身份证号,姓名\n" + cert + ",王五\n"
	r := e.must(OpImportPending, "o-imp", map[string]any{"filename": "p.csv", "content": base64.StdEncoding.EncodeToString([]byte(list)), "verify": true}, 1)
	wantStatus(t, r, sdk.StatusOK)
	got := payloadOf(t, r)["patients"].([]any)[0].(map[string]any)
	if got["platform"] != "complete" || got["status"] != "uploaded" || got["fixmedinsMdtrtId"] != id {
		t.Errorf("row %v, want the platform's complete visit %s", got, id)
	}
}

// TestSameDay: -verify matched a pending row with the platform's 4208
// record by comparing admission dates as text (datePart), so a platform
// writing them with a T, without separators or with a zone reported a
// visit it holds as absent. They are compared as dates, read in the
// layouts 4208 times are read in (parseTime).
func TestSameDay(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b string
		want bool
	}{
		{"2025-03-25", "2025-03-25 10:00:00", true},
		{"2025/3/25", "2025-03-25T10:00:00", true},
		{"2025-03-25", "20250325100000", true},
		{"2025-03-25", "202503251000", true},
		{"2025-03-25", "2025-03-25T10:00:00+08:00", true},
		{"2025-03-25", "2025-03-24T17:00:00Z", true}, // 01:00 on the 25th in UTC+8
		{"20250325", "2025-03-25 10:00", true},
		{"2025-03-25", "2025-03-26 00:00:00", false},
		{"2025-03-25", "2025-03-25T10:00:00Z", true},
		{"2025-03-25", "", false},
		{"", "", false},
		{"2025-03-25", "not a date", false},
	}
	for _, tc := range cases {
		if got := sameDay(tc.a, tc.b); got != tc.want {
			t.Errorf("sameDay(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := sameDay(tc.b, tc.a); got != tc.want {
			t.Errorf("sameDay(%q, %q) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}

// TestImportPendingVerifyDateLayouts: -verify matched a row without a
// visit id by its admission date compared as text with the platform's
// begntime, so a list (or platform) writing the date another way than
// yyyy-MM-dd reported the platform's complete visit as absent.
func TestImportPendingVerifyDateLayouts(t *testing.T) {
	t.Parallel()
	const id, cert = "ZYD", "350203197001013333"
	cases := map[string]struct {
		admitted string
		want     string
	}{
		"plain date":          {"2025-03-25", "complete"},
		"with a T":            {"2025-03-25T10:00:00", "complete"},
		"without separators":  {"20250325100000", "complete"},
		"with a zone":         {"2025-03-25T10:00:00+08:00", "complete"},
		"the day after":       {"2025-03-26T10:00:00", "absent"},
		"slashes, no seconds": {"2025/3/25 10:00", "complete"},
	}
	e := newEnv(t, nil)
	v := visit(id, 1)
	v["certno"], v["psn_name"] = cert, "王五"
	wantStatus(t, e.must("selfpay.4201A", "d-1", map[string]any{nodeFees: []any{fee(id, 1)}}, 1), sdk.StatusOK)
	wantStatus(t, e.must("selfpay.4202", "d-2", map[string]any{nodeMdtrt: v, nodeDiags: diagnoses()}, 1), sdk.StatusOK)
	wantStatus(t, e.must("selfpay.4203", "d-3", map[string]any{"fixmedins_mdtrt_id": id, "cplt_flag": "1"}, 1), sdk.StatusOK)
	for name, tc := range cases {
		list := "身份证号,姓名,入院时间\n" + cert + ",王五," + tc.admitted + "\n"
		r := e.must(OpImportPending, "d-imp-"+name, map[string]any{"filename": "p.csv", "content": base64.StdEncoding.EncodeToString([]byte(list)), "verify": true}, 1)
		wantStatus(t, r, sdk.StatusOK)
		got := payloadOf(t, r)["patients"].([]any)[0].(map[string]any)
		if got["platform"] != tc.want {
			t.Errorf("%s (%s): row %v, want the platform's visit reported %s", name, tc.admitted, got, tc.want)
		}
	}
}

// TestImportPendingVerifyMaskedOrCorrectedName: -verify searched 4208 by
// the list's name as well as its ID number. A pending list exported from
// the medical-insurance system shows names masked (张*), and a list
// exported before the hospital corrected a patient's name carries the old
// one: the platform, searching by that name, listed nothing, and a visit
// it holds complete was reported absent and its status turned to failed
// ("upload it again"). The search is by the ID number (and its type);
// the visit is picked by its id or admission date as before. A masked ID
// number cannot be searched by: the row says so instead of "absent".
func TestImportPendingVerifyMaskedOrCorrectedName(t *testing.T) {
	t.Parallel()
	const id = "ZYN"
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "n-1", upload(id, 1), 1), sdk.StatusOK)
	corrected := upload(id, 1)
	corrected["reupload"] = true
	corrected[nodeMdtrt].(map[string]any)["psn_name"] = "张珊"
	wantStatus(t, e.must(OpUpload, "n-2", corrected, 1), sdk.StatusOK)
	cases := map[string]struct {
		row            string // 医药机构就诊ID,姓名,身份证号
		platform, stat string
	}{
		"the name as the platform holds it":  {id + ",张珊," + testCert, "complete", statusUploaded},
		"the name masked, as lists show it":  {id + ",张*," + testCert, "complete", statusUploaded},
		"the name before it was corrected":   {id + ",张三," + testCert, "complete", statusUploaded},
		"no visit id, the name masked":       {",张*," + testCert, "complete", statusUploaded},
		"another person's ID number":         {id + ",张珊,350203198001019999", "absent", statusFailed},
		"the ID number masked: not searched": {id + ",张*,350***********1234", "not checked: the ID number is masked in the list; 4208 searches by the whole number", statusUploaded},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			list := "医药机构就诊ID,姓名,身份证号\n" + tc.row + "\n"
			r := e.must(OpImportPending, "n-imp-"+name, map[string]any{"filename": "p.csv", "content": base64.StdEncoding.EncodeToString([]byte(list)), "verify": true}, 1)
			wantStatus(t, r, sdk.StatusOK)
			got := payloadOf(t, r)["patients"].([]any)[0].(map[string]any)
			if got["platform"] != tc.platform || got["status"] != tc.stat {
				t.Errorf("row %v, want platform %q and status %s", got, tc.platform, tc.stat)
			}
		})
	}
}

// TestImportPendingVerifyRecordsWithoutVisitID: -verify picked the 4208
// record of a row naming its visit by the record's fixmedinsMdtrtId
// alone, so a platform answering records without it (which medgate's
// reconciliation allows for, visitKey) made a visit it holds complete
// read as absent, and its status turned to failed ("upload it again").
// Without the id, the record of the same admission day is the visit when
// it is the only one; with several the row says it cannot tell.
func TestImportPendingVerifyRecordsWithoutVisitID(t *testing.T) {
	t.Parallel()
	noID := func(m map[string]any) { delete(m, "fixmedinsMdtrtId") }
	e := newEnvWrapped(t, selfpaysim.Options{PaasID: testPaas, Token: testToken}, reshaped4208(noID), nil)
	const id, other = "ZYW1", "ZYW2"
	wantStatus(t, e.must(OpUpload, "w-1", upload(id, 1), 1), sdk.StatusOK)
	later := upload(other, 2)
	later[nodeMdtrt].(map[string]any)["begntime"] = "2025-05-02 08:00:00"
	wantStatus(t, e.must(OpUpload, "w-2", later, 1), sdk.StatusOK)
	cases := map[string]struct {
		row      string // 医药机构就诊ID,姓名,身份证号,入院时间
		platform string
		status   string
	}{
		"visit id and admission date":        {id + ",张三," + testCert + ",2025-03-25", "complete", statusUploaded},
		"visit id, date from medgate's file": {id + ",张三," + testCert + ",", "complete", statusUploaded},
		"the other visit":                    {other + ",张三," + testCert + ",2025-05-02", "complete", statusUploaded},
		"a day the platform has no visit of": {id + ",张三," + testCert + ",2025-03-20", "absent", statusFailed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			list := "医药机构就诊ID,姓名,身份证号,入院时间\n" + tc.row + "\n"
			r := e.must(OpImportPending, "w-imp-"+name, map[string]any{"filename": "p.csv", "content": base64.StdEncoding.EncodeToString([]byte(list)), "verify": true}, 1)
			wantStatus(t, r, sdk.StatusOK)
			got := payloadOf(t, r)["patients"].([]any)[0].(map[string]any)
			if got["platform"] != tc.platform || got["status"] != tc.status {
				t.Errorf("row %v, want platform %q and status %s", got, tc.platform, tc.status)
			}
		})
	}
}

// TestImportPendingRowsAsTheSheetShowsThem: the report's ROW is the row
// staff find the patient on when they open the list, blank rows and a
// cell written over two lines included, in a CSV file as in a workbook.
func TestImportPendingRowsAsTheSheetShowsThem(t *testing.T) {
	t.Parallel()
	// Rows as a spreadsheet shows them: 1 header, 2 blank, 3 ZY1, 4 and 5
	// blank, 6 ZY2 (its name on two lines), 7 ZY3.
	sheet := [][]string{
		{"医药机构就诊ID", "姓名", "身份证号"},
		nil,
		{"ZY1", "张三", "350203198001011234"},
		nil,
		nil,
		{"ZY2", "李\n四", "350203199001011111"},
		{"ZY3", "王五", "350203197001012222"},
	}
	csvText := "医药机构就诊ID,姓名,身份证号\n\nZY1,张三,350203198001011234\n\n\nZY2,\"李\n四\",350203199001011111\nZY3,王五,350203197001012222\n"
	f := excelize.NewFile()
	for i, row := range sheet {
		for j, v := range row {
			cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
			if err := f.SetCellStr("Sheet1", cell, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	book, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	testCases := map[string]struct {
		filename string
		content  []byte
	}{
		"csv":           {"pending.csv", []byte(csvText)},
		"csv with CRLF": {"pending.csv", []byte(strings.ReplaceAll(csvText, "\n", "\r\n"))},
		"xlsx":          {"pending.xlsx", book.Bytes()},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			r := e.must(OpImportPending, "imp-rows", map[string]any{"filename": tc.filename, "content": base64.StdEncoding.EncodeToString(tc.content)}, 1)
			wantStatus(t, r, sdk.StatusOK)
			var got []string
			for _, p := range payloadOf(t, r)["patients"].([]any) {
				m := p.(map[string]any)
				got = append(got, fmt.Sprintf("%v %v", m["row"], m["fixmedinsMdtrtId"]))
			}
			if want := "3 ZY1, 6 ZY2, 7 ZY3"; strings.Join(got, ", ") != want {
				t.Errorf("rows %q, want %q", strings.Join(got, ", "), want)
			}
		})
	}
}

// TestImportPendingColumnPreference: a list may carry several columns that
// pendingColumns names for one field, say both 住院号 (the HIS inpatient
// number) and 医药机构就诊ID. The header listed first in pendingColumns is
// the field's column, wherever it stands in the row; the leftmost was
// taken, so a list with 住院号 left of 医药机构就诊ID was matched by the
// inpatient number and every uploaded patient reported pending.
func TestImportPendingColumnPreference(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "cp-up", upload("ZY1", 1), 1), sdk.StatusOK)
	testCases := map[string]string{
		"preferred column right": "序号,住院号,姓名,医药机构就诊ID\n1,0000123,张三,ZY1\n",
		"preferred column left":  "序号,医药机构就诊ID,姓名,住院号\n1,ZY1,张三,0000123\n",
	}
	for name, list := range testCases {
		t.Run(name, func(t *testing.T) {
			r := e.must(OpImportPending, "cp-"+name, map[string]any{"filename": "p.csv", "content": base64.StdEncoding.EncodeToString([]byte(list))}, 1)
			wantStatus(t, r, sdk.StatusOK)
			p := payloadOf(t, r)
			if got := columnHeader(p, "fixmedins_mdtrt_id"); got != "医药机构就诊ID" {
				t.Errorf("visit id column %v, want 医药机构就诊ID", got)
			}
			pat := p["patients"].([]any)[0].(map[string]any)
			if pat["fixmedinsMdtrtId"] != "ZY1" || pat["status"] != "uploaded" {
				t.Errorf("patient %v, want ZY1 uploaded", pat)
			}
		})
	}
}

// TestTimesShownInChinaStandardTime: the times medgate shows staff of a
// visit's record (when it was completed, in the refusal of a second
// upload; updatedAt in a pending-list report) are written without a zone,
// as the platform's are, so they must be UTC+8 as the platform's and the
// hospital's clocks read; they were UTC, eight hours off.
func TestTimesShownInChinaStandardTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	before := time.Now().Add(-time.Second)
	wantStatus(t, e.must(OpUpload, "tz-1", upload("ZYTZ", 1), 1), sdk.StatusOK)
	after := time.Now().Add(time.Second)
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)
	testCases := map[string]func(t *testing.T) string{
		"second upload refused": func(t *testing.T) string {
			r := e.must(OpUpload, "tz-2", upload("ZYTZ", 1), 1)
			wantStatus(t, r, sdk.StatusInvalid)
			return stamp.FindString(r.Diagnostics[0].Detail)
		},
		"pending report": func(t *testing.T) string {
			list := "医药机构就诊ID,姓名\nZYTZ,张三\n"
			r := e.must(OpImportPending, "tz-3", map[string]any{"filename": "p.csv", "content": base64.StdEncoding.EncodeToString([]byte(list))}, 1)
			wantStatus(t, r, sdk.StatusOK)
			return fmt.Sprint(payloadOf(t, r)["patients"].([]any)[0].(map[string]any)["updatedAt"])
		},
	}
	for name, shown := range testCases {
		t.Run(name, func(t *testing.T) {
			s := shown(t)
			got, err := time.ParseInLocation("2006-01-02 15:04:05", s, time.FixedZone("UTC+8", 8*3600))
			if err != nil {
				t.Fatalf("no time shown: %q", s)
			}
			if got.Before(before.Truncate(time.Second)) || got.After(after) {
				t.Errorf("shown %q, read as UTC+8 %s, not between %s and %s", s, got, before, after)
			}
		})
	}
}

// TestImportPendingUnicodeText: Excel's "Unicode text" (Unicode 文本,
// *.txt), the way Chinese Excel saves a sheet as text with its characters
// kept, is UTF-16 with a byte-order mark, tab separated. It was decoded as
// GB18030, found no header and told staff to adjust pendingColumns.
func TestImportPendingUnicodeText(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "ut-up", upload("ZY1", 1), 1), sdk.StatusOK)
	text := "医药机构就诊ID\t姓名\t身份证号\r\nZY1\t张三\t350203198001011234\r\nZY9\t李四\t350203199001011111\r\n"
	utf16 := func(bigEndian bool) []byte {
		var b []byte
		if bigEndian {
			b = append(b, 0xfe, 0xff)
		} else {
			b = append(b, 0xff, 0xfe)
		}
		for _, u := range utf16.Encode([]rune(text)) {
			if bigEndian {
				b = append(b, byte(u>>8), byte(u))
			} else {
				b = append(b, byte(u), byte(u>>8))
			}
		}
		return b
	}
	testCases := map[string][]byte{
		"UTF-16LE": utf16(false),
		"UTF-16BE": utf16(true),
	}
	for name, content := range testCases {
		t.Run(name, func(t *testing.T) {
			r := e.must(OpImportPending, "ut-"+name, map[string]any{"filename": "pending.txt", "content": base64.StdEncoding.EncodeToString(content)}, 1)
			wantStatus(t, r, sdk.StatusOK)
			var got []string
			for _, p := range payloadOf(t, r)["patients"].([]any) {
				m := p.(map[string]any)
				got = append(got, fmt.Sprintf("%v %v %v", m["row"], m["fixmedinsMdtrtId"], m["status"]))
			}
			if want := "2 ZY1 uploaded, 3 ZY9 pending"; strings.Join(got, ", ") != want {
				t.Errorf("patients %q, want %q", strings.Join(got, ", "), want)
			}
		})
	}
}

// TestImportPendingXLSXDateCells: an admission date typed into Excel is a
// date cell (a number with a date format: 14, yyyy/m/d in Chinese Excel,
// or 22 with the time), which was read as excelize renders those formats
// by default, "03-25-25" and "3/25/25 10:00", so a row matched by its ID
// number and admission date found no visit and reported pending a patient
// medgate had uploaded.
func TestImportPendingXLSXDateCells(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "dc-up", upload("ZY1", 1), 1), sdk.StatusOK)
	testCases := map[string]int{"date (14)": 14, "date and time (22)": 22}
	for name, numFmt := range testCases {
		t.Run(name, func(t *testing.T) {
			f := excelize.NewFile()
			for i, v := range []any{"身份证号", "姓名", "入院日期"} {
				cell, _ := excelize.CoordinatesToCellName(i+1, 1)
				if err := f.SetCellValue("Sheet1", cell, v); err != nil {
					t.Fatal(err)
				}
			}
			for i, v := range []any{testCert, "张三", time.Date(2025, 3, 25, 10, 0, 0, 0, time.UTC)} {
				cell, _ := excelize.CoordinatesToCellName(i+1, 2)
				if err := f.SetCellValue("Sheet1", cell, v); err != nil {
					t.Fatal(err)
				}
			}
			style, err := f.NewStyle(&excelize.Style{NumFmt: numFmt})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.SetCellStyle("Sheet1", "C2", "C2", style); err != nil {
				t.Fatal(err)
			}
			book, err := f.WriteToBuffer()
			if err != nil {
				t.Fatal(err)
			}
			r := e.must(OpImportPending, "dc-"+name, map[string]any{"filename": "pending.xlsx", "content": base64.StdEncoding.EncodeToString(book.Bytes())}, 1)
			wantStatus(t, r, sdk.StatusOK)
			pat := payloadOf(t, r)["patients"].([]any)[0].(map[string]any)
			if pat["fixmedinsMdtrtId"] != "ZY1" || pat["status"] != "uploaded" {
				t.Errorf("patient %v, want ZY1 uploaded", pat)
			}
		})
	}
}

// TestImportPendingTabsAfterATitle: whether a text list is tab or comma
// separated was told from its first line alone, so a tab-separated list
// opening with a title line (自费病人待上传清单, no separator at all) was
// split at commas, its header never found.
func TestImportPendingTabsAfterATitle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantStatus(t, e.must(OpUpload, "tt-up", upload("ZY1", 1), 1), sdk.StatusOK)
	testCases := map[string]string{
		"tabs":   "自费病人待上传清单\n医药机构就诊ID\t姓名\t医疗总费用\nZY1\t张三\t1,234.00\n",
		"commas": "自费病人待上传清单\n医药机构就诊ID,姓名,备注\nZY1,张三,\"a\tb\"\n",
	}
	for name, list := range testCases {
		t.Run(name, func(t *testing.T) {
			r := e.must(OpImportPending, "tt-"+name, map[string]any{"filename": "pending.txt", "content": base64.StdEncoding.EncodeToString([]byte(list))}, 1)
			wantStatus(t, r, sdk.StatusOK)
			pat := payloadOf(t, r)["patients"].([]any)[0].(map[string]any)
			if pat["row"] != float64(3) || pat["fixmedinsMdtrtId"] != "ZY1" || pat["status"] != "uploaded" {
				t.Errorf("patient %v, want row 3, ZY1 uploaded", pat)
			}
		})
	}
}
