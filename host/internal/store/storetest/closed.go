package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
)

// testClosed: after Close, every method fails with an error that
// errors.Is store.ErrClosed (so that a request answered at shutdown is
// told the store is unavailable rather than failing as a fault), and a
// second Close does nothing.
func testClosed(t *testing.T, s store.Store) {
	ctx := t.Context()
	begin(t, s, store.Message{ID: "m1", Site: "s1", Type: "p.op", Request: []byte(`{}`)})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close again: %v, want nil (it does nothing)", err)
	}
	since := time.Now().Add(-time.Hour)
	calls := map[string]func() error{
		"BeginMessage": func() error { _, _, err := s.BeginMessage(ctx, store.Message{ID: "m2"}); return err },
		"GetMessage":   func() error { _, err := s.GetMessage(ctx, "m1"); return err },
		"AddAttempt":   func() error { _, err := s.AddAttempt(ctx, "m1"); return err },
		"FinishMessage": func() error {
			return s.FinishMessage(ctx, "m1", "ok", []byte(`{}`), 1, store.Exchange{MessageID: "m1", Code: "X"})
		},
		"FinishAndBegin": func() error {
			_, _, err := s.FinishAndBegin(ctx, "m1", "ok", nil, 1, store.Message{ID: "m2"})
			return err
		},
		"RecordFinished": func() error {
			_, err := s.RecordFinished(ctx, store.Message{ID: "m3", Outcome: "ok"})
			return err
		},
		"ReopenMessage": func() error { _, err := s.ReopenMessage(ctx, "m1"); return err },
		"RestoreFailed": func() error {
			_, err := s.RestoreFailed(ctx, &store.Message{ID: "m1", UpdatedAt: since})
			return err
		},
		"Prune":          func() error { _, _, err := s.Prune(ctx, since, since); return err },
		"OldestPending":  func() error { _, _, err := s.OldestPending(ctx); return err },
		"ListMessages":   func() error { _, err := s.ListMessages(ctx, "", "", "", 0); return err },
		"SearchMessages": func() error { _, _, err := s.SearchMessages(ctx, store.MessageQuery{}); return err },
		"CountMessages":  func() error { _, err := s.CountMessages(ctx); return err },
		"AppendExchange": func() error { _, err := s.AppendExchange(ctx, store.Exchange{MessageID: "m1"}); return err },
		"ListExchanges":  func() error { _, err := s.ListExchanges(ctx, store.ExchangeFilter{}); return err },
		"StateGet":       func() error { _, err := s.StateGet(ctx, "p/s1", "k"); return err },
		"StatePut":       func() error { _, err := s.StatePut(ctx, "p/s1", "k", []byte("v")); return err },
		"StateCAS":       func() error { _, err := s.StateCAS(ctx, "p/s1", "k", 0, []byte("v")); return err },
		"StateScan":      func() error { _, err := s.StateScan(ctx, "p/s1", "", 0); return err },
		"StateDelete":    func() error { return s.StateDelete(ctx, "p/s1", "k") },
		"PutBatch": func() error {
			return s.PutBatch(ctx, store.Batch{Plugin: "p", Site: "s1", Job: "j", BatchID: "b", Step: "fetched"})
		},
		"OpenBatches": func() error { _, err := s.OpenBatches(ctx, "p", "s1", "j"); return err },
		"AcquireLease": func() error {
			_, _, err := s.AcquireLease(ctx, "l", "h", time.Minute, time.Now())
			return err
		},
		"ReleaseLease":    func() error { return s.ReleaseLease(ctx, "l", "h") },
		"NextSequence":    func() error { _, err := s.NextSequence(ctx, "q"); return err },
		"ReserveSequence": func() error { _, err := s.ReserveSequence(ctx, "q", 2); return err },
		"CreateUser": func() error {
			return s.CreateUser(ctx, store.User{Name: "u", Role: "operator", PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"})
		},
		"UpdateUser": func() error { return s.UpdateUser(ctx, store.User{Name: "u", Role: "operator"}) },
		"GetUser":    func() error { _, err := s.GetUser(ctx, "u"); return err },
		"ListUsers":  func() error { _, err := s.ListUsers(ctx); return err },
		"CountUsers": func() error { _, err := s.CountUsers(ctx); return err },
		"AppendAudit": func() error {
			_, err := s.AppendAudit(ctx, store.AuditEntry{Actor: "u", Action: "login", Outcome: "ok"})
			return err
		},
		"ListAudit": func() error { _, err := s.ListAudit(ctx, store.AuditFilter{}); return err },
		"Ping":      func() error { return s.Ping(ctx) },
	}
	// The engines' methods outside Store that the host asks for by interface.
	if sw, ok := s.(interface {
		StateWrites(ctx context.Context, ns string, writes []store.StateWrite) ([]int64, error)
	}); ok {
		calls["StateWrites"] = func() error {
			_, err := sw.StateWrites(ctx, "p/s1", []store.StateWrite{{Key: "k", Value: []byte("v")}})
			return err
		}
	}
	if sk, ok := s.(interface {
		StateKeys(ctx context.Context, ns, prefix string, limit int) ([]store.StateEntry, error)
	}); ok {
		calls["StateKeys"] = func() error { _, err := sk.StateKeys(ctx, "p/s1", "", 0); return err }
	}
	if sa, ok := s.(interface {
		StateScanAfter(ctx context.Context, ns, prefix, after string, limit int) ([]store.StateEntry, error)
	}); ok {
		calls["StateScanAfter"] = func() error { _, err := sa.StateScanAfter(ctx, "p/s1", "", "a", 0); return err }
	}
	if rk, ok := s.(store.Rekeyer); ok {
		calls["Rekey"] = func() error { _, err := rk.Rekey(ctx); return err }
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, store.ErrClosed) {
				t.Errorf("%s after Close = %v, want an error that is store.ErrClosed", name, err)
			}
		})
	}
}
