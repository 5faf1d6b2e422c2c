package mllp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/transforms/hl7"
)

// fakeProc answers every request with the reply its answer func gives,
// recording the envelopes.
type fakeProc struct {
	mu     sync.Mutex
	envs   []map[string]any
	keys   []string
	answer func(env map[string]any) (*message.Reply, error)
}

func (p *fakeProc) Process(_ context.Context, in pipeline.Input) (*message.Reply, error) {
	var env map[string]any
	if err := json.Unmarshal(in.Value, &env); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.envs = append(p.envs, env)
	p.keys = append(p.keys, in.Key)
	p.mu.Unlock()
	return p.answer(env)
}

// fakeMaps maps ADT^A28 to ecard.register and renders no ACK of its own
// unless ack is set.
type fakeMaps struct{ ack []byte }

func (fakeMaps) HL7Type(site, msgType string) (string, error) {
	if msgType == "ADT^A28" {
		return "ecard.register", nil
	}
	return "", errors.New("no hl7v2 mapping of site " + site + " reads " + msgType + " messages")
}

func (m fakeMaps) ReplyHL7(string, string, []byte) ([]byte, string, bool) {
	return m.ack, "x", m.ack != nil
}

var quiet = slog.New(slog.DiscardHandler)

func listenerConfig() config.MLLPListener {
	return config.MLLPListener{Address: "127.0.0.1:0", Site: "demo", MaxMessageBytes: 4096, MaxConnections: 2,
		IdleTimeout: config.Duration(5 * time.Second), ReadTimeout: config.Duration(5 * time.Second),
		WriteTimeout: config.Duration(5 * time.Second), ProcessTimeout: config.Duration(5 * time.Second)}
}

func status(s string) func(map[string]any) (*message.Reply, error) {
	return func(env map[string]any) (*message.Reply, error) {
		r := &message.Reply{ID: "r-" + env["id"].(string), RequestID: env["id"].(string), Site: "demo", Type: "ecard.register", Status: s}
		switch s {
		case message.StatusInvalid:
			r.Errors = []message.ReplyError{{Field: "$.idNumber", Rule: "required", Message: "PID-3.1 is empty | fill it"}}
		case message.StatusRejected:
			r.Errors = []message.ReplyError{{Rule: "external", Message: "拒绝"}}
			r.External = &message.External{System: "ecard", Code: "E9", Message: "拒绝"}
		}
		return r, nil
	}
}

// exchange serves one connection over a pipe, writes the frames and
// returns every ACK read back until the server closes the connection.
func exchange(t *testing.T, s *Server, frames ...[]byte) []*hl7.Message {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeConn(t.Context(), server)
	}()
	var acks []*hl7.Message
	rd := hl7.NewReader(client)
	w := hl7.NewWriter(client)
	for _, f := range frames {
		_ = client.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := client.Write(f); err != nil {
			break
		}
		raw, err := rd.ReadMessage()
		if err != nil {
			break
		}
		m, err := hl7.Parse(raw)
		if err != nil {
			t.Fatalf("ACK %q does not parse: %v", raw, err)
		}
		acks = append(acks, m)
	}
	_ = w
	client.Close()
	<-done
	return acks
}

func frame(msg string) []byte {
	return append(append([]byte{hl7.StartBlock}, msg...), hl7.EndBlock, '\r')
}

const a28 = "MSH|^~\\&|HIS|XMFY|MEDGATE|XMFY|20261203101500||ADT^A28^ADT_A05|MSG%s|P|2.5\rEVN|A28|20261203101500\rPID|1||11010519491231002X^^^CHN^NN||王小梅||19491231|F\r"

