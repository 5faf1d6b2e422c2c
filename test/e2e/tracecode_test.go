package e2e

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/sim/tracecode"
)

var tcZone = time.FixedZone("CST", 8*3600)

// tracecodeFixture is medgate with the tracecode plugin against the
// trace-code simulator, shared by the steps of TestTracecode.
type tracecodeFixture struct {
	t      *testing.T
	sim    *tracecode.Sim
	cfg    *harness.Config
	mg     *harness.Medgate
	p      *harness.Platform
	path   string
	n      int
	today  string
	export string
}

func newTracecodeFixture(t *testing.T) *tracecodeFixture {
	const secret, hsaToken = "e2e-app-secret-0123456789", "e2e-hsa-token-0123456789"
	sim := tracecode.New(tracecode.Options{AppID: "e2e-app", AppSecret: secret, OrgCode: "H35020300001", Seed: 7, HSAPaasID: "e2e-paas", HSAToken: hsaToken})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	f := &tracecodeFixture{t: t, sim: sim, today: time.Now().In(tcZone).Format("2006-01-02")}
	cfg, mg, p := start(t, func(c *harness.Config) {
		dir := filepath.Join(c.Dir, "secrets")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		write := func(name, v string) string {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(v), 0o600); err != nil {
				t.Fatal(err)
			}
			return "file:" + path
		}
		f.export = filepath.Join(c.Dir, "exports")
		c.Plugins = append(c.Plugins, "tracecode")
		c.Sites[0]["plugins"].(map[string]any)["tracecode"] = map[string]any{"settings": map[string]any{
			"baseUrl": srv.URL, "appId": "e2e-app", "appSecret": write("app-secret", secret), "orgCode": "H35020300001", "orgName": "示例医院",
			"productItemMap": "8100001=YP0001,8100002=YP0002,8100003=YP0003,8100004=YP0004,8100005=YP0005",
			"exportDir":      f.export, "exportProgressEvery": "10",
			"miEnabled": "true", "miBaseURL": srv.URL + "/hsa/api", "miFixmedinsCode": "H35020300001", "miFixmedinsName": "示例医院",
			"miMdtrtareaAdmvs": "350200", "miRecerSysCode": "CSTEST", "miOpter": "OP001", "miOpterName": "接口",
			"miPaasid": "e2e-paas", "miToken": write("hsa-token", hsaToken),
		}}
	})
	f.cfg, f.mg, f.p = cfg, mg, p
	f.path = cfg.Write(t, harness.Binaries(t))
	return f
}

// send sends one tracecode message through Kafka and waits for its reply.
func (f *tracecodeFixture) send(typ string, payload any) harness.Reply {
	f.t.Helper()
	f.n++
	id := fmt.Sprintf("tc-%d-%d", time.Now().UnixNano(), f.n)
	f.p.Send("tc-key-"+strconv.Itoa(f.n), harness.Request{ID: id, Site: "s1", Type: typ, OccurredAt: time.Now().Format(time.RFC3339), Payload: payload})
	return f.p.Replies([]string{id}, 60*time.Second)[id]
}

func (f *tracecodeFixture) ok(typ string, payload any, out any) harness.Reply {
	f.t.Helper()
	r := f.send(typ, payload)
	if r.Status != "ok" {
		f.t.Fatalf("%s: status %s: %+v", typ, r.Status, r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Payload, out); err != nil {
			f.t.Fatalf("%s: payload %s: %v", typ, r.Payload, err)
		}
	}
	return r
}

// events returns the payloads of the events of a type on the events topic.
func (f *tracecodeFixture) events(typ string, n int) []json.RawMessage {
	f.t.Helper()
	var out []json.RawMessage
	harness.Eventually(f.t, 30*time.Second, fmt.Sprintf("%d %s event(s)", n, typ), func() bool {
		out = nil
		msgs, _ := harness.ReadTopic(f.cfg.Brokers, f.cfg.Topics().Events, 0, 5*time.Second)
		for _, m := range msgs {
			var ev struct {
				Type    string
				Payload json.RawMessage
			}
			if json.Unmarshal(m.Value, &ev) == nil && ev.Type == typ {
				out = append(out, ev.Payload)
			}
		}
		return len(out) >= n
	})
	return out
}

