package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
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
// request partitions that had committed offsets, and a start that finds
// one without offsets logs an ALERT and counts
// medgate_kafka_offset_resets_total{reason="offsets_lost"}. The first
// start, with an empty store, says nothing.
func TestLostGroupOffsetsRaisedAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medgate.yaml")
	write := func(group string) {
		yaml := "node: offsets-1\n" +
			"kafka:\n  groupId: " + group + "\n  partitions: 1\n  embedded:\n    listen: 127.0.0.1:0\n    dataDir: " + filepath.Join(dir, "kafka") + "\n" +
			"store:\n  driver: sqlite\n  path: " + filepath.Join(dir, "medgate.db") + "\n" +
			"http:\n  listen: 127.0.0.1:0\n"
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// First start: a request is consumed and its offset committed.
	write("medgate")
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
		return err == nil && ok && g == "medgate"
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

	// The group is changed by mistake: its new name has no offsets.
	write("medgate-typo")
	var out2 lockedBuffer
	d, err = Start(t.Context(), cfg, Options{Out: &out2})
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
	for _, line := range strings.Split(out2.String(), "\n") {
		if strings.Contains(line, "ALERT") {
			alert = line
		}
	}
	for _, want := range []string{"no committed offset for a partition medgate consumed before", "medgate-typo", `"previousGroup":"medgate"`, requests, "Kafka data loss"} {
		if !strings.Contains(alert, want) {
			t.Errorf("ALERT lacks %q; log:\n%s", want, out2.String())
		}
	}
}
