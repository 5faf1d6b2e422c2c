package cli

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/daemon"
	"github.com/medgate/medgate/host/internal/message"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// medgateBinary builds host/cmd/medgate once for the package's tests and
// returns the binary's path.
func medgateBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "medgate-cli-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "medgate")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", binPath, "./host/cmd/medgate")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..", "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = errors.New("go build ./host/cmd/medgate: " + err.Error() + "\n" + string(out))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// statusMedgate answers every request on the request topic of cfg with
// a reply whose status is the payload's "status" (a platform that
// rejected it, medgate's checks, a failure after the retries), else, for
// the ledger plugin's record SEQ, ok, invalid, rejected or failed for SEQ
// 0, 1, 2 or 3 modulo 4. A reply not ok has the error "$.cardNo: state:
// no such card 110101199003070002X" (an ID number, to be masked).
func statusMedgate(t *testing.T, cfg *config.Config, brokers []string) {
	t.Helper()
	bc, err := daemon.BusConfig(cfg, brokers, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	requests, err := bus.NewTail(ctx, bc, cfg.Kafka.Topics.Requests)
	if err != nil {
		t.Fatal(err)
	}
	p, err := bus.NewProducer(bc)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := requests.Next(ctx)
			if err != nil {
				return
			}
			var env message.Envelope
			var in struct {
				Status string
				Seq    int
			}
			if json.Unmarshal(m.Value, &env) != nil || json.Unmarshal(env.Payload, &in) != nil {
				continue
			}
			if in.Status == "" { // the ledger plugin's record SEQ: its status by SEQ
				in.Status = []string{"ok", "invalid", "rejected", "failed"}[in.Seq%4]
			}
			reply := map[string]any{"id": "r-" + env.ID, "requestId": env.ID, "site": env.Site, "type": env.Type, "status": in.Status, "attempts": 1}
			if in.Status != "ok" {
				reply["errors"] = []map[string]string{{"field": "$.cardNo", "rule": "state", "message": "no such card " + maskID}}
			}
			b, _ := json.Marshal(reply)
			if p.Send(ctx, cfg.Kafka.Topics.Replies, []byte(env.ID), b, nil) != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		requests.Close()
		wg.Wait()
		p.Close()
	})
}

// TestExitCodesOfTheBinary: the medgate binary, as a script runs it,
// exits 0 for what was done (a reply ok, help, the version), 1 for what
// was refused or failed (a reply invalid, rejected or failed, medgate not
// reachable) and 2 for a wrong command line, as the README's table says;
// what it prints says why, personal data masked.
// `medgate send` exited 0 whatever the reply's status, so a script could
// not tell a rejected message from a done one without parsing the JSON.
func TestExitCodesOfTheBinary(t *testing.T) {
	bin := medgateBinary(t)
	dir := t.TempDir()
	broker, err := bus.StartEmbedded(filepath.Join(dir, "kafka"), "127.0.0.1:0", []string{"medgate.requests", "medgate.replies", "medgate.events", "medgate.dlq"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	// An address nothing listens on: medgate is not running.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	// The ledger plugin enabled at site s1, medgate's Kafka, and its
	// admin API not running.
	cfgPath := ledgerConfig(t)
	conf, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, append(conf, []byte("http:\n  listen: "+down+"\nkafka:\n  brokers: ["+broker.Addrs()[0]+"]\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	statusMedgate(t, cfg, broker.Addrs())

	send := func(status string) []string {
		return []string{"send", "-config", cfgPath, "-site", "s1", "-type", "ledger.record", "-payload", `{"status":"` + status + `"}`, "-timeout", "30s"}
	}
	for name, tc := range map[string]struct {
		args []string
		code int
		want string // on stdout or stderr
	}{
		"send ok":                 {send("ok"), 0, `"status": "ok"`},
		"send invalid":            {send("invalid"), 1, `"status": "invalid"`},
		"send rejected":           {send("rejected"), 1, `"status": "rejected"`},
		"send failed":             {send("failed"), 1, `"status": "failed"`},
		"send without -site":      {[]string{"send", "-config", cfgPath, "-type", "a.b", "-payload", "{}"}, 2, "-site is required"},
		"jobs unreachable":        {[]string{"jobs", "-config", cfgPath}, 1, "cannot reach medgate"},
		"unknown command":         {[]string{"frobnicate", "-config", cfgPath}, 2, "unknown command"},
		"version":                 {[]string{"version"}, 0, "medgate"},
		"plugin command ok":       {[]string{"ledger", "record", "-config", cfgPath, "4"}, 0, "ok"},
		"plugin command rejected": {[]string{"ledger", "record", "-config", cfgPath, "2"}, 1, "no such card 110***********002X"},
		"plugin command failed":   {[]string{"ledger", "record", "-config", cfgPath, "3"}, 1, "failed"},
		// -json prints the payload (none here) on stdout; why it was
		// refused is on stderr.
		"plugin command rejected -json": {[]string{"ledger", "record", "-config", cfgPath, "-json", "2"}, 1, "no such card 110***********002X"},
		"plugin command unknown":        {[]string{"ledger", "recrd", "-config", cfgPath, "2"}, 2, "did you mean `medgate ledger record`?"},
		"send -h":                       {[]string{"send", "-h"}, 0, "-payload"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(os.Environ(), "MEDGATE_USER=", "MEDGATE_CONFIG="+cfgPath)
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(string(out), tc.want) || strings.Contains(string(out), maskID) {
				t.Fatalf("medgate %s: exit %d, want %d and %q in\n%s", strings.Join(tc.args, " "), code, tc.code, tc.want, out)
			}
		})
	}
}

// TestHelpOfEveryBuiltinCommand: `medgate C -h` of each built-in command
// with flags of its own starts with the command's usage line and what it
// does, and `medgate help` names every flag it lists: -addr of the admin
// commands was missing from the list, and -h printed only "Usage of
// reload:" and the flags.
func TestHelpOfEveryBuiltinCommand(t *testing.T) {
	bin := medgateBinary(t)
	dir := t.TempDir()
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir // no medgate.yaml: no plugin commands
		cmd.Env = append(os.Environ(), "MEDGATE_CONFIG=")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	list, code := run("help")
	if code != 0 {
		t.Fatalf("medgate help: exit %d\n%s", code, list)
	}
	flagRE := regexp.MustCompile(`(?m)^  (-[a-z][a-z-]*)`)
	for _, name := range []string{"run", "check-config", "send", "reload", "plugins", "jobs", "job run", "replay"} {
		t.Run(name, func(t *testing.T) {
			out, code := run(append(strings.Fields(name), "-h")...)
			if code != 0 || !strings.HasPrefix(out, "usage: medgate "+name+" ") {
				t.Fatalf("medgate %s -h: exit %d, want 0 and the usage line first:\n%s", name, code, out)
			}
			var line string
			for _, l := range strings.Split(list, "\n") {
				if strings.HasPrefix(l, "  medgate "+name+" ") {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("medgate help does not list %s:\n%s", name, list)
			}
			for _, m := range flagRE.FindAllStringSubmatch(out, -1) {
				if !regexp.MustCompile(`[\[ (|]` + m[1] + `\b`).MatchString(line) {
					t.Errorf("medgate help's line %q lacks %s, which `medgate %s -h` lists", line, m[1], name)
				}
			}
		})
	}
}
