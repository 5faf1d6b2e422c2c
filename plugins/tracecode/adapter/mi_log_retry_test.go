package adapter_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

// TestMIUploadRetryRecordsTheUploadForTheExport: an upload whose lines
// were all accepted but whose record for the export could not be stored
// is retried. The retry sent nothing (every line accepted) and so stored
// no record: the export's medical-insurance sheet never showed the upload.
func TestMIUploadRetryRecordsTheUploadForTheExport(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		prefix string // the nth write (Put or CompareAndSet) under prefix fails
		n      int
	}{
		"the record":               {"log/mi/", 1},
		"the record's slot":        {"count/mi/", 1},
		"the slot's reservation":   {"miidx/", 5}, // 2 lines: sending and result each, then the reservation
		"the state after the rest": {"miidx/", 6}, // the record is stored, the state not told
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, host := newFaultEnv(t)
			c := []string{drugCode("8100001", 31), drugCode("8100002", 32)}
			must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("MI-L", "102", line(1, "1", c[0]), line(2, "1", c[1]))), sdk.StatusOK)
			var mu sync.Mutex
			writes, failed := 0, false
			fail := func(key string) bool {
				mu.Lock()
				defer mu.Unlock()
				if !strings.HasPrefix(key, tc.prefix) {
					return false
				}
				writes++
				if writes == tc.n {
					failed = true
					return true
				}
				return false
			}
			host.mu.Lock()
			host.putFail, host.casFail = fail, fail
			host.mu.Unlock()
			payload := []byte(`{"billNo":"MI-L"}`)
			r, err := e.plugin.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: adapter.OpMIUpload, MessageID: "mi-1", Format: "json", Payload: payload, Attempt: 1})
			if !failed {
				t.Fatal("the fault was not hit")
			}
			if err == nil && r.Status == sdk.StatusOK {
				t.Fatalf("the upload succeeded despite the fault: %s", r.Payload)
			}
			must[miReply](t, e.sendID("mi-1", adapter.OpMIUpload, payload, true), sdk.StatusOK)
			if n := e.sim.Stats().Calls["hsa"]; n != 2 {
				t.Errorf("%d national calls, want 2 (one per line)", n)
			}
			var msgids []string
			for _, en := range e.state("log/mi/") {
				var rec struct {
					DocNo  string   `json:"docNo"`
					MsgIDs []string `json:"msgids"`
					Codes  int      `json:"codes"`
					Status string   `json:"status"`
				}
				if err := json.Unmarshal(en.Value, &rec); err != nil {
					t.Fatal(err)
				}
				if rec.DocNo == "MI-L" {
					msgids = append(msgids, rec.MsgIDs...)
					if rec.Status != "ok" || rec.Codes != 2 {
						t.Errorf("upload record %+v, want status ok with 2 codes", rec)
					}
				}
			}
			if len(msgids) != 2 {
				t.Errorf("the export's upload records name msgids %v, want the 2 sent, once", msgids)
			}
			rep := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-26", "to": "2026-11-26", "sheets": []string{"mi"}}), sdk.StatusOK)
			if rep.Rows["mi"] != 1 {
				t.Errorf("the medical-insurance sheet has %d rows, want 1", rep.Rows["mi"])
			}
		})
	}
}
