package pipeline

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/medgate/medgate/host/internal/hostsvc"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// journaling is a plugin that journals one exchange through the host
// services on every call, then answers with the next of answers.
type journaling struct {
	t       *testing.T
	host    func() (store.Store, *hostsvc.Services)
	answers []func(*sdk.HandleRequest) (*sdk.HandleResponse, error)
	// during, when set, runs after the exchange is journaled.
	during func(call int, req *sdk.HandleRequest)

	mu    sync.Mutex
	calls int
}

func (j *journaling) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	j.mu.Lock()
	call := j.calls
	j.calls++
	j.mu.Unlock()
	_, svc := j.host()
	id, err := svc.For("x").Journal(ctx, "s1", sdk.Exchange{MessageID: req.MessageID, System: "ext", Code: "C1",
		Serial: "S" + string(rune('0'+call)), Request: []byte(`{"q":1}`), Response: []byte(`{"a":1}`), Status: "ok"})
	if err != nil {
		j.t.Errorf("Journal during call %d: %v", call, err)
	}
	if id != 0 {
		j.t.Errorf("Journal during call %d returned id %d; want 0 (held for the outcome, not stored during the call)", call, id)
	}
	if j.during != nil {
		j.during(call, req)
	}
	return j.answers[min(call, len(j.answers)-1)](req)
}

// journalProc is newProc with the host services holding the journal.
func journalProc(t *testing.T, j *journaling) (*Processor, *memPub, store.Store, *hostsvc.Services) {
	t.Helper()
	p, pub, st := newProc(t, j, false)
	svc := hostsvc.New(st, "events")
	p.opts.Journal = svc
	j.t, j.host = t, func() (store.Store, *hostsvc.Services) { return st, svc }
	return p, pub, st, svc
}

func journalOf(t *testing.T, st store.Store, id string) []store.Exchange {
	t.Helper()
	es, err := st.ListExchanges(t.Context(), store.ExchangeFilter{MessageID: id})
	if err != nil {
		t.Fatalf("ListExchanges(%s): %v", id, err)
	}
	return es
}

// TestJournalStoredWithOutcome: a journal entry made during the call is not
// written to the store during the call, and is stored with the outcome:
// once the outcome can be read, so can the entry. The Stored hook sees the
// outcome stored and the reply not yet published.
func TestJournalStoredWithOutcome(t *testing.T) {
	t.Parallel()
	j := &journaling{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
	p, pub, st, _ := journalProc(t, j)
	j.during = func(_ int, req *sdk.HandleRequest) {
		if es := journalOf(t, st, req.MessageID); len(es) != 0 {
			t.Errorf("journal of %s during the call = %d entries; want none yet (held for the outcome)", req.MessageID, len(es))
		}
	}
	var hooked []string
	p.opts.Stored = func(r *message.Reply, _ []byte) {
		m, err := st.GetMessage(context.Background(), r.RequestID)
		if err != nil || m.Status != store.StatusDone {
			t.Errorf("Stored hook: message %s = %+v, %v; want its outcome stored", r.RequestID, m, err)
		}
		if es := journalOf(t, st, r.RequestID); len(es) != 1 {
			t.Errorf("Stored hook: journal of %s = %d entries; want 1, stored with the outcome", r.RequestID, len(es))
		}
		if n := len(pub.on("replies")); n != 0 {
			t.Errorf("Stored hook: %d replies published already; want the hook before the reply", n)
		}
		hooked = append(hooked, r.RequestID)
	}
	r, err := p.Process(t.Context(), Input{Value: msg("j1", "x.do"), Key: "k1"})
	if err != nil || r.Status != message.StatusOK {
		t.Fatalf("Process = %+v, %v; want ok", r, err)
	}
	es := journalOf(t, st, "j1")
	if len(es) != 1 || es[0].Serial != "S0" || es[0].Plugin != "x" || es[0].Site != "s1" || string(es[0].Request) != `{"q":1}` {
		t.Errorf("journal of j1 = %+v; want the call's one entry", es)
	}
	if len(hooked) != 1 || hooked[0] != "j1" {
		t.Errorf("Stored hook called for %v; want [j1]", hooked)
	}
	if n := len(pub.on("replies")); n != 1 {
		t.Errorf("%d replies published; want 1", n)
	}
}

// TestJournalOfRetriedCallStoredBeforeNextTry: the entries of a call that
// gave no outcome (a retryable failure, or a call that failed as when the
// plugin process dies) are stored before the message is tried again.
func TestJournalOfRetriedCallStoredBeforeNextTry(t *testing.T) {
	t.Parallel()
	for name, first := range map[string]func(*sdk.HandleRequest) (*sdk.HandleResponse, error){"retryable": transient, "call failed": broken} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			j := &journaling{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){first, ok}}
			p, _, st, _ := journalProc(t, j)
			j.during = func(call int, req *sdk.HandleRequest) {
				if call == 1 {
					if es := journalOf(t, st, req.MessageID); len(es) != 1 || es[0].Serial != "S0" {
						t.Errorf("journal at the second call = %+v; want the first call's entry stored", es)
					}
				}
			}
			if r, err := p.Process(t.Context(), Input{Value: msg("j2", "x.do"), Key: "k2"}); err != nil || r.Status != message.StatusOK {
				t.Fatalf("Process = %+v, %v; want ok", r, err)
			}
			if es := journalOf(t, st, "j2"); len(es) != 2 {
				t.Errorf("journal of j2 = %d entries; want 2 (one per call)", len(es))
			}
		})
	}
}

// failingFinish is a store whose FinishMessage fails.
type failingFinish struct{ store.Store }

func (failingFinish) FinishMessage(context.Context, string, string, []byte, int, ...store.Exchange) error {
	return errors.New("disk full")
}

// TestJournalKeptWhenOutcomeNotStored: when the outcome cannot be stored
// the message stays pending, and the entries are still stored on their own.
// A call cut short by shutdown keeps its entries too.
func TestJournalKeptWhenOutcomeNotStored(t *testing.T) {
	t.Parallel()
	t.Run("finish fails", func(t *testing.T) {
		j := &journaling{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
		p, _, st, _ := journalProc(t, j)
		p.store = failingFinish{st}
		if _, err := p.Process(t.Context(), Input{Value: msg("j3", "x.do"), Key: "k3"}); err == nil {
			t.Fatal("Process succeeded with a store that cannot finish; want an error")
		}
		if m, err := st.GetMessage(t.Context(), "j3"); err != nil || m.Status == store.StatusDone {
			t.Errorf("message j3 = %+v, %v; want pending", m, err)
		}
		if es := journalOf(t, st, "j3"); len(es) != 1 {
			t.Errorf("journal of j3 = %d entries; want 1", len(es))
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		j := &journaling{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
		p, _, st, _ := journalProc(t, j)
		j.during = func(int, *sdk.HandleRequest) { cancel() }
		if _, err := p.Process(ctx, Input{Value: msg("j4", "x.do"), Key: "k4"}); !errors.Is(err, ErrStopped) {
			t.Fatalf("Process = %v; want ErrStopped", err)
		}
		if es := journalOf(t, st, "j4"); len(es) != 1 {
			t.Errorf("journal of j4 = %d entries; want 1", len(es))
		}
	})
}
