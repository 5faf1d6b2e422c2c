package adapter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/hsa"
	"github.com/medgate/medgate/plugins/sdk"
)

// Medical-insurance upload outcomes (of a line, a document, a record).
const (
	miOK       = "ok"
	miRejected = "rejected"
	miUnknown  = "unknown"
	miPartial  = "partial"
	miSending  = "sending"
	// miMismatch: a line medical insurance accepted (or may have) with
	// other figures than the confirmed receipt's, or that the receipt no
	// longer has; it is not sent again.
	miMismatch = "mismatch"
)

// miRecord is one medical-insurance upload attempt of a document, kept in
// the daily log "mi" for the export.
type miRecord struct {
	At        time.Time `json:"at"`
	DocNo     string    `json:"docNo"`
	Source    string    `json:"source"`
	Infno     string    `json:"infno"`
	MsgIDs    []string  `json:"msgids"`
	Lines     int       `json:"lines"`
	Codes     int       `json:"codes"`
	Status    string    `json:"status"`
	Infcode   *int      `json:"infcode,omitempty"`
	Message   string    `json:"message,omitempty"`
	MessageID string    `json:"messageId"`
}

// miLine is the upload state of one document line.
type miLine struct {
	MsgID string `json:"msgid"`
	// Bchno is the batch number (fixmedins_bchno) the line was sent under
	// (miBatchNo), kept so a resend uses it; empty in lines sent before it
	// was kept, which were sent under <billNo>-<lineNo>.
	Bchno string `json:"bchno,omitempty"`
	// Sent is the fingerprint of what the line's last call carried
	// (miContent); empty in lines sent before it was kept.
	Sent    string `json:"sent,omitempty"`
	Status  string `json:"status"`
	Infcode int    `json:"infcode"`
	Message string `json:"message,omitempty"`
}

// miState is the upload state of a document (docRecord.miKey): one line per
// national record, so a retry sends only what is not done.
type miState struct {
	Lines map[string]*miLine `json:"lines"`
	// Unlogged lists the calls made whose upload record (the export's,
	// daily log "mi") is not stored yet: the next upload of the document
	// records them, even when it sends nothing more.
	Unlogged []miCall `json:"unlogged,omitempty"`
	// LogKey is the log key reserved for the record of the Unlogged calls
	// and LogAt its time: an upload that stopped after reserving it writes
	// the record there again, never a second one.
	LogKey string    `json:"logKey,omitempty"`
	LogAt  time.Time `json:"logAt,omitzero"`
}

// miCall is one call of an upload: its msgid and the number of codes it
// carried.
type miCall struct {
	MsgID string `json:"msgid"`
	Codes int    `json:"codes"`
}

// miPayload is the payload of tracecode.mi.upload.
type miPayload struct {
	BillNo string `json:"billNo"`
	// Source is "upload" (a document the hospital uploaded) or "platform"
	// (a fetched stock-in document); default: upload, else platform.
	Source string `json:"source"`
	// SupplierCode picks, among fetched documents, the one of that
	// supplier (fromOrgCode): needed when several suppliers' documents
	// share the number.
	SupplierCode string `json:"supplierCode"`
	// Resend sends lines whose earlier outcome is unknown again, after
	// staff checked on the medical-insurance side that they did not arrive.
	Resend bool `json:"resend"`
}

// miLineReply is one line of the reply.
type miLineReply struct {
	LineNo  int    `json:"lineNo"`
	MsgID   string `json:"msgid,omitempty"`
	Bchno   string `json:"bchno,omitempty"`
	Status  string `json:"status"`
	Infcode int    `json:"infcode"`
	Message string `json:"message,omitempty"`
	Codes   int    `json:"codes"`
}

