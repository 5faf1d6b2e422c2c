package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/testenv"
)

// TestKcatPlaysThePlatform has kcat (librdkafka, no code shared with
// medgate or the Go Kafka clients) play the integration platform, on the
// real Apache Kafka broker and on the embedded one of `make run`: it
// produces a request with a key and a trace-id header, a record that is
// not JSON, and a second request under the same key, and reads the
// replies topic. Each request must get its reply, keyed by the business
// key, with the request id, status and trace id in headers; the record
// that is not JSON gets its invalid reply and does not hold the key back.
func TestKcatPlaysThePlatform(t *testing.T) {
	t.Parallel()
	kcat := testenv.Tool(t, "kcat", "kcat")
	for _, embedded := range []bool{false, true} {
		name := "kafka"
		if embedded {
			name = "embedded"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bins := harness.Binaries(t)
			var cfg *harness.Config
			if embedded {
				cfg = harness.NewConfig(t, nil)
				cfg.Embedded = true
				cfg.Listen = testenv.FreeAddr(t)
				cfg.Brokers = []string{cfg.Listen}
			} else {
				cfg = harness.NewConfig(t, testenv.Kafka(t))
			}
			harness.Start(t, bins, cfg.Write(t, bins))
			harness.NewPlatform(t, cfg.Brokers, cfg.Topics()) // waits for the topics medgate creates
			broker := cfg.Brokers[0]
			tp := cfg.Topics()

			produce := func(key, value string, headers ...string) {
				t.Helper()
				args := []string{"-b", broker, "-P", "-t", tp.Requests, "-k", key, "-X", "acks=all"}
				for _, h := range headers {
					args = append(args, "-H", h)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, kcat, args...)
				cmd.Stdin = strings.NewReader(value)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("kcat -P: %v\n%s", err, out)
				}
			}
			at := time.Now().Format(time.RFC3339)
			produce("visit-kcat", `{"id":"kcat-1","site":"s1","type":"ledger.record","occurredAt":"`+at+`","payload":{"seq":41}}`, "medgate-trace-id=trace-from-kcat")
			produce("visit-kcat", `this is not JSON`)
			produce("visit-kcat", `{"id":"kcat-2","site":"s1","type":"ledger.record","occurredAt":"`+at+`","payload":{"seq":42}}`)

			type reply struct {
				key     string
				headers string
				body    harness.Reply
			}
			var got []reply
			harness.Eventually(t, 60*time.Second, "kcat to read three replies", func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				// -e: exit at the end of the partitions; key, headers and value
				// separated by the ASCII unit separator.
				out, err := exec.CommandContext(ctx, kcat, "-b", broker, "-C", "-t", tp.Replies, "-o", "beginning", "-e", "-q",
					"-f", "%k\x1f%h\x1f%s\n").Output()
				if err != nil {
					return false
				}
				got = nil
				for _, line := range bytes.Split(bytes.TrimRight(out, "\n"), []byte("\n")) {
					parts := bytes.SplitN(line, []byte("\x1f"), 3)
					if len(parts) != 3 {
						continue
					}
					var r harness.Reply
					if json.Unmarshal(parts[2], &r) != nil {
						t.Fatalf("a reply kcat read is not JSON: %q", parts[2])
					}
					got = append(got, reply{key: string(parts[0]), headers: string(parts[1]), body: r})
				}
				return len(got) >= 3
			})
			byID := map[string]reply{}
			var invalid *reply
			for i, r := range got {
				if r.body.RequestID == "" {
					invalid = &got[i]
					continue
				}
				byID[r.body.RequestID] = r
			}
			for id, seq := range map[string]int{"kcat-1": 41, "kcat-2": 42} {
				r, ok := byID[id]
				if !ok {
					t.Fatalf("no reply to %s among %+v", id, got)
				}
				var p struct{ Seq int }
				_ = json.Unmarshal(r.body.Payload, &p)
				if r.body.Status != "ok" || r.key != "visit-kcat" || p.Seq != seq ||
					!strings.Contains(r.headers, "medgate-request-id="+id) || !strings.Contains(r.headers, "medgate-status=ok") {
					t.Errorf("reply to %s: key %q headers %q body %+v", id, r.key, r.headers, r.body)
				}
			}
			if r := byID["kcat-1"]; !strings.Contains(r.headers, "medgate-trace-id=trace-from-kcat") {
				t.Errorf("the reply to kcat-1 does not carry the request's trace id: headers %q", r.headers)
			}
			if invalid == nil || invalid.body.Status != "invalid" || len(invalid.body.Errors) == 0 ||
				!strings.Contains(invalid.headers, "medgate-status=invalid") {
				t.Errorf("the record that is not JSON got no invalid reply: %+v", invalid)
			}
		})
	}
}
