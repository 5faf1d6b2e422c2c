package schemas

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const specRef = "/work/shared/specs/workinjury.md §3.2"

// workInjuryCodes are the 39 transactions of the work-injury interface.
var workInjuryCodes = []string{
	"GYU000", "GYU001", "GYU002", "GYU003", "GYU004", "GYU006", "GYU007", "GYU008", "GYU009", "GYU010",
	"GYD001", "GYD003", "GYD004", "GYD005", "GYD006", "GYD008", "GYD009",
	"GYD051", "GYD052", "GYD053", "GYD054", "GYD055",
	"GYD101", "GYD102", "GYD103", "GYD104",
	"GYD401", "GYD402", "GYD403", "GYD404",
	"GYU101", "GYU102", "GYU103", "GYU303",
	"GYR001", "GYR002", "GYR003", "GYR004", "GYR005",
}

// knownNames are the names of the 39 transactions: the part-1 names, and
// for the rest the names of the requirements (§3.1).
var knownNames = map[string]string{
	"GYU000": "连通性测试", "GYD001": "异地就医备案申请下载", "GYD054": "附件下载", "GYU008": "下载结果反馈",
	"GYU001": "备案审核结果上传", "GYU006": "本地备案上传", "GYD006": "备案信息下载", "GYU007": "备案信息变更",
	"GYD051": "人员备案校验", "GYU002": "附件上传", "GYU009": "协议机构信息上传", "GYD009": "协议机构信息下载",
	"GYD052": "社保卡认证", "GYD055": "卡内部认证", "GYU010": "电子社保卡二维码上传", "GYD008": "未确认下载查询",
	"GYR005": "重新下载申请", "GYD053": "通用交易查询", "GYU101": "入院登记上传", "GYU102": "费用明细上传",
	"GYU103": "出院结算上传", "GYU303": "辅助器具结算上传",
	"GYD101": "入院信息下载", "GYD102": "费用明细下载", "GYD103": "结算信息下载", "GYD104": "结算信息下载（按人员信息）",
	"GYU004": "费用审核扣款信息上传", "GYD004": "费用审核扣款信息下载", "GYR003": "结算信息撤销", "GYD403": "结算撤销信息下载",
	"GYR001": "费用明细信息撤销", "GYD401": "费用明细撤销信息下载", "GYR002": "入院登记信息撤销", "GYD402": "入院登记撤销信息下载",
	"GYR004": "费用审核扣款信息撤销", "GYD404": "费用审核扣款撤销信息下载", "GYU003": "协议机构月结信息上传",
	"GYD003": "协议机构月结信息下载", "GYD005": "费用清分信息下载",
}

func TestEmbeddedLoads(t *testing.T) {
	t.Parallel()
	if err := CheckEmbedded(); err != nil {
		t.Fatalf("built-in schemas do not load:\n%v", err)
	}
	if len(Embedded().List("")) == 0 {
		t.Fatal("no built-in schemas")
	}
	// Loading again from the embedded files gives the same result.
	again, err := Load(EmbeddedFS())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Embedded().List(""), again.List("")); diff != "" {
		t.Errorf("reload differs (-once +again):\n%s", diff)
	}
}

func TestWorkInjuryTransactions(t *testing.T) {
	t.Parallel()
	if n := len(workInjuryCodes); n != 39 {
		t.Fatalf("the test lists %d codes, want 39", n)
	}
	var got []string
	for _, s := range Embedded().List("workinjury") {
		got = append(got, s.Code)
	}
	want := slices.Sorted(slices.Values(workInjuryCodes))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("work-injury transactions (-want +got):\n%s", diff)
	}
}

func TestWorkInjurySchemas(t *testing.T) {
	t.Parallel()
	for _, s := range Embedded().List("workinjury") {
		t.Run(s.Code, func(t *testing.T) {
			t.Parallel()
			if !s.Reconstructed {
				t.Errorf("reconstructed is false; no official field list is public")
			}
			for _, must := range []string{specRef, "medgate import-spec", "V1.5.02"} {
				if !strings.Contains(s.ReconstructionNote, must) {
					t.Errorf("reconstructionNote does not mention %q", must)
				}
			}
			if s.Source == "" {
				t.Errorf("no source")
			}
			// Every transaction carries reconstructed fields; none is
			// left empty (the requirements define all 39).
			if name, known := knownNames[s.Code]; !known || s.Name != name {
				t.Errorf("name = %q, want %q", s.Name, knownNames[s.Code])
			}
			if strings.Contains(s.Name, "含义未公开") || strings.Contains(s.ReconstructionNote, "NOT known publicly") {
				t.Errorf("still marked as of unknown meaning; the requirements define every transaction")
			}
			if len(s.Input) == 0 && s.Code != "GYU000" || len(s.Output) == 0 && s.Direction != DirectionUpload {
				t.Errorf("input %d fields, output %d fields: a transaction without fields cannot be used", len(s.Input), len(s.Output))
			}
			if s.Direction == DirectionDownload && s.Code != "GYD054" {
				if s.BatchLimit != 500 || s.BatchField != "output.records" {
					t.Errorf("download batch = %d %q, want 500 output.records", s.BatchLimit, s.BatchField)
				}
				if f := findField(s.Input, "last_batch_no"); f == nil {
					t.Errorf("an incremental download needs the last_batch_no cursor")
				}
			}
		})
	}
}

