package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestPoisonSiteIsIsolated: with a real plugin process whose every
// message of site "bad" kills it (a setting of the site it trips on), the
// pipeline's messages of site "good", in the plugin with bad's when it
// dies, are all answered ok, bad is isolated (the plugin serves good
// without it) and good never is, though its messages shared crashes.
// Without attribution (SiteCrashLimit -1, how it was) every message of bad
// crashed the plugin 1 + pluginCrashLimit times, and every site's messages
// with it.
func TestPoisonSiteIsIsolated(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs a plugin binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "picky")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/medgate/medgate/host/internal/pluginhost/testdata/picky").CombinedOutput(); err != nil {
		t.Fatalf("build the picky plugin: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	in, err := pluginhost.Start(t.Context(), pluginhost.Spec{Name: "picky", Path: bin, SHA256: hex.EncodeToString(sum[:])}, sdktest.NewMemoryHost(), pluginhost.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HealthInterval: 20 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, CrashBackoff: 50 * time.Millisecond, CallTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for site, settings := range map[string]map[string]string{"good": {}, "bad": {"crashHandle": "1"}} {
		if diags, err := in.Configure(t.Context(), site, settings); err != nil || diags.HasError() {
			t.Fatalf("configure %s: %v %v", site, err, diags)
		}
	}
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(dir, "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := New(Options{Store: st, Publisher: &memPub{}, Topics: Topics{Replies: "replies", DLQ: "dlq"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxPayloadBytes: 1 << 10, MaxAttempts: 8, InitialBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		CallTimeout: 10 * time.Second, UploadDeadline: 30 * time.Minute, RetryBudget: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	target := &Target{Plugin: "picky", Handler: in, Operations: map[string]sdk.Operation{"picky.echo": {Type: "picky.echo"}}}
	p.SetRoutes(&Routes{Sites: map[string]map[string]*Target{"good": {"picky": target}, "bad": {"picky": target}}})

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	// wave sends 16 messages at once, half of each site, and checks
	// their replies.
	wave := func(n int) {
		t.Helper()
		var mu sync.Mutex
		replies := map[string]*message.Reply{}
		var wg sync.WaitGroup
		for i := range 16 {
			site := "good"
			if i%2 == 0 {
				site = "bad"
			}
			id := fmt.Sprintf("%s-%d-%d", site, n, i)
			wg.Go(func() {
				v := `{"id":"` + id + `","site":"` + site + `","type":"picky.echo","payload":{"n":1}}`
				r, err := p.Process(ctx, Input{Value: []byte(v), Key: id})
				if err != nil {
					t.Errorf("%s: %v", id, err)
				}
				mu.Lock()
				replies[id] = r
				mu.Unlock()
			})
		}
		wg.Wait()
		for id, r := range replies {
			switch {
			case r == nil:
			case strings.HasPrefix(id, "good") && r.Status != message.StatusOK:
				t.Errorf("%s: %s %+v; want ok: the good site's messages must not pay for the bad one's", id, r.Status, r.Errors)
			case strings.HasPrefix(id, "bad") && r.Status != message.StatusFailed:
				t.Errorf("%s: %s; want failed (crashed the plugin, or its site isolated)", id, r.Status)
			}
		}
	}
	wave(1)
	// The last crash's relaunch may still be under way.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if running, _, _ := in.Status(); running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the plugin was not running again 30s after the first wave")
		}
		time.Sleep(5 * time.Millisecond) // polling the supervisor
	}
	_, restarts, _ := in.Status()
	if got := slices.Sorted(maps.Keys(in.Isolated())); !slices.Equal(got, []string{"bad"}) {
		t.Fatalf("isolated sites %v after %d relaunches, want [bad]: its messages keep crashing the plugin for every site", got, restarts)
	}
	// Stopped one by one, bad's 8 messages would take 8 ×
	// (1 + pluginCrashLimit) crashes: isolation takes fewer.
	if most := 8 * (1 + DefaultCrashLimit); restarts >= most {
		t.Errorf("the plugin was relaunched %d times, want fewer than %d", restarts, most)
	}
	// Isolated, bad's next messages no longer reach the plugin: no crash.
	wave(2)
	if _, again, _ := in.Status(); again != restarts {
		t.Errorf("the plugin was relaunched %d times more with the bad site isolated, want none", again-restarts)
	}
}
