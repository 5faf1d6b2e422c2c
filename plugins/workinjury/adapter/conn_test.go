package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestConnectionsReused: queries sent side by side reuse the connections
// to the national system instead of dialling one per call (net/http keeps
// only 2 idle connections per host unless told otherwise, which cost a
// dial per call beyond the second, a TLS handshake over HTTPS).
func TestConnectionsReused(t *testing.T) {
	t.Parallel()
	const parallel, rounds = 8, 4
	var sim atomic.Pointer[wisim.Server]
	var dialled, arrived atomic.Int64
	// Each round's queries are answered only once all of them have
	// arrived, so that they are really in flight side by side.
	var gates [rounds]chan struct{}
	for i := range gates {
		gates[i] = make(chan struct{})
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := arrived.Add(1)
		round := (n - 1) / parallel
		if round < rounds {
			if n%parallel == 0 {
				close(gates[round])
			}
			select {
			case <-gates[round]:
			case <-r.Context().Done():
			}
		}
		sim.Load().ServeHTTP(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialled.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	filing := wisim.SampleFiling("CR", 1, "350200")
	e := newEnv(t, withSettings(setURL, srv.URL+"/gsyd"), withSeed(func(s *wisim.Server) { s.AddFiling(filing) }))
	sim.Store(e.sim)
	payload, err := json.Marshal(map[string]any{"aac002": filing["aac002"], "aac003": filing["aac003"], "akb020": hospital, "visit_date": time.Now().Format("2006-01-02")})
	if err != nil {
		t.Fatal(err)
	}
	for round := range rounds {
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Go(func() {
				r, err := e.p.Handle(context.Background(), &sdk.HandleRequest{Site: testSite, Type: Name + ".GYD051", MessageID: fmt.Sprintf("conn-%d-%d", round, i),
					Format: "json", Payload: payload, Attempt: 1, Deadline: time.Now().Add(time.Minute)})
				if err != nil || r.Status != sdk.StatusOK {
					t.Errorf("GYD051 %d-%d: %v %+v", round, i, err, r)
				}
			})
		}
		wg.Wait()
	}
	if n := dialled.Load(); n > parallel {
		t.Errorf("%d rounds of %d queries side by side opened %d connections to the national system; want at most %d (one per query in flight)", rounds, parallel, n, parallel)
	}
}
