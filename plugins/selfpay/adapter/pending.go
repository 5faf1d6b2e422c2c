package adapter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	xunicode "golang.org/x/text/encoding/unicode"

	"github.com/medgate/medgate/plugins/hsa"
	"github.com/medgate/medgate/plugins/sdk"
)

// Limits of a pending list.
const (
	maxPendingBytes = 8 << 20
	// maxPendingUnzipped bounds what an XLSX list may unpack to.
	maxPendingUnzipped = 64 << 20
	maxPendingRows     = 20000
	headerScanRows     = 10
)

// pendingRequest is the selfpay.import-pending payload.
type pendingRequest struct {
	Filename string `json:"filename"`
	Format   string `json:"format"`
	Content  string `json:"content"`
	Sheet    string `json:"sheet"`
	Verify   bool   `json:"verify"`
}

// pendingRow is one patient of the list.
type pendingRow struct {
	row    int
	fields map[string]string
}

// pendingReport is one line of the report.
type pendingReport struct {
	Row          int    `json:"row"`
	MdtrtID      string `json:"fixmedinsMdtrtId,omitempty"`
	Name         string `json:"psnName,omitempty"`
	Certno       string `json:"certno,omitempty"`
	Begntime     string `json:"begntime,omitempty"`
	Endtime      string `json:"endtime,omitempty"`
	MedfeeSumamt string `json:"medfeeSumamt,omitempty"`
	// UploadedSumamt is the medfee_sumamt medgate uploaded for the visit,
	// given only when the list's total (MedfeeSumamt) is another.
	UploadedSumamt string `json:"uploadedSumamt,omitempty"`
	Status         string `json:"status"`
	Reason         string `json:"reason,omitempty"`
	MessageID      string `json:"messageId,omitempty"`
	UpdatedAt      string `json:"updatedAt,omitempty"`
	Platform       string `json:"platform,omitempty"`
}

// importPending runs selfpay.import-pending.
func (r *run) importPending(ctx context.Context) (*sdk.HandleResponse, error) {
	var req pendingRequest
	m, bad := decode(r.req.Payload)
	if bad != nil {
		return bad, nil
	}
	var ds sdk.Diagnostics
	for _, k := range sortedKeys(m) {
		switch k {
		case "filename", "format", "content", "sheet":
			if _, ok := m[k].(string); !ok {
				ds.Error("$."+k, "type", k+" must be a string", "")
			}
		case "list":
			// The command line's file argument: {"name", "content"}.
			f, ok := m[k].(map[string]any)
			if !ok {
				ds.Error("$.list", "type", "list must be an object with name and content", "")
				continue
			}
			if m["filename"] == nil {
				m["filename"] = f["name"]
			}
			if m["content"] == nil {
				m["content"] = f["content"]
			}
		case "verify":
			if _, ok := m[k].(bool); !ok {
				ds.Error("$.verify", "type", "verify must be true or false", "true also asks the platform (4208) about each patient")
			}
		default:
			ds.Error("$."+k, "unknown", "selfpay.import-pending does not take this field", "send filename, content (base64) and optionally format, sheet, verify")
		}
	}
	req.Filename, req.Format, req.Content, req.Sheet = str(m["filename"]), strings.ToLower(str(m["format"])), str(m["content"]), str(m["sheet"])
	req.Verify, _ = m["verify"].(bool)
	if req.Content == "" {
		ds.Error("$.content", "required", "the file is missing", "attach the pending list exported from the medical-insurance system as base64 in content")
	}
	if ds.HasError() {
		return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
	}
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(req.Content))
	if err != nil {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.content", Rule: "format", Summary: "content is not base64", Detail: "encode the file with standard base64 (RFC 4648)"}), nil
	}
	if len(data) > maxPendingBytes {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.content", Rule: "length", Summary: "the file is too large", Detail: fmt.Sprintf("%d bytes; split the list into files of at most %d bytes", len(data), maxPendingBytes)}), nil
	}
	if kind := unreadableWorkbook(data); kind != "" {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.content", Rule: "format", Summary: "the file " + req.Filename + " is " + kind + ", which medgate does not read",
			Detail: "open it in Excel or WPS and save it as an Excel workbook (.xlsx) or as CSV (UTF-8 or GB18030), then import that file"}), nil
	}
	format := pendingFormat(req.Format, req.Filename, data)
	rows, err := readTable(format, data, req.Sheet)
	if err != nil {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.content", Rule: "format", Summary: "cannot read the " + format + " file", Detail: err.Error()}), nil
	}
	list, mapping, err := pendingRows(rows, r.s.opts.columns)
	if err != nil {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.content", Rule: "format", Summary: "cannot find the columns of the pending list", Detail: err.Error()}), nil
	}
	reports := make([]pendingReport, 0, len(list))
	summary := map[string]int{}
	verifyStopped := false
	for _, row := range list {
		rep, err := r.pendingStatus(ctx, row)
		if err != nil {
			return nil, err
		}
		if req.Verify && !verifyStopped {
			if err := r.verifyPending(ctx, row, &rep); errors.Is(err, errPause) {
				verifyStopped = true
			}
		}
		if req.Verify && verifyStopped && rep.Platform == "" {
			rep.Platform = "not checked: the time for this message ran out"
		}
		summary[rep.Status]++
		reports = append(reports, rep)
	}
	out := map[string]any{"file": req.Filename, "format": format, "rows": len(list), "columns": columnList(mapping), "summary": summary, "patients": reports, "verified": req.Verify,
		"headline": pendingHeadline(req.Filename, len(list), summary)}
	payload, err := marshalReport(out)
	if err != nil {
		return nil, err
	}
	r.a.log.Info("pending list imported", "site", r.s.code, "message", r.req.MessageID, "rows", len(list), "summary", fmt.Sprint(summary))
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: payload}, nil
}

