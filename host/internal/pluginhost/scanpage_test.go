package pluginhost

import (
	"context"
	"errors"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// pager answers scans one entry a page and notes that it did.
type pager struct {
	*sdktest.MemoryHost
	called bool
}

func (p *pager) ScanPage(ctx context.Context, site, prefix, after string, _ int, _ map[string]int64) ([]sdk.Entry, bool, error) {
	p.called = true
	es, err := p.Scan(ctx, site, prefix, 0)
	for i, e := range es {
		if e.Key > after {
			return es[i : i+1], i < len(es)-1, err
		}
	}
	return nil, false, err
}

// TestGuardPassesScanPageOn: a paged scan reaches the host services'
// pages through the guard, only for a site the plugin serves; host
// services without pages answer the first page whole, and a request to
// continue one they never paged is refused as a broken contract.
func TestGuardPassesScanPageOn(t *testing.T) {
	t.Parallel()
	p := &pager{MemoryHost: sdktest.NewMemoryHost()}
	for _, k := range []string{"k/1", "k/2"} {
		if _, err := p.Put(t.Context(), "s1", k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	serves := func(site string) bool { return site == "s1" }
	var g sdkhost.HostServer = guard{HostServer: p, plugin: "ledger", serves: serves}
	es, more, err := g.(sdkhost.PagedScanServer).ScanPage(t.Context(), "s1", "k/", "", 0, nil)
	if err != nil || len(es) != 1 || es[0].Key != "k/1" || !more || !p.called {
		t.Errorf("ScanPage through the guard = %+v, more %v, %v (host's ScanPage called: %v); want k/1 and more from the host's pages", es, more, err, p.called)
	}
	if _, _, err := g.(sdkhost.PagedScanServer).ScanPage(t.Context(), "s2", "k/", "", 0, nil); !errors.Is(err, ErrSiteNotServed) {
		t.Errorf("ScanPage for a site not served: %v, want ErrSiteNotServed", err)
	}
	g = guard{HostServer: p.MemoryHost, plugin: "ledger", serves: serves}
	es, more, err = g.(sdkhost.PagedScanServer).ScanPage(t.Context(), "s1", "k/", "", 0, nil)
	if err != nil || len(es) != 2 || more {
		t.Errorf("ScanPage through the guard of host services without pages = %+v, more %v, %v; want k/1, k/2 and no more", es, more, err)
	}
	if _, _, err := g.(sdkhost.PagedScanServer).ScanPage(t.Context(), "s1", "k/", "k/1", 0, nil); !errors.Is(err, ErrContract) {
		t.Errorf("continuing a scan host services without pages never paged: %v, want ErrContract", err)
	}
}
