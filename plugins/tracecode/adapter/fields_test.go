package adapter

import "testing"

// TestSettableFieldsAreAccessible keeps the settable list (used in error
// messages) and the field accessors in step.
func TestSettableFieldsAreAccessible(t *testing.T) {
	t.Parallel()
	if len(settable) != len(lineFields) {
		t.Fatalf("%d settable names, %d accessors", len(settable), len(lineFields))
	}
	for _, f := range settable {
		get := lineFields[f]
		if get == nil {
			t.Fatalf("no accessor for settable field %q", f)
		}
		var l draftLine
		*get(&l) = "x"
		if *get(&l) != "x" {
			t.Fatalf("accessor of %q does not point into the line", f)
		}
	}
}
