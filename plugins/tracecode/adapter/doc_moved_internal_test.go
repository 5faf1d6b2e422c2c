package adapter

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestMovedDocumentIsNotUpdatedAtItsOldPlace: a message that read a
// document (its log key) before the document's date moved, and then
// updates it there (its upload status, its medical-insurance status),
// found the old record gone and failed with "not found"; with the old
// record a forwarding record now, the update would go to it and be lost.
// It is refused as a changed document (errDocChanged: the message is
// retried and finds the document where it is now).
func TestMovedDocumentIsNotUpdatedAtItsOldPlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := siteHost{m: sdktest.NewMemoryHost(), site: "s1"}
	rows := []codeRow{{Line: 1, Code: "81000010000000010001"}}
	rec := &docRecord{DocNo: "RK-MV", Source: sourceUpload, Direction: "in", BillTime: "2026-11-25 09:00:00", Lines: []docLine{{LineNo: 1, Qty: "1"}}}
	oldKey, err := saveDoc(ctx, host, rec, rows, time.Date(2026, 11, 25, 0, 0, 0, 0, cst), "", time.Date(2026, 11, 26, 10, 0, 0, 0, cst))
	if err != nil {
		t.Fatal(err)
	}
	moved := *rec
	moved.BillTime = "2026-11-26 09:00:00"
	newKey, err := saveDoc(ctx, host, &moved, rows, time.Date(2026, 11, 26, 0, 0, 0, 0, cst), oldKey, time.Date(2026, 11, 26, 10, 0, 0, 0, cst))
	if err != nil {
		t.Fatal(err)
	}
	if newKey == oldKey {
		t.Fatalf("the document stayed at %s", oldKey)
	}
	for name, update := range map[string]func() error{
		"updateDoc": func() error { return updateDoc(ctx, host, oldKey, func(r *docRecord) { r.MIStatus = miOK }) },
		"saveDoc in place": func() error {
			again := moved
			again.BillTime = "2026-11-25 10:00:00"
			_, err := saveDoc(ctx, host, &again, rows, time.Date(2026, 11, 25, 0, 0, 0, 0, cst), oldKey, time.Date(2026, 11, 26, 10, 0, 0, 0, cst))
			return err
		},
	} {
		if err := update(); !errors.Is(err, errDocChanged) {
			t.Errorf("%s at the old place %s of a document moved to %s: %v, want it refused as a changed document", name, oldKey, newKey, err)
		}
	}
	cur, key, _, err := loadDoc(ctx, host, sourceUpload, "RK-MV")
	if err != nil || key != newKey || cur.MIStatus != "" || cur.BillTime != moved.BillTime {
		t.Errorf("the document is %+v at %s (%v), want it at %s unchanged", cur, key, err, newKey)
	}
}
