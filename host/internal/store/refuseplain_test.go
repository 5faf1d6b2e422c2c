package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// optOpener reopens one database with the given options.
type optOpener func(t *testing.T, opts ...store.Option) store.Store

// rawExec runs a statement on the database behind the store's back, with
// '?' placeholders, and returns how many rows it changed.
type rawExec func(t *testing.T, query string, args ...any) int64

// forged is what someone with write access to the database puts in a row.
var forged = []byte(`{"status":"ok","name":"forged-by-sql"}`)

// forgedValues are forged stored plain and compressed but not encrypted
// (the store's own zip format: a NUL byte, MGZ1, then S2).
var forgedValues = map[string][]byte{
	"plain":      forged,
	"compressed": append([]byte("\x00MGZ1"), s2.Encode(nil, forged)...),
}

// plainCase forges one kind of encrypted value and reads it back.
type plainCase struct {
	name  string
	forge []string // statements setting the value of row id (?1 = value, ?2 = id); the first that changes a row counts
	read  func(ctx context.Context, s store.Store, id string) ([]byte, error)
	want  string // regexp the refusal must match: the column and the row
}

var plainCases = []plainCase{{
	name:  "message reply",
	forge: []string{`UPDATE messages SET reply = ? WHERE id = ?`},
	read: func(ctx context.Context, s store.Store, id string) ([]byte, error) {
		m, err := s.GetMessage(ctx, id)
		if err != nil {
			return nil, err
		}
		return m.Reply, nil
	},
	want: `message "ID": reply: .*messages\.reply`,
}, {
	name:  "message request",
	forge: []string{`UPDATE messages SET request = ? WHERE id = ?`},
	read: func(ctx context.Context, s store.Store, id string) ([]byte, error) {
		m, err := s.GetMessage(ctx, id)
		if err != nil {
			return nil, err
		}
		return m.Request, nil
	},
	want: `message "ID": request: .*messages\.request`,
}, {
	name: "large message request",
	// SQLite keeps it in message_requests, PostgreSQL in its row.
	forge: []string{`UPDATE message_requests SET request = ? WHERE id = CAST(? AS TEXT) || '-large'`,
		`UPDATE messages SET request = ? WHERE id = CAST(? AS TEXT) || '-large'`},
	read: func(ctx context.Context, s store.Store, id string) ([]byte, error) {
		m, err := s.GetMessage(ctx, id+"-large")
		if err != nil {
			return nil, err
		}
		return m.Request, nil
	},
	want: `message "ID-large": request: .*message_requests\.request`,
}, {
	name:  "journal request",
	forge: []string{`UPDATE exchanges SET request = ? WHERE message_id = ?`},
	read: func(ctx context.Context, s store.Store, id string) ([]byte, error) {
		xs, err := s.ListExchanges(ctx, store.ExchangeFilter{MessageID: id})
		if err != nil || len(xs) != 1 {
			return nil, errors.Join(err, fmt.Errorf("%d exchanges, want 1", len(xs)))
		}
		return xs[0].Request, nil
	},
	want: `exchange [0-9]+: request: .*exchanges\.request`,
}, {
	name:  "journal response",
	forge: []string{`UPDATE exchanges SET response = ? WHERE message_id = ?`},
	read: func(ctx context.Context, s store.Store, id string) ([]byte, error) {
		xs, err := s.ListExchanges(ctx, store.ExchangeFilter{MessageID: id})
		if err != nil || len(xs) != 1 {
			return nil, errors.Join(err, fmt.Errorf("%d exchanges, want 1", len(xs)))
		}
		return xs[0].Response, nil
	},
	want: `exchange [0-9]+: response: .*exchanges\.response`,
}, {
	name:  "plugin state",
	forge: []string{`UPDATE plugin_state SET value = ? WHERE ns = 'ecard/s1' AND key = 'card/' || CAST(? AS TEXT)`},
	read: func(ctx context.Context, s store.Store, id string) ([]byte, error) {
		e, err := s.StateGet(ctx, "ecard/s1", "card/"+id)
		return e.Value, err
	},
	want: `state "ecard/s1" get "card/ID": .*plugin_state`,
}, {
	name:  "plugin state scanned",
	forge: []string{`UPDATE plugin_state SET value = ? WHERE ns = 'ecard/s1' AND key = 'card/' || CAST(? AS TEXT)`},
	read: func(ctx context.Context, s store.Store, id string) ([]byte, error) {
		es, err := s.StateScan(ctx, "ecard/s1", "card/"+id, 0)
		if err != nil || len(es) != 1 {
			return nil, errors.Join(err, fmt.Errorf("%d entries, want 1", len(es)))
		}
		return es[0].Value, nil
	},
	want: `state "ecard/s1" scan "card/ID": key "card/ID": .*plugin_state`,
}, {
	name:  "download batch",
	forge: []string{`UPDATE batches SET payload = ? WHERE batch_id = ?`},
	read: func(ctx context.Context, s store.Store, id string) ([]byte, error) {
		bs, err := s.OpenBatches(ctx, "workinjury", "s1", "filings-"+id)
		if err != nil || len(bs) != 1 {
			return nil, errors.Join(err, fmt.Errorf("%d batches, want 1", len(bs)))
		}
		return bs[0].Payload, nil
	},
	want: `open batches workinjury/s1/filings-ID: batch "ID": .*batches`,
}}

