package adapter_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestMIUploadOfAFetchedDocumentSendsTheConfirmedReceipt: requirement 9
// uploads the hospital's stock-in data to medical insurance, and for a
// fetched document that is its confirmed draft receipt (requirement 5).
// The upload sent the supplier's shipped quantities and codes, so staff
// corrections never reached medical insurance. The 3502 records the
// simulated platform received must carry the confirmed draft's quantity,
// codes and item code.
func TestMIUploadOfAFetchedDocumentSendsTheConfirmedReceipt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := fetchOne(t, e)
	no := billOf(id)
	d := getDraft(t, e, id)
	l := d.Lines[0]
	if len(l.Codes) < 2 {
		t.Fatalf("line %d has %d codes; the test needs two", l.LineNo, len(l.Codes))
	}
	removed := l.Codes[len(l.Codes)-1]
	qty := fmt.Sprint(len(l.Codes) - 1)
	if qty == l.Qty {
		qty += "0"
	}
	adj := must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": id, "by": "pharm01", "expectedVersion": d.Version, "reason": "到货清点",
		"changes": []any{
			map[string]any{"op": "setQty", "lineNo": l.LineNo, "qty": qty},
			map[string]any{"op": "removeCodes", "lineNo": l.LineNo, "codes": []string{removed}},
			map[string]any{"op": "setField", "lineNo": l.LineNo, "field": "itemCode", "value": "HIS-001"},
		}}), sdk.StatusOK)
	must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm02", "expectedVersion": adj["version"]}), sdk.StatusOK)
	d = getDraft(t, e, id)

	out := must[miReply](t, e.send(adapter.OpMIUpload, map[string]any{"billNo": no, "source": "platform"}), sdk.StatusOK)
	if out.Status != "ok" || len(out.Lines) != len(d.Lines) {
		t.Fatalf("reply %+v", out)
	}
	recs := e.sim.HSARecords()
	for _, dl := range d.Lines {
		r, ok := recs[out.bchno(dl.LineNo)]
		if !ok {
			t.Errorf("line %d: no 3502 record received", dl.LineNo)
			continue
		}
		if r.Cnt != dl.Qty || !slices.Equal(r.TraceCodes, dl.Codes) || r.FixmedinsID != dl.ItemCode {
			t.Errorf("line %d: 3502 sent cnt %s, item %s, %d codes; the confirmed receipt has cnt %s, item %s, %d codes",
				dl.LineNo, r.Cnt, r.FixmedinsID, len(r.TraceCodes), dl.Qty, dl.ItemCode, len(dl.Codes))
		}
	}
	for _, dl := range d.Lines {
		if r := recs[out.bchno(dl.LineNo)]; r.OpterName != "pharm02" {
			t.Errorf("line %d: 3502 inv_chg_opter_name %q, want pharm02, who confirmed the receipt (the stock change's operator)", dl.LineNo, r.OpterName)
		}
	}
	if r := recs[out.bchno(l.LineNo)]; r.Cnt != qty || slices.Contains(r.TraceCodes, removed) || r.FixmedinsID != "HIS-001" {
		t.Errorf("line %d sent as cnt %s item %s (removed code sent: %v); want the staff's cnt %s, item HIS-001, without %s",
			l.LineNo, r.Cnt, r.FixmedinsID, slices.Contains(r.TraceCodes, removed), qty, removed)
	}
}

// TestMIUploadOfAFetchedDocumentNeedsAConfirmedDraft: a fetched document
// whose draft receipt is still open is the supplier's delivery, not the
// hospital's stock-in yet: the upload is refused (invalid, nothing sent)
// and says to confirm the draft first.
func TestMIUploadOfAFetchedDocumentNeedsAConfirmedDraft(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := fetchOne(t, e)
	r := e.send(adapter.OpMIUpload, map[string]any{"billNo": billOf(id), "source": "platform"})
	if r.Status != sdk.StatusInvalid || !hasDiag(r.Diagnostics, "$.billNo", "state") {
		t.Fatalf("upload with the draft open: %s %s", r.Status, r.Diagnostics)
	}
	if text := r.Diagnostics.String(); !strings.Contains(text, "confirm") || !strings.Contains(text, id) {
		t.Errorf("the refusal does not say to confirm draft %s first: %s", id, text)
	}
	if n := e.sim.Stats().Calls["hsa"]; n != 0 || len(e.sim.HSARecords()) != 0 {
		t.Errorf("%d national calls for a document whose draft is not confirmed", n)
	}
}

