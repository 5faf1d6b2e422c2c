package adapter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/code"
	"github.com/medgate/medgate/plugins/tracecode/platform"
	"github.com/medgate/medgate/schemas"
)

// maxFetchDays bounds the date range of one fetch, and maxPages the pages.
const (
	maxFetchDays = 31
	maxPages     = 10_000
)

// fetchPayload is the payload of tracecode.stockin.fetch.
type fetchPayload struct {
	BeginDate string `json:"beginDate"`
	EndDate   string `json:"endDate"`
}

// fetchSummary is the reply of a fetch (and the job's summary).
type fetchSummary struct {
	BeginDate string `json:"beginDate"`
	EndDate   string `json:"endDate"`
	Pages     int    `json:"pages"`
	Bills     int    `json:"bills"`
	New       int    `json:"new"`
	Changed   int    `json:"changed"`
	Unchanged int    `json:"unchanged"`
	Codes     int    `json:"codes"`
	// Smallest counts the smallest sub-codes fetched and kept for new and
	// changed documents and those not resolved before (setting
	// fetchSmallest).
	Smallest int      `json:"smallest"`
	Drafts   []string `json:"drafts"`
	Warnings []string `json:"warnings,omitempty"`
}

// platformCode is a code as the stock-in listing gives it.
type platformCode struct {
	Code       string `json:"code"`
	CodeLevel  int    `json:"codeLevel"`
	ParentCode string `json:"parentCode"`
}

// platformLine is a line of a stock-in document.
type platformLine struct {
	LineNo       int            `json:"lineNo"`
	ProductCode  string         `json:"productCode"`
	MedListCode  string         `json:"medListCode"`
	ItemName     string         `json:"itemName"`
	Spec         string         `json:"spec"`
	Manufacturer string         `json:"manufacturer"`
	ApprovalNo   string         `json:"approvalNo"`
	BatchNo      string         `json:"batchNo"`
	ProduceDate  string         `json:"produceDate"`
	ExpiryDate   string         `json:"expiryDate"`
	Qty          json.Number    `json:"qty"`
	Unit         string         `json:"unit"`
	PackRatio    string         `json:"packRatio"`
	Codes        []platformCode `json:"codes"`
}

// platformBill is a stock-in document from the platform.
type platformBill struct {
	BillNo      string         `json:"billNo"`
	BillType    string         `json:"billType"`
	BillTime    string         `json:"billTime"`
	FromOrgCode string         `json:"fromOrgCode"`
	FromOrgName string         `json:"fromOrgName"`
	ToOrgCode   string         `json:"toOrgCode"`
	ToOrgName   string         `json:"toOrgName"`
	Lines       []platformLine `json:"lines"`
}

// stockInPage is one page of the stock-in listing.
type stockInPage struct {
	Total int               `json:"total"`
	Bills []json.RawMessage `json:"bills"`
}

// fetch serves tracecode.stockin.fetch.
func (h *handler) fetch(ctx context.Context) (*sdk.HandleResponse, error) {
	var p fetchPayload
	if ds := plain(h.req.Payload, &p); ds != nil {
		return invalid(ds)
	}
	var ds sdk.Diagnostics
	b, errB := time.ParseInLocation(dateLayout, p.BeginDate, h.cfg.zone)
	e, errE := time.ParseInLocation(dateLayout, p.EndDate, h.cfg.zone)
	if errB != nil {
		ds.Error("$.beginDate", "format", fmt.Sprintf("开始日期 beginDate %q 不是日期 (not a date)", p.BeginDate), "请按 YYYY-MM-DD 填写 (write YYYY-MM-DD)")
	}
	if errE != nil {
		ds.Error("$.endDate", "format", fmt.Sprintf("结束日期 endDate %q 不是日期 (not a date)", p.EndDate), "请按 YYYY-MM-DD 填写 (write YYYY-MM-DD)")
	}
	if errB == nil && errE == nil && (e.Before(b) || e.Sub(b) > (maxFetchDays-1)*24*time.Hour) {
		ds.Error("$.endDate", "range", fmt.Sprintf("the range %s to %s is not 1 to %d days", p.BeginDate, p.EndDate, maxFetchDays), "fetch at most 31 days at a time, endDate not before beginDate")
	}
	if ds.HasError() {
		return invalid(ds)
	}
	sum, warn, err := h.fetchRange(ctx, p.BeginDate, p.EndDate)
	if err != nil {
		return platformFailure("the stock-in listing", err)
	}
	return ok(sum, warn...)
}

