package adapter

import (
	"context"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// readRaceHost runs meanwhile once, right after the first read of key: what
// another message's handling wrote between that read and the write after
// it.
type readRaceHost struct {
	sdk.Host
	key       string
	meanwhile func()
}

func (h *readRaceHost) Get(ctx context.Context, key string) (sdk.Entry, error) {
	e, err := h.Host.Get(ctx, key)
	if key == h.key && h.meanwhile != nil {
		h.meanwhile()
		h.meanwhile = nil
	}
	return e, err
}

// TestAuditRefusedKeepsAConcurrentAudit: marking an application whose
// GYU001 was refused never overwrites what was written since it was read:
// an accepted GYU001 of the same application (audited), or a newer
// download of it (the national system hands it out again: it awaits an
// audit again), stays as written; the mark is set only on the state read.
func TestAuditRefusedKeepsAConcurrentAudit(t *testing.T) {
	t.Parallel()
	const no = "AP0001"
	downloaded := applyState{Status: applyDownloaded, BatchNo: "B1"}
	cases := map[string]struct {
		meanwhile *applyState // written between the read and the write (nil: nothing)
		want      applyState
	}{
		"nothing meanwhile: marked": {want: applyState{Status: applyDownloaded, BatchNo: "B1", AuditRefused: true}},
		"audited meanwhile: kept audited": {meanwhile: &applyState{Status: applyAudited, Result: "1", FilingNo: "F1"},
			want: applyState{Status: applyAudited, Result: "1", FilingNo: "F1"}},
		"downloaded again meanwhile: kept unmarked": {meanwhile: &applyState{Status: applyDownloaded, BatchNo: "B2"},
			want: applyState{Status: applyDownloaded, BatchNo: "B2"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			base := hostFor(sdktest.NewMemoryHost(), testSite)
			if err := putJSON(ctx, base, "apply/"+no, downloaded); err != nil {
				t.Fatal(err)
			}
			h := &readRaceHost{Host: base, key: "apply/" + no}
			if tc.meanwhile != nil {
				h.meanwhile = func() {
					if err := putJSON(ctx, base, "apply/"+no, *tc.meanwhile); err != nil {
						t.Error(err)
					}
				}
			}
			New().auditRefused(ctx, h, &siteConfig{code: testSite}, no)
			var got applyState
			if _, err := getJSON(ctx, base, "apply/"+no, &got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("application afterwards %+v, want %+v", got, tc.want)
			}
		})
	}
}
