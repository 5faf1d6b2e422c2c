package bench

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestEnvelopeMember: the serial is read from the envelope's member, never
// from a member's text that mentions it, and an envelope without it gives
// nothing.
func TestEnvelopeMember(t *testing.T) {
	enc := func(m map[string]any) []byte {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name string
		body []byte
		want string
		ok   bool
	}{
		{"member", enc(map[string]any{"infno": "GYU102", "msgid": "S1", "data": "QUJD"}), "S1", true},
		{"quoted inside text first", enc(map[string]any{"a": `"msgid":"fake"`, "msgid": "S2"}), "S2", true},
		{"only inside text", enc(map[string]any{"a": `"msgid":"fake"`}), "", false},
		{"not a string", []byte(`{"msgid":12}`), "", false},
		{"absent", []byte(`{"infno":"GYD051"}`), "", false},
		{"not JSON", []byte(`garbage`), "", false},
	}
	for _, c := range cases {
		got, ok := envelopeMember(c.body, "msgid")
		if got != c.want || ok != c.ok {
			t.Errorf("%s: envelopeMember(%s) = %q, %v; want %q, %v", c.name, c.body, got, ok, c.want, c.ok)
		}
	}
}

// TestReadBody: a body of announced length is read into one buffer of
// that length (not grown from 512 bytes), whole; a short body is an
// error; a body of unknown length is read whole.
func TestReadBody(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 330_000)
	req := func(n int64, b []byte) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/gsyd", bytes.NewReader(b))
		r.ContentLength = n
		return r
	}
	got, err := readBody(req(int64(len(body)), body))
	if err != nil || !bytes.Equal(got, body) || cap(got) != len(body) {
		t.Fatalf("read %d bytes into a buffer of %d (%v), want %d in %d", len(got), cap(got), err, len(body), len(body))
	}
	if _, err := readBody(req(int64(len(body))+1, body)); err == nil {
		t.Error("a body shorter than its Content-Length was read without an error")
	}
	if got, err := readBody(req(-1, body)); err != nil || !bytes.Equal(got, body) {
		t.Errorf("a body of unknown length: %d bytes, %v", len(got), err)
	}
}

// BenchmarkReadBody: the timing wrapper's read of a GYU102 request body
// (330 KB) at its announced length, against io.ReadAll.
//
//	go test ./test/bench -run '^$' -bench ReadBody -benchmem
func BenchmarkReadBody(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 330_000)
	for _, c := range []struct {
		name string
		read func(*http.Request) ([]byte, error)
	}{
		{"announced", readBody},
		{"ReadAll", func(r *http.Request) ([]byte, error) { return io.ReadAll(r.Body) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			r := httptest.NewRequest(http.MethodPost, "/gsyd", nil)
			r.ContentLength = int64(len(body))
			br := bytes.NewReader(body)
			for b.Loop() {
				br.Reset(body)
				r.Body = io.NopCloser(br)
				if got, err := c.read(r); err != nil || len(got) != len(body) {
					b.Fatal(len(got), err)
				}
			}
		})
	}
}
