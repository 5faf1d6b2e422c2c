package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
	"github.com/medgate/medgate/test/testenv"
)

// The work-injury settlement chain as the hospital's HIS drives it: HL7 v2
// messages (ADT^A01, DFT^P03, ADT^A03) sent for site "demo", whose built-in
// mappings (transforms/mappings/demo/hl7v2) turn them into GYU101, GYU102
// and GYU103; every other transaction is sent as its own JSON input.

// hisSite is the site whose built-in mappings the HIS messages go through;
// rehabSite, a rehabilitation institution without mappings.
const (
	hisSite   = "demo"
	rehabSite = "kf"
)

// hisZone is the time zone of the HIS and of the demo mappings.
var hisZone = time.FixedZone("CST", 8*3600)

// hisEnv is medgate with the workinjury plugin for the hospital's site
// (hisSite) and a rehabilitation institution's (rehabSite), an in-process
// simulator of the national system and a real Kafka broker.
type hisEnv struct {
	tb   testing.TB
	cfg  *harness.Config
	bins *harness.Bins
	mg   *harness.Medgate
	p    *harness.Platform
	sim  *wisim.Server
	seq  *atomic.Int64
}

// with returns the environment for a subtest: failures are reported to
// tb, and the platform client is the subtest's own.
func (e *hisEnv) with(tb testing.TB) *hisEnv {
	c := *e
	c.tb = tb
	c.p = harness.NewPlatform(tb, e.cfg.Brokers, e.cfg.Topics())
	return &c
}

// startHIS starts the environment. The simulator knows the three demo
// institutions and the demo card, and nothing else; the sites know their
// institutions (GYU009) and no filing.
func startHIS(tb testing.TB) *hisEnv {
	tb.Helper()
	return startHISBehind(tb, nil)
}

// startHISBehind is startHIS with the national system behind wrap (a
// proxy on the network between the adapter and the simulator); nil: none.
func startHISBehind(tb testing.TB, wrap func(http.Handler) http.Handler) *hisEnv {
	tb.Helper()
	brokers := testenv.Kafka(tb)
	bins := harness.Binaries(tb)
	sim, kp := newNationalSim(tb, 0, 0)
	var national http.Handler = sim
	if wrap != nil {
		national = wrap(sim)
	}
	srv := httptest.NewServer(national)
	tb.Cleanup(srv.Close)
	cfg := harness.NewConfig(tb, brokers)
	keyDir := writeAdapterKeys(tb, kp, cfg)
	cfg.Plugins = []string{"workinjury"}
	site := func(code, sender string) map[string]any {
		return map[string]any{"code": code, "plugins": map[string]any{"workinjury": map[string]any{"settings": map[string]any{
			"url": srv.URL + "/gsyd", "regionCode": "350200", "senderCode": sender, "keyDir": keyDir, "timeout": "3s",
		}}}}
	}
	// Two institutions, two sites: the hospital (its HIS through the demo
	// mappings) and a rehabilitation institution that sends the
	// transaction inputs as they are. Distinct sender codes keep their
	// message serials apart.
	cfg.Sites = []map[string]any{site(hisSite, "350200YY"), site(rehabSite, "350200KF")}
	mg := harness.Start(tb, bins, cfg.Write(tb, bins))
	e := &hisEnv{tb: tb, cfg: cfg, bins: bins, mg: mg, p: harness.NewPlatform(tb, brokers, cfg.Topics()), sim: sim, seq: new(atomic.Int64)}
	// Each site uploads its approved institutions (GYU009), so both sides
	// know them and their agreements.
	inst := func(site, akb020, name, typ string) harness.Request {
		return e.raw(site, e.id("gyu009-"+akb020), "GYU009", map[string]any{"akb020": akb020, "akb021": name, "institution_type": typ,
			"institution_level": "3", "aab299": "350200", "aae030": "2024-01-01", "valid_flag": "1"})
	}
	for _, r := range []harness.Request{
		inst(hisSite, "H35020300123", "厦门市第一示例医院", "1"),
		inst(hisSite, "F35020300789", "厦门市示例辅助器具配置中心", "3"),
		inst(rehabSite, "K35020300456", "厦门市示例康复医院", "2"),
	} {
		expect(tb, e.one("institutions", r), "ok")
	}
	return e
}