func TestACKAfterOutcome(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		status, ack string
	}{
		"ok":       {message.StatusOK, "AA"},
		"invalid":  {message.StatusInvalid, "AR"},
		"rejected": {message.StatusRejected, "AE"},
		"failed":   {message.StatusFailed, "AE"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proc := &fakeProc{answer: status(tc.status)}
			s, err := New(listenerConfig(), proc, fakeMaps{}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			acks := exchange(t, s, frame(strings.Replace(a28, "%s", "1", 1)), frame(strings.Replace(a28, "%s", "2", 1)))
			if len(acks) != 2 {
				t.Fatalf("%d ACKs, want 2 (one per message on one connection)", len(acks))
			}
			for i, ack := range acks {
				msa := ack.Segment(hl7.Location{Segment: "MSA"}, 0, -1)
				if ack.Type() != "ACK" || msa == nil || msa.Value(1, 1, 1, 1) != tc.ack || msa.Value(2, 1, 1, 1) != "MSG"+string(rune('1'+i)) {
					t.Errorf("ACK %d: type %s MSA %v", i, ack.Type(), msa)
				}
			}
			env := proc.envs[0]
			if env["id"] != "hl7:HIS:XMFY:MSG1" || env["site"] != "demo" || env["type"] != "ecard.register" || env["format"] != "hl7v2" ||
				!strings.HasPrefix(env["payload"].(string), "MSH|^~\\&|HIS|") || env["occurredAt"] != "2026-12-03T02:15:00Z" {
				t.Errorf("envelope %v", env)
			}
			if proc.keys[0] != messageKeyOf("11010519491231002X") {
				t.Errorf("key %q, want pid: and the SHA-256 of PID-3.1 (messageKey)", proc.keys[0])
			}
			if tc.status == message.StatusRejected {
				if zex := acks[0].Segment(hl7.Location{Segment: "ZEX"}, 0, -1); zex == nil || zex.Value(2, 1, 1, 1) != "E9" {
					t.Errorf("rejected ACK without the external code: %v", acks[0].Segments)
				}
			}
			if tc.status == message.StatusInvalid {
				if e := acks[0].Segment(hl7.Location{Segment: "ERR"}, 0, -1); e == nil || e.Value(8, 1, 1, 1) != "PID-3.1 is empty | fill it" || e.Value(3, 1, 1, 1) != "required" {
					t.Errorf("invalid ACK without the error: %v", acks[0].Segments)
				}
			}
		})
	}
}

// TestMappedACK: the site's ACK mapping, when it renders, is what the
// sender gets.
func TestMappedACK(t *testing.T) {
	t.Parallel()
	// The mapping wrote the request id into MSA-2; the sender gets its own MSH-10.
	mapped := []byte("MSH|^~\\&|MEDGATE|demo|PLATFORM||20261203101500||ACK|r1|P|2.5\rMSA|AA|hl7:HIS:XMFY:MSG1\rZEC|E1|Y|active\r")
	s, _ := New(listenerConfig(), &fakeProc{answer: status("ok")}, fakeMaps{ack: mapped}, quiet, nil)
	acks := exchange(t, s, frame(strings.Replace(a28, "%s", "1", 1)))
	noMSA := []byte("MSH|^~\\&|MEDGATE|demo|||20261203101500||ACK|r1|P|2.5\rZEC|E1\r")
	s2, _ := New(listenerConfig(), &fakeProc{answer: status("ok")}, fakeMaps{ack: noMSA}, quiet, nil)
	if plain := exchange(t, s2, frame(strings.Replace(a28, "%s", "1", 1))); len(plain) != 1 || plain[0].Get(hl7.Location{Segment: "MSA", Field: 1}) != "AA" {
		t.Errorf("a mapped ACK without MSA must give way to a plain ACK: %v", plain)
	}
	if len(acks) != 1 || acks[0].Get(hl7.Location{Segment: "ZEC", Field: 1}) != "E1" || acks[0].Get(hl7.Location{Segment: "MSA", Field: 2}) != "MSG1" {
		t.Fatalf("ACK %v, want the mapped one", acks)
	}
}