// fetchRange downloads every page of the stock-in listing for a range,
// stores each document with its codes (idempotently, by document number),
// creates a draft receipt for each new document and publishes an event.
func (h *handler) fetchRange(ctx context.Context, begin, end string) (fetchSummary, sdk.Diagnostics, error) {
	sum := fetchSummary{BeginDate: begin, EndDate: end, Drafts: []string{}}
	var ds sdk.Diagnostics
	sc, _ := h.cfg.schemas.Get("tracecode", "stockin")
	obs := h.observe(begin + "/" + end)
	seen := 0 // documents listed by the pages so far
	read := map[string]bool{}
	for page := 1; page <= maxPages; page++ {
		var raw json.RawMessage
		in := map[string]any{"beginDate": begin, "endDate": end, "page": page, "pageSize": h.cfg.pageSize}
		if _, err := h.cfg.client.Call(ctx, obs, platform.OpStockIn, in, &raw); err != nil {
			return sum, ds, err
		}
		bills, total, listed, err := h.checkPage(sc, raw, page, &sum)
		if err != nil {
			return sum, ds, err
		}
		sum.Pages = page
		// A page listing only documents earlier pages listed means the
		// platform did not take the page as sent (it answers the first
		// page again): counting them toward the total would end the
		// listing with the other documents never read.
		fresh := 0
		for _, b := range bills {
			if k := b.FromOrgCode + "\x00" + b.BillNo; !read[k] {
				read[k] = true
				fresh++
			}
		}
		if page > 1 && len(bills) > 0 && fresh == 0 {
			return sum, ds, fmt.Errorf("%w: stock-in page %d lists only documents of earlier pages (%d of %d read): the platform does not page as asked; check the fieldNames setting for page and pageSize against the platform's document", platform.ErrProtocol, page, len(read), total)
		}
		for _, b := range bills {
			if err := h.storeFetched(ctx, b, &sum); err != nil {
				return sum, ds, err
			}
		}
		// The documents listed so far, not page × pageSize, are compared
		// with the total: a platform that serves smaller pages than asked
		// (a capped page size) would otherwise be taken as done after its
		// first page. An empty page ends the listing whatever its total
		// says (a total of lines or codes would otherwise have every page
		// up to it asked).
		seen += listed
		if listed == 0 || seen >= total {
			break
		}
	}
	for _, w := range sum.Warnings {
		ds.Warn("", "external", "stock-in data", w)
	}
	return sum, ds, nil
}

// checkPage validates one page of the listing against the output schema
// and decodes its documents; it returns them, the listing's total and how
// many documents the page listed. Documents that fail are skipped with a
// warning; a page that is not a listing at all is an error.
func (h *handler) checkPage(sc *schemas.Schema, raw json.RawMessage, page int, sum *fetchSummary) ([]platformBill, int, int, error) {
	var generic map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, 0, 0, fmt.Errorf("%w: stock-in page %d is not a JSON object: %v", platform.ErrProtocol, page, err)
	}
	bad := map[int][]string{}
	for _, fe := range sc.ValidateOutput(generic, schemas.ValidateOptions{AllowUnknown: true}) {
		var i int
		if n, _ := fmt.Sscanf(fe.Path, "$.bills[%d]", &i); n == 1 {
			bad[i] = append(bad[i], fe.Error())
			continue
		}
		return nil, 0, 0, fmt.Errorf("%w: stock-in page %d: %s; check the fieldNames setting against the platform's document", platform.ErrProtocol, page, fe.Error())
	}
	var p stockInPage
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, 0, 0, fmt.Errorf("%w: stock-in page %d: %v", platform.ErrProtocol, page, err)
	}
	var out []platformBill
	for i, rb := range p.Bills {
		if errs := bad[i]; len(errs) > 0 {
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("page %d document %d skipped: %s", page, i+1, errs[0]))
			continue
		}
		var b platformBill
		if err := json.Unmarshal(rb, &b); err != nil {
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("page %d document %d skipped: %v", page, i+1, err))
			continue
		}
		// Line numbers key the lines of the draft, the receipt and the
		// medical-insurance upload (batch number <billNo>-<lineNo>): a
		// document numbering two lines alike cannot be taken as it is.
		if no, dup := repeatedLine(b.Lines); dup {
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("page %d document %s of %s skipped: line number %d is used by two lines; ask the supplier to correct the document on the platform (the next fetch takes it then)", page, b.BillNo, b.FromOrgCode, no))
			continue
		}
		out = append(out, b)
	}
	return out, p.Total, len(p.Bills), nil
}

