package mllp

import (
	"github.com/google/go-cmp/cmp"

	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/transforms/hl7"
)

// serveTCP starts a listener on a loopback port and returns its address;
// it is closed when the test ends.
func serveTCP(t *testing.T, cfg config.MLLPListener, proc Processor) string {
	t.Helper()
	s, err := New(cfg, proc, fakeMaps{}, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = s.Serve(context.Background())
	}()
	t.Cleanup(func() {
		_ = s.Close()
		<-served
	})
	return s.Addr().String()
}

// TestEndBlockWithoutCR: a sender that ends its frame with the end block
// alone (no CR after it) and waits for the ACK gets it at once, not when
// the idle timeout ends the wait for the CR; a CR sent later is skipped.
func TestEndBlockWithoutCR(t *testing.T) {
	t.Parallel()
	cfg := listenerConfig()
	cfg.IdleTimeout = config.Duration(time.Minute)
	proc := &fakeProc{answer: status(message.StatusOK)}
	addr := serveTCP(t, cfg, proc)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := hl7.NewReader(c)
	for i, send := range []string{
		"\x0b" + strings.Replace(a28, "%s", "1", 1) + "\x1c",
		"\r\x0b" + strings.Replace(a28, "%s", "2", 1) + "\x1c",
	} {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(send)); err != nil {
			t.Fatal(err)
		}
		b, err := rd.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: no ACK within 5s (idle timeout 1m): %v", i+1, err)
		}
		if m, err := hl7.Parse(b); err != nil || m.Get(hl7.Location{Segment: "MSA", Field: 2}) != "MSG"+string(rune('1'+i)) {
			t.Fatalf("message %d: ACK %q", i+1, b)
		}
	}
}

// TestACKHeader: the ACK's MSH answers the sender's: sending and receiving
// application and facility swapped, the sender's processing ID, version
// and delimiters, whether the message was processed or refused because it
// could not be read (its MSH line still can).
func TestACKHeader(t *testing.T) {
	t.Parallel()
	type want struct {
		delims                             hl7.Delimiters
		sendApp, sendFac, recvApp, recvFac string
		processing, version, code, control string
		charset                            string
	}
	star := hl7.Delimiters{Field: '*', Component: '!', Repetition: '~', Escape: '\\', Subcomponent: '&'}
	for name, tc := range map[string]struct {
		msg     string
		want    want
		setting string // defaultCharset
	}{
		"v2.4 from a test system": {
			"MSH|^~\\&|HIS^2.16.840.1.1^ISO|XMFY|MEDGATE|XMFY_GW|20261203101500||ADT^A28|H1|T|2.4\rPID|1||X1||王小梅\r",
			want{hl7.DefaultDelimiters, "MEDGATE", "XMFY_GW", "HIS", "XMFY", "T", "2.4", "AA", "H1", "UTF-8"}, ""},
		"own delimiters": {
			"MSH*!~\\&*HIS*XMFY*MG*GW*20261203101500**ADT!A28*S|1*P*2.3.1\rPID*1**X1**WANG!XM\r",
			want{star, "MG", "GW", "HIS", "XMFY", "P", "2.3.1", "AA", "S|1", "UTF-8"}, ""},
		"too few encoding characters for an ACK": {
			"MSH|^~\\|HIS^X|XMFY|MG|GW|20261203101500||ADT^A28|D1|P|2.5\rPID|1||X1\r",
			want{hl7.DefaultDelimiters, "MG", "GW", "HIS", "XMFY", "P", "2.5", "AA", "D1", "UTF-8"}, ""},
		// 亅 is 81 7C in GB 18030: its second byte is '|'. Copied as it is
		// into MSH-5, it would hide MSH-18 from a reader of the raw bytes.
		"GBK without MSH-18, a facility's second byte a delimiter": {
			"MSH|^~\\&|HIS|厦门亅|MEDGATE|GW|20261203101500||ADT^A28|K1|P|2.4\rPID|1||X1||王小梅\r",
			want{hl7.DefaultDelimiters, "MEDGATE", "GW", "HIS", "厦门亅", "P", "2.4", "AA", "K1", "GB18030"}, "GB18030"},
		"GB 18030, unreadable further on": {
			"MSH|^~\\&|HIS|厦门妇幼|MEDGATE|GW|20261203101500||ADT^A28|G1|P|2.3|||||CHN|GB 18030-2000\rpid|1\r",
			want{hl7.DefaultDelimiters, "MEDGATE", "GW", "HIS", "厦门妇幼", "P", "2.3", "AR", "G1", "GB18030"}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw := []byte(tc.msg)
			if tc.want.charset == "GB18030" {
				var err error
				if raw, err = hl7.Encode(tc.msg, "GB18030"); err != nil {
					t.Fatal(err)
				}
			}
			cfg := listenerConfig()
			cfg.DefaultCharset = tc.setting
			addr := serveTCP(t, cfg, &fakeProc{answer: status(message.StatusOK)})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if err := hl7.NewWriter(c).WriteMessage(raw); err != nil {
				t.Fatal(err)
			}
			b, err := hl7.NewReader(c).ReadMessage()
			if err != nil {
				t.Fatalf("no ACK: %v", err)
			}
			ack, err := hl7.Parse(b)
			if err != nil {
				t.Fatalf("ACK %q does not parse: %v", b, err)
			}
			msh := &ack.Segments[0]
			v := func(f int) string { return msh.Value(f, 1, 1, 1) }
			got := want{ack.Delimiters, v(3), v(4), v(5), v(6), v(11), v(12),
				ack.Get(hl7.Location{Segment: "MSA", Field: 1}), ack.Get(hl7.Location{Segment: "MSA", Field: 2}), ack.Charset}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("ACK %q (-want +got):\n%s", b, diff)
			}
			if strings.Contains(tc.msg, "2.16.840.1.1") && msh.Value(5, 1, 2, 1) != "2.16.840.1.1" {
				t.Errorf("MSH-5 = %q, want the sender's whole MSH-3", msh.Field(5))
			}
		})
	}
}

