package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse("/etc/medgate/medgate.yaml", []byte("kafka:\n  embedded: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"group":     "medgate",
		"requests":  "medgate.requests",
		"dlq":       "medgate.dlq",
		"dataDir":   "/etc/medgate/data/kafka",
		"sqlite":    "/etc/medgate/data/medgate.db",
		"listen":    "127.0.0.1:8080",
		"deadline":  30 * time.Minute,
		"create":    true,
		"artifacts": "/etc/medgate/data/artifacts",
		"linger":    2 * time.Millisecond,
	}
	got := map[string]any{
		"group":     c.Kafka.GroupID,
		"requests":  c.Kafka.Topics.Requests,
		"dlq":       c.Kafka.Topics.DLQ,
		"dataDir":   c.Kafka.Embedded.DataDir,
		"sqlite":    c.Store.Path,
		"listen":    c.HTTP.Listen,
		"deadline":  c.Processing.UploadDeadline.D(),
		"create":    c.Kafka.CreateTopics,
		"artifacts": c.Artifacts.Dir,
		"linger":    c.Kafka.ReplyLinger.D(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

// TestProblemsAllAtOnce: every problem in a file is reported, each with its
// line and a fix.
func TestProblemsAllAtOnce(t *testing.T) {
	t.Parallel()
	src := `kafka:
  brokers: [nohost, "ok:9092"]
  maxInFlight: -1
  sasl:
    mechanism: GSSAPI
    password: hunter2
store:
  driver: oracle
http:
  listen: nowhere
  adminToken: plain-text-token
log:
  format: xml
processing:
  initialBackoff: 10s
  maxBackoff: 1s
plugins:
  - name: Bad Name
    path: /does/not/exist
  - name: dup
    path: /bin/sh
    sha256: xyz
  - name: dup
    path: /bin/sh
sites:
  - code: "bad code!"
    plugins:
      ghost: {}
  - code: main
  - code: main
`
	_, err := Parse("m.yaml", []byte(src))
	ps, ok := err.(Problems)
	if !ok {
		t.Fatalf("err = %v, want Problems", err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
		if p.Line == 0 {
			t.Errorf("problem without a line: %s", p)
		}
	}
	for _, want := range []string{
		"m.yaml:2: kafka.brokers[0]: \"nohost\" is not host:port",
		"m.yaml:3: kafka.maxInFlight: must be between 1 and 10000, is -1",
		"m.yaml:5: kafka.sasl.mechanism:",
		"m.yaml:6: kafka.sasl.password: secrets are never written in the configuration",
		"m.yaml:4: kafka.sasl.username: is required with SASL",
		"m.yaml:8: store.driver:",
		"m.yaml:10: http.listen:",
		"m.yaml:11: http.adminToken: secrets are never written",
		"m.yaml:13: log.format:",
		"m.yaml:16: processing.maxBackoff:",
		"m.yaml:18: plugins[0].name:",
		"m.yaml:19: plugins[0].path: cannot find the plugin binary",
		"m.yaml:22: plugins[1].sha256: must be 64 lowercase hex digits",
		"m.yaml:23: plugins[2].name: plugin \"dup\" is declared twice",
		"m.yaml:26: sites[0].code:",
		"m.yaml:28: sites[0].plugins.ghost: plugin \"ghost\" is not declared",
		"m.yaml:30: sites[2].code: site \"main\" is declared twice",
	} {
		found := false
		for _, g := range got {
			if strings.HasPrefix(g, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("missing problem %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "plain-text-token") {
		t.Error("a problem message repeats a secret")
	}
}

// TestUnknownKeyAndBadDuration: an unknown key or a value of the wrong
// type is reported at the key's path, with the keys its section takes,
// rather than with the name of a Go type.
func TestUnknownKeyAndBadDuration(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		src  string
		want []string
	}{
		"nested key": {
			src:  "kafka:\n  embedded: {}\n  brokerz: [a:1]\n",
			want: []string{"m.yaml:3: kafka.brokerz: unknown key; kafka takes: brokers, clientId, createTopics, embedded,", "check the spelling"},
		},
		"top level": {
			src:  "kafak:\n  embedded: {}\n",
			want: []string{"m.yaml:1: kafak: unknown key; the top level takes: artifacts, console, http, kafka,"},
		},
		"in a list and a map": {
			src:  "kafka: {embedded: {}}\nsites:\n  - code: a\n    plugins:\n      x: {enable: true}\n",
			want: []string{"m.yaml:5: sites[0].plugins.x.enable: unknown key; sites[0].plugins.x takes: enabled, settings"},
		},
		"bad duration": {
			src:  "kafka:\n  embedded: {}\nprocessing:\n  callTimeout: soon\n",
			want: []string{`m.yaml:4: processing.callTimeout: "soon" is not a duration`},
		},
		"wrong type": {
			src:  "kafka:\n  embedded: {}\n  maxInFlight: many\n",
			want: []string{"m.yaml:3: kafka.maxInFlight: is a single value"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("m.yaml", []byte(tc.src))
			if err == nil {
				t.Fatal("no problem reported")
			}
			msg := err.Error()
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
				}
			}
			if strings.Contains(msg, "config.") {
				t.Errorf("error names a Go type:\n%s", msg)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	loose := filepath.Join(dir, "loose")
	if err := os.WriteFile(good, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(loose, []byte("s3cret"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MEDGATE_TEST_SECRET", "from-env")
	c := &Config{File: filepath.Join(dir, "medgate.yaml")}
	cases := map[string]struct {
		ref, want, errPart string
	}{
		"env":           {ref: "env:MEDGATE_TEST_SECRET", want: "from-env"},
		"missing env":   {ref: "env:MEDGATE_TEST_NOPE", errPart: "is not set"},
		"file":          {ref: "file:" + good, want: "s3cret"},
		"relative file": {ref: "file:good", want: "s3cret"},
		"loose file":    {ref: "file:" + loose, errPart: "chmod 600"},
		"plain text":    {ref: "s3cret", errPart: "never written"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := c.Secret(tc.ref)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.errPart)
				}
				if strings.Contains(err.Error(), "s3cret") && name != "plain text" {
					t.Fatal("error contains the secret")
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestChecksums(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sums := filepath.Join(dir, "SHA256SUMS")
	sum := strings.Repeat("ab", 32)
	if err := os.WriteFile(sums, []byte(sum+"  ledger\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Config{PluginChecksums: sums}
	got, err := c.Checksum(Plugin{Name: "ledger", Path: "/x/ledger"})
	if err != nil || got != sum {
		t.Fatalf("got %q %v", got, err)
	}
	if _, err := c.Checksum(Plugin{Name: "other", Path: "/x/other"}); err == nil {
		t.Fatal("a plugin missing from the sums file was accepted")
	}
	if got, _ := c.Checksum(Plugin{Name: "p", SHA256: "own"}); got != "own" {
		t.Fatal("a plugin's own sha256 must win")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("kafka:\n  embedded: {}\n"))
	f.Add([]byte("sites:\n  - code: a\n    plugins: {x: {settings: {k: v}}}\n"))
	f.Add([]byte("kafka: [1, 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err == nil && c == nil {
			t.Fatal("no config and no error")
		}
		if ps, ok := err.(Problems); ok {
			for _, p := range ps {
				if p.Message == "" {
					t.Fatalf("problem without a message: %+v", p)
				}
			}
		}
	})
}

// TestArtifactsDir: artifacts.dir is resolved against the configuration's
// directory like every other path.
func TestArtifactsDir(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{
		"artifacts: {dir: exports}\n":            "/etc/medgate/exports",
		"artifacts: {dir: /var/lib/medgate/x}\n": "/var/lib/medgate/x",
	} {
		c, err := Parse("/etc/medgate/medgate.yaml", []byte("kafka:\n  embedded: {}\n"+src))
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if c.Artifacts.Dir != want {
			t.Errorf("%q: artifacts.dir = %q, want %q", src, c.Artifacts.Dir, want)
		}
	}
}

// TestReplyLinger: kafka.replyLinger defaults to 2ms, 0s turns it off, and
// values outside 0s–1s are problems naming the key.
func TestReplyLinger(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		yaml    string
		want    time.Duration
		problem string
	}{
		{"", 2 * time.Millisecond, ""},
		{"  replyLinger: 5ms\n", 5 * time.Millisecond, ""},
		{"  replyLinger: 0s\n", 0, ""},
		{"  replyLinger: 20ms\n", 20 * time.Millisecond, ""},
		{"  replyLinger: 2s\n", 0, "kafka.replyLinger: must be between 0s (send at once) and 1s, is 2s"},
		{"  replyLinger: -1ms\n", 0, "kafka.replyLinger: must be between 0s (send at once) and 1s, is -1ms"},
	} {
		c, err := Parse("m.yaml", []byte("kafka:\n  embedded: {}\n"+tc.yaml))
		switch {
		case tc.problem != "":
			if err == nil || !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.problem)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case c.Kafka.ReplyLinger.D() != tc.want:
			t.Errorf("%q: replyLinger %s, want %s", tc.yaml, c.Kafka.ReplyLinger.D(), tc.want)
		}
	}
}

// TestProcessingDurationsPositive: a negative duration under processing
// is reported (a negative initialBackoff retries without pause, a negative
// callTimeout fails every call at once).
func TestProcessingDurationsPositive(t *testing.T) {
	t.Parallel()
	src := `kafka:
  embedded: {}
processing:
  initialBackoff: -1s
  callTimeout: -5s
  uploadDeadline: -1m
  retryBudget: -1m
  breakerCooldown: -1s
`
	_, err := Parse("/etc/medgate/medgate.yaml", []byte(src))
	ps, ok := err.(Problems)
	if !ok {
		t.Fatalf("err = %v, want Problems", err)
	}
	got := map[string]bool{}
	for _, p := range ps {
		got[p.Path] = true
	}
	for _, want := range []string{"processing.initialBackoff", "processing.callTimeout", "processing.uploadDeadline", "processing.retryBudget", "processing.breakerCooldown"} {
		if !got[want] {
			t.Errorf("no problem at %s; got:\n%v", want, err)
		}
	}
}

// TestKafkaVersion: a kafka.version sarama cannot speak is a configuration
// problem, not a start-up failure.
func TestKafkaVersion(t *testing.T) {
	t.Parallel()
	for v, ok := range map[string]bool{"3.6.0": true, "2.8.1": true, "latest": false, "3.6": false, "0.10.2.0": false} {
		_, err := Parse("/etc/medgate/medgate.yaml", []byte("kafka:\n  embedded: {}\n  version: \""+v+"\"\n"))
		if got := err == nil || !strings.Contains(err.Error(), "kafka.version:"); got != ok {
			t.Errorf("version %q: err = %v", v, err)
		}
	}
}

// TestTopicsDistinct: a reply published to the topic medgate reads its
// requests from would be read back as a request, answered invalid, and
// that answer read back again, for ever.
func TestTopicsDistinct(t *testing.T) {
	t.Parallel()
	_, err := Parse("/etc/medgate/medgate.yaml", []byte(`kafka:
  embedded: {}
  topics:
    requests: platform.medgate
    replies: platform.medgate
    events: medgate.events
    dlq: medgate.events
    replyTo: [his.replies, platform.medgate]
`))
	if err == nil {
		t.Fatal("want problems")
	}
	for _, want := range []string{"kafka.topics.replies:", "kafka.topics.dlq:", "kafka.topics.replyTo[1]:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "replyTo[0]") {
		t.Errorf("his.replies is a good replyTo topic:\n%v", err)
	}
}

// TestRetentionProblemsAtTheirKeys: each wrong retention setting is
// reported at its own key, all at once.
func TestRetentionProblemsAtTheirKeys(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		src  string
		want []string
	}{
		"negative messages": {
			src:  "retention:\n  messages: -1h\n",
			want: []string{"m.yaml:3: retention.messages: must not be negative, is -1h0m0s; to keep rows for good, give a very long duration (e.g. \"87600h\")"},
		},
		"all three": {
			src: "retention:\n  messages: -1h\n  exchanges: -2h\n  interval: 30s\n",
			want: []string{
				"m.yaml:3: retention.messages: must not be negative, is -1h0m0s; to keep rows for good, give a very long duration (e.g. \"87600h\")",
				"m.yaml:4: retention.exchanges: must not be negative, is -2h0m0s; to keep rows for good, give a very long duration (e.g. \"87600h\")",
				"m.yaml:5: retention.interval: must be at least 1m, is 30s",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("m.yaml", []byte("kafka: {embedded: {}}\n"+tc.src))
			if err == nil {
				t.Fatal("no problem reported")
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("not Problems: %v", err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWrongTypeNamesPathAndFix: a value of the wrong type is reported at
// its own key path, even when several keys share its line (a flow mapping
// or list), and says what the key takes instead of yaml.v3's Go types.
func TestWrongTypeNamesPathAndFix(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		src  string
		want []string
	}{
		"string for a list": {
			src:  "kafka:\n  brokers: localhost:9092\n",
			want: []string{"m.yaml:2: kafka.brokers: is a single value (\"localhost:9092\"), but kafka.brokers takes a list"},
		},
		"string for a number": {
			src:  "kafka:\n  embedded: {}\n  maxInFlight: many\n",
			want: []string{"m.yaml:3: kafka.maxInFlight: is a single value (\"many\"), but kafka.maxInFlight takes a whole number"},
		},
		"mapping for a list": {
			src:  "kafka: {embedded: {}}\nsites:\n  code: A\n",
			want: []string{"m.yaml:3: sites: is a mapping, but sites takes a list"},
		},
		"list for a setting": {
			src:  "kafka: {embedded: {}}\nsites:\n  - code: A\n    plugins:\n      ecard:\n        settings:\n          x: [1, 2]\n",
			want: []string{"m.yaml:7: sites[0].plugins.ecard.settings.x: is a list, but sites[0].plugins.ecard.settings.x takes a single value"},
		},
		"flow mapping": {
			src:  "kafka: {brokers: x:1, maxInFlight: abc}\n",
			want: []string{"m.yaml:1: kafka.brokers: is a single value (\"x:1\"), but kafka.brokers takes a list", "m.yaml:1: kafka.maxInFlight: is a single value (\"abc\"), but kafka.maxInFlight takes a whole number"},
		},
		"durations on one line": {
			src:  "kafka: {embedded: {}}\nprocessing: {callTimeout: 5x, maxBackoff: 7y}\n",
			want: []string{`m.yaml:2: processing.callTimeout: "5x" is not a duration`, `m.yaml:2: processing.maxBackoff: "7y" is not a duration`},
		},
		"mapping for a duration": {
			src:  "kafka: {embedded: {}}\nprocessing:\n  callTimeout: {a: 1}\n",
			want: []string{`m.yaml:3: processing.callTimeout: is a mapping, but processing.callTimeout takes a duration; write e.g. "30s" or "5m"`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("m.yaml", []byte(tc.src))
			if err == nil {
				t.Fatal("no problem reported")
			}
			msg := err.Error()
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
				}
			}
			for _, raw := range []string{"cannot unmarshal", "!!", "[]string", "config."} {
				if strings.Contains(msg, raw) {
					t.Errorf("error shows yaml.v3's raw %q:\n%s", raw, msg)
				}
			}
		})
	}
}

// TestSecondDocumentIsReported: keys after a "---" line would be read by
// nobody; the file is refused at that line rather than silently cut short.
func TestSecondDocumentIsReported(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		src  string
		want string // "" when the file is sound
	}{
		"keys after ---": {
			src:  "kafka:\n  embedded: {}\n---\nlog:\n  level: verbose\n",
			want: `m.yaml:3: a second YAML document starts here`,
		},
		"leading --- only": {
			src: "---\nkafka:\n  embedded: {}\n",
		},
		"trailing ---": {
			src: "kafka:\n  embedded: {}\n---\n",
		},
		"keys after an empty document": {
			src:  "kafka:\n  embedded: {}\n---\n---\nlog:\n  level: verbose\n",
			want: `m.yaml:4: a second YAML document starts here`,
		},
		"document end marker": {
			src: "kafka:\n  embedded: {}\n...\n",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("m.yaml", []byte(tc.src))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("a sound file was refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error lacks %q: %v", tc.want, err)
			}
		})
	}
}

// TestBreakerThreshold: -1 turns the breaker off and 0 (or no line) gives
// the default 5; any other value below 1 has no meaning and is reported at
// its line with the file's other problems, instead of silently turning the
// breaker off.
func TestBreakerThreshold(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		value   string
		want    int
		problem bool
	}{
		"left out":      {value: "", want: 5},
		"zero":          {value: "0", want: 5},
		"disabled":      {value: "-1", want: -1},
		"one":           {value: "1", want: 1},
		"three":         {value: "3", want: 3},
		"minus two":     {value: "-2", problem: true},
		"minus hundred": {value: "-100", problem: true},
		"most negative": {value: "-2147483648", problem: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := "kafka:\n  embedded: {}\nlog:\n  format: xml\nprocessing:\n  breakerThreshold: " + tc.value + "\n"
			c, err := Parse("/etc/medgate/medgate.yaml", []byte(src))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err = %v, want Problems (log.format is wrong)", err)
			}
			var found []Problem
			logFormat := false
			for _, p := range ps {
				switch p.Path {
				case "processing.breakerThreshold":
					found = append(found, p)
				case "log.format":
					logFormat = true
				}
			}
			if !logFormat {
				t.Errorf("log.format problem not listed with the others: %v", ps)
			}
			if !tc.problem {
				if len(found) > 0 {
					t.Fatalf("breakerThreshold %q reported: %v", tc.value, found)
				}
				if c.Processing.BreakerThreshold != tc.want {
					t.Errorf("breakerThreshold %q reads as %d, want %d", tc.value, c.Processing.BreakerThreshold, tc.want)
				}
				return
			}
			if len(found) != 1 {
				t.Fatalf("breakerThreshold %s: %d problems at the key, want 1: %v", tc.value, len(found), ps)
			}
			p := found[0]
			if p.Line != 6 {
				t.Errorf("problem at line %d, want 6 (the key's line)", p.Line)
			}
			for _, w := range []string{tc.value, "-1", "at least 1", "default 5"} {
				if !strings.Contains(p.Message, w) {
					t.Errorf("message %q does not say %q", p.Message, w)
				}
			}
		})
	}
}

// TestWrongTypeQuote: a value of the wrong type is quoted far enough to
// recognise it (up to 40 characters, then "…"; yaml.v3 keeps only 7), and a
// value that may be a secret (written where a section holding a password,
// token, key, DSN or plugin settings goes, or that reads as a credential)
// is never quoted.
func TestWrongTypeQuote(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		src    string
		want   string // in the message of the problem at path
		path   string
		hidden []string // never in the error
	}{
		"short value whole": {
			src:  "kafka:\n  brokers: localhost:9092\n",
			path: "kafka.brokers",
			want: `is a single value ("localhost:9092"), but kafka.brokers takes a list`,
		},
		"long value cut at 40": {
			src:  "kafka:\n  brokers: kafka-1.hospital.local:9092,kafka-2.hospital.local:9092\n",
			path: "kafka.brokers",
			want: `is a single value ("kafka-1.hospital.local:9092,kafka-2.hosp…"), but`,
		},
		"exactly 40 not cut": {
			src:  "kafka:\n  brokers: kafka-1.hospital.local:9092,kafka-2.hosp\n",
			path: "kafka.brokers",
			want: `is a single value ("kafka-1.hospital.local:9092,kafka-2.hosp"), but`,
		},
		"runes not bytes": {
			src:  "kafka:\n  embedded: {}\n  maxInFlight: 六十四个消息同时处理再多就要等待前面的消息处理完成之后才能继续读取下一批消息否则内存会不够用\n",
			path: "kafka.maxInFlight",
			want: `is a single value ("六十四个消息同时处理再多就要等待前面的消息处理完成之后才能继续读取下一批消息否则…"), but`,
		},
		"sasl written as its password": {
			src:    "kafka:\n  brokers: [k:9092]\n  sasl: hunter2-correct-horse\n",
			path:   "kafka.sasl",
			want:   "is a single value (not repeated here: it may hold a secret), but kafka.sasl takes a mapping",
			hidden: []string{"hunter2"},
		},
		"store written as a DSN": {
			src:    "kafka:\n  embedded: {}\nstore: postgres://medgate:S3cret-pw@db:5432/medgate\n",
			path:   "store",
			want:   "is a single value (not repeated here: it may hold a secret), but store takes a mapping",
			hidden: []string{"S3cret", "postgres://medgate"},
		},
		"client written as its token": {
			src:    "kafka:\n  embedded: {}\nhttp:\n  clients:\n    - 0123456789abcdef0123456789abcdef\n",
			path:   "http.clients[0]",
			want:   "not repeated here",
			hidden: []string{"0123456"},
		},
		"encryption keys written as a key": {
			src:    "kafka:\n  embedded: {}\nstore:\n  encryption:\n    keys: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n",
			path:   "store.encryption.keys",
			want:   "not repeated here",
			hidden: []string{"9f86d08"},
		},
		"plugin settings written as a value": {
			src:    "kafka:\n  embedded: {}\nsites:\n  - code: a\n    plugins:\n      ecard:\n        settings: appsecret-0123456789\n",
			path:   "sites[0].plugins.ecard.settings",
			want:   "not repeated here",
			hidden: []string{"appsecr"},
		},
		"credential in a URL": {
			src:    "kafka:\n  embedded: {}\nconsole:\n  proxy: https://admin:pa55word@proxy.hospital.local\n",
			path:   "console.proxy",
			want:   "not repeated here",
			hidden: []string{"pa55word", "https:/"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("m.yaml", []byte(tc.src))
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err = %v, want Problems", err)
			}
			var at []string
			for _, p := range ps {
				if p.Path == tc.path {
					at = append(at, p.Message)
				}
			}
			if len(at) == 0 {
				t.Fatalf("no problem at %s: %v", tc.path, ps)
			}
			if msgs := strings.Join(at, "\n  "); !strings.Contains(msgs, tc.want) {
				t.Errorf("messages at %s:\n  %s\nlack\n  %s", tc.path, msgs, tc.want)
			}
			for _, h := range tc.hidden {
				if strings.Contains(err.Error(), h) {
					t.Errorf("error quotes %q, which may be a secret:\n%s", h, err)
				}
			}
		})
	}
}
