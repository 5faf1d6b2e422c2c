package adapter

import (
	"context"
	"errors"
	"fmt"
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

// TestDropForwardsIsBounded: one call removes at most forwardBatch
// forwarding records, the oldest first, and the next call the rest.
func TestDropForwardsIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := siteHost{m: sdktest.NewMemoryHost(), site: "s1"}
	rows := []codeRow{{Line: 1, Code: "81000010000000010001"}}
	moved := time.Date(2026, 11, 26, 10, 0, 0, 0, cst)
	for i := range forwardBatch + 1 {
		rec := &docRecord{DocNo: fmt.Sprintf("RK-%03d", i), Source: sourceUpload, Direction: "in", BillTime: "2026-11-25 09:00:00", Lines: []docLine{{LineNo: 1, Qty: "1"}}}
		key, err := saveDoc(ctx, host, rec, rows, time.Date(2026, 11, 25, 0, 0, 0, 0, cst), "", moved)
		if err != nil {
			t.Fatal(err)
		}
		again := *rec
		again.BillTime = "2026-11-26 09:00:00"
		if _, err := saveDoc(ctx, host, &again, rows, time.Date(2026, 11, 26, 0, 0, 0, 0, cst), key, moved.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		at   time.Time
		want int
	}{
		{moved.Add(forwardKeep - time.Second), 0},
		{moved.Add(forwardKeep + 10*time.Minute), forwardBatch},
		{moved.Add(forwardKeep + 10*time.Minute), 1},
		{moved.Add(forwardKeep + 10*time.Minute), 0},
	} {
		n, skipped, err := dropForwards(ctx, host, tc.at)
		if err != nil || n != tc.want || len(skipped) != 0 {
			t.Fatalf("dropForwards at %s removed %d (%v), want %d", tc.at, n, err, tc.want)
		}
	}
	es, err := host.Scan(ctx, "log/doc/20261125/", 0)
	if err != nil || len(es) != 0 {
		t.Errorf("%d records left on the old day (%v), want none", len(es), err)
	}
}
