package sdk_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/peer"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// wireHost is a MemoryHost that notes, for each journal entry, whether it
// came by a Host.Journal call over gRPC (a server handler's context has
// the caller as peer) or with the Handle response (the host's Client
// passes it on in the host process).
type wireHost struct {
	*sdktest.MemoryHost
	mu   sync.Mutex
	rpcs []string // Serial of each entry, "rpc:" or "response:" first
}

func (h *wireHost) Journal(ctx context.Context, site string, x sdk.Exchange) (int64, error) {
	how := "response:"
	if _, ok := peer.FromContext(ctx); ok {
		how = "rpc:"
	}
	h.mu.Lock()
	h.rpcs = append(h.rpcs, how+x.Serial)
	h.mu.Unlock()
	return h.MemoryHost.Journal(ctx, site, x)
}

func (h *wireHost) ways() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.rpcs...)
}

// journaler journals one exchange per serial during Handle, of the handled
// message unless other is set, then fails if fail is set.
type journaler struct {
	probe
	serials []string
	other   string
	fail    bool
	// wait: return only once the host gave up on the call; started is
	// closed when Handle begins to wait.
	wait    bool
	started chan struct{}
	ids     []int64
}

func (j *journaler) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	j.ids = nil
	for _, s := range j.serials {
		id := req.MessageID
		if j.other != "" {
			id = j.other
		}
		got, err := req.Host.Journal(ctx, sdk.Exchange{MessageID: id, System: "x", Code: "C1", Serial: s,
			Request: []byte("req " + s), Response: []byte("resp " + s), Status: "ok"})
		if err != nil {
			return nil, err
		}
		j.ids = append(j.ids, got)
	}
	if j.fail {
		return nil, errors.New("the external answer could not be used")
	}
	if j.wait {
		close(j.started)
		<-ctx.Done()
	}
	return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
}

// TestJournalWithResponse: the journal entry of the handled message comes
// with the Handle response (no gRPC call back into the host), is in the
// host before Handle returns, and is complete. Of several, all but the
// last go by Journal calls as before, in order; an entry of another
// message, or of a Handle that fails, goes by a Journal call.
func TestJournalWithResponse(t *testing.T) {
	for name, tc := range map[string]struct {
		j       journaler
		timeout time.Duration // of the host's call
		want    []string
	}{
		// The response might reach the host after it gave up on the call.
		"deadline near":       {j: journaler{serials: []string{"S1"}}, timeout: 500 * time.Millisecond, want: []string{"rpc:S1"}},
		"host gave up":        {j: journaler{serials: []string{"S1"}, wait: true}, want: []string{"rpc:S1"}},
		"deadline far enough": {j: journaler{serials: []string{"S1"}}, timeout: time.Minute, want: []string{"response:S1"}},
		"one exchange":        {j: journaler{serials: []string{"S1"}}, want: []string{"response:S1"}},
		"three exchanges":     {j: journaler{serials: []string{"S1", "S2", "S3"}}, want: []string{"rpc:S1", "rpc:S2", "response:S3"}},
		"another message":     {j: journaler{serials: []string{"S1"}, other: "m-other"}, want: []string{"rpc:S1"}},
		"failed handle":       {j: journaler{serials: []string{"S1"}, fail: true}, want: []string{"rpc:S1"}},
		"failed after two":    {j: journaler{serials: []string{"S1", "S2"}, fail: true}, want: []string{"rpc:S1", "rpc:S2"}},
		"no external call":    {j: journaler{}, want: nil},
	} {
		t.Run(name, func(t *testing.T) {
			host := &wireHost{MemoryHost: sdktest.NewMemoryHost()}
			c := sdktest.Connect(t, &tc.j, host)
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			if tc.j.wait {
				// The host gives up (its caller's context ends) while
				// Handle waits; the plugin's context ends by the host's
				// word, so the response can never be taken. With a
				// deadline of 1.5 s instead, both ends' timers fired
				// together on a loaded machine and the host could still
				// take the response (about one run in five under -race).
				var giveUp context.CancelFunc
				ctx, giveUp = context.WithCancel(ctx)
				defer giveUp()
				tc.j.started = make(chan struct{})
				go func() {
					<-tc.j.started
					giveUp()
				}()
			}
			_, err := c.Handle(ctx, &sdk.HandleRequest{Site: "s1", Type: "probe.do", MessageID: "m1", Payload: []byte(`{}`)})
			if (tc.j.fail || tc.j.wait) != (err != nil) {
				t.Fatalf("Handle: %v", err)
			}
			if tc.j.wait {
				// The plugin sends the entry once it notices; poll for it.
				for end := time.Now().Add(10 * time.Second); len(host.ways()) == 0 && time.Now().Before(end); {
					time.Sleep(10 * time.Millisecond)
				}
			}
			if diff := cmp.Diff(tc.want, host.ways()); diff != "" {
				t.Errorf("how the entries came (-want +got):\n%s", diff)
			}
			xs := host.Exchanges()
			if len(xs) != len(tc.j.serials) {
				t.Fatalf("%d entries in the host, want %d", len(xs), len(tc.j.serials))
			}
			for i, x := range xs {
				s := tc.j.serials[i]
				msg := "m1"
				if tc.j.other != "" {
					msg = tc.j.other
				}
				want := sdktest.Journaled{Site: "s1", Exchange: sdk.Exchange{MessageID: msg, System: "x", Code: "C1", Serial: s,
					Request: []byte("req " + s), Response: []byte("resp " + s), Status: "ok"}}
				if diff := cmp.Diff(want, x); diff != "" {
					t.Errorf("entry %d (-want +got):\n%s", i, diff)
				}
			}
			// An entry of the handled message is held when its Journal
			// call returns (id 0, as sdk.Host documents); one of another
			// message is stored at once and has the host's id.
			for i, id := range tc.j.ids {
				if (tc.j.other == "") != (id == 0) {
					t.Errorf("Journal call %d returned id %d", i, id)
				}
			}
		})
	}
}

