package bench

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/qrscan"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// Shapes of the rows of the other plugins and of the provincial shape
// with work-injury sites.
const (
	scanRate     = 50        // e-card scans/s offered, open loop
	scanPatients = 50        // patients registered, each with its own QR code
	exportRows   = 1_000_000 // trace codes in the exported range
	exportDocs   = 200       // stock-in documents holding them
	exportDays   = 10        // document dates they are spread over
	exportLines  = 2         // lines per document
	seedWindow   = 10        // documents in flight while seeding
	spFeeLines   = 20        // fee lines per self-pay upload
	wiSites      = 100       // work-injury sites of the provincial shape
)

var cst = time.FixedZone("CST", 8*3600)

// patient i is a person with a valid resident ID number (check digit by
// GB 11643) and a mobile number of their own.
func patient(i int) map[string]any {
	names := []string{"张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "黄敏", "赵勇", "周婷", "吴强"}
	id17 := fmt.Sprintf("350203%s%03d", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i*37).Format("20060102"), i%1000)
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for k, w := range weights {
		sum += int(id17[k]-'0') * w
	}
	return map[string]any{"name": names[i%len(names)], "idType": "01", "idNumber": id17 + string("10X98765432"[sum%11]), "phone": fmt.Sprintf("138%08d", i)}
}

// scanCodes registers scanPatients patients through the HTTP ingress and
// returns the text of an e-card QR code of each, decoded from the printed
// PNG as a scanner reads it, with the card it must give back.
func (e *env) scanCodes(b *testing.B) (texts, cards []string) {
	b.Helper()
	for i := range scanPatients {
		r := e.post(b, e.request(ecSite, "ecard.register", patient(i+1)))
		mustOK(b, r)
		var reg struct{ CardNo string }
		if err := json.Unmarshal(r.Payload, &reg); err != nil || reg.CardNo == "" {
			b.Fatalf("ecard.register: no card in %s", r.Payload)
		}
		q := e.post(b, e.request(ecSite, "ecard.qrcode", map[string]any{"cardNo": reg.CardNo, "validity": "72h"}))
		mustOK(b, q)
		var qr struct {
			Text string
			PNG  string `json:"png"`
		}
		if err := json.Unmarshal(q.Payload, &qr); err != nil || qr.Text == "" {
			b.Fatalf("ecard.qrcode: no text in %s", q.Payload)
		}
		// What a scanner reads: the printed image, decoded.
		raw, err := base64.StdEncoding.DecodeString(qr.PNG)
		if err != nil {
			b.Fatalf("ecard.qrcode: png: %v", err)
		}
		text, _, err := qrscan.DecodePNG(raw)
		if err != nil || text != qr.Text {
			b.Fatalf("ecard.qrcode: the image decodes to %q (%v), the reply's text is %q", text, err, qr.Text)
		}
		texts, cards = append(texts, text), append(cards, reg.CardNo)
	}
	return texts, cards
}

// benchECardScan: scans of real e-card QR codes through the HTTP ingress
// at a fixed rate, open loop (a scan starts every 20 ms at 50/s whatever
// the earlier ones do). Each reply must name the card the code was
// printed for. Every scan has its own message id, as a cashier's terminal
// sends.
func benchECardScan(b *testing.B, e *env, texts, cards []string, res *results) {
	lat := make([]time.Duration, b.N)
	openLoop(b, scanRate, func(i int) {
		k := i % len(texts)
		t0 := time.Now()
		r, err := e.send(e.request(ecSite, "ecard.scan", map[string]any{"text": texts[k]}))
		lat[i] = time.Since(t0)
		if err != nil {
			b.Error(err)
			return
		}
		var s struct{ CardNo string }
		if r.Status != "ok" || json.Unmarshal(r.Payload, &s) != nil || s.CardNo != cards[k] {
			b.Errorf("scan: %s %s, want card %s", r.Status, r.Payload, cards[k])
		}
	})
	sortDurations(lat)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	report(b, res, "scan", map[string]float64{"p50-ms": ms(percentile(lat, 50)), "p99-ms": ms(percentile(lat, 99)),
		"samples": float64(b.N), "achieved-req/s": float64(b.N) / b.Elapsed().Seconds()})
}

