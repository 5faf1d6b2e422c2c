package adapter_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
	"github.com/medgate/medgate/test/sim/tracecode"
	"github.com/xuri/excelize/v2"
)

// TestRefusalMasksPatientData: the platform refuses a document listing a
// code it knows was dispensed to a patient, and its refusal names the
// patient, the ID number and the phone of its dispensing record. The
// reply, which the host publishes and stores, showed the refusal whole in
// its external message and its diagnostics, and the export (handed out,
// inline in a reply too) in the document's note, while the logs mask it.
// Every copy is masked now; the code, the document number and the
// platform's code stay readable.
func TestRefusalMasksPatientData(t *testing.T) {
	t.Parallel()
	// The dispensing record's customer (码上放心 uploadretail:
	// customer_id_type, customer_id, user_tel): a resident ID card, a
	// passport or a medical-insurance card.
	resident := tracecode.Patient{Name: "张三丰", IDNo: "350203198001011234", Tel: "13912345678"}
	passport := tracecode.Patient{Name: "李四", IDType: "2", IDNo: "E12345678", Tel: "13912345678"}
	card := tracecode.Patient{Name: "王小明", IDType: "4", IDNo: "A01234567", Tel: "13912345678"}
	code := drugCode("8100007", 7)
	testCases := map[string]struct {
		op, billNo, billType string
		patient              tracecode.Patient
		masked               string // the ID number as the reply shows it
		stockedIn            bool   // the code was stocked in before it was dispensed
		// mi: the document is stocked in, then sent to medical
		// insurance, which refuses it (infcode -1).
		mi bool
	}{
		"stock-out of a dispensed code":                      {op: adapter.OpStockOutUpload, billNo: "CK-PII", billType: "202", patient: resident, masked: "350***********1234", stockedIn: true},
		"stock-in of a dispensed code":                       {op: adapter.OpStockInUpload, billNo: "RK-PII", billType: "102", patient: resident, masked: "350***********1234"},
		"medical-insurance upload of a dispensed code":       {op: adapter.OpMIUpload, billNo: "RK-PII-0", patient: resident, masked: "350***********1234", stockedIn: true, mi: true},
		"stock-out of a code dispensed to a passport holder": {op: adapter.OpStockOutUpload, billNo: "CK-PII", billType: "202", patient: passport, masked: "E*******8", stockedIn: true},
		"stock-in of a code dispensed on an insurance card":  {op: adapter.OpStockInUpload, billNo: "RK-PII", billType: "102", patient: card, masked: "A*******7"},
		"medical-insurance upload, passport holder":          {op: adapter.OpMIUpload, billNo: "RK-PII-0", patient: passport, masked: "E*******8", stockedIn: true, mi: true},
		"medical-insurance upload, insurance card":           {op: adapter.OpMIUpload, billNo: "RK-PII-0", patient: card, masked: "A*******7", stockedIn: true, mi: true},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			personal := []string{tc.patient.Name, tc.patient.IDNo, tc.patient.Tel}
			e := newEnv(t, nil)
			if tc.stockedIn {
				must[uploadReply](t, e.send(adapter.OpStockInUpload, bill("RK-PII-0", "102", line(1, "1", code))), sdk.StatusOK)
			}
			e.sim.Dispense(code, tc.patient, time.Date(2026, 11, 25, 15, 0, 0, 0, cst))
			var r *sdk.HandleResponse
			wantCode, want := "CODE_DISPENSED", []string{tc.masked, "139****5678", code}
			if tc.mi {
				r = e.send(tc.op, map[string]string{"billNo": tc.billNo})
				// The drug code stays readable (hsa.MaskText takes its
				// 12 digits 001010100001 for a phone number).
				wantCode, want = "-1", append(want, "XJ01CAA040A001010100001")
			} else {
				r = e.send(tc.op, bill(tc.billNo, tc.billType, line(1, "1", code)))
			}
			if r.Status != sdk.StatusRejected || r.External == nil || r.External.Code != wantCode {
				t.Fatalf("status %s, external %+v, want rejected with %s: %s", r.Status, r.External, wantCode, r.Diagnostics)
			}
			reply, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			shown := string(reply) + r.Diagnostics.String()
			for _, p := range personal {
				if strings.Contains(shown, p) {
					t.Errorf("the reply shows %q of the platform's refusal: %s", p, shown)
				}
			}
			for _, w := range want {
				if !strings.Contains(r.External.Message, w) || !strings.Contains(r.Diagnostics.String(), w) {
					t.Errorf("the reply's external message or diagnostics do not show %q: %s; %s", w, r.External.Message, r.Diagnostics)
				}
			}
			rep := must[exportReply](t, e.send(adapter.OpExport, map[string]any{"from": "2026-11-26", "to": "2026-11-26", "inline": true}), sdk.StatusOK)
			f, err := excelize.OpenFile(rep.Path)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = f.Close() }()
			var cells strings.Builder
			for _, sh := range f.GetSheetList() {
				rows, err := f.GetRows(sh)
				if err != nil {
					t.Fatal(err)
				}
				for _, row := range rows {
					cells.WriteString(strings.Join(row, "|") + "\n")
				}
			}
			if !strings.Contains(cells.String(), tc.billNo) {
				t.Fatalf("the export does not list %s:\n%s", tc.billNo, cells.String())
			}
			for _, p := range personal {
				if strings.Contains(cells.String(), p) {
					t.Errorf("the export shows %q of the platform's refusal:\n%s", p, cells.String())
				}
			}
		})
	}
}