// repeatedLine returns a line number two lines of a document share.
func repeatedLine(lines []platformLine) (int, bool) {
	seen := make(map[int]bool, len(lines))
	for _, l := range lines {
		if seen[l.LineNo] {
			return l.LineNo, true
		}
		seen[l.LineNo] = true
	}
	return 0, false
}

// storeFetched stores one fetched document and, when it is new, creates
// its draft receipt and publishes the stock-in event.
func (h *handler) storeFetched(ctx context.Context, b platformBill, sum *fetchSummary) error {
	sum.Bills++
	host := h.req.Host
	canon, _ := json.Marshal(b)
	hs := sha256.Sum256(canon)
	hash := hex.EncodeToString(hs[:])
	day, err := dayOf(b.BillTime, h.cfg.zone)
	if err != nil {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("document %s skipped: billTime %v", b.BillNo, err))
		return nil
	}
	prev, key, _, err := loadFetched(ctx, host, b.BillNo, b.FromOrgCode)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		prev = nil
	case err != nil:
		return err
	case prev.Hash == hash:
		sum.Unchanged++
		if prev.Pending {
			// An earlier fetch stored the document but stopped before its
			// draft and event: finish them now.
			var rows []codeRow
			if err := readCodes(ctx, host, prev, func(r codeRow) error { rows = append(rows, r); return nil }); err != nil {
				return err
			}
			if err := h.announce(ctx, prev, key, rows, day, sum); err != nil {
				return err
			}
		}
		if h.cfg.fetchSmallest && !prev.SmallestFetched {
			return h.fetchSmallestOf(ctx, prev.DocNo, key, sum)
		}
		return nil
	}
	rec := &docRecord{DocNo: b.BillNo, Source: sourcePlatform, Direction: "in", BillType: b.BillType, BillTime: b.BillTime,
		FromOrgCode: b.FromOrgCode, FromOrgName: b.FromOrgName, ToOrgCode: b.ToOrgCode, ToOrgName: b.ToOrgName,
		Hash: hash, Status: statusFetched, StatusAt: h.a.now(), MessageID: h.req.MessageID, Scoped: prev == nil || prev.Scoped}
	var rows []codeRow
	refused, firstRefused := 0, ""
	repeats, firstRepeat := 0, ""
	lineOf := map[string]int{}
	for _, l := range b.Lines {
		n := 0
		for _, c := range l.Codes {
			pc, err := code.Parse(c.Code, h.cfg.policy)
			if err != nil {
				if refused++; refused == 1 {
					firstRefused = fmt.Sprintf("document %s line %d: %v", b.BillNo, l.LineNo, err)
				}
				continue
			}
			// Kept as the platform lists it (the stored document mirrors
			// the platform's), but staff must remove the repeat from the
			// draft before it can be confirmed.
			if prev, dup := lineOf[pc.Value]; dup {
				if repeats++; repeats == 1 {
					firstRepeat = fmt.Sprintf("document %s lists code %s twice (lines %d and %d); its draft cannot be confirmed until the repeat is removed (removeCodes)", b.BillNo, pc.Value, prev, l.LineNo)
				}
			} else {
				lineOf[pc.Value] = l.LineNo
			}
			rows = append(rows, codeRow{Line: l.LineNo, Code: pc.Value, Kind: string(pc.Kind), Level: c.CodeLevel, Parent: c.ParentCode})
			n++
		}
		rec.Lines = append(rec.Lines, docLine{LineNo: l.LineNo, ItemCode: h.cfg.itemMap[l.ProductCode], MedListCode: l.MedListCode, ItemName: l.ItemName,
			Spec: l.Spec, Manufacturer: l.Manufacturer, ApprovalNo: l.ApprovalNo, ProductCode: l.ProductCode, BatchNo: l.BatchNo,
			ProduceDate: l.ProduceDate, ExpiryDate: l.ExpiryDate, Qty: l.Qty.String(), Unit: l.Unit, PackRatio: l.PackRatio, CodeCount: n})
	}
	if refused > 0 {
		// One warning per document, however many of its codes are refused.
		if refused > 1 {
			firstRefused += fmt.Sprintf(" (and %d more codes of this document not accepted)", refused-1)
		}
		sum.Warnings = append(sum.Warnings, firstRefused)
	}
	if repeats > 0 {
		if repeats > 1 {
			firstRepeat += fmt.Sprintf(" (and %d more repeated codes)", repeats-1)
		}
		sum.Warnings = append(sum.Warnings, firstRepeat)
	}
	sum.Codes += len(rows)
	change := ""
	if prev != nil {
		rec.MIStatus, rec.DraftID = prev.MIStatus, prev.DraftID
		// What changed, for the draft made from the earlier version; read
		// before the new version's codes replace the old ones.
		var old []codeRow
		if err := readCodes(ctx, host, prev, func(r codeRow) error { old = append(old, r); return nil }); err != nil {
			return err
		}
		change = docChange(prev, old, rec, rows)
	}
	// Pending until the draft is created and the event published, so that
	// a fetch that stops in between is finished by the next one.
	rec.Pending = prev == nil || prev.Pending
	// rec.SmallestFetched starts false: a changed document's codes changed,
	// so their sub-codes are fetched again below.
	if prev != nil {
		// A draft made from an earlier version is flagged: it is not
		// confirmed until staff reviewed it against this one. Flagged
		// before the new version is stored: a fetch that stops in between
		// leaves the earlier version stored, so the next one sees the
		// change again (flagging twice is a no-op), whereas the other way
		// round it would find the document unchanged and never flag.
		id, err := h.draftIDFor(ctx, prev)
		if err != nil {
			return err
		}
		d, err := h.flagDraft(ctx, id, hash, change)
		if err != nil {
			return err
		}
		short := clip(change, 300)
		switch {
		case d == nil:
		case d.Status == draftConfirmed:
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("document %s of %s changed on the platform (%s) after its draft was confirmed as receipt %s; correct the receipt in HIS", b.BillNo, b.FromOrgCode, short, d.ReceiptNo))
		default:
			sum.Warnings = append(sum.Warnings, fmt.Sprintf("document %s of %s changed on the platform (%s); its draft receipt %s is flagged and cannot be confirmed until reviewed and the change acknowledged (ackPlatformChange)", b.BillNo, b.FromOrgCode, short, d.ID))
		}
	}
	newKey, err := saveDoc(ctx, host, rec, rows, day, key, h.a.now())
	if err != nil {
		return err
	}
	var pairs [][2]string
	for _, r := range rows {
		if r.Parent != "" {
			pairs = append(pairs, [2]string{r.Code, r.Parent})
		}
	}
	if err := indexParents(ctx, host, pairs); err != nil {
		return err
	}
	if prev != nil && !prev.Pending {
		sum.Changed++
		if h.cfg.fetchSmallest {
			return h.fetchSmallestOf(ctx, rec.DocNo, newKey, sum)
		}
		return nil
	}
	if prev == nil {
		sum.New++
	} else {
		sum.Changed++
	}
	if err := h.announce(ctx, rec, newKey, rows, day, sum); err != nil {
		return err
	}
	if h.cfg.fetchSmallest {
		return h.fetchSmallestOf(ctx, rec.DocNo, newKey, sum)
	}
	return nil
}

