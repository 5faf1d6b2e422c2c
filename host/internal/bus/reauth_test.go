package bus

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/medgate/medgate/test/testenv"
)

// reauthLifetime is the SASL session lifetime of the broker of
// TestReauthAfterRotation (connections.max.reauth.ms): a client
// re-authenticates on each connection after 85 to 95 % of it (KIP-368),
// and the broker closes a connection whose session ended when its next
// request is not a new authentication.
const reauthLifetime = 3 * time.Second

// TestReauthAfterRotation runs against a real Apache Kafka broker whose
// SASL sessions last reauthLifetime. A producer and a consumer
// authenticate; then the credentials in force are rotated, as a reload
// does (Credentials.Rotate). With SCRAM-SHA-512 the broker's password is
// replaced first (the old one refused from then on): past the session
// lifetime, the connections opened before the rotation re-authenticate
// with the new password (the broker would refuse the old one), and
// records sent after it are consumed. With PLAIN (whose users the test
// broker lists in its configuration) the credentials written into each
// re-authentication (plainConn) are taken by the broker. A new user is
// refused on a connection that authenticated as the old one (Kafka keeps
// a connection's principal, KIP-368): the connection is opened again as
// the new user and nothing stops. What went over the wire is read by
// wireTap, which decodes the SaslHandshake and SaslAuthenticate exchanges
// on each connection itself. The case without Rotate shows that a
// re-authentication with the old password is seen, and refused.
//
// A PLAIN password rotated for the same user cannot be accepted by a real
// broker without a restart: Kafka keeps PLAIN users in the listener's
// JAAS configuration, read when the listener starts, and has no other
// PLAIN user store short of a callback handler class of one's own (Java).
// Kafka 4.4 takes a dynamic update of the listener's sasl.jaas.config
// (AlterConfigs, without an error) but its running listener keeps the old
// users: a user added that way stays refused. So the case "PLAIN password
// rotated" shows the client's half on the wire: after the rotation every
// PLAIN authentication, the re-authentications of the connections opened
// before it and the first of those opened after it, carries the new
// password and never the old one, which the broker, still knowing the old
// one, refuses.
func TestReauthAfterRotation(t *testing.T) {
	const plainA, plainB = "plain-a", "plain-b"
	plainPass := map[string]string{plainA: "plain-a-Passw0rd", plainB: "plain-b-Passw0rd"}
	broker := testenv.NewKafkaBroker(t,
		testenv.KafkaProperty("connections.max.reauth.ms", strconv.Itoa(int(reauthLifetime.Milliseconds()))),
		testenv.KafkaProperty("listener.name.sasl_plaintext.plain.sasl.jaas.config",
			fmt.Sprintf(`org.apache.kafka.common.security.plain.PlainLoginModule required user_%s="%s" user_%s="%s";`, plainA, plainPass[plainA], plainB, plainPass[plainB])))
	sasl := broker.SASL()
	admin := &kafka.Client{Addr: kafka.TCP(broker.Addrs()...), Timeout: 30 * time.Second}
	setPassword := func(t *testing.T, user, pass string) {
		t.Helper()
		salt := make([]byte, 16)
		_, _ = rand.Read(salt)
		const iterations = 4096
		salted, err := pbkdf2.Key(sha512.New, pass, salt, iterations, sha512.Size)
		if err != nil {
			t.Fatal(err)
		}
		res, err := admin.AlterUserScramCredentials(t.Context(), &kafka.AlterUserScramCredentialsRequest{
			Upsertions: []kafka.UserScramCredentialsUpsertion{{Name: user, Mechanism: kafka.ScramMechanismSha512, Iterations: iterations, Salt: salt, SaltedPassword: salted}},
		})
		if err != nil {
			t.Fatalf("set the SCRAM password of %s at the broker: %v", user, err)
		}
		for _, r := range res.Results {
			if r.Error != nil {
				t.Fatalf("set the SCRAM password of %s at the broker: %v", user, r.Error)
			}
		}
	}

	for name, tc := range map[string]struct {
		mech   string
		rotate bool
		// newUser: the rotation changes the user too.
		newUser bool
		// wantRefused: the old password is used at a re-authentication
		// after the broker dropped it, or (plainRotated) the new PLAIN
		// password the broker does not know yet.
		wantRefused bool
		// plainRotated: the rotation changes the PLAIN password, not
		// the broker.
		plainRotated bool
	}{
		"SCRAM password rotated":     {mech: SASLScramSHA512, rotate: true},
		"SCRAM user changed":         {mech: SASLScramSHA512, rotate: true, newUser: true},
		"SCRAM password not rotated": {mech: SASLScramSHA512, rotate: false, wantRefused: true},
		"PLAIN re-authentication":    {mech: SASLPlain, rotate: true},
		"PLAIN user changed":         {mech: SASLPlain, rotate: true, newUser: true},
		"PLAIN password rotated":     {mech: SASLPlain, rotate: true, plainRotated: true, wantRefused: true},
	} {
		t.Run(name, func(t *testing.T) {
			user, oldPass, newUser, newPass := plainA, plainPass[plainA], plainA, plainPass[plainA]
			if tc.newUser {
				newUser, newPass = plainB, plainPass[plainB]
			}
			if tc.plainRotated {
				newPass = "plain-a-rotated-Passw0rd"
			}
			if tc.mech != SASLPlain {
				user, oldPass, newPass = uniqueName(t, "user"), "old-Passw0rd-1234", "new-Passw0rd-5678"
				newUser = user
				if tc.newUser {
					newUser = uniqueName(t, "user2")
				}
				setPassword(t, user, oldPass)
			}
			creds, err := NewCredentials(&SASLConfig{Mechanism: tc.mech, Username: user, Password: oldPass}, nil)
			if err != nil {
				t.Fatal(err)
			}
			group := uniqueName(t, "group")
			tapped := func(tap *wireTap) Config {
				cfg := testConfig(sasl.Addrs, group)
				cfg.Credentials = creds
				base := cfg.tune
				cfg.tune = func(sc *sarama.Config) {
					base(sc)
					// The tap reads what goes over TCP: under the
					// dialer of the credentials in force, if any.
					tap.next = &net.Dialer{Timeout: sc.Net.DialTimeout}
					if d, ok := sc.Net.Proxy.Dialer.(*dialer); ok && sc.Net.Proxy.Enable {
						d.tcp = tap.Dial
						return
					}
					sc.Net.Proxy.Enable, sc.Net.Proxy.Dialer = true, tap
				}
				return cfg
			}
			pTap, cTap := &wireTap{}, &wireTap{}
			topic := uniqueName(t, "topic")
			if err := EnsureTopics(t.Context(), tapped(&wireTap{}), []string{topic}, 1, 1); err != nil {
				t.Fatalf("EnsureTopics: %v", err)
			}
			p, err := NewProducer(tapped(pTap))
			if err != nil {
				t.Fatalf("NewProducer: %v", err)
			}
			defer p.Close()
			got := make(chan string, 16)
			r := startConsumer(t, tapped(cTap), []string{topic}, func(_ context.Context, m *Message) error {
				got <- string(m.Value)
				return nil
			})
			defer r.stop(t)
			consumed := func(want string) {
				t.Helper()
				deadline := time.After(30 * time.Second)
				for {
					select {
					case v := <-got:
						if v == want {
							return
						}
					case <-deadline:
						t.Fatalf("%q not consumed within 30s", want)
					}
				}
			}
			send(t, p, topic, "k", "before")
			consumed("before")
			for _, tap := range []*wireTap{pTap, cTap} {
				if lt := tap.lifetime(); lt != reauthLifetime {
					t.Fatalf("the broker gave sessions of %s, want %s (connections.max.reauth.ms)", lt, reauthLifetime)
				}
			}

			rotatedAt := time.Now()
			if tc.mech != SASLPlain {
				setPassword(t, user, newPass)
				if newUser != user {
					setPassword(t, newUser, newPass)
				}
			}
			if tc.rotate {
				n, err := NewCredentials(&SASLConfig{Mechanism: tc.mech, Username: newUser, Password: newPass}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := creds.Rotate(n); err != nil {
					t.Fatal(err)
				}
			}
			// The consumer's connections carry heartbeats and fetches
			// all along: they re-authenticate at the end of their
			// sessions, or are refused.
			eventually(t, 4*reauthLifetime, "the end of the sessions of the consumer's connections opened before the rotation", func() bool {
				for _, e := range cTap.since(rotatedAt) {
					if e.nth > 1 && e.opened.Before(rotatedAt) && (e.code != 0 || e.lifetime > 0) {
						return true
					}
				}
				return false
			})
			// The producer's connections sat idle past their sessions'
			// end: the next send re-authenticates first.
			eventually(t, 2*reauthLifetime, "the sessions of the producer's connections to end", func() bool {
				return time.Since(rotatedAt) > reauthLifetime
			})
			if tc.wantRefused {
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer cancel()
				err := p.Send(ctx, topic, []byte("k"), []byte("after"), nil)
				switch {
				case err == nil:
					t.Error("Send with the old password after the session's end succeeded")
				case !Permanent(err):
					t.Errorf("Send's error %v is not Permanent: the password stays refused until someone acts", err)
				case strings.Contains(err.Error(), oldPass) || strings.Contains(err.Error(), newPass):
					t.Errorf("Send's error shows the password: %v", err)
				default:
					// What failed, where, and how to fix it.
					for _, w := range []string{"refused SASL authentication", tc.mech, strconv.Quote(user), "kafka.sasl.password"} {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("Send's error does not say %q: %v", w, err)
						}
					}
				}
			} else {
				send(t, p, topic, "k", "after")
				consumed("after")
			}
			for who, tap := range map[string]*wireTap{"producer": pTap, "consumer": cTap} {
				if tc.mech == SASLPlain {
					checkPlainPassword(t, who, tap, rotatedAt, oldPass, newPass, tc.newUser || tc.plainRotated)
				}
				if tc.wantRefused {
					if tap.refused(rotatedAt) == 0 {
						t.Errorf("%s: no authentication refused after the rotation (the old password, or a new PLAIN one the broker does not know); wire:\n%s", who, tap)
					}
					continue
				}
				for _, e := range tap.since(rotatedAt) {
					switch {
					case e.user != "" && e.user != newUser:
						t.Errorf("%s: connection %d authenticated as %q after the rotation, want %q", who, e.conn, e.user, newUser)
					case e.code != 0 && !(tc.newUser && e.nth > 1 && strings.Contains(e.msg, "Cannot change principals")):
						t.Errorf("%s: connection %d: authentication %d refused after the rotation (error code %d %q)", who, e.conn, e.nth, e.code, e.msg)
					}
				}
				if tc.newUser {
					// Kafka keeps a connection's principal (KIP-368):
					// the connections re-authenticating as the new
					// user are refused and opened again.
					if tap.completed(rotatedAt, newUser, false) == 0 {
						t.Errorf("%s: no authentication as the new user after the rotation; wire:\n%s", who, tap)
					}
				} else if tap.completed(rotatedAt, newUser, true) == 0 {
					t.Errorf("%s: no connection opened before the rotation re-authenticated after it; wire:\n%s", who, tap)
				}
				if t.Failed() {
					t.Logf("%s's wire:\n%s", who, tap)
				}
			}
		})
	}
}

