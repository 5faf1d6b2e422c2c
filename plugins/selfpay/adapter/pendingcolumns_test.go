package adapter

import (
	"encoding/base64"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/pii"
)

// columnHeader returns the header a pending-list report says field was
// read from ("" if none).
func columnHeader(report map[string]any, field string) string {
	cols, _ := report["columns"].([]any)
	for _, c := range cols {
		if m, _ := c.(map[string]any); m["field"] == field {
			h, _ := m["header"].(string)
			return h
		}
	}
	return ""
}

// TestImportPendingColumnsNotMasked: the report's columns, which say from
// which header of the list each field was read (to check the
// pendingColumns mapping), name the headers under keys medgate does not
// mask: keyed by the field, the headers of certno and psn_name were
// masked as an ID number and a name (身***, 姓*) wherever the reply was
// shown (medgate selfpay import-pending -json, the console).
func TestImportPendingColumnsNotMasked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	list := "医药机构就诊ID,姓名,身份证号,入院时间\nZY1,张三,350203198001011234,2025-03-25 10:00:00\n"
	r := e.must(OpImportPending, "cols-1", map[string]any{"filename": "p.csv", "content": base64.StdEncoding.EncodeToString([]byte(list))}, 1)
	wantStatus(t, r, sdk.StatusOK)
	p := payloadOf(t, r)
	cols, ok := p["columns"].([]any)
	if !ok {
		t.Fatalf("columns %#v, want a list of {field, header}", p["columns"])
	}
	for _, c := range cols {
		for k := range c.(map[string]any) {
			if pii.PersonalKey(k) {
				t.Errorf("columns entry %v has key %q, which medgate masks as personal", c, k)
			}
		}
	}
	for field, header := range map[string]string{"fixmedins_mdtrt_id": "医药机构就诊ID", "psn_name": "姓名", "certno": "身份证号", "begntime": "入院时间"} {
		if got := columnHeader(p, field); got != header {
			t.Errorf("column of %s = %q, want %q (columns %v)", field, got, header, cols)
		}
	}
}
