package store

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestRekeyKeepsAValueWrittenMeanwhile: a value deleted and written again
// between Rekey's read of it and its rewrite is the new writer's; Rekey
// must not put the old value back. A plugin state key deleted and created
// again is at version 1 as before, and a message pruned and begun again
// keeps its id: neither the version nor the id tells the two values apart.
func TestRekeyKeepsAValueWrittenMeanwhile(t *testing.T) {
	large := func(s string) []byte { // kept apart (message_requests): it does not compress
		b := []byte(s)
		for i := range uint32(1 << 10) {
			b = fmt.Appendf(b, "%08x", i*2654435761)
		}
		return b
	}
	tests := []struct {
		name, table string
		write       func(t *testing.T, s *sqlStore, v []byte) // before Rekey, without a key
		rewrite     func(t *testing.T, s *sqlStore, v []byte) // between Rekey's read and its rewrite
		read        func(t *testing.T, s *sqlStore) []byte    // after Rekey
		old, new    []byte
	}{{
		name: "plugin state deleted and created again", table: "plugin_state",
		old: []byte(`{"old":1}`), new: []byte(`{"new":2}`),
		write: func(t *testing.T, s *sqlStore, v []byte) {
			if _, err := s.StateCAS(t.Context(), "p/s", "k", 0, v); err != nil {
				t.Fatal(err)
			}
		},
		rewrite: func(t *testing.T, s *sqlStore, v []byte) {
			if err := s.StateDelete(t.Context(), "p/s", "k"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.StateCAS(t.Context(), "p/s", "k", 0, v); err != nil {
				t.Fatal(err)
			}
		},
		read: func(t *testing.T, s *sqlStore) []byte {
			e, err := s.StateGet(t.Context(), "p/s", "k")
			if err != nil {
				t.Fatal(err)
			}
			return e.Value
		},
	}, {
		name: "message pruned and begun again", table: "message_requests",
		old: large(`{"old":1}`), new: large(`{"new":2}`),
		write: func(t *testing.T, s *sqlStore, v []byte) {
			if _, _, err := s.BeginMessage(t.Context(), Message{ID: "m1", Site: "s", Type: "p.op", Request: v}); err != nil {
				t.Fatal(err)
			}
			if err := s.FinishMessage(t.Context(), "m1", "ok", []byte(`{}`), 1); err != nil {
				t.Fatal(err)
			}
		},
		rewrite: func(t *testing.T, s *sqlStore, v []byte) {
			if nm, _, err := s.Prune(t.Context(), time.Now().Add(time.Minute), time.Time{}); err != nil || nm != 1 {
				t.Fatalf("Prune = %d, %v", nm, err)
			}
			if _, _, err := s.BeginMessage(t.Context(), Message{ID: "m1", Site: "s", Type: "p.op", Request: v}); err != nil {
				t.Fatal(err)
			}
		},
		read: func(t *testing.T, s *sqlStore) []byte {
			m, err := s.GetMessage(t.Context(), "m1")
			if err != nil {
				t.Fatal(err)
			}
			return m.Request
		},
	}}
	key := Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "medgate.db")
			plain, err := OpenSQLite(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			tt.write(t, &plain.sqlStore, tt.old)
			plain.Close()
			keyed, err := OpenSQLite(t.Context(), path, WithKeys(key))
			if err != nil {
				t.Fatal(err)
			}
			defer keyed.Close()
			s := &keyed.sqlStore
			done := false
			s.rekeyRead = func(table string) {
				if table == tt.table && !done {
					done = true
					tt.rewrite(t, s, tt.new)
				}
			}
			if _, err := s.Rekey(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !done {
				t.Fatalf("Rekey never read %s", tt.table)
			}
			if got := tt.read(t, s); !bytes.Equal(got, tt.new) {
				t.Errorf("after Rekey the value is %.20q…, want the one written meanwhile, %.20q…", got, tt.new)
			}
		})
	}
}
