package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/code"
)

// Draft states.
const (
	draftOpen      = "open"
	draftConfirmed = "confirmed"
)

// draftLine is one line of a draft receipt.
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

// adjustment is one recorded change of a draft: who, when, what.
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

// draft is a draft stock-in receipt generated from a fetched document.
type draft struct {
	ID               string       `json:"id"`
	Status           string       `json:"status"`
	SupplierBillNo   string       `json:"supplierBillNo"`
	SupplierCode     string       `json:"supplierCode,omitempty"`
	SupplierName     string       `json:"supplierName,omitempty"`
	BillTime         string       `json:"billTime"`
	CreatedAt        time.Time    `json:"createdAt"`
	Lines            []draftLine  `json:"lines"`
	Adjustments      []adjustment `json:"adjustments"`
	ConfirmedAt      time.Time    `json:"confirmedAt,omitzero"`
	ConfirmedBy      string       `json:"confirmedBy,omitempty"`
	ConfirmMessageID string       `json:"confirmMessageId,omitempty"`
	ReceiptNo        string       `json:"receiptNo,omitempty"`
	// ReservedReceipt is the receipt number the first confirmation that
	// got as far as numbering the receipt took, written on the draft
	// (compare-and-set) before anything uses it, so that a confirmation
	// that fails afterwards and is retried (same message or a new one)
	// gives the receipt that number, not the next: pharmacies audit
	// receipts by number. ReservedFrom is the draft's version when it
	// was reserved, cleared by any later change of the draft (an
	// adjustment, a platform change flagged): while it is set, an
	// adjustment or confirmation made against that version still stands
	// (the reservation changed the version, not the draft).
	ReservedReceipt string `json:"reservedReceipt,omitempty"`
	ReservedFrom    int64  `json:"reservedFrom,omitempty"`
	Published       bool   `json:"published,omitempty"`
	// Received is true when the confirmation put the draft's codes in the
	// stock ledger itself (claimReceipt); drafts confirmed before have them
	// recorded when the receipt is published.
	Received bool `json:"received,omitempty"`
	// SourceHash is the hash of the fetched document's version the draft
	// was made from or last reviewed against (empty in drafts made before
	// it was kept).
	SourceHash string `json:"sourceHash,omitempty"`
	// PlatformChanged says what changed in the document on the platform
	// since then (empty: nothing), PlatformChangedAt when a fetch saw it
	// and PlatformHash the changed version's hash. A draft so flagged is
	// not confirmed until staff acknowledge the change (ackPlatformChange).
	PlatformChanged   string    `json:"platformChanged,omitempty"`
	PlatformChangedAt time.Time `json:"platformChangedAt,omitzero"`
	PlatformHash      string    `json:"platformHash,omitempty"`
}

// seenAt tells whether a change or confirmation made against version
// expected of a draft now at version ver still stands: the draft is at
// that version, or changed since only by the reservation of its receipt
// number.
func (d *draft) seenAt(expected, ver int64) bool {
	return expected == ver || d.ReservedFrom != 0 && expected == d.ReservedFrom
}

// kindDraft is the daily log (by document date) of the drafts created,
// through which the export finds a range's drafts: {"draftId": id}.
const kindDraft = "draft"

func draftKey(id string) string     { return "draft/" + esc(id) }
func draftOpenKey(id string) string { return "draftopen/" + esc(id) }

// receiptPendingKey marks a draft whose confirmation began and whose
// receipt may not be published yet (see publishPendingReceipts).
func receiptPendingKey(id string) string { return "receiptpending/" + esc(id) }

// draftIDFor returns the id of the draft of a fetched document: the one
// recorded on it, else (a document stored before the id was kept, or whose
// draft is not created yet) its number when that draft is free or this
// document's, else "<number>@<supplier>": a document number is the
// supplier's own, and the draft under the bare number may be another
// supplier's. Documents stored before documents were scoped by supplier
// keep their number.
func (h *handler) draftIDFor(ctx context.Context, rec *docRecord) (string, error) {
	if rec.DraftID != "" {
		return rec.DraftID, nil
	}
	if !rec.Scoped {
		return rec.DocNo, nil
	}
	d, _, err := loadDraft(ctx, h.req.Host, rec.DocNo)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return rec.DocNo, nil
	case err != nil:
		return "", err
	case d.SupplierBillNo == rec.DocNo && d.SupplierCode == rec.FromOrgCode:
		return rec.DocNo, nil
	}
	return rec.qualifiedDraftID(), nil
}

// createDraft creates the draft of a fetched document unless one exists,
// and sets rec.DraftID.
func (h *handler) createDraft(ctx context.Context, rec *docRecord, rows []codeRow) (bool, error) {
	d := draft{Status: draftOpen, SupplierBillNo: rec.DocNo, SupplierCode: rec.FromOrgCode, SupplierName: rec.FromOrgName,
		BillTime: rec.BillTime, CreatedAt: h.a.now(), Adjustments: []adjustment{}, SourceHash: rec.Hash}
	byLine := map[int][]string{}
	for _, r := range rows {
		byLine[r.Line] = append(byLine[r.Line], r.Code)
	}
	for _, l := range rec.Lines {
		d.Lines = append(d.Lines, draftLine{LineNo: l.LineNo, ItemCode: l.ItemCode, ItemName: l.ItemName, Spec: l.Spec, Manufacturer: l.Manufacturer,
			ProductCode: l.ProductCode, MedListCode: l.MedListCode, BatchNo: l.BatchNo, ProduceDate: l.ProduceDate, ExpiryDate: l.ExpiryDate,
			Qty: l.Qty, Unit: l.Unit, PackRatio: l.PackRatio, Codes: append([]string{}, byLine[l.LineNo]...)})
	}
	created := false
	for attempt := 0; ; attempt++ {
		if attempt == 3 {
			return false, errBusy
		}
		id, err := h.draftIDFor(ctx, rec)
		if err != nil {
			return false, err
		}
		d.ID = id
		b, err := json.Marshal(&d)
		if err != nil {
			return false, err
		}
		_, err = h.req.Host.CompareAndSet(ctx, draftKey(id), 0, b)
		if errors.Is(err, sdk.ErrConflict) {
			cur, _, err := loadDraft(ctx, h.req.Host, id)
			if err != nil {
				return false, err
			}
			if rec.Scoped && (cur.SupplierBillNo != rec.DocNo || cur.SupplierCode != rec.FromOrgCode) {
				continue // another supplier's document of that number took the id meanwhile
			}
			// It exists: keep it on the work list while it is open, and in
			// the export's draft index, in case the fetch that created it
			// stopped before listing or indexing it.
			rec.DraftID = id
			if cur.Status == draftOpen {
				if _, err := h.req.Host.Put(ctx, draftOpenKey(id), []byte("{}")); err != nil {
					return false, fmt.Errorf("list the draft of %s: %w", id, err)
				}
			}
			if err := h.indexDraft(ctx, cur, true); err != nil {
				return false, err
			}
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("store the draft of %s: %w", id, err)
		}
		rec.DraftID, created = id, true
		break
	}
	if _, err := h.req.Host.Put(ctx, draftOpenKey(d.ID), []byte("{}")); err != nil {
		return false, fmt.Errorf("list the draft of %s: %w", d.ID, err)
	}
	if err := h.indexDraft(ctx, &d, false); err != nil {
		return false, err
	}
	return created, nil
}

