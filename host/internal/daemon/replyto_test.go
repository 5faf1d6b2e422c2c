package daemon

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/IBM/sarama"
)

// TestReplyToTopicsCreatedAtStart: the topics of kafka.topics.replyTo
// were not created at start, and the embedded broker creates no topic on
// first use, so every reply a request asked for on such a topic failed
// and was redirected, truncated, to the replies topic. They are now
// created with the other topics, with kafka.partitions partitions.
func TestReplyToTopicsCreatedAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medgate.yaml")
	yaml := "node: replyto-1\n" +
		"kafka:\n  embedded:\n    listen: 127.0.0.1:0\n    dataDir: " + filepath.Join(dir, "kafka") + "\n  partitions: 2\n" +
		"  topics:\n    replyTo: [his.cashier.replies, his.ward.replies, his.cashier.replies]\n" +
		"store:\n  driver: sqlite\n  path: " + filepath.Join(dir, "medgate.db") + "\n" +
		"http:\n  listen: 127.0.0.1:0\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Start(t.Context(), cfg, Options{Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	admin, err := sarama.NewClusterAdmin(d.embedded.Addrs(), sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	want := []string{"his.cashier.replies", "his.ward.replies"}
	metas, err := admin.DescribeTopics(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metas {
		if !errors.Is(m.Err, sarama.ErrNoError) || len(m.Partitions) != 2 {
			t.Errorf("topic %s: %v, %d partitions; want it created with kafka.partitions (2)", m.Name, m.Err, len(m.Partitions))
		}
	}
	if len(metas) != len(want) {
		t.Errorf("described %d topics, want %d", len(metas), len(want))
	}
}