// TestRefusals: what cannot be processed is refused with AR at once (and
// the connection goes on), except a message too large, after which the
// stream cannot be trusted; an outcome not stored gets no ACK.
func TestRefusals(t *testing.T) {
	t.Parallel()
	proc := &fakeProc{answer: status("ok")}
	s, _ := New(listenerConfig(), proc, fakeMaps{}, quiet, nil)
	acks := exchange(t, s,
		frame("PID|1||x\r"),
		frame("MSH|^~\\&|HIS|XMFY|||20261203||ADT^A28||P|2.5\r"),
		frame("MSH|^~\\&|HIS|XMFY|||20261203||ORU^R01|M3|P|2.5\r"),
		// Unreadable further on, but MSH-10 can be read: the AR names it.
		frame("MSH|^~\\&|HIS|XMFY|||20261203||ADT^A28|M3b^x|P|2.5\rPID|1||x||\xcd\xf5\r"),
		frame("MSH*^~\\&*HIS*XMFY***20261203**ADT^A28*M3\\F\\c*P*2.5\rpid*1\r"),
		frame(strings.Replace(a28, "%s", "4", 1)),
		frame("MSH|^~\\&|HIS|XMFY|||20261203||ADT^A28|M5|P|2.5\rNTE|"+strings.Repeat("x", 5000)+"\r"),
		frame(strings.Replace(a28, "%s", "6", 1)),
	)
	want := []struct{ code, control, text string }{
		{"AR", "", "must start with an MSH segment"},
		{"AR", "", "MSH-10 (message control ID) is empty"},
		{"AR", "M3", "no hl7v2 mapping of site demo reads ORU^R01 messages"},
		{"AR", "M3b", "not valid UTF-8"},
		{"AR", "M3*c", "bad segment"},
		{"AA", "MSG4", ""},
		// Refused unread, but its MSH-10 is in its first bytes: the AR names it.
		{"AR", "M5", "larger than the 4096 bytes"},
	}
	if len(acks) != len(want) {
		t.Fatalf("%d ACKs, want %d (none after the message too large)", len(acks), len(want))
	}
	for i, w := range want {
		msa := acks[i].Segment(hl7.Location{Segment: "MSA"}, 0, -1)
		why := acks[i].Get(hl7.Location{Segment: "ERR", Field: 8}) // the whole reason; MSA-3 its first 80 characters
		if msa.Value(1, 1, 1, 1) != w.code || msa.Value(2, 1, 1, 1) != w.control || !strings.Contains(why, w.text) || !strings.HasPrefix(why, strings.TrimSuffix(msa.Value(3, 1, 1, 1), "...")) {
			t.Errorf("ACK %d: MSA %q ERR-8 %q, want %s %s %q", i, msa.Fields, why, w.code, w.control, w.text)
		}
	}
	if len(proc.envs) != 1 {
		t.Errorf("%d messages processed, want only the good one", len(proc.envs))
	}

	down := &fakeProc{answer: func(map[string]any) (*message.Reply, error) { return nil, errors.New("store unavailable") }}
	s, _ = New(listenerConfig(), down, fakeMaps{}, quiet, nil)
	if acks := exchange(t, s, frame(strings.Replace(a28, "%s", "7", 1))); len(acks) != 0 {
		t.Errorf("an outcome not stored must get no ACK, got %v", acks[0].Segments)
	}
}

// TestGB18030: a message in GB 18030 reaches the pipeline as UTF-8 text
// declaring UTF-8 (its hex escapes, bytes in GB 18030, rewritten as UTF-8
// bytes), and its ACK comes back in GB 18030.
func TestGB18030(t *testing.T) {
	t.Parallel()
	// \XD5C5\ is 张 in GB 18030; \X41\ is A in both.
	text := "MSH|^~\\&|HIS|XMFY|||20261203101500||ADT^A28|G1|P|2.5|||||CHN|GB 18030-2000\rPID|1||X1||王小梅\rZZZ|\\XD5C5\\^\\X41\\\\F\\\\X\\\r"
	gb, err := hl7.Encode(text, "GB 18030-2000")
	if err != nil {
		t.Fatal(err)
	}
	proc := &fakeProc{answer: status(message.StatusInvalid)}
	s, _ := New(listenerConfig(), proc, fakeMaps{}, quiet, nil)
	acks := exchange(t, s, frame(string(gb)))
	payload := proc.envs[0]["payload"].(string)
	if !strings.Contains(payload, "王小梅") || !strings.Contains(payload, "|CHN|UNICODE UTF-8\r") {
		t.Errorf("payload %q, want UTF-8 text declaring UTF-8", payload)
	}
	m, err := hl7.Parse([]byte(payload))
	if err != nil {
		t.Fatalf("payload %q: %v", payload, err)
	}
	for loc, want := range map[string]string{"ZZZ-1.1": "张", "ZZZ-1.2": "A|\\X\\"} {
		l, _ := hl7.ParseLocation(loc)
		if got := m.Get(l); got != want {
			t.Errorf("payload %s = %q, want %q (payload %q)", loc, got, want, payload)
		}
	}
	if len(acks) != 1 || acks[0].Charset != "GB18030" || !strings.Contains(acks[0].Get(hl7.Location{Segment: "ERR", Field: 8}), "fill it") {
		t.Errorf("ACK %+v, want GB 18030", acks)
	}
}