// miUpload sends a stored stock-in document with its trace codes to the
// national medical-insurance platform: one 3502 record per line with the
// line's codes in drugtracinfo. A fetched document is sent as its
// confirmed draft receipt (the hospital's stock-in: staff's quantities,
// codes and item codes), and not before its draft is confirmed. Lines
// already accepted are not sent again; an accepted line whose figures
// differ from what would be sent now (accepted from the platform's
// document before uploads took the receipt), or that the receipt no
// longer has, is reported as a mismatch and not sent again; lines whose
// outcome is unknown are not resent unless asked (the interface has no
// query to reconcile them).
func (h *handler) miUpload(ctx context.Context) (*sdk.HandleResponse, error) {
	mi := h.cfg.mi
	if mi == nil {
		return invalid(sdk.Diagnostics{{Field: "$.type", Rule: "precondition", Summary: "the medical-insurance upload is not enabled for this site",
			Detail: "set miEnabled: true and the mi* settings (miBaseURL, miFixmedinsCode, …) in the site's tracecode settings"}})
	}
	var p miPayload
	if ds := plain(h.req.Payload, &p); ds != nil {
		return invalid(ds)
	}
	if p.BillNo == "" {
		return invalid(sdk.Diagnostics{{Field: "$.billNo", Rule: "required", Summary: "billNo is required", Detail: "send the number of a stored stock-in document"}})
	}
	host := h.req.Host
	var rec *docRecord
	var key string
	var err error
	srcs := []string{sourceUpload, sourcePlatform}
	switch p.Source {
	case "":
	case "upload":
		srcs = srcs[:1]
	case "platform":
		srcs = srcs[1:]
	default:
		return invalid(sdk.Diagnostics{{Field: "$.source", Rule: "enum", Summary: fmt.Sprintf("source %q is not known", p.Source), Detail: "use upload or platform"}})
	}
	if p.SupplierCode != "" {
		if p.Source == "upload" {
			return invalid(sdk.Diagnostics{{Field: "$.supplierCode", Rule: "precondition", Summary: "supplierCode picks among fetched documents, not uploaded ones",
				Detail: "leave supplierCode out for a document the hospital uploaded (its number is the hospital's own), or send source platform"}})
		}
		srcs = []string{sourcePlatform} // only fetched documents are numbered by their supplier
	}
	for _, s := range srcs {
		if s == sourcePlatform {
			rec, key, err = h.fetchedForMI(ctx, p)
		} else {
			rec, key, _, err = loadDoc(ctx, host, s, p.BillNo)
		}
		if err == nil || !errors.Is(err, sdk.ErrNotFound) {
			break
		}
	}
	var amb *ambiguousError
	if errors.As(err, &amb) {
		return invalid(sdk.Diagnostics{{Field: "$.supplierCode", Rule: "required", Summary: fmt.Sprintf("document %s was fetched from %d suppliers: %s", p.BillNo, len(amb.suppliers), strings.Join(amb.suppliers, ", ")),
			Detail: "a document number is the supplier's own; send supplierCode (the document's fromOrgCode) to say which one to upload"}})
	}
	if errors.Is(err, sdk.ErrNotFound) {
		return stateError("$.billNo", fmt.Sprintf("document %s is not stored", p.BillNo), "upload it (tracecode.stockin.upload) or fetch it (tracecode.stockin.fetch) first")
	}
	if err != nil {
		return nil, err
	}
	if rec.Direction != "in" {
		return stateError("$.billNo", fmt.Sprintf("document %s is a stock-out", p.BillNo), "the medical-insurance upload takes stock-in documents")
	}
	codes := map[int][]string{}
	if err := readCodes(ctx, host, rec, func(r codeRow) error {
		codes[r.Line] = append(codes[r.Line], r.Code)
		return nil
	}); err != nil {
		return nil, err
	}
	fix := "complete the line (medical-insurance list code, hospital item code) and upload the document again"
	// lines and codes are what is sent: the document uploaded, or for a
	// fetched document the hospital's confirmed receipt (its draft).
	lines := rec.Lines
	// opter is the stock change's operator (inv_chg_opter_name): the
	// uploaded document's, or who confirmed a fetched one's receipt.
	opter := rec.Operator
	var fetched map[int]string // a fetched line's content, by line number
	what := "document " + rec.DocNo
	if rec.Source == sourcePlatform {
		if err := h.completeFetchedLines(ctx, rec); err != nil {
			return nil, err
		}
		id, err := h.draftIDFor(ctx, rec)
		if err != nil {
			return nil, err
		}
		d, _, err := loadDraft(ctx, host, id)
		switch {
		case errors.Is(err, sdk.ErrNotFound) || err == nil && (d.SupplierBillNo != rec.DocNo || d.SupplierCode != rec.FromOrgCode):
			return stateError("$.billNo", fmt.Sprintf("document %s of %s has no draft receipt yet", rec.DocNo, orgText(rec.FromOrgCode, rec.FromOrgName)),
				"the fetch that stored it stopped before creating its draft: fetch its date again (tracecode.stockin.fetch, or let the stock-in-sync job run), then review and confirm the draft and send again")
		case err != nil:
			return nil, err
		case d.Status != draftConfirmed:
			return stateError("$.billNo", fmt.Sprintf("the draft receipt %s of document %s of %s is not confirmed", d.ID, rec.DocNo, orgText(rec.FromOrgCode, rec.FromOrgName)),
				"medical insurance receives the hospital's stock-in, which for a fetched document is its confirmed receipt: review the draft (the console's draft-receipts work list, tracecode.draft.get), "+
					"adjust it and confirm it (tracecode.draft.confirm), then send again")
		}
		fetched = map[int]string{}
		for _, l := range rec.Lines {
			fetched[l.LineNo] = h.miContent(l, codes[l.LineNo])
		}
		lines, codes = h.receiptLines(rec, d)
		opter = d.ConfirmedBy // who took the delivery into stock
		what = "confirmed receipt " + d.ReceiptNo
		fix = "a confirmed receipt's line takes a missing medical-insurance list code from the fetched document's line of the same number and product, and a missing item code from productItemMap: " +
			"correct the line in HIS and on the medical-insurance side, or map the product in productItemMap, then send again"
	}
	stKey := rec.miKey()
	st, stVer, err := loadMIState(ctx, host, stKey)
	if err != nil {
		return nil, err
	}
	sc, _ := h.cfg.schemas.Get("tracecode", mi.infno)
	inputs := map[int]map[string]any{}
	bchnos := map[int]string{}
	var ds sdk.Diagnostics
	for i, l := range lines {
		bchnos[l.LineNo] = st.batchNo(rec, l.LineNo)
		in := h.miInput(rec, l, codes[l.LineNo], bchnos[l.LineNo], opter)
		for _, fe := range sc.ValidateInput(in) {
			ds.Error(fmt.Sprintf("$.lines[%d]%s", i, fe.Path[1:]), fe.Rule, fmt.Sprintf("line %d cannot be sent to medical insurance: %s", l.LineNo, fe.Message), fix)
		}
		inputs[l.LineNo] = in
	}
	if ds.HasError() {
		return invalid(ds)
	}

	var replies []miLineReply
	var unknown []int
	var firstReject *hsa.BusinessError
	var retryable error
	var mismatch []int
	record := miRecord{At: h.a.now(), DocNo: rec.DocNo, Source: rec.Source, Infno: mi.infno, MessageID: h.req.MessageID, Lines: len(lines)}
	current := map[string]bool{}
	for _, l := range lines {
		ln := strconv.Itoa(l.LineNo)
		current[ln] = true
		content := h.miContent(l, codes[l.LineNo])
		cur := st.Lines[ln]
		r := miLineReply{LineNo: l.LineNo, Bchno: bchnos[l.LineNo], Codes: len(codes[l.LineNo])}
		if cur != nil && cur.Status == miOK {
			sent := cur.Sent
			if sent == "" && fetched != nil {
				// Accepted before uploads took the confirmed receipt: what
				// was sent was the fetched document's line.
				sent = fetched[l.LineNo]
			}
			if sent != "" && sent != content {
				r.MsgID, r.Status, r.Message = cur.MsgID, miMismatch, "accepted earlier with other figures (quantity, codes or item code) than the confirmed receipt's; not sent again: correct it on the medical-insurance side"
				mismatch = append(mismatch, l.LineNo)
				replies = append(replies, r)
				continue
			}
			r.MsgID, r.Status, r.Message = cur.MsgID, miOK, "already accepted; not sent again"
			replies = append(replies, r)
			continue
		}
		if cur != nil && (cur.Status == miUnknown || cur.Status == miSending) && !p.Resend {
			r.MsgID, r.Status, r.Message = cur.MsgID, miUnknown, "an earlier attempt may have arrived; check on the medical-insurance side, then send with resend: true"
			unknown = append(unknown, l.LineNo)
			replies = append(replies, r)
			continue
		}
		msgid, err := mi.client.NewMsgID(ctx, host)
		if err != nil {
			return nil, err
		}
		st.Lines[ln] = &miLine{MsgID: msgid, Bchno: bchnos[l.LineNo], Status: miSending, Sent: content}
		if stVer, err = saveMIState(ctx, host, stKey, st, stVer); err != nil {
			return nil, err
		}
		// A call refused because the sign-in expired goes out again after a
		// new sign-in under a new msgid: record it before, as the first,
		// so an unknown outcome names the msgid that may have arrived.
		resending := func(ctx context.Context, id string) error {
			prev := st.Lines[ln]
			st.Lines[ln] = &miLine{MsgID: id, Bchno: bchnos[l.LineNo], Status: miSending, Sent: content}
			v, err := saveMIState(ctx, host, stKey, st, stVer)
			if err != nil {
				st.Lines[ln] = prev
				return err
			}
			stVer, msgid = v, id
			return nil
		}
		res, err := mi.client.Do(ctx, host, hsa.Call{Infno: mi.infno, Input: inputs[l.LineNo], MessageID: h.req.MessageID, MsgID: msgid, Resending: resending})
		line := st.Lines[ln]
		r.MsgID = msgid
		var be *hsa.BusinessError
		var te *hsa.TransportError
		var ge *hsa.GatewayError
		var ve *hsa.ValidationError
		switch {
		case err == nil:
			line.Status, line.Infcode = miOK, res.Response.Infcode
		case errors.As(err, &be):
			line.Status, line.Infcode, line.Message = miRejected, be.Infcode, shown(be.Message)
			if firstReject == nil {
				firstReject = be
			}
		case errors.As(err, &te) && te.Sent:
			line.Status, line.Message = miUnknown, err.Error()
			unknown = append(unknown, l.LineNo)
		case errors.As(err, &te): // not sent: nothing arrived, send again later
			delete(st.Lines, ln)
			line.Status, line.Message = "not sent", err.Error()
			retryable = err
		case errors.As(err, &ge): // refused by the gateway: nothing arrived
			delete(st.Lines, ln)
			line.Status, line.Message = miRejected, shown(err.Error())
			if firstReject == nil {
				firstReject = &hsa.BusinessError{Infno: mi.infno, MsgID: msgid, Infcode: -1, Message: err.Error()}
			}
		case errors.As(err, &ve):
			// Nothing was sent: forget the line's "sending" mark.
			delete(st.Lines, ln)
			if _, serr := saveMIState(ctx, host, stKey, st, stVer); serr != nil {
				return nil, serr
			}
			return invalid(sdk.Diagnostics{{Field: "$", Rule: "precondition", Summary: "the medical-insurance message is not valid; nothing was sent", Detail: err.Error()}})
		default: // the message could not be built: nothing was sent
			delete(st.Lines, ln)
			if _, serr := saveMIState(ctx, host, stKey, st, stVer); serr != nil {
				return nil, serr
			}
			return nil, err
		}
		r.Status, r.Infcode, r.Message = line.Status, line.Infcode, line.Message
		replies = append(replies, r)
		st.Unlogged = append(st.Unlogged, miCall{MsgID: msgid, Codes: len(codes[l.LineNo])})
		if stVer, err = saveMIState(ctx, host, stKey, st, stVer); err != nil {
			return nil, err
		}
		if retryable != nil {
			break
		}
	}

	// Lines sent earlier that the confirmed receipt no longer has (staff
	// removed them): medical insurance has, or may have, them.
	var gone []int
	for ln, l := range st.Lines {
		if current[ln] || l.Status == miRejected {
			continue
		}
		n, _ := strconv.Atoi(ln)
		gone = append(gone, n)
	}
	slices.Sort(gone)
	for _, n := range gone {
		l := st.Lines[strconv.Itoa(n)]
		replies = append(replies, miLineReply{LineNo: n, MsgID: l.MsgID, Bchno: st.batchNo(rec, n), Status: miMismatch, Infcode: l.Infcode,
			Message: "not in the confirmed receipt, sent earlier (" + l.Status + "); correct it on the medical-insurance side if it arrived"})
		mismatch = append(mismatch, n)
	}

	// The document's outcome, its record for the export, its status.
	done := 0
	for _, l := range lines {
		if sl := st.Lines[strconv.Itoa(l.LineNo)]; sl != nil && sl.Status == miOK && !slices.Contains(mismatch, l.LineNo) {
			done++
		}
	}
	switch {
	case len(unknown) > 0:
		record.Status = miUnknown
	case len(mismatch) > 0:
		record.Status = miMismatch
	case done == len(lines):
		record.Status = miOK
	case done > 0:
		record.Status = miPartial
	default:
		record.Status = miRejected
	}
	if firstReject != nil {
		code := firstReject.Infcode
		record.Infcode, record.Message = &code, shown(firstReject.Message)
	} else if record.Status == miOK {
		zero := 0
		record.Infcode = &zero
	}
	if len(mismatch) > 0 && firstReject == nil {
		record.Message = fmt.Sprintf("line(s) %v were sent earlier with other figures than the %s has, or are no longer in it: correct them on the medical-insurance side", mismatch, what)
	}
	if retryable != nil {
		record.Message = retryable.Error()
	}
	if len(st.Unlogged) > 0 || record.Status != miOK {
		if _, err := h.logMI(ctx, st, stKey, stVer, &record); err != nil {
			return nil, err
		}
	}
	if err := updateDoc(ctx, host, key, func(r *docRecord) { r.MIStatus = record.Status }); err != nil {
		return nil, err
	}
	reply := map[string]any{"billNo": rec.DocNo, "infno": mi.infno, "status": record.Status, "lines": replies}
	switch {
	case retryable != nil:
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true,
			Diagnostics: sdk.Diagnostics{{Rule: "transient", Summary: "the medical-insurance platform is unavailable", Detail: retryable.Error()}}}, nil
	case firstReject != nil:
		b, _ := json.Marshal(reply)
		return &sdk.HandleResponse{Status: sdk.StatusRejected, Payload: b,
			External: &sdk.External{System: "hsa", Code: strconv.Itoa(firstReject.Infcode), Message: shown(firstReject.Message), MsgID: firstReject.MsgID},
			Diagnostics: sdk.Diagnostics{{Rule: "external", Summary: "medical insurance refused a line of the document",
				Detail: fmt.Sprintf("%s (msgid %s) refused by the platform: infcode %d: %s", firstReject.Infno, firstReject.MsgID, firstReject.Infcode, shown(firstReject.Message))}}}, nil
	case len(unknown) > 0:
		b, _ := json.Marshal(reply)
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Payload: b,
			Diagnostics: sdk.Diagnostics{{Rule: "state", Summary: fmt.Sprintf("the outcome of line(s) %v is unknown", unknown),
				Detail: "the national interface offers no query to reconcile them: check on the medical-insurance side, then send the message again with resend: true if they did not arrive"}}}, nil
	case len(mismatch) > 0:
		b, _ := json.Marshal(reply)
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Payload: b,
			Diagnostics: sdk.Diagnostics{{Rule: "state", Summary: fmt.Sprintf("line(s) %v were sent to medical insurance earlier with other figures than the %s has, or are no longer in it", mismatch, what),
				Detail: "medgate does not send a line twice (a second 3502 under its batch number fixmedins_bchno would change the stock twice): " +
					"correct those lines on the medical-insurance side against the " + what + "; the other lines were sent"}}}, nil
	}
	return ok(reply)
}

