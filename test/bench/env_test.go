package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/test/harness"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
	tcsim "github.com/medgate/medgate/test/sim/tracecode"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
	"github.com/medgate/medgate/test/testenv"
)

// Sites of the benchmark: the ledger test plugin (a no-op external system
// that appends to a file), the work-injury adapter, and one site for each
// other plugin (self-pay, trace codes, e-card), so every plugin process
// runs and is measured.
const (
	ledgerSite = "s1"
	wiSite     = "wi"
	spSite     = "sp"
	tcSite     = "tc"
	ecSite     = "ec"
	hospital   = "H35020300123"
	stays      = 4 // GYU102 stays uploaded side by side (one Kafka key each)
)

// env is one medgate with both plugins against the real broker, the
// work-injury simulator behind a timing wrapper, and a reader of the
// replies topic.
type env struct {
	brokers []string
	cfg     *harness.Config
	cfgPath string
	bins    *harness.Bins
	mg      *harness.Medgate
	p       *harness.Platform
	sim     *wisim.Server
	simTime *simTimes
	keys    wisim.KeyPair
	replies *watcher
	client  *http.Client
	filings []map[string]any
	spSim   *selfpaysim.Sim
	tcSim   *tcsim.Sim
	// exportDir is where the tracecode plugin writes its workbooks.
	exportDir string
	simURL    string // the work-injury simulator
	// provOnce registers the institutions and filings of the provincial
	// shape with the simulator; provInputs are their GYD051 inputs.
	provOnce    sync.Once
	provInputs  []map[string]any
	provPersons []map[string]any
	seq         atomic.Int64
	run         string // prefix of every message id of this process
	// storeName is the store engine, for the table.
	storeName string
}

// StoreEnv selects the store: "postgres" runs medgate on a PostgreSQL
// server started by test/testenv; anything else, SQLite.
const StoreEnv = "MEDGATE_BENCH_STORE"

func start(b *testing.B) *env {
	b.Helper()
	brokers := testenv.Kafka(b)
	bins := harness.Binaries(b)
	kp, err := wisim.GenerateKeyPair()
	if err != nil {
		b.Fatal(err)
	}
	sim, err := wisim.New(wisim.Config{Options: smenvelope.Defaults(), Keys: kp.SimulatorKeys(), Region: "350200"})
	if err != nil {
		b.Fatal(err)
	}
	sim.AddInstitution(wisim.SampleInstitution(hospital, "厦门市第一示例医院", "1", "350200"))
	e := &env{brokers: brokers, bins: bins, sim: sim, keys: kp, simTime: &simTimes{took: map[string]time.Duration{}},
		run:    strconv.FormatInt(time.Now().UnixNano(), 36),
		client: &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}, Timeout: 2 * time.Minute}}
	now := time.Now()
	for i := 1; i <= stays; i++ {
		f := wisim.SampleFiling("BN", i, "350200")
		f["aae030"] = now.AddDate(-1, 0, 0).Format("2006-01-02")
		f["aae031"] = now.AddDate(1, 0, 0).Format("2006-01-02")
		sim.AddFiling(f)
		e.filings = append(e.filings, f)
	}
	srv := httptest.NewServer(e.simTime.wrap(sim))
	b.Cleanup(srv.Close)
	e.simURL = srv.URL

	cfg := harness.NewConfig(b, brokers)
	e.storeName = "SQLite"
	if os.Getenv(StoreEnv) == "postgres" {
		dsnFile := filepath.Join(cfg.Dir, "dsn")
		if err := os.WriteFile(dsnFile, []byte(testenv.Postgres(b)), 0o600); err != nil {
			b.Fatal(err)
		}
		cfg.Store = map[string]any{"driver": "postgres", "dsn": "file:" + dsnFile}
		e.storeName = "PostgreSQL"
	}
	keyDir := filepath.Join(cfg.Dir, "keys")
	if err := kp.WriteAdapterKeys(keyDir); err != nil {
		b.Fatal(err)
	}
	cfg.Plugins = []string{"ledger", "workinjury", "selfpay", "tracecode", "ecard"}
	cfg.Sites = append(cfg.Sites, map[string]any{"code": wiSite, "plugins": map[string]any{"workinjury": map[string]any{"settings": map[string]any{
		"url": srv.URL + "/gsyd", "regionCode": "350200", "senderCode": "350200YY", "keyDir": keyDir, "timeout": "10s",
	}}}})
	e.otherPlugins(b, cfg)
	// The export of a million rows takes longer than the default 60 s
	// call timeout on a loaded machine (plugins/tracecode/README.md).
	cfg.Extra["processing"] = map[string]any{"initialBackoff": "50ms", "maxBackoff": "500ms", "callTimeout": "10m"}
	e.cfg = cfg
	e.cfgPath = cfg.Write(b, bins)
	e.mg = harness.Start(b, bins, e.cfgPath)
	e.p = harness.NewPlatform(b, brokers, cfg.Topics())
	e.replies = watch(b, brokers, cfg.Topics().Replies)
	// The site uploads its institution (GYU009), as a hospital does first.
	r := e.post(b, e.request(wiSite, "GYU009", map[string]any{"akb020": hospital, "akb021": "厦门市第一示例医院",
		"institution_type": "1", "institution_level": "3", "aab299": "350200", "aae030": "2024-01-01", "valid_flag": "1"}))
	mustOK(b, r)
	// A first transaction of every other plugin, so that "idle" is after
	// one, as for the work-injury adapter.
	mustOK(b, e.post(b, e.request(tcSite, "tracecode.token", map[string]any{})))
	mustOK(b, e.post(b, e.request(spSite, "selfpay.upload", spUpload(e.id("SP"), 1))))
	mustOK(b, e.post(b, e.request(ecSite, "ecard.register", patient(0))))
	return e
}