// TestDefaultCharset: a message without MSH-18 is read in the listener's
// defaultCharset — always, even when its GB 18030 bytes are valid UTF-8 too
// (郑伟 is D6A3 CEB0, which is also UTF-8 for "֣ΰ") — and its ACK goes back
// in that set; a declared MSH-18 wins; without the setting, GB 18030 bytes
// are refused with an AR that names the setting.
func TestDefaultCharset(t *testing.T) {
	t.Parallel()
	const noMSH18 = "MSH|^~\\&|HIS|XMFY|||20261203101500||ADT^A28|C1|P|2.5\rPID|1||X1||%s\r"
	gb := func(s string) string {
		b, err := hl7.Encode(s, "GB18030")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for name, tc := range map[string]struct {
		setting     string // mllp.listeners[].defaultCharset as config gives it
		msg         string // the bytes sent
		wantName    string // PID-5 as it reaches the pipeline; "" for a refusal
		wantACK     string // the ACK's character set
		wantRefusal string // in the AR's MSA-3
	}{
		"GBK without MSH-18, default GB18030":   {"GB18030", gb(fmt.Sprintf(noMSH18, "王小梅")), "王小梅", "GB18030", ""},
		"GBK valid as UTF-8, default GB18030":   {"GB18030", gb(fmt.Sprintf(noMSH18, "郑伟")), "郑伟", "GB18030", ""},
		"ASCII without MSH-18, default GB18030": {"GB18030", fmt.Sprintf(noMSH18, "ZHENG^WEI"), "ZHENG", "GB18030", ""},
		"declared UTF-8, default GB18030":       {"GB18030", strings.Replace(fmt.Sprintf(noMSH18, "王小梅"), "|2.5\r", "|2.5|||||CHN|UNICODE UTF-8\r", 1), "王小梅", "UTF-8", ""},
		"UTF-8 without MSH-18, default UTF-8":   {"UTF-8", fmt.Sprintf(noMSH18, "王小梅"), "王小梅", "UTF-8", ""},
		"GBK without MSH-18, default UTF-8":     {"UTF-8", gb(fmt.Sprintf(noMSH18, "王小梅")), "", "UTF-8", "mllp.listeners[].defaultCharset"},
		"GBK without MSH-18, no setting":        {"", gb(fmt.Sprintf(noMSH18, "王小梅")), "", "UTF-8", "set defaultCharset: GB18030 on the MLLP listener"},
		"bad GB 18030, default GB18030":         {"GB18030", fmt.Sprintf(noMSH18, "\x81\x20"), "", "GB18030", "not valid GB 18030"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := listenerConfig()
			cfg.DefaultCharset = tc.setting
			proc := &fakeProc{answer: status(message.StatusRejected)}
			s, err := New(cfg, proc, fakeMaps{}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			acks := exchange(t, s, frame(tc.msg))
			if len(acks) != 1 {
				t.Fatalf("%d ACKs, want 1", len(acks))
			}
			ack := acks[0]
			if ack.Charset != tc.wantACK {
				t.Errorf("ACK in %s, want %s", ack.Charset, tc.wantACK)
			}
			msa := func(f int) string { return ack.Get(hl7.Location{Segment: "MSA", Field: f}) }
			if msa(2) != "C1" {
				t.Errorf("MSA-2 = %q, want C1", msa(2))
			}
			if tc.wantName == "" {
				why := ack.Get(hl7.Location{Segment: "ERR", Field: 8}) // the whole reason; MSA-3 its first 80 characters
				if len(proc.envs) != 0 || msa(1) != "AR" || !strings.Contains(why, tc.wantRefusal) || !strings.HasPrefix(why, strings.TrimSuffix(msa(3), "...")) {
					t.Errorf("processed %d, MSA-1 %q, MSA-3 %q, ERR-8 %q; want AR saying %q", len(proc.envs), msa(1), msa(3), why, tc.wantRefusal)
				}
				return
			}
			if len(proc.envs) != 1 {
				t.Fatalf("processed %d messages, want 1 (ACK %v)", len(proc.envs), ack.Segments)
			}
			m, err := hl7.Parse([]byte(proc.envs[0]["payload"].(string)))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Get(hl7.Location{Segment: "PID", Field: 5}); got != tc.wantName {
				t.Errorf("PID-5 reached the pipeline as %q, want %q", got, tc.wantName)
			}
			// The rejection's Chinese text survives the ACK's encoding.
			if msa(1) != "AE" || msa(3) != "拒绝" {
				t.Errorf("MSA-1 %q, MSA-3 %q; want AE 拒绝", msa(1), msa(3))
			}
		})
	}
}

// TestAllowFrom: a peer outside allowFrom is hung up on before anything is
// read; inside, it is served.
func TestAllowFrom(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		allow  []string
		served bool
	}{
		"outside":        {[]string{"10.0.0.0/8"}, false},
		"inside":         {[]string{"10.0.0.0/8", "127.0.0.1"}, true},
		"loopback only?": {nil, true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := listenerConfig()
			cfg.AllowFrom = tc.allow
			s, err := New(cfg, &fakeProc{answer: status("ok")}, fakeMaps{}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Listen(); err != nil {
				t.Fatal(err)
			}
			go func() { _ = s.Serve(context.Background()) }()
			defer s.Close()
			c, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Write(frame(strings.Replace(a28, "%s", "1", 1)))
			raw, err := hl7.NewReader(c).ReadMessage()
			if tc.served != (err == nil) {
				t.Fatalf("served = %v (%q, %v), want %v", err == nil, raw, err, tc.served)
			}
		})
	}
}