// completeFetchedLines fills in the identification a fetched document's
// lines lack for medical insurance: the hospital item code of a product
// that was not in productItemMap when the document was fetched (a refetch
// finds the document unchanged and does not map it again), and a
// medical-insurance list code the platform did not give. Each is taken
// from the line of the same number and product in the document's draft
// receipt once confirmed (staff set them there, and confirming requires
// item codes), else the item code from the current productItemMap. Only
// missing values are filled, in rec only; nothing stored changes. The
// upload sends the confirmed receipt; the completed fetched lines are
// what uploads before that sent, against which lines accepted then are
// compared.
func (h *handler) completeFetchedLines(ctx context.Context, rec *docRecord) error {
	missing := false
	for _, l := range rec.Lines {
		missing = missing || l.ItemCode == "" || l.MedListCode == ""
	}
	if !missing {
		return nil
	}
	id, err := h.draftIDFor(ctx, rec)
	if err != nil {
		return err
	}
	d, _, err := loadDraft(ctx, h.req.Host, id)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		d = nil
	case err != nil:
		return err
	case d.Status != draftConfirmed || d.SupplierBillNo != rec.DocNo || d.SupplierCode != rec.FromOrgCode:
		d = nil // an open draft is not final; another supplier's is not this one
	}
	for i := range rec.Lines {
		l := &rec.Lines[i]
		if d != nil {
			for _, dl := range d.Lines {
				if dl.LineNo != l.LineNo || dl.ProductCode != l.ProductCode {
					continue
				}
				if l.ItemCode == "" {
					l.ItemCode = dl.ItemCode
				}
				if l.MedListCode == "" {
					l.MedListCode = dl.MedListCode
				}
				break
			}
		}
		if l.ItemCode == "" {
			l.ItemCode = h.cfg.itemMap[l.ProductCode]
		}
	}
	return nil
}