// envelopeNames are envelope-level keys that must not appear in business
// schemas (they are configuration of the envelope layer).
var envelopeNames = []string{"infno", "msgid", "transid", "jylsh", "sign", "signData", "signatureData", "cainfo",
	"signtype", "signType", "encKey", "encData", "key", "data", "input", "infver", "version", "timestamp", "inf_time",
	"recer_sys_code", "sender", "receiver", "infcode", "err_msg", "return_code", "output"}

func TestEmbeddedSchemasAreSound(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, s := range Embedded().List("") {
		key := s.System + "/" + s.Code
		if seen[key] {
			t.Errorf("%s: duplicate code", key)
		}
		seen[key] = true
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			if !s.Direction.Valid() {
				t.Errorf("direction %q", s.Direction)
			}
			for side, fields := range map[string][]Field{"input": s.Input, "output": s.Output} {
				walkFields(fields, side, func(at string, f *Field) {
					if _, err := ParseType(f.Type.String()); err != nil {
						t.Errorf("%s: %v", at, err)
					}
					if f.Type.Scalar() && f.Example == nil {
						t.Errorf("%s: no example; every built-in scalar field needs one", at)
					}
					if f.Label == "" {
						t.Errorf("%s: no label", at)
					}
					if !strings.Contains(at, ".") || strings.Count(at, ".") == 1 {
						if slices.Contains(envelopeNames, f.Name) {
							t.Errorf("%s: looks like an envelope field; envelope fields are configuration, not schema", at)
						}
					}
				})
			}
			// An example document built from the examples must validate:
			// this catches broken schema files.
			if errs := s.ValidateInput(s.ExampleInput()); errs != nil {
				t.Errorf("example input does not validate: %v", errs)
			}
			if errs := s.ValidateOutput(s.ExampleOutput()); errs != nil {
				t.Errorf("example output does not validate: %v", errs)
			}
			// The same after a JSON round trip, as the host will see it.
			for side, doc := range map[string]map[string]any{"input": s.ExampleInput(), "output": s.ExampleOutput()} {
				b, err := json.Marshal(doc)
				if err != nil {
					t.Fatal(err)
				}
				v := decodeJSON(t, string(b))
				errs := s.ValidateInput(v)
				if side == "output" {
					errs = s.ValidateOutput(v)
				}
				if errs != nil {
					t.Errorf("%s example after JSON round trip: %v", side, errs)
				}
			}
		})
	}
}

func findField(fields []Field, name string) *Field {
	for i := range fields {
		if fields[i].Name == name {
			return &fields[i]
		}
	}
	return nil
}

func walkFields(fields []Field, at string, fn func(string, *Field)) {
	for i := range fields {
		p := at + "." + fields[i].Name
		fn(p, &fields[i])
		walkFields(fields[i].Fields, p, fn)
	}
}

func TestWorkInjuryBatches(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		limit int
		field string
	}{
		"GYD001": {500, "output.records"},
		"GYU008": {500, "records"},
		"GYU002": {10, "attachments"},
		"GYU102": {500, "fee"},
		"GYU003": {500, "items"},
		"GYU004": {500, "deductions"},
		"GYR004": {500, "deductions"},
		"GYD101": {500, "output.records"},
		"GYD102": {500, "output.records"},
		"GYD103": {500, "output.records"},
		"GYD003": {500, "output.records"},
		"GYD004": {500, "output.records"},
		"GYD005": {500, "output.records"},
		"GYD401": {500, "output.records"},
		"GYD402": {500, "output.records"},
		"GYD403": {500, "output.records"},
		"GYD404": {500, "output.records"},
	}
	for code, tc := range testCases {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			s, ok := Embedded().Get("workinjury", code)
			if !ok {
				t.Fatal("missing")
			}
			if diff := cmp.Diff([]any{tc.limit, tc.field}, []any{s.BatchLimit, s.BatchField}); diff != "" {
				t.Errorf("batch (-want +got):\n%s", diff)
			}
			side, path := s.BatchPath()
			fields := s.Input
			if side == "output" {
				fields = s.Output
			}
			doc := s.ExampleInput()
			if side == "output" {
				doc = s.ExampleOutput()
			}
			f := lookup(fields, path)
			item := exampleObject(f.Fields)
			fill := func(n int) {
				items := make([]any, n)
				for i := range items {
					items[i] = item
				}
				doc[path[0]] = items
			}
			validate := s.ValidateInput
			if side == "output" {
				validate = s.ValidateOutput
			}
			fill(tc.limit)
			for _, e := range validate(doc) {
				if e.Rule == RuleBatch {
					t.Errorf("%d items rejected: %v", tc.limit, e)
				}
			}
			fill(tc.limit + 1)
			var batch []FieldError
			for _, e := range validate(doc) {
				if e.Rule == RuleBatch {
					batch = append(batch, e)
				}
			}
			if len(batch) != 1 || batch[0].Path != "$."+path[0] {
				t.Errorf("%d items: batch errors %v, want one at $.%s", tc.limit+1, batch, path[0])
			}
		})
	}
}