// Credentials of the self-pay and trace-code simulators (test values).
const (
	spPaas, spToken     = "bench-paas", "bench-paas-token-0123456789"
	spCode              = "H35020300999"
	tcApp, tcSecret     = "bench-app", "bench-app-secret-0123456789"
	tcOrg               = "H35020300001"
	ecIdentity, ecQRKey = "bench-identity-secret-0123456789abcdef", "A:00112233445566778899aabbccddeeff"
)

// otherPlugins starts the self-pay and trace-code simulators and adds a
// site for each of selfpay, tracecode and ecard, with secrets in files as
// in production.
func (e *env) otherPlugins(b *testing.B, cfg *harness.Config) {
	b.Helper()
	dir := filepath.Join(cfg.Dir, "secrets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	secret := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			b.Fatal(err)
		}
		return "file:" + p
	}
	sp, err := selfpaysim.New(selfpaysim.Options{PaasID: spPaas, Token: spToken})
	if err != nil {
		b.Fatal(err)
	}
	spSrv := httptest.NewServer(sp)
	b.Cleanup(spSrv.Close)
	tc := tcsim.New(tcsim.Options{AppID: tcApp, AppSecret: tcSecret, OrgCode: tcOrg, Seed: 7})
	tcSrv := httptest.NewServer(tc)
	b.Cleanup(tcSrv.Close)
	e.spSim, e.tcSim, e.exportDir = sp, tc, filepath.Join(cfg.Dir, "exports")
	cfg.Sites = append(cfg.Sites,
		map[string]any{"code": spSite, "plugins": map[string]any{"selfpay": map[string]any{"settings": map[string]any{
			"baseURL": spSrv.URL + "/fsi/api/rsfComIfsService/callService", "fixmedinsCode": spCode, "fixmedinsName": "厦门市示例医院",
			"mdtrtareaAdmvs": "350200", "recerSysCode": "CSTEST", "opter": "OP001", "opterName": "医保接口",
			"paasid": spPaas, "token": secret("paas-token", spToken), "timeout": "10s",
		}}}},
		map[string]any{"code": tcSite, "plugins": map[string]any{"tracecode": map[string]any{"settings": map[string]any{
			"baseUrl": tcSrv.URL, "appId": tcApp, "appSecret": secret("app-secret", tcSecret), "orgCode": tcOrg, "orgName": "示例医院",
			"exportDir": e.exportDir, "exportProgressEvery": "100000", "syncEnabled": "false", "miEnabled": "false",
		}}}},
		map[string]any{"code": ecSite, "plugins": map[string]any{"ecard": map[string]any{"settings": map[string]any{
			"identitySecret": secret("identity", ecIdentity), "qrKeys": secret("qrkeys", ecQRKey), "tempCardPrefixes": "9",
		}}}},
	)
}

