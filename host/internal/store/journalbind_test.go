package store_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// testJournalBoundToRow: a journal entry's encrypted bodies belong to
// their row. Two calls of one message with the same code and serial (a
// timed-out call and its resend; a plugin's token calls, which have
// neither message nor serial) once had the same binding, so someone with
// write access to the database could move one's response into the
// other, erase it, or change an entry's status, and the store read it as
// genuine.
func testJournalBoundToRow(t *testing.T, s store.Store, raw rawExec) {
	ctx := t.Context()
	cases := map[string]struct {
		messageID, serial string
		forge             string // ?1 = the first entry's id, ?2 = the second's
	}{
		"response moved to the resend": {messageID: "m-resp", serial: "S1",
			forge: `UPDATE exchanges SET response = (SELECT response FROM exchanges WHERE id = ?) WHERE id = ?`},
		"request moved to the resend": {messageID: "m-req", serial: "S1",
			forge: `UPDATE exchanges SET request = (SELECT request FROM exchanges WHERE id = ?) WHERE id = ?`},
		"response moved between token calls": {
			forge: `UPDATE exchanges SET response = (SELECT response FROM exchanges WHERE id = ?) WHERE id = ?`},
		"status of the timed-out call changed to ok": {messageID: "m-status", serial: "S1",
			forge: `UPDATE exchanges SET status = 'ok', error = '' WHERE id = ? AND id <> ?`},
		"response of the resend erased": {messageID: "m-erase", serial: "S1",
			forge: `UPDATE exchanges SET response = NULL WHERE id = ? AND id <> ?`},
		"time of the resend changed": {messageID: "m-at", serial: "S1",
			forge: `UPDATE exchanges SET at = (SELECT at FROM exchanges WHERE id = ?) WHERE id = ?`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			plugin := "workinjury"
			if c.messageID == "" {
				plugin = "tracecode-" + strings.ReplaceAll(name, " ", "-")
			}
			first := store.Exchange{MessageID: c.messageID, Plugin: plugin, Site: "s1", System: "x", Code: "C1", Serial: c.serial,
				Request: []byte(`{"attempt":1}`), Response: []byte(`{"infcode":-1,"err_msg":"timeout"}`), Status: "unknown", Error: "timeout", DurationMS: 30000}
			second := first
			second.Request, second.Response, second.Status, second.Error, second.DurationMS =
				[]byte(`{"attempt":2}`), []byte(`{"infcode":0,"output":{"setl_id":"X"}}`), "ok", "", 120
			ids := make([]int64, 2)
			for i, e := range []store.Exchange{first, second} {
				id, err := s.AppendExchange(ctx, e)
				if err != nil {
					t.Fatal(err)
				}
				ids[i] = id
			}
			if _, err := s.ListExchanges(ctx, store.ExchangeFilter{Plugin: plugin, MessageID: c.messageID}); err != nil {
				t.Fatalf("before the forgery: %v", err)
			}
			if n := raw(t, c.forge, ids[0], ids[1]); n != 1 {
				t.Fatalf("the forgery changed %d rows, want 1", n)
			}
			xs, err := s.ListExchanges(ctx, store.ExchangeFilter{Plugin: plugin, MessageID: c.messageID})
			if !errors.Is(err, store.ErrKey) {
				t.Fatalf("after the forgery: %d entries read as genuine (%v), want ErrKey", len(xs), err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("exchange %d", ids[0])) && !strings.Contains(err.Error(), fmt.Sprintf("exchange %d", ids[1])) {
				t.Errorf("error %q names neither entry (%d, %d)", err, ids[0], ids[1])
			}
		})
	}
}

func TestSQLiteJournalBoundToRow(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "medgate.db")
	s, err := store.OpenSQLite(t.Context(), path, store.WithKeys(key1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testJournalBoundToRow(t, s, dbExec("sqlite", path, false))
}

func TestPostgresJournalBoundToRow(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	p, err := store.OpenPostgres(t.Context(), dsn, store.WithKeys(key1))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	testJournalBoundToRow(t, p, dbExec("pgx", dsn, true))
}