// receiptLines returns the lines and codes of a fetched document's
// confirmed draft receipt, as the medical-insurance upload sends them: the
// hospital's quantities, codes and item codes. A line the fetched
// document has (same number and product) gives what the draft does not
// keep (the split flag, the approval number) and a medical-insurance list
// code the draft lacks; a missing item code (drafts confirmed before item
// codes were required) comes from productItemMap.
func (h *handler) receiptLines(rec *docRecord, d *draft) ([]docLine, map[int][]string) {
	var lines []docLine
	codes := map[int][]string{}
	for _, dl := range d.Lines {
		l := docLine{LineNo: dl.LineNo, ItemCode: dl.ItemCode, MedListCode: dl.MedListCode, ItemName: dl.ItemName, Spec: dl.Spec,
			Manufacturer: dl.Manufacturer, ProductCode: dl.ProductCode, BatchNo: dl.BatchNo, ProduceDate: dl.ProduceDate,
			ExpiryDate: dl.ExpiryDate, Qty: dl.Qty, Unit: dl.Unit, PackRatio: dl.PackRatio, CodeCount: len(dl.Codes)}
		for _, fl := range rec.Lines {
			if fl.LineNo != dl.LineNo || fl.ProductCode != dl.ProductCode {
				continue
			}
			l.SplitFlag, l.ApprovalNo = fl.SplitFlag, fl.ApprovalNo
			if l.MedListCode == "" {
				l.MedListCode = fl.MedListCode
			}
			break
		}
		if l.ItemCode == "" {
			l.ItemCode = h.cfg.itemMap[l.ProductCode]
		}
		lines = append(lines, l)
		codes[l.LineNo] = dl.Codes
	}
	return lines, codes
}