// id returns a fresh message id.
func (e *hisEnv) id(what string) string {
	return fmt.Sprintf("%s-%d-%d", what, time.Now().UnixNano(), e.seq.Add(1))
}

// hl7 is a request carrying an HL7 v2 message.
func (e *hisEnv) hl7(id, code, msg string) harness.Request {
	return harness.Request{ID: id, Site: hisSite, Type: "workinjury." + code, OccurredAt: time.Now().Format(time.RFC3339), Format: "hl7v2", Payload: msg}
}

// raw is a request of site carrying a transaction input as it is.
func (e *hisEnv) raw(site, id, code string, payload any) harness.Request {
	return harness.Request{ID: id, Site: site, Type: "workinjury." + code, OccurredAt: time.Now().Format(time.RFC3339), Payload: payload}
}

// send sends requests in order on one key (a visit) and waits for every
// reply.
func (e *hisEnv) send(key string, reqs ...harness.Request) map[string]harness.Reply {
	e.tb.Helper()
	var ids []string
	for _, r := range reqs {
		ids = append(ids, r.ID)
	}
	e.p.Send(key, reqs...)
	return e.p.Replies(ids, 2*time.Minute)
}

// one sends one request on a key and returns its reply.
func (e *hisEnv) one(key string, r harness.Request) harness.Reply {
	e.tb.Helper()
	return e.send(key, r)[r.ID]
}

