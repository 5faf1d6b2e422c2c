package pipeline

import (
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// padder is a Transformer that maps every reply of site s1 into a text of
// n bytes, as an outbound mapping would.
type padder struct{ n int }

func (padder) Transform(_, _, _ string, payload []byte) ([]byte, []message.ReplyError, bool) {
	return payload, nil, false
}

func (p padder) Outbound(kind, site, _ string, doc []byte, headers map[string]string) []byte {
	if kind != "reply" || site != "s1" {
		return doc
	}
	headers[message.HeaderFormat] = "hl7v2"
	headers[message.HeaderMapping] = "s1/out/hl7v2/reply"
	return []byte("MSH|" + strings.Repeat("x", p.n))
}

// TestRepliesMapped: a reply goes out as the Outbounder maps it, with its
// headers; one whose mapped form Kafka cannot take goes out truncated in
// medgate's JSON, and its headers say so.
func TestRepliesMapped(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		n         int
		cli       bool // the request asks for medgate's JSON
		truncated bool
	}{"fits": {n: 10}, "too large": {n: 5000, truncated: true}, "asked for medgate's JSON": {n: 10, cli: true}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			pub := &refusingPub{limit: 4000}
			p, err := New(Options{Store: st, Publisher: pub, Topics: Topics{Replies: "replies", DLQ: "dlq"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				MaxPayloadBytes: 1 << 20, MaxRecordBytes: 3000, MaxAttempts: 1, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
				CallTimeout: time.Second, UploadDeadline: time.Minute, RetryBudget: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){ok}}
			p.SetRoutes(&Routes{Sites: map[string]map[string]*Target{"s1": {"x": {Plugin: "x", Handler: h, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do"}}}}}})
			p.SetTransformer(padder{n: tc.n})
			in := Input{Value: []byte(`{"id":"m1","site":"s1","type":"x.do","payload":{}}`), Key: "k"}
			if tc.cli {
				in.ReplyFormat = message.FormatMedgateRequest
			}
			if _, err := p.Process(t.Context(), in); err != nil {
				t.Fatal(err)
			}
			got := pub.on("replies")
			if len(got) != 1 {
				t.Fatalf("%d replies, want 1", len(got))
			}
			hd := pub.headers[0]
			if tc.cli {
				var r message.Reply
				if err := json.Unmarshal(got[0].value, &r); err != nil || r.Status != "ok" || hd[message.HeaderFormat] != "" {
					t.Errorf("reply %q headers %v, want medgate's JSON unmapped", got[0].value, hd)
				}
				return
			}
			if !tc.truncated {
				if string(got[0].value) != "MSH|"+strings.Repeat("x", tc.n) || hd[message.HeaderFormat] != "hl7v2" || hd[message.HeaderMapping] != "s1/out/hl7v2/reply" {
					t.Errorf("reply %q headers %v, want the mapped text", got[0].value, hd)
				}
				return
			}
			var r message.Reply
			if err := json.Unmarshal(got[0].value, &r); err != nil || r.RequestID != "m1" || hd[message.HeaderFormat] != message.FormatMedgate || hd[message.HeaderTruncated] != "1" {
				t.Errorf("reply %q headers %v, want medgate's JSON, truncated, medgate-format medgate-json", got[0].value, hd)
			}
		})
	}
}