// miContent is the fingerprint of what a line's 3502 tells medical
// insurance: list code, item code, quantity and trace codes (in any
// order). It is kept in the line's upload state, so an accepted line
// whose figures changed since is noticed instead of being taken as done.
func (h *handler) miContent(l docLine, codes []string) string {
	cs := slices.Clone(codes)
	slices.Sort(cs)
	b, _ := json.Marshal([]any{l.MedListCode, l.ItemCode, l.Qty, cs})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// miBchnoMax is the length of fixmedins_bchno (schema tracecode/3502).
const miBchnoMax = 30

// miBatchNo is the batch number (fixmedins_bchno) of line lineNo of rec
// sent for the first time. A document the hospital uploaded is numbered
// by the hospital: <billNo>-<lineNo>. A fetched one is numbered by its
// supplier, and two suppliers' documents may share a number, so its
// lines carry the supplier's too: <billNo>-<tag>-<lineNo>, tag the first
// 6 hex digits of SHA-256 of the supplier's code (fromOrgCode); where that
// is longer than the field, <hash>-<lineNo>, hash the first 20 hex digits
// of SHA-256 of supplier and number. Both depend on the document alone,
// so every attempt and instance computes the same.
func miBatchNo(rec *docRecord, lineNo int) string {
	if rec.Source != sourcePlatform {
		return fmt.Sprintf("%s-%d", rec.DocNo, lineNo)
	}
	tag := sha256.Sum256([]byte(rec.FromOrgCode))
	if b := fmt.Sprintf("%s-%X-%d", rec.DocNo, tag[:3], lineNo); len(b) <= miBchnoMax {
		return b
	}
	sum := sha256.Sum256([]byte(rec.FromOrgCode + "\n" + rec.DocNo))
	return fmt.Sprintf("%X-%d", sum[:10], lineNo)
}

// batchNo is the batch number line lineNo of rec is sent under: the one
// its state keeps; <billNo>-<lineNo> for a line an earlier version sent
// (or may have) before the number was kept, which medical insurance may
// hold under it; else a new one (miBatchNo). A line refused takes a new
// one: nothing is held under its old number.
func (st *miState) batchNo(rec *docRecord, lineNo int) string {
	cur := st.Lines[strconv.Itoa(lineNo)]
	switch {
	case cur == nil:
	case cur.Bchno != "":
		return cur.Bchno
	case cur.Status != miRejected:
		return fmt.Sprintf("%s-%d", rec.DocNo, lineNo)
	}
	return miBatchNo(rec, lineNo)
}

// miInput builds the 3502 input of one line, sent under batch number
// bchno, its operator opter (the hospital's name when "").
func (h *handler) miInput(rec *docRecord, l docLine, codes []string, bchno, opter string) map[string]any {
	trdn := l.SplitFlag
	if trdn == "" {
		trdn = "0"
	}
	if opter == "" {
		opter = h.cfg.orgName
	}
	info := map[string]any{
		"med_list_codg":         l.MedListCode,
		"inv_chg_type":          h.cfg.mi.invChgType,
		"fixmedins_hilist_id":   l.ItemCode,
		"fixmedins_hilist_name": l.ItemName,
		"fixmedins_bchno":       bchno,
		"cnt":                   json.Number(l.Qty),
		"rx_flag":               h.cfg.mi.rxFlag,
		"inv_chg_time":          rec.BillTime,
		"memo":                  "追溯码平台单据 " + rec.DocNo,
		"trdn_flag":             trdn,
	}
	if opter != "" {
		info["inv_chg_opter_name"] = opter
	}
	var tr []any
	for _, c := range codes {
		tr = append(tr, map[string]any{"drug_trac_codg": c})
	}
	if len(tr) > 0 {
		info["drugtracinfo"] = tr
	}
	return map[string]any{"invinfo": info}
}

func loadMIState(ctx context.Context, h sdk.Host, key string) (*miState, int64, error) {
	st := &miState{Lines: map[string]*miLine{}}
	e, err := h.Get(ctx, key)
	if errors.Is(err, sdk.ErrNotFound) {
		return st, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value, st); err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", key, err)
	}
	if st.Lines == nil {
		st.Lines = map[string]*miLine{}
	}
	return st, e.Version, nil
}