// wireTap dials through next and reads the Kafka protocol on each
// connection, independently of the client: the SaslHandshake requests
// (each starts an authentication), the user each authentication names
// (PLAIN and SCRAM's client-first message) and the SaslAuthenticate
// responses.
type wireTap struct {
	next interface {
		Dial(network, addr string) (net.Conn, error)
	}
	mu     sync.Mutex
	conns  int
	events []authEvent
}

// authEvent is one SaslAuthenticate response.
type authEvent struct {
	conn   int
	opened time.Time // when the connection was opened
	// nth is the authentication on its connection it belongs to: 1 the
	// first, 2 or more re-authentications.
	nth int
	// user is the user the authentication named; pass the password, for
	// PLAIN, and sent when its SaslAuthenticate request was written.
	user     string
	pass     string
	sent     time.Time
	at       time.Time
	code     int16
	msg      string
	lifetime time.Duration // 0 until the exchange completes
}

// Dial implements proxy.Dialer.
func (w *wireTap) Dial(network, addr string) (net.Conn, error) {
	c, err := w.next.Dial(network, addr)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conns++
	return &tapConn{Conn: c, tap: w, id: w.conns, opened: time.Now(), pending: map[int32][2]int16{}}, nil
}

// lifetime is the session lifetime the broker gave the first completed
// authentication.
func (w *wireTap) lifetime() time.Duration {
	for _, e := range w.since(time.Time{}) {
		if e.code == 0 && e.lifetime > 0 {
			return e.lifetime
		}
	}
	return 0
}

