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

// TestUploadDeclarations: every operation the adapter sends as an upload
// (state-changing, reconciled with GYD053, flagged late by the adapter past
// uploadDeadline) is declared an upload to the host, so the host holds it
// to the 30-minute rule too: counted in the oldest-pending metric and never
// given up. The revocations (GYR001–GYR004) and a GYU008 sent by hand are
// such uploads; queries and download workflows are not.
func TestUploadDeclarations(t *testing.T) {
	t.Parallel()
	d, err := New(WithLogger(discardLogger())).Describe(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, op := range d.Operations {
		if op.Upload {
			got = append(got, strings.TrimPrefix(op.Type, Name+"."))
		}
	}
	slices.Sort(got)
	want := []string{"GYR001", "GYR002", "GYR003", "GYR004", "GYR005", "GYU001", "GYU002", "GYU003", "GYU004", "GYU006",
		"GYU007", "GYU008", "GYU009", "GYU010", "GYU101", "GYU102", "GYU103", "GYU303"}
	if !slices.Equal(got, want) {
		t.Errorf("operations declared Upload: %v, want %v", got, want)
	}
}
