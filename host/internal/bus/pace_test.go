package bus

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/medgate/medgate/test/testenv"
)

// TestCommitsArePaced: while messages keep finishing on several
// partitions, the consumer commits at most once per commitInterval (one
// commit carries every partition's marks), not after every few messages
// nor once per partition, and every message is still committed in the
// end. With -v it also logs the CPU the broker and this process spent per
// 1,000 messages (producing them included), paced and unpaced
// (commitInterval 0, as before pacing).
func TestCommitsArePaced(t *testing.T) {
	if testing.Short() {
		t.Skip("consumes thousands of messages from a real broker")
	}
	brokers := testenv.Kafka(t)
	const partitions, n, keys = 3, 3000, 50
	p := newProducer(t, brokers)
	saved := commitInterval
	t.Cleanup(func() { commitInterval = saved })
	for _, interval := range []time.Duration{0, saved} {
		commitInterval = interval
		topic := newTopic(t, brokers, partitions)
		group := uniqueName(t, fmt.Sprintf("group-%s", interval))
		var handled atomic.Int64
		r := startConsumer(t, testConfig(brokers, group), []string{topic}, func(ctx context.Context, m *Message) error {
			handled.Add(1)
			return nil
		})
		eventually(t, 60*time.Second, "the consumer to join", r.c.Ready)
		// The messages arrive while the consumer runs, as under a steady
		// load: 50 keys, each sent once the previous one is acknowledged.
		broker0, self0 := brokerCPU(), selfCPU()
		start := time.Now()
		var wg sync.WaitGroup
		for w := range keys {
			wg.Go(func() {
				for i := w; i < n; i += keys {
					send(t, p, topic, fmt.Sprintf("key-%d", w), fmt.Sprintf(`{"i":%d}`, i))
				}
			})
		}
		wg.Wait()
		eventually(t, 120*time.Second, "every message committed", func() bool {
			return handled.Load() == n && sum(committed(t, brokers, group, topic, partitions)) == n
		})
		elapsed := time.Since(start)
		commits := r.c.commits.Load()
		broker, self := brokerCPU()-broker0, selfCPU()-self0
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
		t.Logf("commit interval %s: %d messages in %s, %d offset commits; CPU per 1,000 messages: broker %s, this process %s",
			interval, n, elapsed.Round(time.Millisecond), commits, (broker * 1000 / n).Round(time.Microsecond), (self * 1000 / n).Round(time.Microsecond))
		if interval > 0 {
			if most := int64(elapsed/interval) + 2; commits > most {
				t.Errorf("%d offset commits in %s over %d partitions, want at most %d at one per %s", commits, elapsed, partitions, most, interval)
			}
		}
	}
}

// selfCPU is the CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// brokerCPU is the CPU time so far of the Java processes that descend
// from this process (the broker testenv started), 0 if none is found.
func brokerCPU() time.Duration {
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	parent := map[int]int{}
	ticks := map[int]int64{}
	java := map[int]bool{}
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(s[:strings.IndexByte(s, '(')]))
		fields := strings.Fields(s[i+2:]) // from field 3 (state)
		if len(fields) < 13 {
			continue
		}
		parent[pid], _ = strconv.Atoi(fields[1])
		ut, _ := strconv.ParseInt(fields[11], 10, 64)
		st, _ := strconv.ParseInt(fields[12], 10, 64)
		ticks[pid] = ut + st
		java[pid] = s[strings.IndexByte(s, '(')+1:i] == "java"
	}
	self := os.Getpid()
	var total int64
	for pid := range java {
		if !java[pid] {
			continue
		}
		for a := parent[pid]; a > 1; a = parent[a] {
			if a == self {
				total += ticks[pid]
				break
			}
		}
	}
	return time.Duration(total) * 10 * time.Millisecond // USER_HZ = 100
}
