package bus

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// logRecords decodes the JSON log lines in logs.
func logRecords(t *testing.T, logs *syncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// topicWithConfig creates a topic of one partition with the given
// topic-level settings.
func topicWithConfig(t *testing.T, brokers []string, configs map[string]string) string {
	t.Helper()
	topic := uniqueName(t, "topic")
	sc, err := testConfig(brokers, "").saramaConfig()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sarama.NewClusterAdmin(brokers, sc)
	if err != nil {
		t.Fatalf("NewClusterAdmin: %v", err)
	}
	defer admin.Close()
	entries := map[string]*string{}
	for k, v := range configs {
		entries[k] = &v
	}
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1, ConfigEntries: entries}, false); err != nil {
		t.Fatalf("create topic %s with %v: %v", topic, configs, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := waitForLeaders(ctx, admin, []string{topic}); err != nil {
		t.Fatal(err)
	}
	return topic
}

const day = 24 * time.Hour

// TestCheckRetentionWarnsWhenTheTopicOutlivesTheStore: after a loss of
// the group's offsets the requests topic's whole retained log is
// delivered again, and a request whose outcome the store no longer keeps
// (retention.messages, 90 days by default) would be processed again. The
// check must warn, naming both values and the fix, whenever the topic may
// keep a record longer than that: retention.ms (plus segment.ms, since
// Kafka deletes whole segments) beyond it, no time limit (retention.ms
// -1, compaction alone); and say nothing above debug level otherwise, or
// when the brokers cannot be asked.
func TestCheckRetentionWarnsWhenTheTopicOutlivesTheStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, brokers []string) {
		const keep = 90 * day
		ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
		cases := []struct {
			name    string
			configs map[string]string
			warn    bool
		}{
			{"broker default of 7 days", nil, false},
			{"30 days", map[string]string{"retention.ms": ms(30 * day)}, false},
			{"100 days", map[string]string{"retention.ms": ms(100 * day)}, true},
			{"88 days in segments of 7", map[string]string{"retention.ms": ms(88 * day), "segment.ms": ms(7 * day)}, true},
			{"no time limit but a size limit", map[string]string{"retention.ms": "-1", "retention.bytes": "1073741824"}, true},
			{"compacted", map[string]string{"cleanup.policy": "compact"}, true},
			{"compacted and deleted after 7 days", map[string]string{"cleanup.policy": "compact,delete"}, false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				topic := topicWithConfig(t, brokers, tc.configs)
				var buf syncBuffer
				cfg := testConfig(brokers, "")
				cfg.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
				CheckRetention(t.Context(), cfg, topic, keep)
				var warns, debugs []map[string]any
				for _, r := range logRecords(t, &buf) {
					switch r["level"] {
					case "WARN":
						warns = append(warns, r)
					case "DEBUG":
						debugs = append(debugs, r)
					}
				}
				if !tc.warn {
					if len(warns) != 0 {
						t.Fatalf("warned for a topic that keeps records no longer than %s: %v", keep, warns)
					}
					for _, d := range debugs {
						if _, ok := d["err"]; ok {
							t.Fatalf("the brokers could not be asked: %v", d)
						}
					}
					return
				}
				if len(warns) != 1 {
					t.Fatalf("got %d warnings, want 1: %v", len(warns), logRecords(t, &buf))
				}
				w := warns[0]
				msg, _ := w["msg"].(string)
				if w["topic"] != topic || w["retention.messages"] != keep.String() || w["retention.ms"] == nil || w["retention.ms"] == "" ||
					!strings.Contains(msg, "retention.ms") || !strings.Contains(msg, "retention.messages") || !strings.Contains(msg, "kafka-configs.sh") {
					t.Fatalf("warning %v: want the topic, its retention.ms, retention.messages %s and how to fix them", w, keep)
				}
				if v, ok := tc.configs["retention.ms"]; ok && w["retention.ms"] != v {
					t.Fatalf("warning %v: retention.ms %v, want the topic's %s", w, w["retention.ms"], v)
				}
			})
		}
	})
}

// TestCheckRetentionCannotAsk: a missing topic or brokers that cannot be
// reached only give a debug line saying the check was skipped; nothing
// fails, nothing warns.
func TestCheckRetentionCannotAsk(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	forEachBackend(t, func(t *testing.T, brokers []string) {
		for name, tc := range map[string]struct {
			brokers []string
			topic   string
		}{
			"the topic missing":   {brokers, uniqueName(t, "missing")},
			"brokers unreachable": {[]string{closed}, "medgate.requests"},
		} {
			t.Run(name, func(t *testing.T) {
				var buf syncBuffer
				cfg := testConfig(tc.brokers, "")
				cfg.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
				CheckRetention(t.Context(), cfg, tc.topic, 90*day)
				recs := logRecords(t, &buf)
				if len(recs) != 1 || recs[0]["level"] != "DEBUG" || recs[0]["err"] == nil || recs[0]["topic"] != tc.topic ||
					!strings.Contains(recs[0]["msg"].(string), "skipped") {
					t.Fatalf("logged %v; want one debug line saying the check is skipped, with the error", recs)
				}
			})
		}
	})
}
