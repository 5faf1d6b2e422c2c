package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Trace-code operations the console sends (plugins/tracecode/README.md).
const (
	opDraftGet     = "tracecode.draft.get"
	opDraftAdjust  = "tracecode.draft.adjust"
	opDraftConfirm = "tracecode.draft.confirm"
)

// pageRoutes adds the draft-receipt pages, the one part of the console
// not yet expressed as plugin declarations: its line editor needs a view
// kind (a document with editable lines) the SDK does not declare yet.
func (c *Console) pageRoutes(m *http.ServeMux) {
	m.Handle("GET "+Prefix+"tracecode/drafts", c.auth(c.drafts))
	m.Handle("GET "+Prefix+"tracecode/draft", c.auth(c.draft))
	m.Handle("POST "+Prefix+"tracecode/draft/adjust", c.auth(c.adjust))
	m.Handle("POST "+Prefix+"tracecode/draft/confirm", c.auth(c.confirm))
}

func (c *Console) drafts(w http.ResponseWriter, r *http.Request) {
	c.showLists(w, r, "tracecode", "draft-receipts", "drafts", "待审核入库单 (draft receipts)")
}

// pageNav is the navigation entry of the draft pages, shown while the
// trace-code plugin is enabled at some site.
func (c *Console) pageNav() []navItem {
	if p := c.pluginByName("tracecode"); p != nil && len(p.Sites) > 0 {
		return []navItem{{Href: Prefix + "tracecode/drafts", Title: "入库单审核 Drafts", Key: "drafts"}}
	}
	return nil
}

// cellLink links the id of a draft receipt to its review page.
func (c *Console) cellLink(b *listBlock, key string, v json.RawMessage) string {
	var s string
	if b.Plugin != "tracecode" || b.List.Name != "draft-receipts" || key != "id" || json.Unmarshal(v, &s) != nil || s == "" {
		return ""
	}
	return draftURL(b.Site, s)
}

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
