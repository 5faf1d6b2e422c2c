package pipeline

import (
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
)

// TestIDReusedErrorNamesNoOtherSite: the refusal of a reused id describes
// the other message only when it is of the same site; a sender bound to
// its own sites learns neither another site's code nor its message type.
func TestIDReusedErrorNamesNoOtherSite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, site     string
		want, dontWant []string
	}{
		{"same site", "xm01", []string{`of this site, type "workinjury.GYU102"`}, nil},
		{"another site", "xm02", []string{"of another site"}, []string{"xm01", "workinjury.GYU102"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := IDReusedError("m-1", tc.site, &store.Message{ID: "m-1", Site: "xm01", Type: "workinjury.GYU102"})
			if e.Rule != RuleIDReused || e.Field != "$.id" {
				t.Errorf("rule %q field %q", e.Rule, e.Field)
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Message, w) {
					t.Errorf("message lacks %q: %s", w, e.Message)
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(e.Message, w) {
					t.Errorf("message names %q of another site: %s", w, e.Message)
				}
			}
		})
	}
}
