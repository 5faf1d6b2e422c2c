package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/test/harness"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

func TestMain(m *testing.M) { harness.Main(m) }

// OutEnv names the file the table is written to (default bin/bench.txt
// under the repository root).
const OutEnv = "MEDGATE_BENCH_OUT"

// Fixed shapes of the workloads.
const (
	passKeys    = 50  // Kafka keys of the pass-through
	httpClients = 16  // concurrent HTTP clients of GYD051
	fixedRate   = 200 // requests/s of the latency measurement
	lowRate     = 20  // requests/s of the same well below saturation on this machine
	feeLines    = 500 // GYU102 lines per call
	provSites   = 100 // sites of the provincial shape
)

// results holds the metrics of the last (largest) run of each
// sub-benchmark.
type results struct {
	mu sync.Mutex
	m  map[string]map[string]float64
}

func (r *results) set(bench string, kv map[string]float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[bench] = kv
}

func (r *results) get(bench, k string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[bench][k]
}

// report records metrics for the table and reports them to go test.
func report(b *testing.B, res *results, name string, kv map[string]float64) {
	for k, v := range kv {
		b.ReportMetric(v, k)
	}
	res.set(name, kv)
}

// BenchmarkMedgate starts one medgate (every plugin: ledger, workinjury,
// selfpay, tracecode, ecard) on
// the real broker, runs every end-to-end measurement as a sub-benchmark
// and prints the table:
//
//	make bench
//	go test ./test/bench -run '^$' -bench BenchmarkMedgate -benchtime 3s
func BenchmarkMedgate(b *testing.B) {
	e := start(b)
	res := &results{m: map[string]map[string]float64{}}
	idle := snapshotRSS(e.cfgPath)
	load := sampleRSS(e.cfgPath)

	stop := profile(b, e, "passthrough")
	b.Run("KafkaPassThrough", func(b *testing.B) {
		benchPassThrough(b, e, e.cfgPath, e.p, e.replies, []string{ledgerSite}, res, "pass")
	})
	stop()
	b.Run("PlainCopy", func(b *testing.B) { benchPlainCopy(b, e, res) })
	stop = profile(b, e, "gyd051")
	b.Run("GYD051HTTP", func(b *testing.B) { benchGYD051(b, e, res) })
	stop()
	b.Run("CryptoOnly", func(b *testing.B) { benchCrypto(b, e, res) })
	stop = profile(b, e, "gyu102")
	b.Run("GYU102Kafka", func(b *testing.B) { benchGYU102(b, e, res) })
	stop()
	stop = profile(b, e, "latency200")
	b.Run("Latency200", func(b *testing.B) { benchLatency(b, e, res, "latency", fixedRate) })
	stop()
	b.Run("Latency20", func(b *testing.B) { benchLatency(b, e, res, "latency-low", lowRate) })

	peak := load.finish()

	// The other plugins of the same host: e-card scans of real QR codes,
	// self-pay uploads, and the trace-code export of a million rows. Their
	// set-up (registering the patients, uploading the trace codes) runs
	// once, the first time the row runs, outside the timer. The host's
	// peak of each is kept apart ("medgate@<phase>"), so that its "peak
	// under load" above keeps the meaning it had before these rows; a
	// plugin's peak is the highest of all phases.
	phase := func(name string, run func()) {
		s := sampleRSS(e.cfgPath)
		run()
		for proc, mb := range s.finish() {
			if proc == "medgate" {
				peak["medgate@"+name] = max(peak["medgate@"+name], mb)
			} else {
				peak[proc] = max(peak[proc], mb)
			}
		}
	}
	var texts, cards []string
	phase("scan", func() {
		b.Run("ECardScan50", func(b *testing.B) {
			if texts == nil {
				texts, cards = e.scanCodes(b)
			}
			benchECardScan(b, e, texts, cards, res)
		})
	})
	phase("selfpay", func() { b.Run("SelfpayUpload", func(b *testing.B) { benchSelfpay(b, e, res) }) })
	var seeded time.Duration
	b.Run("TraceExport1M", func(b *testing.B) {
		if seeded == 0 {
			phase("seed", func() { seeded = seedTraceCodes(b, e) })
		}
		phase("export", func() {
			stop := profile(b, e, "export")
			defer stop()
			benchTraceExport(b, e, seeded, res)
		})
	})

	// The same host with its embedded broker (kfake) instead of the real
	// one: its memory, and the pass-through as `make run` has it.
	emb := startEmbedded(b, e)
	idle["medgate-embedded"] = snapshotRSS(emb.cfgPath)["medgate"]
	embLoad := sampleRSS(emb.cfgPath)
	b.Run("EmbeddedPassThrough", func(b *testing.B) {
		benchPassThrough(b, e, emb.cfgPath, emb.p, emb.replies, []string{ledgerSite}, res, "pass-embedded")
	})
	peak["medgate-embedded"] = embLoad.finish()["medgate"]
	emb.mg.Kill()

	// The provincial shape: 100 ledger sites, each with its own settings,
	// on the real broker, with the traffic spread over them, against the
	// same host with one ledger site.
	alternate(b, res, idle, peak, "sites", provSites, "pass-sites", "msgs/s",
		func(n int) (string, func(*testing.B, string), func()) {
			inst := startSites(b, e, n)
			return inst.cfgPath, func(b *testing.B, name string) {
				benchPassThrough(b, e, inst.cfgPath, inst.p, inst.replies, inst.sites, res, name)
			}, inst.mg.Kill
		}, "Sites%dPassThrough")

	// The provincial shape with work-injury sites: 100 sites, each with its
	// own SM2 key pair, sender code and institution, against the same host
	// with one such site, GYD051 spread over the sites.
	alternate(b, res, idle, peak, "wisites", wiSites, "gyd051-wisites", "req/s",
		func(n int) (string, func(*testing.B, string), func()) {
			inst := startWISites(b, e, n)
			return inst.cfgPath, func(b *testing.B, name string) { benchGYD051Sites(b, e, inst, res, name) }, inst.mg.Kill
		}, "WISites%dGYD051")

	table := render(res, e.storeName, idle, peak)
	fmt.Print(table)
	out := outPath(b)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("table written to %s\n", out)
}

