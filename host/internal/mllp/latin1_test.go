package mllp

import (
	"bytes"
	"testing"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms/hl7"
)

// TestACKCharsetDeclared: an ACK always declares in MSH-18 the character
// set it is written in. A message in ISO 8859-1 (MSH-18 8859/1) is
// answered in 8859/1; when the ACK's text cannot be written in it (a
// Chinese reason), the ACK goes out in UTF-8 and says so: it went out in
// UTF-8 without MSH-18, which a receiver reading undeclared messages in
// 8859/1 (or GB 18030) garbles.
func TestACKCharsetDeclared(t *testing.T) {
	t.Parallel()
	const latin1 = "MSH|^~\\&|HIS|XMFY|||20261203101500||ADT^A28|L1|P|2.5|||||CHN|8859/1\rPID|1||X1||M\xfcller\r"
	testCases := map[string]struct {
		status, want, wantMSA3 string
	}{
		"Latin text":   {message.StatusOK, "8859/1", ""},
		"Chinese text": {message.StatusRejected, "UNICODE UTF-8", "拒绝"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proc := &fakeProc{answer: status(tc.status)}
			s, err := New(listenerConfig(), proc, fakeMaps{}, quiet, nil)
			if err != nil {
				t.Fatal(err)
			}
			client := exchangeRaw(t, s, frame(latin1))
			// Read as a receiver that takes undeclared messages as 8859/1.
			ack, err := hl7.ParseWith(client, hl7.Options{DefaultCharset: "8859/1"})
			if err != nil {
				t.Fatalf("ACK %q: %v", client, err)
			}
			if got := ack.Segments[0].Value(18, 1, 1, 1); got != tc.want {
				t.Errorf("MSH-18 %q, want %q (ACK %q)", got, tc.want, client)
			}
			if got := ack.Get(hl7.Location{Segment: "MSA", Field: 3}); got != tc.wantMSA3 {
				t.Errorf("MSA-3 %q, want %q", got, tc.wantMSA3)
			}
		})
	}
}

// exchangeRaw sends one frame over a pipe and returns the bytes of the
// ACK read back.
func exchangeRaw(t *testing.T, s *Server, f []byte) []byte {
	t.Helper()
	c := &bufConn{in: bytes.NewReader(f)}
	s.ServeConn(t.Context(), c)
	raw, err := hl7.NewReader(&c.out).ReadMessage()
	if err != nil {
		t.Fatalf("no ACK: %v", err)
	}
	return raw
}
