package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/testenv"
)

var bindKey = Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}

// journalOpener reopens one database with the given options.
type journalOpener func(t *testing.T, opts ...Option) *sqlStore

// TestJournalBindingUpgrade: a journal entry written before entries were
// bound to their row (no seal id, bound to its message, plugin, site, code
// and serial) stays readable; WithRefuseUnboundJournal refuses it, naming
// the entry and the fix, and Rekey refuses it too; Rekey run without that
// option binds it to its row, after which the strict store reads it and
// Rekey answers 0.
func TestJournalBindingUpgrade(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "medgate.db")
	testJournalBindingUpgrade(t, func(t *testing.T, opts ...Option) *sqlStore {
		t.Helper()
		s, err := OpenSQLite(t.Context(), path, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return &s.sqlStore
	})
}

func TestJournalBindingUpgradePostgres(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	testJournalBindingUpgrade(t, func(t *testing.T, opts ...Option) *sqlStore {
		t.Helper()
		p, err := OpenPostgres(t.Context(), dsn, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.pool.Close() })
		return &p.sqlStore
	})
}

func testJournalBindingUpgrade(t *testing.T, open journalOpener) {
	ctx := t.Context()
	s := open(t, WithKeys(bindKey))
	old := Exchange{MessageID: "m1", Plugin: "workinjury", Site: "s1", System: "x", Code: "C1", Serial: "S1",
		Request: []byte(`{"old":"request"}`), Response: []byte(`{"old":"response"}`), Status: "ok", At: normTime(time.Now())}
	id := insertUnbound(ctx, t, s, old)
	if xs := listJournal(ctx, t, s); !bytes.Equal(xs[0].Request, old.Request) || !bytes.Equal(xs[0].Response, old.Response) {
		t.Fatalf("an entry written before schema version 7 read back as %q / %q", xs[0].Request, xs[0].Response)
	}
	s.Close()

	strict := open(t, WithKeys(bindKey), WithRefuseUnboundJournal())
	_, err := strict.ListExchanges(ctx, ExchangeFilter{MessageID: "m1"})
	if !errors.Is(err, ErrUnbound) {
		t.Fatalf("strict read of an unbound entry: %v, want ErrUnbound", err)
	}
	for _, want := range []string{fmt.Sprintf("exchange %d: request", id), "exchanges.request", "WithRefuseUnboundJournal", "/admin/store/rekey"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), `{"old"`) {
		t.Errorf("error %q shows the stored content", err)
	}
	if n, err := strict.Rekey(ctx); !errors.Is(err, ErrUnbound) {
		t.Fatalf("strict Rekey over an unbound entry: %d, %v; want ErrUnbound", n, err)
	}
	strict.Close()

	lax := open(t, WithKeys(bindKey))
	if n, err := lax.Rekey(ctx); err != nil || n != 1 {
		t.Fatalf("Rekey: %d, %v; want the unbound entry bound", n, err)
	}
	var sealID *string
	if err := lax.r.QueryRowContext(ctx, lax.d.rebind(`SELECT seal_id FROM exchanges WHERE id = ?`), id).Scan(&sealID); err != nil || sealID == nil {
		t.Fatalf("seal id after Rekey: %v, %v; want one", sealID, err)
	}
	lax.Close()

	strict = open(t, WithKeys(bindKey), WithRefuseUnboundJournal())
	defer strict.Close()
	if n, err := strict.Rekey(ctx); err != nil || n != 0 {
		t.Fatalf("strict Rekey after a full Rekey: %d, %v; want 0", n, err)
	}
	if xs := listJournal(ctx, t, strict); !bytes.Equal(xs[0].Request, old.Request) || !bytes.Equal(xs[0].Response, old.Response) {
		t.Fatalf("the entry bound by Rekey read back as %q / %q", xs[0].Request, xs[0].Response)
	}
	// Bound now: changing its status makes it unreadable.
	if _, err := strict.exec(ctx, `UPDATE exchanges SET status = 'rejected' WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := strict.ListExchanges(ctx, ExchangeFilter{MessageID: "m1"}); !errors.Is(err, ErrKey) {
		t.Fatalf("the bound entry with its status changed: %v, want ErrKey", err)
	}
}

// insertUnbound inserts e as a store before schema version 7 did: no seal
// id, its bodies bound to its message, plugin, site, code and serial.
func insertUnbound(ctx context.Context, t *testing.T, s *sqlStore, e Exchange) int64 {
	t.Helper()
	req, err := s.seal.seal(exchangeAAD("request", "", e), e.Request)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.seal.seal(exchangeAAD("response", "", e), e.Response)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	err = s.writeRow(ctx, `INSERT INTO exchanges (message_id, plugin, site, system, code, serial, request, response, status, error, duration_ms, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		e.MessageID, e.Plugin, e.Site, e.System, e.Code, e.Serial, req, resp, e.Status, e.Error, e.DurationMS, s.d.encodeTime(e.At)).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// listJournal returns the journal entries of message m1, exactly one.
func listJournal(ctx context.Context, t *testing.T, s *sqlStore) []Exchange {
	t.Helper()
	xs, err := s.ListExchanges(ctx, ExchangeFilter{MessageID: "m1"})
	if err != nil || len(xs) != 1 {
		t.Fatalf("ListExchanges: %d entries, %v; want 1", len(xs), err)
	}
	return xs
}
