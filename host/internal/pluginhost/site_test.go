package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/medgate/medgate/host/internal/artifact"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// unreachable is host services that fail the test if any call reaches
// them.
type unreachable struct{ t testing.TB }

func (u unreachable) reached(call, site string) error {
	u.t.Helper()
	u.t.Errorf("%s for site %q reached the host services", call, site)
	return errors.New("reached")
}
func (u unreachable) Get(_ context.Context, site, _ string) (sdk.Entry, error) {
	return sdk.Entry{}, u.reached("Get", site)
}
func (u unreachable) Put(_ context.Context, site, _ string, _ []byte) (int64, error) {
	return 0, u.reached("Put", site)
}
func (u unreachable) CompareAndSet(_ context.Context, site, _ string, _ int64, _ []byte) (int64, error) {
	return 0, u.reached("CompareAndSet", site)
}
func (u unreachable) Scan(_ context.Context, site, _ string, _ int) ([]sdk.Entry, error) {
	return nil, u.reached("Scan", site)
}
func (u unreachable) Delete(_ context.Context, site, _ string) error {
	return u.reached("Delete", site)
}
func (u unreachable) NextSequence(_ context.Context, site, _ string) (int64, error) {
	return 0, u.reached("NextSequence", site)
}
func (u unreachable) Publish(_ context.Context, site string, _ sdk.Event) error {
	return u.reached("Publish", site)
}
func (u unreachable) Journal(_ context.Context, site string, _ sdk.Exchange) (int64, error) {
	return 0, u.reached("Journal", site)
}
func (u unreachable) NextSequenceGaps(_ context.Context, site, _ string) (int64, int64, error) {
	return 0, 0, u.reached("NextSequenceGaps", site)
}
func (u unreachable) ScanKnown(_ context.Context, site, _ string, _ int, _ map[string]int64) ([]sdk.Entry, error) {
	return nil, u.reached("ScanKnown", site)
}
func (u unreachable) WriteState(_ context.Context, site string, _ []sdk.StateWrite) ([]int64, error) {
	return nil, u.reached("WriteState", site)
}

// guardCalls are the host services a plugin reaches through the guard.
var guardCalls = map[string]func(ctx context.Context, g guard, site string) error{
	"state get": func(ctx context.Context, g guard, site string) error { _, err := g.Get(ctx, site, "k"); return err },
	"state put": func(ctx context.Context, g guard, site string) error {
		_, err := g.Put(ctx, site, "k", nil)
		return err
	},
	"state compare-and-set": func(ctx context.Context, g guard, site string) error {
		_, err := g.CompareAndSet(ctx, site, "k", 0, nil)
		return err
	},
	"state scan": func(ctx context.Context, g guard, site string) error { _, err := g.Scan(ctx, site, "", 0); return err },
	"state scan (known)": func(ctx context.Context, g guard, site string) error {
		_, err := g.ScanKnown(ctx, site, "", 0, nil)
		return err
	},
	"state delete": func(ctx context.Context, g guard, site string) error { return g.Delete(ctx, site, "k") },
	"next sequence": func(ctx context.Context, g guard, site string) error {
		_, err := g.NextSequence(ctx, site, "n")
		return err
	},
	"next sequence (gaps)": func(ctx context.Context, g guard, site string) error {
		_, _, err := g.NextSequenceGaps(ctx, site, "n")
		return err
	},
	"state write": func(ctx context.Context, g guard, site string) error {
		_, err := g.WriteState(ctx, site, []sdk.StateWrite{{Key: "k", Put: true}})
		return err
	},
	"publish": func(ctx context.Context, g guard, site string) error {
		return g.Publish(ctx, site, sdk.Event{Type: "ledger.tick"})
	},
	"journal": func(ctx context.Context, g guard, site string) error {
		_, err := g.Journal(ctx, site, sdk.Exchange{System: "x"})
		return err
	},
	"put artifact": func(ctx context.Context, g guard, site string) error {
		_, err := g.PutArtifact(ctx, site, sdk.Artifact{Name: "a"}, strings.NewReader("x"))
		return err
	},
}

// TestGuardRefusesSitesNotServed: every host service a plugin calls for
// a site it does not serve is refused before it reaches the host
// services, with an error that names the plugin, the site and the fix,
// and reaches the plugin as PermissionDenied.
func TestGuardRefusesSitesNotServed(t *testing.T) {
	t.Parallel()
	served := func(site string) bool { return site == "h1" }
	for name, call := range guardCalls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, g := range []guard{
				{HostServer: unreachable{t}, plugin: "ledger", serves: served},
				{HostServer: unreachable{t}, plugin: "ledger"}, // serves nothing
			} {
				err := call(t.Context(), g, "h2")
				var se *SiteError
				if !errors.As(err, &se) || !errors.Is(err, ErrSiteNotServed) {
					t.Fatalf("err = %v, want a *SiteError", err)
				}
				if se.Plugin != "ledger" || se.Site != "h2" || se.Call != strings.Split(name, " (")[0] {
					t.Errorf("SiteError = %+v, want plugin ledger, site h2, call %s", se, name)
				}
				for _, want := range []string{`plugin "ledger"`, `site "h2"`, "not enabled", "enable it there in the configuration"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
				if c := status.Code(err); c != codes.PermissionDenied {
					t.Errorf("gRPC code %s, want PermissionDenied", c)
				}
			}
		})
	}
	// The site it serves is passed on.
	dir := t.TempDir()
	arts, err := artifact.New(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	g := guard{HostServer: sdktest.NewMemoryHost(), plugin: "ledger", serves: served, artifacts: arts}
	for name, call := range guardCalls {
		if err := call(t.Context(), g, "h1"); err != nil && !errors.Is(err, sdk.ErrNotFound) && !errors.Is(err, sdk.ErrConflict) {
			t.Errorf("%s for the served site: %v", name, err)
		}
	}
}

