package ingress

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
)

// fuzzPub is the request topic of FuzzProcess: it records what is queued
// and has this instance's consumer answer it at once.
type fuzzPub struct {
	g      *Ingress
	queued int
	key    string
	value  []byte
	hdr    map[string]string
}

func (p *fuzzPub) Send(_ context.Context, _ string, key, value []byte, headers map[string]string) error {
	p.queued++
	p.key, p.value, p.hdr = string(key), value, headers
	p.g.Taken(headers[message.HeaderRequestID])
	env, _ := message.Parse(value)
	p.g.Done(&message.Reply{ID: "queued", RequestID: headers[message.HeaderRequestID], Site: env.Site, Type: env.Type, Status: message.StatusOK}, value)
	return nil
}

// fuzzProc answers at once what the ingress does not queue.
type fuzzProc struct {
	calls int
	value []byte
}

func (p *fuzzProc) Process(_ context.Context, in pipeline.Input) (*message.Reply, error) {
	p.calls++
	p.value = in.Value
	return &message.Reply{ID: "here", Status: message.StatusInvalid}, nil
}

// FuzzProcess hands the ingress arbitrary request bodies and keys (invalid
// JSON, deep nesting, control characters, oversized bodies and keys).
// Whatever the input, Process answers without panicking or waiting, and
// the request is either queued once, unchanged, under a usable key with
// the envelope's usable id as its request-id header (and that message's
// reply comes back), or answered at once by the pipeline, unchanged, and
// not queued.
func FuzzProcess(f *testing.F) {
	const limit = 4096
	f.Add([]byte(`{"id":"a","site":"s1","type":"x.do","payload":{"a":1}}`), "")
	f.Add([]byte(`{"id":"a","site":"s1","type":"x.do","payload":{"a":1}}`), "k")
	f.Add([]byte(`{"id":"a b","site":"s1","type":"x.do","payload":{}}`), "k")
	f.Add([]byte(`{"id":"a\u0000","site":"s\u0001","type":"x.do","payload":{}}`), "k\x00")
	f.Add([]byte(`{"id":"a","site":"s1","type":"x.do","payload":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`), "k")
	f.Add([]byte(`{"id":"a","payload":`+strings.Repeat(`{"a":`, 3000)), "")
	f.Add([]byte(`{"id":"a","site":"s1","type":"x.do","payload":"`+strings.Repeat("p", limit)+`"}`), "k")
	f.Add([]byte(`{"id":"a","site":"s1","type":"x.do","payload":{}} {"id":"b"}`), "k")
	f.Add([]byte("\xff\xfe{\"id\":\"a\"}"), strings.Repeat("k", 600))
	f.Add([]byte(`["id","a"]`), "")
	f.Fuzz(func(t *testing.T, value []byte, key string) {
		pub, proc := &fuzzPub{}, &fuzzProc{}
		g := New(Options{Publisher: pub, Processor: proc, Topic: "requests", MaxPayloadBytes: limit, Logger: slog.New(slog.DiscardHandler)})
		pub.g = g
		r, err := g.Process(t.Context(), pipeline.Input{Value: value, Key: key})
		if err != nil || r == nil {
			t.Fatalf("Process = %+v, %v; want a reply", r, err)
		}
		switch {
		case pub.queued == 1 && proc.calls == 0:
			id := pub.hdr[message.HeaderRequestID]
			if !message.ValidID(id) || r.ID != "queued" || r.RequestID != id {
				t.Fatalf("queued with request id %q, got reply %+v", id, r)
			}
			if env, _ := message.Parse(value); env.ID != id {
				t.Fatalf("queued with request id %q, the envelope's id is %q", id, env.ID)
			}
			if want := key; want == "" && pub.key != id || want != "" && pub.key != want {
				t.Fatalf("queued under key %q (given %q, id %q)", pub.key, key, id)
			}
			if message.CheckKey(pub.key) != nil || len(value) > limit || string(pub.value) != string(value) {
				t.Fatalf("queued an unusable request: key %q, %d bytes, changed %v", pub.key, len(value), string(pub.value) != string(value))
			}
		case pub.queued == 0 && proc.calls == 1:
			if r.ID != "here" || string(proc.value) != string(value) {
				t.Fatalf("answered at once with %+v, the request changed %v", r, string(proc.value) != string(value))
			}
			if _, ok := message.Admit(value, key, limit); ok {
				t.Fatal("an admissible request was not queued")
			}
		default:
			t.Fatalf("queued %d times and processed here %d times; want one of them once", pub.queued, proc.calls)
		}
	})
}
