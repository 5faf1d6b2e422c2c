package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"time"

	"github.com/medgate/medgate/transforms/hl7"
)

// MLLP configures HL7 v2 over MLLP (the Minimal Lower Layer Protocol), an
// optional transport for sites whose platform sends HL7 over TCP instead
// of Kafka. Each message received is processed like one from the request
// topic and acknowledged (ACK with AA, AE or AR) once its outcome is
// stored.
type MLLP struct {
	Listeners []MLLPListener `yaml:"listeners"`
	// ShutdownGrace is how long a shutdown lets the messages being
	// processed get their ACK before their connections are cut without one
	// (their senders resend and get the stored outcomes); default 5s,
	// between 100ms and 1m, as the deploy examples give medgate 90s to
	// stop (systemd TimeoutStopSec, Kubernetes
	// terminationGracePeriodSeconds) and the rest of the shutdown follows.
	ShutdownGrace Duration `yaml:"shutdownGrace"`
}

// MLLPListener is one TCP port taking HL7 v2 messages for one site.
type MLLPListener struct {
	// Address is host:port to listen on, e.g. "0.0.0.0:2575".
	Address string `yaml:"address"`
	// Site is the site code the messages are for.
	Site string `yaml:"site"`
	// TLS, when set, serves MLLP over TLS; with ClientCAFile the sender
	// must present a certificate signed by that CA.
	TLS *MLLPTLS `yaml:"tls"`
	// AllowFrom lists the networks (CIDR, e.g. 10.1.2.0/24, or single
	// addresses) that may connect; empty allows loopback only.
	AllowFrom []string `yaml:"allowFrom"`
	// MaxMessageBytes bounds one message (default half of
	// processing.maxPayloadBytes, at most 512 KiB: 491808 bytes with the
	// default payload limit; at most processing.maxPayloadBytes, as the
	// message travels in a request envelope); a larger one is refused with
	// AR. More bytes than this outside a frame (without a start block)
	// close the connection.
	MaxMessageBytes int `yaml:"maxMessageBytes"`
	// MaxConnections caps the connections served at once (default 32).
	MaxConnections int `yaml:"maxConnections"`
	// IdleTimeout closes a connection that sends no message for this long
	// after its last one (blank bytes between messages do not count;
	// default 5m); ReadTimeout bounds reading one message once it started
	// (default 30s); WriteTimeout bounds writing an ACK (default 10s).
	IdleTimeout  Duration `yaml:"idleTimeout"`
	ReadTimeout  Duration `yaml:"readTimeout"`
	WriteTimeout Duration `yaml:"writeTimeout"`
	// ProcessTimeout bounds the wait for a message's stored outcome
	// (default processing.callTimeout + 30s). A message whose outcome is not
	// ready gets no ACK: the sender resends it, and the resend (same MSH-10)
	// gets the stored outcome.
	ProcessTimeout Duration `yaml:"processTimeout"`
	// MessageTypes maps MSH-9 (type^trigger, e.g. "DFT^P03") to the
	// medgate message type (e.g. "workinjury.GYU102"). Without an entry,
	// the type is the one hl7v2 mapping of the site that reads that MSH-9.
	MessageTypes map[string]string `yaml:"messageTypes"`
	// DefaultCharset is the character set of the messages whose MSH-18 is
	// empty (default UTF-8): GB18030 for a HIS that writes GBK or
	// GB 18030 without declaring it (GBK and GB 2312 are read as
	// GB 18030). It applies to every such message of the listener, whether
	// or not its bytes would also be valid UTF-8 (a GB 18030 name such as
	// 郑伟 is); a message that declares MSH-18 is read as it declares. The
	// ACK is written in the character set the message was read in.
	DefaultCharset string `yaml:"defaultCharset"`
}

// MLLPTLS is the server certificate and, optionally, the CA that signs the
// senders' certificates.
type MLLPTLS struct {
	CertFile     string `yaml:"certFile"`
	KeyFile      string `yaml:"keyFile"`
	ClientCAFile string `yaml:"clientCAFile"`
}

var (
	// mllpTypeRE is the type pattern of a request envelope (package message).
	mllpTypeRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}\.[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	hl7TypeRE  = regexp.MustCompile(`^[A-Z0-9]{3}\^[A-Z0-9]{3}$`)
)

func (c *Config) defaultMLLP() {
	defNonZero(c, "mllp.shutdownGrace", &c.MLLP.ShutdownGrace, Duration(5*time.Second), "must be between 100ms and 1m")
	for i := range c.MLLP.Listeners {
		l := &c.MLLP.Listeners[i]
		path := fmt.Sprintf("mllp.listeners[%d].", i)
		defNonZero(c, path+"maxMessageBytes", &l.MaxMessageBytes, min(512<<10, c.Processing.MaxPayloadBytes/2), "must be between 1 and processing.maxPayloadBytes")
		defNonZero(c, path+"maxConnections", &l.MaxConnections, 32, "must be between 1 and 10000")
		defNonZero(c, path+"idleTimeout", &l.IdleTimeout, Duration(5*time.Minute), "must be at least 100ms")
		defNonZero(c, path+"readTimeout", &l.ReadTimeout, Duration(30*time.Second), "must be at least 100ms")
		defNonZero(c, path+"writeTimeout", &l.WriteTimeout, Duration(10*time.Second), "must be at least 100ms")
		defNonZero(c, path+"processTimeout", &l.ProcessTimeout, c.Processing.CallTimeout+Duration(30*time.Second), "must be at least 100ms")
		def(&l.DefaultCharset, "UTF-8")
		if name, err := hl7.CharsetName(l.DefaultCharset); err == nil {
			l.DefaultCharset = name // checkMLLP reports a name that is not known
		}
		if t := l.TLS; t != nil {
			t.CertFile, t.KeyFile = c.rel(t.CertFile), c.rel(t.KeyFile)
			if t.ClientCAFile != "" {
				t.ClientCAFile = c.rel(t.ClientCAFile)
			}
		}
	}
}