// embedded is a second medgate, ledger plugin only, with its embedded
// broker instead of the real one.
type embedded struct {
	cfgPath string
	mg      *harness.Medgate
	p       *harness.Platform
	replies *watcher
}

func startEmbedded(b *testing.B, e *env) *embedded {
	b.Helper()
	addr := testenv.FreeAddr(b)
	cfg := harness.NewConfig(b, []string{addr})
	cfg.Embedded, cfg.Listen = true, addr
	cfg.Store = e.cfg.Store
	if e.storeName == "SQLite" {
		cfg.Store = map[string]any{"driver": "sqlite", "path": filepath.Join(cfg.Dir, "medgate.db")}
	}
	m := &embedded{cfgPath: cfg.Write(b, e.bins)}
	m.mg = harness.Start(b, e.bins, m.cfgPath)
	m.p = harness.NewPlatform(b, cfg.Brokers, cfg.Topics())
	m.replies = watch(b, cfg.Brokers, cfg.Topics().Replies)
	return m
}

// sites is a second medgate on the real broker with n ledger sites, each
// with its own ledger directory.
type sites struct {
	embedded
	sites []string
}

func startSites(b *testing.B, e *env, n int) *sites {
	b.Helper()
	cfg := harness.NewConfig(b, e.brokers)
	if e.storeName != "SQLite" {
		cfg.Store = e.cfg.Store
	}
	m := &sites{}
	cfg.Sites = nil
	for i := range n {
		code := fmt.Sprintf("p%03d", i)
		m.sites = append(m.sites, code)
		cfg.Sites = append(cfg.Sites, map[string]any{"code": code, "plugins": map[string]any{
			"ledger": map[string]any{"settings": map[string]any{"ledgerDir": filepath.Join(cfg.Dir, "ledger", code), "label": "site " + code}},
		}})
	}
	m.cfgPath = cfg.Write(b, e.bins)
	m.mg = harness.Start(b, e.bins, m.cfgPath)
	m.p = harness.NewPlatform(b, e.brokers, cfg.Topics())
	m.replies = watch(b, e.brokers, cfg.Topics().Replies)
	return m
}

func (e *env) id(what string) string {
	return fmt.Sprintf("%s-%s-%d", what, e.run, e.seq.Add(1))
}

// request is a request envelope of site for a transaction of the adapter
// (code with no dot) or a ledger operation (code with a dot).
func (e *env) request(site, code string, payload any) harness.Request {
	typ := code
	if !strings.Contains(code, ".") {
		typ = "workinjury." + code
	}
	return harness.Request{ID: e.id(code), Site: site, Type: typ, OccurredAt: time.Now().Format(time.RFC3339), Payload: payload}
}

