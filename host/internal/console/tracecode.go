package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Trace-code operations the console sends (plugins/tracecode/README.md).
const (
	opDraftGet     = "tracecode.draft.get"
	opDraftAdjust  = "tracecode.draft.adjust"
	opDraftConfirm = "tracecode.draft.confirm"
	opExport       = "tracecode.export"
)

func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

// draftLine is one line of a draft receipt (tracecode.draft.get).
type draftLine struct {
	LineNo       int      `json:"lineNo"`
	ItemCode     string   `json:"itemCode"`
	ItemName     string   `json:"itemName"`
	Spec         string   `json:"spec,omitempty"`
	Manufacturer string   `json:"manufacturer,omitempty"`
	ProductCode  string   `json:"productCode,omitempty"`
	MedListCode  string   `json:"medListCode,omitempty"`
	BatchNo      string   `json:"batchNo"`
	ProduceDate  string   `json:"produceDate,omitempty"`
	ExpiryDate   string   `json:"expiryDate"`
	Qty          string   `json:"qty"`
	Unit         string   `json:"unit,omitempty"`
	PackRatio    string   `json:"packRatio,omitempty"`
	Codes        []string `json:"codes"`
}

// adjustment is one recorded change (who, when, what).
type adjustment struct {
	At        time.Time `json:"at"`
	By        string    `json:"by"`
	Op        string    `json:"op"`
	LineNo    int       `json:"lineNo,omitempty"`
	Field     string    `json:"field,omitempty"`
	From      string    `json:"from,omitempty"`
	To        string    `json:"to,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	MessageID string    `json:"messageId,omitempty"`
}

// draftView is the reply of tracecode.draft.get.
type draftView struct {
	ID             string       `json:"id"`
	Status         string       `json:"status"`
	Version        int64        `json:"version"`
	SupplierBillNo string       `json:"supplierBillNo"`
	SupplierCode   string       `json:"supplierCode"`
	SupplierName   string       `json:"supplierName"`
	BillTime       string       `json:"billTime"`
	CreatedAt      time.Time    `json:"createdAt"`
	Lines          []draftLine  `json:"lines"`
	Adjustments    []adjustment `json:"adjustments"`
	ConfirmedAt    time.Time    `json:"confirmedAt"`
	ConfirmedBy    string       `json:"confirmedBy"`
	ReceiptNo      string       `json:"receiptNo"`
}

// change is one change of tracecode.draft.adjust.
type change struct {
	Op     string      `json:"op"`
	LineNo int         `json:"lineNo,omitempty"`
	Qty    json.Number `json:"qty,omitempty"`
	Field  string      `json:"field,omitempty"`
	Value  string      `json:"value,omitempty"`
	Codes  []string    `json:"codes,omitempty"`
	Line   *draftLine  `json:"line,omitempty"`
}

// adjustPayload is the payload of tracecode.draft.adjust.
type adjustPayload struct {
	DraftID         string   `json:"draftId"`
	By              string   `json:"by"`
	ExpectedVersion int64    `json:"expectedVersion,omitempty"`
	Reason          string   `json:"reason,omitempty"`
	Changes         []change `json:"changes"`
}

// confirmPayload is the payload of tracecode.draft.confirm.
type confirmPayload struct {
	DraftID         string `json:"draftId"`
	By              string `json:"by"`
	ExpectedVersion int64  `json:"expectedVersion,omitempty"`
}

// settableFields are the line fields tracecode.draft.adjust setField accepts.
var settableFields = []column{
	{"itemCode", "院内编码"}, {"itemName", "药品名称"}, {"spec", "规格"}, {"manufacturer", "生产企业"}, {"medListCode", "医保目录编码"},
	{"batchNo", "批号"}, {"produceDate", "生产日期"}, {"expiryDate", "有效期至"}, {"unit", "单位"}, {"packRatio", "包装比例"},
}

// draftData is the draft page's data.
type draftData struct {
	Site    string
	Draft   *draftView
	Fields  []column
	Problem *flash
}

// checkSite refuses a site where the plugin is not enabled.
func (c *Console) checkSite(w http.ResponseWriter, r *http.Request, plugin, site string) bool {
	sites := c.sitesOf(plugin)
	if slices.Contains(sites, site) {
		return true
	}
	fix := "Choose one of the sites where it is enabled: " + strings.Join(sites, ", ") + "."
	if len(sites) == 0 {
		fix = "Enable the " + plugin + " plugin for a site in the medgate configuration and reload."
	}
	c.fail(w, r, http.StatusNotFound, "站点未启用该插件 (plugin not enabled)", fmt.Sprintf("The %s plugin is not enabled for site %q.", plugin, site), fix)
	return false
}

func (c *Console) draft(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	site, id := q.Get("site"), q.Get("id")
	if !c.checkSite(w, r, "tracecode", site) {
		return
	}
	d := draftData{Site: site, Fields: settableFields}
	res := c.send(r.Context(), c.o.Wait, prefixList, site, opDraftGet, id, map[string]string{"draftId": id})
	if !res.ok() {
		d.Problem = res.flash("")
		c.render(w, r, http.StatusOK, "draft", "入库单 (draft) "+id, "drafts", d)
		return
	}
	var v draftView
	if err := json.Unmarshal(res.Reply.Payload, &v); err != nil {
		d.Problem = &flash{Title: "入库单格式不对 (unexpected reply)", MessageID: res.ID, Lines: []string{err.Error()}}
	} else {
		d.Draft = &v
	}
	c.render(w, r, http.StatusOK, "draft", "入库单 (draft) "+id, "drafts", d)
}

// jsonNumber is a JSON number literal.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// splitCodes splits pasted or scanned codes on white space, commas and semicolons.
func splitCodes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == '，' || r == '；' || r == ' ' || r == '\t' || r == '\r' || r == '\n'
	})
}

// parseChange builds the change a draft form asks for, or says what is wrong.
func parseChange(r *http.Request) (change, string) {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	ch := change{Op: f("op")}
	if ch.Op != "addLine" {
		n, err := strconv.Atoi(f("lineNo"))
		if err != nil || n <= 0 {
			return ch, "The line number is missing; use the form on the draft page."
		}
		ch.LineNo = n
	}
	switch ch.Op {
	case "setQty":
		q := f("qty")
		if !jsonNumber.MatchString(q) {
			return ch, fmt.Sprintf("数量 %q is not a number; enter the received quantity, e.g. 48.", q)
		}
		ch.Qty = json.Number(q)
	case "setField":
		ch.Field, ch.Value = f("field"), f("value")
	case "addCodes":
		ch.Codes = splitCodes(r.PostFormValue("codes"))
		if len(ch.Codes) == 0 {
			return ch, "Scan or paste at least one trace code to add."
		}
	case "removeCodes":
		ch.Codes = append(r.PostForm["code"], splitCodes(r.PostFormValue("codes"))...)
		if len(ch.Codes) == 0 {
			return ch, "Tick or paste at least one trace code to remove."
		}
	case "removeLine":
	case "addLine":
		ch.Line = &draftLine{ItemCode: f("itemCode"), ItemName: f("itemName"), Spec: f("spec"), BatchNo: f("batchNo"),
			ProduceDate: f("produceDate"), ExpiryDate: f("expiryDate"), Qty: f("qty"), Unit: f("unit"), Codes: splitCodes(r.PostFormValue("codes"))}
	default:
		return ch, fmt.Sprintf("The action %q is not known; use the forms on the draft page.", ch.Op)
	}
	return ch, ""
}

func draftURL(site, id string) string {
	return Prefix + "tracecode/draft?" + url.Values{"site": {site}, "id": {id}}.Encode()
}

// adjust sends one change of a draft as tracecode.draft.adjust, by the
// signed-in operator, against the version the page showed.
func (c *Console) adjust(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r)
	site, id := r.PostFormValue("site"), r.PostFormValue("id")
	if !c.checkSite(w, r, "tracecode", site) {
		return
	}
	ch, problem := parseChange(r)
	if problem != "" {
		c.sessions.setFlash(s, &flash{Title: "未发送 (not sent)", Lines: []string{problem}})
		redirect(w, r, draftURL(site, id))
		return
	}
	version, _ := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	p := adjustPayload{DraftID: id, By: s.operator, ExpectedVersion: version, Reason: strings.TrimSpace(r.PostFormValue("reason")), Changes: []change{ch}}
	res := c.send(r.Context(), c.o.Wait, prefixAction, site, opDraftAdjust, id, p)
	c.o.Logger.Info("console: draft adjusted", "operator", s.operator, "site", site, "draft", id, "op", ch.Op, "message", res.ID, "ok", res.ok())
	c.sessions.setFlash(s, res.flash("已保存 (saved): "+ch.Op))
	redirect(w, r, draftURL(site, id))
}

// confirm sends tracecode.draft.confirm by the signed-in operator.
func (c *Console) confirm(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r)
	site, id := r.PostFormValue("site"), r.PostFormValue("id")
	if !c.checkSite(w, r, "tracecode", site) {
		return
	}
	version, _ := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	res := c.send(r.Context(), c.o.Wait, prefixAction, site, opDraftConfirm, id, confirmPayload{DraftID: id, By: s.operator, ExpectedVersion: version})
	c.o.Logger.Info("console: draft confirmed", "operator", s.operator, "site", site, "draft", id, "message", res.ID, "ok", res.ok())
	f := res.flash("已确认 (confirmed)")
	if res.ok() {
		var rep struct {
			ReceiptNo string `json:"receiptNo"`
		}
		_ = json.Unmarshal(res.Reply.Payload, &rep)
		f.Lines = append(f.Lines, "采购入库单号 (receipt) "+rep.ReceiptNo+"; the formal purchase receipt was published for HIS.")
	}
	c.sessions.setFlash(s, f)
	redirect(w, r, draftURL(site, id))
}

// exportData is the export pages' data.
type exportData struct {
	Sites    []string
	Site     string
	From, To string
	Problem  *flash
	// After a successful export:
	Token     string
	File      download
	Rows      map[string]int64
	MessageID string
}

func (c *Console) exportForm(w http.ResponseWriter, r *http.Request) {
	today := c.o.Now().Format("2006-01-02")
	d := exportData{Sites: c.sitesOf("tracecode"), From: today, To: today}
	if len(d.Sites) > 0 {
		d.Site = d.Sites[0]
	}
	c.render(w, r, http.StatusOK, "export", "追溯码导出 (export)", "export", d)
}

// exportReply is the part of tracecode.export's reply the console uses.
type exportReply struct {
	Path     string           `json:"path"`
	FileName string           `json:"fileName"`
	Size     int64            `json:"size"`
	SHA256   string           `json:"sha256"`
	Rows     map[string]int64 `json:"rows"`
}

// export runs tracecode.export and offers the file it names.
func (c *Console) export(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r)
	d := exportData{Sites: c.sitesOf("tracecode"), Site: r.PostFormValue("site"), From: strings.TrimSpace(r.PostFormValue("from")), To: strings.TrimSpace(r.PostFormValue("to"))}
	if !c.checkSite(w, r, "tracecode", d.Site) {
		return
	}
	res := c.send(r.Context(), c.o.LongWait, prefixAction, d.Site, opExport, "", map[string]string{"from": d.From, "to": d.To})
	c.o.Logger.Info("console: export requested", "operator", s.operator, "site", d.Site, "from", d.From, "to", d.To, "message", res.ID, "ok", res.ok())
	d.MessageID = res.ID
	if !res.ok() {
		d.Problem = res.flash("")
		c.render(w, r, http.StatusOK, "export", "追溯码导出 (export)", "export", d)
		return
	}
	var rep exportReply
	if err := json.Unmarshal(res.Reply.Payload, &rep); err != nil || !filepath.IsAbs(rep.Path) || len(rep.SHA256) != 64 {
		d.Problem = &flash{Title: "导出回复不完整 (unexpected reply)", MessageID: res.ID,
			Lines: []string{"tracecode.export did not reply with an absolute path and a SHA-256; check the plugin version and exportDir"}}
		c.render(w, r, http.StatusOK, "export", "追溯码导出 (export)", "export", d)
		return
	}
	name := rep.FileName
	if name == "" {
		name = filepath.Base(rep.Path)
	}
	d.File = download{Path: rep.Path, Name: name, SHA256: strings.ToLower(rep.SHA256), Size: rep.Size}
	d.Token = c.downloads.add(d.File)
	d.Rows = rep.Rows
	c.render(w, r, http.StatusOK, "exported", "追溯码导出 (export)", "export", d)
}

// download serves a file named by an export reply, by its random token,
// only while the token lives and only if the file still has the SHA-256
// the export reported.
func (c *Console) download(w http.ResponseWriter, r *http.Request) {
	f, ok := c.downloads.get(r.PathValue("token"))
	if !ok {
		c.fail(w, r, http.StatusNotFound, "下载链接无效 (download link unknown or expired)",
			"Download links work for one hour and only in the medgate instance that made the export.", "Run the export again from "+Prefix+"tracecode/export.")
		return
	}
	fh, err := os.Open(f.Path)
	if err != nil {
		c.fail(w, r, http.StatusGone, "文件不存在 (file gone)", "The exported file cannot be opened: "+err.Error(), "Run the export again; check that nothing cleans exportDir meanwhile.")
		return
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil || !st.Mode().IsRegular() {
		c.fail(w, r, http.StatusGone, "文件不可用 (not a regular file)", "The export path does not name a regular file.", "Run the export again.")
		return
	}
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		c.fail(w, r, http.StatusInternalServerError, "文件读取失败 (read error)", err.Error(), "Check the disk holding exportDir, then run the export again.")
		return
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 || (f.Size > 0 && st.Size() != f.Size) {
		c.o.Logger.Warn("console: exported file changed since the export; not served", "path", f.Path, "want", f.SHA256, "got", got)
		c.fail(w, r, http.StatusConflict, "文件已被改动 (file changed)",
			"The file's SHA-256 is no longer the one the export reported, so the console does not serve it.", "Run the export again; if this repeats, check who writes to exportDir.")
		return
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		c.fail(w, r, http.StatusInternalServerError, "文件读取失败 (read error)", err.Error(), "Run the export again.")
		return
	}
	s := sessionFrom(r)
	c.o.Logger.Info("console: export downloaded", "operator", s.operator, "file", f.Name)
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	w.Header().Set("X-Content-SHA256", f.SHA256)
	http.ServeContent(w, r, "", st.ModTime(), fh)
}