// draftIndexKey is the key of the record that holds the draft id's slot
// in the daily draft log ({"key": <log key>}).
func draftIndexKey(id string) string { return "draftidx/" + esc(id) }

// errFound stops a scan that found what it looked for.
var errFound = errors.New("found")

// indexDraft adds the draft d to the export's daily draft log (kindDraft,
// by its document date) exactly once, however often a fetch that stopped
// on the way is retried: the draft's slot in the log is reserved under
// draftIndexKey with compare-and-set before the record is written, so a
// retry writes the reserved slot again instead of appending another (a
// slot reserved by a retry that lost the race stays empty, which the
// export skips). legacy says the draft may have been indexed before slots
// were reserved: its document date's log is then searched for it first.
func (h *handler) indexDraft(ctx context.Context, d *draft, legacy bool) error {
	host := h.req.Host
	key, err := h.draftLogKey(ctx, d, legacy)
	if err != nil {
		return fmt.Errorf("index the draft %s by its document date for the export: %w", d.ID, err)
	}
	ref, _ := json.Marshal(draftRef{DraftID: d.ID})
	if _, err := host.Put(ctx, key, ref); err != nil {
		return fmt.Errorf("index the draft %s by its document date for the export: store %s: %w", d.ID, key, err)
	}
	return nil
}

// draftLogKey returns the draft's reserved slot in the daily draft log,
// reserving one if it has none.
func (h *handler) draftLogKey(ctx context.Context, d *draft, legacy bool) (string, error) {
	host := h.req.Host
	var slot docRef
	e, err := host.Get(ctx, draftIndexKey(d.ID))
	switch {
	case err == nil:
		if err := json.Unmarshal(e.Value, &slot); err != nil {
			return "", fmt.Errorf("decode %s: %w; delete the entry and fetch the document again", draftIndexKey(d.ID), err)
		}
		if slot.Key == "" {
			return "", fmt.Errorf("%s names no log key; delete the entry and fetch the document again", draftIndexKey(d.ID))
		}
		return slot.Key, nil
	case !errors.Is(err, sdk.ErrNotFound):
		return "", fmt.Errorf("read %s: %w", draftIndexKey(d.ID), err)
	}
	day, err := dayOf(d.BillTime, h.cfg.zone)
	if err != nil {
		return "", fmt.Errorf("date the draft: %w", err)
	}
	if legacy {
		err := scanLog(ctx, host, kindDraft, day, day, func(key string, v []byte) error {
			var ref draftRef
			if json.Unmarshal(v, &ref) == nil && ref.DraftID == d.ID {
				slot.Key = key
				return errFound
			}
			return nil
		})
		if err != nil && !errors.Is(err, errFound) {
			return "", err
		}
	}
	if slot.Key == "" {
		if slot.Key, err = reserveLog(ctx, host, kindDraft, day); err != nil {
			return "", err
		}
	}
	b, _ := json.Marshal(slot)
	_, err = host.CompareAndSet(ctx, draftIndexKey(d.ID), 0, b)
	if errors.Is(err, sdk.ErrConflict) {
		// A concurrent fetch of the same document reserved one first.
		return h.draftLogKey(ctx, d, false)
	}
	if err != nil {
		return "", fmt.Errorf("reserve %s in %s: %w", slot.Key, draftIndexKey(d.ID), err)
	}
	return slot.Key, nil
}

// loadDraft reads a draft and its version.
func loadDraft(ctx context.Context, h sdk.Host, id string) (*draft, int64, error) {
	e, err := h.Get(ctx, draftKey(id))
	if err != nil {
		return nil, 0, err
	}
	var d draft
	if err := json.Unmarshal(e.Value, &d); err != nil {
		return nil, 0, fmt.Errorf("decode draft %s: %w", id, err)
	}
	return &d, e.Version, nil
}

// maxChangeText bounds the description of platform changes kept on a
// draft.
const maxChangeText = 2000

