package adapter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/code"
	"github.com/medgate/medgate/plugins/tracecode/platform"
)

// tokenPayload is the payload of tracecode.token.
type tokenPayload struct {
	Force bool `json:"force"`
}

// token obtains or renews the access token and replies with its expiry.
func (h *handler) token(ctx context.Context) (*sdk.HandleResponse, error) {
	var p tokenPayload
	if len(h.req.Payload) > 0 {
		if ds := plain(h.req.Payload, &p); ds != nil {
			return invalid(ds)
		}
	}
	info, err := h.cfg.client.Token(ctx, h.observe(""), p.Force)
	if err != nil {
		return platformFailure("the token request", err)
	}
	return ok(map[string]any{"expiresAt": info.ExpiresAt.In(h.cfg.zone).Format(time.RFC3339), "refreshed": info.Refreshed})
}

// traceCode is one code of a document line, as sent.
type traceCode struct {
	Code string `json:"code"`
}

// uploadLine is one line of a document to upload (schema tracecode/upload).
type uploadLine struct {
	LineNo       int         `json:"lineNo"`
	ItemCode     string      `json:"itemCode"`
	MedListCode  string      `json:"medListCode,omitempty"`
	ItemName     string      `json:"itemName"`
	Spec         string      `json:"spec,omitempty"`
	Manufacturer string      `json:"manufacturer,omitempty"`
	BatchNo      string      `json:"batchNo"`
	ProduceDate  string      `json:"produceDate,omitempty"`
	ExpiryDate   string      `json:"expiryDate"`
	Qty          json.Number `json:"qty"`
	Unit         string      `json:"unit,omitempty"`
	PackRatio    string      `json:"packRatio,omitempty"`
	SplitFlag    string      `json:"splitFlag,omitempty"`
	TraceCodes   []traceCode `json:"traceCodes"`
}

// uploadBill is a document to upload (schema tracecode/upload).
type uploadBill struct {
	BillNo      string       `json:"billNo"`
	BillType    string       `json:"billType"`
	BillTime    string       `json:"billTime"`
	FromOrgCode string       `json:"fromOrgCode,omitempty"`
	FromOrgName string       `json:"fromOrgName,omitempty"`
	ToOrgCode   string       `json:"toOrgCode,omitempty"`
	ToOrgName   string       `json:"toOrgName,omitempty"`
	Operator    string       `json:"operator"`
	Warehouse   string       `json:"warehouse,omitempty"`
	Remark      string       `json:"remark,omitempty"`
	Lines       []uploadLine `json:"lines"`
}

