package store

import (
	"errors"
	"fmt"
	"testing"
)

// TestNotFoundErrors: the error of a message that has no record says
// what errorf said (store, engine, message id, "not found"), wraps
// ErrNotFound, and of a closed store ErrClosed too.
func TestNotFoundErrors(t *testing.T) {
	t.Parallel()
	s := openGroupTest(t)
	tests := map[string]string{
		"plain":   "m-1",
		"quoted":  `a "b" \ c`,
		"unicode": "挂号-1\u2028",
	}
	for name, id := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := s.GetMessage(t.Context(), id)
			want := s.errorf("message %q: %w", id, ErrNotFound)
			if err == nil || err.Error() != want.Error() {
				t.Fatalf("GetMessage(%q): %v, want %v", id, err, want)
			}
			if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrClosed) {
				t.Fatalf("GetMessage(%q): %v: not ErrNotFound alone", id, err)
			}
		})
	}
	closed := openGroupTest(t)
	_ = closed.Close()
	if err := closed.notFound("message", "m-1"); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrClosed) {
		t.Fatalf("not found in a closed store: %v, want ErrNotFound and ErrClosed", err)
	}
}

// TestGetMessageNotFoundFormatsNothing: the read of an id with no record
// (every pure query makes one before its call) does not format its error:
// its caller only asks errors.Is(err, ErrNotFound). Formatting it through
// errorf was 9 of its 58 allocations (BenchmarkPointRead).
func TestGetMessageNotFoundFormatsNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes what allocates")
	}
	s := openGroupTest(t)
	i := 0
	read := func() {
		i++
		if _, err := s.GetMessage(t.Context(), fmt.Sprint("m-", i)); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
	read()
	if n := testing.AllocsPerRun(50, read); n > 52 {
		t.Fatalf("a GetMessage that finds nothing allocates %v times; want at most 52 (49: the read, the id, the error unformatted)", n)
	}
}