// since returns the responses read after t.
func (w *wireTap) since(t time.Time) []authEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []authEvent
	for _, e := range w.events {
		if e.at.After(t) {
			out = append(out, e)
		}
	}
	return out
}

// completed counts the authentications completed after t by user, all
// (reauth false) or only re-authentications of connections opened before
// t (reauth true).
func (w *wireTap) completed(t time.Time, user string, reauth bool) int {
	n := 0
	for _, e := range w.since(t) {
		if e.code == 0 && e.lifetime > 0 && e.user == user && (!reauth || e.nth > 1 && e.opened.Before(t)) {
			n++
		}
	}
	return n
}

// refused counts the authentications refused after t.
func (w *wireTap) refused(t time.Time) int {
	n := 0
	for _, e := range w.since(t) {
		if e.code != 0 {
			n++
		}
	}
	return n
}

func (w *wireTap) String() string {
	var b strings.Builder
	for _, e := range w.since(time.Time{}) {
		fmt.Fprintf(&b, "  conn %d (opened %s) auth %d of %q at %s: error code %d %q, session %s\n",
			e.conn, e.opened.Format("15:04:05.000"), e.nth, e.user, e.at.Format("15:04:05.000"), e.code, e.msg, e.lifetime)
	}
	return b.String()
}

