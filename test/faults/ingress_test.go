package faults

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
)

// post sends one message to POST /v1/messages and gives up after wait.
func post(addr, body string, wait time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/messages", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// ledgerLines counts the lines of the ledger plugin's file naming id.
func ledgerLines(t *testing.T, dir, file, id string) int {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, file))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.SplitN(sc.Text(), "\t", 2)[0] == id {
			n++
		}
	}
	return n
}

// TestHTTPMessagesAreCompletedByTheCluster: a message accepted over HTTP is
// completed whatever happens to its client or to the instance that took
// it: a client that gives up early still gets its outcome stored and
// published, and when the instance dies mid-message another instance of
// the group finishes it, with one effect.
func TestHTTPMessagesAreCompletedByTheCluster(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{instances: 1, postgres: true})
	ledger := c.cfg.LedgerDir()

	// The client gives up after 300ms; the message takes 2s.
	if code, err := post(c.nodes[0].HTTPAddr, `{"id":"http-gave-up","site":"s1","type":"ledger.slow","payload":{"seq":1,"ms":2000}}`, 300*time.Millisecond); err == nil {
		t.Fatalf("the client got HTTP %d before its 300ms timeout; the test proves nothing", code)
	}
	if r := c.p.Replies([]string{"http-gave-up"}, time.Minute)["http-gave-up"]; r.Status != "ok" {
		t.Fatalf("message whose client gave up: %+v, want ok", r)
	}

	// The instance dies while the message is at the plugin; a second
	// instance of the group completes it.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = post(c.nodes[0].HTTPAddr, `{"id":"http-orphan","site":"s1","type":"ledger.slow","payload":{"seq":2,"ms":1500}}`, time.Minute)
	}()
	harness.Eventually(t, 30*time.Second, "the plugin to get http-orphan", func() bool { return ledgerLines(t, ledger, "calls.log", "http-orphan") > 0 })
	c.nodes[0].Kill()
	<-done
	c.paths = append(c.paths, c.writeNode(1))
	c.nodes = append(c.nodes, harness.Start(t, c.bins, c.paths[1]))
	if r := c.p.Replies([]string{"http-orphan"}, 2*time.Minute)["http-orphan"]; r.Status != "ok" {
		t.Fatalf("message of the dead instance: %+v, want ok", r)
	}
	for _, id := range []string{"http-gave-up", "http-orphan"} {
		if n := ledgerLines(t, ledger, "effects.log", id); n != 1 {
			t.Errorf("%s: %d effects, want exactly 1", id, n)
		}
	}
	// A client asking again with the same id gets the stored outcome.
	if code, err := post(c.nodes[1].HTTPAddr, `{"id":"http-orphan","site":"s1","type":"ledger.slow","payload":{"seq":2,"ms":1500}}`, 30*time.Second); err != nil || code != http.StatusOK {
		t.Errorf("asking again: HTTP %d, %v; want 200 with the stored reply", code, err)
	}
	if n := ledgerLines(t, ledger, "effects.log", "http-orphan"); n != 1 {
		t.Errorf("after asking again: %d effects, want 1", n)
	}
}