// aheadJournaler journals S1, sends it ahead (sdk.SendJournal) and then,
// as if making its next external call, waits until the host has S1; then
// it journals the serials of then, and fails if fail is set.
type aheadJournaler struct {
	probe
	host *wireHost
	then []string
	fail bool
	// seen: S1 reached the host before the next exchange was journaled.
	seen bool
}

func (j *aheadJournaler) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	journal := func(s string) error {
		_, err := req.Host.Journal(ctx, sdk.Exchange{MessageID: req.MessageID, System: "x", Code: "C1", Serial: s,
			Request: []byte("req " + s), Response: []byte("resp " + s), Status: "ok"})
		return err
	}
	if err := journal("S1"); err != nil {
		return nil, err
	}
	sdk.SendJournal(ctx, req.Host)
	sdk.SendJournal(ctx, req.Host) // nothing more is held: no second send
	// The next external call: S1 is on its way meanwhile.
	j.seen = false
	for end := time.Now().Add(10 * time.Second); !j.seen && time.Now().Before(end); {
		j.seen = len(j.host.ways()) > 0
		if !j.seen {
			time.Sleep(time.Millisecond)
		}
	}
	for _, s := range j.then {
		if err := journal(s); err != nil {
			return nil, err
		}
	}
	if j.fail {
		return nil, errors.New("the confirmation could not be used")
	}
	return &sdk.HandleResponse{Status: sdk.StatusOK}, nil
}

// TestSendJournal: an entry sent ahead reaches the host while the plugin
// makes its next external call, by a Journal call, once; the entries
// that follow come as before (the last with the response), in order; and
// every entry is in the host when Handle returns, whether it succeeded or
// failed.
func TestSendJournal(t *testing.T) {
	for name, tc := range map[string]struct {
		then []string
		fail bool
		want []string
	}{
		"confirmation":         {then: []string{"S2"}, want: []string{"rpc:S1", "response:S2"}},
		"two more":             {then: []string{"S2", "S3"}, want: []string{"rpc:S1", "rpc:S2", "response:S3"}},
		"nothing more":         {want: []string{"rpc:S1"}},
		"failed after":         {then: []string{"S2"}, fail: true, want: []string{"rpc:S1", "rpc:S2"}},
		"failed, nothing more": {fail: true, want: []string{"rpc:S1"}},
	} {
		t.Run(name, func(t *testing.T) {
			host := &wireHost{MemoryHost: sdktest.NewMemoryHost()}
			j := &aheadJournaler{host: host, then: tc.then, fail: tc.fail}
			c := sdktest.Connect(t, j, host)
			_, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: "probe.do", MessageID: "m1", Payload: []byte(`{}`)})
			if tc.fail != (err != nil) {
				t.Fatalf("Handle: %v", err)
			}
			if !j.seen {
				t.Error("S1 did not reach the host during the next external call")
			}
			// No polling here: what Handle sent is in the host when it returns.
			if diff := cmp.Diff(tc.want, host.ways()); diff != "" {
				t.Errorf("how the entries came (-want +got):\n%s", diff)
			}
			var got []string
			for _, x := range host.Exchanges() {
				got = append(got, x.Exchange.Serial)
			}
			if want := append([]string{"S1"}, tc.then...); !cmp.Equal(want, got) {
				t.Errorf("entries in the host %q, want %q", got, want)
			}
		})
	}
}
