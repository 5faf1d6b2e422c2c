package store

import (
	"testing"
	"time"
)

func TestRebind(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in, sqlite, postgres string
	}{
		"no placeholders": {"SELECT 1", "SELECT 1", "SELECT 1"},
		"numbered in order": {"UPDATE t SET a = ?, b = ? WHERE c = ? LIMIT ?",
			"UPDATE t SET a = ?, b = ? WHERE c = ? LIMIT ?",
			"UPDATE t SET a = $1, b = $2 WHERE c = $3 LIMIT $4"},
		"more than nine": {"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"},
		"quoted ? is literal": {"SELECT '?', ? WHERE x = 'a''?b' AND y = ?",
			"SELECT '?', ? WHERE x = 'a''?b' AND y = ?",
			"SELECT '?', $1 WHERE x = 'a''?b' AND y = $2"},
		"non-ASCII kept": {"SELECT '日本?', ?", "SELECT '日本?', ?", "SELECT '日本?', $1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := sqliteDialect.rebind(tc.in); got != tc.sqlite {
				t.Errorf("sqlite rebind(%q) = %q, want %q", tc.in, got, tc.sqlite)
			}
			if got := postgresDialect.rebind(tc.in); got != tc.postgres {
				t.Errorf("postgres rebind(%q) = %q, want %q", tc.in, got, tc.postgres)
			}
		})
	}
}

func TestScanTime(t *testing.T) {
	t.Parallel()
	want := time.Date(2025, 3, 1, 10, 0, 0, 123456000, time.UTC)
	tests := map[string]struct {
		src       any
		want      time.Time
		wantValid bool
	}{
		"NULL":                       {nil, time.Time{}, false},
		"unix microseconds (SQLite)": {want.UnixMicro(), want, true},
		"timestamp (PostgreSQL)":     {want.In(time.FixedZone("CST", 8*3600)), want, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := time.Now() // overwritten, also by NULL
			st := scanTime{t: &got, valid: !tc.wantValid}
			if err := st.Scan(tc.src); err != nil {
				t.Fatalf("Scan(%v): %v", tc.src, err)
			}
			if !got.Equal(tc.want) || got.Location() != time.UTC || st.valid != tc.wantValid {
				t.Errorf("Scan(%v) = %v (%v), valid %v; want %v (UTC), valid %v",
					tc.src, got, got.Location(), st.valid, tc.want, tc.wantValid)
			}
		})
	}
	var got time.Time
	if err := (&scanTime{t: &got}).Scan("2025-03-01"); err == nil {
		t.Error("Scan(string) succeeded, want an error")
	}
}

func TestNullTime(t *testing.T) {
	t.Parallel()
	if got := sqliteDialect.nullTime(time.Time{}); got != nil {
		t.Errorf("sqlite nullTime(zero) = %v, want nil", got)
	}
	if got := postgresDialect.nullTime(time.Time{}); got != nil {
		t.Errorf("postgres nullTime(zero) = %v, want nil", got)
	}
	in := time.Date(2025, 3, 1, 18, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	norm := time.Date(2025, 3, 1, 10, 0, 0, 123456000, time.UTC)
	if got := sqliteDialect.nullTime(in); got != norm.UnixMicro() {
		t.Errorf("sqlite nullTime(%v) = %v, want %d", in, got, norm.UnixMicro())
	}
	if got, ok := postgresDialect.nullTime(in).(time.Time); !ok || !got.Equal(norm) || got.Location() != time.UTC {
		t.Errorf("postgres nullTime(%v) = %v, want %v", in, got, norm)
	}
}
