package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
)

// warningBackend is a Backend whose reload reports the settings it did
// not apply and warnings (ReloadWarner).
type warningBackend struct {
	fakeBackend
	notApplied, warnings []string
}

func (b *warningBackend) ReloadNotes(context.Context) ([]string, []string, error) {
	return b.notApplied, b.warnings, nil
}
func (b *warningBackend) ReloadReport(context.Context) ([]string, error) { return b.notApplied, nil }
func (b *warningBackend) Reload(context.Context) error                   { return nil }

// TestReloadReplyCarriesWarnings: what an accepted reload warns about
// (an env: Kafka password that a reload cannot rotate) is in the reply of
// POST /admin/reload, not only in the log the admin does not see; a
// reload with nothing to warn about answers without warnings.
func TestReloadReplyCarriesWarnings(t *testing.T) {
	t.Parallel()
	const note = "a reload cannot rotate kafka.sasl.password: it names the environment variable KAFKA_PW; restart medgate"
	cases := map[string]struct {
		b                    *warningBackend
		warnings, notApplied []string
	}{
		"a warning":              {b: &warningBackend{warnings: []string{note}}, warnings: []string{note}},
		"a warning, not applied": {b: &warningBackend{warnings: []string{note}, notApplied: []string{"store.path"}}, warnings: []string{note}, notApplied: []string{"store.path"}},
		"nothing to warn about":  {b: &warningBackend{notApplied: []string{"store.path"}}, notApplied: []string{"store.path"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := serve(tc.b, "tok")
			defer srv.Close()
			req, _ := http.NewRequest("POST", srv.URL+"/admin/reload", nil)
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d %s; want 200", resp.StatusCode, raw)
			}
			var got struct {
				Status     string   `json:"status"`
				NotApplied []string `json:"notApplied"`
				Warnings   []string `json:"warnings"`
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("reply %s: %v", raw, err)
			}
			if got.Status != "reloaded" || !slices.Equal(got.Warnings, tc.warnings) || !slices.Equal(got.NotApplied, tc.notApplied) {
				t.Errorf("reply %s; want status reloaded, warnings %q, notApplied %q", raw, tc.warnings, tc.notApplied)
			}
		})
	}
}
