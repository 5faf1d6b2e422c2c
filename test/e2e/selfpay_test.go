package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
	"github.com/medgate/medgate/test/testenv"
)

// spMaxPayload is the host's default processing.maxPayloadBytes.
const spMaxPayload = 983616

const (
	spCode  = "H35020300001"
	spPaas  = "paas-e2e"
	spToken = "e2e-token-not-a-secret"
	spCert  = "350203198001011234"
)

// TestSelfpay runs the self-pay plugin as the hospital sees it: real
// medgate and plugin binaries, real Kafka, the platform played by the
// simulator. One medgate serves every subtest; they run in order.
func TestSelfpay(t *testing.T) {
	t.Parallel()
	started := time.Now()
	brokers := testenv.Kafka(t)
	bins := harness.Binaries(t)
	sim, err := selfpaysim.New(selfpaysim.Options{PaasID: spPaas, Token: spToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	cfg := harness.NewConfig(t, brokers)
	tokenFile := filepath.Join(cfg.Dir, "paas-token")
	wrongFile := filepath.Join(cfg.Dir, "wrong-token")
	if err := os.WriteFile(tokenFile, []byte(spToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrongFile, []byte("not-the-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	settings := func(token string) map[string]any {
		return map[string]any{"settings": map[string]any{
			"baseURL": srv.URL + "/fsi/api/rsfComIfsService/callService", "fixmedinsCode": spCode, "fixmedinsName": "厦门市示例医院",
			"mdtrtareaAdmvs": "350200", "recerSysCode": "CSTEST", "opter": "OP001", "opterName": "医保接口",
			"paasid": spPaas, "token": "file:" + token, "timeout": "5s",
		}}
	}
	cfg.Plugins = append(cfg.Plugins, "selfpay")
	cfg.Sites[0]["plugins"].(map[string]any)["selfpay"] = settings(tokenFile)
	cfg.Sites = append(cfg.Sites, map[string]any{"code": "s2", "plugins": map[string]any{"selfpay": settings(wrongFile)}})
	cfgPath := cfg.Write(t, bins)
	mg := harness.Start(t, bins, cfgPath)
	p := harness.NewPlatform(t, brokers, cfg.Topics())
	t.Logf("medgate started in %s", time.Since(started).Round(time.Millisecond))

	send := func(key, id, site, typ string, payload any) harness.Reply {
		t.Helper()
		p.Send(key, harness.Request{ID: id, Site: site, Type: typ, OccurredAt: time.Now().Format(time.RFC3339), Payload: payload})
		return p.Replies([]string{id}, 2*time.Minute)[id]
	}
	want := func(r harness.Reply, status string) {
		t.Helper()
		if r.Status != status {
			t.Fatalf("%s: status %s, want %s: %+v\npayload %s\nmedgate log:\n%s", r.RequestID, r.Status, status, r.Errors, r.Payload, tail(mg.Logs(), 40))
		}
	}

	t.Run("each transaction", func(t *testing.T) {
		const id = "E2E-T"
		steps := []struct {
			typ     string
			payload map[string]any
		}{
			{"selfpay.4201A", map[string]any{"fsiOwnpayPatnFeeListDDTO": []any{spFee(id, 1), spFee(id, 2)}}},
			{"selfpay.4202", map[string]any{"ownPayPatnMdtrtD": spVisit(id, 2), "ownPayPatnDiagListD": spDiags()}},
			{"selfpay.4207", map[string]any{"fixmedins_mdtrt_id": id, "page_num": 1, "page_size": 10}},
			{"selfpay.4208", map[string]any{"certno": spCert, "psn_name": "张三", "page_num": 1, "page_size": 10}},
			{"selfpay.4209", map[string]any{"fixmedins_mdtrt_id": id, "page_num": 1, "page_size": 10}},
			{"selfpay.4203", map[string]any{"fixmedins_mdtrt_id": id, "cplt_flag": "1"}},
			{"selfpay.4203", map[string]any{"fixmedins_mdtrt_id": id, "cplt_flag": "0"}},
			{"selfpay.4204", map[string]any{"feedetail": map[string]any{"fixmedins_mdtrt_id": id}}},
		}
		var ids []string
		var reqs []harness.Request
		for i, s := range steps {
			ids = append(ids, fmt.Sprintf("t-%d", i))
			reqs = append(reqs, harness.Request{ID: ids[i], Site: "s1", Type: s.typ, Payload: s.payload})
		}
		p.Send(id, reqs...) // one key: handled in this order
		replies := p.Replies(ids, 2*time.Minute)
		for i, s := range steps {
			r := replies[ids[i]]
			want(r, "ok")
			if r.External == nil || !strings.HasPrefix(r.External.MsgID, spCode) {
				t.Errorf("%s: external %+v", s.typ, r.External)
			}
		}
		var q struct {
			RecordCounts int               `json:"recordCounts"`
			Records      []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(replies["t-2"].Payload, &q); err != nil || q.RecordCounts != 2 || len(q.Records) != 2 {
			t.Errorf("4207 reply %s", replies["t-2"].Payload)
		}
		if v := sim.Visit(spCode, id); v.Complete || len(v.Fees) != 0 || !v.VisitUploaded {
			t.Errorf("platform has %+v", v)
		}
	})

	t.Run("upload 800 fee lines", func(t *testing.T) {
		begin := time.Now()
		r := send("E2E-800", "u-800", "s1", "selfpay.upload", spUpload("E2E-800", 800))
		want(r, "ok")
		if v := sim.Visit(spCode, "E2E-800"); !v.Complete || len(v.Fees) != 800 {
			t.Fatalf("platform has %+v", v)
		}
		var out struct {
			Batches int `json:"batches"`
			Steps   []struct {
				Infno string `json:"infno"`
				MsgID string `json:"msgid"`
			} `json:"steps"`
		}
		_ = json.Unmarshal(r.Payload, &out)
		if out.Batches != 16 || len(out.Steps) != 19 {
			t.Errorf("reply %s", r.Payload)
		}
		t.Logf("800 fee lines in %d calls, %s end to end", len(out.Steps), time.Since(begin).Round(time.Millisecond))
	})

	t.Run("a stay in parts", func(t *testing.T) {
		// 3,000 fee lines, too many for one message, sent as 3 parts
		// under the visit's key with the host's default limits
		// (processing.maxPayloadBytes, pluginLimits): the platform gets
		// the stay once, every line once, in order.
		const id, lines, of = "E2E-P", 3000, 3
		whole := spUpload(id, lines)
		fees := whole["fsiOwnpayPatnFeeListDDTO"].([]any)
		var ids []string
		var reqs []harness.Request
		for no := 1; no <= of; no++ {
			part := map[string]any{
				"part":             map[string]any{"set": id + "-S1", "no": no, "of": of},
				"ownPayPatnMdtrtD": whole["ownPayPatnMdtrtD"], "ownPayPatnDiagListD": whole["ownPayPatnDiagListD"],
				"fsiOwnpayPatnFeeListDDTO": fees[(no-1)*lines/of : no*lines/of],
			}
			req := harness.Request{ID: fmt.Sprintf("p-%d", no), Site: "s1", Type: "selfpay.upload", OccurredAt: time.Now().Format(time.RFC3339), Payload: part}
			b, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > spMaxPayload {
				t.Fatalf("part %d is %d bytes, above the host's default processing.maxPayloadBytes (%d): cut the stay into more parts", no, len(b), spMaxPayload)
			}
			ids, reqs = append(ids, req.ID), append(reqs, req)
		}
		begin := time.Now()
		p.Send(id, reqs...) // one key: handled in this order
		replies := p.Replies(ids, 3*time.Minute)
		for no, rid := range ids {
			r := replies[rid]
			want(r, "ok")
			var out struct {
				Status        string `json:"status"`
				LinesReceived int    `json:"linesReceived"`
				Set           string `json:"set"`
				Parts         int    `json:"parts"`
			}
			if err := json.Unmarshal(r.Payload, &out); err != nil {
				t.Fatalf("%s: reply %s: %v", rid, r.Payload, err)
			}
			switch {
			case no+1 < of && (out.Status != "part-received" || out.LinesReceived != (no+1)*lines/of):
				t.Errorf("part %d: reply %s", no+1, r.Payload)
			case no+1 == of && (out.Status == "part-received" || out.Set != id+"-S1"):
				t.Errorf("last part: reply %s", r.Payload)
			}
		}
		v := sim.Visit(spCode, id)
		if !v.Complete || !v.VisitUploaded || len(v.Fees) != lines {
			t.Fatalf("platform has complete %v, visit %v, %d fee lines; want %d", v.Complete, v.VisitUploaded, len(v.Fees), lines)
		}
		for i, sn := range v.Fees {
			if want := fmt.Sprintf("%s-%04d", id, i+1); sn != want {
				t.Fatalf("fee line %d on the platform is %s, want %s", i, sn, want)
			}
		}
		if v.FeesSumamt != v.MedfeeSumamt || v.MedfeeSumamt != fmt.Sprintf("%d.00", 11*lines) {
			t.Errorf("platform: lines add up to %s, the visit says %s", v.FeesSumamt, v.MedfeeSumamt)
		}
		if n := sim.Count("4202", id); n != 1 {
			t.Errorf("4202 applied %d times", n)
		}
		t.Logf("%d fee lines in %d parts, %s end to end", lines, of, time.Since(begin).Round(time.Millisecond))
	})

	t.Run("lost reply is reconciled", func(t *testing.T) {
		sim.Fail(selfpaysim.Fault{Infno: "4202", Mode: selfpaysim.FaultLostReply})
		r := send("E2E-L", "u-lost", "s1", "selfpay.upload", spUpload("E2E-L", 3))
		want(r, "ok")
		if r.Attempts != 2 || !strings.Contains(string(r.Payload), `"reconciled":true`) {
			t.Errorf("attempts %d, payload %s", r.Attempts, r.Payload)
		}
		if n := sim.Count("4202", "E2E-L"); n != 1 {
			t.Errorf("4202 applied %d times", n)
		}
	})

	t.Run("medgate killed between steps resumes", func(t *testing.T) {
		// The second 4201A batch is applied, then its connection held:
		// medgate dies while it waits.
		sim.Fail(selfpaysim.Fault{Infno: "4201A", Mode: selfpaysim.FaultHold, After: 1})
		p.Send("E2E-K", harness.Request{ID: "u-kill", Site: "s1", Type: "selfpay.upload", OccurredAt: time.Now().Format(time.RFC3339), Payload: spUpload("E2E-K", 120)})
		select {
		case <-sim.Held():
		case <-time.After(time.Minute):
			t.Fatalf("the upload never reached the second batch:\n%s", tail(mg.Logs(), 40))
		}
		mg.Kill()
		sim.Release()
		mg.Restart()
		r := p.Replies([]string{"u-kill"}, 2*time.Minute)["u-kill"]
		want(r, "ok")
		v := sim.Visit(spCode, "E2E-K")
		if !v.Complete || len(v.Fees) != 120 {
			t.Fatalf("platform has %+v", v)
		}
		if !strings.Contains(string(r.Payload), `"reconciled":true`) {
			t.Errorf("the held batch was not reconciled: %s", r.Payload)
		}
		if n := sim.Count("4202", "E2E-K"); n != 1 {
			t.Errorf("4202 applied %d times", n)
		}
	})

	t.Run("bad signature", func(t *testing.T) {
		r := send("E2E-S", "u-sig", "s2", "selfpay.upload", spUpload("E2E-S", 1))
		want(r, "rejected")
		if r.External == nil || r.External.Code != "HTTP 401" || len(r.Errors) == 0 || r.Errors[0].Rule != "auth" {
			t.Errorf("reply %+v %+v", r.External, r.Errors)
		}
	})

	t.Run("business error", func(t *testing.T) {
		sim.Fail(selfpaysim.Fault{Infno: "4203", Mode: selfpaysim.FaultBusiness, Message: "就诊信息与费用明细不一致"})
		r := send("E2E-B", "u-biz", "s1", "selfpay.upload", spUpload("E2E-B", 2))
		want(r, "rejected")
		if r.External == nil || r.External.Code != "-1" || r.External.Message != "就诊信息与费用明细不一致" || r.External.MsgID == "" {
			t.Errorf("external %+v", r.External)
		}
	})

	t.Run("invalid input sends nothing", func(t *testing.T) {
		calls := len(sim.Calls())
		m := spUpload("E2E-I", 2)
		delete(m["ownPayPatnMdtrtD"].(map[string]any), "certno")
		m["fsiOwnpayPatnFeeListDDTO"].([]any)[1].(map[string]any)["bkkp_sn"] = "E2E-I-0001"
		r := send("E2E-I", "u-inv", "s1", "selfpay.upload", m)
		want(r, "invalid")
		var got []string
		for _, e := range r.Errors {
			got = append(got, e.Field+" "+e.Rule)
		}
		for _, w := range []string{"$.ownPayPatnMdtrtD.certno required", "$.fsiOwnpayPatnFeeListDDTO[1].bkkp_sn unique"} {
			if !strings.Contains(strings.Join(got, "|"), w) {
				t.Errorf("missing %s in %v", w, got)
			}
		}
		if len(sim.Calls()) != calls {
			t.Error("an invalid upload reached the platform")
		}
	})

	t.Run("import pending", func(t *testing.T) {
		list := "医药机构就诊ID,姓名,身份证号,入院时间\n" +
			"E2E-800,张三,350203198001011234,2025-03-25 10:00:00\n" +
			"E2E-B,张三,350203198001011234,2025-03-25 10:00:00\n" +
			"E2E-NEW,王五,350203197001012222,2025-03-20 08:00:00\n"
		r := send("import", "imp-1", "s1", "selfpay.import-pending", map[string]any{"filename": "pending.csv", "content": base64.StdEncoding.EncodeToString([]byte(list))})
		want(r, "ok")
		var rep struct {
			Patients []struct{ Status string } `json:"patients"`
		}
		if err := json.Unmarshal(r.Payload, &rep); err != nil || len(rep.Patients) != 3 ||
			rep.Patients[0].Status != "uploaded" || rep.Patients[1].Status != "failed" || rep.Patients[2].Status != "pending" {
			t.Fatalf("report %s", r.Payload)
		}
		// The same through the command line.
		file := filepath.Join(cfg.Dir, "pending.csv")
		if err := os.WriteFile(file, []byte(list), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, bins.Medgate, "selfpay", "import-pending", "-config", cfgPath, "-site", "s1", file).CombinedOutput()
		if err != nil {
			t.Fatalf("medgate selfpay import-pending: %v\n%s", err, out)
		}
		for _, w := range []string{"pending.csv：3 名病人 patients — 待上传 pending 1，已上传 uploaded 1，失败 failed 1", "E2E-800", "就诊信息与费用明细不一致"} {
			if !strings.Contains(string(out), w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	})
	t.Logf("self-pay end-to-end: %s", time.Since(started).Round(time.Millisecond))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func spFee(mdtrt string, i int) map[string]any {
	return map[string]any{
		"fixmedins_mdtrt_id": mdtrt, "med_type": "21", "bkkp_sn": fmt.Sprintf("%s-%04d", mdtrt, i),
		"fee_ocur_time": "2025-03-26 10:00:00", "cnt": 2, "pric": 5.5, "det_item_fee_sumamt": 11.00,
		"med_list_codg": "001101000010000", "medins_list_codg": "HIS-1", "medins_list_name": "一般诊疗费", "med_chrgitm_type": "04",
		"bilg_dept_codg": "A03", "bilg_dept_name": "内科", "bilg_dr_code": "D0001", "bilg_dr_name": "李医生",
		"tcmdrug_used_way": "1", "etip_flag": "0", "dscg_tkdrug_flag": "0",
		"fulamt_ownpay_amt": 11.00, "overlmt_selfpay": 0, "preselfpay_amt": 0, "inscp_amt": 0,
	}
}

func spVisit(mdtrt string, n int) map[string]any {
	return map[string]any{
		"fixmedins_mdtrt_id": mdtrt, "psn_cert_type": "01", "certno": spCert, "psn_name": "张三",
		"begntime": "2025-03-25 10:00:00", "endtime": "2025-04-01 09:00:00", "med_type": "21", "vali_flag": "1",
		"medfee_sumamt": fmt.Sprintf("%d.00", 11*n),
	}
}

func spDiags() []any {
	return []any{map[string]any{"inout_diag_type": "2", "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1", "diag_code": "J18.900", "diag_name": "肺炎"}}
}

func spUpload(mdtrt string, n int) map[string]any {
	fees := make([]any, n)
	for i := range fees {
		fees[i] = spFee(mdtrt, i+1)
	}
	return map[string]any{"ownPayPatnMdtrtD": spVisit(mdtrt, n), "ownPayPatnDiagListD": spDiags(), "fsiOwnpayPatnFeeListDDTO": fees}
}