// TestTooLargeRefusalReachesSender: a sender whose message is larger than
// maxMessageBytes writes it whole, then reads the ACK: it gets the AR that
// says so, rather than a reset connection (the listener hanging up on the
// unread rest of the message) that it would resend into for ever.
func TestTooLargeRefusalReachesSender(t *testing.T) {
	t.Parallel()
	for name, size := range map[string]int{"just over": 5000, "much larger": 4 << 20} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proc := &fakeProc{answer: status(message.StatusOK)}
			addr := serveTCP(t, listenerConfig(), proc)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			msg := "MSH|^~\\&|HIS|XMFY|||20261203||ADT^A28|BIG1|P|2.5\rNTE|" + strings.Repeat("x", size) + "\r"
			if err := hl7.NewWriter(c).WriteMessage([]byte(msg)); err != nil {
				t.Fatalf("writing the message: %v", err)
			}
			b, err := hl7.NewReader(c).ReadMessage()
			if err != nil {
				t.Fatalf("no AR: %v", err)
			}
			m, err := hl7.Parse(b)
			if err != nil || m.Get(hl7.Location{Segment: "MSA", Field: 1}) != "AR" ||
				!strings.Contains(m.Get(hl7.Location{Segment: "MSA", Field: 3}), "larger than the 4096 bytes") {
				t.Fatalf("ACK %q, want AR saying the message is too large", b)
			}
			if len(proc.envs) != 0 {
				t.Error("the message too large was processed")
			}
		})
	}
}

// TestNegativeACKSaysWhy: every AE or AR carries an ERR (and MSA-3) saying
// what is wrong, also when the reply holds no error of its own: an
// external system's refusal is named with its code and message.
func TestNegativeACKSaysWhy(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		reply     message.Reply
		code      string
		wantParts []string
	}{
		"rejected, external only": {message.Reply{Status: message.StatusRejected, External: &message.External{System: "ecard", Code: "E9", Message: "卡已注销"}},
			"AE", []string{"ecard", "E9", "卡已注销"}},
		"rejected, nothing said": {message.Reply{Status: message.StatusRejected}, "AE", []string{"rejected", "hl7:HIS:XMFY:MSG1"}},
		"failed, nothing said":   {message.Reply{Status: message.StatusFailed}, "AE", []string{"failed", "hl7:HIS:XMFY:MSG1"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proc := &fakeProc{answer: func(env map[string]any) (*message.Reply, error) {
				r := tc.reply
				r.ID, r.RequestID, r.Site, r.Type = "r1", env["id"].(string), "demo", "ecard.register"
				return &r, nil
			}}
			addr := serveTCP(t, listenerConfig(), proc)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if err := hl7.NewWriter(c).WriteMessage([]byte(strings.Replace(a28, "%s", "1", 1))); err != nil {
				t.Fatal(err)
			}
			b, err := hl7.NewReader(c).ReadMessage()
			if err != nil {
				t.Fatalf("no ACK: %v", err)
			}
			ack, err := hl7.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			msa3, err8 := ack.Get(hl7.Location{Segment: "MSA", Field: 3}), ack.Get(hl7.Location{Segment: "ERR", Field: 8})
			if got := ack.Get(hl7.Location{Segment: "MSA", Field: 1}); got != tc.code {
				t.Errorf("MSA-1 = %q, want %s", got, tc.code)
			}
			for _, p := range tc.wantParts {
				if !strings.Contains(err8, p) || !strings.Contains(msa3, p) {
					t.Errorf("ERR-8 %q, MSA-3 %q: want both to say %q (ACK %q)", err8, msa3, p, b)
				}
			}
		})
	}
}