// spUpload is a self-pay visit with n fee lines (4201A fees, 4202 visit
// and diagnosis, in the shape test/e2e sends).
func spUpload(mdtrt string, n int) map[string]any {
	fees := make([]any, n)
	for i := range fees {
		fees[i] = map[string]any{
			"fixmedins_mdtrt_id": mdtrt, "med_type": "21", "bkkp_sn": fmt.Sprintf("%s-%04d", mdtrt, i+1),
			"fee_ocur_time": "2025-03-26 10:00:00", "cnt": 2, "pric": 5.5, "det_item_fee_sumamt": 11.00,
			"med_list_codg": "001101000010000", "medins_list_codg": "HIS-1", "medins_list_name": "一般诊疗费", "med_chrgitm_type": "04",
			"bilg_dept_codg": "A03", "bilg_dept_name": "内科", "bilg_dr_code": "D0001", "bilg_dr_name": "李医生",
			"tcmdrug_used_way": "1", "etip_flag": "0", "dscg_tkdrug_flag": "0",
			"fulamt_ownpay_amt": 11.00, "overlmt_selfpay": 0, "preselfpay_amt": 0, "inscp_amt": 0,
		}
	}
	return map[string]any{
		"ownPayPatnMdtrtD": map[string]any{
			"fixmedins_mdtrt_id": mdtrt, "psn_cert_type": "01", "certno": "350203198001011234", "psn_name": "张三",
			"begntime": "2025-03-25 10:00:00", "endtime": "2025-04-01 09:00:00", "med_type": "21", "vali_flag": "1",
			"medfee_sumamt": fmt.Sprintf("%d.00", 11*n),
		},
		"ownPayPatnDiagListD": []any{map[string]any{"inout_diag_type": "2", "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1",
			"diag_code": "J18.900", "diag_name": "肺炎"}},
		"fsiOwnpayPatnFeeListDDTO": fees,
	}
}

// benchSelfpay: b.N self-pay visits of 20 fee lines each through Kafka,
// one key per visit, until every reply was read. Each visit is uploaded
// by the plugin to the self-pay simulator (x-tif signed 4204, 4201A, 4202
// and 4203).
func benchSelfpay(b *testing.B, e *env, res *results) {
	ids := make([]string, b.N)
	msgs := make([]kafka.Message, b.N)
	for i := range b.N {
		mdtrt := strings.ReplaceAll(e.id("SP"), "-", "")
		r := e.request(spSite, "selfpay.upload", spUpload(mdtrt, spFeeLines))
		ids[i] = r.ID
		v, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: []byte(mdtrt), Value: v}
	}
	w := e.replies.expect(ids)
	b.ResetTimer()
	e.p.SendRaw(msgs...)
	w.wait(b, 10*time.Minute)
	b.StopTimer()
	report(b, res, "selfpay", map[string]float64{"visits/s": float64(b.N) / b.Elapsed().Seconds()})
}

// exportRange is the first and last document date of the seeded trace
// codes: the exportDays days before today (China time).
func exportRange() (from, to time.Time) {
	today := time.Now().In(cst).Truncate(24 * time.Hour)
	return today.AddDate(0, 0, -exportDays), today.AddDate(0, 0, -1)
}

