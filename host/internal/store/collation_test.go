package store_test

import (
	"database/sql"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/test/testenv"
)

// TestPostgresIDPrefixInByteOrder: a search by id prefix selects the ids
// that start with it, on a database whose default collation is not C
// (as initdb makes it from the system's locale, en_US.UTF-8 or
// zh_CN.UTF-8). messages.id had the database's collation, in which the
// range [prefix, prefixEnd) is not "starts with": the prefix "A" selected
// "ab" and "b", "MSG_" selected "MSG-1".
func TestPostgresIDPrefixInByteOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := testenv.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/") + "_icu"
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()+
		` TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`); err != nil {
		t.Fatalf("create a database collated en-US (ICU): %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP DATABASE IF EXISTS ` + pgx.Identifier{name}.Sanitize() + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	s, err := store.OpenPostgres(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	ids := []string{"A", "a", "a b", "a-b", "aB", "ab", "b", "MSG 1", "MSG-1", "MSG-10", "MSG-2", "MSG.1", "MSG1", "MSG_1", "msg-1"}
	for _, id := range ids {
		if _, _, err := s.BeginMessage(ctx, store.Message{ID: id, Site: "s1", Type: "ecard.scan"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, prefix := range []string{"A", "a", "M", "m", "MSG", "MSG-", "MSG_", "MSG-1"} {
		var want []string
		for _, id := range ids {
			if strings.HasPrefix(id, prefix) {
				want = append(want, id)
			}
		}
		var got []string
		for after := ""; ; {
			page, next, err := s.SearchMessages(ctx, store.MessageQuery{IDPrefix: prefix, After: after, Limit: 2})
			if err != nil {
				t.Fatalf("prefix %q: %v", prefix, err)
			}
			for _, m := range page {
				got = append(got, m.ID)
			}
			if after = next; next == "" {
				break
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("id prefix %q selected %q, want %q", prefix, got, want)
		}
	}
}
