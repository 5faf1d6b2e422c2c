package sdk_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestMuxRegisterSaysHowToFix: a wrong registration is a mistake in the
// plugin's code, found by its first test as a panic; the panic says what
// is wrong and what to do about it.
func TestMuxRegisterSaysHowToFix(t *testing.T) {
	t.Parallel()
	h := func(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) { return sdk.OK(nil) }
	cases := map[string]struct {
		register func(m *sdk.Mux)
		want     []string // what is wrong, then how to fix it
	}{
		"no handler": {func(m *sdk.Mux) { m.Register(sdk.Operation{Type: "acme.ping"}, nil) },
			[]string{`operation "acme.ping" has no handler`, "pass the function that handles it"}},
		"registered twice": {func(m *sdk.Mux) {
			m.Register(sdk.Operation{Type: "acme.ping"}, h)
			m.Register(sdk.Operation{Type: "acme.ping"}, h)
		}, []string{`operation "acme.ping" registered twice`, "register each operation once"}},
		"no plugin name": {func(m *sdk.Mux) { m.Register(sdk.Operation{Type: "ping"}, h) },
			[]string{`operation type "ping" must be "<plugin>.<operation>"`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got string
			func() {
				defer func() { got = fmt.Sprint(recover()) }()
				tc.register(&sdk.Mux{})
			}()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("panic %q does not say %q", got, w)
				}
			}
		})
	}
}