// saveMIState writes the state with compare-and-set: two messages never
// upload the same document at once unnoticed.
func saveMIState(ctx context.Context, h sdk.Host, key string, st *miState, ver int64) (int64, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return 0, err
	}
	nv, err := h.CompareAndSet(context.WithoutCancel(ctx), key, ver, b)
	if errors.Is(err, sdk.ErrConflict) {
		return 0, errBusy
	}
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", key, err)
	}
	return nv, nil
}

// ambiguousError: several suppliers' fetched documents have the number.
type ambiguousError struct{ suppliers []string }

func (e *ambiguousError) Error() string {
	return "several suppliers' documents have this number: " + strings.Join(e.suppliers, ", ")
}

// fetchedForMI finds the fetched document a medical-insurance upload
// means: the supplier's when supplierCode is given, else the only one of
// that number (*ambiguousError when there are several).
func (h *handler) fetchedForMI(ctx context.Context, p miPayload) (*docRecord, string, error) {
	if p.SupplierCode != "" {
		rec, key, _, err := loadFetched(ctx, h.req.Host, p.BillNo, p.SupplierCode)
		return rec, key, err
	}
	recs, keys, err := findFetched(ctx, h.req.Host, p.BillNo)
	switch {
	case err != nil:
		return nil, "", err
	case len(recs) == 0:
		return nil, "", sdk.ErrNotFound
	case len(recs) > 1:
		amb := &ambiguousError{}
		for _, r := range recs {
			amb.suppliers = append(amb.suppliers, orgText(r.FromOrgCode, r.FromOrgName))
		}
		return nil, "", amb
	}
	return recs[0], keys[0], nil
}

