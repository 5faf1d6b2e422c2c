package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/schemas/importer/docxtest"
	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/testenv"
)

// TestImportedSpecDrivesValidation is the day the official work-injury
// specification arrives: `medgate import-spec` turns the Word document
// into schema files, a site's schemaDir points at them, and the plugin
// validates that site's messages by the official field list, here an
// 协议机构编号 (akb020) of at most 12 characters where the reconstruction
// allows 30, while a site without the import keeps the built-in list.
func TestImportedSpecDrivesValidation(t *testing.T) {
	t.Parallel()
	bins := harness.Binaries(t)

	// 1. The specification as published: a heading, then the input and
	// output tables of GYD051.
	hdr := []string{"序号", "参数名", "参数说明", "类型", "长度", "是否必填", "代码值"}
	doc, err := docxtest.Write([]docxtest.Block{
		{Para: "4.5.1 人员备案校验（GYD051）"},
		{Para: "输入参数"},
		{Rows: [][]string{
			hdr,
			{"1", "aac002", "社会保障号码", "字符型", "VARCHAR2(20)", "是", ""},
			{"2", "aac003", "姓名", "字符型", "VARCHAR2(50)", "是", ""},
			{"3", "aac043", "证件类型", "字符型", "VARCHAR2(2)", "否", "01:居民身份证"},
			{"4", "aac044", "证件号码", "字符型", "VARCHAR2(50)", "否", ""},
			{"5", "akb020", "协议机构编号", "字符型", "VARCHAR2(12)", "是", ""},
			{"6", "visit_date", "就医日期", "日期", "10", "是", "yyyy-MM-dd"},
			{"7", "scene", "核验场景", "字符型", "1", "否", ""},
			{"8", "filing_no", "备案编号", "字符型", "VARCHAR2(30)", "否", ""},
		}},
		{Para: "输出参数"},
		{Rows: [][]string{
			hdr,
			{"1", "filing_valid", "是否存在有效备案", "字符型", "1", "是", "0:否;1:是"},
			{"2", "filing_no", "备案编号", "字符型", "30", "否", ""},
			{"3", "filing_type", "备案类型", "字符型", "2", "否", ""},
			{"4", "aab301", "参保地", "字符型", "6", "否", ""},
			{"5", "aae030", "开始日期", "日期", "10", "否", ""},
			{"6", "aae031", "终止日期", "日期", "10", "否", ""},
			{"7", "aka130", "待遇类别", "字符型", "2", "否", ""},
			{"8", "akb020", "协议机构编号", "字符型", "30", "否", ""},
			{"9", "aab299", "就医地", "字符型", "6", "否", ""},
			{"10", "filing_status", "备案状态", "字符型", "2", "否", ""},
			{"11", "check_message", "校验信息", "字符型", "200", "否", ""},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	spec := filepath.Join(dir, "工伤保险跨省异地就医接口规范V1.5.02.docx")
	if err := os.WriteFile(spec, doc, 0o600); err != nil {
		t.Fatal(err)
	}

	// 2. medgate import-spec writes DIR/workinjury/GYD051.yaml.
	imported := filepath.Join(dir, "imported")
	out, err := exec.Command(bins.Medgate, "import-spec", "-system", "workinjury", "-out", imported, spec).CombinedOutput()
	if err != nil {
		t.Fatalf("medgate import-spec: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "warning:") || !strings.Contains(string(out), "1 schema(s) written") {
		t.Fatalf("medgate import-spec output:\n%s", out)
	}

	// 3. One medgate, two sites: s1's schemaDir is the import, s2 keeps
	// the built-in schemas.
	sim, kp := newNationalSim(t, 0, 0)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg := harness.NewConfig(t, nil)
	cfg.Embedded = true
	cfg.Listen = testenv.FreeAddr(t)
	cfg.Brokers = []string{cfg.Listen}
	keyDir := writeAdapterKeys(t, kp, cfg)
	cfg.Plugins = []string{"workinjury"}
	site := func(code, sender, schemaDir string) map[string]any {
		settings := map[string]any{"url": srv.URL + "/gsyd", "regionCode": "350200", "senderCode": sender, "keyDir": keyDir, "timeout": "3s"}
		if schemaDir != "" {
			settings["schemaDir"] = schemaDir
		}
		return map[string]any{"code": code, "plugins": map[string]any{"workinjury": map[string]any{"settings": settings}}}
	}
	cfg.Sites = []map[string]any{site("s1", "350200S1", imported), site("s2", "350200S2", "")}
	mg := harness.Start(t, bins, cfg.Write(t, bins))

	post := func(id, siteCode, akb020 string) harness.Reply {
		t.Helper()
		body, _ := json.Marshal(harness.Request{ID: id, Site: siteCode, Type: "workinjury.GYD051", OccurredAt: time.Now().Format(time.RFC3339), Payload: map[string]any{
			"aac002": "350203198001011234", "aac003": "张三", "akb020": akb020, "visit_date": "2026-12-01",
		}})
		resp, err := http.Post("http://"+mg.HTTPAddr+"/v1/messages", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var r harness.Reply
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("%s: ingress answer %d is not a reply: %s", id, resp.StatusCode, raw)
		}
		return r
	}
	lengthError := func(r harness.Reply) bool {
		for _, e := range r.Errors {
			if e.Field == "$.akb020" && e.Rule == "length" {
				return true
			}
		}
		return false
	}
	const long = "H350203001234" // 13 characters: the reconstruction allows it, the import does not
	testCases := map[string]struct {
		site, akb020 string
		invalid      bool
	}{
		"imported list refuses 13 characters":     {"s1", long, true},
		"imported list takes 12 characters":       {"s1", long[:12], false},
		"built-in list still takes 13 characters": {"s2", long, false},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			id := "imp-" + strings.ReplaceAll(name, " ", "-")
			r := post(id, tc.site, tc.akb020)
			if tc.invalid {
				if r.Status != "invalid" || !lengthError(r) {
					t.Fatalf("reply %+v, want invalid with a length error at $.akb020", r)
				}
				if !strings.Contains(r.Errors[0].Message, "12") {
					t.Errorf("message %q does not give the imported limit 12", r.Errors[0].Message)
				}
				if strings.Contains(string(mustJSON(t, r)), "350203198001011234") {
					t.Errorf("the reply quotes the social-security number: %+v", r)
				}
				return
			}
			if r.Status == "invalid" || lengthError(r) {
				t.Fatalf("reply %+v, want the message sent (not invalid)", r)
			}
			sent := false
			for _, q := range sim.Received("GYD051") {
				if q.Input["akb020"] == tc.akb020 {
					sent = true
				}
			}
			if !sent {
				t.Errorf("the national system never received GYD051 with akb020 %s", tc.akb020)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
