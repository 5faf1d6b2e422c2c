package hostsvc

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestDeferHoldsOnlyTheHandledMessage: while Defer holds a message of a
// plugin, that plugin's entries for it are held (id 0, nothing in the
// store) and take returns them once; entries of another message or of
// another plugin, and entries made after take (a plugin still working after
// its call timed out), are stored at once.
func TestDeferHoldsOnlyTheHandledMessage(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	s := New(st, "events")
	wi, other := s.For("wi"), s.For("other")
	x := func(msg, serial string) sdk.Exchange {
		return sdk.Exchange{MessageID: msg, System: "ext", Code: "C1", Serial: serial, Request: []byte(`{}`), Status: "ok"}
	}
	stored := func(msg string) int {
		es, err := st.ListExchanges(ctx, store.ExchangeFilter{MessageID: msg})
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}

	take := s.Defer("wi", "m1")
	if id, err := wi.Journal(ctx, "h1", x("m1", "S1")); err != nil || id != 0 {
		t.Errorf("Journal of the held message = %d, %v; want 0, nil", id, err)
	}
	if id, err := wi.Journal(ctx, "h1", x("m2", "S2")); err != nil || id <= 0 {
		t.Errorf("Journal of another message = %d, %v; want a stored id", id, err)
	}
	if id, err := other.Journal(ctx, "h1", x("m1", "S3")); err != nil || id <= 0 {
		t.Errorf("Journal of the same message by another plugin = %d, %v; want a stored id", id, err)
	}
	if n := stored("m1"); n != 1 {
		t.Errorf("m1 has %d stored entries during the call; want 1 (the other plugin's)", n)
	}
	held := take()
	if len(held) != 1 || held[0].Serial != "S1" || held[0].Plugin != "wi" || held[0].Site != "h1" || held[0].At.IsZero() {
		t.Errorf("take = %+v; want the one held entry with plugin, site and time", held)
	}
	if again := take(); len(again) != 0 {
		t.Errorf("second take = %+v; want nothing", again)
	}
	if id, err := wi.Journal(ctx, "h1", x("m1", "S4")); err != nil || id <= 0 {
		t.Errorf("Journal after take = %d, %v; want a stored id", id, err)
	}
	if n := stored("m1"); n != 2 {
		t.Errorf("m1 has %d stored entries after take; want 2", n)
	}
}

// TestDeferHoldsABoundedJournal: a plugin that journals without end while
// it handles a message (a loop, 4 MiB entries) does not pile its entries
// up in the host's memory until the outcome: Defer holds at most
// MaxHeldJournal bytes of them, the rest are stored at once, and none is
// lost.
func TestDeferHoldsABoundedJournal(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	s := New(st, "events")
	wi := s.For("wi")
	big := make([]byte, 2<<20)
	const calls = 12 // 24 MiB of requests
	take := s.Defer("wi", "m1")
	for i := range calls {
		x := sdk.Exchange{MessageID: "m1", System: "ext", Code: "C1", Serial: fmt.Sprint(i), Request: big, Status: "ok"}
		if _, err := wi.Journal(ctx, "h1", x); err != nil {
			t.Fatalf("Journal %d: %v", i, err)
		}
	}
	es, err := st.ListExchanges(ctx, store.ExchangeFilter{MessageID: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	held := take()
	size := 0
	for _, e := range held {
		size += len(e.Request)
	}
	if size > MaxHeldJournal {
		t.Errorf("Defer held %d bytes of journal entries; want at most MaxHeldJournal (%d)", size, MaxHeldJournal)
	}
	if len(es)+len(held) != calls {
		t.Errorf("%d entries stored during the call and %d held; want %d in all", len(es), len(held), calls)
	}
}
