package adapter

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestScanOtherHospitalsCode: a patient of another hospital that runs its
// own medgate (its own key, under the same key id A and prefix MGE, as
// every installation following the README has) shows that hospital's
// e-card code here. Nothing in the code tells it from an altered one, so
// it is refused as tampered (authentication), but the counter's sentence
// and the detail say it may be another hospital's code and that such a
// patient registers here, not only that it may be forged. Before, the
// cashier was told to treat the patient's code as possible fraud.
func TestScanOtherHospitalsCode(t *testing.T) {
	t.Parallel()
	other := testSettings()
	other[setQRKeys] = "A:" + testKeyBHex
	_, theirs := newEnv(t, other).issue(nil)

	e := newEnv(t, testSettings())
	r := e.call(OpScan, map[string]string{"text": theirs.Text})
	var m map[string]any
	_ = json.Unmarshal(r.Payload, &m)
	if r.Status != sdk.StatusInvalid || m["result"] != ResultTampered || m["reason"] != "authentication" {
		t.Fatalf("scan of another hospital's code: %s %v %s; want invalid, tampered, authentication", r.Status, m, r.Diagnostics)
	}
	if msg, _ := m["message"].(string); !strings.Contains(msg, "外院") || !strings.Contains(msg, "在本院登记") {
		t.Errorf("the counter's sentence %q does not say the code may be another hospital's and that its patient registers here", msg)
	}
	if len(r.Diagnostics) != 1 || !strings.Contains(r.Diagnostics[0].Detail, "another hospital") {
		t.Errorf("the detail does not say the code may be another hospital's: %s", r.Diagnostics)
	}
}

// TestScanOtherHospitalsCodeUnderAnotherKeyID: another hospital's medgate
// that names its key otherwise (B) seals codes this site has no key for:
// refused as tampered / unknown-key, whose sentence said only that the key
// was retired and to reprint the patient's code, which a patient of
// another hospital does not have here. It now also says that another
// hospital's patient registers here, and so does the detail.
func TestScanOtherHospitalsCodeUnderAnotherKeyID(t *testing.T) {
	t.Parallel()
	other := testSettings()
	other[setQRKeys] = "B:" + testKeyBHex
	other[setQRActiveKey] = "B"
	_, theirs := newEnv(t, other).issue(nil)

	e := newEnv(t, testSettings())
	r := e.call(OpScan, map[string]string{"text": theirs.Text})
	var m map[string]any
	_ = json.Unmarshal(r.Payload, &m)
	if r.Status != sdk.StatusInvalid || m["result"] != ResultTampered || m["reason"] != "unknown-key" {
		t.Fatalf("scan of another hospital's code under key B: %s %v %s; want invalid, tampered, unknown-key", r.Status, m, r.Diagnostics)
	}
	if msg, _ := m["message"].(string); !strings.Contains(msg, "外院") || !strings.Contains(msg, "在本院登记") || !strings.Contains(msg, "重新打印") {
		t.Errorf("the counter's sentence %q does not say both: reprint a code of this hospital, register another hospital's patient here", msg)
	}
	if len(r.Diagnostics) != 1 || !strings.Contains(r.Diagnostics[0].Detail, "another hospital") {
		t.Errorf("the detail does not say the code may be another hospital's: %s", r.Diagnostics)
	}
}
