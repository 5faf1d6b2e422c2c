package console

import (
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/store"
)

// TestBusinessKeysMasked: a site keyed by ID or mobile number does not
// show them on the message page, the search or the board (the hospital's
// own numbers stay readable), and a search by the full key still finds
// the message.
func TestBusinessKeysMasked(t *testing.T) {
	t.Parallel()
	f, c := traceFixture(t)
	now := f.clock.now()
	f.b.st.msgs = append(f.b.st.msgs,
		store.Message{ID: "his-id-key", Site: "s1", Type: "workinjury.GYU101", Key: "11010519491231002X", Status: store.StatusPending,
			Attempts: 1, OccurredAt: now.Add(-3 * time.Minute), ReceivedAt: now.Add(-3 * time.Minute)},
		store.Message{ID: "his-phone-key", Site: "s1", Type: "workinjury.GYU101", Key: "13812345678", Status: store.StatusPending,
			Attempts: 1, OccurredAt: now.Add(-2 * time.Minute), ReceivedAt: now.Add(-2 * time.Minute)},
	)
	leaks := []string{"11010519491231002X", "13812345678"}
	tests := map[string]struct {
		path string
		want []string
	}{
		"message page (ID)":    {path: "/console/message?id=his-id-key", want: []string{"110***********002X"}},
		"message page (phone)": {path: "/console/message?id=his-phone-key", want: []string{"138****5678"}},
		"search by ID":         {path: "/console/messages?key=11010519491231002X", want: []string{"his-id-key", "<td>110***********002X</td>"}},
		"search by phone":      {path: "/console/messages?key=13812345678", want: []string{"his-phone-key", "<td>138****5678</td>"}},
		"search all":           {path: "/console/messages", want: []string{"<td>P001</td>", "<td>110***********002X</td>", "<td>138****5678</td>"}},
		"board":                {path: "/console/board", want: []string{"<td>P001</td>", "<td>110***********002X</td>", "<td>138****5678</td>"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := c.get(tc.path)
			if r.code != http.StatusOK {
				t.Fatalf("%d %s", r.code, r.body)
			}
			body := html.UnescapeString(r.body)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("lacks %q", w)
				}
			}
			// The search box keeps what the user typed; nothing else shows the key.
			body = strings.ReplaceAll(body, `value="`+strings.TrimPrefix(tc.path, "/console/messages?key=")+`"`, "")
			body = strings.ReplaceAll(body, "key="+strings.TrimPrefix(tc.path, "/console/messages?key="), "")
			for _, l := range leaks {
				if strings.Contains(body, l) {
					t.Errorf("shows the business key %q unmasked", l)
				}
			}
		})
	}
}
