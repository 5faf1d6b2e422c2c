package adapter

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEDocumentsEverySettingAndOperation keeps README.md in step with
// the declared settings, jobs and operations.
func TestREADMEDocumentsEverySettingAndOperation(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	d, err := New(WithLogger(discardLogger())).Describe(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range d.Settings {
		name := s.Name
		if strings.HasPrefix(name, "field.") {
			name = "field.txCode" // documented as one row
		}
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("README.md does not document the setting %s", s.Name)
		}
	}
	if len(d.Operations) != 39 {
		t.Errorf("%d operations, want the 39 transactions", len(d.Operations))
	}
	for _, j := range d.Jobs {
		if !strings.Contains(doc, "**"+j.Name+"**") {
			t.Errorf("README.md does not document the job %s", j.Name)
		}
	}
	for _, typ := range eventTypes {
		if !strings.Contains(doc, "`"+typ+"`") {
			t.Errorf("README.md does not document the event type %s", typ)
		}
	}
}