// TestPluginActsOnlyForItsSites runs a plugin process that keeps the
// host services of every site it was configured for and uses them while
// handling another site's message: it reaches the state, sequences,
// events, journal and artifacts of the sites it is enabled at, and of no
// other (a site it was disabled at, once the journal grace has passed; a
// site whose configuration it refused), while a call the host makes for a site the plugin was
// disabled at meanwhile finishes with the host services of that site.
func TestPluginActsOnlyForItsSites(t *testing.T) {
	t.Parallel()
	path, sum := buildPlugin(t, "github.com/medgate/medgate/host/internal/pluginhost/testdata/sitehop")
	mem := sdktest.NewMemoryHost()
	artDir := t.TempDir()
	arts, err := artifact.New(artDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	in, err := Start(t.Context(), Spec{Name: "sitehop", Path: path, SHA256: sum}, mem, Options{Logger: quiet, Artifacts: arts, now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for _, site := range []string{"h1", "h2"} {
		if diags, err := in.Configure(t.Context(), site, map[string]string{}); err != nil || diags.HasError() {
			t.Fatalf("configure %s: %v %v", site, err, diags)
		}
	}
	// h9's configuration is refused: the plugin saw it, the host does not
	// serve it.
	if diags, err := in.Configure(t.Context(), "h9", map[string]string{"refuse": "yes"}); err != nil || !diags.HasError() {
		t.Fatalf("configure h9: %v %v, want refused", err, diags)
	}
	use := func(site, via, call string) string {
		t.Helper()
		r, err := in.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: "sitehop.use", MessageID: "m-" + site + "-" + via + "-" + call, Key: "k",
			Payload: []byte(`{"via":"` + via + `","call":"` + call + `"}`), Attempt: 1})
		if err != nil || r.Status != sdk.StatusOK {
			t.Fatalf("handle %s via %s %s: %v %+v", site, via, call, err, r)
		}
		var out struct{ Err string }
		if err := json.Unmarshal(r.Payload, &out); err != nil {
			t.Fatal(err)
		}
		return out.Err
	}
	if e := use("h1", "h2", "put"); e != "" {
		t.Fatalf("h1's message writing h2's state while enabled at both: %s", e)
	}
	in.Forget("h2") // disabled at h2
	clock.Advance(DefaultJournalGrace)
	calls := []string{"get", "put", "cas", "scan", "scanknown", "delete", "seq", "seqgaps", "publish", "journal", "write", "artifact"}
	for _, via := range []string{"h2", "h9"} {
		for _, call := range calls {
			e := use("h1", via, call)
			for _, want := range []string{`plugin \"sitehop\"`, `site \"` + via + `\"`, "not enabled", "enable it there in the configuration"} {
				if !strings.Contains(strings.ReplaceAll(e, `"`, `\"`), want) {
					t.Errorf("%s for %s from h1's message: error %q lacks %s", call, via, e, want)
				}
			}
		}
	}
	// Nothing of h2 or h9 was read or written after the first put.
	for _, site := range []string{"h2", "h9"} {
		es, _ := mem.Scan(t.Context(), site, "", 0)
		if site == "h2" && (len(es) != 1 || es[0].Key != "k" || es[0].Version != 1) || site == "h9" && len(es) != 0 {
			t.Errorf("state of %s = %+v", site, es)
		}
		if n, _ := mem.NextSequence(t.Context(), site, "n"); n != 1 {
			t.Errorf("sequence n of %s was drawn %d times", site, n-1)
		}
	}
	if evs, xs := mem.Events(), mem.Exchanges(); len(evs) != 0 || len(xs) != 0 {
		t.Errorf("events %+v, journal %+v; want none", evs, xs)
	}
	if files, _ := os.ReadDir(artDir); len(files) != 0 {
		t.Errorf("artifacts stored: %v", files)
	}
	// Its own sites keep working, and a message of h2 the host hands it
	// (one in flight as the reload disabled h2) finishes with h2's
	// services.
	for _, call := range calls {
		if e := use("h1", "", call); e != "" && !strings.Contains(e, "not found") {
			t.Errorf("%s for h1's own message: %s", call, e)
		}
		if e := use("h2", "", call); e != "" && !strings.Contains(e, "not found") {
			t.Errorf("%s for h2's message in flight: %s", call, e)
		}
	}
	if got, want := in.Sites(), []string{"h1"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("Sites = %v, want %v", got, want)
	}
}

var _ sdkhost.HostServer = unreachable{}
