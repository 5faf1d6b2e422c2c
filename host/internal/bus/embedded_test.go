package bus

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestEmbeddedKeepsDataAcrossRestart checks that messages and committed
// group offsets survive Close and StartEmbedded on the same directory.
func TestEmbeddedKeepsDataAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	const topic = "medgate.requests"
	e, err := StartEmbedded(dir, "127.0.0.1:0", []string{topic}, 2)
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	brokers := e.Addrs()
	p := newProducer(t, brokers)
	for i := range 10 {
		send(t, p, topic, "key-"+strconv.Itoa(i%3), "first-"+strconv.Itoa(i))
	}

	// A group consumes and commits all ten.
	const group = "medgate"
	var mu sync.Mutex
	var seen []string
	collect := func(_ context.Context, m *Message) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, string(m.Value))
		return nil
	}
	r := startConsumer(t, testConfig(brokers, group), []string{topic}, collect)
	eventually(t, 30*time.Second, "10 offsets committed", func() bool {
		return sum(committed(t, brokers, group, topic, 2)) == 10
	})
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Five more that the group has not consumed yet.
	for i := range 5 {
		send(t, p, topic, "key-"+strconv.Itoa(i%3), "second-"+strconv.Itoa(i))
	}
	_ = p.Close()
	e.Close()

	// Restart on the same directory, on another port, with one more topic.
	e, err = StartEmbedded(dir, "127.0.0.1:0", []string{topic, "medgate.replies"}, 2)
	if err != nil {
		t.Fatalf("StartEmbedded again: %v", err)
	}
	defer e.Close()
	brokers = e.Addrs()
	if got := sum(committed(t, brokers, group, topic, 2)); got != 10 {
		t.Fatalf("after restart the group's committed offsets add up to %d, want 10", got)
	}

	// The group resumes with exactly the five new messages.
	mu.Lock()
	seen = nil
	mu.Unlock()
	r = startConsumer(t, testConfig(brokers, group), []string{topic}, collect)
	eventually(t, 30*time.Second, "15 offsets committed", func() bool {
		return sum(committed(t, brokers, group, topic, 2)) == 15
	})
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	got := slices.Sorted(slices.Values(seen))
	mu.Unlock()
	if want := []string{"second-0", "second-1", "second-2", "second-3", "second-4"}; !slices.Equal(got, want) {
		t.Errorf("after restart the group got %v, want %v", got, want)
	}

	// A new group reads all fifteen, and the new topic exists.
	var all sync.Map
	r = startConsumer(t, testConfig(brokers, "fresh"), []string{topic}, func(_ context.Context, m *Message) error {
		all.Store(string(m.Value), true)
		return nil
	})
	eventually(t, 30*time.Second, "a new group to read all 15 messages", func() bool {
		n := 0
		all.Range(func(any, any) bool { n++; return true })
		return n == 15
	})
	_ = r.stop(t)
	p = newProducer(t, brokers)
	send(t, p, "medgate.replies", "k", "v")
}

func TestStartEmbeddedErrors(t *testing.T) {
	for _, tc := range []struct{ dir, addr string }{
		{"", "127.0.0.1:0"},
		{t.TempDir(), "127.0.0.1"},
		{t.TempDir(), "127.0.0.1:http"},
	} {
		if e, err := StartEmbedded(tc.dir, tc.addr, nil, 1); err == nil {
			e.Close()
			t.Errorf("StartEmbedded(%q, %q) succeeded, want an error", tc.dir, tc.addr)
		}
	}
}