// unreadableWorkbook names what data is when it is a spreadsheet medgate
// cannot read, else "": an Excel 97–2003 workbook (.xls, and WPS's .et,
// both OLE2 compound files), or an HTML page, as some systems export
// tables named .xls. Read as CSV, either gave a refusal to find the
// list's columns, as if the headers were at fault.
func unreadableWorkbook(data []byte) string {
	if bytes.HasPrefix(data, []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")) {
		return "an Excel 97-2003 workbook (.xls) or a WPS spreadsheet (.et)"
	}
	head := bytes.ToLower(bytes.TrimLeft(bytes.TrimPrefix(data[:min(len(data), 512)], []byte("\xef\xbb\xbf")), " \t\r\n"))
	for _, p := range []string{"<!doctype html", "<html", "<table", "<?xml"} {
		if bytes.HasPrefix(head, []byte(p)) {
			return "a web page or XML file (an HTML table saved as .xls, or Excel's XML spreadsheet)"
		}
	}
	return ""
}

// pendingFormat decides between xlsx and csv: the format given, the file
// name's extension, or the content (XLSX files are ZIP archives).
func pendingFormat(format, name string, data []byte) string {
	switch format {
	case "xlsx", "csv":
		return format
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".xlsx", ".xlsm":
		return "xlsx"
	case ".csv", ".txt":
		return "csv"
	}
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return "xlsx"
	}
	return "csv"
}

