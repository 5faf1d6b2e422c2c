package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutboundProblems checks that every mistake in sites[].outbound is
// reported at once, each with its path and line.
func TestOutboundProblems(t *testing.T) {
	t.Parallel()
	_, err := Parse("/etc/medgate/medgate.yaml", []byte(`kafka:
  embedded: {}
sites:
  - code: a
    outbound:
      format: hl7
      replies: ["*", "*"]
      events: [ecard.registered, "Ecard.x", "ecard.*"]
  - code: b
    outbound: {format: json}
  - code: c
    outbound: {events: [workinjury.admission.downloaded]}
`))
	if err == nil {
		t.Fatal("want problems")
	}
	for _, want := range []string{
		`medgate.yaml:6: sites[0].outbound.format: "hl7" is not an outbound format; use hl7v2 or json`,
		`medgate.yaml:7: sites[0].outbound.replies[1]: "*" is listed twice`,
		`medgate.yaml:8: sites[0].outbound.events[1]: "Ecard.x" is not a type`,
		`sites[1].outbound: lists neither replies nor events`,
		`sites[2].outbound.format: is required: hl7v2`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "outbound"); n < 5 {
		t.Errorf("want 5 outbound problems, got:\n%v", err)
	}
	c, err := Parse("/etc/medgate/medgate.yaml", []byte("kafka:\n  embedded: {}\nsites:\n  - code: a\n    outbound: {format: hl7v2, replies: [\"*\"], events: [ecard.*, workinjury.admission.downloaded]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Sites[0].Outbound; o == nil || o.Format != "hl7v2" || len(o.Events) != 2 {
		t.Errorf("outbound = %+v", o)
	}
}

// TestMLLPProblems checks every mistake in mllp.listeners at once, and the
// defaults.
func TestMLLPProblems(t *testing.T) {
	t.Parallel()
	_, err := Parse("/etc/medgate/medgate.yaml", []byte(`kafka:
  embedded: {}
sites:
  - code: demo
mllp:
  listeners:
    - address: "2575"
      site: xm01
      allowFrom: [10.1.2.0/33, 10.1.2.7]
      maxMessageBytes: 99999999
      messageTypes: {"DFT-P03": workinjury.GYU102, "ADT^A01": GYU101}
      tls: {certFile: /nonexistent/cert.pem}
      defaultCharset: BIG5
`))
	if err == nil {
		t.Fatal("want problems")
	}
	for _, want := range []string{
		`mllp.listeners[0].address: "2575" is not host:port`,
		`mllp.listeners[0].site: site "xm01" is not declared`,
		`mllp.listeners[0].allowFrom[0]: "10.1.2.0/33" is not a network`,
		`mllp.listeners[0].maxMessageBytes: must be between 1 and processing.maxPayloadBytes`,
		`mllp.listeners[0].messageTypes: "DFT-P03" is not an HL7 message type`,
		`mllp.listeners[0].messageTypes.ADT^A01: "GYU101" is not a message type`,
		`mllp.listeners[0].tls: certFile and keyFile are both required`,
		`mllp.listeners[0].tls.certFile: cannot read /nonexistent/cert.pem`,
		`mllp.listeners[0].defaultCharset: character set "BIG5" is not one medgate reads; write GB18030`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	c, err := Parse("/etc/medgate/medgate.yaml", []byte("kafka:\n  embedded: {}\nsites:\n  - code: demo\nmllp:\n  listeners:\n    - {address: \"127.0.0.1:2575\", site: demo}\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := c.MLLP.Listeners[0]
	if l.MaxMessageBytes != min(512<<10, MaxPayloadLimit/2) || l.MaxConnections != 32 || l.IdleTimeout.D().Minutes() != 5 || l.ProcessTimeout.D().Seconds() != 90 {
		t.Errorf("defaults %+v", l)
	}
}

// TestMLLPClientCAWithoutCertificate: a client CA file holding no PEM
// certificate is a configuration problem, not a start-up failure of the
// listener.
func TestMLLPClientCAWithoutCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := filepath.Join(dir, "platform-ca.crt")
	if err := os.WriteFile(ca, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Parse(filepath.Join(dir, "medgate.yaml"), []byte(`kafka:
  embedded: {}
sites:
  - code: demo
mllp:
  listeners:
    - address: "127.0.0.1:2575"
      site: demo
      tls: {certFile: /nonexistent/cert.pem, keyFile: /nonexistent/key.pem, clientCAFile: platform-ca.crt}
`))
	if err == nil || !strings.Contains(err.Error(), "mllp.listeners[0].tls.clientCAFile: ") {
		t.Errorf("problems lack mllp.listeners[0].tls.clientCAFile:\n%v", err)
	}
}

// TestMLLPMessageTypesAsEnvelopes: listener messageTypes accept the types
// a request envelope accepts, and only those.
func TestMLLPMessageTypesAsEnvelopes(t *testing.T) {
	t.Parallel()
	long := "ecard." + strings.Repeat("x", 65)
	_, err := Parse("/etc/medgate/medgate.yaml", []byte(`kafka:
  embedded: {}
sites:
  - code: demo
mllp:
  listeners:
    - address: "127.0.0.1:2575"
      site: demo
      messageTypes: {"ADT^A01": self_pay.4201A, "ADT^A03": `+long+`}
`))
	if err == nil || !strings.Contains(err.Error(), "messageTypes.ADT^A03:") {
		t.Errorf("a type longer than an envelope takes is not reported:\n%v", err)
	}
	if err != nil && strings.Contains(err.Error(), "messageTypes.ADT^A01:") {
		t.Errorf("the type of a plugin named self_pay is refused:\n%v", err)
	}
}