func TestWorkInjuryDownloadsCarryACursor(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"GYD001", "GYD006", "GYD009"} {
		s, _ := Embedded().Get("workinjury", code)
		if f := find(s.Output, "records"); f == nil || f.Type.Kind != KindArray {
			t.Errorf("%s: output has no records array", code)
		}
		if find(s.Output, "batch_no") == nil {
			t.Errorf("%s: output has no batch_no for GYU008", code)
		}
		if find(s.Input, "last_batch_no") == nil {
			t.Errorf("%s: input has no incremental cursor", code)
		}
	}
	fb, _ := Embedded().Get("workinjury", "GYU008")
	if find(fb.Input, "batch_no") == nil || find(fb.Input, "records") == nil {
		t.Errorf("GYU008 must carry batch_no and records")
	}
	rec := find(fb.Input, "records")
	if find(rec.Fields, "record_id") == nil || find(rec.Fields, "result_flag") == nil {
		t.Errorf("GYU008 records need record_id and result_flag")
	}
}

// TestWriteYAMLRoundTripsEmbedded writes every built-in schema with
// WriteYAML and loads it back over the built-in set: it must be equal.
func TestWriteYAMLRoundTripsEmbedded(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{}
	for _, s := range Embedded().List("") {
		var buf bytes.Buffer
		if err := WriteYAML(&buf, s); err != nil {
			t.Fatal(err)
		}
		fsys[s.System+"/"+s.Code+".yaml"] = &fstest.MapFile{Data: buf.Bytes()}
	}
	again, err := Embedded().OverlayFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	opt := cmpopts.IgnoreFields(Schema{}, "File")
	if diff := cmp.Diff(Embedded().List(""), again.List(""), opt); diff != "" {
		t.Errorf("round trip (-embedded +rewritten):\n%s", diff)
	}
}

func TestEmbeddedCodeTablesAreUsed(t *testing.T) {
	t.Parallel()
	used := map[string]bool{}
	for _, s := range Embedded().List("workinjury") {
		walkFields(append(slices.Clone(s.Input), s.Output...), "", func(_ string, f *Field) {
			if f.CodesRef != "" {
				used[f.CodesRef] = true
			}
		})
	}
	entries, err := fs.ReadDir(EmbeddedFS(), "workinjury/codes")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".yaml")
		tab, ok := Embedded().CodeTable("workinjury", name)
		if !ok {
			t.Errorf("%s: not loaded", name)
			continue
		}
		if !tab.Reconstructed || !strings.Contains(tab.ReconstructionNote, "not public") {
			t.Errorf("%s: must be marked reconstructed with a note", name)
		}
		if !used[name] {
			t.Errorf("code table %s is not used by any schema; remove it", name)
		}
	}
}

// TestSelfPayCompletionFlags: cplt_flag takes the codes 0 and 1 wherever
// it appears (4203 sets it, 4208 searches by it); anything else is
// refused before it reaches the platform.
func TestSelfPayCompletionFlags(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"4203", "4208"} {
		s, err := Embedded().Lookup("selfpay", code)
		if err != nil {
			t.Fatal(err)
		}
		for flag, ok := range map[string]bool{"0": true, "1": true, "Y": false, "2": false} {
			in := map[string]any{"cplt_flag": flag}
			if code == "4203" {
				in["fixmedins_mdtrt_id"], in["fixmedins_code"] = "ZY1", "H35020300001"
			} else {
				in["page_num"], in["page_size"] = "1", "10"
			}
			refused := false
			for _, fe := range s.ValidateInput(in) {
				if strings.Contains(fe.Path, "cplt_flag") {
					refused = true
				}
			}
			if refused == ok {
				t.Errorf("%s cplt_flag %q: refused = %v, want %v", code, flag, refused, !ok)
			}
		}
	}
}
