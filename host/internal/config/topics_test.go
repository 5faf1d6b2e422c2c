package config

import (
	"errors"
	"strings"
	"testing"
)

// problemsAt parses src and returns the messages of the problems at path.
func problemsAt(t *testing.T, src, path string) []Problem {
	t.Helper()
	_, err := Parse("/etc/medgate/medgate.yaml", []byte(src))
	var ps Problems
	if err != nil && !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	var at []Problem
	for _, p := range ps {
		if p.Path == path {
			at = append(at, p)
		}
	}
	return at
}

// TestTopicSizingAtLeastOne: kafka.partitions and kafka.replicationFactor
// below 1 were accepted by the configuration (and check-config), and
// medgate then failed to start (the embedded broker, or the topics'
// creation, refuses them) with no file or line; each is a problem at its
// key.
func TestTopicSizingAtLeastOne(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		src, path string
		problem   bool
	}{
		"partitions -1":          {src: "kafka:\n  embedded: {}\n  partitions: -1\n", path: "kafka.partitions", problem: true},
		"partitions 3":           {src: "kafka:\n  embedded: {}\n  partitions: 3\n", path: "kafka.partitions"},
		"replication -1":         {src: "kafka:\n  brokers: [k:9092]\n  createTopics: true\n  replicationFactor: -1\n", path: "kafka.replicationFactor", problem: true},
		"replication 3":          {src: "kafka:\n  brokers: [k:9092]\n  createTopics: true\n  replicationFactor: 3\n", path: "kafka.replicationFactor"},
		"partitions -4, brokers": {src: "kafka:\n  brokers: [k:9092]\n  createTopics: true\n  partitions: -4\n", path: "kafka.partitions", problem: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			at := problemsAt(t, tc.src, tc.path)
			if !tc.problem {
				if len(at) > 0 {
					t.Fatalf("a sound value reported: %v", at)
				}
				return
			}
			if len(at) != 1 {
				t.Fatalf("%d problems at %s, want 1: %v", len(at), tc.path, at)
			}
			if want := strings.Count(tc.src, "\n"); at[0].Line != want {
				t.Errorf("problem at line %d, want %d", at[0].Line, want)
			}
			if !strings.Contains(at[0].Message, "at least 1") {
				t.Errorf("message %q does not say what is valid", at[0].Message)
			}
		})
	}
}

// TestTopicsAll: the topics created at start include the replyTo topics,
// each once, after the four of medgate's own.
func TestTopicsAll(t *testing.T) {
	t.Parallel()
	tp := Topics{Requests: "rq", Replies: "rp", Events: "ev", DLQ: "dl", ReplyTo: []string{"his.a", "rp", "his.b", "his.a"}}
	got := tp.All()
	want := []string{"rq", "rp", "ev", "dl", "his.a", "his.b"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("All() = %v, want %v", got, want)
	}
}