// announce creates the draft receipt of a stored fetched document (unless
// it exists) and publishes its stock-in event (the event id is fixed by
// the document number), then marks the document (at key) as announced.
func (h *handler) announce(ctx context.Context, rec *docRecord, key string, rows []codeRow, day time.Time, sum *fetchSummary) error {
	host := h.req.Host
	created, err := h.createDraft(ctx, rec, rows)
	if err != nil {
		return err
	}
	if created {
		sum.Drafts = append(sum.Drafts, rec.DraftID)
	}
	qty := 0.0
	for _, l := range rec.Lines {
		var q float64
		if _, err := fmt.Sscan(l.Qty, &q); err == nil {
			qty += q
		}
	}
	ev, _ := json.Marshal(map[string]any{"billNo": rec.DocNo, "billTime": rec.BillTime, "supplierCode": rec.FromOrgCode, "supplierName": rec.FromOrgName,
		"lines": len(rec.Lines), "qty": qty, "codes": len(rows), "draftId": rec.DraftID})
	// The event id is fixed by the draft id: the document number, or
	// number@supplier when another supplier's document has that number.
	if err := host.Publish(ctx, sdk.Event{ID: "tracecode-stockin-" + h.req.Site + "-" + rec.DraftID, Type: EventStockIn, Key: rec.DocNo, Payload: ev, OccurredAt: day}); err != nil {
		return fmt.Errorf("publish the stock-in event of %s from %s: %w", rec.DocNo, rec.FromOrgCode, err)
	}
	return updateDoc(ctx, host, key, func(d *docRecord) { d.Pending, d.DraftID = false, rec.DraftID })
}

