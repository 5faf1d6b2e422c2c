package sites

import (
	"slices"
	"testing"

	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestTypes: the metric labels are the routed operation types, each once,
// sorted.
func TestTypes(t *testing.T) {
	t.Parallel()
	ops := func(types ...string) map[string]sdk.Operation {
		m := map[string]sdk.Operation{}
		for _, typ := range types {
			m[typ] = sdk.Operation{Type: typ}
		}
		return m
	}
	r := &pipeline.Routes{Sites: map[string]map[string]*pipeline.Target{
		"h1": {"b": {Plugin: "b", Operations: ops("b.x", "b.a")}, "a": {Plugin: "a", Operations: ops("a.z")}},
		"h2": {"b": {Plugin: "b", Operations: ops("b.x")}},
		"h3": {},
	}}
	if got, want := Types(r), []string{"a.z", "b.a", "b.x"}; !slices.Equal(got, want) {
		t.Errorf("Types = %v, want %v", got, want)
	}
	if got := Types(&pipeline.Routes{}); got == nil || len(got) != 0 {
		t.Errorf("Types of no routes = %#v, want an empty list", got)
	}
}