// post sends r through the HTTP ingress and returns the reply.
func (e *env) post(tb testing.TB, r harness.Request) harness.Reply {
	tb.Helper()
	out, err := e.send(r)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// postTo is post to the ingress of another medgate (at addr).
func (e *env) postTo(tb testing.TB, addr string, r harness.Request) harness.Reply {
	tb.Helper()
	out, err := e.sendTo(addr, r)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// send is post for goroutines other than the benchmark's own: it returns
// the error instead of failing.
func (e *env) send(r harness.Request) (harness.Reply, error) {
	return e.sendTo(e.mg.HTTPAddr, r)
}

// sendTo is send to the ingress of another medgate (at addr).
func (e *env) sendTo(addr string, r harness.Request) (harness.Reply, error) {
	var out harness.Reply
	body, err := json.Marshal(r)
	if err != nil {
		return out, err
	}
	resp, err := e.client.Post("http://"+addr+"/v1/messages", "application/json", bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("ingress answered %d: %s", resp.StatusCode, raw)
	}
	return out, nil
}

func mustOK(tb testing.TB, r harness.Reply) {
	tb.Helper()
	if r.Status != "ok" {
		tb.Fatalf("%s (%s): status %q; errors %+v; external %+v; payload %s", r.RequestID, r.Type, r.Status, r.Errors, r.External, r.Payload)
	}
}

// gyd051 is a filing verification of filing i (1-based).
func (e *env) gyd051(i int) harness.Request {
	f := e.filings[(i-1)%len(e.filings)]
	return e.request(wiSite, "GYD051", map[string]any{"aac002": f["aac002"], "aac003": f["aac003"], "akb020": hospital,
		"visit_date": time.Now().Format("2006-01-02")})
}

// simTimes records how long the simulator took for each request, by the
// envelope's message serial (plain text in the envelope, and returned to
// the platform in the reply's external.msgId), so the latency the host adds
// is the total minus the simulator's own time for that very request.
type simTimes struct {
	mu   sync.Mutex
	took map[string]time.Duration
}

func (st *simTimes) wrap(h http.Handler) http.Handler {
	msgID := smenvelope.Defaults().Fields.MsgID
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		body, err := readBody(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
		took := time.Since(t0)
		if id, ok := envelopeMember(body, msgID); ok {
			st.mu.Lock()
			st.took[id] = took
			st.mu.Unlock()
		}
	})
}

// maxBody bounds a request body the timing wrapper reads at its announced
// length: a work-injury request is at most about 1.4 MB sealed.
const maxBody = 8 << 20

// readBody reads r's body into one buffer of its announced length
// (Content-Length), as the simulator does, instead of growing one from
// 512 bytes (io.ReadAll: about 20 copies for the 330 KB of a GYU102,
// counted in the row's bench process CPU); a body of unknown or
// implausible length is read with io.ReadAll.
func readBody(r *http.Request) ([]byte, error) {
	n := r.ContentLength
	if n <= 0 || n > maxBody {
		return io.ReadAll(r.Body)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.Body, body); err != nil {
		return nil, fmt.Errorf("read a request body of %d bytes: %w", n, err)
	}
	return body, nil
}

// envelopeMember returns the string member name of an envelope without
// decoding the rest of it: the data member of a GYU102 holds hundreds of
// KB of sealed lines, and decoding the whole body into a map cost the
// benchmark process about 2.5 ms of CPU per GYU102 (2026-12-03, fourth
// round), counted in the row's bench-cpu-ms/call. The envelope is a flat
// object whose other members are base64, hex or plain text: a quote
// inside a string is escaped, so `"name":` only matches a member name.
func envelopeMember(body []byte, name string) (string, bool) {
	tag := []byte(`"` + name + `":`)
	i := bytes.Index(body, tag)
	if i < 0 {
		return "", false
	}
	var v string
	if json.NewDecoder(bytes.NewReader(body[i+len(tag):])).Decode(&v) != nil {
		return "", false
	}
	return v, true
}

// of returns the simulator's time for serial.
func (st *simTimes) of(serial string) (time.Duration, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	d, ok := st.took[serial]
	return d, ok
}

// watcher reads the replies topic from the start, on every partition, for
// the whole run, and lets a benchmark wait for a set of request ids.
type watcher struct {
	mu      sync.Mutex
	status  map[string]string // request id → status of the latest reply
	keep    map[string]bool   // ids whose reply payload is kept
	payload map[string][]byte
	waiting []*waitSet
	readers []*kafka.Reader // one per partition
}

// readerWait is how long the benchmark's kafka-go readers (the replies
// watcher, the plain copy's) wait on the broker for a partition with
// nothing new. A fetch returns as soon as a record is there (MinBytes 1),
// so it adds no latency; it only sets how often an idle partition is
// asked. kafka-go sets the connection's read deadline to it and asks the
// broker to wait less by a margin for the answer to come back: a quarter
// of it below 1 s, 1 s above. With 10 ms (until the sixth round) an idle
// partition cost 100 fetches a second, and on the loaded 2-CPU machine
// the broker's empty answers often came after the 2.5 ms margin: kafka-go
// took that as a broken connection and dialled again after a 100 ms
// back-off (about 80 times per partition in a GYU102 run of 80 calls),
// which the benchmark process and the broker paid for in every row's CPU,
// and the plain copy in its time. With 2 s the broker waits 1 s and the
// answer has 1 s to come back.
const readerWait = 2 * time.Second

// newReader is the benchmark's reader of one partition of topic.
func newReader(brokers []string, topic string, partition int) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: partition, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: readerWait})
}