// checkBill applies the business rules the schema cannot express and
// normalises the codes. It returns the code rows and every problem.
func (h *handler) checkBill(b *uploadBill, direction string) ([]codeRow, sdk.Diagnostics) {
	var ds sdk.Diagnostics
	want := map[string]string{"in": "1", "out": "2"}[direction]
	if !strings.HasPrefix(b.BillType, want) {
		kind := map[string]string{"in": "stock-in (1xx: 102, 103, 107)", "out": "stock-out (2xx: 202, 205, 206, 209)"}[direction]
		ds.Error("$.billType", "enum", fmt.Sprintf("bill type %s is not a %s type", b.BillType, kind),
			fmt.Sprintf("send stock-ins as %s and stock-outs as %s", OpStockInUpload, OpStockOutUpload))
	}
	if strings.ContainsAny(b.BillNo, " \t\r\n") {
		ds.Error("$.billNo", "format", "the document number contains white space", "send the number exactly as printed, without spaces")
	}
	seenLine := map[int]int{}
	seenCode := map[string]string{}
	var rows []codeRow
	for i := range b.Lines {
		l := &b.Lines[i]
		at := fmt.Sprintf("$.lines[%d]", i)
		if prev, dup := seenLine[l.LineNo]; dup {
			ds.Error(at+".lineNo", "precondition", fmt.Sprintf("line number %d is used twice (also $.lines[%d])", l.LineNo, prev), "number the lines uniquely")
		}
		seenLine[l.LineNo] = i
		if q, err := strconv.ParseFloat(l.Qty.String(), 64); err != nil || q <= 0 {
			ds.Error(at+".qty", "amount", fmt.Sprintf("quantity %s is not positive", l.Qty), "send the quantity in smallest packages, greater than 0")
		}
		if l.ProduceDate != "" && l.ExpiryDate != "" && l.ExpiryDate < l.ProduceDate {
			ds.Error(at+".expiryDate", "precondition", fmt.Sprintf("expiry %s is before production %s", l.ExpiryDate, l.ProduceDate), "check the dates on the package")
		}
		if l.PackRatio != "" {
			if _, err := code.ParseRatio(l.PackRatio, h.cfg.ratioMode); err != nil {
				ds.Error(at+".packRatio", "format", "the package ratio is not usable", err.Error())
			}
		}
		for j := range l.TraceCodes {
			cat := fmt.Sprintf("%s.traceCodes[%d].code", at, j)
			c, err := code.Parse(l.TraceCodes[j].Code, h.cfg.policy)
			if err != nil {
				ds.Error(cat, "format", "the trace code is not valid", err.Error())
				continue
			}
			if prev, dup := seenCode[c.Value]; dup {
				ds.Error(cat, "precondition", fmt.Sprintf("code %s is listed twice (also %s)", c.Value, prev), "scan each package once; remove the repeated code")
				continue
			}
			seenCode[c.Value] = cat
			l.TraceCodes[j].Code = c.Value
			rows = append(rows, codeRow{Line: l.LineNo, Code: c.Value, Kind: string(c.Kind)})
		}
	}
	return rows, ds
}

// recordOf builds the stored document of an upload.
func recordOf(b *uploadBill, direction, hash, messageID string) *docRecord {
	rec := &docRecord{DocNo: b.BillNo, Source: sourceUpload, Direction: direction, BillType: b.BillType, BillTime: b.BillTime,
		FromOrgCode: b.FromOrgCode, FromOrgName: b.FromOrgName, ToOrgCode: b.ToOrgCode, ToOrgName: b.ToOrgName,
		Operator: b.Operator, Warehouse: b.Warehouse, Remark: b.Remark, Hash: hash, MessageID: messageID}
	for _, l := range b.Lines {
		rec.Lines = append(rec.Lines, docLine{LineNo: l.LineNo, ItemCode: l.ItemCode, MedListCode: l.MedListCode, ItemName: l.ItemName,
			Spec: l.Spec, Manufacturer: l.Manufacturer, BatchNo: l.BatchNo, ProduceDate: l.ProduceDate, ExpiryDate: l.ExpiryDate,
			Qty: l.Qty.String(), Unit: l.Unit, PackRatio: l.PackRatio, SplitFlag: l.SplitFlag, CodeCount: len(l.TraceCodes)})
	}
	return rec
}

// uploadReply is the reply payload of an upload.
type uploadReply struct {
	BillNo    string `json:"billNo"`
	Status    string `json:"status"`
	Duplicate bool   `json:"duplicate"`
	// Reconciled: an earlier attempt's outcome was unknown and the platform
	// was found to have the document; nothing was sent again.
	Reconciled bool   `json:"reconciled,omitempty"`
	CodeCount  int    `json:"codeCount"`
	Message    string `json:"message,omitempty"`
}