// tapConn reads the frames written and read on one connection.
type tapConn struct {
	net.Conn
	tap    *wireTap
	id     int
	opened time.Time

	mu      sync.Mutex
	out, in []byte
	pending map[int32][2]int16 // correlation id → api key, version
	auths   int                // SaslHandshake requests written
	user    string             // named by the authentication under way
	pass    string             // its PLAIN password
	sent    time.Time          // when its SaslAuthenticate was written
}

// Write implements net.Conn.
func (c *tapConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.out = append(c.out, b...)
	for len(c.out) >= 4 {
		size := int(binary.BigEndian.Uint32(c.out))
		if len(c.out) < 4+size {
			break
		}
		f := c.out[4 : 4+size]
		c.out = c.out[4+size:]
		if len(f) < 10 {
			continue
		}
		key, version := int16(binary.BigEndian.Uint16(f)), int16(binary.BigEndian.Uint16(f[2:]))
		c.pending[int32(binary.BigEndian.Uint32(f[4:]))] = [2]int16{key, version}
		switch key {
		case int16(kmsg.SASLHandshake):
			c.auths++
			c.user, c.pass = "", ""
		case int16(kmsg.SASLAuthenticate):
			req := kmsg.NewPtrSASLAuthenticateRequest()
			req.Version = version
			body := f[8:]
			if n := int16(binary.BigEndian.Uint16(body)); n > 0 && int(n)+2 <= len(body) { // client id
				body = body[2+int(n):]
			} else {
				body = body[2:]
			}
			if req.IsFlexible() {
				body = skipTags(body)
			}
			if body != nil && req.ReadFrom(body) == nil {
				if u := saslUser(req.SASLAuthBytes); u != "" {
					c.user, c.pass, c.sent = u, plainPassword(req.SASLAuthBytes), time.Now()
				}
			}
		}
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// saslUser is the user a PLAIN message ("authzid\x00user\x00password")
// or a SCRAM client-first message ("n,,n=user,r=nonce") names.
func saslUser(b []byte) string {
	s := string(b)
	if parts := strings.Split(s, "\x00"); len(parts) == 3 {
		return parts[1]
	}
	if rest, ok := strings.CutPrefix(s, "n,,n="); ok {
		u, _, _ := strings.Cut(rest, ",")
		return strings.NewReplacer("=2C", ",", "=3D", "=").Replace(u)
	}
	return ""
}

// plainPassword is the password of a PLAIN message
// ("authzid\x00user\x00password"); "" for any other.
func plainPassword(b []byte) string {
	if parts := strings.Split(string(b), "\x00"); len(parts) == 3 {
		return parts[2]
	}
	return ""
}

// checkPlainPassword checks the PLAIN passwords tap read after rotatedAt:
// every authentication whose request was written after it carries newPass
// (never oldPass, when they differ), the connections opened before it
// re-authenticate with it, and, when fresh, connections opened after it
// authenticate with it. The passwords are never printed.
func checkPlainPassword(t *testing.T, who string, tap *wireTap, rotatedAt time.Time, oldPass, newPass string, fresh bool) {
	t.Helper()
	var reauths, opened int
	for _, e := range tap.since(rotatedAt) {
		if e.user == "" || !e.sent.After(rotatedAt) {
			continue
		}
		if e.pass != newPass {
			which := "another password"
			if e.pass == oldPass {
				which = "the old password"
			}
			t.Errorf("%s: connection %d: authentication %d after the rotation sent %s, not the new one", who, e.conn, e.nth, which)
			continue
		}
		switch {
		case e.nth > 1 && e.opened.Before(rotatedAt):
			reauths++
		case e.nth == 1 && e.opened.After(rotatedAt):
			opened++
		}
	}
	if reauths == 0 {
		t.Errorf("%s: no connection opened before the rotation re-authenticated with the new PLAIN password; wire:\n%s", who, tap)
	}
	if fresh && opened == 0 {
		t.Errorf("%s: no connection opened after the rotation authenticated with the new PLAIN password; wire:\n%s", who, tap)
	}
}

// Read implements net.Conn.
func (c *tapConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.in = append(c.in, b[:n]...)
	for len(c.in) >= 4 {
		size := int(binary.BigEndian.Uint32(c.in))
		if len(c.in) < 4+size {
			break
		}
		f := c.in[4 : 4+size]
		c.in = c.in[4+size:]
		if len(f) < 4 {
			continue
		}
		corr := int32(binary.BigEndian.Uint32(f))
		req, ok := c.pending[corr]
		delete(c.pending, corr)
		if !ok || req[0] != int16(kmsg.SASLAuthenticate) {
			continue
		}
		resp := kmsg.NewPtrSASLAuthenticateResponse()
		resp.Version = req[1]
		body := f[4:]
		if resp.IsFlexible() { // the response header's tagged fields
			body = skipTags(body)
		}
		e := authEvent{conn: c.id, opened: c.opened, nth: c.auths, user: c.user, pass: c.pass, sent: c.sent, at: time.Now(), code: -1}
		if body != nil && resp.ReadFrom(body) == nil {
			e.code, e.lifetime = resp.ErrorCode, time.Duration(resp.SessionLifetimeMillis)*time.Millisecond
			if resp.ErrorMessage != nil {
				e.msg = *resp.ErrorMessage
			}
		}
		c.tap.mu.Lock()
		c.tap.events = append(c.tap.events, e)
		c.tap.mu.Unlock()
	}
	return n, err
}

// skipTags returns b after a tagged-field section; nil if b is short.
func skipTags(b []byte) []byte {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil
	}
	b = b[k:]
	for range n {
		_, k := binary.Uvarint(b) // tag
		if k <= 0 {
			return nil
		}
		b = b[k:]
		size, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < size {
			return nil
		}
		b = b[k+int(size):]
	}
	return b
}