// FuzzServe feeds arbitrary bytes to a connection: the server never
// panics or hangs, and everything it writes back is a readable ACK.
func FuzzServe(f *testing.F) {
	f.Add(frame(strings.Replace(a28, "%s", "1", 1)))
	f.Add([]byte("\x0bMSH|^~\\&|A|B|||x||ADT^A28|1|P\x1c\r\x0b\x1c\r"))
	f.Add([]byte("\x0b\x0b\x1cMSH|"))
	f.Add([]byte("MSH|^~\\&|A|B|||x||ADT^A28|2|P\rPID|1||X\r"))
	// GB 18030 without MSH-18 (王小梅; 郑伟, valid UTF-8 too), and bytes
	// that are not GB 18030: the defaultCharset path.
	f.Add(frame("MSH|^~\\&|A|B|||x||ADT^A28|3|P|2.5\rPID|1||X||\xcd\xf5\xd0\xa1\xc3\xb7\r"))
	f.Add(frame("MSH|^~\\&|A|B|||x||ADT^A28|4|P|2.5\rPID|1||X||\xd6\xa3\xce\xb0\r"))
	f.Add(frame("MSH|^~\\&|A|B|||x||ADT^A28|5|P|2.5\rPID|1||X||\x81\x20\xff\r"))
	// A GB 18030 character whose second byte is '|' (8B 7C) in MSH-3,
	// which the ACK echoes in MSH-5, before its MSH-18.
	f.Add([]byte("\vMSH|!|0\x8b|\x1c"))
	f.Fuzz(func(t *testing.T, in []byte) {
		// Each input goes to a listener without defaultCharset and to one
		// reading messages without MSH-18 as GB 18030.
		for _, charset := range []string{"", "GB18030"} {
			cfg := listenerConfig()
			cfg.DefaultCharset = charset
			s, _ := New(cfg, &fakeProc{answer: status("ok")}, fakeMaps{}, quiet, nil)
			c := &bufConn{in: bytes.NewReader(in)}
			s.ServeConn(context.Background(), c)
			rd := hl7.NewReader(&c.out)
			for {
				raw, err := rd.ReadMessage()
				if err != nil {
					break
				}
				m, err := hl7.Parse(raw)
				if err != nil || m.Type() != "ACK" {
					t.Fatalf("defaultCharset %q: the server wrote %q, not an ACK: %v", charset, raw, err)
				}
			}
		}
	})
}

