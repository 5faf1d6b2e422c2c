package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/medgate/medgate/test/harness"
)

// TestPlatformContractExamples sends the request example of the README's
// message contract as it is written, and reads its reply: the example is
// what an integrator copies, so it must be a request medgate accepts, and
// the reply's members must come in the order of the reply example.
func TestPlatformContractExamples(t *testing.T) {
	t.Parallel()
	request, reply := contractExamples(t)
	cfg, _, p := start(t, func(c *harness.Config) { c.Sites[0]["code"] = "demo" })
	var env struct{ ID string }
	if err := json.Unmarshal(request, &env); err != nil {
		t.Fatalf("the README's request example is not JSON: %v", err)
	}
	p.SendRaw(kafka.Message{Key: []byte("ZY20261126001"), Value: request})
	var got kafka.Message
	harness.Eventually(t, 60*time.Second, "the reply to the README's request example", func() bool {
		msgs, _ := harness.ReadTopic(cfg.Brokers, cfg.Topics().Replies, 0, 10*time.Second)
		for _, m := range msgs {
			if header(m, "medgate-request-id") == env.ID {
				got = m
				return true
			}
		}
		return false
	})
	var r harness.Reply
	if err := json.Unmarshal(got.Value, &r); err != nil || r.Status != "ok" {
		t.Fatalf("the README's request example got %s, want status ok", got.Value)
	}
	want, have := memberNames(t, reply), memberNames(t, got.Value)
	i := 0
	for _, name := range have {
		for i < len(want) && want[i] != name {
			i++
		}
		if i == len(want) {
			t.Fatalf("reply members %v are not in the order of the README's reply example %v", have, want)
		}
	}
}

// contractExamples returns the request and reply examples (the first two
// JSON blocks) of the README's "Message contract" section.
func contractExamples(t *testing.T) (request, reply []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n### Message contract\n")
	if !ok {
		t.Fatal("README.md has no Message contract section")
	}
	var blocks [][]byte
	for _, part := range strings.Split(section, "```json\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		blocks = append(blocks, []byte(block))
	}
	if len(blocks) < 2 {
		t.Fatalf("the Message contract section has %d JSON examples, want the request and the reply", len(blocks))
	}
	return blocks[0], blocks[1]
}

// memberNames returns the names of a JSON object's top-level members in
// order; the reply example's values need not be valid JSON.
func memberNames(t *testing.T, obj []byte) []string {
	t.Helper()
	var names []string
	depth := 0
	for i := 0; i < len(obj); i++ {
		switch c := obj[i]; c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			end := i + 1
			for end < len(obj) && obj[end] != '"' {
				if obj[end] == '\\' {
					end++
				}
				end++
			}
			rest := bytes.TrimLeft(obj[end+1:], " \t\n")
			if depth == 1 && len(rest) > 0 && rest[0] == ':' {
				names = append(names, string(obj[i+1:end]))
			}
			i = end
		}
	}
	if len(names) == 0 {
		t.Fatalf("no members in %q", obj)
	}
	return names
}