// post sends one request through the HTTP ingress and returns its reply.
func (e *hisEnv) post(r harness.Request) (int, harness.Reply) {
	e.tb.Helper()
	body, err := json.Marshal(r)
	if err != nil {
		e.tb.Fatal(err)
	}
	resp, err := http.Post("http://"+e.mg.HTTPAddr+"/v1/messages", "application/json", bytes.NewReader(body))
	if err != nil {
		e.tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out harness.Reply
	if err := json.Unmarshal(raw, &out); err != nil {
		e.tb.Fatalf("ingress answer %d is not a reply: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// trigger runs a job of a site through the admin API.
func (e *hisEnv) trigger(site, job string) (int, string) {
	resp, err := http.Post("http://"+e.mg.HTTPAddr+"/admin/jobs/workinjury/"+site+"/"+job+"/run", "", nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// expect fails the test unless the reply has the status; it returns the
// reply's payload.
func expect(tb testing.TB, r harness.Reply, status string) map[string]any {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("%s (%s): status %q, want %q; errors %+v; external %+v; payload %s", r.RequestID, r.Type, r.Status, status, r.Errors, r.External, r.Payload)
	}
	out := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(r.Payload))
	dec.UseNumber()
	_ = dec.Decode(&out)
	return out
}

// ---- HL7 v2 messages of the demo HIS ----

// segment builds an HL7 segment from its fields by number (MSH counts MSH-1
// as the field separator, so its map starts at 3).
func segment(id string, fields map[int]string) string {
	n := 0
	for k := range fields {
		n = max(n, k)
	}
	parts := make([]string, n+1)
	parts[0] = id
	for k, v := range fields {
		parts[k] = v
	}
	if id == "MSH" {
		// MSH-1 is the separator itself, MSH-2 the encoding characters.
		return "MSH|^~\\&|" + strings.Join(parts[3:], "|")
	}
	return strings.Join(parts, "|")
}

func hl7Time(t time.Time) string { return t.In(hisZone).Format("20060102150405") }

// patient is an injured worker with an approved filing.
type patient struct {
	aac002, aac003 string
	filingNo       string
	certNo         string
	insuredArea    string
	inpatientNo    string
	treatType      string // 1 住院医疗, 2 住院康复
}

func hisHeader(typ, control string, at time.Time) []string {
	return []string{
		segment("MSH", map[int]string{3: "HIS", 4: "XMDEMO", 5: "MEDGATE", 6: "XMDEMO", 7: hl7Time(at), 9: typ, 10: control, 11: "P", 12: "2.5", 17: "CHN", 18: "UNICODE UTF-8"}),
		segment("EVN", map[int]string{1: strings.Split(typ, "^")[1], 2: hl7Time(at), 5: "0042^王五"}),
	}
}

func (p patient) pid() string {
	return segment("PID", map[int]string{1: "1", 3: p.inpatientNo + "^^^HIS^PI~" + p.aac002 + "^^^CHN^NN~" + p.aac002 + "^^^" + p.insuredArea + "^SS",
		5: p.aac003 + "^^^^^^L", 7: "19800101", 8: "F", 13: "13900000000"})
}

// admitHL7 is the ADT^A01 of an admission at the given time.
func admitHL7(p patient, admitted time.Time) string {
	segs := hisHeader("ADT^A01^ADT_A01", "A01-"+p.inpatientNo, admitted)
	segs = append(segs, p.pid(),
		segment("PV1", map[int]string{1: "1", 2: "I", 3: "B03^0312^12^XMDEMO^^^^^骨科一病区", 10: "GK01", 17: "110350200000123^陈医生", 19: p.inpatientNo, 44: hl7Time(admitted)}),
		segment("PV2", map[int]string{3: "^工伤后继续治疗"}),
		segment("DG1", map[int]string{1: "1", 3: "S82.201^胫骨平台骨折^ICD10", 5: admitted.In(hisZone).Format("20060102"), 6: "A"}),
		segment("ZWI", map[int]string{1: p.filingNo, 2: p.certNo, 3: p.insuredArea, 4: p.treatType}),
	)
	return strings.Join(segs, "\r") + "\r"
}

// feeLine is one charge of the HIS, amounts in fen.
type feeLine struct {
	no        string
	at        time.Time
	item      string // HIS item code (in the demo items table)
	name      string
	class     string // HIS charge class
	qty       int64
	priceFen  int64
	ownPayFen int64 // the part the work-injury fund does not pay
}

func (l feeLine) amountFen() int64 { return l.qty * l.priceFen }

// fen formats an amount in fen as yuan with two places.
func fen(v int64) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// chargesHL7 is the DFT^P03 posting lines for the visit registered as ykc700.
func chargesHL7(p patient, ykc700 string, at time.Time, lines []feeLine) string {
	segs := hisHeader("DFT^P03^DFT_P03", "P03-"+lines[0].no, at)
	segs = append(segs, p.pid(),
		segment("PV1", map[int]string{1: "1", 2: "I", 3: "B03^0312^12^XMDEMO^^^^^骨科一病区", 10: "GK01", 17: "110350200000123^陈医生", 19: p.inpatientNo, 50: ykc700}))
	for i, l := range lines {
		segs = append(segs, segment("FT1", map[int]string{1: fmt.Sprint(i + 1), 2: l.no, 4: hl7Time(l.at), 5: hl7Time(l.at), 6: "CG",
			7: l.item + "^" + l.name + "^HIS^" + l.class, 9: "次", 10: fmt.Sprint(l.qty), 11: fen(l.amountFen()) + "^CNY", 12: fen(l.priceFen) + "^CNY",
			13: "GK01^骨科", 14: "WI^工伤保险", 15: fen(l.amountFen()-l.ownPayFen) + "^CNY", 21: "110350200000123^陈医生"}))
	}
	return strings.Join(segs, "\r") + "\r"
}

// settlement is a discharge settlement in fen.
type settlement struct {
	totalFen, fundFen, fullOwnFen, mealFen int64
}

// dischargeHL7 is the ADT^A03 with the settlement (ZST) of the visit.
func dischargeHL7(p patient, ykc700 string, admitted, discharged time.Time, s settlement) string {
	segs := hisHeader("ADT^A03^ADT_A03", "A03-"+p.inpatientNo, discharged)
	segs = append(segs, p.pid(),
		segment("PV1", map[int]string{1: "1", 2: "I", 3: "B03^0312^12^XMDEMO^^^^^骨科一病区", 10: "GK01", 17: "110350200000123^陈医生", 19: p.inpatientNo,
			36: "01", 44: hl7Time(admitted), 45: hl7Time(discharged), 50: ykc700}),
		segment("DG1", map[int]string{1: "1", 3: "S82.201^胫骨平台骨折^ICD10", 5: discharged.In(hisZone).Format("20060102"), 6: "F", 15: "1"}),
		segment("ZST", map[int]string{1: fen(s.totalFen), 2: fen(s.fundFen), 3: fen(s.fullOwnFen), 4: fen(s.mealFen), 5: hl7Time(discharged)}),
	)
	return strings.Join(segs, "\r") + "\r"
}

// hisItems are charge items of the demo items table, with their class.
var hisItems = []struct{ code, name, class string }{
	{"Y00012", "阿莫西林胶囊", "XY"},
	{"F00021", "床位费", "CW"},
	{"C00105", "CT检查", "JC"},
	{"M00233", "一次性注射器", "CL"},
	{"H00008", "血常规", "HY"},
	{"Z00301", "换药", "ZL"},
}

// feeLines returns n charges of the visit from first, numbered from start,
// each a minute apart; every seventh has a self-paid part.
func feeLines(p patient, first time.Time, start, n int) []feeLine {
	out := make([]feeLine, n)
	for i := range out {
		k := start + i
		it := hisItems[k%len(hisItems)]
		l := feeLine{no: fmt.Sprintf("%s-%05d", p.inpatientNo, k), at: first.Add(time.Duration(k) * time.Second), item: it.code, name: it.name, class: it.class,
			qty: int64(1 + k%3), priceFen: int64(150 + (k*37)%9000)}
		if k%7 == 0 {
			l.ownPayFen = l.amountFen() / 10
		}
		out[i] = l
	}
	return out
}

// totals sums fee lines into a settlement.
func totals(lines []feeLine) settlement {
	var s settlement
	for _, l := range lines {
		s.totalFen += l.amountFen()
		s.fundFen += l.amountFen() - l.ownPayFen
	}
	return s
}

// eventWith waits for a work-injury download event whose record has field
// equal to value and returns its type and record. A download event's
// payload holds the record with where it came from (site, downloadCode,
// batchNo).
func (e *hisEnv) eventWith(field, value string) (string, map[string]any) {
	e.tb.Helper()
	typ, rec := "", map[string]any(nil)
	harness.Eventually(e.tb, time.Minute, fmt.Sprintf("an event with %s %s", field, value), func() bool {
		msgs, _ := harness.ReadTopic(e.cfg.Brokers, e.cfg.Topics().Events, 0, 10*time.Second)
		for _, m := range msgs {
			var ev struct {
				Type    string `json:"type"`
				Payload struct {
					Record map[string]any `json:"record"`
				} `json:"payload"`
			}
			dec := json.NewDecoder(bytes.NewReader(m.Value))
			dec.UseNumber() // amounts as sent: 120.50, not 120.5
			if dec.Decode(&ev) == nil && strings.HasPrefix(ev.Type, "workinjury.") && fmt.Sprint(ev.Payload.Record[field]) == value {
				typ, rec = ev.Type, ev.Payload.Record
				return true
			}
		}
		return false
	})
	return typ, rec
}

// ---- the settlement chain, step by step ----

// stamp formats a time as the work-injury datetime fields want it.
func stamp(t time.Time) string { return t.In(hisZone).Format("2006-01-02 15:04:05") }

// newPatient adds an approved filing to the national system, valid from a
// month ago for a year, for institution akb020, and downloads it (GYD006)
// for site, so the site knows it.
func (e *hisEnv) newPatient(site, tag string, i int, akb020, filingType, treatType string) patient {
	e.tb.Helper()
	p := e.nationalPatient(tag, i, akb020, filingType, treatType)
	if code, body := e.trigger(site, "GYD006"); code != http.StatusOK {
		e.tb.Fatalf("GYD006 job: %d %s", code, body)
	}
	return p
}

// nationalPatient adds an approved filing to the national system only.
func (e *hisEnv) nationalPatient(tag string, i int, akb020, filingType, treatType string) patient {
	now := time.Now().In(hisZone)
	p := person(tag, i, treatType)
	e.sim.AddFiling(map[string]any{
		"filing_no": p.filingNo, "aac002": p.aac002, "aac003": p.aac003, "aac043": "01", "aac044": p.aac002, "aac004": "2", "aac006": "1980-01-01",
		"aae005": "13900000000", "injury_cert_no": p.certNo, "aab301": p.insuredArea, "aab299": "350200", "filing_type": filingType,
		"filing_status": "1", "akb020": akb020, "akb021": "厦门示例协议机构", "aae030": now.AddDate(0, -1, 0).Format("2006-01-02"),
		"aae031": now.AddDate(1, 0, 0).Format("2006-01-02"), "update_time": stamp(now),
	})
	return p
}

// person is patient number i of a series, with no filing anywhere.
func person(tag string, i int, treatType string) patient {
	id := fmt.Sprintf("44030219800101%03d%d", i%1000, i%10)
	return patient{aac002: id, aac003: fmt.Sprintf("住院测试人%d", i), filingNo: fmt.Sprintf("BA%s%08d", tag, i),
		certNo: fmt.Sprintf("深人社认字〔2025〕第%05d号", i), insuredArea: "440300", inpatientNo: fmt.Sprintf("ZY%s%06d", tag, i), treatType: treatType}
}

// admit sends the ADT^A01 of the patient and returns the visit number the
// national system gave (ykc700).
func (e *hisEnv) admit(p patient, admitted time.Time) string {
	e.tb.Helper()
	r := e.one(p.inpatientNo, e.hl7(e.id("admit"), "GYU101", admitHL7(p, admitted)))
	out := expect(e.tb, r, "ok")
	ykc700, _ := out["ykc700"].(string)
	if ykc700 == "" {
		e.tb.Fatalf("GYU101 reply without the visit registration number: %s", r.Payload)
	}
	return ykc700
}

// charge posts lines as DFT^P03 messages of at most per lines, in order on
// the visit's key, and checks that each is accepted whole.
func (e *hisEnv) charge(p patient, ykc700 string, lines []feeLine, per int) {
	e.tb.Helper()
	var reqs []harness.Request
	want := map[string]int{}
	for i := 0; i < len(lines); i += per {
		batch := lines[i:min(i+per, len(lines))]
		r := e.hl7(e.id("fees"), "GYU102", chargesHL7(p, ykc700, time.Now(), batch))
		reqs = append(reqs, r)
		want[r.ID] = len(batch)
	}
	replies := e.send(p.inpatientNo, reqs...)
	for _, q := range reqs {
		out := expect(e.tb, replies[q.ID], "ok")
		if got := fmt.Sprint(out["accepted_count"]); got != strconv.Itoa(want[q.ID]) {
			e.tb.Errorf("%s: accepted_count %s, want %d (%.200s)", q.ID, got, want[q.ID], replies[q.ID].Payload)
		}
	}
}

// discharge sends the ADT^A03 with the settlement and returns settle_no.
func (e *hisEnv) discharge(p patient, ykc700 string, admitted, at time.Time, s settlement) string {
	e.tb.Helper()
	r := e.one(p.inpatientNo, e.hl7(e.id("discharge"), "GYU103", dischargeHL7(p, ykc700, admitted, at, s)))
	out := expect(e.tb, r, "ok")
	no, _ := out["settle_no"].(string)
	if no == "" {
		e.tb.Fatalf("GYU103 reply without settle_no: %s", r.Payload)
	}
	if got := fmt.Sprint(out["fund_pay"]); got != fen(s.fundFen) {
		e.tb.Errorf("GYU103 fund_pay %s, want %s", got, fen(s.fundFen))
	}
	return no
}

// sent counts the requests of code that reached the national system.
func (e *hisEnv) sent(code string) int { return len(e.sim.Received(code)) }

// refusedLocally fails unless r is invalid with an error of one of the
// rules and nothing of code reached the national system since before.
func refusedLocally(tb testing.TB, e *hisEnv, r harness.Reply, code string, before int, rules ...string) {
	tb.Helper()
	if r.Status != "invalid" {
		tb.Fatalf("%s: status %q, want invalid; errors %+v; external %+v", code, r.Status, r.Errors, r.External)
	}
	found := false
	for _, er := range r.Errors {
		for _, rule := range rules {
			found = found || er.Rule == rule
		}
		if er.Message == "" {
			tb.Errorf("%s: error at %s without a message", code, er.Field)
		}
	}
	if !found {
		tb.Errorf("%s: errors %+v name none of the rules %v", code, r.Errors, rules)
	}
	if n := e.sent(code); n != before {
		tb.Errorf("%s: the national system received %d requests after a local refusal, want %d", code, n, before)
	}
}

// clone copies a JSON object one level deep.
func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// revoke builds the common fields of a revocation.
func revokeInput(fields map[string]any) map[string]any {
	fields["revoke_reason"] = "信息有误（e2e）"
	fields["revoke_time"] = stamp(time.Now())
	fields["aae011"] = "王五"
	return fields
}
