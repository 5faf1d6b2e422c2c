package config

import (
	"strings"
	"testing"
)

// TestOutboundProblems checks that every mistake in sites[].outbound is
// reported at once, each with its path and line.
func TestOutboundProblems(t *testing.T) {
	t.Parallel()
	_, err := Parse("/etc/medgate/medgate.yaml", []byte(`kafka:
  embedded: {}
sites:
  - code: a
    outbound:
      format: hl7
      replies: ["*", "*"]
      events: [ecard.registered, "Ecard.x", "ecard.*"]
  - code: b
    outbound: {format: json}
  - code: c
    outbound: {events: [workinjury.admission.downloaded]}
`))
	if err == nil {
		t.Fatal("want problems")
	}
	for _, want := range []string{
		`medgate.yaml:6: sites[0].outbound.format: "hl7" is not an outbound format; use hl7v2 or json`,
		`medgate.yaml:7: sites[0].outbound.replies[1]: "*" is listed twice`,
		`medgate.yaml:8: sites[0].outbound.events[1]: "Ecard.x" is not a type`,
		`sites[1].outbound: lists neither replies nor events`,
		`sites[2].outbound.format: is required: hl7v2`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "outbound"); n < 5 {
		t.Errorf("want 5 outbound problems, got:\n%v", err)
	}
	c, err := Parse("/etc/medgate/medgate.yaml", []byte("kafka:\n  embedded: {}\nsites:\n  - code: a\n    outbound: {format: hl7v2, replies: [\"*\"], events: [ecard.*, workinjury.admission.downloaded]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Sites[0].Outbound; o == nil || o.Format != "hl7v2" || len(o.Events) != 2 {
		t.Errorf("outbound = %+v", o)
	}
}