type waitSet struct {
	want map[string]bool
	left int
	bad  []string
	done chan struct{}
}

func watch(tb testing.TB, brokers []string, topic string) *watcher {
	tb.Helper()
	parts := partitions(tb, brokers, topic)
	w := &watcher{status: map[string]string{}, keep: map[string]bool{}, payload: map[string][]byte{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	tb.Cleanup(func() { cancel(); wg.Wait() })
	for _, p := range parts {
		r := newReader(brokers, topic, p)
		w.readers = append(w.readers, r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				var rep struct {
					RequestID, Status string
					Payload           json.RawMessage
				}
				if json.Unmarshal(m.Value, &rep) == nil {
					w.add(rep.RequestID, rep.Status, rep.Payload)
				}
			}
		}()
	}
	return w
}

// partitions waits until topic has a leader for every partition and
// returns their ids.
func partitions(tb testing.TB, brokers []string, topic string) []int {
	tb.Helper()
	var ids []int
	harness.Eventually(tb, 60*time.Second, "topic "+topic, func() bool {
		conn, err := kafka.Dial("tcp", brokers[0])
		if err != nil {
			return false
		}
		defer conn.Close()
		ps, err := conn.ReadPartitions(topic)
		if err != nil || len(ps) == 0 {
			return false
		}
		ids = ids[:0]
		for _, p := range ps {
			if p.Leader.Host == "" || p.Error != nil {
				return false
			}
			ids = append(ids, p.ID)
		}
		return true
	})
	return ids
}

func (w *watcher) add(id, status string, payload []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.keep[id] {
		w.payload[id] = payload
	}
	if _, seen := w.status[id]; seen {
		w.status[id] = status
		return
	}
	w.status[id] = status
	kept := w.waiting[:0]
	for _, s := range w.waiting {
		if s.want[id] {
			delete(s.want, id)
			s.left--
			if status != "ok" {
				s.bad = append(s.bad, id+": "+status)
			}
		}
		if s.left == 0 {
			close(s.done)
			continue
		}
		kept = append(kept, s)
	}
	w.waiting = kept
}

// keepPayload makes the watcher keep the reply payload of id (register it
// before sending); replyPayload returns it.
func (w *watcher) keepPayload(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keep[id] = true
}

func (w *watcher) replyPayload(id string) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.payload[id]
}

// expect registers ids before they are sent.
func (w *watcher) expect(ids []string) *waitSet {
	s := &waitSet{want: map[string]bool{}, done: make(chan struct{})}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		if st, ok := w.status[id]; ok {
			if st != "ok" {
				s.bad = append(s.bad, id+": "+st)
			}
			continue
		}
		s.want[id] = true
	}
	s.left = len(s.want)
	if s.left == 0 {
		close(s.done)
		return s
	}
	w.waiting = append(w.waiting, s)
	return s
}