// altOrder is the order of the two hosts' runs in alternate (0: one site,
// 1: n sites), round by round: 1, n, n, 1, n, 1, 1, n. Each host's runs
// have the same mean position and the same mean squared position, so a
// drift of the machine's speed that is linear or quadratic in time falls
// on both alike. With only 1, n, n, 1 (before the eleventh round) a
// slowdown inside the row gave one run of fifteen a ratio of 0.77.
var altOrder = [][]int{{0, 1}, {1, 0}, {1, 0}, {0, 1}}

// alternate measures a row of the provincial shape: a host with one site
// against the same host with n sites. Both hosts are started first (start
// returns a host's configuration path, its row as a function of the
// result's name, and how to stop it) and stay up, the idle one waiting on
// its own empty topics, and their rows run alternately in altOrder. Each
// host's figure (res under prefix+"1" and prefix+"<n>", key unit) is the
// mean of its runs, which stay in the results as prefix+"<k>#1", "#2"….
// One run each in a fixed order, as before the seventh round, put any
// drift of the machine's speed during the run (the broker's log, the page
// cache, other processes) into the ratio: hosts that differ only in their
// number of sites gave 0.77 to 1.06. The RSS of each host is read under
// rssPrefix+"1/<proc>" and rssPrefix+"<n>/<proc>": idle once both are up,
// its peak over all the runs.
func alternate(b *testing.B, res *results, idle, peak map[string]float64, rssPrefix string, n int, prefix, unit string,
	start func(n int) (cfgPath string, run func(b *testing.B, name string), stop func()), benchName string) {
	counts := []int{1, n}
	runs := make([]func(*testing.B, string), len(counts))
	samplers := make([]*rssSampler, len(counts))
	for i, k := range counts {
		cfgPath, run, stop := start(k)
		defer stop()
		runs[i] = run
		for proc, mb := range snapshotRSS(cfgPath) {
			idle[fmt.Sprintf("%s%d/%s", rssPrefix, k, proc)] = mb
		}
		samplers[i] = sampleRSS(cfgPath)
	}
	for round, order := range altOrder {
		for _, i := range order {
			k := counts[i]
			b.Run(fmt.Sprintf(benchName, k), func(b *testing.B) { runs[i](b, fmt.Sprintf("%s%d#%d", prefix, k, round+1)) })
		}
	}
	for i, k := range counts {
		for proc, mb := range samplers[i].finish() {
			peak[fmt.Sprintf("%s%d/%s", rssPrefix, k, proc)] = mb
		}
		name := fmt.Sprintf("%s%d", prefix, k)
		sum := 0.0
		for round := range altOrder {
			sum += res.get(fmt.Sprintf("%s#%d", name, round+1), unit)
		}
		res.set(name, map[string]float64{unit: sum / float64(len(altOrder))})
	}
}