// flagDraft records on the draft id that its document changed on the
// platform to the version hash (what changed: summary), unless the draft
// already reflects that version. It returns the draft (nil when there is
// none yet) so the caller can word its warning; a confirmed draft is not
// changed.
func (h *handler) flagDraft(ctx context.Context, id, hash, summary string) (*draft, error) {
	host := h.req.Host
	for range 10 {
		d, ver, err := loadDraft(ctx, host, id)
		if errors.Is(err, sdk.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if d.Status != draftOpen || d.SourceHash == hash || d.PlatformHash == hash {
			return d, nil
		}
		if d.PlatformChanged != "" {
			summary = d.PlatformChanged + "; then " + summary
		}
		summary = clip(summary, maxChangeText)
		d.PlatformChanged, d.PlatformChangedAt, d.PlatformHash, d.ReservedFrom = summary, h.a.now(), hash, 0
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		_, err = host.CompareAndSet(ctx, draftKey(id), ver, b)
		if errors.Is(err, sdk.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("flag draft %s as changed on the platform: %w", id, err)
		}
		return d, nil
	}
	return nil, errBusy
}

// draftItem is one entry of the draft-receipts work list.
type draftItem struct {
	ID               string    `json:"id"`
	Status           string    `json:"status"`
	Version          int64     `json:"version"`
	SupplierBillNo   string    `json:"supplierBillNo"`
	SupplierName     string    `json:"supplierName,omitempty"`
	BillTime         string    `json:"billTime"`
	CreatedAt        time.Time `json:"createdAt"`
	Lines            int       `json:"lines"`
	Qty              float64   `json:"qty"`
	Codes            int       `json:"codes"`
	MissingItemCodes int       `json:"missingItemCodes"`
	Adjustments      int       `json:"adjustments"`
	// ReceiptNo and ReceiptPending: a confirmed draft stays on the work
	// list while its receipt is not published (the confirming message
	// failed to publish it); the stock-in sync publishes it.
	ReceiptNo      string `json:"receiptNo,omitempty"`
	ReceiptPending bool   `json:"receiptPending,omitempty"`
	// PlatformChanged says what changed on the platform since the draft
	// was made or last reviewed; it must be acknowledged before confirming.
	PlatformChanged string `json:"platformChanged,omitempty"`
	// StatusName and BillAt are Status and BillTime as the console's work
	// list shows them (draftView).
	StatusName string     `json:"statusName"`
	BillAt     *time.Time `json:"billAt,omitempty"`
}

// itemOf is the work-list entry of d at version, its bill time read in
// zone.
func itemOf(d *draft, version int64, zone *time.Location) draftItem {
	it := draftItem{ID: d.ID, Status: d.Status, StatusName: label(draftStatusNames, d.Status), BillAt: billAt(d.BillTime, zone),
		Version: version, SupplierBillNo: d.SupplierBillNo, SupplierName: d.SupplierName,
		BillTime: d.BillTime, CreatedAt: d.CreatedAt, Lines: len(d.Lines), Adjustments: len(d.Adjustments),
		ReceiptNo: d.ReceiptNo, ReceiptPending: d.Status == draftConfirmed && !d.Published, PlatformChanged: d.PlatformChanged}
	for _, l := range d.Lines {
		q, _ := strconv.ParseFloat(l.Qty, 64)
		it.Qty += q
		it.Codes += len(l.Codes)
		if l.ItemCode == "" {
			it.MissingItemCodes++
		}
	}
	return it
}

// listPayload is the payload of tracecode.drafts.list.
type listPayload struct {
	Limit int `json:"limit"`
}

// listDrafts serves the draft-receipts work list: open drafts, and
// confirmed ones whose receipt is not published yet, by draft id.
func (h *handler) listDrafts(ctx context.Context) (*sdk.HandleResponse, error) {
	var p listPayload
	if len(h.req.Payload) > 0 {
		if ds := plain(h.req.Payload, &p); ds != nil {
			return invalid(ds)
		}
	}
	if p.Limit <= 0 || p.Limit > 500 {
		p.Limit = 100
	}
	es, err := h.req.Host.Scan(ctx, "draftopen/", p.Limit)
	if err != nil {
		return nil, fmt.Errorf("list open drafts: %w", err)
	}
	items := []draftItem{}
	for _, e := range es {
		d, ver, err := loadDraft(ctx, h.req.Host, unesc(strings.TrimPrefix(e.Key, "draftopen/")))
		if errors.Is(err, sdk.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if d.Status == draftConfirmed && d.Published {
			continue // published: about to leave the list
		}
		items = append(items, itemOf(d, ver, h.cfg.zone))
	}
	return ok(map[string]any{"items": items})
}

// draftRef is the payload of tracecode.draft.get.
type draftRef struct {
	DraftID string `json:"draftId"`
}

// draftView is a draft with its version, as replies show it.
type draftView struct {
	*draft
	Version int64 `json:"version"`
	// History is Adjustments for the console's draft page, each change
	// and field also named in Chinese as the export's adjustments sheet
	// names them.
	History []adjustmentView `json:"history"`
	// StatusName is Status in Chinese, the code after it, for the
	// console's draft page ("待审核 open"), named as the export's drafts
	// sheet and the work list's title name it.
	StatusName string `json:"statusName"`
	// BillAt is BillTime, the platform's time without a zone, read in the
	// site's timezone, so the console shows it with its offset; absent
	// when BillTime is not a date and time.
	BillAt *time.Time `json:"billAt,omitempty"`
}

// billAt is a platform's bill time (without a zone) read in zone, or nil
// when it is not a date and time.
func billAt(s string, zone *time.Location) *time.Time {
	at, err := time.ParseInLocation(dateTimeLayout, s, zone)
	if err != nil {
		return nil
	}
	return &at
}

// draftStatusNames name the draft states in Chinese.
var draftStatusNames = map[string]string{draftOpen: draftStates[draftOpen] + " open", draftConfirmed: draftStates[draftConfirmed] + " confirmed"}

// adjustmentView is one adjustment with its Chinese names.
type adjustmentView struct {
	adjustment
	OpName    string `json:"opName"`
	FieldName string `json:"fieldName,omitempty"`
}

// viewOf is the reply of tracecode.draft.get for d at version ver, its
// bill time read in zone.
func viewOf(d *draft, ver int64, zone *time.Location) draftView {
	v := draftView{draft: d, Version: ver, History: make([]adjustmentView, len(d.Adjustments)), StatusName: label(draftStatusNames, d.Status)}
	v.BillAt = billAt(d.BillTime, zone)
	for i, a := range d.Adjustments {
		v.History[i] = adjustmentView{adjustment: a, OpName: label(adjustOps, a.Op)}
		if a.Field != "" {
			v.History[i].FieldName = label(draftFields, a.Field)
		}
	}
	return v
}

func (h *handler) getDraft(ctx context.Context) (*sdk.HandleResponse, error) {
	var p draftRef
	if ds := plain(h.req.Payload, &p); ds != nil {
		return invalid(ds)
	}
	if p.DraftID == "" {
		return invalid(sdk.Diagnostics{{Field: "$.draftId", Rule: "required", Summary: "draftId is required", Detail: "send the id from the draft-receipts work list"}})
	}
	d, ver, err := loadDraft(ctx, h.req.Host, p.DraftID)
	if errors.Is(err, sdk.ErrNotFound) {
		return stateError("$.draftId", fmt.Sprintf("there is no draft %q", p.DraftID), "take the id from the draft-receipts work list (tracecode.drafts.list)")
	}
	if err != nil {
		return nil, err
	}
	return ok(viewOf(d, ver, h.cfg.zone))
}

// change is one adjustment asked for.
type change struct {
	// Op is setQty, setField, addCodes, removeCodes, addLine, removeLine
	// or ackPlatformChange (staff reviewed the draft against the
	// document's version changed on the platform).
	Op     string      `json:"op"`
	LineNo int         `json:"lineNo"`
	Qty    json.Number `json:"qty"`
	Field  string      `json:"field"`
	Value  string      `json:"value"`
	Codes  []string    `json:"codes"`
	Line   *draftLine  `json:"line"`
}

// adjustPayload is the payload of tracecode.draft.adjust.
type adjustPayload struct {
	DraftID string `json:"draftId"`
	// By names who makes the change (staff id and name); required.
	By string `json:"by"`
	// ExpectedVersion, when not 0, is the version the change was made
	// against: if the draft changed meanwhile the adjustment is refused.
	ExpectedVersion int64    `json:"expectedVersion"`
	Reason          string   `json:"reason"`
	Changes         []change `json:"changes"`
}

// settable lists the line fields setField may change, in the order error
// messages name them; lineFields gives access to each.
var settable = []string{"itemCode", "itemName", "spec", "manufacturer", "medListCode", "batchNo", "produceDate", "expiryDate", "unit", "packRatio"}

var lineFields = map[string]func(l *draftLine) *string{
	"itemCode":     func(l *draftLine) *string { return &l.ItemCode },
	"itemName":     func(l *draftLine) *string { return &l.ItemName },
	"spec":         func(l *draftLine) *string { return &l.Spec },
	"manufacturer": func(l *draftLine) *string { return &l.Manufacturer },
	"medListCode":  func(l *draftLine) *string { return &l.MedListCode },
	"batchNo":      func(l *draftLine) *string { return &l.BatchNo },
	"produceDate":  func(l *draftLine) *string { return &l.ProduceDate },
	"expiryDate":   func(l *draftLine) *string { return &l.ExpiryDate },
	"unit":         func(l *draftLine) *string { return &l.Unit },
	"packRatio":    func(l *draftLine) *string { return &l.PackRatio },
}

// adjustDraft applies staff changes to an open draft, recording each.
func (h *handler) adjustDraft(ctx context.Context) (*sdk.HandleResponse, error) {
	var p adjustPayload
	if ds := plain(h.req.Payload, &p); ds != nil {
		return invalid(ds)
	}
	var ds sdk.Diagnostics
	if p.DraftID == "" {
		ds.Error("$.draftId", "required", "draftId is required", "send the id from the draft-receipts work list")
	}
	if strings.TrimSpace(p.By) == "" {
		ds.Error("$.by", "required", "by is required", "name who makes the change (staff id and name): every adjustment is recorded with who and when")
	}
	if len(p.Changes) == 0 {
		ds.Error("$.changes", "required", "changes is empty", `send at least one change, e.g. {"op":"setQty","lineNo":1,"qty":48}`)
	}
	if ds.HasError() {
		return invalid(ds)
	}
	for range 10 {
		d, ver, err := loadDraft(ctx, h.req.Host, p.DraftID)
		if errors.Is(err, sdk.ErrNotFound) {
			return stateError("$.draftId", fmt.Sprintf("there is no draft %q", p.DraftID), "take the id from the draft-receipts work list")
		}
		if err != nil {
			return nil, err
		}
		if applied(d, h.req.MessageID) {
			// The redelivery of a message already applied (the host did
			// not store its outcome): applying it again would add its
			// lines twice, or refuse what was done.
			return ok(map[string]any{"draftId": d.ID, "version": ver, "applied": len(p.Changes), "item": itemOf(d, ver, h.cfg.zone), "alreadyApplied": true})
		}
		if d.Status != draftOpen {
			return stateError("$.draftId", fmt.Sprintf("draft %s was confirmed by %s at %s and can no longer change", d.ID, d.ConfirmedBy, d.ConfirmedAt.In(h.cfg.zone).Format(dateTimeLayout)),
				"record further corrections in HIS against receipt "+d.ReceiptNo)
		}
		if p.ExpectedVersion != 0 && !d.seenAt(p.ExpectedVersion, ver) {
			return stateError("$.expectedVersion", fmt.Sprintf("the draft is at version %d, the change was made against version %d", ver, p.ExpectedVersion),
				"someone changed the draft meanwhile: reload it (tracecode.draft.get) and apply the change again")
		}
		now := h.a.now()
		if ds := h.apply(d, p, now); ds.HasError() {
			return invalid(ds)
		}
		d.ReservedFrom = 0
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		nv, err := h.req.Host.CompareAndSet(ctx, draftKey(d.ID), ver, b)
		if errors.Is(err, sdk.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store draft %s: %w", d.ID, err)
		}
		return ok(map[string]any{"draftId": d.ID, "version": nv, "applied": len(p.Changes), "item": itemOf(d, nv, h.cfg.zone)})
	}
	return nil, errBusy
}

// applied reports whether the adjustment message id was applied to d: each
// change is recorded with its message id.
func applied(d *draft, messageID string) bool {
	if messageID == "" {
		return false
	}
	for _, a := range d.Adjustments {
		if a.MessageID == messageID {
			return true
		}
	}
	return false
}

// apply checks every change and applies them to d, recording each. It
// returns every problem; d must be discarded when there are errors.
func (h *handler) apply(d *draft, p adjustPayload, now time.Time) sdk.Diagnostics {
	var ds sdk.Diagnostics
	rec := func(a adjustment) {
		a.At, a.By, a.Reason, a.MessageID = now, p.By, p.Reason, h.req.MessageID
		d.Adjustments = append(d.Adjustments, a)
	}
	line := func(at string, no int) *draftLine {
		for i := range d.Lines {
			if d.Lines[i].LineNo == no {
				return &d.Lines[i]
			}
		}
		ds.Error(at+".lineNo", "precondition", fmt.Sprintf("草稿没有第 %d 行 (the draft has no line %d)", no, no), "请刷新页面后按显示的行号修改 (take the line number from tracecode.draft.get)")
		return nil
	}
	owner := func() map[string]int {
		m := map[string]int{}
		for _, l := range d.Lines {
			for _, c := range l.Codes {
				m[c] = l.LineNo
			}
		}
		return m
	}
	checkCodes := func(at string, codes []string) []string {
		var out []string
		if len(codes) == 0 {
			ds.Error(at+".codes", "required", "追溯码为空 (codes is empty)", "请扫描或粘贴要加入或移除的追溯码 (list the codes to add or remove)")
		}
		for j, s := range codes {
			c, err := code.Parse(s, h.cfg.policy)
			if err != nil {
				ds.Error(fmt.Sprintf("%s.codes[%d]", at, j), "format", "追溯码无效 (the trace code is not valid)", err.Error())
				continue
			}
			out = append(out, c.Value)
		}
		return out
	}
	for i, c := range p.Changes {
		at := fmt.Sprintf("$.changes[%d]", i)
		switch c.Op {
		case "setQty":
			l := line(at, c.LineNo)
			unit := ""
			if l != nil {
				unit = l.Unit
			}
			if err := qtyProblem(c.Qty.String(), unit); err != "" {
				ds.Error(at+".qty", "amount", err, qtyFix)
				continue
			}
			if l != nil {
				rec(adjustment{Op: c.Op, LineNo: l.LineNo, Field: "qty", From: l.Qty, To: c.Qty.String()})
				l.Qty = c.Qty.String()
			}
		case "setField":
			l := line(at, c.LineNo)
			if lineFields[c.Field] == nil {
				ds.Error(at+".field", "enum", fmt.Sprintf("字段 %q 不能修改 (field cannot be set)", c.Field), "可修改的字段 settable fields: "+strings.Join(settable, ", "))
				continue
			}
			if err := checkField(c.Field, c.Value, h.cfg.ratioMode); err != "" {
				ds.Error(at+".value", "format", err, "请更正后再保存 correct the value")
				continue
			}
			if l != nil {
				after := *l
				*lineFields[c.Field](&after) = c.Value
				if err := h.datesInOrder(after, d.BillTime, now); err != "" {
					ds.Error(at+".value", "precondition", err, datesFix)
					continue
				}
				f := lineFields[c.Field](l)
				rec(adjustment{Op: c.Op, LineNo: l.LineNo, Field: c.Field, From: *f, To: c.Value})
				*f = c.Value
			}
		case "addCodes":
			l := line(at, c.LineNo)
			codes := checkCodes(at, c.Codes)
			own := owner()
			for j, cd := range codes {
				if n, dup := own[cd]; dup {
					ds.Error(fmt.Sprintf("%s.codes[%d]", at, j), "precondition", fmt.Sprintf("追溯码 %s 已在第 %d 行 (code already on line %d)", cd, n, n), "每个包装只入库一次；要移到本行，请先从原行移除 (each package is received once; remove it first to move it)")
					continue
				}
				if l != nil {
					own[cd] = l.LineNo
				}
			}
			if l != nil && len(codes) > 0 {
				rec(adjustment{Op: c.Op, LineNo: l.LineNo, Field: "codes", To: strings.Join(codes, ",")})
				l.Codes = append(l.Codes, codes...)
			}
		case "removeCodes":
			l := line(at, c.LineNo)
			codes := checkCodes(at, c.Codes)
			if l == nil {
				continue
			}
			for j, cd := range codes {
				k := slices.Index(l.Codes, cd)
				if k < 0 {
					ds.Error(fmt.Sprintf("%s.codes[%d]", at, j), "precondition", fmt.Sprintf("追溯码 %s 不在第 %d 行 (code not on line %d)", cd, l.LineNo, l.LineNo), "请从本行已列的追溯码中勾选 (take the codes from tracecode.draft.get)")
					continue
				}
				l.Codes = slices.Delete(l.Codes, k, k+1)
			}
			rec(adjustment{Op: c.Op, LineNo: l.LineNo, Field: "codes", From: strings.Join(codes, ",")})
		case "addLine":
			if c.Line == nil {
				ds.Error(at+".line", "required", "addLine needs line", "send the new line with lineNo, itemCode, itemName, batchNo, expiryDate, qty and codes")
				continue
			}
			nl := *c.Line
			if nl.LineNo == 0 {
				for _, l := range d.Lines {
					nl.LineNo = max(nl.LineNo, l.LineNo)
				}
				nl.LineNo++
			}
			for _, l := range d.Lines {
				if l.LineNo == nl.LineNo {
					ds.Error(at+".line.lineNo", "precondition", fmt.Sprintf("第 %d 行已存在 (line %d exists)", nl.LineNo, nl.LineNo), "请用其他行号，或留空自动编号 (use another line number or 0 for the next one)")
				}
			}
			if err := qtyProblem(nl.Qty, nl.Unit); err != "" {
				ds.Error(at+".line.qty", "amount", err, qtyFix+`; send it as a string, e.g. "10"`)
			}
			formatOK := true
			for _, f := range []string{"expiryDate", "produceDate", "packRatio"} {
				if err := checkField(f, *lineFields[f](&nl), h.cfg.ratioMode); err != "" {
					ds.Error(at+".line."+f, "format", err, "请更正后再保存 correct the value")
					formatOK = false
				}
			}
			if err := h.datesInOrder(nl, d.BillTime, now); formatOK && err != "" {
				ds.Error(at+".line.produceDate", "precondition", err, datesFix)
			}
			own := owner()
			var codes []string
			for j, s := range nl.Codes {
				cd, err := code.Parse(s, h.cfg.policy)
				if err != nil {
					ds.Error(fmt.Sprintf("%s.line.codes[%d]", at, j), "format", "追溯码无效 (the trace code is not valid)", err.Error())
					continue
				}
				if n, dup := own[cd.Value]; dup {
					ds.Error(fmt.Sprintf("%s.line.codes[%d]", at, j), "precondition", fmt.Sprintf("code %s is already on line %d", cd.Value, n), "each package is received once")
				}
				own[cd.Value] = nl.LineNo
				codes = append(codes, cd.Value)
			}
			nl.Codes = codes
			if nl.Codes == nil {
				nl.Codes = []string{}
			}
			d.Lines = append(d.Lines, nl)
			rec(adjustment{Op: c.Op, LineNo: nl.LineNo, To: fmt.Sprintf("%s %s batch %s qty %s, %d code(s)", nl.ItemCode, nl.ItemName, nl.BatchNo, nl.Qty, len(nl.Codes))})
		case "removeLine":
			l := line(at, c.LineNo)
			if l == nil {
				continue
			}
			rec(adjustment{Op: c.Op, LineNo: l.LineNo, From: fmt.Sprintf("%s %s batch %s qty %s, %d code(s)", l.ItemCode, l.ItemName, l.BatchNo, l.Qty, len(l.Codes))})
			no := l.LineNo
			d.Lines = slices.DeleteFunc(d.Lines, func(x draftLine) bool { return x.LineNo == no })
		case "ackPlatformChange":
			if d.PlatformChanged == "" {
				ds.Error(at+".op", "precondition", "平台单据自草稿生成或上次核对后没有变更 (the document has not changed on the platform since the draft was made or last acknowledged)", "无需核对 (there is nothing to acknowledge)")
				continue
			}
			if p.ExpectedVersion == 0 {
				// Without it, a change a later fetch recorded while staff
				// reviewed would be acknowledged unseen.
				ds.Error("$.expectedVersion", "required", "acknowledging a change on the platform needs the version of the draft that was reviewed",
					"send expectedVersion (the draft's version from tracecode.draft.get or the work list) with ackPlatformChange; if the document changed again since, the acknowledgement is refused and the new change must be reviewed")
				continue
			}
			rec(adjustment{Op: c.Op, Field: "platform", To: d.PlatformChanged})
			d.SourceHash, d.PlatformChanged, d.PlatformChangedAt, d.PlatformHash = d.PlatformHash, "", time.Time{}, ""
		default:
			ds.Error(at+".op", "enum", fmt.Sprintf("op %q is not known", c.Op), "use setQty, setField, addCodes, removeCodes, addLine, removeLine or ackPlatformChange")
		}
	}
	return ds
}

// measured are the units a quantity may be a fraction of; every other unit
// (盒, 支, 瓶, 粒 …, or none: smallest packages) is counted.
var measured = map[string]bool{
	"ml": true, "l": true, "g": true, "mg": true, "kg": true, "ug": true, "μg": true, "µg": true,
	"毫升": true, "升": true, "克": true, "毫克": true, "千克": true, "公斤": true, "微克": true,
}

// qtyFix is the hint of a refusal by qtyProblem.
const qtyFix = "请填写实收数量（按最小包装计）(the received quantity in smallest packages)"

// qtyProblem returns what is wrong with the quantity s of a line counted in
// unit, or "": it is a finite number greater than 0, whole unless the unit
// is measured (ml, g …).
func qtyProblem(s, unit string) string {
	if !positiveQty(s) {
		return fmt.Sprintf("数量 %q 须大于 0 (quantity is not positive)", s)
	}
	if q, _ := strconv.ParseFloat(s, 64); q != math.Trunc(q) && !measured[strings.ToLower(strings.TrimSpace(unit))] {
		u := unit
		if u == "" {
			u = "最小包装"
		}
		return fmt.Sprintf("数量 %s 须为整数：%s 按个数计 (quantity must be whole: %s is counted)", s, u, u)
	}
	return ""
}

// positiveQty reports whether s is a finite number greater than 0.
// strconv.ParseFloat also accepts "NaN" and "Inf", which JSON cannot
// carry: a draft holding one could be neither listed nor published.
func positiveQty(s string) bool {
	q, err := strconv.ParseFloat(s, 64)
	return err == nil && q > 0 && !math.IsInf(q, 0)
}

// fieldNames are the line fields as the draft page names them.
var fieldNames = map[string]string{
	"itemCode": "院内编码 itemCode", "itemName": "药品名称 itemName", "batchNo": "批号 batchNo",
	"produceDate": "生产日期 produceDate", "expiryDate": "有效期至 expiryDate", "packRatio": "包装比例 packRatio",
}

// fieldName returns the name of a line field for a message.
func fieldName(field string) string {
	if n, ok := fieldNames[field]; ok {
		return n
	}
	return field
}

// datesFix is the hint of a refusal by datesInOrder.
const datesFix = "请核对药品包装上的生产日期和有效期至：生产日期不晚于有效期至、单据日期和今天 (check the dates on the package)"

// datesInOrder returns the problem with the dates of line l of a draft of
// the document dated billTime, or "": a package is not produced after it
// expires, after the document that delivered it, or after today. Dates
// that do not parse are checkField's to report.
func (h *handler) datesInOrder(l draftLine, billTime string, now time.Time) string {
	produced, err := time.ParseInLocation(dateLayout, l.ProduceDate, h.cfg.zone)
	if err != nil {
		return ""
	}
	if expires, err := time.ParseInLocation(dateLayout, l.ExpiryDate, h.cfg.zone); err == nil && produced.After(expires) {
		return fmt.Sprintf("生产日期 %s 晚于有效期至 %s (produced after it expires)", l.ProduceDate, l.ExpiryDate)
	}
	if day, err := dayOf(billTime, h.cfg.zone); err == nil && produced.After(day) {
		return fmt.Sprintf("生产日期 %s 晚于单据日期 %s (produced after the document date)", l.ProduceDate, day.Format(dateLayout))
	}
	if today := now.In(h.cfg.zone).Format(dateLayout); l.ProduceDate > today {
		return fmt.Sprintf("生产日期 %s 晚于今天 %s (produced in the future)", l.ProduceDate, today)
	}
	return ""
}

// checkField checks a value for a settable field and returns the problem.
func checkField(field, value string, mode code.RatioMode) string {
	switch field {
	case "produceDate", "expiryDate":
		if value == "" && field == "produceDate" {
			return ""
		}
		if _, err := time.Parse(dateLayout, value); err != nil {
			return fmt.Sprintf("%s %q 不是日期，请按 YYYY-MM-DD 填写，如 2026-11-26 (not a date, write YYYY-MM-DD)", fieldName(field), value)
		}
	case "packRatio":
		if value == "" {
			return ""
		}
		if _, err := code.ParseRatio(value, mode); err != nil {
			return err.Error()
		}
	case "itemCode", "itemName", "batchNo":
		if strings.TrimSpace(value) == "" {
			return fieldName(field) + " 不能为空 (may not be empty)"
		}
	}
	if len([]rune(value)) > 200 {
		return fieldName(field) + " 超过 200 个字 (longer than 200 characters)"
	}
	return ""
}

// confirmPayload is the payload of tracecode.draft.confirm.
type confirmPayload struct {
	DraftID         string `json:"draftId"`
	By              string `json:"by"`
	ExpectedVersion int64  `json:"expectedVersion"`
}

// receipt is the formal purchase receipt published for HIS.
type receipt struct {
	ReceiptNo      string            `json:"receiptNo"`
	DraftID        string            `json:"draftId"`
	SupplierBillNo string            `json:"supplierBillNo"`
	Supplier       map[string]string `json:"supplier"`
	Receiver       map[string]string `json:"receiver"`
	BillTime       string            `json:"billTime"`
	ConfirmedAt    string            `json:"confirmedAt"`
	ConfirmedBy    string            `json:"confirmedBy"`
	Lines          []draftLine       `json:"lines"`
	Totals         map[string]any    `json:"totals"`
	Adjustments    int               `json:"adjustments"`
}

// confirmDraft confirms an open draft exactly once: the state change is a
// compare-and-set on the draft, so a second confirmation fails, and then
// publishes the formal purchase receipt event. A retry of the same message
// after a failed publish publishes it (same event id) without confirming
// again.
func (h *handler) confirmDraft(ctx context.Context) (*sdk.HandleResponse, error) {
	var p confirmPayload
	if ds := plain(h.req.Payload, &p); ds != nil {
		return invalid(ds)
	}
	var ds sdk.Diagnostics
	if p.DraftID == "" {
		ds.Error("$.draftId", "required", "draftId is required", "send the id from the draft-receipts work list")
	}
	if strings.TrimSpace(p.By) == "" {
		ds.Error("$.by", "required", "by is required", "name who confirms the receipt (staff id and name)")
	}
	if ds.HasError() {
		return invalid(ds)
	}
	host := h.req.Host
	// The packages a draft lists are walked down through the child index:
	// the relations kept before it existed must be in it first. Normally
	// the stock-in sync did it; else the first confirmation does (or, for
	// a large store, waits while it is done over several tries).
	ready, cds, err := h.childIndexReady(ctx, childRecoveryNodes)
	if err != nil {
		return nil, fmt.Errorf("complete the child index of code relations kept before it, before checking draft %s: %w", p.DraftID, err)
	}
	if !ready {
		return sdk.Wait(append(cds, sdk.Diagnostic{Field: "$.draftId", Rule: "state",
			Summary: "代码层级子码索引正在补建，确认稍后自动重试 (the index of the codes inside packages, kept before it existed, is still being built)",
			Detail:  "the confirmation is retried and goes ahead once it is built (job " + JobStockInSync + " and each confirmation build it further); until then a package's units could not be checked against other receipts"})...), nil
	}
	taken := "" // a number this call took and could not reserve yet
	for range 10 {
		d, ver, err := loadDraft(ctx, host, p.DraftID)
		if errors.Is(err, sdk.ErrNotFound) {
			return stateError("$.draftId", fmt.Sprintf("there is no draft %q", p.DraftID), "take the id from the draft-receipts work list")
		}
		if err != nil {
			return nil, err
		}
		if d.Status == draftConfirmed {
			if d.ConfirmMessageID == h.req.MessageID {
				// The retry of this confirmation: finish what it began.
				return h.publishReceipt(ctx, d)
			}
			detail := "a draft is confirmed once; nothing was published again"
			if d.Published {
				// This refused confirmation may have marked it after the
				// winner removed the mark.
				if err := host.Delete(ctx, receiptPendingKey(d.ID)); err != nil {
					return nil, fmt.Errorf("remove the confirmation mark of draft %s: %w", d.ID, err)
				}
			} else {
				detail = "a draft is confirmed once; its receipt is not published yet: the retry of the confirming message or the next stock-in sync (job " + JobStockInSync + ") publishes it"
			}
			return stateError("$.draftId", fmt.Sprintf("draft %s was already confirmed by %s at %s as receipt %s", d.ID, d.ConfirmedBy, d.ConfirmedAt.In(h.cfg.zone).Format(dateTimeLayout), d.ReceiptNo),
				detail)
		}
		if p.ExpectedVersion != 0 && !d.seenAt(p.ExpectedVersion, ver) {
			return stateError("$.expectedVersion", fmt.Sprintf("the draft is at version %d, the confirmation was made against version %d", ver, p.ExpectedVersion),
				"someone changed the draft meanwhile: review it again (tracecode.draft.get) before confirming")
		}
		if d.PlatformChanged != "" {
			return stateError("$.draftId", fmt.Sprintf("document %s of %s changed on the platform at %s, after this draft was made: %s", d.SupplierBillNo, orgText(d.SupplierCode, d.SupplierName),
				d.PlatformChangedAt.In(h.cfg.zone).Format(dateTimeLayout), clip(d.PlatformChanged, 500)),
				`compare the draft with the platform's document (tracecode.codes.bybill), adjust it, then acknowledge the change with tracecode.draft.adjust {"op":"ackPlatformChange"} and the reviewed draft's expectedVersion, and confirm again`)
		}
		if ds := confirmable(d); ds.HasError() {
			return invalid(ds)
		}
		ds, reads, err := h.receivedBefore(ctx, d)
		if err != nil {
			return nil, err
		}
		if ds.HasError() {
			// A concurrent confirmation of this draft records its codes
			// only after it changed the draft: read again to tell.
			if _, now, err := loadDraft(ctx, host, p.DraftID); err != nil || now != ver {
				continue
			}
			return invalid(ds)
		}
		if d.ReservedReceipt == "" {
			// The number is reserved on the draft before it is used, so a
			// retry after a failure below reuses it (no receipt number is
			// left unused). Of two confirmations reserving at once one
			// wins and the other reads the winner's number.
			if taken == "" {
				n, err := host.NextSequence(ctx, "receipt")
				if err != nil {
					return nil, fmt.Errorf("number the receipt of draft %s (nothing was changed; retry the confirmation): %w", d.ID, err)
				}
				taken = fmt.Sprintf("%s%s%06d", h.cfg.receiptPrefix, h.a.now().In(h.cfg.zone).Format(dayLayout), n)
			}
			d.ReservedReceipt, d.ReservedFrom = taken, ver
			b, err := json.Marshal(d)
			if err != nil {
				return nil, err
			}
			nv, err := host.CompareAndSet(ctx, draftKey(d.ID), ver, b)
			if errors.Is(err, sdk.ErrConflict) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("reserve receipt number %s on draft %s (nothing was confirmed; retry the confirmation): %w", taken, d.ID, err)
			}
			ver = nv
		}
		receiptNo := d.ReservedReceipt
		// The codes enter the stock ledger as this receipt's before the
		// draft is confirmed, each a compare-and-set on the entry read
		// above: of two drafts sharing a code confirmed at once, on any
		// instance, one write fails, and that confirmation reads again and
		// sees the other's receipt.
		claims, conflict, err := h.claimReceipt(ctx, d, reads, receiptNo)
		if err != nil {
			return nil, err
		}
		if conflict {
			continue
		}
		// Marked before the draft changes, so that a confirmed draft is
		// always found by the stock-in sync until its receipt is
		// published.
		if _, err := host.Put(ctx, receiptPendingKey(d.ID), []byte("{}")); err != nil {
			return nil, errors.Join(fmt.Errorf("mark draft %s as being confirmed: %w", d.ID, err), h.unclaimReceipt(ctx, claims, d.ID, receiptNo))
		}
		d.Status, d.ConfirmedAt, d.ConfirmedBy, d.ConfirmMessageID, d.ReceiptNo, d.Received = draftConfirmed, h.a.now(), p.By, h.req.MessageID, receiptNo, true
		b, err := json.Marshal(d)
		if err != nil {
			return nil, errors.Join(err, h.unclaimReceipt(ctx, claims, d.ID, receiptNo))
		}
		_, err = host.CompareAndSet(ctx, draftKey(d.ID), ver, b)
		if errors.Is(err, sdk.ErrConflict) {
			// Re-read: a concurrent confirmation shows up as confirmed, an
			// adjustment as a new version.
			if err := h.unclaimReceipt(ctx, claims, d.ID, receiptNo); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("store draft %s: %w", d.ID, err), h.unclaimReceipt(ctx, claims, d.ID, receiptNo))
		}
		// The draft stays on the work list (draftopen) until its receipt
		// is published: if the host gives up on this message, the
		// stock-in sync finds it there and publishes it.
		return h.publishReceipt(ctx, d)
	}
	return nil, errBusy
}

