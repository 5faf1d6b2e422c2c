package pipeline

import (
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestDeadLetterKeepsUnusableKeyCut: the DLQ record of a message whose key
// the store cannot hold (too long, not UTF-8, a NUL byte) keeps the key's
// start, valid UTF-8 of at most message.MaxKeyBytes, as its Kafka key and
// "key", and says it was cut ("keyCut"), so an operator finds it by key.
func TestDeadLetterKeepsUnusableKeyCut(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", message.MaxKeyBytes)
	han := strings.Repeat("病", message.MaxKeyBytes/3) // 510 bytes
	cases := map[string]struct {
		value   string
		key     string
		want    string // the DLQ record's key
		wantCut bool
	}{
		"usable key":                   {key: "visit-1", want: "visit-1"},
		"one byte over the limit":      {key: long + "k", want: long, wantCut: true},
		"a character across the limit": {key: han + "病", want: han, wantCut: true},
		"not UTF-8":                    {key: "ZY\xff\xfe0001", want: "ZY\uFFFD0001", wantCut: true},
		"a NUL byte":                   {key: "visit\x00-1", want: "visit\uFFFD-1", wantCut: true},
		"payload too large too":        {key: long + "kk", value: `{"id":"big","site":"s1","type":"x.do","payload":"` + strings.Repeat("p", 2000) + `"}`, want: long, wantCut: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "p.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			pub := &refusingPub{limit: 1 << 20}
			invalid := func(*sdk.HandleRequest) (*sdk.HandleResponse, error) {
				return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: sdk.Diagnostics{{Severity: sdk.SeverityError, Field: "$.a", Rule: "required", Summary: "a is required"}}}, nil
			}
			h := &scripted{answers: []func(*sdk.HandleRequest) (*sdk.HandleResponse, error){invalid}}
			p, err := New(Options{Store: st, Publisher: pub, Topics: Topics{Replies: "replies", DLQ: "dlq"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				MaxPayloadBytes: 1000, MaxRecordBytes: 1 << 20,
				MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
				CallTimeout: time.Second, UploadDeadline: time.Minute, RetryBudget: time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			p.SetRoutes(&Routes{Sites: map[string]map[string]*Target{"s1": {"x": {Plugin: "x", Handler: h, Operations: map[string]sdk.Operation{"x.do": {Type: "x.do"}}}}}})
			value := tc.value
			if value == "" {
				value = `{"id":"m1","site":"s1","type":"x.do","payload":{}}`
			}
			if _, err := p.Process(t.Context(), Input{Value: []byte(value), Key: tc.key}); err != nil {
				t.Fatal(err)
			}
			dl := pub.on("dlq")
			if len(dl) != 1 {
				t.Fatalf("%d DLQ records, want 1", len(dl))
			}
			var d struct {
				Key    string `json:"key"`
				KeyCut bool   `json:"keyCut"`
			}
			if err := json.Unmarshal(dl[0].value, &d); err != nil {
				t.Fatal(err)
			}
			if dl[0].key != tc.want || d.Key != tc.want || d.KeyCut != tc.wantCut {
				t.Errorf("DLQ record keyed %.40q… (%d bytes) with key %.40q… (%d bytes), keyCut %v; want %.40q… (%d bytes), keyCut %v",
					dl[0].key, len(dl[0].key), d.Key, len(d.Key), d.KeyCut, tc.want, len(tc.want), tc.wantCut)
			}
			if !utf8.ValidString(d.Key) || len(d.Key) > message.MaxKeyBytes {
				t.Errorf("DLQ key %q is not valid UTF-8 of at most %d bytes", d.Key, message.MaxKeyBytes)
			}
		})
	}
}