func tcLine(no int, item, name, qty string, codes ...string) map[string]any {
	tc := make([]any, len(codes))
	for i, c := range codes {
		tc[i] = map[string]string{"code": c}
	}
	return map[string]any{"lineNo": no, "itemCode": item, "medListCode": "XJ01CAA040A001010100001", "itemName": name,
		"batchNo": "B2609", "produceDate": "2026-09-15", "expiryDate": "2028-09-14", "qty": qty, "unit": "盒", "traceCodes": tc}
}

// TestTracecode runs every trace-code function through Kafka → medgate →
// the tracecode plugin → the simulated platform, on one medgate: token,
// uploads (with a duplicate and an invalid one), stock-in by date, token
// expiry mid-run, codes and smallest sub-codes, the draft → adjust →
// confirm flow with the receipt event, the medical-insurance upload, the
// Excel export checked cell by cell, and `medgate tracecode export`.
func TestTracecode(t *testing.T) {
	t.Parallel()
	f := newTracecodeFixture(t)
	codeA := []string{"81000010000000771234", "81000010000000772345"}
	codeB := "81000020000000773456"
	billTime := f.today + " 09:30:00"
	upload := map[string]any{"billNo": "RK-E2E-1", "billType": "102", "billTime": billTime, "operator": "王药师",
		"fromOrgCode": "91350200MA31A0001X", "fromOrgName": "厦门示例医药有限公司",
		"lines": []any{tcLine(1, "YP0001", "阿莫西林胶囊", "2", codeA...), tcLine(2, "YP0002", "布洛芬缓释胶囊", "1", codeB)}}
	out := map[string]any{"billNo": "CK-E2E-1", "billType": "202", "billTime": f.today + " 10:00:00", "operator": "王药师",
		"lines": []any{tcLine(1, "YP0001", "阿莫西林胶囊", "1", codeA[0])}}

	t.Run("token", func(t *testing.T) {
		var tok map[string]any
		r := f.ok("tracecode.token", map[string]any{}, &tok)
		if tok["expiresAt"] == nil || strings.Contains(string(r.Payload), "accessToken") {
			t.Errorf("token reply %s", r.Payload)
		}
	})
	t.Run("upload", func(t *testing.T) {
		var up struct {
			Status    string
			Duplicate bool
			CodeCount int
		}
		f.ok("tracecode.stockin.upload", upload, &up)
		if up.Status != "uploaded" || up.Duplicate || up.CodeCount != 3 {
			t.Errorf("upload %+v", up)
		}
		f.ok("tracecode.stockin.upload", upload, &up)
		if !up.Duplicate {
			t.Errorf("the same document again: %+v, want duplicate (success)", up)
		}
		f.ok("tracecode.stockout.upload", out, &up)
		bad := map[string]any{"billNo": "RK-BAD", "billType": "102", "billTime": billTime, "operator": "x",
			"lines": []any{tcLine(1, "YP0001", "x", "1", "61000010000000771234")}}
		if r := f.send("tracecode.stockin.upload", bad); r.Status != "invalid" || r.Errors[0].Field != "$.lines[0].traceCodes[0].code" {
			t.Errorf("invalid code: %+v", r)
		}
		if st := f.sim.Stats(); st.Uploads != 2 || st.Calls["upload"] != 2 {
			t.Errorf("platform saw %+v, want 2 uploads", st)
		}
	})
	bills := f.sim.StockIn(time.Now().In(tcZone))
	t.Run("stock-in by date", func(t *testing.T) {
		var fr struct {
			Bills, New int
			Drafts     []string
		}
		f.ok("tracecode.stockin.fetch", map[string]string{"beginDate": f.today, "endDate": f.today}, &fr)
		if fr.Bills != len(bills) || fr.New != len(bills) || len(fr.Drafts) != len(bills) {
			t.Errorf("fetch %+v, the platform has %d documents", fr, len(bills))
		}
		f.events("tracecode.stockin.fetched", len(bills))
	})
	t.Run("token expiry mid-run", func(t *testing.T) {
		before := f.sim.Stats()
		f.sim.ExpireTokens()
		var codes struct{ Count int }
		f.ok("tracecode.codes.bybill", map[string]string{"billNo": bills[0].BillNo}, &codes)
		n := 0
		for _, l := range bills[0].Lines {
			n += len(l.Codes)
		}
		if codes.Count != n {
			t.Errorf("codes by document: %d, want %d", codes.Count, n)
		}
		after := f.sim.Stats()
		if after.TokensIssued != before.TokensIssued+1 || after.Refused != before.Refused+1 || after.NoToken != 0 {
			t.Errorf("token stats before %+v after %+v: want one refusal, one new token, no call without token", before, after)
		}
	})
	t.Run("smallest sub-codes", func(t *testing.T) {
		var ex struct {
			SmallestCount int
			Mismatches    []struct{ Code string }
			Smallest      []string
		}
		f.ok("tracecode.codes.bybill.smallest", map[string]string{"billNo": bills[0].BillNo}, &ex)
		if ex.SmallestCount != bills[0].Smallest() {
			t.Errorf("%d smallest units, the document holds %d", ex.SmallestCount, bills[0].Smallest())
		}
		top := bills[0].Lines[0].Codes[0].Code
		f.ok("tracecode.codes.smallest", map[string]string{"code": top}, &ex)
		if diff := cmp.Diff(f.sim.SmallestOf(top), ex.Smallest); diff != "" {
			t.Errorf("smallest of %s (-want +got):\n%s", top, diff)
		}
	})
	t.Run("draft adjust confirm", func(t *testing.T) {
		var list struct {
			Items []struct {
				ID      string
				Version int64
			}
		}
		f.ok("tracecode.drafts.list", map[string]any{}, &list)
		if len(list.Items) != len(bills) {
			t.Fatalf("work list has %d drafts, want %d", len(list.Items), len(bills))
		}
		id := list.Items[0].ID
		var d struct {
			Lines []struct {
				LineNo int
				Qty    string
			}
		}
		f.ok("tracecode.draft.get", map[string]string{"draftId": id}, &d)
		f.ok("tracecode.draft.adjust", map[string]any{"draftId": id, "by": "pharm01 王药师", "expectedVersion": list.Items[0].Version, "reason": "清点",
			"changes": []any{map[string]any{"op": "setQty", "lineNo": d.Lines[0].LineNo, "qty": "1"}}}, nil)
		var conf struct{ ReceiptNo, EventID string }
		f.ok("tracecode.draft.confirm", map[string]any{"draftId": id, "by": "pharm02 李主管"}, &conf)
		if r := f.send("tracecode.draft.confirm", map[string]any{"draftId": id, "by": "someone"}); r.Status != "invalid" || r.Errors[0].Rule != "state" {
			t.Errorf("second confirmation: %+v", r)
		}
		evs := f.events("tracecode.purchase-receipt.confirmed", 1)
		if len(evs) != 1 {
			t.Fatalf("%d receipt events, want 1", len(evs))
		}
		var rc struct {
			ReceiptNo, ConfirmedBy string
			Lines                  []struct{ Qty string }
		}
		_ = json.Unmarshal(evs[0], &rc)
		if rc.ReceiptNo != conf.ReceiptNo || rc.ConfirmedBy != "pharm02 李主管" || rc.Lines[0].Qty != "1" {
			t.Errorf("receipt event %s", evs[0])
		}
	})
	t.Run("medical-insurance upload", func(t *testing.T) {
		var mi struct{ Status string }
		f.ok("tracecode.mi.upload", map[string]string{"billNo": "RK-E2E-1"}, &mi)
		recs := f.sim.HSARecords()
		if mi.Status != "ok" || len(recs) != 2 || len(recs["RK-E2E-1-1"].TraceCodes) != 2 {
			t.Errorf("mi upload %+v, national records %+v", mi, recs)
		}
	})
	t.Run("export", func(t *testing.T) {
		var rep struct {
			Path   string
			Size   int64
			SHA256 string
			Rows   map[string]int64
		}
		f.ok("tracecode.export", map[string]any{"from": f.today, "to": f.today}, &rep)
		wb, err := excelize.OpenFile(rep.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer wb.Close()
		// The codes sheet, cell by cell: the uploads in the order sent, then
		// the fetched documents in the platform's order.
		items := map[string]string{"8100001": "YP0001", "8100002": "YP0002", "8100003": "YP0003", "8100004": "YP0004", "8100005": "YP0005"}
		supplier := "厦门示例医药有限公司 (91350200MA31A0001X)"
		want := [][]string{
			{f.today, "RK-E2E-1", "医院上传", supplier, "1", "YP0001", "阿莫西林胶囊", "B2609", "2028-09-14", codeA[0], "药品追溯码"},
			{f.today, "RK-E2E-1", "医院上传", supplier, "1", "YP0001", "阿莫西林胶囊", "B2609", "2028-09-14", codeA[1], "药品追溯码"},
			{f.today, "RK-E2E-1", "医院上传", supplier, "2", "YP0002", "布洛芬缓释胶囊", "B2609", "2028-09-14", codeB, "药品追溯码"},
			{f.today, "CK-E2E-1", "医院上传", "", "1", "YP0001", "阿莫西林胶囊", "B2609", "2028-09-14", codeA[0], "药品追溯码"},
		}
		for _, b := range bills {
			for _, l := range b.Lines {
				for _, c := range l.Codes {
					want = append(want, []string{f.today, b.BillNo, "平台入库数据", b.FromOrgName + " (" + b.FromOrgCode + ")", strconv.Itoa(l.LineNo), items[l.ProductCode], l.ItemName, l.BatchNo, l.ExpiryDate,
						c.Code, "药品追溯码", strconv.Itoa(c.CodeLevel)})
				}
			}
		}
		rows, _ := wb.GetRows("追溯码明细")
		if diff := cmp.Diff(want, rows[1:]); diff != "" {
			t.Errorf("trace-code details (-want +got):\n%s", diff)
		}
		stock, _ := wb.GetRows("出入库数据")
		if len(stock) < 4 || stock[1][2] != "RK-E2E-1" || stock[1][3] != "医院上传" || stock[1][4] != "入库" || stock[1][5] != "102 采购入库" ||
			stock[1][18] != "2" || stock[1][21] != "2" || stock[1][22] != "已上传" || stock[1][24] != "成功" || stock[3][2] != "CK-E2E-1" || stock[3][4] != "出库" {
			t.Errorf("stock sheet starts %q", stock[:min(4, len(stock))])
		}
		tokens, _ := wb.GetRows("令牌操作日志")
		var actions []string
		for _, r := range tokens[1:] {
			actions = append(actions, r[1]+"/"+r[3])
		}
		if diff := cmp.Diff([]string{"获取令牌/成功", "令牌作废/成功", "刷新令牌/成功"}, actions); diff != "" {
			t.Errorf("token log (-want +got):\n%s", diff)
		}
		mi, _ := wb.GetRows("医保上传记录")
		if len(mi) != 2 || mi[1][1] != "RK-E2E-1" || mi[1][2] != "3502" || mi[1][6] != "成功" || len(strings.Split(mi[1][3], ",")) != 2 {
			t.Errorf("medical-insurance sheet %q", mi)
		}
	})
	t.Run("cli export", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "codes.xlsx")
		cmd := exec.Command(harness.Binaries(t).Medgate, "tracecode", "export", "-config", f.path, "-site", "s1", "-from", f.today, "-sheets", "codes", "-out", dst, "-timeout", "60s")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("medgate tracecode export: %v\n%s\n%s", err, stdout, stderr.String())
		}
		var r harness.Reply
		if json.Unmarshal(stdout, &r) != nil || r.Status != "ok" {
			t.Fatalf("reply %s", stdout)
		}
		if !strings.Contains(stderr.String(), "written:") {
			t.Errorf("no progress printed:\n%s", stderr.String())
		}
		wb, err := excelize.OpenFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		defer wb.Close()
		if diff := cmp.Diff([]string{"追溯码明细"}, wb.GetSheetList()); diff != "" {
			t.Errorf("sheets (-want +got):\n%s", diff)
		}
	})
	// Neither the app secret, the x-tif token nor any access token appears
	// in medgate's log.
	logs := f.mg.Logs()
	for _, s := range append(f.sim.IssuedTokens(), "e2e-app-secret-0123456789", "e2e-hsa-token-0123456789") {
		if strings.Contains(logs, s) {
			t.Fatalf("a secret or token appears in medgate's log")
		}
	}
}