// bufConn is a connection that reads its input, then EOF, and keeps what
// is written.
type bufConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *bufConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *bufConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *bufConn) Close() error                     { return nil }
func (c *bufConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2575} }
func (c *bufConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000} }
func (c *bufConn) SetDeadline(time.Time) error      { return nil }
func (c *bufConn) SetReadDeadline(time.Time) error  { return nil }
func (c *bufConn) SetWriteDeadline(time.Time) error { return nil }

// TestTLS: with tls and clientCAFile the listener speaks MLLP over TLS and
// serves only senders whose certificate the CA signed.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, caKey := selfSigned(t, "test CA", nil, nil, true)
	server, serverKey := selfSigned(t, "127.0.0.1", ca, caKey, false)
	client, clientKey := selfSigned(t, "platform", ca, caKey, false)
	write := func(name string, der []byte, typ string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cfg := listenerConfig()
	cfg.TLS = &config.MLLPTLS{CertFile: write("server.crt", server.Raw, "CERTIFICATE"), KeyFile: write("server.key", keyDER(serverKey), "EC PRIVATE KEY"),
		ClientCAFile: write("ca.crt", ca.Raw, "CERTIFICATE")}
	s, err := New(cfg, &fakeProc{answer: status("ok")}, fakeMaps{}, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(context.Background()) }()
	defer s.Close()
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	send := func(certs []tls.Certificate) error {
		c, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: roots, Certificates: certs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(frame(strings.Replace(a28, "%s", "1", 1))); err != nil {
			return err
		}
		raw, err := hl7.NewReader(c).ReadMessage()
		if err != nil {
			return err
		}
		if m, err := hl7.Parse(raw); err != nil || m.Get(hl7.Location{Segment: "MSA", Field: 1}) != "AA" {
			return fmt.Errorf("ACK %q", raw)
		}
		return nil
	}
	if err := send([]tls.Certificate{{Certificate: [][]byte{client.Raw}, PrivateKey: clientKey}}); err != nil {
		t.Errorf("a sender with a certificate from the CA: %v", err)
	}
	if err := send(nil); err == nil {
		t.Error("a sender without a certificate was served")
	}
}