// wait blocks until every reply was read, and fails on any that is not ok.
func (s *waitSet) wait(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	if !s.waitErr(tb, timeout) {
		tb.FailNow()
	}
}

// waitErr is wait for goroutines other than the benchmark's own: it
// reports the failure and returns false instead of stopping.
func (s *waitSet) waitErr(tb testing.TB, timeout time.Duration) bool {
	tb.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		tb.Errorf("replies missing after %s", timeout)
		return false
	}
	if len(s.bad) > 0 {
		tb.Errorf("%d replies not ok, first %s", len(s.bad), s.bad[0])
		return false
	}
	return true
}

// createTopic creates a topic of n partitions through the controller.
func createTopic(tb testing.TB, brokers []string, topic string, n int) {
	tb.Helper()
	conn, err := kafka.Dial("tcp", brokers[0])
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	ctl, err := conn.Controller()
	if err != nil {
		tb.Fatal(err)
	}
	cc, err := kafka.Dial("tcp", net.JoinHostPort(ctl.Host, strconv.Itoa(ctl.Port)))
	if err != nil {
		tb.Fatal(err)
	}
	defer cc.Close()
	if err := cc.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: n, ReplicationFactor: 1}); err != nil {
		tb.Fatal(err)
	}
	partitions(tb, brokers, topic)
}

// percentile returns the p-th percentile (0–100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

func sortDurations(d []time.Duration) { sort.Slice(d, func(i, j int) bool { return d[i] < d[j] }) }

// procs finds the medgate process of cfgPath and its plugin children.
func procs(cfgPath string) (host int, plugins map[string]int) {
	plugins = map[string]int{}
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmd, []byte("\x00-config\x00"+cfgPath)) {
			host = pid
		}
		if st, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat")); err == nil {
			// pid (comm) state ppid …; comm may hold spaces, so cut at the last ')'.
			if i := bytes.LastIndexByte(st, ')'); i > 0 {
				f := strings.Fields(string(st[i+1:]))
				if len(f) > 1 {
					parent[pid], _ = strconv.Atoi(f[1])
				}
			}
		}
	}
	for pid, pp := range parent {
		if host != 0 && pp == host {
			comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
			plugins[strings.TrimSpace(string(comm))] = pid
		}
	}
	return host, plugins
}

// brokerPID returns the pid of the Kafka broker (the JVM running
// kafka.Kafka, not the shell that supervises it) that this process
// started, or 0 when there is none.
func brokerPID() int {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	var brokers []int
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat")); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i > 0 {
				if f := strings.Fields(string(st[i+1:])); len(f) > 1 {
					parent[pid], _ = strconv.Atoi(f[1])
				}
			}
		}
		if cmd, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline")); err == nil && bytes.Contains(cmd, []byte("\x00kafka.Kafka\x00")) &&
			strings.HasSuffix(string(cmd[:max(0, bytes.IndexByte(cmd, 0))]), "java") {
			brokers = append(brokers, pid)
		}
	}
	self := os.Getpid()
	for _, pid := range brokers {
		for p, n := parent[pid], 0; p > 1 && n < 16; p, n = parent[p], n+1 {
			if p == self {
				return pid
			}
		}
	}
	return 0
}

// rssMB returns VmRSS of pid in MB (10^6 bytes), 0 when it is gone.
func rssMB(pid int) float64 { return statusMB(pid, "VmRSS:") }

// statusMB returns a memory field of /proc/PID/status in MB (10^6 bytes),
// 0 when the process is gone.
func statusMB(pid int, field string) float64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb * 1024 / 1e6
			}
		}
	}
	return 0
}

// rssSampler keeps the peak RSS of the host and its plugins.
type rssSampler struct {
	mu   sync.Mutex
	peak map[string]float64
	stop chan struct{}
	done chan struct{}
}