// testRefusePlain: with WithRefusePlain, a value put plain (or only
// compressed) into a row behind the store's back is refused on read, with
// its column and row named and its content never returned; without it,
// it is read as before. Rekey refuses it too with refusePlain on, and
// encrypts it with refusePlain off.
func testRefusePlain(t *testing.T, open optOpener, raw rawExec) {
	ctx := t.Context()
	type forgery struct {
		c        plainCase
		kind, id string
		value    []byte
	}
	var all []forgery
	s := open(t, store.WithKeys(key1))
	for _, c := range plainCases {
		for _, kind := range []string{"plain", "compressed"} {
			id := fmt.Sprintf("f%d", len(all))
			writePersonal(t, s, id)
			all = append(all, forgery{c: c, kind: kind, id: id, value: forgedValues[kind]})
		}
	}
	writePersonal(t, s, "genuine")
	if _, _, err := s.BeginMessage(ctx, store.Message{ID: "pending", Site: "s1", Type: "ecard.register"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, f := range all {
		n := int64(0)
		for _, q := range f.c.forge {
			if n = raw(t, q, f.value, f.id); n > 0 {
				break
			}
		}
		if n != 1 {
			t.Fatalf("%s: the forgery changed %d rows, want 1", f.c.name, n)
		}
	}

	strict := open(t, store.WithKeys(key1), store.WithRefusePlain())
	for _, f := range all {
		t.Run(f.c.name+"/"+f.kind, func(t *testing.T) {
			got, err := f.c.read(ctx, strict, f.id)
			if !errors.Is(err, store.ErrPlain) {
				t.Fatalf("refusePlain on: read %q, %v; want ErrPlain", got, err)
			}
			if len(got) != 0 || strings.Contains(err.Error(), "forged-by-sql") {
				t.Errorf("the refused value leaked: %q, %v", got, err)
			}
			want := strings.ReplaceAll(f.c.want, "ID", f.id)
			if !regexp.MustCompile(want).MatchString(err.Error()) {
				t.Errorf("error %q\ndoes not name the row: want /%s/", err, want)
			}
			for _, fix := range []string{"refusePlain", "/admin/store/rekey", "restore the row"} {
				if !strings.Contains(err.Error(), fix) {
					t.Errorf("error %q does not say %q", err, fix)
				}
			}
		})
	}
	if err := readPersonal(t, strict, "genuine"); err != nil {
		t.Fatalf("refusePlain on, encrypted values: %v", err)
	}
	if m, err := strict.GetMessage(ctx, "pending"); err != nil || m.Reply != nil {
		t.Fatalf("refusePlain on, a message without reply: %+v, %v", m, err)
	}
	if n, err := strict.(store.Rekeyer).Rekey(ctx); !errors.Is(err, store.ErrPlain) {
		t.Fatalf("Rekey with refusePlain on over plain rows: %d, %v; want ErrPlain", n, err)
	}
	strict.Close()

	lax := open(t, store.WithKeys(key1))
	for _, f := range all {
		if got, err := f.c.read(ctx, lax, f.id); err != nil || string(got) != string(forged) {
			t.Errorf("%s/%s, refusePlain off: read %q, %v; want the value as stored", f.c.name, f.kind, got, err)
		}
	}
	if n, err := lax.(store.Rekeyer).Rekey(ctx); err != nil || n != int64(len(all)) {
		t.Fatalf("Rekey with refusePlain off: %d, %v; want the %d plain rows encrypted", n, err, len(all))
	}
	lax.Close()

	strict = open(t, store.WithKeys(key1), store.WithRefusePlain())
	defer strict.Close()
	if n, err := strict.(store.Rekeyer).Rekey(ctx); err != nil || n != 0 {
		t.Fatalf("Rekey with refusePlain on after a full rekey: %d, %v; want 0, nil", n, err)
	}
	for _, f := range all {
		if got, err := f.c.read(ctx, strict, f.id); err != nil || string(got) != string(forged) {
			t.Errorf("%s/%s after Rekey: read %q, %v", f.c.name, f.kind, got, err)
		}
	}
}

func TestSQLiteRefusePlain(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "medgate.db")
	testRefusePlain(t, func(t *testing.T, opts ...store.Option) store.Store {
		t.Helper()
		s, err := store.OpenSQLite(t.Context(), path, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, dbExec("sqlite", path, false))
}

func TestPostgresRefusePlain(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	testRefusePlain(t, func(t *testing.T, opts ...store.Option) store.Store {
		t.Helper()
		p, err := store.OpenPostgres(t.Context(), dsn, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}, dbExec("pgx", dsn, true))
}

// dbExec runs statements through a connection of its own (numbered
// placeholders for PostgreSQL).
func dbExec(driver, dsn string, numbered bool) rawExec {
	return func(t *testing.T, query string, args ...any) int64 {
		t.Helper()
		if numbered {
			n := 0
			query = regexp.MustCompile(`\?`).ReplaceAllStringFunc(query, func(string) string {
				n++
				return fmt.Sprintf("$%d", n)
			})
		}
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		res, err := db.ExecContext(t.Context(), query, args...)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}

func TestRefusePlainNeedsKeys(t *testing.T) {
	t.Parallel()
	_, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "m.db"), store.WithRefusePlain())
	if err == nil || !strings.Contains(err.Error(), "refusing plain values needs an encryption key") {
		t.Fatalf("WithRefusePlain without keys: err = %v, want it refused", err)
	}
}