// seedTraceCodes uploads exportDocs stock-in documents holding exportRows
// trace codes in all through Kafka, as the hospital's platform sends them:
// tracecode.stockin.upload, one message per document (two lines of 2,500
// codes each), spread over exportDays document dates, seedWindow at a
// time. The plugin checks
// every code, uploads the document to the trace-code simulator and stores
// the document and its codes (500 per state entry) in the host's store,
// exactly as in production. It returns the time the upload took.
func seedTraceCodes(b *testing.B, e *env) time.Duration {
	b.Helper()
	from, _ := exportRange()
	perDoc := exportRows / exportDocs
	perLine := perDoc / exportLines
	ids := make([]string, exportDocs)
	msgs := make([]kafka.Message, exportDocs)
	n := 0
	for d := range exportDocs {
		day := from.AddDate(0, 0, d%exportDays)
		billNo := fmt.Sprintf("RK%s%s%04d", day.Format("20060102"), strings.ToUpper(e.run), d)
		var lines []any
		for l := range exportLines {
			codes := make([]any, perLine)
			product := 8100001 + l
			for c := range codes {
				n++
				codes[c] = map[string]string{"code": fmt.Sprintf("%07d%013d", product, n)}
			}
			lines = append(lines, map[string]any{"lineNo": l + 1, "itemCode": fmt.Sprintf("YP%04d", l+1), "medListCode": "XJ01CAA040A001010100001",
				"itemName": []string{"阿莫西林胶囊", "布洛芬缓释胶囊"}[l], "batchNo": "B2609", "produceDate": "2026-09-15", "expiryDate": "2028-09-14",
				"qty": strconv.Itoa(perLine), "unit": "盒", "traceCodes": codes})
		}
		r := e.request(tcSite, "tracecode.stockin.upload", map[string]any{"billNo": billNo, "billType": "102",
			"billTime": day.Format("2006-01-02") + " 09:30:00", "operator": "王药师",
			"fromOrgCode": "91350200MA31A0001X", "fromOrgName": "厦门示例医药有限公司", "lines": lines})
		ids[d] = r.ID
		v, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		msgs[d] = kafka.Message{Key: []byte(billNo), Value: v}
	}
	// At most seedWindow documents in flight, as a platform that waits for
	// replies sends them: a burst of all 200 (35 MB) is buffered by the
	// host's consumer and left the host at 265–311 MB and the plugin at
	// up to 196 MB RSS, which the export's peak would then start from.
	t0 := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range seedWindow {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(msgs); i = int(next.Add(1)) - 1 {
				w := e.replies.expect(ids[i : i+1])
				e.p.SendRaw(msgs[i])
				if !w.waitErr(b, 10*time.Minute) {
					return
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return time.Since(t0)
}

// benchTraceExport: tracecode.export of every sheet over the seeded dates
// (1,000,000 trace-code rows and the documents' lines), sent through Kafka
// to the real host and plugin, until its reply was read. The plugin's
// peak RSS is its VmHWM, reset (/proc/PID/clear_refs) just before the
// export; its CPU time is from /proc/PID/stat.
func benchTraceExport(b *testing.B, e *env, seeded time.Duration, res *results) {
	_, plugins := procs(e.cfgPath)
	pid := plugins["tracecode"]
	if pid == 0 {
		b.Fatal("no tracecode plugin process")
	}
	from, to := exportRange()
	var peak, cpu, before float64
	var codes, rows, size int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		before = max(before, rssMB(pid))
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			b.Fatalf("reset the plugin's peak RSS: %v", err)
		}
		cpu0 := cpuSeconds(pid)
		r := e.request(tcSite, "tracecode.export", map[string]any{"from": from.Format("2006-01-02"), "to": to.Format("2006-01-02")})
		e.replies.keepPayload(r.ID)
		w := e.replies.expect([]string{r.ID})
		v, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		e.p.SendRaw(kafka.Message{Key: []byte("export"), Value: v})
		w.wait(b, 10*time.Minute)
		b.StopTimer()
		peak = max(peak, hwmMB(pid))
		cpu += cpuSeconds(pid) - cpu0
		var rep struct {
			Path string           `json:"path"`
			Size int64            `json:"size"`
			Rows map[string]int64 `json:"rows"`
		}
		if err := json.Unmarshal(e.replies.replyPayload(r.ID), &rep); err != nil {
			b.Fatalf("export reply: %v", err)
		}
		if rep.Rows["codes"] != exportRows {
			b.Fatalf("exported %d trace-code rows, want %d (rows %v)", rep.Rows["codes"], exportRows, rep.Rows)
		}
		codes, rows, size = rep.Rows["codes"], 0, rep.Size
		for _, n := range rep.Rows {
			rows += n
		}
		if err := os.Remove(rep.Path); err != nil {
			b.Fatalf("the export's reply names %s: %v", rep.Path, err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	report(b, res, "export", map[string]float64{"s/op": b.Elapsed().Seconds() / float64(b.N), "MB-peak-RSS": peak, "MB-RSS-before": before,
		"cpu-s/op": cpu / float64(b.N), "codes": float64(codes), "rows": float64(rows), "MB-file": float64(size) / 1e6,
		"seed-s": seeded.Seconds()})
}

// hwmMB is VmHWM of pid (its peak RSS since the last reset) in MB.
func hwmMB(pid int) float64 { return statusMB(pid, "VmHWM:") }

// cpuSeconds is the user and system CPU time pid used so far.
func cpuSeconds(pid int) float64 {
	st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(st), ')')
	f := strings.Fields(string(st[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (ut + stime) / 100 // USER_HZ is 100 on Linux
}

// writtenKiB returns the KiB process pid has written so far (wchar of
// /proc/PID/io: every write and pwrite, to files and sockets), 0 if it
// cannot be read. For the host it is mostly the store: the WAL and its
// checkpoints.
func writtenKiB(pid int) float64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "io"))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n / 1024
		}
	}
	return 0
}

// wiInstance is another medgate on the real broker with n work-injury
// sites only, each with its own SM2 key pair, sender code, institution,
// key directory and filing.
type wiInstance struct {
	cfgPath string
	mg      *harness.Medgate
	sites   []string
	akb020  []string         // the institution of each site
	persons []map[string]any // the people with a filing, wiSites of them
}

// wiFilings registers wiSites institutions and their filings with the
// simulator, once, so that the one-site and the many-site host meet the
// same simulator state.
func (e *env) wiFilings() []map[string]any {
	e.provOnce.Do(func() {
		now := time.Now()
		for i := range wiSites {
			akb020 := fmt.Sprintf("H350203%05d", i)
			e.sim.AddInstitution(wisim.SampleInstitution(akb020, fmt.Sprintf("厦门市示例医院%d", i), "1", "350200"))
			// The filing names no institution (any in its region may treat
			// the person), so the one-site host verifies the same 100
			// people as the 100-site host.
			f := wisim.SampleFiling("PV", 100+i, "350200")
			delete(f, "akb020")
			delete(f, "akb021")
			f["aae030"], f["aae031"] = now.AddDate(-1, 0, 0).Format("2006-01-02"), now.AddDate(1, 0, 0).Format("2006-01-02")
			e.sim.AddFiling(f)
			e.provInputs = append(e.provInputs, map[string]any{"aac002": f["aac002"], "aac003": f["aac003"], "akb020": akb020})
			e.provPersons = append(e.provPersons, map[string]any{"aac002": f["aac002"], "aac003": f["aac003"]})
		}
	})
	return e.provInputs
}

func startWISites(b *testing.B, e *env, n int) *wiInstance {
	b.Helper()
	inputs := e.wiFilings()
	cfg := harness.NewConfig(b, e.brokers)
	if e.storeName != "SQLite" {
		cfg.Store = e.cfg.Store
	}
	cfg.Plugins = []string{"workinjury"}
	cfg.Sites = nil
	m := &wiInstance{}
	for i := range n {
		code, sender := fmt.Sprintf("w%03d", i), fmt.Sprintf("WI%s%03d", strings.ToUpper(cfg.Prefix[1:5]), i)
		kp, err := e.keys.NewHospital()
		if err != nil {
			b.Fatal(err)
		}
		keyDir := filepath.Join(cfg.Dir, "keys", code)
		if err := kp.WriteAdapterKeys(keyDir); err != nil {
			b.Fatal(err)
		}
		e.sim.AddSender(sender, &kp.Hospital.PublicKey)
		cfg.Sites = append(cfg.Sites, map[string]any{"code": code, "plugins": map[string]any{"workinjury": map[string]any{"settings": map[string]any{
			"url": e.simURL + "/gsyd", "regionCode": "350200", "senderCode": sender, "keyDir": keyDir, "timeout": "10s",
		}}}})
		m.sites, m.akb020 = append(m.sites, code), append(m.akb020, inputs[i]["akb020"].(string))
	}
	m.persons = e.provPersons
	m.cfgPath = cfg.Write(b, e.bins)
	m.mg = harness.Start(b, e.bins, m.cfgPath)
	// A first transaction of every site before "idle".
	for i := range m.sites {
		site, in := m.gyd051(i)
		mustOK(b, e.postTo(b, m.mg.HTTPAddr, e.request(site, "GYD051", in)))
	}
	return m
}

// gyd051 is the i-th filing verification: person i mod 100 at site i
// mod n, with that site's institution code.
func (m *wiInstance) gyd051(i int) (site string, input map[string]any) {
	k := i % len(m.sites)
	input = map[string]any{"akb020": m.akb020[k], "visit_date": time.Now().Format("2006-01-02")}
	for f, v := range m.persons[i%len(m.persons)] {
		input[f] = v
	}
	return m.sites[k], input
}

// benchGYD051Sites: GYD051 through the HTTP ingress of a work-injury-only
// medgate from 16 concurrent clients, request i for person i mod 100 to
// site i mod n, each signed with its site's key and answered valid by the
// simulator.
func benchGYD051Sites(b *testing.B, e *env, m *wiInstance, res *results, name string) {
	closedLoop(b, httpClients, func(i int) error {
		site, in := m.gyd051(i)
		r, err := e.sendTo(m.mg.HTTPAddr, e.request(site, "GYD051", in))
		if err != nil {
			return err
		}
		var out struct {
			FilingValid string `json:"filing_valid"`
		}
		if r.Status != "ok" || json.Unmarshal(r.Payload, &out) != nil || out.FilingValid != "1" {
			return fmt.Errorf("GYD051 of site %s: %s %s %+v", site, r.Status, r.Payload, r.Errors)
		}
		return nil
	})
	report(b, res, name, map[string]float64{"req/s": float64(b.N) / b.Elapsed().Seconds()})
}