func sampleRSS(cfgPath string) *rssSampler {
	s := &rssSampler{peak: map[string]float64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		// Finding the processes reads every /proc entry: do it once a
		// second (or when one is gone), not at every sample, so that the
		// sampler does not take CPU from what it measures.
		var pids map[string]int
		var found time.Time
		for {
			if time.Since(found) > time.Second {
				pids, found = rssPIDs(cfgPath), time.Now()
			}
			for name, pid := range pids {
				mb := rssMB(pid)
				if mb == 0 {
					found = time.Time{} // gone (restarted?): look again
					continue
				}
				s.mu.Lock()
				s.peak[name] = max(s.peak[name], mb)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) finish() map[string]float64 {
	close(s.stop)
	<-s.done
	return s.peak
}

// snapshotRSS maps "medgate" and each plugin name to its RSS in MB.
func snapshotRSS(cfgPath string) map[string]float64 {
	out := map[string]float64{}
	for name, pid := range rssPIDs(cfgPath) {
		out[name] = rssMB(pid)
	}
	return out
}

// rssPIDs maps "medgate" and each plugin name to its process id.
func rssPIDs(cfgPath string) map[string]int {
	host, plugins := procs(cfgPath)
	out := map[string]int{}
	if host != 0 {
		out["medgate"] = host
	}
	for name, pid := range plugins {
		out[name] = pid
	}
	return out
}

// ProfileEnv names a directory: when set, the Kafka pass-through, GYD051
// over HTTP (gyd051), the GYU102 upload, the 200 req/s latency row
// (latency200) and the trace-code export run under `perf record` (CPU samples with call graphs) of
// medgate and every plugin process, written to <dir>/<name>.perf.data; read
// them with `perf report -i <file> --no-children --sort comm,symbol`.
const ProfileEnv = "MEDGATE_BENCH_PROFILE"

// profile starts perf on the host and its plugins; the returned function
// stops it and waits until the data file is written.
func profile(tb testing.TB, e *env, name string) (stop func()) {
	tb.Helper()
	dir := os.Getenv(ProfileEnv)
	if dir == "" {
		return func() {}
	}
	host, plugins := procs(e.cfgPath)
	pids := []string{strconv.Itoa(host)}
	for _, pid := range plugins {
		pids = append(pids, strconv.Itoa(pid))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(dir, name+".perf.data")
	cmd := exec.Command("perf", "record", "-F", "999", "-g", "-o", out, "-p", strings.Join(pids, ","))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("%s is set but perf does not start: %v", ProfileEnv, err)
	}
	// perf prints nothing when it is attached; give it until the first
	// sample file header exists before the load starts.
	harness.Eventually(tb, 30*time.Second, "perf to attach", func() bool {
		st, err := os.Stat(out)
		return err == nil && st.Size() > 0
	})
	return func() {
		_ = cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			tb.Logf("perf record %s: %v\n%s", name, err, log.String())
		}
		tb.Logf("profile written to %s", out)
	}
}

// openLoop calls do(i) for i in [0, b.N) at a fixed rate per second, open
// loop: a call starts every 1/rate whatever the earlier ones do, each in
// its own goroutine. It times the calls (b.ResetTimer before the first,
// b.StopTimer once all have returned).
func openLoop(b *testing.B, rate int, do func(i int)) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	b.ResetTimer()
	for i := range b.N {
		if i > 0 {
			<-tick.C
		}
		wg.Go(func() { do(i) })
	}
	wg.Wait()
	b.StopTimer()
}

// closedLoop runs do(i) for i in [1, b.N] from n concurrent clients, each
// taking the next i when its previous call returned; a client that gets an
// error reports it and stops. It times the calls (b.ResetTimer before,
// b.StopTimer once every client has stopped).
func closedLoop(b *testing.B, n int, do func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range n {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if err := do(int(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
}
