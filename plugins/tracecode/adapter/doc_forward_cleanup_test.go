package adapter_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
)

// TestForwardingRecordsRemovedOnceNoExportNeedsThem: a document whose date
// moved leaves a forwarding record (movedTo) on its old day for exports
// running at that moment. They were never removed, so every move left one
// for good. The stock-in sync removes those older than a day (no export or
// message still reads the old day then) and keeps younger ones; an export
// still lists the document once, on its new day.
func TestForwardingRecordsRemovedOnceNoExportNeedsThem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		after time.Duration // from the move to the sync run
		left  int           // forwarding records left on the old day
	}{
		{"an hour after the move", time.Hour, 1},
		{"23 hours after the move", 23 * time.Hour, 1},
		{"25 hours after the move", 25 * time.Hour, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			doc := func(day string) map[string]any {
				b := bill("RK-M1", "102", line(1, "1", drugCode("8100001", 1)))
				b["billTime"] = day + " 09:30:00"
				return b
			}
			e.sim.Fail("upload", tracecode.FailHTTP500, 1)
			if r := e.send(adapter.OpStockInUpload, doc("2026-11-24")); r.Status == sdk.StatusOK {
				t.Fatalf("the first upload was to fail: %s", r.Payload)
			}
			must[uploadReply](t, e.send(adapter.OpStockInUpload, doc("2026-11-26")), sdk.StatusOK)
			forwards := func() int {
				n := 0
				for _, s := range e.state("log/doc/20261124/") {
					var r struct {
						MovedTo string `json:"movedTo"`
					}
					if json.Unmarshal(s.Value, &r) == nil && r.MovedTo != "" {
						n++
					}
				}
				return n
			}
			if n := forwards(); n != 1 {
				t.Fatalf("%d forwarding records on the old day after the move, want 1: the test does not test", n)
			}
			e.clock.Add(tc.after)
			r, err := e.plugin.RunJob(context.Background(), &sdk.RunJobRequest{Site: site, Job: adapter.JobStockInSync, Now: e.clock.Now(), TraceID: "sync"})
			if err != nil {
				t.Fatalf("stock-in sync: %v", err)
			}
			if n := forwards(); n != tc.left {
				t.Errorf("%d forwarding records on the old day after the sync (%s), want %d", n, r.Summary, tc.left)
			}
			n := 0
			for _, row := range exportSheets(t, e, "2026-11-24", "2026-11-26", "bills")["出入库数据"] {
				if row[2] == "RK-M1" {
					n++
				}
			}
			if n != 1 {
				t.Errorf("the export lists RK-M1 %d times, want once", n)
			}
			if tc.left == 0 {
				for _, s := range e.state("") {
					if strings.Contains(s.Key, "20261124/") && strings.HasPrefix(s.Key, "moved") {
						t.Errorf("the removal's mark %s is left", s.Key)
					}
				}
			}
		})
	}
}

// TestStockInSyncRemovesCodesOfUnfinishedSaves: a document's codes are
// written before its record; an upload whose record could not be stored
// left them, named by no record, for good. The stock-in sync removes them
// a day later (not before: a save may still be under way), and keeps the
// codes of the document stored.
func TestStockInSyncRemovesCodesOfUnfinishedSaves(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		after  time.Duration // from the failed save to the sync run
		chunks int           // code chunks of RK-O1 left
	}{
		{"an hour later", time.Hour, 2},
		{"25 hours later", 25 * time.Hour, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, host := newWriteFaultEnv(t)
			host.mu.Lock()
			host.fail = func(k string, _ []byte) bool { return strings.HasPrefix(k, "log/doc/") }
			host.mu.Unlock()
			doc := bill("RK-O1", "102", line(1, "2", drugCode("8100001", 41), drugCode("8100001", 42)))
			r, err := e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpStockInUpload, MessageID: "u-1", Format: "json", Payload: mustJSON(t, doc), Attempt: 1})
			if err == nil && r.Status == sdk.StatusOK {
				t.Fatalf("the upload succeeded although its record could not be stored: %s", r.Payload)
			}
			must[uploadReply](t, e.sendID("u-1", adapter.OpStockInUpload, doc, true), sdk.StatusOK)
			if n := len(e.state("codes/up/RK-O1/")); n != 2 {
				t.Fatalf("%d code chunks of RK-O1 before the sync, want 2 (the stored version's and the failed save's): the test does not test", n)
			}
			e.clock.Add(tc.after)
			job, err := e.plugin.RunJob(context.Background(), &sdk.RunJobRequest{Site: site, Job: adapter.JobStockInSync, Now: e.clock.Now(), TraceID: "sync"})
			if err != nil {
				t.Fatalf("stock-in sync: %v", err)
			}
			if n := len(e.state("codes/up/RK-O1/")); n != tc.chunks {
				t.Errorf("%d code chunks of RK-O1 after the sync (%s), want %d", n, job.Summary, tc.chunks)
			}
			n := 0
			for _, row := range exportSheets(t, e, "2026-11-26", "2026-11-26", "codes")["追溯码明细"] {
				if row[1] == "RK-O1" {
					n++
				}
			}
			if n != 2 {
				t.Errorf("the export lists %d codes of RK-O1, want its 2", n)
			}
		})
	}
}