// upload uploads a stock-in or stock-out document. The document number is
// the idempotency key: a document already uploaded with the same content
// is success without a call; one whose earlier outcome is unknown is
// looked up on the platform before it is sent again.
func (h *handler) upload(ctx context.Context, direction string) (*sdk.HandleResponse, error) {
	var bill uploadBill
	if ds := h.validated("upload", &bill); ds != nil {
		return invalid(ds)
	}
	rows, ds := h.checkBill(&bill, direction)
	if ds.HasError() {
		return invalid(ds)
	}
	canon, err := json.Marshal(&bill)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte(direction+"\n"), canon...))
	hash := hex.EncodeToString(sum[:])
	day, err := dayOf(bill.BillTime, h.cfg.zone)
	if err != nil {
		return invalid(sdk.Diagnostics{{Field: "$.billTime", Rule: "format", Summary: err.Error(), Detail: "write 2006-01-02 15:04:05"}})
	}
	host := h.req.Host
	obs := h.observe(bill.BillNo)

	prev, key, ver, err := loadDoc(ctx, host, sourceUpload, bill.BillNo)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		prev = nil
	case err != nil:
		return nil, err
	}
	// The codes of an earlier attempt under this number with other
	// content, read now: saving this attempt replaces them (saveDoc).
	var earlier []string
	if direction == "out" && prev != nil && prev.Direction == "out" && prev.Hash != hash {
		if err := readCodes(ctx, host, prev, func(r codeRow) error { earlier = append(earlier, r.Code); return nil }); err != nil {
			return nil, err
		}
	}
	// release puts back in stock the codes of a stock-out that did not
	// happen: this document's, and those of an earlier attempt under its
	// number with other content (reconciled as not on the platform).
	release := func() error {
		if direction != "out" {
			return nil
		}
		return h.releaseStockOut(context.WithoutCancel(ctx), &bill, earlier)
	}
	// reject records the platform's refusal; a refused stock-out took no
	// code out of stock.
	reject := func(code, message string) (*sdk.HandleResponse, error) {
		if err := release(); err != nil {
			return nil, err
		}
		resp, err := h.markRejected(ctx, key, code, shown(message))
		if err != nil {
			return nil, err
		}
		return resp, unhold(ctx, host, direction, bill.BillNo)
	}
	if prev != nil && prev.Status == statusReleasing && h.a.now().Sub(prev.StatusAt) < releaseLease {
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true, Diagnostics: sdk.Diagnostics{{Field: "$.billNo", Rule: "state",
			Summary: fmt.Sprintf("the codes of stock-out %s, found not to have happened, are being put back in stock (since %s)", bill.BillNo, h.fmtTime(prev.StatusAt)),
			Detail:  "the message is retried once they are back, and then sent"}}}, nil
	}
	if prev != nil {
		same := prev.Hash == hash
		switch prev.Status {
		case statusUploaded:
			if !same {
				return stateError("$.billNo", fmt.Sprintf("document %s was already uploaded with different content on %s", bill.BillNo, prev.StatusAt.In(h.cfg.zone).Format(dateTimeLayout)),
					"a document number can be uploaded once; upload the correction under a new document number (or a return/cancel document)")
			}
			return ok(uploadReply{BillNo: bill.BillNo, Status: statusUploaded, Duplicate: true, CodeCount: prev.CodeCount, Message: "already uploaded; nothing was sent"})
		case statusSending, statusUnknown:
			found, rej, err := h.reconcile(ctx, obs, bill.BillNo)
			if err != nil {
				return platformFailure("the document status query", err)
			}
			if found {
				if err := updateDoc(ctx, host, key, func(r *docRecord) {
					r.Status, r.StatusText, r.StatusAt = statusUploaded, "found on the platform when reconciling", h.a.now()
				}); err != nil {
					return nil, err
				}
				if rej == "" {
					if err := unhold(ctx, host, direction, bill.BillNo); err != nil {
						return nil, err
					}
				}
				if rej != "" {
					return reject("4", rej)
				}
				if !same {
					return stateError("$.billNo", fmt.Sprintf("document %s reached the platform in an earlier attempt with different content", bill.BillNo),
						"upload the correction under a new document number")
				}
				return ok(uploadReply{BillNo: bill.BillNo, Status: statusUploaded, Reconciled: true, CodeCount: prev.CodeCount, Message: "the earlier attempt had reached the platform; nothing was sent again"})
			}
			// The earlier attempt is not on the platform: it did not
			// happen, so the codes only it listed are back in stock (this
			// attempt takes its own below).
			if direction == "out" && prev.Direction == "out" && !same {
				if err := h.releaseEarlierAttempt(context.WithoutCancel(ctx), prev, &bill); err != nil {
					return nil, err
				}
			}
		}
	}
	// A package leaves stock once: the codes of a stock-out are taken out
	// of the stock ledger before anything is sent (refused when an earlier
	// document took one), and put back if the platform refuses it.
	var stockDs sdk.Diagnostics
	stockNote := ""
	if direction == "out" && prev != nil && prev.Direction == "out" && mayHold(prev.Status) {
		// Claim the document before taking codes (a held one, or one not
		// sent, whose codes versions before 46dc3c3 kept out): a
		// resolution of its earlier attempt (stockout-reconcile, an
		// operator) that began meanwhile makes this fail, and the message
		// is retried once it is done; one that begins after sees an
		// attempt under way (the time of the attempt is now).
		if _, err := casDoc(ctx, host, key, ver, func(r *docRecord) {
			r.StatusAt = h.a.now()
		}); err != nil {
			return nil, err
		}
		if prev.Status == statusPending && prev.Hash != hash && h.a.now().Sub(prev.StatusAt) >= h.cfg.reconcileAfter {
			// An earlier attempt not sent, with other content, and not
			// under way: the codes only it listed (which earlier versions
			// kept out) go back in stock.
			if err := h.releaseEarlierAttempt(context.WithoutCancel(ctx), prev, &bill); err != nil {
				return nil, err
			}
		}
	}
	if direction == "out" {
		sds, note, err := h.reserveStockOut(ctx, &bill)
		if err != nil {
			return nil, err
		}
		if sds.HasError() {
			return invalid(sds)
		}
		stockDs, stockNote = sds, note
		if err := h.hold(ctx, bill.BillNo); err != nil {
			return nil, errors.Join(err, release())
		}
	}
	rec := recordOf(&bill, direction, hash, h.req.MessageID)
	rec.Status, rec.StatusAt, rec.StockNote = statusSending, h.a.now(), stockNote
	if prev != nil {
		rec.MIStatus = prev.MIStatus
	}
	if key, err = saveDoc(ctx, host, rec, rows, day, key, h.a.now()); err != nil {
		return nil, err
	}
	if direction == "in" {
		// Recorded before the call, so that a crash after it cannot lose
		// it; a stock-in is the hospital's, received whatever the platform
		// answers.
		codes := make([]string, len(rows))
		for i, r := range rows {
			codes[i] = r.Code
		}
		if err := recordStockIn(ctx, host, bill.BillNo, "upload", bill.BillTime, codes); err != nil {
			return nil, err
		}
	}
	var ans struct {
		AcceptedCodes int `json:"acceptedCodes"`
	}
	res, err := h.cfg.client.Call(ctx, obs, platform.OpUpload, &bill, &ans)
	if err != nil {
		var be *platform.BusinessError
		status := statusPending
		switch {
		case errors.Is(err, platform.ErrAuth), errors.Is(err, platform.ErrNotSent):
			// No token (or the token refused): the document was not
			// processed, whatever code the token request was refused
			// with, or whether the token request itself was answered (an
			// unanswered token request is the token's unknown outcome,
			// not the document's); it is not the document that was
			// refused.
		case errors.As(err, &be):
			return reject(be.Code, be.Message)
		case errors.Is(err, platform.ErrUnknownOutcome), errors.Is(err, platform.ErrProtocol):
			// An answer that was not understood (or none) does not show
			// that the document was not processed: reconcile first.
			status = statusUnknown
		}
		if uerr := updateDoc(context.WithoutCancel(ctx), host, key, func(r *docRecord) {
			r.Status, r.StatusText, r.StatusAt = status, err.Error(), h.a.now()
		}); uerr != nil {
			return nil, uerr
		}
		if status == statusPending {
			// Not sent (no connection, no token) or refused before it was
			// processed (the credentials): a stock-out that did not happen
			// holds no code, whether the host retries the message (the
			// retry takes them again before it sends) or gives up on it. An
			// attempt whose outcome is unknown keeps them until reconciled.
			if rerr := release(); rerr != nil {
				return nil, rerr
			}
			if uerr := unhold(ctx, host, direction, bill.BillNo); uerr != nil {
				return nil, uerr
			}
		}
		resp, perr := platformFailure("the upload", err)
		if resp != nil && status == statusUnknown && direction == "out" {
			resp.Diagnostics = append(resp.Diagnostics, h.heldNote(&bill))
		}
		return resp, perr
	}
	msg := shown(res.Message)
	if res.Duplicate {
		// The platform already holds this number, and nothing here says it
		// processed it (a document recorded as uploaded is not sent): a
		// copy whose processing failed must not become a success.
		found, rej, err := h.reconcile(ctx, obs, bill.BillNo)
		switch {
		case err != nil:
			if uerr := updateDoc(context.WithoutCancel(ctx), host, key, func(r *docRecord) {
				r.Status, r.StatusText, r.StatusAt = statusUnknown, "the platform answered duplicate; its status query failed: "+err.Error(), h.a.now()
			}); uerr != nil {
				return nil, uerr
			}
			return platformFailure("the document status query after a duplicate answer", err)
		case found && rej != "":
			return reject("4", rej+"; the platform holds this document number and answers duplicate to a new upload: upload the document under a new document number")
		}
	}
	if err := updateDoc(ctx, host, key, func(r *docRecord) {
		r.Status, r.StatusText, r.StatusAt, r.Duplicate = statusUploaded, msg, h.a.now(), res.Duplicate
	}); err != nil {
		return nil, err
	}
	if err := unhold(ctx, host, direction, bill.BillNo); err != nil {
		return nil, err
	}
	return ok(uploadReply{BillNo: bill.BillNo, Status: statusUploaded, Duplicate: res.Duplicate, CodeCount: len(rows), Message: msg}, stockDs...)
}