// confirmable checks that a draft can become a receipt.
func confirmable(d *draft) sdk.Diagnostics {
	var ds sdk.Diagnostics
	if len(d.Lines) == 0 {
		ds.Error("$.draftId", "precondition", "草稿没有任何行 (the draft has no lines)", "请先加入实收的行再确认 (add the received lines, tracecode.draft.adjust addLine, before confirming)")
	}
	for i, l := range d.Lines {
		at := fmt.Sprintf("$.lines[%d]", i)
		if l.ItemCode == "" {
			ds.Error(at+".itemCode", "precondition", fmt.Sprintf("第 %d 行（%s）没有院内编码 (line has no hospital item code)", l.LineNo, l.ItemName),
				`set it first: {"op":"setField","lineNo":`+strconv.Itoa(l.LineNo)+`,"field":"itemCode","value":"…"}, or map the product in productItemMap`)
		}
		if l.BatchNo == "" || l.ExpiryDate == "" {
			ds.Error(at, "precondition", fmt.Sprintf("第 %d 行缺批号或有效期至 (line has no batch number or expiry date)", l.LineNo), "请填写批号和有效期至 (set batchNo and expiryDate)")
		}
		if !positiveQty(l.Qty) {
			ds.Error(at+".qty", "amount", fmt.Sprintf("第 %d 行数量 %q 须大于 0 (quantity is not positive)", l.LineNo, l.Qty), "请填写实收数量 (set the received quantity)")
		}
	}
	// Each package is received once: a code listed twice (the platform's
	// document may list it so) would be received twice by HIS.
	lineOf, repeats := map[string]int{}, 0
	for i, l := range d.Lines {
		for j, c := range l.Codes {
			prev, dup := lineOf[c]
			if !dup {
				lineOf[c] = l.LineNo
				continue
			}
			if repeats++; repeats > 20 {
				continue // counted below; the reply stays small
			}
			ds.Error(fmt.Sprintf("$.lines[%d].codes[%d]", i, j), "precondition", fmt.Sprintf("code %s is listed twice (lines %d and %d)", c, prev, l.LineNo),
				fmt.Sprintf(`each package is received once; remove the repeat: {"op":"removeCodes","lineNo":%d,"codes":["%s"]}`, l.LineNo, c))
		}
	}
	if repeats > 20 {
		ds.Error("$.lines", "precondition", fmt.Sprintf("%d more codes are listed twice", repeats-20), "remove every repeated code (tracecode.draft.get lists the codes of each line)")
	}
	return ds
}