// TestMappedACKAnswersSender: an ACK the site's mapping renders (which
// cannot know who sent the message) goes back to the sender: MSH-5 and
// MSH-6 are the sender's MSH-3 and MSH-4, whatever the mapping wrote
// there, in the mapping's delimiters, and MSA-2 its MSH-10.
func TestMappedACKAnswersSender(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		msg, wantApp, wantApp2, wantFac, wantControl string
	}{
		"same delimiters": {"MSH|^~\\&|HIS^2.16.1^ISO|XMFY|MEDGATE|GW|20261203101500||ADT^A28|M^1|P|2.4\rPID|1||X1\r",
			"HIS", "2.16.1", "XMFY", "M"},
		"other delimiters": {"MSH*!~\\&*HIS!2.16.1*XM|FY*MEDGATE*GW*20261203101500**ADT!A28*M^1*P*2.4\rPID*1**X1\r",
			"HIS", "", "XM|FY", "M^1"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mapped := []byte("MSH|^~\\&|MEDGATE|demo|PLATFORM||20261203101500||ACK|r1|P|2.5\rMSA|AA|x\rZEC|E1\r")
			s, err := New(listenerConfig(), &fakeProc{answer: status(message.StatusOK)}, fakeMaps{ack: mapped}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Listen(); err != nil {
				t.Fatal(err)
			}
			served := make(chan struct{})
			go func() { defer close(served); _ = s.Serve(context.Background()) }()
			defer func() { _ = s.Close(); <-served }()
			c, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if err := hl7.NewWriter(c).WriteMessage([]byte(tc.msg)); err != nil {
				t.Fatal(err)
			}
			b, err := hl7.NewReader(c).ReadMessage()
			if err != nil {
				t.Fatalf("no ACK: %v", err)
			}
			ack, err := hl7.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			msh := &ack.Segments[0]
			got := []string{msh.Value(5, 1, 1, 1), msh.Value(5, 1, 2, 1), msh.Value(6, 1, 1, 1), ack.Get(hl7.Location{Segment: "MSA", Field: 2}), ack.Get(hl7.Location{Segment: "ZEC", Field: 1})}
			want := []string{tc.wantApp, tc.wantApp2, tc.wantFac, tc.wantControl, "E1"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ACK %q: MSH-5.1, MSH-5.2, MSH-6, MSA-2, ZEC-1 (-want +got):\n%s", b, diff)
			}
		})
	}
}

// TestReadTimeoutOfAPipelinedMessage: readTimeout bounds the time the
// sender takes to send a message, not the time the listener takes to
// process the one before it. A frame whose start came with the end of the
// message before it (a sender pipelining its messages) gets readTimeout
// from when the listener starts reading it again after that message's ACK;
// its read time used to run while the message before it was processed, so
// a processing longer than readTimeout cut the connection as soon as the
// rest of the frame was waited for.
func TestReadTimeoutOfAPipelinedMessage(t *testing.T) {
	t.Parallel()
	cfg := listenerConfig()
	cfg.ReadTimeout = config.Duration(200 * time.Millisecond)
	proc := &fakeProc{answer: status(message.StatusOK)}
	slow := &slowProc{next: proc, took: 4 * cfg.ReadTimeout.D()}
	s, err := New(cfg, slow, fakeMaps{}, quiet, nil)
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
	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	second := frame(strings.Replace(a28, "%s", "2", 1))
	// One write, read at once: the first message and the start of the second.
	if _, err := client.Write(append(frame(strings.Replace(a28, "%s", "1", 1)), second[:40]...)); err != nil {
		t.Fatal(err)
	}
	rd := hl7.NewReader(client)
	for i, rest := range [][]byte{second[40:], nil} {
		b, err := rd.ReadMessage()
		if err != nil {
			t.Fatalf("ACK %d: %v", i+1, err)
		}
		if want := "MSA|AA|MSG" + string(rune('1'+i)); !strings.Contains(string(b), want) {
			t.Fatalf("ACK %d %q, want %s", i+1, b, want)
		}
		if rest != nil {
			if _, err := client.Write(rest); err != nil {
				t.Fatalf("the rest of the second message, sent at once after the first one's ACK: %v", err)
			}
		}
	}
}

// slowProc is a processor whose processing takes took (or until its
// context ends) before next answers.
type slowProc struct {
	next Processor
	took time.Duration
}

func (p *slowProc) Process(ctx context.Context, in pipeline.Input) (*message.Reply, error) {
	select {
	case <-time.After(p.took): // the processing's own time, not a wait for an outcome
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return p.next.Process(ctx, in)
}
