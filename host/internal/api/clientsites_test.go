package api

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
)

// siteBackend answers every message ok and records the sites of the
// messages it was given to process.
type siteBackend struct {
	fakeBackend
	mu    sync.Mutex
	sites []string
}

func (b *siteBackend) Process(_ context.Context, in pipeline.Input) (*message.Reply, error) {
	env, _ := message.Parse(in.Value)
	b.mu.Lock()
	b.sites = append(b.sites, env.Site)
	b.mu.Unlock()
	return &message.Reply{Status: message.StatusOK, Site: env.Site}, nil
}

// TestIngressClientSites: an ingress client bound to sites (http.clients[].sites)
// may send messages only for them: a message claiming another site (the
// site field alone, or written twice so that one decoder could read the
// allowed one and the pipeline the other) is refused with 403 before
// anything is queued, so one hospital's HIS token cannot act at another
// site with that site's keys and read its patients' data. A client bound
// to no site, and a message without a site (answered invalid by the
// pipeline, nothing sent out), are served as before.
func TestIngressClientSites(t *testing.T) {
	t.Parallel()
	clients := []Client{
		{Name: "cashier-h1", Token: "cashier-h1-secret", Sites: []string{"h1"}},
		{Name: "region", Token: "region-secret-token", Sites: []string{"h1", "h2"}},
		{Name: "platform", Token: "platform-secret-token"},
	}
	cases := map[string]struct {
		token, body string
		code        int
		processed   string // the site processed; "-" none
	}{
		"own site":             {"cashier-h1-secret", `{"id":"m1","site":"h1","type":"ledger.noop","payload":{}}`, 200, "h1"},
		"another site":         {"cashier-h1-secret", `{"id":"m2","site":"h2","type":"ledger.noop","payload":{}}`, 403, "-"},
		"site written twice":   {"cashier-h1-secret", `{"id":"m3","site":"h1","site":"h2","type":"ledger.noop","payload":{}}`, 403, "-"},
		"escaped site":         {"cashier-h1-secret", `{"id":"m4","site":"\u0068\u0032","type":"ledger.noop","payload":{}}`, 403, "-"},
		"no site":              {"cashier-h1-secret", `{"id":"m5","type":"ledger.noop","payload":{}}`, 200, ""},
		"one of its sites":     {"region-secret-token", `{"id":"m6","site":"h2","type":"ledger.noop","payload":{}}`, 200, "h2"},
		"not one of its":       {"region-secret-token", `{"id":"m7","site":"h3","type":"ledger.noop","payload":{}}`, 403, "-"},
		"unbound, any site":    {"platform-secret-token", `{"id":"m8","site":"h3","type":"ledger.noop","payload":{}}`, 200, "h3"},
		"case of another site": {"cashier-h1-secret", `{"id":"m9","site":"H1","type":"ledger.noop","payload":{}}`, 403, "-"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := &siteBackend{}
			f := newFixture(t, b, Options{Clients: clients})
			code, _, body := f.do(t, req{"POST", "/v1/messages", tc.body, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + tc.token}})
			if code != tc.code {
				t.Fatalf("HTTP %d %s, want %d", code, body, tc.code)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if tc.processed == "-" {
				if len(b.sites) != 0 {
					t.Errorf("processed for %v; want nothing queued", b.sites)
				}
				if !strings.Contains(body, "site_not_allowed") || !strings.Contains(body, "http.clients") {
					t.Errorf("body %s; want code site_not_allowed and how to allow the site (http.clients)", body)
				}
				if strings.Contains(body, "secret") {
					t.Errorf("body %s shows a token", body)
				}
				return
			}
			if len(b.sites) != 1 || b.sites[0] != tc.processed {
				t.Errorf("processed for %v; want [%s]", b.sites, tc.processed)
			}
		})
	}
}
