package tracecode

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"time"
)

// product is a drug the simulated suppliers deliver.
type product struct {
	code        string // 7-digit product identifier, starts with 8
	name        string
	spec        string
	unit        string
	medListCode string
	approvalNo  string
	maker       string
	ratio       string // cumulative package ratio
}

// catalogue of simulated products. Ratios are cumulative: "1:5:50" is one
// case of 5 middle packs holding 50 smallest units.
var catalogue = []product{
	{"8100001", "阿莫西林胶囊", "0.25g*24粒", "盒", "XJ01CAA040A001010100001", "国药准字H35020001", "厦门示例制药有限公司", "1:5:50"},
	{"8100002", "布洛芬缓释胶囊", "0.3g*20粒", "盒", "XM01AEB063E001010100002", "国药准字H35020002", "福建示例药业股份有限公司", "1:4:40"},
	{"8100003", "氯化钠注射液", "250ml:2.25g", "瓶", "XB05BBC021B002010100003", "国药准字H35020003", "示例大输液有限公司", "1:30"},
	{"8100004", "二甲双胍片", "0.5g*48片", "盒", "XA10BAD047A001010100004", "国药准字H35020004", "厦门示例制药有限公司", "1:2:20"},
	{"8100005", "头孢克肟颗粒", "50mg*6袋", "盒", "XJ01DDC089N001010100005", "国药准字H35020005", "示例医药集团", "1:10:100"},
}

// suppliers of the simulated deliveries.
var suppliers = []struct{ code, name string }{
	{"91350200MA31A0001X", "厦门示例医药有限公司"},
	{"91350200MA31B0002Y", "福建示例医药物流有限公司"},
	{"91350200MA31C0003Z", "国药示例(厦门)医药有限公司"},
}

// node is one code of the simulated packaging hierarchy.
type node struct {
	Code          string `json:"code"`
	CodeLevel     int    `json:"codeLevel"`
	CodePackLevel int    `json:"codePackLevel"`
	ParentCode    string `json:"parentCode"`
	IsSmallest    bool   `json:"isSmallest"`
	PkgRatio      string `json:"pkgRatio"`
	BoxStatus     string `json:"boxStatus"`
	LineNo        int    `json:"lineNo,omitempty"`
	children      []string
}

// BillCode is a code as it appears on a document (no hierarchy).
type BillCode struct {
	Code       string `json:"code"`
	CodeLevel  int    `json:"codeLevel"`
	ParentCode string `json:"parentCode"`
}

// Line is one line of a simulated stock-in document.
type Line struct {
	LineNo      int        `json:"lineNo"`
	ProductCode string     `json:"productCode"`
	MedListCode string     `json:"medListCode"`
	ItemName    string     `json:"itemName"`
	Spec        string     `json:"spec"`
	Maker       string     `json:"manufacturer"`
	ApprovalNo  string     `json:"approvalNo"`
	BatchNo     string     `json:"batchNo"`
	ProduceDate string     `json:"produceDate"`
	ExpiryDate  string     `json:"expiryDate"`
	Qty         int        `json:"qty"`
	Unit        string     `json:"unit"`
	PackRatio   string     `json:"packRatio"`
	Codes       []BillCode `json:"codes"`
}

// Bill is a simulated stock-in document: a supplier's delivery to the
// hospital, as the platform lists it.
type Bill struct {
	BillNo      string `json:"billNo"`
	BillType    string `json:"billType"`
	BillTime    string `json:"billTime"`
	FromOrgCode string `json:"fromOrgCode"`
	FromOrgName string `json:"fromOrgName"`
	ToOrgCode   string `json:"toOrgCode"`
	ToOrgName   string `json:"toOrgName"`
	Lines       []Line `json:"lines"`
}

// Smallest returns the number of smallest units on the bill.
func (b Bill) Smallest() int {
	n := 0
	for _, l := range b.Lines {
		n += l.Qty
	}
	return n
}

// checkPart returns the 4-digit check part of a code. The platform's real
// algorithm is not public; the simulator derives it from a hash so that
// codes look realistic and are stable.
func checkPart(first16 string) string {
	h := fnv.New32a()
	h.Write([]byte(first16))
	return fmt.Sprintf("%04d", h.Sum32()%10000)
}