// benchPassThrough: b.N ledger.noop messages over 50 keys, produced by
// kafka-go (acks=all), until every reply has been read back. A reply is
// produced only after the outcome is stored, and the offset committed after
// that (DESIGN guarantee 1). ledger.noop answers at once with no effect:
// ledger.record appends and fsyncs two files under one lock per message,
// which caps it near 1/(2 fsyncs) whatever the host does.
func benchPassThrough(b *testing.B, e *env, cfgPath string, p *harness.Platform, replies *watcher, sites []string, res *results, name string) {
	ids := make([]string, b.N)
	msgs := make([]kafka.Message, b.N)
	occurred := time.Now().Format(time.RFC3339)
	for i := range b.N {
		ids[i] = e.id("pass")
		v, err := json.Marshal(harness.Request{ID: ids[i], Site: sites[i%len(sites)], Type: "ledger.noop", OccurredAt: occurred, Payload: map[string]any{"seq": i}})
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "key-%d", i%passKeys), Value: v}
	}
	w := replies.expect(ids)
	cpu := startCPU(cfgPath, "ledger")
	b.ResetTimer()
	p.SendRaw(msgs...)
	w.wait(b, 10*time.Minute)
	b.StopTimer()
	kv := map[string]float64{"msgs/s": float64(b.N) / b.Elapsed().Seconds()}
	cpu.per(kv, "msg", b.N)
	report(b, res, name, kv)
}

// benchPlainCopy: the same number of records of the same size and keys
// copied by a plain client through the same broker: produced to a topic
// (acks=all), consumed, produced to a second topic (acks=all), and read
// back. This is what a pass-through costs with no processing at all.
func benchPlainCopy(b *testing.B, e *env, res *results) {
	const parts = 3
	src, dst := e.id("bench.copy.src"), e.id("bench.copy.dst")
	createTopic(b, e.brokers, src, parts)
	createTopic(b, e.brokers, dst, parts)
	occurred := time.Now().Format(time.RFC3339)
	msgs := make([]kafka.Message, b.N)
	for i := range b.N {
		v, _ := json.Marshal(harness.Request{ID: e.id("pass"), Site: ledgerSite, Type: "ledger.noop", OccurredAt: occurred, Payload: map[string]any{"seq": i}})
		msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "key-%d", i%passKeys), Value: v}
	}
	writer := func(topic string) *kafka.Writer {
		return &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: topic, Balancer: kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll,
			BatchSize: 1000, BatchBytes: 16 << 20, BatchTimeout: time.Millisecond, Transport: &kafka.Transport{MetadataTTL: time.Second}}
	}
	in, out := writer(src), writer(dst)
	defer in.Close()
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var copied, read atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 2*parts)
	b.ResetTimer()
	for p := range parts {
		// Copier: consume src, produce each fetched batch to dst.
		wg.Add(2)
		go func() {
			defer wg.Done()
			r := newReader(e.brokers, src, p)
			defer r.Close()
			batch := make([]kafka.Message, 0, 1000)
			fetched := make(chan kafka.Message, 1000)
			go func() {
				for {
					m, err := r.ReadMessage(ctx)
					if err != nil {
						close(fetched)
						return
					}
					fetched <- m
				}
			}()
			for m := range fetched {
				batch = append(batch[:0], kafka.Message{Key: m.Key, Value: m.Value})
			drain:
				for len(batch) < cap(batch) {
					select {
					case m, ok := <-fetched:
						if !ok {
							break drain
						}
						batch = append(batch, kafka.Message{Key: m.Key, Value: m.Value})
					default:
						break drain
					}
				}
				if err := out.WriteMessages(ctx, batch...); err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				copied.Add(int64(len(batch)))
			}
		}()
		// Reader of dst: counts until every record arrived.
		go func() {
			defer wg.Done()
			r := newReader(e.brokers, dst, p)
			defer r.Close()
			for {
				if _, err := r.ReadMessage(ctx); err != nil {
					return
				}
				if read.Add(1) == int64(b.N) {
					close(done)
				}
			}
		}()
	}
	if err := in.WriteMessages(ctx, msgs...); err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case err := <-errs:
		b.Fatal(err)
	case <-ctx.Done():
		b.Fatalf("plain copy: %d of %d read back", read.Load(), b.N)
	}
	b.StopTimer()
	cancel()
	wg.Wait()
	report(b, res, "copy", map[string]float64{"msgs/s": float64(b.N) / b.Elapsed().Seconds()})
}

// benchGYD051: filing verifications through the HTTP ingress from 16
// concurrent clients, each answered with full SM2/SM4 on both sides.
func benchGYD051(b *testing.B, e *env, res *results) {
	cpu := startCPU(e.cfgPath, "workinjury")
	closedLoop(b, httpClients, func(i int) error {
		r, err := e.send(e.gyd051(i))
		if err != nil {
			return err
		}
		if r.Status != "ok" {
			return fmt.Errorf("GYD051: %s %+v %+v", r.Status, r.Errors, r.External)
		}
		return nil
	})
	kv := map[string]float64{"req/s": float64(b.N) / b.Elapsed().Seconds()}
	cpu.per(kv, "req", b.N)
	report(b, res, "gyd051", kv)
}