// publishReceipt publishes the formal purchase receipt of a confirmed
// draft (the event id is fixed by the receipt number), marks it published
// and only then takes it off the work list, so a receipt whose publication
// failed stays findable: by the retry of the confirming message and by the
// stock-in sync (publishPendingReceipts), whichever comes first.
func (h *handler) publishReceipt(ctx context.Context, d *draft) (*sdk.HandleResponse, error) {
	eventID := receiptEventID(h.req.Site, d)
	reply := map[string]any{"draftId": d.ID, "receiptNo": d.ReceiptNo, "eventId": eventID, "eventType": EventReceipt,
		"confirmedBy": d.ConfirmedBy, "confirmedAt": d.ConfirmedAt.In(h.cfg.zone).Format(time.RFC3339)}
	if err := h.publishConfirmed(ctx, h.req.Site, d); err != nil {
		return nil, err
	}
	return ok(reply)
}

// receiptEventID is the id of a receipt's event, fixed by its number.
func receiptEventID(site string, d *draft) string {
	return "tracecode-receipt-" + site + "-" + d.ReceiptNo
}

// publishConfirmed publishes the receipt of a confirmed draft unless it is
// marked published, marks it, and takes the draft off the work list.
func (h *handler) publishConfirmed(ctx context.Context, site string, d *draft) error {
	host := h.req.Host
	if !d.Published {
		// The receipt is the hospital's stock-in of the document: its
		// codes enter the stock ledger before HIS hears of it (again on a
		// retry, which changes nothing). A confirmation now records them
		// itself (Received); drafts confirmed before did not.
		var received []string
		for _, l := range d.Lines {
			received = append(received, l.Codes...)
		}
		if !d.Received {
			if err := recordStockIn(ctx, host, d.ReceiptNo, "receipt", d.BillTime, received); err != nil {
				return fmt.Errorf("receipt %s of draft %s (the draft stays confirmed and on the work list; the retry of the message or the next stock-in sync records it): %w", d.ReceiptNo, d.ID, err)
			}
		}
		r := receipt{ReceiptNo: d.ReceiptNo, DraftID: d.ID, SupplierBillNo: d.SupplierBillNo,
			Supplier: map[string]string{"code": d.SupplierCode, "name": d.SupplierName},
			Receiver: map[string]string{"orgCode": h.cfg.orgCode, "orgName": h.cfg.orgName},
			BillTime: d.BillTime, ConfirmedAt: d.ConfirmedAt.In(h.cfg.zone).Format(time.RFC3339), ConfirmedBy: d.ConfirmedBy,
			Lines: d.Lines, Adjustments: len(d.Adjustments)}
		qty, codes := 0.0, 0
		for _, l := range d.Lines {
			q, _ := strconv.ParseFloat(l.Qty, 64)
			qty += q
			codes += len(l.Codes)
		}
		r.Totals = map[string]any{"lines": len(d.Lines), "qty": qty, "codes": codes}
		payload, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := host.Publish(ctx, sdk.Event{ID: receiptEventID(site, d), Type: EventReceipt, Key: d.SupplierBillNo, Payload: payload, OccurredAt: d.ConfirmedAt}); err != nil {
			return fmt.Errorf("publish receipt %s of draft %s (the draft stays confirmed and on the work list; the retry of the message or the next stock-in sync publishes it): %w", d.ReceiptNo, d.ID, err)
		}
		if err := markPublished(ctx, host, d.ID); err != nil {
			return fmt.Errorf("mark receipt %s published (it was published; a second publication has the same event id): %w", d.ReceiptNo, err)
		}
	}
	if err := host.Delete(ctx, draftOpenKey(d.ID)); err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return fmt.Errorf("take draft %s off the work list: %w", d.ID, err)
	}
	if err := host.Delete(ctx, receiptPendingKey(d.ID)); err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return fmt.Errorf("remove the confirmation mark of draft %s: %w", d.ID, err)
	}
	return nil
}

