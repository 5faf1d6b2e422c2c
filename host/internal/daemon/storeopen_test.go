package daemon

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/store"
)

// TestOpenStoreRefusePlain: store.encryption.refusePlain reaches the store:
// a reply put plain into its row behind medgate's back is refused on read
// with it, and read as stored without it.
func TestOpenStoreRefusePlain(t *testing.T) {
	t.Setenv("MEDGATE_TEST_STORE_KEY", strings.Repeat("ab", 32))
	for name, refuse := range map[string]bool{"on": true, "off": false} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "medgate.db")
			cfg := &config.Config{File: "medgate.yaml", Store: config.Store{Driver: store.DriverSQLite, Path: path,
				Encryption: &config.Encryption{Keys: []config.StoreKey{{ID: "k1", Key: "env:MEDGATE_TEST_STORE_KEY"}}, RefusePlain: refuse}}}
			st, err := openStore(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, _, err := st.BeginMessage(t.Context(), store.Message{ID: "m1", Site: "s1", Type: "p.op"}); err != nil {
				t.Fatal(err)
			}
			if err := st.FinishMessage(t.Context(), "m1", "ok", []byte(`{"genuine":true}`), 1); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(t.Context(), `UPDATE messages SET reply = ? WHERE id = 'm1'`, []byte(`{"forged":true}`)); err != nil {
				t.Fatal(err)
			}
			m, err := st.GetMessage(t.Context(), "m1")
			switch {
			case refuse && !errors.Is(err, store.ErrPlain):
				t.Fatalf("refusePlain on: %v, %v; want ErrPlain", m, err)
			case !refuse && (err != nil || string(m.Reply) != `{"forged":true}`):
				t.Fatalf("refusePlain off: %v, %v; want the reply as stored", m, err)
			}
		})
	}
}

// TestOpenStoreRefuseUnboundJournal: store.encryption.refuseUnboundJournal
// reaches the store: a journal entry stripped of its row binding (as one
// written before schema version 7) is refused on read with it as not
// bound to its row, and without it is not refused for that.
func TestOpenStoreRefuseUnboundJournal(t *testing.T) {
	t.Setenv("MEDGATE_TEST_STORE_KEY", strings.Repeat("cd", 32))
	for name, refuse := range map[string]bool{"on": true, "off": false} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "medgate.db")
			cfg := &config.Config{File: "medgate.yaml", Store: config.Store{Driver: store.DriverSQLite, Path: path,
				Encryption: &config.Encryption{Keys: []config.StoreKey{{ID: "k1", Key: "env:MEDGATE_TEST_STORE_KEY"}}, RefuseUnboundJournal: refuse}}}
			st, err := openStore(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.AppendExchange(t.Context(), store.Exchange{MessageID: "m1", Plugin: "p", Site: "s1", System: "x", Code: "C1", Serial: "S1",
				Request: []byte(`{"call":1}`), Response: []byte(`{"ok":true}`), Status: "ok"}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.ListExchanges(t.Context(), store.ExchangeFilter{MessageID: "m1"}); err != nil {
				t.Fatalf("read of a bound entry: %v", err)
			}
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(t.Context(), `UPDATE exchanges SET seal_id = NULL WHERE message_id = 'm1'`); err != nil {
				t.Fatal(err)
			}
			_, err = st.ListExchanges(t.Context(), store.ExchangeFilter{MessageID: "m1"})
			if got := errors.Is(err, store.ErrUnbound); got != refuse {
				t.Fatalf("refuseUnboundJournal %s: read of an unbound entry: %v; refused as unbound: %v, want %v", name, err, got, refuse)
			}
		})
	}
}
