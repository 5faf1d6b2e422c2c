package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/config"
)

func TestPrintPending(t *testing.T) {
	t.Parallel()
	payload := `{"file":"pending.csv","rows":3,"verified":true,"columns":{"certno":"身份证号","fixmedins_mdtrt_id":"医药机构就诊ID"},
	"summary":{"uploaded":1,"failed":1,"pending":1},
	"patients":[{"row":3,"fixmedinsMdtrtId":"ZY1","psnName":"张*","certno":"350***********1234","status":"uploaded","reason":"uploaded and marked complete (2 fee lines)","platform":"complete"},
	{"row":4,"fixmedinsMdtrtId":"ZY2","status":"failed","reason":"诊断代码不存在"},
	{"row":5,"status":"pending","reason":"no selfpay.upload has been received for this visit"}]}`
	var out bytes.Buffer
	if err := printPending(&out, []byte(payload)); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"pending.csv: 3 patients — pending 1, uploaded 1, failed 1",
		"columns: certno=身份证号, fixmedins_mdtrt_id=医药机构就诊ID",
		"ROW  VISIT  NAME  ID NUMBER           STATUS    PLATFORM  REASON",
		"3    ZY1    张*",
		"350***********1234  uploaded  complete  uploaded and marked complete (2 fee lines)",
		"5    -      -     -                   pending   -         no selfpay.upload",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestSelfpaySite(t *testing.T) {
	t.Parallel()
	off := false
	cfg := &config.Config{Sites: []config.Site{
		{Code: "a", Plugins: map[string]config.SitePlugin{"selfpay": {}}},
		{Code: "b", Plugins: map[string]config.SitePlugin{"selfpay": {Enabled: &off}}},
		{Code: "c", Plugins: map[string]config.SitePlugin{"ledger": {}}},
	}}
	if s, err := selfpaySite(cfg); err != nil || s != "a" {
		t.Errorf("got %q, %v", s, err)
	}
	cfg.Sites[1].Plugins["selfpay"] = config.SitePlugin{}
	if _, err := selfpaySite(cfg); err == nil || !strings.Contains(err.Error(), "-site") {
		t.Errorf("two sites: %v", err)
	}
}
