package transforms

import (
	"fmt"
	"strings"
	"testing"
)

// dftBatch builds a synthetic DFT^P03 with n FT1 segments cycling through
// the demo site's charge items. The fund pays every line (FT1-15) but the
// syringes, which are self-paid.
func dftBatch(n int) []byte {
	items := []struct {
		code, name, class, unit, price string
		fen                            int // the unit price in fen when the fund pays it, else 0
	}{
		{"Y00012", "阿莫西林胶囊", "XY", "盒", "12.50", 1250},
		{"F00021", "床位费（三人间）", "CW", "日", "45.00", 4500},
		{"C00105", "CT检查\\T\\平扫", "JC", "次", "210.50", 21050},
		{"H00008", "血常规", "HY", "次", "20.00", 2000},
		{"M00233", "一次性注射器\\S\\5ml", "CL", "支", "0.333333", 0},
		{"Z00301", "换药", "ZL", "次", "35.00", 3500},
	}
	depts := []string{"GK01^骨科", "GK02^骨科二病区", "SJWK", "NK01^内科"}
	var b strings.Builder
	b.WriteString("MSH|^~\\&|HIS|XMDEMO|MEDGATE|XMDEMO|20250402083000||DFT^P03^DFT_P03|DFTBATCH|P|2.5|||||CHN|UNICODE UTF-8\r")
	b.WriteString("EVN|P03|20250402083000|||0042^王五\r")
	b.WriteString("PID|1||ZY20250401001^^^HIS^PI~440301198507150031^^^CHN^NN||张三^^^^^^L||19850715|M\r")
	b.WriteString("PV1|1|I|B03^0312^12^XMDEMO^^^^^骨科一病区|||||||GK01|||||||110350200000123^陈医生||ZY20250401001" + strings.Repeat("|", 31) + "JZ3502002025040100001\r")
	for i := range n {
		it := items[i%len(items)]
		qty := 1 + i%3
		day := 1 + i%28
		fund := qty * it.fen
		fmt.Fprintf(&b, "FT1|%d|ZY20250401001-%04d||202504%02d%02d%02d00|202504%02d|CG|%s^%s^HIS^%s|规格%d|%s|%d||%s|%s|WI^工伤保险|%d.%02d||||||110350200000123^陈医生\r",
			i+1, i+1, day, i%24, i%60, day, it.code, it.name, it.class, i%7, it.unit, qty, it.price, depts[i%len(depts)], fund/100, fund%100)
	}
	return []byte(b.String())
}

func TestDFTBatch(t *testing.T) {
	t.Parallel()
	m := mustMapping(t, "demo/hl7v2/workinjury.GYU102")
	out, problems := m.Apply(dftBatch(500), nil)
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems[:min(5, len(problems))])
	}
	if got := len(out["fee"].([]any)); got != 500 {
		t.Fatalf("got %d fee lines, want 500", got)
	}
	if errs := m.Schema.ValidateInput(out); len(errs) > 0 {
		t.Fatalf("the output does not validate: %v", errs[:min(5, len(errs))])
	}
	if _, problems := m.Apply(dftBatch(501), nil); len(problems) != 1 || problems[0].Rule != "batch" {
		t.Errorf("501 lines: problems = %v, want one batch problem", problems)
	}
}

// BenchmarkDFTBatch maps a 500-line DFT^P03 into one GYU102 input: parse,
// map every FT1 (lookups, times, exact decimal arithmetic) and validate.
func BenchmarkDFTBatch(b *testing.B) {
	m := mustMapping(b, "demo/hl7v2/workinjury.GYU102")
	msg := dftBatch(500)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, problems := m.Apply(msg, nil); len(problems) > 0 {
			b.Fatal(problems[0])
		}
	}
}

func mustMapping(t testing.TB, name string) *Mapping {
	t.Helper()
	m, ok := mustEmbedded(t).Mapping(name)
	if !ok {
		t.Fatalf("no mapping %s", name)
	}
	return m
}