// readTable returns the cells of the sheet (first sheet by default) or of
// the CSV file (UTF-8 with or without BOM, GB18030 as Chinese Excel
// writes it, or UTF-16 with a BOM as its "Unicode text"; comma or tab
// separated).
func readTable(format string, data []byte, sheet string) ([][]string, error) {
	if format == "xlsx" {
		// A few compressed megabytes can unpack to millions of rows: the
		// unpacked size is bounded and the rows are read one by one, up to
		// the same limit as a CSV file's.
		// Date cells (a date typed into Excel: formats 14 and 22) are
		// rendered yyyy-mm-dd [hh:mm:ss], as the platform writes dates, not
		// in excelize's default US pattern (03-25-25), which no date
		// comparison reads.
		f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: maxPendingUnzipped,
			ShortDatePattern: "yyyy-mm-dd", LongTimePattern: "hh:mm:ss"})
		if err != nil {
			return nil, fmt.Errorf("not an XLSX workbook, or one that unpacks to more than %d MB (%v); save the list as .xlsx or .csv, or split it", maxPendingUnzipped>>20, err)
		}
		defer f.Close()
		sheets := f.GetSheetList()
		if sheet == "" {
			if len(sheets) == 0 {
				return nil, errors.New("the workbook has no sheet")
			}
			sheet = sheets[0]
		}
		it, err := f.Rows(sheet)
		if err != nil {
			return nil, fmt.Errorf("sheet %q: %v; the workbook has %s", sheet, err, strings.Join(sheets, ", "))
		}
		defer it.Close()
		var rows [][]string
		for it.Next() {
			row, err := it.Columns()
			if err != nil {
				return nil, fmt.Errorf("sheet %q: %v", sheet, err)
			}
			rows = append(rows, row)
			if len(rows) > maxPendingRows+headerScanRows {
				return nil, fmt.Errorf("more than %d rows; split the list", maxPendingRows)
			}
		}
		if err := it.Error(); err != nil {
			return nil, fmt.Errorf("sheet %q: %v", sheet, err)
		}
		return rows, nil
	}
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		// Excel's "Unicode text" (Unicode 文本, *.txt): UTF-16 with a
		// byte-order mark, tab separated.
		dec, err := xunicode.UTF16(xunicode.LittleEndian, xunicode.ExpectBOM).NewDecoder().Bytes(data)
		if err != nil {
			return nil, errors.New("the file starts as UTF-16 text but cannot be read as it; save the list as UTF-8 CSV or .xlsx")
		}
		data = dec
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		dec, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
		if err != nil {
			return nil, errors.New("the CSV file is neither UTF-8 nor GB18030; save it as UTF-8 CSV")
		}
		data = dec
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	// The first line with a separator tells which (a title line above
	// the header, 自费病人待上传清单, may have none).
	for i, line := range strings.SplitN(string(data), "\n", headerScanRows+1) {
		tabs, commas := strings.Count(line, "\t"), strings.Count(line, ",")
		if i == headerScanRows || tabs+commas > 0 {
			if tabs > commas {
				cr.Comma = '\t'
			}
			break
		}
	}
	// The reader skips blank lines, which a spreadsheet shows as rows: each
	// one it skipped becomes an empty row, so that a row's index is the
	// row staff find it on (a cell written over two lines is one row).
	// They count towards the limit, as a workbook's blank rows do.
	var rows [][]string
	end := 0 // the line the previous record ended on
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("CSV: %v", err)
		}
		start, _ := cr.FieldPos(0)
		for ; end+1 < start && len(rows) <= maxPendingRows+headerScanRows; end++ {
			rows = append(rows, nil)
		}
		last, _ := cr.FieldPos(len(rec) - 1)
		end = last + strings.Count(rec[len(rec)-1], "\n")
		rows = append(rows, rec)
		if len(rows) > maxPendingRows+headerScanRows {
			return nil, fmt.Errorf("more than %d rows; split the list", maxPendingRows)
		}
	}
	return rows, nil
}

// pendingRows finds the header row and maps the data rows to fields.
func pendingRows(rows [][]string, columns map[string][]string) ([]pendingRow, map[string]string, error) {
	norm := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	header, index := -1, map[string]int{}
	for i := 0; i < len(rows) && i < headerScanRows; i++ {
		// A field's column is that of the header listed first in
		// pendingColumns, wherever it stands: a list may carry several
		// (住院号 beside 医药机构就诊ID), and the leftmost is not the best.
		found, rank := map[string]int{}, map[string]int{}
		for j, cell := range rows[i] {
			if strings.TrimSpace(cell) == "" {
				continue
			}
			for field, names := range columns {
				for k, n := range names {
					if norm(cell) != norm(n) {
						continue
					}
					if r, seen := rank[field]; !seen || k < r {
						found[field], rank[field] = j, k
					}
					break
				}
			}
		}
		if len(found) >= min(2, len(columns)) && (hasKey(found, "fixmedins_mdtrt_id") || hasKey(found, "certno")) {
			header, index = i, found
			break
		}
	}
	if header < 0 {
		var want []string
		for _, f := range []string{"fixmedins_mdtrt_id", "certno"} {
			want = append(want, f+" ("+strings.Join(columns[f], ", ")+")")
		}
		return nil, nil, fmt.Errorf("no header row in the first %d rows names %s plus another column; adjust the pendingColumns setting to the list's headers", headerScanRows, strings.Join(want, " or "))
	}
	mapping := map[string]string{}
	for f, j := range index {
		mapping[f] = strings.TrimSpace(rows[header][j])
	}
	var out []pendingRow
	for i := header + 1; i < len(rows); i++ {
		fields := map[string]string{}
		blank := true
		for f, j := range index {
			if j < len(rows[i]) {
				v := strings.TrimSpace(rows[i][j])
				fields[f] = v
				blank = blank && v == ""
			}
		}
		if blank {
			continue
		}
		out = append(out, pendingRow{row: i + 1, fields: fields})
		if len(out) > maxPendingRows {
			return nil, nil, fmt.Errorf("more than %d patients; split the list", maxPendingRows)
		}
	}
	return out, mapping, nil
}