// TestMIUploadOfAFetchedDocumentUploadedBeforeTheReceipt: a document
// partly uploaded from the platform's figures (before uploads took the
// confirmed receipt) whose confirmed receipt then differs: a line medical
// insurance accepted with other figures is not sent again (a second 3502
// under its batch number would change the stock twice), it is reported
// for correction on the medical-insurance side, and so is an accepted
// line staff removed; the other lines are sent from the receipt.
func TestMIUploadOfAFetchedDocumentUploadedBeforeTheReceipt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := fetchOne(t, e)
	no := billOf(id)
	d := getDraft(t, e, id)
	if len(d.Lines) < 3 {
		t.Fatalf("the draft has %d lines; the test needs three", len(d.Lines))
	}
	changed, same, removed := d.Lines[0], d.Lines[1], d.Lines[2]
	// The state an earlier upload of the platform's figures left: three
	// lines accepted, recorded without what was sent.
	var key string
	for _, en := range e.state("miidx/") {
		key = en.Key
	}
	if key != "" {
		t.Fatalf("upload state %s before any upload", key)
	}
	st := map[string]any{"lines": map[string]any{
		fmt.Sprint(changed.LineNo): map[string]any{"msgid": "M1", "status": "ok"},
		fmt.Sprint(same.LineNo):    map[string]any{"msgid": "M2", "status": "ok"},
		fmt.Sprint(removed.LineNo): map[string]any{"msgid": "M3", "status": "ok"},
	}}
	b, _ := json.Marshal(st)
	supplier := ""
	for _, en := range e.state("docidx/in/") {
		if strings.HasPrefix(en.Key, "docidx/in/"+no+"/") {
			supplier = strings.TrimPrefix(en.Key, "docidx/in/"+no)
		}
	}
	if supplier == "" {
		t.Fatalf("document %s is not indexed", no)
	}
	if _, err := e.host.Put(t.Context(), site, "miidx/in%2F"+no+supplier, b); err != nil {
		t.Fatal(err)
	}
	adj := must[map[string]any](t, e.send(adapter.OpDraftAdjust, map[string]any{"draftId": id, "by": "pharm01", "expectedVersion": d.Version,
		"changes": []any{
			map[string]any{"op": "setQty", "lineNo": changed.LineNo, "qty": changed.Qty + "1"},
			map[string]any{"op": "removeLine", "lineNo": removed.LineNo},
		}}), sdk.StatusOK)
	must[map[string]any](t, e.send(adapter.OpDraftConfirm, map[string]any{"draftId": id, "by": "pharm02", "expectedVersion": adj["version"]}), sdk.StatusOK)

	r := e.send(adapter.OpMIUpload, map[string]any{"billNo": no, "source": "platform"})
	var out miReply
	_ = json.Unmarshal(r.Payload, &out)
	if r.Status != sdk.StatusFailed || r.Retryable || !hasDiag(r.Diagnostics, "", "state") {
		t.Fatalf("upload: %s retryable=%v %s", r.Status, r.Retryable, r.Diagnostics)
	}
	text := r.Diagnostics.String()
	for _, n := range []int{changed.LineNo, removed.LineNo} {
		if !strings.Contains(text, fmt.Sprint(n)) {
			t.Errorf("the answer does not name line %d: %s", n, text)
		}
	}
	status := map[int]string{}
	for _, l := range out.Lines {
		status[l.LineNo] = l.Status
	}
	if status[changed.LineNo] != "mismatch" || status[same.LineNo] != "ok" || status[removed.LineNo] != "mismatch" || out.Status != "mismatch" {
		t.Errorf("reply %+v; want lines %d and %d mismatch, %d ok, document mismatch", out, changed.LineNo, removed.LineNo, same.LineNo)
	}
	recs := e.sim.HSARecords()
	for _, l := range []int{changed.LineNo, same.LineNo, removed.LineNo} {
		if _, ok := recs[fmt.Sprintf("%s-%d", no, l)]; ok || out.bchno(l) != fmt.Sprintf("%s-%d", no, l) {
			t.Errorf("line %d accepted earlier was sent again, or its batch number changed (%q)", l, out.bchno(l))
		}
	}
	for _, l := range d.Lines[3:] {
		if _, ok := recs[out.bchno(l.LineNo)]; !ok {
			t.Errorf("line %d never sent", l.LineNo)
		}
	}
}
