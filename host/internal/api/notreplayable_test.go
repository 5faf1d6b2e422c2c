package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/store"
)

// reopenBackend replays as the ingress does: by reopening the stored
// message, so the store's own refusal reaches the API.
type reopenBackend struct {
	fakeBackend
	st store.Store
}

func (b *reopenBackend) Store() store.Store { return b.st }
func (b *reopenBackend) Replay(ctx context.Context, id string) error {
	_, err := b.st.ReopenMessage(ctx, id)
	return err
}

// TestReplayNotFailedSaysStateAndWhatToDo: replaying a message that is
// not failed is refused 409 not_replayable with the message's state and
// what to do instead, not the store's internal words (its engine, the
// SQL step, the sentinel "conflict").
func TestReplayNotFailedSaysStateAndWhatToDo(t *testing.T) {
	t.Parallel()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for id, outcome := range map[string]string{"m-ok": "ok", "m-rejected": "rejected", "m-invalid": "invalid", "m-pending": ""} {
		if _, _, err := st.BeginMessage(t.Context(), store.Message{ID: id, Site: "s1", Type: "p.op", Key: "k", Request: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if outcome != "" {
			if err := st.FinishMessage(t.Context(), id, outcome, []byte(`{}`), 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := map[string]struct {
		id   string
		want []string
	}{
		"ok":       {id: "m-ok", want: []string{"message m-ok is ok", "nothing to replay", "new id"}},
		"rejected": {id: "m-rejected", want: []string{"message m-rejected is rejected", "nothing to replay", "new id"}},
		"invalid":  {id: "m-invalid", want: []string{"message m-invalid is invalid", "corrected", "new id"}},
		"pending":  {id: "m-pending", want: []string{"message m-pending is pending", "still being processed", "GET /admin/messages/m-pending"}},
	}
	srv := serve(&reopenBackend{st: st}, "tok")
	t.Cleanup(srv.Close)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest("POST", srv.URL+"/admin/messages/"+tc.id+"/replay", nil)
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var e struct{ Code, Message string }
			if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != http.StatusConflict || e.Code != "not_replayable" {
				t.Fatalf("HTTP %d %s; want 409 not_replayable", resp.StatusCode, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Message, w) {
					t.Errorf("message %q lacks %q", e.Message, w)
				}
			}
			for _, internal := range []string{"store:", "sqlite", "reopen message", "conflict"} {
				if strings.Contains(e.Message, internal) {
					t.Errorf("message %q has the store's internal %q", e.Message, internal)
				}
			}
		})
	}
}