func hasKey(m map[string]int, k string) bool { _, ok := m[k]; return ok }

// pendingStatus reports one row from medgate's records.
func (r *run) pendingStatus(ctx context.Context, row pendingRow) (pendingReport, error) {
	f := row.fields
	rep := pendingReport{Row: row.row, MdtrtID: f["fixmedins_mdtrt_id"], Name: hsa.MaskName(f["psn_name"]), Certno: hsa.MaskID(f["certno"]),
		Begntime: f["begntime"], Endtime: f["endtime"], MedfeeSumamt: f["medfee_sumamt"]}
	if rep.MdtrtID == "" && f["certno"] == "" {
		rep.Status, rep.Reason = statusInvalid, "the row has neither a visit id (fixmedins_mdtrt_id) nor an ID number; check the pendingColumns setting"
		return rep, nil
	}
	mangled := numberMangled(f["certno"])
	if rep.MdtrtID == "" && mangled {
		rep.Status, rep.Reason = statusInvalid, "the row has no visit id and its ID number cannot be read: "+mangledNote
		return rep, nil
	}
	var p *patientRecord
	note := ""
	if mangled {
		note = "; its ID number was not compared: " + mangledNote
	}
	if rep.MdtrtID != "" {
		var err error
		if p, err = r.patient(ctx, rep.MdtrtID); err != nil {
			return rep, err
		}
	} else {
		cands, err := r.visitsByCert(ctx, f["certno"])
		if err != nil {
			return rep, err
		}
		if day := strings.TrimSpace(f["begntime"]); day != "" {
			var same []*patientRecord
			for _, c := range cands {
				if sameDay(c.Begntime, day) {
					same = append(same, c)
				}
			}
			cands = same
		}
		sort.Slice(cands, func(i, j int) bool { return cands[i].UpdatedAt.After(cands[j].UpdatedAt) })
		if len(cands) > 0 {
			p = cands[0]
			rep.MdtrtID = p.MdtrtID
		}
		if len(cands) > 1 {
			note = fmt.Sprintf(" (%d visits of this person match; showing the latest, add the visit id column to choose)", len(cands))
		}
	}
	var parts string
	kind := partsNone
	if id := rep.MdtrtID; id != "" {
		var since time.Time // a set dropped before the visit's record is past
		if p != nil {
			since = p.UpdatedAt
		}
		var err error
		if parts, kind, err = r.partsNote(ctx, id, since); err != nil {
			return rep, err
		}
	}
	if p == nil {
		rep.Status, rep.Reason = statusPending, "no selfpay.upload has been received for this visit"
		switch kind {
		case partsSending:
			rep.Reason = "the stay is being sent in parts" + parts
		case partsGivenUp:
			rep.Reason = "the stay was sent in parts" + parts
		default:
			rep.Reason += parts
		}
		if rep.MdtrtID == "" {
			rep.Reason = "no selfpay.upload has been received for this ID number" + map[bool]string{true: " and admission date", false: ""}[f["begntime"] != ""]
		}
		rep.Reason += note
		return rep, nil
	}
	rep.MessageID, rep.UpdatedAt = p.MessageID, shownTime(p.UpdatedAt)
	if rep.Begntime == "" {
		rep.Begntime = p.Begntime
	}
	switch p.Status {
	case statusUploaded:
		rep.Status, rep.Reason = statusUploaded, fmt.Sprintf("uploaded and marked complete (%d fee lines)", p.FeeLines)
	case statusUploading:
		rep.Status, rep.Reason = statusUploading, "an upload is in progress (step "+p.Step+")"
	case statusFailed:
		rep.Status, rep.Reason = statusFailed, p.Reason
	case statusCancelling:
		rep.Status, rep.Reason = statusCancelling, "a cancellation is in progress"
	case statusCancelled:
		rep.Status, rep.Reason = statusCancelled, "the upload was withdrawn (selfpay.cancel); upload it again"
		if p.Reason != "" {
			rep.Reason = p.Reason
		}
	default:
		rep.Status, rep.Reason = statusPending, "unknown record status "+p.Status
	}
	if kind == partsGivenUp && (p.Status == statusUploading || p.Status == statusFailed) {
		// The upload in progress, or failed and retried, is the given-up
		// one of the set's last part: no one retries it (the parts note
		// names its message, and what to do).
		rep.Status, rep.Reason = statusFailed, "the upload stopped at step "+p.Step+" and was given up"
		if p.Reason != "" {
			rep.Reason += " (its last failure, before it was given up: " + p.Reason + ")"
		}
	}
	other, err := r.anotherPerson(ctx, f["certno"], p)
	if err != nil {
		return rep, err
	}
	if other {
		// The list's patient was not uploaded under this visit id, whatever
		// became of the upload of the other person (nor is the list's
		// total to be compared with that upload's).
		rep.Status = statusFailed
		rep.Reason = fmt.Sprintf("medgate uploaded visit %s for another person (%s, ID number %s, message %s), not for the list's: "+
			"this row's patient has not been uploaded under this visit id. Check the visit id in the HIS against the list; "+
			"if the HIS sent the visit with the wrong patient, correct it there and upload the visit again (with \"reupload\": true once it is complete); "+
			"medgate's record of that upload: %s", p.MdtrtID, p.Name, p.Certno, p.MessageID, rep.Reason)
	} else if listed, ok := listedAmount(f["medfee_sumamt"]); ok {
		if up, ok := rat(p.MedfeeSumamt); ok && up.Cmp(listed) != 0 {
			rep.UploadedSumamt = p.MedfeeSumamt
			rep.Reason += fmt.Sprintf("; the list's total (医疗总费用) %s is not the %s medgate uploaded (medfee_sumamt, message %s): check the visit's fee lines against the list and, "+
				"if the list is right, correct them in the HIS and upload the visit again (with \"reupload\": true once it is complete)", listed.FloatString(2), p.MedfeeSumamt, p.MessageID)
		}
	}
	rep.Reason += parts + note
	return rep, nil
}