// docChange describes what changed between two versions of a fetched
// document, line by line ("line 1: qty 50 → 49, 1 code removed; line 3
// added"), for the draft made from the earlier one.
func docChange(old *docRecord, oldRows []codeRow, cur *docRecord, rows []codeRow) string {
	var parts []string
	header := func(name, a, b string) {
		if a != b {
			parts = append(parts, fmt.Sprintf("%s %s → %s", name, a, b))
		}
	}
	header("billType", old.BillType, cur.BillType)
	header("billTime", old.BillTime, cur.BillTime)
	header("supplier", old.FromOrgCode, cur.FromOrgCode)
	header("receiver", old.ToOrgCode, cur.ToOrgCode)
	codesOf := func(rs []codeRow) map[int]map[string]bool {
		m := map[int]map[string]bool{}
		for _, r := range rs {
			if m[r.Line] == nil {
				m[r.Line] = map[string]bool{}
			}
			m[r.Line][r.Code] = true
		}
		return m
	}
	oldCodes, curCodes := codesOf(oldRows), codesOf(rows)
	oldLines := map[int]docLine{}
	for _, l := range old.Lines {
		oldLines[l.LineNo] = l
	}
	seen := map[int]bool{}
	for _, l := range cur.Lines {
		seen[l.LineNo] = true
		o, had := oldLines[l.LineNo]
		if !had {
			parts = append(parts, fmt.Sprintf("line %d added (%s, qty %s, %d code(s))", l.LineNo, l.ItemName, l.Qty, len(curCodes[l.LineNo])))
			continue
		}
		var what []string
		for _, f := range []struct{ name, a, b string }{
			{"productCode", o.ProductCode, l.ProductCode}, {"itemName", o.ItemName, l.ItemName}, {"medListCode", o.MedListCode, l.MedListCode},
			{"spec", o.Spec, l.Spec}, {"manufacturer", o.Manufacturer, l.Manufacturer}, {"batchNo", o.BatchNo, l.BatchNo},
			{"produceDate", o.ProduceDate, l.ProduceDate}, {"expiryDate", o.ExpiryDate, l.ExpiryDate}, {"qty", o.Qty, l.Qty},
			{"unit", o.Unit, l.Unit}, {"packRatio", o.PackRatio, l.PackRatio},
		} {
			if f.a != f.b {
				what = append(what, fmt.Sprintf("%s %s → %s", f.name, f.a, f.b))
			}
		}
		added, removed := 0, 0
		for c := range curCodes[l.LineNo] {
			if !oldCodes[l.LineNo][c] {
				added++
			}
		}
		for c := range oldCodes[l.LineNo] {
			if !curCodes[l.LineNo][c] {
				removed++
			}
		}
		if added > 0 {
			what = append(what, fmt.Sprintf("%d code(s) added", added))
		}
		if removed > 0 {
			what = append(what, fmt.Sprintf("%d code(s) removed", removed))
		}
		if len(what) > 0 {
			parts = append(parts, fmt.Sprintf("line %d: %s", l.LineNo, strings.Join(what, ", ")))
		}
	}
	for _, l := range old.Lines {
		if !seen[l.LineNo] {
			parts = append(parts, fmt.Sprintf("line %d removed (%s, qty %s)", l.LineNo, l.ItemName, l.Qty))
		}
	}
	if len(parts) == 0 {
		return "the document changed (no line, quantity or code differs)"
	}
	return strings.Join(parts, "; ")
}

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