// releaseEarlierAttempt puts back in stock the codes that an earlier
// attempt of a stock-out document (prev, found not to be on the platform)
// took and that b, the attempt now under its number, does not list.
func (h *handler) releaseEarlierAttempt(ctx context.Context, prev *docRecord, b *uploadBill) error {
	listed := map[string]bool{}
	for _, l := range b.Lines {
		for _, tc := range l.TraceCodes {
			listed[tc.Code] = true
		}
	}
	var codes []string
	if err := readCodes(ctx, h.req.Host, prev, func(r codeRow) error {
		if !listed[r.Code] {
			codes = append(codes, r.Code)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := putBack(ctx, h.req.Host, prev.DocNo, codes, true); err != nil {
		return fmt.Errorf("put back in stock the codes of the earlier attempt of document %s, which is not on the platform: %w", prev.DocNo, err)
	}
	return nil
}

// markRejected records the platform's refusal and returns the response.
// message is shown: masked already.
func (h *handler) markRejected(ctx context.Context, key, code, message string) (*sdk.HandleResponse, error) {
	if err := updateDoc(context.WithoutCancel(ctx), h.req.Host, key, func(r *docRecord) {
		r.Status, r.StatusText, r.StatusAt = statusRejected, code+": "+message, h.a.now()
	}); err != nil {
		return nil, err
	}
	return &sdk.HandleResponse{Status: sdk.StatusRejected,
		External:    &sdk.External{System: System, Code: code, Message: message},
		Diagnostics: sdk.Diagnostics{{Rule: "external", Summary: "the trace-code platform refused the document", Detail: fmt.Sprintf("code %s: %s; correct the document and send it again", code, message)}}}, nil
}

// reconcile asks the platform whether it has a document. rejected is the
// platform's message when it has the document but failed to process it.
func (h *handler) reconcile(ctx context.Context, obs platform.Observer, billNo string) (found bool, rejected string, err error) {
	var ans struct {
		Status string `json:"status"`
	}
	res, err := h.cfg.client.Call(ctx, obs, platform.OpBillStatus, map[string]string{"billNo": billNo}, &ans)
	if err != nil {
		return false, "", err
	}
	if res.NotFound {
		return false, "", nil
	}
	if ans.Status == "4" {
		return true, "the platform failed to process the document (status 4)", nil
	}
	return true, "", nil
}
