package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/api"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/daemon"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
)

// revealAPI serves the admin API of a running medgate for the
// configuration file cfgPath (its http.listen is appended to the file),
// with an admin amy and an operator olga (password "pw-<name>-0123456789"),
// and returns its store, which holds the audit log.
func revealAPI(t *testing.T, cfgPath string) store.Store {
	t.Helper()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "medgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	users := access.NewUsers(st, access.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32})
	for _, u := range []struct {
		name string
		role access.Role
	}{{"amy", access.Admin}, {"olga", access.Operator}} {
		if err := users.Add(t.Context(), u.name, u.role, "pw-"+u.name+"-0123456789", nil); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(api.Handler(&revealBackend{st: st}, api.Options{IngressTimeout: time.Second, MaxBodyBytes: 1 << 10,
		Registry: prometheus.NewRegistry(), Logger: log, Audit: audit.New(st, log), Users: users}))
	t.Cleanup(srv.Close)
	conf, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, append(conf, []byte("http:\n  listen: "+strings.TrimPrefix(srv.URL, "http://")+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	return st
}

// fakeMedgate answers every request on the request topic of cfg at
// brokers with a reply carrying a patient's name, ID and phone numbers
// and a token, as a plugin's reply may; it returns the ids of the
// requests it answered, in order, so far.
func fakeMedgate(t *testing.T, cfg *config.Config, brokers []string) func() []string {
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
	var (
		mu   sync.Mutex
		seen []string
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := requests.Next(ctx)
			if err != nil {
				return
			}
			var env message.Envelope
			if json.Unmarshal(m.Value, &env) != nil {
				continue
			}
			reply := map[string]any{"id": "r-" + env.ID, "requestId": env.ID, "site": env.Site, "type": env.Type, "status": "ok",
				"payload": map[string]any{"cardNo": "880158217106304", "name": maskName, "idNumber": maskID, "phone": maskMobile,
					"note": "持卡人手机 " + maskMobile, "accessToken": "tok-0123456789abcdef"},
				"warnings": []map[string]string{{"field": "$.phone", "rule": "mismatch", "message": "证件号 " + maskID + " 登记的手机不是 " + maskMobile}},
				"external": map[string]string{"system": "his", "code": "0", "message": "姓名：" + maskName},
				"attempts": 1, "completedAt": "2026-12-05T12:00:00Z",
				"audit": map[string]string{"idNumber": maskID}}
			b, _ := json.Marshal(reply)
			if err := p.Send(ctx, cfg.Kafka.Topics.Replies, []byte(env.ID), b, nil); err != nil {
				return
			}
			mu.Lock()
			seen = append(seen, env.ID)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		requests.Close()
		wg.Wait()
		p.Close()
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// TestSendMasksReply: `medgate send` printed the reply as it came, the
// patient's name, ID and phone numbers in its payload, warnings and the
// external system's message included, while every other command prints
// them masked as the console's message page does (logging.MaskJSON). It
// now masks them too, keeping the message ids as they are; with -reveal,
// granted to an admin by the running medgate and audited before anything
// is sent, it shows them as they came. Tokens are redacted either way. A
// -reveal refused sends nothing.
func TestSendMasksReply(t *testing.T) {
	dir := t.TempDir()
	broker, err := bus.StartEmbedded(filepath.Join(dir, "kafka"), "127.0.0.1:0", []string{"medgate.requests", "medgate.replies", "medgate.events", "medgate.dlq"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	cfgPath := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(cfgPath, []byte("kafka:\n  brokers: ["+broker.Addrs()[0]+"]\nsites:\n  - code: s1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := revealAPI(t, cfgPath)
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	answered := fakeMedgate(t, cfg, broker.Addrs())

	personal := []string{maskName, maskID, maskMobile}
	for _, tc := range []struct {
		name   string
		user   string
		reveal bool
		code   int
		want   []string
		hidden []string
	}{
		{name: "refused", user: "olga", reveal: true, code: 1,
			want: []string{"-reveal was not granted", "needs the role admin", "nothing was sent"}, hidden: personal},
		{name: "masked", code: 0,
			want:   []string{`"requestId": "cli-masked"`, `"id": "r-cli-masked"`, "110***********002X", "138****5678", `"cardNo": "880158217106304"`, "[redacted]"},
			hidden: append([]string{"tok-0123456789abcdef"}, personal...)},
		{name: "revealed", user: "amy", reveal: true, code: 0,
			want: append([]string{`"requestId": "cli-revealed"`, "[redacted]"}, personal...), hidden: []string{"tok-0123456789abcdef"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("MEDGATE_USER", tc.user)
			stdin = strings.NewReader("pw-" + tc.user + "-0123456789\n")
			args := []string{"send", "-config", cfgPath, "-site", "s1", "-type", "ecard.get", "-payload", `{"cardNo":"880158217106304"}`, "-id", "cli-" + tc.name, "-timeout", "30s"}
			if tc.reveal {
				args = append(args, "-reveal")
			}
			var out, errOut bytes.Buffer
			code := Main(args, &out, &errOut)
			if code != tc.code {
				t.Fatalf("medgate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, tc.code, out.String(), errOut.String())
			}
			checkShown(t, out.String()+errOut.String(), tc.want, tc.hidden)
		})
	}
	// The refused request was never sent: the fake answered the two
	// others, in order, and nothing else.
	if got := answered(); strings.Join(got, " ") != "cli-masked cli-revealed" {
		t.Errorf("requests answered: %q, want cli-masked and cli-revealed only", got)
	}
	entries, err := st.ListAudit(t.Context(), store.AuditFilter{Action: "personal.reveal"})
	if err != nil {
		t.Fatal(err)
	}
	var ok []string
	for _, e := range entries {
		if e.Outcome == "ok" {
			ok = append(ok, e.Actor+" "+e.Target+" "+e.Site)
		}
	}
	if len(ok) != 1 || ok[0] != "amy cli-revealed s1" {
		t.Errorf("reveals recorded: %q, want amy's of cli-revealed at s1 only", ok)
	}
}
