package faults

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/test/harness"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
	"github.com/medgate/medgate/test/testenv"
)

var long = flag.Bool("faults.long", false, "run the long fault suite (at least 50 host kills); make test-faults sets it")

func TestMain(m *testing.M) { harness.Main(m) }

// scale picks the short or the long figure.
func scale(short, long_ int) int {
	if *long {
		return long_
	}
	return short
}

// cluster is medgate instances with the workinjury plugin for site s1,
// sharing topics, consumer group and store, talking to one in-process
// simulator of the national system over a real Kafka broker.
type cluster struct {
	t     *testing.T
	bins  *harness.Bins
	cfg   *harness.Config
	sim   *wisim.Server
	p     *harness.Platform
	nodes []*harness.Medgate
	paths []string // config file of each node
	rng   *rand.Rand
}

type clusterOpts struct {
	instances  int
	postgres   bool
	processing map[string]any
	plugins    []string       // default: workinjury
	extra      map[string]any // top-level configuration
	brokers    []string       // default: the broker every test shares
}

func startCluster(t *testing.T, o clusterOpts) *cluster {
	t.Helper()
	brokers := o.brokers
	if brokers == nil {
		brokers = testenv.Kafka(t)
	}
	bins := harness.Binaries(t)
	kp, err := wisim.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := wisim.New(wisim.Config{Options: smenvelope.Defaults(), Keys: kp.SimulatorKeys(), Region: "350200"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg := harness.NewConfig(t, brokers)
	keyDir := filepath.Join(cfg.Dir, "keys")
	if err := kp.WriteAdapterKeys(keyDir); err != nil {
		t.Fatal(err)
	}
	cfg.Plugins = []string{"workinjury", "ledger"}
	if o.plugins != nil {
		cfg.Plugins = o.plugins
	}
	plugins := map[string]any{
		"workinjury": map[string]any{"settings": map[string]any{"url": srv.URL + "/gsyd", "regionCode": "350200", "keyDir": keyDir, "timeout": "2s"}},
		"ledger":     map[string]any{"settings": map[string]any{"ledgerDir": cfg.LedgerDir()}},
	}
	cfg.Sites = []map[string]any{{"code": "s1", "plugins": plugins}}
	if o.postgres {
		dsnFile := filepath.Join(cfg.Dir, "dsn")
		if err := os.WriteFile(dsnFile, []byte(testenv.Postgres(t)), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Store = map[string]any{"driver": "postgres", "dsn": "file:" + dsnFile}
	}
	proc := map[string]any{"initialBackoff": "50ms", "maxBackoff": "500ms", "callTimeout": "3s"}
	for k, v := range o.processing {
		proc[k] = v
	}
	cfg.Extra["processing"] = proc
	for k, v := range o.extra {
		cfg.Extra[k] = v
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	c := &cluster{t: t, bins: bins, cfg: cfg, sim: sim, rng: rand.New(rand.NewPCG(seed, seed>>1))}
	n := max(o.instances, 1)
	for i := range n {
		c.paths = append(c.paths, c.writeNode(i))
	}
	for i := range n {
		c.nodes = append(c.nodes, harness.Start(t, bins, c.paths[i]))
	}
	c.p = harness.NewPlatform(t, brokers, cfg.Topics())
	return c
}

// writeNode writes the configuration of instance i: the shared one with
// its own node name (leases tell instances apart by it).
func (c *cluster) writeNode(i int) string {
	c.t.Helper()
	c.cfg.Extra["node"] = fmt.Sprintf("%s-n%d", c.cfg.Prefix, i)
	src := c.cfg.Write(c.t, c.bins)
	data, err := os.ReadFile(src)
	if err != nil {
		c.t.Fatal(err)
	}
	path := filepath.Join(c.cfg.Dir, fmt.Sprintf("medgate-n%d.yaml", i))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// upload is numbered upload i: a work-injury institution upload (GYU009)
// whose business key (akb020) the simulator's ledger records, on one of
// keys Kafka keys.
func upload(prefix string, i, keys int) (kafka.Message, string) {
	akb020 := fmt.Sprintf("H%s%06d", prefix, i)
	req := harness.Request{ID: fmt.Sprintf("%s-%d", prefix, i), Site: "s1", Type: "workinjury.GYU009", OccurredAt: time.Now().Format(time.RFC3339),
		Payload: map[string]any{"akb020": akb020, "akb021": "故障测试机构" + strconv.Itoa(i), "institution_type": "1", "aab299": "350200", "aae030": "2024-01-01", "valid_flag": "1"}}
	v, _ := json.Marshal(req)
	return kafka.Message{Key: []byte(fmt.Sprintf("%s-k%d", prefix, i%keys)), Value: v}, req.ID
}

// stream is a set of numbered uploads and what the suite checks of them.
type stream struct {
	prefix string
	n      int
	keys   int
	ids    []string
	msgs   []kafka.Message
}

func newStream(prefix string, n, keys int) *stream {
	s := &stream{prefix: prefix, n: n, keys: keys}
	for i := range n {
		m, id := upload(prefix, i, keys)
		s.msgs = append(s.msgs, m)
		s.ids = append(s.ids, id)
	}
	return s
}

// akb020 returns the business key of upload i.
func (s *stream) akb020(i int) string { return fmt.Sprintf("H%s%06d", s.prefix, i) }

// done counts the stream's records in the simulator's ledger.
func (c *cluster) done(s *stream) int {
	n := 0
	want := map[string]bool{}
	for i := range s.n {
		want[s.akb020(i)] = true
	}
	for _, e := range c.sim.Ledger() {
		if e.Code == "GYU009" && want[e.Key] {
			n++
		}
	}
	return n
}

// result is what the suite reports of a stream.
type result struct {
	messages, replies, copies, duplicates, lost, effects int
}

func (r result) String() string {
	return fmt.Sprintf("%d messages, %d replied (%d records, %d redelivered copies of a stored reply), %d duplicate outcomes, %d lost, %d ledger records",
		r.messages, r.replies, r.copies+r.replies, r.copies, r.duplicates, r.lost, r.effects)
}

// verify waits for a reply to every upload of s and checks: one outcome per
// message (redeliveries may publish the stored reply again, always the same
// reply id), status ok, the ledger holds every record exactly once, and in
// order per Kafka key.
func (c *cluster) verify(s *stream, timeout time.Duration) result {
	c.t.Helper()
	c.p.Replies(s.ids, timeout)
	msgs, err := harness.ReadTopic(c.cfg.Brokers, c.cfg.Topics().Replies, 0, 30*time.Second)
	if err != nil {
		c.t.Fatalf("read replies: %v", err)
	}
	mine := map[string]bool{}
	for _, id := range s.ids {
		mine[id] = true
	}
	replyIDs := map[string]map[string]bool{}
	records := 0
	for _, m := range msgs {
		var r harness.Reply
		if err := json.Unmarshal(m.Value, &r); err != nil {
			c.t.Fatalf("reply is not JSON: %v: %s", err, m.Value)
		}
		if !mine[r.RequestID] {
			continue
		}
		records++
		if r.Status != "ok" {
			c.t.Errorf("reply to %s: status %s, errors %+v", r.RequestID, r.Status, r.Errors)
		}
		if replyIDs[r.RequestID] == nil {
			replyIDs[r.RequestID] = map[string]bool{}
		}
		replyIDs[r.RequestID][r.ID] = true
	}
	res := result{messages: s.n}
	for _, id := range s.ids {
		switch n := len(replyIDs[id]); {
		case n == 0:
			res.lost++
			c.t.Errorf("message %s has no reply", id)
		case n > 1:
			res.duplicates++
			c.t.Errorf("message %s has %d different replies, want 1", id, n)
		}
	}
	res.replies = len(replyIDs)
	res.copies = records - res.replies

	seq := map[string]int{}
	for i := range s.n {
		seq[s.akb020(i)] = i
	}
	count := map[string]int{}
	last := map[int]int{}
	for _, e := range c.sim.Ledger() {
		i, ok := seq[e.Key]
		if e.Code != "GYU009" || !ok {
			continue
		}
		count[e.Key]++
		res.effects++
		k := i % s.keys
		if prev, ok := last[k]; ok && i < prev {
			c.t.Errorf("key %s-k%d: upload %d recorded after %d", s.prefix, k, i, prev)
		}
		last[k] = i
	}
	var wrong []string
	for key, i := range seq {
		if count[key] != 1 {
			wrong = append(wrong, fmt.Sprintf("upload %d: %d records", i, count[key]))
		}
	}
	sort.Strings(wrong)
	if len(wrong) > 0 {
		c.t.Errorf("the simulator's ledger must hold every upload exactly once: %v", wrong)
	}
	return res
}

// killPlugins SIGKILLs every running process of the named plugin binary
// (this test process built it, so only this suite's plugins match) and
// returns how many it killed.
func (c *cluster) killPlugins(name string) int {
	exe := c.bins.Plugins[name]
	dirs, _ := os.ReadDir("/proc")
	n := 0
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink(filepath.Join("/proc", d.Name(), "exe")); err == nil && target == exe {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				n++
			}
		}
	}
	return n
}

// committedAll waits until the group's committed offsets reach the end of
// every partition of the request topic: medgate commits as it goes, so a
// restart does not redo what was finished.
func (c *cluster) committedAll(timeout time.Duration) {
	c.t.Helper()
	topic := c.cfg.Topics().Requests
	cl := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...), Timeout: 10 * time.Second}
	var last string
	ok := false
	deadline := time.Now().Add(timeout)
	for !ok && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ends, err1 := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {kafka.LastOffsetOf(0), kafka.LastOffsetOf(1), kafka.LastOffsetOf(2)}}})
		got, err2 := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: c.cfg.Prefix + ".group", Topics: map[string][]int{topic: {0, 1, 2}}})
		cancel()
		if err1 == nil && err2 == nil {
			end := map[int]int64{}
			for _, p := range ends.Topics[topic] {
				end[p.Partition] = p.LastOffset
			}
			ok = true
			last = ""
			for _, p := range got.Topics[topic] {
				last += fmt.Sprintf(" partition %d: committed %d of %d;", p.Partition, p.CommittedOffset, end[p.Partition])
				if end[p.Partition] > 0 && p.CommittedOffset < end[p.Partition] {
					ok = false
				}
			}
		} else {
			last = fmt.Sprint(err1, err2)
		}
		if !ok {
			t := time.NewTimer(200 * time.Millisecond) // poll interval
			<-t.C
		}
	}
	if !ok {
		c.t.Errorf("the committed offsets did not reach the end of %s within %s:%s", topic, timeout, last)
	}
}