// TestStockInSyncSkipsUnreadableSaveListings: one codesave/ listing the
// sync could not read (a key whose time is no time, or a value that is not
// a save's listing) stopped its cleanup with an error at that listing, and,
// the listings read oldest first, every later run stopped at the same one:
// the codes of every unfinished save after it stayed for good. The sync now
// skips it, tells of it once a run (the log, a warning, the summary's
// count), leaves it in place, and cleans up the listings after it.
func TestStockInSyncSkipsUnreadableSaveListings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, key, value string // the unreadable listing, sorted before the good one
	}{
		{"a key whose time is no time", "codesave/2026112/0011223344556677", `{"index":"docidx/up/RK-X","base":"codes/up/RK-X"}`},
		{"a value that is not JSON", "codesave/20261101T000000.000000000/0011223344556677", `not a listing`},
		{"a value naming no document", "codesave/20261101T000000.000000000/0011223344556677", `{"new":{"v":"0011223344556677","n":1}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			e, host := newWriteFaultEnvLog(t, &logs)
			host.mu.Lock()
			host.fail = func(k string, _ []byte) bool { return strings.HasPrefix(k, "log/doc/") }
			host.mu.Unlock()
			doc := bill("RK-O2", "102", line(1, "2", drugCode("8100001", 51), drugCode("8100001", 52)))
			r, err := e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpStockInUpload, MessageID: "u-2", Format: "json", Payload: mustJSON(t, doc), Attempt: 1})
			if err == nil && r.Status == sdk.StatusOK {
				t.Fatalf("the upload succeeded although its record could not be stored: %s", r.Payload)
			}
			must[uploadReply](t, e.sendID("u-2", adapter.OpStockInUpload, doc, true), sdk.StatusOK)
			if n := len(e.state("codes/up/RK-O2/")); n != 2 {
				t.Fatalf("%d code chunks of RK-O2 before the sync, want 2 (the stored version's and the failed save's): the test does not test", n)
			}
			if _, err := e.host.Put(t.Context(), site, tc.key, []byte(tc.value)); err != nil {
				t.Fatal(err)
			}
			keys := func() []string {
				var ks []string
				for _, l := range e.state("codesave/") {
					ks = append(ks, l.Key)
				}
				return ks
			}
			if ks := keys(); len(ks) != 2 || ks[0] != tc.key {
				t.Fatalf("listings %v, want the unreadable one first, then the failed save's: the test does not test", ks)
			}
			e.clock.Add(25 * time.Hour)
			for run := 1; run <= 2; run++ {
				before := strings.Count(logs.String(), "unreadable listings of unfinished document saves are skipped")
				job, err := e.plugin.RunJob(t.Context(), &sdk.RunJobRequest{Site: site, Job: adapter.JobStockInSync, Now: e.clock.Now(), TraceID: "sync"})
				if err != nil {
					t.Fatalf("run %d of the stock-in sync: %v", run, err)
				}
				if n := len(e.state("codes/up/RK-O2/")); n != 1 {
					t.Errorf("run %d: %d code chunks of RK-O2 after the sync (%s; %v), want the stored version's 1", run, n, job.Summary, job.Diagnostics)
				}
				if ks := keys(); len(ks) != 1 || ks[0] != tc.key {
					t.Errorf("run %d: listings left %v, want the unreadable one alone, in place", run, ks)
				}
				if !strings.Contains(job.Summary, "1 unreadable listing(s) of unfinished document saves skipped") || !strings.Contains(job.Diagnostics.String(), tc.key) {
					t.Errorf("run %d: the sync does not tell of the listing it skipped: %s; %v", run, job.Summary, job.Diagnostics)
				}
				if n := strings.Count(logs.String(), "unreadable listings of unfinished document saves are skipped") - before; n != 1 {
					t.Errorf("run %d logged the skipped listings %d times, want once:\n%s", run, n, logs.String())
				}
			}
			if strings.Contains(logs.String(), tc.value) {
				t.Errorf("the log quotes the unreadable listing's value:\n%s", logs.String())
			}
		})
	}
}

// TestStockInSyncSkipsUnreadableForwardingMarks: a moved/ mark the sync
// could not read (a key whose time is no time, or that names no log key)
// stopped its removal of forwarding records at that mark, and, the marks
// read oldest first, every later run stopped at the same one: every
// forwarding record after it stayed for good. The sync now skips it, tells
// of it once a run, leaves it in place and removes the records after it.
func TestStockInSyncSkipsUnreadableForwardingMarks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, key string }{ // sorted before the move's mark
		{"a key whose time is no time", "moved/2026112/log/doc/20261124/x"},
		{"a key naming no log key", "moved/20261101T000000.000000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			e, _ := newWriteFaultEnvLog(t, &logs)
			doc := func(day string) map[string]any {
				b := bill("RK-M2", "102", line(1, "1", drugCode("8100001", 61)))
				b["billTime"] = day + " 09:30:00"
				return b
			}
			e.sim.Fail("upload", tracecode.FailHTTP500, 1)
			if r := e.send(adapter.OpStockInUpload, doc("2026-11-24")); r.Status == sdk.StatusOK {
				t.Fatalf("the first upload was to fail: %s", r.Payload)
			}
			must[uploadReply](t, e.send(adapter.OpStockInUpload, doc("2026-11-26")), sdk.StatusOK)
			if _, err := e.host.Put(t.Context(), site, tc.key, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			marks := func() []string {
				var ks []string
				for _, s := range e.state("moved/") {
					ks = append(ks, s.Key)
				}
				return ks
			}
			if ks := marks(); len(ks) != 2 || ks[0] != tc.key {
				t.Fatalf("marks %v, want the unreadable one first, then the move's: the test does not test", ks)
			}
			e.clock.Add(25 * time.Hour)
			for run := 1; run <= 2; run++ {
				before := strings.Count(logs.String(), "unreadable marks of forwarding records are skipped")
				job, err := e.plugin.RunJob(t.Context(), &sdk.RunJobRequest{Site: site, Job: adapter.JobStockInSync, Now: e.clock.Now(), TraceID: "sync"})
				if err != nil {
					t.Fatalf("run %d of the stock-in sync: %v", run, err)
				}
				for _, s := range e.state("log/doc/20261124/") {
					if strings.Contains(string(s.Value), "movedTo") {
						t.Errorf("run %d: the forwarding record %s is left (%s; %v)", run, s.Key, job.Summary, job.Diagnostics)
					}
				}
				if ks := marks(); len(ks) != 1 || ks[0] != tc.key {
					t.Errorf("run %d: marks left %v, want the unreadable one alone, in place", run, ks)
				}
				if !strings.Contains(job.Summary, "1 unreadable mark(s) of forwarding records skipped") || !strings.Contains(job.Diagnostics.String(), tc.key) {
					t.Errorf("run %d: the sync does not tell of the mark it skipped: %s; %v", run, job.Summary, job.Diagnostics)
				}
				if n := strings.Count(logs.String(), "unreadable marks of forwarding records are skipped") - before; n != 1 {
					t.Errorf("run %d logged the skipped marks %d times, want once:\n%s", run, n, logs.String())
				}
			}
		})
	}
}