// anotherPerson reports whether the visit p, which a row names by its
// visit id, was uploaded for another person than the row's: the row's ID
// number (certno), whole, hashes otherwise than the one p was uploaded
// with. A row without an ID number, or with one the list masks, and a
// record kept without the hash, are not compared.
func (r *run) anotherPerson(ctx context.Context, certno string, p *patientRecord) (bool, error) {
	certno = strings.TrimSpace(certno)
	if certno == "" || p.CertHash == "" || strings.ContainsFunc(certno, isMask) || numberMangled(certno) {
		return false, nil
	}
	h, err := r.certHash(ctx, certno)
	if err != nil {
		return false, err
	}
	return h != p.CertHash, nil
}

// certTypeCode reports whether v is written as a psn_cert_type code is
// (01, 90, up to 6 letters or digits), not by the type's name.
func certTypeCode(v string) bool {
	if v == "" || len(v) > 6 {
		return false
	}
	for _, c := range v {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// mangledNote says what became of an ID number numberMangled accepts and
// what to do.
const mangledNote = "it is a number in scientific notation or with its last digits turned to 0 " +
	"(the list was saved from Excel or WPS with the ID number column as numbers, which keep 15 digits); " +
	"format the column as text (设置单元格格式 → 文本), export or type the ID numbers again and import the list again"

// numberMangled reports whether certno, an ID number as a list's cell
// reads, is one a spreadsheet stored as a number: in scientific notation
// (3.50203198001011E+17), or 16 to 19 digits whose digits after the 15th
// are all 0 (350203198001011000, a number's 15 significant digits),
// unless it is an 18-digit resident ID number whose check character
// (GB 11643) is right, as a real one ending in 000 is.
func numberMangled(certno string) bool {
	s := strings.TrimSpace(certno)
	if i := strings.IndexAny(s, "eE"); i > 0 && i < len(s)-1 {
		mant, exp := s[:i], strings.TrimPrefix(s[i+1:], "+")
		if _, err := strconv.ParseFloat(mant, 64); err == nil && exp != "" && strings.Trim(exp, "0123456789") == "" {
			return true
		}
	}
	if len(s) < 16 || len(s) > 19 || strings.Trim(s, "0123456789") != "" || strings.Trim(s[15:], "0") != "" {
		return false
	}
	return !(len(s) == 18 && residentCheckOK(s))
}

// residentCheckOK reports whether the 18th character of a resident ID
// number is the check character of its first 17 digits (GB 11643-1999).
func residentCheckOK(id string) bool {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(id[i]-'0') * w
	}
	return id[17] == "10X98765432"[sum%11]
}

// pendingColumn says from which header of the list a field was read.
type pendingColumn struct {
	Field  string `json:"field"`
	Header string `json:"header"`
}

// columnList is a report's mapping of fields to the list's headers, in
// field order. It is a list of {field, header}, not an object keyed by
// field: medgate masks the values under certno and psn_name wherever it
// shows a reply (pii.PersonalKey), which made their headers read 身***
// and 姓*.
func columnList(mapping map[string]string) []pendingColumn {
	out := make([]pendingColumn, 0, len(mapping))
	for f, h := range mapping {
		out = append(out, pendingColumn{Field: f, Header: h})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// listedAmount reads a pending list's total as a decimal, as the list may
// write it: with a currency sign (￥, ¥), the unit 元 or thousands
// separators; false when the cell is empty or holds no number.
func listedAmount(s string) (*big.Rat, bool) {
	s = strings.NewReplacer(",", "", "，", "", "￥", "", "¥", "", "元", "", " ", "").Replace(strings.TrimSpace(s))
	return rat(s)
}

// verifyPending asks the platform (4208, by the row's ID number and its
// type, not its name) about one row and corrects the status when the
// platform disagrees with medgate's records.
func (r *run) verifyPending(ctx context.Context, row pendingRow, rep *pendingReport) error {
	f := row.fields
	if f["certno"] == "" {
		rep.Platform = "not checked: 4208 needs the ID number column"
		return nil
	}
	if numberMangled(f["certno"]) {
		rep.Platform = "not checked: the list's ID number was stored as a number (see the reason)"
		return nil
	}
	if strings.ContainsFunc(f["certno"], isMask) {
		rep.Platform = "not checked: the ID number is masked in the list; 4208 searches by the whole number"
		return nil
	}
	if err := r.beforeCall(ctx); err != nil {
		return err
	}
	// Not by the name: lists exported from the medical-insurance system
	// show it masked (张*), and one exported before the hospital corrected
	// it carries the old one; searched by either, the platform lists
	// nothing of a visit it holds.
	q := map[string]any{"certno": f["certno"]}
	typeNote := ""
	if v := strings.TrimSpace(f["psn_cert_type"]); certTypeCode(v) {
		q["psn_cert_type"] = v
	} else if v != "" {
		// A list for people to read names the type (居民身份证): sent as
		// psn_cert_type, it matched no visit, and the visit was reported
		// absent. The ID number alone finds it.
		typeNote = fmt.Sprintf(" (证件类型 %q is not a code: searched by the ID number alone)", v)
	}
	defer func() {
		if typeNote != "" && !strings.HasPrefix(rep.Platform, "error") {
			rep.Platform += typeNote
		}
	}()
	recs, err := r.s.client.QueryAll(ctx, r.h, r.req.MessageID, "4208", q, r.s.opts.pageSize, 0)
	if err != nil {
		rep.Platform = "error: " + hsa.MaskText(err.Error())
		return nil
	}
	var match map[string]any
	var visits []map[string]any // of this person, when the row names no visit
	// A row naming its visit whose records the platform answers without
	// fixmedinsMdtrtId: those admitted the day of the row, or of medgate's
	// record of the visit (pendingStatus).
	day := f["begntime"]
	if day == "" {
		day = rep.Begntime
	}
	var sameDayNoID []map[string]any
	for _, raw := range recs {
		var rec map[string]any
		if decodeRecord(raw, &rec) != nil || str(rec["valiFlag"]) == "0" || !r.ownInstitution(rec) {
			continue // another institution's visit of the person is not the row's
		}
		id := str(rec["fixmedinsMdtrtId"])
		if rep.MdtrtID == "" && f["begntime"] == "" {
			visits = append(visits, rec)
			continue
		}
		if rep.MdtrtID != "" && id == rep.MdtrtID || rep.MdtrtID == "" && sameDay(str(rec["begntime"]), f["begntime"]) {
			match = rec
			break
		}
		if rep.MdtrtID != "" && id == "" && sameDay(str(rec["begntime"]), day) {
			sameDayNoID = append(sameDayNoID, rec)
		}
	}
	// Neither a visit id nor an admission date: the person's only visit
	// is the one; with several, which one cannot be told.
	if len(visits) == 1 {
		match = visits[0]
	}
	if match == nil && len(sameDayNoID) == 1 {
		match = sameDayNoID[0]
	}
	switch {
	case len(visits) > 1:
		rep.Platform = fmt.Sprintf("%d visits of this person; add the visit id or admission date column to check one", len(visits))
	case match == nil && len(sameDayNoID) > 1:
		rep.Platform = fmt.Sprintf("not checked: %d visits of this person admitted that day, answered without their visit id", len(sameDayNoID))
	case match == nil:
		rep.Platform = "absent"
		if rep.Status == statusUploaded {
			rep.Status, rep.Reason = statusFailed, "medgate completed the upload but the platform has no such visit (4208); upload it again"
		}
	case str(match["cpltFlag"]) == "1":
		rep.Platform = "complete"
		if rep.MdtrtID == "" {
			rep.MdtrtID = str(match["fixmedinsMdtrtId"])
		}
		if rep.Status != statusUploaded {
			rep.Status, rep.Reason = statusUploaded, "the platform has the visit complete (4208), though medgate's record says "+rep.Status
		}
	default:
		rep.Platform = "incomplete"
		if rep.Status == statusUploaded {
			rep.Status, rep.Reason = statusFailed, "the platform has the visit but not marked complete (4203 cplt_flag=1 missing); upload it again with reupload"
		}
	}
	if match != nil {
		platformTotal(rep, f["medfee_sumamt"], match)
	}
	return nil
}

// platformTotal notes in rep's reason a total the platform holds for the
// row's visit (4208 medfeeSumamt) other than the list's (listed).
func platformTotal(rep *pendingReport, listed string, rec map[string]any) {
	want, ok1 := listedAmount(listed)
	got, ok2 := rat(str(rec["medfeeSumamt"]))
	if ok1 && ok2 && got.Cmp(want) != 0 {
		rep.Reason += fmt.Sprintf("; the platform holds the total %s (4208 medfeeSumamt), the list %s", str(rec["medfeeSumamt"]), want.FloatString(2))
	}
}

// datePart returns the yyyy-MM-dd of a date or datetime in common layouts
// (2025-04-01, 2025/4/1, 20250401, with or without a time).
func datePart(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	day, _, _ := strings.Cut(s, " ")
	day = strings.ReplaceAll(day, "/", "-")
	if len(day) == 8 && !strings.Contains(day, "-") {
		return day[:4] + "-" + day[4:6] + "-" + day[6:]
	}
	parts := strings.Split(day, "-")
	if len(parts) == 3 {
		for i := 1; i < 3; i++ {
			if len(parts[i]) == 1 {
				parts[i] = "0" + parts[i]
			}
		}
		return strings.Join(parts, "-")
	}
	return day
}

// marshalReport encodes without escaping <, > and & (names stay readable).
func marshalReport(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("selfpay: encode the report: %w", err)
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// sameDay reports whether a and b, dates or times, fall on the same day
// (UTC+8, the platform's): a pending list's admission date and a 4208
// record's begntime. Both are read in the layouts 4208 times are read in
// (parseTime), so a platform writing them another way (with a T, without
// separators, with a zone) still matches; a value parseTime cannot read
// is compared by its datePart. An empty value matches nothing.
func sameDay(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" || b == "" {
		return false
	}
	ta, ok1 := parseTime(a)
	tb, ok2 := parseTime(b)
	if ok1 && ok2 {
		ya, ma, da := ta.t.Date()
		yb, mb, db := tb.t.Date()
		return ya == yb && ma == mb && da == db
	}
	return datePart(a) == datePart(b)
}
