package adapter

import (
	"slices"
	"strings"
	"testing"
)

// TestQueryDeclarations: exactly the read-only transactions that keep
// nothing per message are declared pure queries (no pending record before
// the call); no upload, download workflow, feedback or GYD052 is.
func TestQueryDeclarations(t *testing.T) {
	t.Parallel()
	d, err := New(WithLogger(discardLogger())).Describe(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, op := range d.Operations {
		if op.Query {
			got = append(got, strings.TrimPrefix(op.Type, Name+"."))
			if op.Upload {
				t.Errorf("%s is declared both a query and an upload", op.Type)
			}
		}
	}
	slices.Sort(got)
	want := []string{"GYD008", "GYD051", "GYD053", "GYD054", "GYD055", "GYD104", "GYU000"}
	if !slices.Equal(got, want) {
		t.Errorf("operations declared Query: %v, want %v", got, want)
	}
}