// checkMLLP checks every listener, listing every problem.
func (c *Config) checkMLLP() Problems {
	var ps Problems
	add := func(path, f string, a ...any) { ps = append(ps, c.Problem(path, f, a...)) }
	sites := map[string]bool{}
	for _, s := range c.Sites {
		sites[s.Code] = true
	}
	if g := c.MLLP.ShutdownGrace.D(); g < 100*time.Millisecond || g > time.Minute {
		add("mllp.shutdownGrace", "must be between 100ms and 1m, is %s", g)
	}
	addrs := map[string]int{}
	for i, l := range c.MLLP.Listeners {
		path := fmt.Sprintf("mllp.listeners[%d]", i)
		if _, _, err := net.SplitHostPort(l.Address); err != nil {
			add(path+".address", "%q is not host:port; write e.g. \"0.0.0.0:2575\"", l.Address)
		} else if j, dup := addrs[l.Address]; dup {
			add(path+".address", "%s is also mllp.listeners[%d]'s address; give each listener its own port", l.Address, j)
		}
		addrs[l.Address] = i
		if !sites[l.Site] {
			add(path+".site", "site %q is not declared under sites:; name the site whose platform sends on this port", l.Site)
		}
		for j, cidr := range l.AllowFrom {
			if _, err := ParseAllow(cidr); err != nil {
				add(fmt.Sprintf("%s.allowFrom[%d]", path, j), "%v", err)
			}
		}
		if l.MaxMessageBytes < 1 || l.MaxMessageBytes > c.Processing.MaxPayloadBytes {
			add(path+".maxMessageBytes", "must be between 1 and processing.maxPayloadBytes (%d), is %d", c.Processing.MaxPayloadBytes, l.MaxMessageBytes)
		}
		if l.MaxConnections < 1 || l.MaxConnections > 10000 {
			add(path+".maxConnections", "must be between 1 and 10000, is %d", l.MaxConnections)
		}
		for _, d := range []struct {
			name string
			d    Duration
		}{{"idleTimeout", l.IdleTimeout}, {"readTimeout", l.ReadTimeout}, {"writeTimeout", l.WriteTimeout}, {"processTimeout", l.ProcessTimeout}} {
			if d.d.D() < 100*time.Millisecond {
				add(path+"."+d.name, "must be at least 100ms, is %s", d.d.D())
			}
		}
		for _, msh9 := range slices.Sorted(maps.Keys(l.MessageTypes)) {
			typ := l.MessageTypes[msh9]
			if !hl7TypeRE.MatchString(msh9) {
				add(path+".messageTypes", "%q is not an HL7 message type; write MSH-9 as type^trigger, e.g. \"DFT^P03\"", msh9)
			}
			if !mllpTypeRE.MatchString(typ) {
				add(path+".messageTypes."+msh9, "%q is not a message type; write <plugin>.<operation> as the plugin declares it", typ)
			}
		}
		if _, err := hl7.CharsetName(l.DefaultCharset); err != nil {
			add(path+".defaultCharset", "character set %q is not one medgate reads; write GB18030 (for GBK, GB 2312 and GB 18030) or UTF-8", l.DefaultCharset)
		}
		if t := l.TLS; t != nil {
			if t.CertFile == "" || t.KeyFile == "" {
				add(path+".tls", "certFile and keyFile are both required")
			}
			readable := true
			for _, f := range []struct{ name, file string }{{"certFile", t.CertFile}, {"keyFile", t.KeyFile}, {"clientCAFile", t.ClientCAFile}} {
				if f.file == "" {
					continue
				}
				if _, err := os.Stat(f.file); err != nil {
					add(path+".tls."+f.name, "cannot read %s: %v", f.file, err)
					readable = false
				}
			}
			if t.ClientCAFile != "" {
				// The listener refuses to start on a CA file without a certificate.
				if pem, err := os.ReadFile(t.ClientCAFile); err == nil && !x509.NewCertPool().AppendCertsFromPEM(pem) {
					add(path+".tls.clientCAFile", "%s holds no PEM certificate; give the PEM certificate of the CA that signs the senders' certificates", t.ClientCAFile)
				}
			}
			if readable && t.CertFile != "" && t.KeyFile != "" {
				if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
					add(path+".tls", "the certificate and key do not load: %v; give a PEM certificate and its PEM private key", err)
				}
			}
		}
	}
	return ps
}

// ParseAllow reads an allowFrom entry: a CIDR or a single address.
func ParseAllow(s string) (*net.IPNet, error) {
	if _, n, err := net.ParseCIDR(s); err == nil {
		return n, nil
	}
	if ip := net.ParseIP(s); ip != nil {
		bits := 128
		if ip.To4() != nil {
			ip, bits = ip.To4(), 32
		}
		return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	return nil, fmt.Errorf("%q is not a network; write a CIDR such as 10.1.2.0/24 or an address such as 10.1.2.7", s)
}