// benchCrypto: the crypto-only limit of one GYD051 exchange, with the
// same keys, options and sizes and no Kafka, plugin hop or HTTP: the
// adapter seals the request, the national system opens it, seals its
// answer, and the adapter opens that (2 × Seal + 2 × Open, JSON included),
// on 16 goroutines like the HTTP clients.
func benchCrypto(b *testing.B, e *env, res *results) {
	o := smenvelope.Defaults()
	adapter, national := e.keys.AdapterKeys(), e.keys.SimulatorKeys()
	f := e.filings[0]
	request, _ := json.Marshal(map[string]any{"aac002": f["aac002"], "aac003": f["aac003"], "akb020": hospital, "visit_date": time.Now().Format("2006-01-02")})
	answer, _ := json.Marshal(map[string]any{"filing_valid": "1", "filing_no": f["filing_no"], "aac002": f["aac002"], "aac003": f["aac003"],
		"filing_type": "1", "aae030": f["aae030"], "aae031": f["aae031"], "akb020": hospital})
	env := func(answer bool) map[string]string {
		m := map[string]string{"infno": "GYD051", "msgid": "350200YY" + time.Now().Format("20060102150405") + "000001", "sender": "350200YY",
			"receiver": "GYYD", "version": "V1.5.02", "timestamp": time.Now().Format("2006-01-02 15:04:05")}
		if answer {
			m["code"], m["message"] = "0", "success"
		}
		return m
	}
	exchange := func() error {
		m, err := smenvelope.Seal(o, adapter, env(false), request)
		if err != nil {
			return err
		}
		body, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if _, _, err := smenvelope.Open(o, national, body); err != nil {
			return cryptoFailure(b, "the national side opens the request", body, national, err)
		}
		m, err = smenvelope.Seal(o, national, env(true), answer)
		if err != nil {
			return err
		}
		body, err = json.Marshal(m)
		if err != nil {
			return err
		}
		if _, _, err = smenvelope.Open(o, adapter, body); err != nil {
			return cryptoFailure(b, "the adapter opens the answer", body, adapter, err)
		}
		return nil
	}
	if err := exchange(); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(max(1, httpClients/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := exchange(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	report(b, res, "crypto", map[string]float64{"req/s": float64(b.N) / b.Elapsed().Seconds()})
}

// outPath is the table file: $MEDGATE_BENCH_OUT, else bin/bench.txt.
func outPath(b *testing.B) string {
	if out := os.Getenv(OutEnv); out != "" {
		return out
	}
	return filepath.Join(harness.RepoRoot(b), "bin", "bench.txt")
}

// cryptoFailure keeps what a failed Open of the crypto-only row needs to be
// examined with other tools (OpenSSL, tjfoc/gmsm): the envelope and the
// opener's keys, which this run generated for itself and nothing else
// uses. They go beside the table file, and the error names that file.
func cryptoFailure(b *testing.B, step string, body []byte, opener smenvelope.Keys, err error) error {
	b.Helper()
	priv, perr := smenvelope.MarshalPrivateKeyPEM(opener.Private)
	pub, uerr := smenvelope.MarshalPublicKeyPEM(opener.PeerPublic)
	if perr != nil || uerr != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	dir := filepath.Dir(outPath(b))
	if merr := os.MkdirAll(dir, 0o755); merr != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	f, ferr := os.CreateTemp(dir, "crypto-failure-*.txt")
	if ferr != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	defer f.Close()
	fmt.Fprintf(f, "%s: %v\n\nenvelope:\n%s\n\nopener's private key (generated for this run only):\n%s\nsealer's public key:\n%s",
		step, err, body, priv, pub)
	return fmt.Errorf("%s: %w (envelope and keys in %s)", step, err, f.Name())
}

// benchGYU102: fee uploads of 500 lines per call through Kafka, spread
// over four stays (four keys), one admission each, until every reply was
// read. Each iteration is one call.
func benchGYU102(b *testing.B, e *env, res *results) {
	admitted := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	type stay struct{ akc190, ykc700 string }
	var ss []stay
	for i, f := range e.filings {
		akc190 := e.id(fmt.Sprintf("ZY%d", i))
		akc190 = strings.ReplaceAll(akc190, "-", "")
		if len(akc190) > 20 {
			akc190 = akc190[len(akc190)-20:]
		}
		r := e.post(b, e.request(wiSite, "GYU101", wisim.SampleAdmission(f, hospital, akc190, admitted)))
		mustOK(b, r)
		var out struct {
			YKC700 string `json:"ykc700"`
		}
		if err := json.Unmarshal(r.Payload, &out); err != nil || out.YKC700 == "" {
			b.Fatalf("GYU101 reply without ykc700: %s", r.Payload)
		}
		ss = append(ss, stay{akc190, out.YKC700})
	}
	ids := make([]string, b.N)
	msgs := make([]kafka.Message, b.N)
	n := 0
	for i := range b.N {
		s := ss[i%len(ss)]
		fee := make([]any, feeLines)
		for j := range fee {
			n++
			fee[j] = wisim.SampleFeeLine(fmt.Sprintf("D%s%07d", e.run, n), "10.00", "2", "5.00", admitted.Add(time.Hour))
		}
		r := e.request(wiSite, "GYU102", map[string]any{"ykc700": s.ykc700, "akc190": s.akc190, "fee": fee})
		ids[i] = r.ID
		v, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: []byte(s.akc190), Value: v}
	}
	w := e.replies.expect(ids)
	host, _ := procs(e.cfgPath)
	cpu := startCPU(e.cfgPath, "workinjury")
	written0 := writtenKiB(host)
	b.ResetTimer()
	e.p.SendRaw(msgs...)
	w.wait(b, 10*time.Minute)
	b.StopTimer()
	written := writtenKiB(host) - written0
	kv := map[string]float64{
		"lines/s": float64(b.N*feeLines) / b.Elapsed().Seconds(),
		"calls/s": float64(b.N) / b.Elapsed().Seconds(),
	}
	// CPU per call of each process: the host, the work-injury plugin, the
	// benchmark process (the simulator and the Kafka client playing the
	// integration platform) and the broker.
	cpu.per(kv, "call", b.N)
	// What the host wrote per call (mostly the store's WAL and
	// checkpoints): unlike time, load does not change it.
	kv["host-written-KiB/call"] = written / float64(b.N)
	report(b, res, "gyu102", kv)
}

// benchLatency: GYD051 through the HTTP ingress at a fixed rate (open
// loop: at 200 requests/s a request starts every 5 ms whatever the earlier
// ones do).
// The host's share of each request is its total time minus the time the
// simulator spent on that request (matched by the envelope's serial).
func benchLatency(b *testing.B, e *env, res *results, name string, rate int) {
	total := make([]time.Duration, b.N)
	host := make([]time.Duration, b.N)
	var unmatched atomic.Int64
	cpu := startCPU(e.cfgPath, "workinjury")
	openLoop(b, rate, func(i int) {
		req := e.gyd051(i + 1)
		t0 := time.Now()
		r, err := e.send(req)
		t1 := time.Now()
		if err != nil {
			b.Error(err)
			return
		}
		if r.Status != "ok" {
			b.Errorf("GYD051: %s", r.Status)
			return
		}
		var sim time.Duration
		if r.External != nil {
			d, ok := e.simTime.of(r.External.MsgID)
			if !ok {
				unmatched.Add(1)
			}
			sim = d
		} else {
			unmatched.Add(1)
		}
		total[i], host[i] = t1.Sub(t0), t1.Sub(t0)-sim
	})
	sortDurations(total)
	sortDurations(host)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	kv := map[string]float64{
		"host-p50-ms": ms(percentile(host, 50)), "host-p99-ms": ms(percentile(host, 99)),
		"total-p50-ms": ms(percentile(total, 50)), "total-p99-ms": ms(percentile(total, 99)),
		"samples": float64(b.N), "unmatched": float64(unmatched.Load()), "achieved-req/s": float64(b.N) / b.Elapsed().Seconds(),
	}
	cpu.per(kv, "req", b.N)
	report(b, res, name, kv)
}

// cpuMeter reads the CPU time (user + system, from /proc) that the host,
// one of its plugins, the benchmark process (the simulators, the HTTP
// clients and the Kafka client playing the platform), the broker and the
// PostgreSQL server use during a row. The broker and the server are found
// only when this process started them (testenv); otherwise their columns
// are left out.
type cpuMeter struct {
	pids        map[string]int
	t0          map[string]float64
	pg0         float64 // pgServerSeconds at the start; pg says there is a server
	pg          bool
	busy0, all0 float64
	steal0      float64
}

func startCPU(cfgPath, plugin string) *cpuMeter {
	host, plugins := procs(cfgPath)
	m := &cpuMeter{pids: map[string]int{"host": host, "plugin": plugins[plugin], "bench": os.Getpid()}, t0: map[string]float64{}}
	if pid := brokerPID(); pid != 0 {
		m.pids["broker"] = pid
	}
	for k, pid := range m.pids {
		m.t0[k] = cpuSeconds(pid)
	}
	m.pg0, m.pg = pgServerSeconds()
	m.busy0, m.all0, m.steal0 = machineTicks()
	return m
}

// per adds <process>-cpu-ms/<unit> to kv for each process: the CPU time it
// used since startCPU, over n units (/proc counts in 10 ms ticks, so a
// row needs some hundred units), machine-busy-%: how busy all CPUs
// were meanwhile, whoever used them, and machine-steal-%: the share of
// their time the hypervisor gave to other machines (a virtual machine's
// steal; since the seventh round, whose runs slowed by a fifth and more
// when it was 3–6 % instead of 0.1 %).
func (m *cpuMeter) per(kv map[string]float64, unit string, n int) {
	if n == 0 {
		return
	}
	for k, pid := range m.pids {
		kv[k+"-cpu-ms/"+unit] = (cpuSeconds(pid) - m.t0[k]) * 1000 / float64(n)
	}
	if m.pg {
		if s, ok := pgServerSeconds(); ok {
			kv["pg-cpu-ms/"+unit] = (s - m.pg0) * 1000 / float64(n)
		}
	}
	if busy, all, steal := machineTicks(); all > m.all0 {
		kv["machine-busy-%"] = 100 * (busy - m.busy0) / (all - m.all0)
		kv["machine-steal-%"] = 100 * (steal - m.steal0) / (all - m.all0)
	}
}

// pgCell is ", PostgreSQL server N ms" for a CPU row when the row measured
// the server (pgServerSeconds), else "".
func pgCell(res *results, name, unit string) string {
	res.mu.Lock()
	v, ok := res.m[name]["pg-cpu-ms/"+unit]
	res.mu.Unlock()
	if !ok {
		return ""
	}
	return fmt.Sprintf(", PostgreSQL server %.2f ms", v)
}

// pgServerSeconds returns the CPU time used so far by the PostgreSQL
// server that this process started (testenv): every process named
// "postgres" below this one (the postmaster, its backends and auxiliary
// processes), plus what the postmaster's children that have exited used
// (its cutime and cstime), so that a backend ending during a row still
// counts. ok is false when there is no such server.
func pgServerSeconds() (secs float64, ok bool) {
	ents, _ := os.ReadDir("/proc")
	type proc struct {
		parent int
		pg     bool
		f      []string // the fields after comm
	}
	all := map[int]proc{}
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		i, j := bytes.IndexByte(st, '('), bytes.LastIndexByte(st, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(string(st[j+1:]))
		if len(f) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		all[pid] = proc{parent: ppid, pg: string(st[i+1:j]) == "postgres", f: f}
	}
	self := os.Getpid()
	for _, p := range all {
		if !p.pg {
			continue
		}
		below := false
		for q, n := p.parent, 0; q > 1 && n < 16; q, n = all[q].parent, n+1 {
			if q == self {
				below = true
				break
			}
		}
		if !below {
			continue
		}
		ok = true
		for _, k := range []int{11, 12} { // utime, stime
			v, _ := strconv.ParseFloat(p.f[k], 64)
			secs += v / 100 // USER_HZ is 100 on Linux
		}
		if !all[p.parent].pg { // the postmaster: its exited children too
			for _, k := range []int{13, 14} { // cutime, cstime
				v, _ := strconv.ParseFloat(p.f[k], 64)
				secs += v / 100
			}
		}
	}
	return secs, ok
}

// machineTicks returns the busy, total and stolen jiffies of all CPUs
// (/proc/stat; idle and iowait count as not busy, steal as busy).
func machineTicks() (busy, all, steal float64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 6 {
		return 0, 0, 0
	}
	for i, s := range f[1:] {
		v, _ := strconv.ParseFloat(s, 64)
		all += v
		if i != 3 && i != 4 {
			busy += v
		}
		if i == 7 {
			steal = v
		}
	}
	return busy, all, steal
}

// render formats the table.
func render(res *results, storeName string, idle, peak map[string]float64) string {
	var sb strings.Builder
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	fmt.Fprintf(&sb, "\nmedgate end-to-end benchmark, %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&sb, "machine: %d CPUs (%s), %s, GOMAXPROCS %d; real Apache Kafka (KRaft, one broker), %s store;\n",
		runtime.NumCPU(), cpu, runtime.Version(), runtime.GOMAXPROCS(0), storeName)
	fmt.Fprintf(&sb, "the broker, medgate, its plugins, the simulator and the load generator share these CPUs.\n\n")
	ratio := func(a, b float64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.4f", a/b)
	}
	rows := [][]string{{"measurement", "medgate", "reference (same run)", "ratio", "target"}}
	pass, cp := res.get("pass", "msgs/s"), res.get("copy", "msgs/s")
	rows = append(rows, []string{"Kafka pass-through, ledger.noop, 50 keys (outcome stored, reply read back)",
		fmt.Sprintf("%.0f msgs/s", pass), fmt.Sprintf("plain kafka-go copy %.0f msgs/s", cp), ratio(pass, cp), "ratio >= 0.02"})
	g, c := res.get("gyd051", "req/s"), res.get("crypto", "req/s")
	rows = append(rows, []string{"GYD051 via HTTP ingress, 16 clients, full SM2/SM4",
		fmt.Sprintf("%.0f req/s", g), fmt.Sprintf("crypto only (2 seal + 2 open) %.0f req/s", c), ratio(g, c), "ratio >= 0.5"})
	rows = append(rows, []string{"GYU102, 500 lines per call via Kafka, 4 stays",
		fmt.Sprintf("%.0f lines/s (%.1f calls/s)", res.get("gyu102", "lines/s"), res.get("gyu102", "calls/s")), "-", "-", ">= 25000 lines/s"})
	cpuRow := func(name, unit, what string) {
		rows = append(rows, []string{"CPU per " + unit + " of the " + what + " row, by process (/proc)",
			fmt.Sprintf("host %.2f ms, plugin %.2f ms", res.get(name, "host-cpu-ms/"+unit), res.get(name, "plugin-cpu-ms/"+unit)),
			fmt.Sprintf("bench process %.2f ms, broker %.2f ms%s; machine %.0f %% busy, %.1f %% stolen", res.get(name, "bench-cpu-ms/"+unit), res.get(name, "broker-cpu-ms/"+unit), pgCell(res, name, unit), res.get(name, "machine-busy-%"), res.get(name, "machine-steal-%")), "-", "reported"})
	}
	cpuRow("pass", "msg", "pass-through")
	cpuRow("gyd051", "req", "GYD051")
	cpuRow("gyu102", "call", "GYU102")
	for _, l := range []struct {
		name string
		rate int
	}{{"latency", fixedRate}, {"latency-low", lowRate}} {
		target := "-"
		if l.rate == fixedRate {
			target = "p99 <= 5 ms"
		}
		rows = append(rows, []string{fmt.Sprintf("host-added latency, GYD051 via HTTP offered at %d req/s (achieved %.0f req/s, %.0f samples)",
			l.rate, res.get(l.name, "achieved-req/s"), res.get(l.name, "samples")),
			fmt.Sprintf("p50 %.2f ms, p99 %.2f ms", res.get(l.name, "host-p50-ms"), res.get(l.name, "host-p99-ms")),
			fmt.Sprintf("total p50 %.2f ms, p99 %.2f ms", res.get(l.name, "total-p50-ms"), res.get(l.name, "total-p99-ms")), "-", target})
	}
	rows = append(rows, []string{"Kafka pass-through as above, embedded broker (kfake), ledger plugin",
		fmt.Sprintf("%.0f msgs/s", res.get("pass-embedded", "msgs/s")), "-", "-", "-"})
	p1, p100 := res.get("pass-sites1", "msgs/s"), res.get(fmt.Sprintf("pass-sites%d", provSites), "msgs/s")
	rows = append(rows, []string{fmt.Sprintf("Kafka pass-through as above, ledger only, %d sites, traffic spread over them", provSites),
		fmt.Sprintf("%.0f msgs/s (%s)", p100, runsOf(res, fmt.Sprintf("pass-sites%d", provSites), "msgs/s")),
		fmt.Sprintf("same host, one site %.0f msgs/s (%s); alternated %s", p1, runsOf(res, "pass-sites1", "msgs/s"), altSequence(provSites)), ratio(p100, p1), "ratio >= 0.8"})
	rows = append(rows, perSiteRSS(idle, peak, "sites", "ledger", provSites, "medgate", "ledger")...)
	w1, wn := res.get("gyd051-wisites1", "req/s"), res.get(fmt.Sprintf("gyd051-wisites%d", wiSites), "req/s")
	rows = append(rows, []string{fmt.Sprintf("GYD051 via HTTP, 16 clients, work-injury only, %d sites each with its own SM2 keys, spread over them", wiSites),
		fmt.Sprintf("%.0f req/s (%s)", wn, runsOf(res, fmt.Sprintf("gyd051-wisites%d", wiSites), "req/s")),
		fmt.Sprintf("same host, one site %.0f req/s (%s); alternated %s", w1, runsOf(res, "gyd051-wisites1", "req/s"), altSequence(wiSites)), ratio(wn, w1), "ratio >= 0.8"})
	rows = append(rows, perSiteRSS(idle, peak, "wisites", "work-injury", wiSites, "medgate", "workinjury")...)
	rows = append(rows, []string{fmt.Sprintf("e-card scan of real QR codes (%d patients) via HTTP ingress offered at %d req/s (achieved %.0f req/s, %.0f samples)",
		scanPatients, scanRate, res.get("scan", "achieved-req/s"), res.get("scan", "samples")),
		fmt.Sprintf("p50 %.2f ms, p99 %.2f ms", res.get("scan", "p50-ms"), res.get("scan", "p99-ms")), "-", "-", "reported"})
	rows = append(rows, []string{fmt.Sprintf("self-pay upload, %d fee lines per visit via Kafka (4204, 4201A, 4202, 4203; x-tif signed)", spFeeLines),
		fmt.Sprintf("%.1f visits/s", res.get("selfpay", "visits/s")), "-", "-", "-"})
	rows = append(rows, []string{fmt.Sprintf("trace-code export via Kafka, %.0f trace-code rows (%.0f rows in all), every sheet; plugin process",
		res.get("export", "codes"), res.get("export", "rows")),
		fmt.Sprintf("%.1f s, peak RSS %.1f MB (%.1f MB before)", res.get("export", "s/op"), res.get("export", "MB-peak-RSS"), res.get("export", "MB-RSS-before")),
		fmt.Sprintf("CPU %.1f s, %.1f MB file; seeded by %d uploads via Kafka (%d in flight) in %.1f s", res.get("export", "cpu-s/op"), res.get("export", "MB-file"),
			exportDocs, seedWindow, res.get("export", "seed-s")), "-", "<= 20 s, <= 150 MB"})
	names := make([]string, 0, len(idle))
	for n := range idle {
		if !strings.HasPrefix(n, "medgate") && !strings.HasPrefix(n, "sites") && !strings.HasPrefix(n, "wisites") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	names = append([]string{"medgate", "medgate-embedded"}, names...)
	for _, n := range names {
		what, target := "RSS plugin "+n, "<= 30 MB idle"
		switch n {
		case "medgate":
			what, target = "RSS host (real broker, not embedded, 5 plugins)", "<= 60 MB idle"
		case "medgate-embedded":
			what, target = "RSS host with the embedded broker (ledger plugin only)", "<= 60 MB idle"
		}
		rows = append(rows, []string{what, fmt.Sprintf("idle %.1f MB", idle[n]), fmt.Sprintf("peak under load %.1f MB", peak[n]), "-", target})
		if n == "medgate" {
			rows = append(rows, []string{"RSS host (real broker), peak during the rows of the other plugins",
				fmt.Sprintf("e-card scans %.1f MB, self-pay %.1f MB", peak["medgate@scan"], peak["medgate@selfpay"]),
				fmt.Sprintf("upload of the %d trace codes %.1f MB, their export %.1f MB", exportRows, peak["medgate@seed"], peak["medgate@export"]), "-", "reported"})
		}
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			width[i] = max(width[i], len([]rune(cell)))
		}
	}
	for i, r := range rows {
		for j, cell := range r {
			fmt.Fprintf(&sb, "| %s%s ", cell, strings.Repeat(" ", width[j]-len([]rune(cell))))
		}
		sb.WriteString("|\n")
		if i == 0 {
			for j := range r {
				fmt.Fprintf(&sb, "|%s", strings.Repeat("-", width[j]+2))
			}
			sb.WriteString("|\n")
		}
	}
	return sb.String()
}

// runsOf lists the alternated runs whose mean is name's figure (see
// alternate).
func runsOf(res *results, name, unit string) string {
	runs := make([]string, len(altOrder))
	for i := range altOrder {
		runs[i] = fmt.Sprintf("%.0f", res.get(fmt.Sprintf("%s#%d", name, i+1), unit))
	}
	return "runs " + strings.Join(runs, ", ")
}

// altSequence describes altOrder for the table: "1, 100, 100, 1, …".
func altSequence(n int) string {
	var seq []string
	for _, order := range altOrder {
		for _, i := range order {
			seq = append(seq, strconv.Itoa([]int{1, n}[i]))
		}
	}
	return strings.Join(seq, ", ")
}

// perSiteRSS is one table row per process: its idle RSS (and peak under
// load) with n sites against one site, as measured under the prefix
// ("sites1/<proc>", "sites<n>/<proc>"), and the difference per site.
func perSiteRSS(idle, peak map[string]float64, prefix, what string, n int, procs ...string) [][]string {
	var rows [][]string
	for _, proc := range procs {
		oneKey, manyKey := prefix+"1/"+proc, fmt.Sprintf("%s%d/%s", prefix, n, proc)
		one, many := idle[oneKey], idle[manyKey]
		rows = append(rows, []string{fmt.Sprintf("RSS %s idle, %d %s sites against 1 (peak under load)", proc, n, what),
			fmt.Sprintf("%.1f MB (peak %.1f MB)", many, peak[manyKey]),
			fmt.Sprintf("one site %.1f MB (peak %.1f MB)", one, peak[oneKey]), fmt.Sprintf("%+.3f MB/site", (many-one)/float64(n-1)), "reported"})
	}
	return rows
}