// generateDay creates the deliveries of one day, deterministically from
// the seed and the date; the caller holds s.mu.
func (s *Sim) generateDay(day time.Time) []string {
	key := day.Format("20060102")
	if nos, ok := s.days[key]; ok {
		return nos
	}
	seed := uint64(s.opts.Seed)
	h := fnv.New64a()
	h.Write([]byte(key))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	var nos []string
	for i := 1; i <= s.opts.BillsPerDay; i++ {
		sup := suppliers[rng.IntN(len(suppliers))]
		t := day.Add(time.Duration(8*3600+rng.IntN(10*3600)) * time.Second)
		b := &Bill{
			BillNo:      fmt.Sprintf("PS%s%03d", key, i),
			BillType:    "209",
			BillTime:    t.Format("2006-01-02 15:04:05"),
			FromOrgCode: sup.code, FromOrgName: sup.name,
			ToOrgCode: s.opts.OrgCode, ToOrgName: "示例医院",
		}
		nLines := 1 + rng.IntN(3)
		perm := rng.Perm(len(catalogue))
		for l := 0; l < nLines; l++ {
			p := catalogue[perm[l]]
			line := Line{
				LineNo: l + 1, ProductCode: p.code, MedListCode: p.medListCode, ItemName: p.name, Spec: p.spec,
				Maker: p.maker, ApprovalNo: p.approvalNo, Unit: p.unit, PackRatio: p.ratio,
				BatchNo:     fmt.Sprintf("B%s%02d", day.AddDate(0, -2, 0).Format("060102"), rng.IntN(100)),
				ProduceDate: day.AddDate(0, -2, 0).Format("2006-01-02"),
				ExpiryDate:  day.AddDate(2, -2, -1).Format("2006-01-02"),
			}
			cases := 1 + rng.IntN(2)
			// Every fourth line of the day ships one partial case (零箱).
			partial := (i+l)%4 == 0
			for c := 0; c < cases; c++ {
				missing := 0
				if partial && c == cases-1 {
					missing = 1 + rng.IntN(3)
				}
				top := s.buildCase(p, day, missing, l+1)
				line.Codes = append(line.Codes, BillCode{Code: top.Code, CodeLevel: top.CodeLevel})
				line.Qty += s.countSmallest(top.Code)
			}
			b.Lines = append(b.Lines, line)
		}
		s.bills[b.BillNo] = b
		nos = append(nos, b.BillNo)
	}
	s.days[key] = nos
	return nos
}

// maxCodesPerDay is how many codes of one product one day's deliveries
// may hold: the serial's last five digits (a case holds at most 111
// codes, a line two cases, a document a product once, so BillsPerDay up
// to 450).
const maxCodesPerDay = 99999

// newCode returns a fresh code of a product shipped on day; the caller
// holds s.mu. Its 9-digit serial is the day's number (days since
// 2020-01-01, four digits, so through 2047) and the day's count of the
// product's codes (five digits): a day's deliveries have the same codes
// whichever days were listed before, in this run or before a restart, as
// a platform's documents keep their codes, and no two days share one.
func (s *Sim) newCode(productCode string, day time.Time) string {
	key := productCode + "/" + day.Format("20060102")
	s.serials[key]++
	n := s.serials[key]
	if n > maxCodesPerDay {
		panic(fmt.Sprintf("tracecode simulator: more than %d codes of product %s on %s: lower BillsPerDay", maxCodesPerDay, productCode, day.Format("2006-01-02")))
	}
	epoch := time.Date(2020, 1, 1, 0, 0, 0, 0, day.Location())
	dayNo := int(day.Sub(epoch).Hours()/24) % 10000
	if dayNo < 0 {
		dayNo += 10000
	}
	first16 := productCode + fmt.Sprintf("%04d%05d", dayNo, n)
	return first16 + checkPart(first16)
}

// buildCase creates the codes of one largest package of p shipped on day
// with missing smallest units left out; the caller holds s.mu.
func (s *Sim) buildCase(p product, day time.Time, missing, lineNo int) *node {
	parts := ratioParts(p.ratio)
	levels := len(parts)
	status := "0"
	if missing > 0 {
		status = "2"
	}
	top := &node{Code: s.newCode(p.code, day), CodeLevel: 1, CodePackLevel: levels, PkgRatio: p.ratio, BoxStatus: status, IsSmallest: levels == 1, LineNo: lineNo}
	s.nodes[top.Code] = top
	// Children per package at each level, from the cumulative ratio.
	per := make([]int, levels)
	for i := 1; i < levels; i++ {
		per[i] = parts[i] / parts[i-1]
	}
	var build func(parent *node, level int)
	build = func(parent *node, level int) {
		if level > levels {
			return
		}
		for k := 0; k < per[level-1]; k++ {
			if level == levels && missing > 0 {
				missing--
				continue
			}
			n := &node{Code: s.newCode(p.code, day), CodeLevel: level, CodePackLevel: levels - level + 1, ParentCode: parent.Code,
				PkgRatio: p.ratio, BoxStatus: "0", IsSmallest: level == levels, LineNo: lineNo}
			s.nodes[n.Code] = n
			parent.children = append(parent.children, n.Code)
			build(n, level+1)
		}
	}
	build(top, 2)
	return top
}

func ratioParts(r string) []int {
	var parts []int
	cur := ""
	for _, ch := range r + ":" {
		if ch == ':' {
			n, _ := strconv.Atoi(cur)
			parts = append(parts, n)
			cur = ""
			continue
		}
		cur += string(ch)
	}
	return parts
}

// countSmallest counts the smallest units under a code; the caller holds s.mu.
func (s *Sim) countSmallest(code string) int {
	n := s.nodes[code]
	if n == nil || n.IsSmallest || len(n.children) == 0 {
		return 1
	}
	total := 0
	for _, c := range n.children {
		total += s.countSmallest(c)
	}
	return total
}

// subtree returns a code and all its descendants, parents first; the
// caller holds s.mu.
func (s *Sim) subtree(code string, lineNo int) []node {
	n := s.nodes[code]
	if n == nil {
		return []node{{Code: code, CodeLevel: 1, CodePackLevel: 1, IsSmallest: true, BoxStatus: "0", LineNo: lineNo}}
	}
	out := []node{*n}
	out[0].LineNo = lineNo
	for _, c := range n.children {
		out = append(out, s.subtree(c, lineNo)...)
	}
	return out
}