// markPublished sets Published on a confirmed draft.
func markPublished(ctx context.Context, host sdk.Host, id string) error {
	for range 10 {
		d, ver, err := loadDraft(ctx, host, id)
		if err != nil {
			return err
		}
		if d.Published {
			return nil
		}
		d.Published = true
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		_, err = host.CompareAndSet(ctx, draftKey(id), ver, b)
		if errors.Is(err, sdk.ErrConflict) {
			continue
		}
		return err
	}
	return errBusy
}

// publishPendingReceipts publishes the receipts of confirmed drafts not
// published yet: their confirming message failed to publish and the host
// gave up on it (or the plugin stopped between confirming and publishing).
// A confirmation marks the draft (receiptpending/<id>) before it stores
// it as confirmed, and the mark goes once the receipt is published, so
// the scan reads only those. The stock-in sync calls it on every run. It
// returns how many it published and, as error diagnostics, the drafts it
// could not finish: one receipt that cannot be published (the events
// topic down, a record too large for the broker) must not keep the others
// unpublished nor stop the sync's fetch. err is for the list itself.
func (h *handler) publishPendingReceipts(ctx context.Context) (int, sdk.Diagnostics, error) {
	host := h.req.Host
	es, err := host.Scan(ctx, "receiptpending/", 0)
	if err != nil {
		return 0, nil, fmt.Errorf("list the drafts being confirmed: %w", err)
	}
	n, failed := 0, 0
	var ds sdk.Diagnostics
	for _, e := range es {
		if err := ctx.Err(); err != nil {
			return n, ds, err
		}
		id := unesc(strings.TrimPrefix(e.Key, "receiptpending/"))
		published, err := h.publishPending(ctx, e.Key, id)
		if err != nil {
			if failed++; failed > maxReceiptDiags {
				continue
			}
			ds.Error("", "external", fmt.Sprintf("the receipt of confirmed draft %s is not published", id),
				fmt.Sprintf("%v; the next run of %s tries again; if the events topic refused the record as too large, raise the broker's message.max.bytes (and the topic's max.message.bytes)", err, JobStockInSync))
			continue
		}
		if published {
			n++
		}
	}
	if failed > maxReceiptDiags {
		ds.Error("", "external", fmt.Sprintf("%d more receipts of confirmed drafts are not published", failed-maxReceiptDiags),
			"the drafts stay confirmed and on the work list (receiptPending); the next run of "+JobStockInSync+" tries again")
	}
	return n, ds, nil
}

// maxReceiptDiags bounds the diagnostics of one stock-in sync about
// receipts it could not publish.
const maxReceiptDiags = 10

// publishPending finishes the draft id marked by markKey (see
// publishPendingReceipts) and reports whether it published its receipt.
func (h *handler) publishPending(ctx context.Context, markKey, id string) (bool, error) {
	host := h.req.Host
	d, _, err := loadDraft(ctx, host, id)
	if errors.Is(err, sdk.ErrNotFound) {
		if err := host.Delete(ctx, markKey); err != nil {
			return false, fmt.Errorf("remove the mark of the missing draft %s: %w", id, err)
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if d.Status != draftConfirmed {
		return false, nil // a confirmation under way, or one that was refused
	}
	if err := h.publishConfirmed(ctx, h.req.Site, d); err != nil {
		return false, err
	}
	return !d.Published, nil
}
