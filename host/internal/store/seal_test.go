package store_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/host/internal/store/storetest"
	"github.com/medgate/medgate/test/testenv"
)

var (
	key1 = store.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}
	key2 = store.Key{ID: "k2", Secret: bytes.Repeat([]byte{2}, 32)}
)

// Personal data written in every encrypted column.
const (
	idNumber = "11010519491231002X"
	patient  = "张三丰"
	phone    = "13812345678"
)

var personal = []byte(`{"name":"` + patient + `","idNumber":"` + idNumber + `","phone":"` + phone + `"}`)

// largePersonal is a request large enough for SQLite to keep it apart from
// its message's row (message_requests) even compressed, with the personal
// data at its end.
var largePersonal = func() []byte {
	b := []byte(`{"lines":"`)
	for i := range uint32(2 << 10) {
		b = fmt.Appendf(b, "%08x", i*2654435761)
	}
	return append(append(b, `","person":`...), append(personal, '}')...)
}()

// opener reopens one database with the given keys.
type opener func(t *testing.T, keys ...store.Key) store.Store

// writePersonal writes personal data into every encrypted column.
func writePersonal(t *testing.T, s store.Store, id string) {
	t.Helper()
	ctx := t.Context()
	if _, _, err := s.BeginMessage(ctx, store.Message{ID: id, Site: "s1", Type: "ecard.register", Key: "p1", Request: personal}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishMessage(ctx, id, "ok", personal, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.BeginMessage(ctx, store.Message{ID: id + "-large", Site: "s1", Type: "ecard.register", Key: "p1", Request: largePersonal}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishMessage(ctx, id+"-large", "ok", personal, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendExchange(ctx, store.Exchange{MessageID: id, Plugin: "ecard", Site: "s1", Code: "register", Request: personal, Response: personal, Status: "ok"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StatePut(ctx, "ecard/s1", "card/"+id, personal); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBatch(ctx, store.Batch{Plugin: "workinjury", Site: "s1", Job: "filings-" + id, BatchID: id, Step: "fetched", Payload: personal}); err != nil {
		t.Fatal(err)
	}
}

// readPersonal reads every encrypted column back and checks it.
func readPersonal(t *testing.T, s store.Store, id string) error {
	t.Helper()
	ctx := t.Context()
	m, err := s.GetMessage(ctx, id)
	if err != nil {
		return err
	}
	large, err := s.GetMessage(ctx, id+"-large")
	if err != nil {
		return err
	}
	if !bytes.Equal(large.Request, largePersonal) || !bytes.Equal(large.Reply, personal) {
		t.Errorf("the large request's message read back as %d bytes of request and reply %q", len(large.Request), large.Reply)
	}
	xs, err := s.ListExchanges(ctx, store.ExchangeFilter{MessageID: id})
	if err != nil {
		return err
	}
	st, err := s.StateGet(ctx, "ecard/s1", "card/"+id)
	if err != nil {
		return err
	}
	scan, err := s.StateScan(ctx, "ecard/s1", "card/"+id, 0)
	if err != nil {
		return err
	}
	bs, err := s.OpenBatches(ctx, "workinjury", "s1", "filings-"+id)
	if err != nil {
		return err
	}
	var batch []byte
	for _, b := range bs {
		if b.BatchID == id {
			batch = b.Payload
		}
	}
	if len(xs) != 1 || len(scan) != 1 {
		t.Fatalf("%d exchanges and %d state entries, want 1 each", len(xs), len(scan))
	}
	for name, got := range map[string][]byte{"request": m.Request, "reply": m.Reply, "exchange request": xs[0].Request,
		"exchange response": xs[0].Response, "state": st.Value, "state scan": scan[0].Value, "batch": batch} {
		if !bytes.Equal(got, personal) {
			t.Errorf("%s read back as %q, want %q", name, got, personal)
		}
	}
	return nil
}

// testRotation: a key is rotated by putting a new one first; Rekey moves
// every value to it; a value whose key is missing is refused with the key
// named.
//
// rows is how many rows Rekey rewrites for one writePersonal: 6 on SQLite
// (the message, the large message, its request kept apart, the journal
// entry, the state, the batch), 5 on PostgreSQL (the large request is in
// its message's row).
func testRotation(t *testing.T, open opener, rows int64) {
	s := open(t, key1)
	writePersonal(t, s, "m1")
	s.Close()

	s = open(t, key2, key1)
	if err := readPersonal(t, s, "m1"); err != nil {
		t.Fatalf("after adding k2: %v", err)
	}
	writePersonal(t, s, "m2") // under k2
	s.Close()

	s = open(t, key2)
	err := readPersonal(t, s, "m1")
	if !errors.Is(err, store.ErrKey) || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("k1 data without k1: err = %v, want ErrKey naming k1", err)
	}
	if err := readPersonal(t, s, "m2"); err != nil {
		t.Fatalf("k2 data with k2: %v", err)
	}
	s.Close()

	s = open(t, key2, key1)
	n, err := s.(store.Rekeyer).Rekey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != rows {
		t.Errorf("Rekey rewrote %d rows, want %d", n, rows)
	}
	if n, err := s.(store.Rekeyer).Rekey(t.Context()); err != nil || n != 0 {
		t.Errorf("second Rekey: %d, %v; want 0, nil", n, err)
	}
	s.Close()

	s = open(t, key2)
	defer s.Close()
	for _, id := range []string{"m1", "m2"} {
		if err := readPersonal(t, s, id); err != nil {
			t.Fatalf("%s with k2 only after Rekey: %v", id, err)
		}
	}
	none := open(t)
	defer none.Close()
	if _, err := none.GetMessage(t.Context(), "m1"); !errors.Is(err, store.ErrKey) || !strings.Contains(err.Error(), "no store.encryption key is configured") {
		t.Fatalf("without keys: err = %v, want ErrKey saying no key is configured", err)
	}
}

// testPlainThenEncrypted: rows written before encryption was turned on stay
// readable, and Rekey encrypts them.
func testPlainThenEncrypted(t *testing.T, open opener, rows int64) {
	s := open(t)
	writePersonal(t, s, "old")
	s.Close()
	s = open(t, key1)
	defer s.Close()
	if err := readPersonal(t, s, "old"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.(store.Rekeyer).Rekey(t.Context()); err != nil || n != rows {
		t.Fatalf("Rekey of plain rows: %d, %v; want %d, nil", n, err, rows)
	}
	if err := readPersonal(t, s, "old"); err != nil {
		t.Fatal(err)
	}
}

func sqliteOpener(path string) opener {
	return func(t *testing.T, keys ...store.Key) store.Store {
		t.Helper()
		s, err := store.OpenSQLite(t.Context(), path, store.WithKeys(keys...))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestSQLiteEncrypted(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "medgate.db"), store.WithKeys(key1))
	})
	t.Run("Rotation", func(t *testing.T) {
		t.Parallel()
		testRotation(t, sqliteOpener(filepath.Join(t.TempDir(), "medgate.db")), 6)
	})
	t.Run("PlainThenEncrypted", func(t *testing.T) {
		t.Parallel()
		testPlainThenEncrypted(t, sqliteOpener(filepath.Join(t.TempDir(), "medgate.db")), 6)
	})
}

// TestSQLiteNoPersonalDataAtRest: with a key, no personal data is found
// anywhere in the database files.
func TestSQLiteNoPersonalDataAtRest(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "medgate.db")
	s := sqliteOpener(path)(t, key1)
	writePersonal(t, s, "m1")
	if err := readPersonal(t, s, "m1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, leak := range []string{idNumber, patient, phone} {
			if bytes.Contains(data, []byte(leak)) {
				t.Errorf("%s%s holds %q in clear", filepath.Base(path), suffix, leak)
			}
		}
	}
}

// TestSQLiteSealedValueBoundToRow: a value copied into another row does
// not decrypt there.
func TestSQLiteSealedValueBoundToRow(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "medgate.db")
	s := sqliteOpener(path)(t, key1)
	defer s.Close()
	writePersonal(t, s, "victim")
	if _, _, err := s.BeginMessage(t.Context(), store.Message{ID: "attacker", Site: "s1", Type: "ecard.get"}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishMessage(t.Context(), "attacker", "ok", []byte(`{}`), 1); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `UPDATE messages SET reply = (SELECT reply FROM messages WHERE id = 'victim') WHERE id = 'attacker'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMessage(t.Context(), "attacker"); !errors.Is(err, store.ErrKey) {
		t.Fatalf("moved value: err = %v, want ErrKey", err)
	}
}

func TestPostgresEncrypted(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		p, err := store.OpenPostgres(t.Context(), testenv.Postgres(t), store.WithKeys(key1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	})
	pgOpener := func(dsn string) opener {
		return func(t *testing.T, keys ...store.Key) store.Store {
			t.Helper()
			p, err := store.OpenPostgres(t.Context(), dsn, store.WithKeys(keys...))
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	t.Run("Rotation", func(t *testing.T) {
		t.Parallel()
		testRotation(t, pgOpener(testenv.Postgres(t)), 5)
	})
	t.Run("PlainThenEncrypted", func(t *testing.T) {
		t.Parallel()
		testPlainThenEncrypted(t, pgOpener(testenv.Postgres(t)), 5)
	})
}

func TestOpenRefusesBadKeys(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		keys []store.Key
		want string
	}{
		"short":     {keys: []store.Key{{ID: "k", Secret: []byte("short")}}, want: `key "k": 5 bytes, want 32`},
		"duplicate": {keys: []store.Key{key1, key1}, want: `id "k1" is used twice`},
		"no id":     {keys: []store.Key{{Secret: key1.Secret}}, want: "the id must be"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "m.db"), store.WithKeys(tc.keys...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), string(key1.Secret)) {
				t.Fatal("error shows key material")
			}
		})
	}
}
