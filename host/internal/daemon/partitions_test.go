package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/store"
)

// pollFor polls cond every 50ms until it holds, failing the test after
// timeout.
func pollFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// offsetResets returns medgate_kafka_offset_resets_total for the labels.
func offsetResets(t *testing.T, d *Daemon, topic, partition, reason string) float64 {
	t.Helper()
	mfs, err := d.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "medgate_kafka_offset_resets_total" {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			want := map[string]string{"topic": topic, "partition": partition, "reason": reason}
			for _, l := range m.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestLostGroupOffsetsRaisedAtStart: a medgate whose consumer group had
// lost its offsets (expired while it was down, deleted, or kafka.groupId
// changed) read the whole retained request log again as if it were the
// group's first start, silently. The daemon now records in the store the
// request partitions that had committed offsets, with the group. A start
// under another kafka.groupId is a planned change: a WARN naming both
// groups, no ALERT, nothing counted (it used to raise the same ALERT as
// a loss, which trains operators to ignore it). A start under the same
// group that finds no offsets (here: a new broker, its data lost) logs
// an ALERT and counts medgate_kafka_offset_resets_total{reason=
// "offsets_lost"}. The first start, with an empty store, says nothing.
func TestLostGroupOffsetsRaisedAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medgate.yaml")
	write := func(group, kafkaDir string) {
		yaml := "node: offsets-1\n" +
			"kafka:\n  groupId: " + group + "\n  partitions: 1\n  embedded:\n    listen: 127.0.0.1:0\n    dataDir: " + filepath.Join(dir, kafkaDir) + "\n" +
			"store:\n  driver: sqlite\n  path: " + filepath.Join(dir, "medgate.db") + "\n" +
			"http:\n  listen: 127.0.0.1:0\n"
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// First start: a request is consumed and its offset committed.
	write("medgate", "kafka")
	var out1 lockedBuffer
	d, err := Start(t.Context(), cfg, Options{Out: &out1})
	if err != nil {
		t.Fatal(err)
	}
	requests := d.Config().Kafka.Topics.Requests
	sc := sarama.NewConfig()
	sc.Producer.Return.Successes = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	p, err := sarama.NewSyncProducer(d.Brokers(), sc)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: requests, Key: sarama.StringEncoder("K1"),
		Value: sarama.StringEncoder(`{"id":"offsets-1","site":"s1","type":"nosuch.op","payload":{}}`)}); err != nil {
		t.Fatal(err)
	}
	_ = p.Close()
	pollFor(t, 30*time.Second, "partition 0 recorded as consumed", func() bool {
		g, ok, err := partitionHistory{d.store}.Consumed(t.Context(), requests, 0)
		return err == nil && ok && g.Group == "medgate"
	})
	if got := offsetResets(t, d, requests, "0", "offsets_lost"); got != 0 {
		t.Errorf("first start: offsets_lost resets %v, want 0", got)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if strings.Contains(out1.String(), "ALERT") {
		t.Errorf("first start logged an ALERT:\n%s", out1.String())
	}

	// The group is changed: its new name has no offsets. A WARN, not
	// an ALERT, and nothing counted.
	write("medgate-new", "kafka")
	var out2 lockedBuffer
	d, err = Start(t.Context(), cfg, Options{Out: &out2})
	if err != nil {
		t.Fatal(err)
	}
	pollFor(t, 30*time.Second, "the changed group warned of", func() bool {
		return strings.Contains(out2.String(), "kafka.groupId changed")
	})
	pollFor(t, 30*time.Second, "partition 0 recorded as consumed by the new group", func() bool {
		g, ok, err := partitionHistory{d.store}.Consumed(t.Context(), requests, 0)
		return err == nil && ok && g.Group == "medgate-new"
	})
	if got := offsetResets(t, d, requests, "0", "offsets_lost"); got != 0 {
		t.Errorf("changed group: offsets_lost resets %v, want 0", got)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if strings.Contains(out2.String(), "ALERT") {
		t.Errorf("a changed kafka.groupId logged an ALERT:\n%s", out2.String())
	}
	var warn string
	for _, line := range strings.Split(out2.String(), "\n") {
		if strings.Contains(line, "kafka.groupId changed") {
			warn = line
		}
	}
	for _, want := range []string{`"level":"WARN"`, `"group":"medgate-new"`, `"previousGroup":"medgate"`, `"previousGroupOffset":"1"`, requests, "--reset-offsets", "Kafka data loss"} {
		if !strings.Contains(warn, want) {
			t.Errorf("the WARN lacks %q; log:\n%s", want, out2.String())
		}
	}

	// The same group finds no offsets (the broker's data lost): an
	// ALERT, counted.
	write("medgate-new", "kafka-new")
	var out3 lockedBuffer
	d, err = Start(t.Context(), cfg, Options{Out: &out3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	pollFor(t, 30*time.Second, "the lost offsets counted", func() bool {
		return offsetResets(t, d, requests, "0", "offsets_lost") == 1
	})
	var alert string
	for _, line := range strings.Split(out3.String(), "\n") {
		if strings.Contains(line, "ALERT") {
			alert = line
		}
	}
	for _, want := range []string{"no committed offset for a partition it consumed before", `"group":"medgate-new"`, `"previousGroup":"medgate-new"`, requests, "Kafka data loss"} {
		if !strings.Contains(alert, want) {
			t.Errorf("ALERT lacks %q; log:\n%s", want, out3.String())
		}
	}
}

// TestPartitionHistoryEntries: an entry records the group and the Kafka
// cluster, and an entry written before the cluster was kept (the group
// alone) still reads as that group, on an unknown cluster.
func TestPartitionHistoryEntries(t *testing.T) {
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h := partitionHistory{st}
	if _, err := st.StatePut(t.Context(), consumedPartitionsNS, "requests/0", []byte("medgate-old")); err != nil {
		t.Fatal(err)
	}
	if err := h.RecordConsumed(t.Context(), bus.Consumption{Group: `{"odd" group}`, Cluster: "c-1"}, "requests", 1); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]bus.Consumption{0: {Group: "medgate-old"}, 1: {Group: `{"odd" group}`, Cluster: "c-1"}} {
		got, ok, err := h.Consumed(t.Context(), "requests", p)
		if err != nil || !ok || got != want {
			t.Errorf("partition %d: Consumed = %+v, %v, %v; want %+v, true, nil", p, got, ok, err, want)
		}
	}
	if _, ok, err := h.Consumed(t.Context(), "requests", 2); ok || err != nil {
		t.Errorf("partition 2, never recorded: ok %v, err %v", ok, err)
	}
}