// selfSigned makes a certificate for name, signed by parent (self-signed
// when nil).
func selfSigned(t *testing.T, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestIDFromAnySender: MSH-3 and MSH-4 with spaces or Chinese (a
// facility's name) still give a usable envelope id, the same one for a
// resend and another one for another MSH-10.
func TestIDFromAnySender(t *testing.T) {
	t.Parallel()
	proc := &fakeProc{answer: status(message.StatusOK)}
	s, err := New(listenerConfig(), proc, fakeMaps{}, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := func(app, facility, control string) []byte {
		m := strings.Replace(a28, "|HIS|XMFY|", "|"+app+"|"+facility+"|", 1)
		return frame(strings.Replace(m, "%s", control, 1))
	}
	long := strings.Repeat("A", 120)
	acks := exchange(t, s, msg("HIS SYSTEM", "厦门市妇幼保健院", "1"), msg("HIS SYSTEM", "厦门市妇幼保健院", "1"),
		msg("HIS SYSTEM", "厦门市妇幼保健院", "2"), msg(long, "XMFY", "1"), msg("HIS", "XMFY", "1"))
	if len(acks) != 5 {
		t.Fatalf("%d ACKs, want 5", len(acks))
	}
	var ids []string
	for _, env := range proc.envs {
		id := env["id"].(string)
		if !message.ValidID(id) || !strings.HasPrefix(id, "hl7:") {
			t.Errorf("envelope id %q is not a usable message id", id)
		}
		ids = append(ids, id)
	}
	if ids[0] != ids[1] || ids[0] == ids[2] || ids[3] == ids[4] || ids[4] != "hl7:HIS:XMFY:MSG1" {
		t.Errorf("ids %q: a resend must keep its id, other messages must not share it", ids)
	}
}

// TestReadTimeoutBoundsAMessage: readTimeout bounds reading one message
// once it started, however slowly its bytes trickle in; the idle timeout
// is for the time between messages.
func TestReadTimeoutBoundsAMessage(t *testing.T) {
	t.Parallel()
	cfg := listenerConfig()
	cfg.ReadTimeout = config.Duration(300 * time.Millisecond)
	s, err := New(cfg, &fakeProc{answer: status(message.StatusOK)}, fakeMaps{}, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeConn(t.Context(), server)
	}()
	defer func() { client.Close(); <-done }()
	start := time.Now()
	msg := frame(strings.Replace(a28, "%s", "1", 1))
	for i := 0; i < len(msg)-2; i++ {
		_ = client.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := client.Write(msg[i : i+1]); err != nil {
			if took := time.Since(start); took > 1500*time.Millisecond {
				t.Fatalf("connection closed after %s, want about the 300ms read timeout", took)
			}
			return
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("a message trickling in a byte every 100ms was read for 3s with a 300ms readTimeout")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the whole message was read")
}

// TestIdleTimeoutNotResetByBlankBytes: idleTimeout bounds the time
// without a message; blank bytes between frames (which the listener skips)
// do not keep an idle connection, and its maxConnections slot, for ever.
// After a message, the idle time starts again.
func TestIdleTimeoutNotResetByBlankBytes(t *testing.T) {
	t.Parallel()
	cfg := listenerConfig()
	cfg.IdleTimeout = config.Duration(300 * time.Millisecond)
	s, err := New(cfg, &fakeProc{answer: status(message.StatusOK)}, fakeMaps{}, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeConn(t.Context(), server)
	}()
	defer func() { client.Close(); <-done }()
	// A message first: its ACK comes, and the idle time starts after it.
	_ = client.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := client.Write(frame(strings.Replace(a28, "%s", "1", 1))); err != nil {
		t.Fatal(err)
	}
	if _, err := hl7.NewReader(client).ReadMessage(); err != nil {
		t.Fatalf("no ACK for the message: %v", err)
	}
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		_ = client.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := client.Write([]byte("\r")); err != nil {
			if took := time.Since(start); took > 1500*time.Millisecond {
				t.Fatalf("connection closed %s after the last message, want about the 300ms idle timeout", took)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("a connection sending a blank byte every 100ms and no message was kept 3s with a 300ms idleTimeout")
}

// TestUnframedRefusedAtOnce: a sender that writes HL7 without MLLP framing
// is told so with AR at once, rather than left waiting for an ACK until the
// read timeout closes the connection.
func TestUnframedRefusedAtOnce(t *testing.T) {
	t.Parallel()
	cfg := listenerConfig()
	cfg.ReadTimeout = config.Duration(3 * time.Second)
	proc := &fakeProc{answer: status(message.StatusOK)}
	s, _ := New(cfg, proc, fakeMaps{}, quiet, nil)
	start := time.Now()
	acks := exchange(t, s, []byte(strings.Replace(a28, "%s", "1", 1)))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered after %s, want at once", took)
	}
	if len(acks) != 1 {
		t.Fatalf("%d ACKs, want an AR", len(acks))
	}
	if msa := acks[0].Segment(hl7.Location{Segment: "MSA"}, 0, -1); msa == nil || msa.Value(1, 1, 1, 1) != "AR" || !strings.Contains(msa.Value(3, 1, 1, 1), "MLLP") {
		t.Errorf("ACK %v, want AR saying the message needs MLLP framing", acks[0].Segments)
	}
	if len(proc.envs) != 0 {
		t.Errorf("an unframed message was processed")
	}
}
