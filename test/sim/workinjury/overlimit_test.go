package workinjury

import (
	"testing"
)

// TestOverLimitBatchIsFedBackInParts: a simulator set to break the batch
// limit (Config.OverBatchLimit) hands out a batch of more than MaxBatch
// records, and keeps its other rules: GYU008 takes at most MaxBatch
// records a call, so the batch is fed back in parts, each naming records
// of the batch not fed back yet; the code stays held until every record
// was, and a record fed back as failed comes again.
func TestOverLimitBatchIsFedBackInParts(t *testing.T) {
	t.Parallel()
	c := newClient(t, func(cfg *Config) { cfg.OverBatchLimit = 600 })
	for i := 1; i <= 601; i++ {
		c.srv.AddFiling(SampleFiling("OL", i, "350200"))
	}
	code, out := c.call("GYD006", map[string]any{"aab299": "350200"})
	if code != "0" {
		t.Fatalf("GYD006 answered %s", code)
	}
	recs := records(out)
	if len(recs) != 600 || out["has_more"] != "1" {
		t.Fatalf("GYD006 handed out %d records (has_more %v); want 600 and more", len(recs), out["has_more"])
	}
	batch := out["batch_no"]
	fb := func(from, to int, failed string) map[string]any {
		var list []any
		for _, r := range recs[from:to] {
			flag := map[string]any{"record_id": r["filing_no"], "result_flag": "1"}
			if r["filing_no"] == failed {
				flag["result_flag"], flag["fail_reason"] = "0", "入库失败"
			}
			list = append(list, flag)
		}
		return map[string]any{"download_code": "GYD006", "batch_no": batch, "record_count": len(list), "records": list}
	}
	failed := recs[550]["filing_no"].(string)
	steps := []struct {
		name string
		in   map[string]any
		want string
	}{
		{"the whole batch in one call breaks GYU008's limit", fb(0, 600, ""), "E1001"},
		{"first part", fb(0, 500, ""), "0"},
		{"a record fed back already", fb(499, 600, ""), "E2004"},
		{"a record of no batch", with(fb(500, 501, ""), "records", []any{map[string]any{"record_id": "BANONE", "result_flag": "1"}}), "E2004"},
		{"second part, one failed", fb(500, 600, failed), "0"},
		{"after the last part the batch is closed", fb(500, 501, ""), "E2003"},
	}
	for i, s := range steps {
		if i == 2 {
			// Between the parts the batch is outstanding: listed, and the
			// code held.
			if code, l := c.call("GYD008", map[string]any{"download_code": "GYD006"}); code != "0" || len(records(map[string]any{"records": l["batches"]})) != 1 {
				t.Fatalf("GYD008 between the parts answered %s %v; want the batch listed", code, l)
			}
			if code, _ := c.call("GYD006", map[string]any{"aab299": "350200"}); code != "E2001" {
				t.Fatalf("GYD006 between the parts answered %s, want E2001", code)
			}
		}
		if code, _ := c.call("GYU008", s.in); code != s.want {
			t.Fatalf("%s: GYU008 answered %s, want %s", s.name, code, s.want)
		}
	}
	code, next := c.call("GYD006", map[string]any{"aab299": "350200"})
	if code != "0" || len(records(next)) != 2 {
		t.Fatalf("the next GYD006 answered %s with %d records; want the 601st and the failed one", code, len(records(next)))
	}
	if b := c.srv.Batches("GYD006"); !b[0].Acked || b[0].Feedbacks != 2 || b[0].Records != 600 {
		t.Fatalf("the batch %+v; want acknowledged by two parts", b[0])
	}
}