// logMI stores the upload record of a document (daily log "mi", for the
// export) with the calls not recorded yet (st.Unlogged, made by this
// upload or by an earlier one that stopped before recording them), in
// the log slot reserved in the state first: an upload that stops on the
// way and is sent again records its calls once. It returns the state's
// new version.
func (h *handler) logMI(ctx context.Context, st *miState, stKey string, stVer int64, record *miRecord) (int64, error) {
	host := h.req.Host
	var err error
	if st.LogKey == "" {
		if st.LogKey, err = reserveLog(ctx, host, kindMI, record.At.In(h.cfg.zone)); err != nil {
			return 0, fmt.Errorf("record the medical-insurance upload of %s for the export: %w", record.DocNo, err)
		}
		st.LogAt = record.At
		if stVer, err = saveMIState(ctx, host, stKey, st, stVer); err != nil {
			return 0, err
		}
	}
	record.At = st.LogAt
	record.MsgIDs, record.Codes = nil, 0
	for _, c := range st.Unlogged {
		record.MsgIDs = append(record.MsgIDs, c.MsgID)
		record.Codes += c.Codes
	}
	b, err := json.Marshal(record)
	if err != nil {
		return 0, fmt.Errorf("encode the medical-insurance upload record of %s: %w", record.DocNo, err)
	}
	if _, err := host.Put(ctx, st.LogKey, b); err != nil {
		return 0, fmt.Errorf("record the medical-insurance upload of %s for the export: store %s: %w", record.DocNo, st.LogKey, err)
	}
	st.Unlogged, st.LogKey, st.LogAt = nil, "", time.Time{}
	return saveMIState(ctx, host, stKey, st, stVer)
}
