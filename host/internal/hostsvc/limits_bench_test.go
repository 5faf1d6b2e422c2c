package hostsvc

import (
	"context"
	"fmt"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// nopPublisher takes every event and keeps none.
type nopPublisher struct{}

func (nopPublisher) Send(context.Context, string, []byte, []byte, map[string]string) error {
	return nil
}

// BenchmarkLimitedWrites is the hot path of a plugin's limited writes: a
// Publish (to a producer that keeps nothing) and a journal entry held for
// its message's outcome (Defer), each taking a token of the plugin's
// buckets. "one site" is a plugin with the default limits at one site
// (allocs/op must not grow with per-site limits); "100 sites" spreads the
// writes over 100 sites with per-site buckets under the plugin's.
//
//	go test ./host/internal/hostsvc -run '^$' -bench LimitedWrites -benchmem
func BenchmarkLimitedWrites(b *testing.B) {
	// The largest rates the configuration takes, so that the loop is
	// never refused: the cost measured is that of taking the tokens.
	high := Limits{PublishPerSecond: 1_000_000, PublishBurst: 10_000_000, JournalPerSecond: 1_000_000, JournalBurst: 10_000_000, StateValueBytes: 1 << 20}
	perSite := high
	setPerSite(&perSite, 1_000_000, 10_000_000)
	cases := []struct {
		name   string
		limits Limits
		sites  int
	}{
		{"one site", high, 1},
		{"100 sites", perSite, 100},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s := New(nil, "medgate.events")
			s.SetPublisher(nopPublisher{})
			s.SetLimits(map[string]Limits{"p": tc.limits})
			h := s.For("p")
			sites := make([]string, tc.sites)
			for i := range sites {
				sites[i] = fmt.Sprintf("s%03d", i)
			}
			ctx := b.Context()
			ev := sdk.Event{ID: "e1", Type: "p.tick", Key: "k"}
			x := sdk.Exchange{MessageID: "m1", System: "sys", Code: "C1", Status: "ok"}
			take := s.Defer("p", "m1")
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				site := sites[i%len(sites)]
				if i%1024 == 0 {
					take()
					take = s.Defer("p", "m1")
				}
				i++
				if err := h.Publish(ctx, site, ev); err != nil {
					b.Fatal(err)
				}
				if _, err := h.Journal(ctx, site, x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// setPerSite gives every site of l a bucket of rate and burst, for events
// and journal entries.
func setPerSite(l *Limits, rate, burst int) {
	l.PerSitePublishPerSecond, l.PerSitePublishBurst = rate, burst
	l.PerSiteJournalPerSecond, l.PerSiteJournalBurst = rate, burst
}
