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

// FuzzProcess hands Process arbitrary request bytes, keys and plugin
// payloads over a Kafka that refuses records above a small limit. Whatever
// the input, Process finishes the message (no error: nothing would be
// retried for ever), answers with a known status, publishes exactly one
// reply that fits a record and never writes outside the configured topics;
// a message Admit turns away is answered without being stored.
func FuzzProcess(f *testing.F) {
	f.Add([]byte(`{"id":"a","site":"s1","type":"x.do","payload":{"a":1}}`), "k", []byte(`{"ok":true}`))
	f.Add([]byte(`{"id":"b","site":"s1","type":"x.do","replyTo":"elsewhere","payload":{}}`), "k", []byte(`{}`))
	f.Add([]byte(`{"id":"c","site":"s1","type":"x.do","replyTo":"his.replies","payload":{}}`), "", []byte(`"`+strings.Repeat("p", 5000)+`"`))
	f.Add([]byte(`{"id":"d","site":"s1\u0000","type":"x.do","format":"hl7v2","payload":"MSH|^~\\&|"}`), "k\x00", []byte(nil))
	f.Add([]byte(`{"id":"e","site":"nowhere","type":"y.z","payload":{"big":"`+strings.Repeat("b", 3000)+`"}}`), strings.Repeat("k", 600), []byte(`{}`))
	f.Add([]byte("\xff\xfe{"), "\xff", []byte(`not json`))
	f.Add([]byte(`{"id":"f","site":"s1","type":"x.do","payload":{}} {"extra":1}`), "k", []byte(`{}`))
	dir := f.TempDir()
	st, err := store.Open(f.Context(), "sqlite", filepath.Join(dir, "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	const limit = 2000
	f.Fuzz(func(t *testing.T, value []byte, key string, out []byte) {
		pub := &refusingPub{limit: limit, unusable: map[string]bool{"his.replies": len(out)%2 == 1}}
		h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
			return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: out}, nil
		}}}
		p, err := New(Options{Store: st, Publisher: pub, Topics: Topics{Replies: "replies", DLQ: "dlq"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			MaxPayloadBytes: 4096, MaxRecordBytes: limit, ReplyTopics: []string{"his.replies"},
			MaxAttempts: 1, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
			CallTimeout: time.Second, UploadDeadline: time.Minute, RetryBudget: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		p.SetRoutes(&Routes{Sites: map[string]map[string]*Target{"s1": {"x": {Plugin: "x", Handler: h, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do"}}}}}})
		id, admitted := message.Admit(value, key, 4096)
		var before *store.Message
		if admitted {
			before, _ = st.GetMessage(t.Context(), id)
		}
		r, err := p.Process(t.Context(), Input{Value: value, Key: key})
		if err != nil {
			t.Fatalf("Process = %v; every message must finish", err)
		}
		switch r.Status {
		case message.StatusOK, message.StatusInvalid, message.StatusRejected, message.StatusFailed:
		default:
			t.Fatalf("unknown status %q", r.Status)
		}
		replies := 0
		for _, rec := range pub.recs {
			switch rec.topic {
			case "replies", "his.replies":
				replies++
				var got message.Reply
				if err := json.Unmarshal(rec.value, &got); err != nil {
					t.Fatalf("published reply is not JSON: %v", err)
				}
				if got.ID != r.ID || got.Status != r.Status {
					t.Fatalf("published reply %s/%s, returned %s/%s", got.ID, got.Status, r.ID, r.Status)
				}
			case "dlq":
			default:
				t.Fatalf("record written to %q", rec.topic)
			}
			if len(rec.key)+len(rec.value) > limit {
				t.Fatalf("a %d-byte record was published over the %d limit", len(rec.key)+len(rec.value), limit)
			}
		}
		if replies > 1 {
			t.Fatalf("%d replies published, want at most 1", replies)
		}
		if lost := p.lost.Load(); replies == 0 && lost == 0 {
			t.Fatal("no reply published and none counted as lost")
		}
		if !admitted {
			return
		}
		m, err := st.GetMessage(t.Context(), id)
		if err != nil || m.Status != store.StatusDone {
			if before == nil {
				t.Fatalf("admitted message %q: stored %+v, %v; want it done", id, m, err)
			}
		}
	})
}
