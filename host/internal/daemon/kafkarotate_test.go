package daemon

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/medgate/medgate/host/internal/bus"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a certificate named cn signed by ca, for 127.0.0.1, and
// returns it with its certificate and key PEM.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
}

// TestReloadRotatesKafkaCredentials: hospitals rotate the Kafka password
// and renew certificates on a schedule. A reload that finds a new SASL
// password (behind the same file: reference) or user, or new contents of
// the TLS CA, certificate and key files, swaps them in for every Kafka
// client at once and reports nothing pending: before, it reported them as
// taking effect only when medgate restarts, and every new connection kept
// the old credentials, refused once the brokers dropped them. Here the
// brokers drop the old ones right after the reload (the old password or
// user refused, the client certificate of the old CA refused, their own
// certificate now from another CA); the connections of the running
// clients are then cut, and they connect again with the new credentials:
// the messages sent before and after are each in the requests and the
// replies topic exactly once, and a new client made from the running
// settings connects too. No password is logged.
func TestReloadRotatesKafkaCredentials(t *testing.T) {
	for name, tc := range map[string]struct {
		mech                 string
		oldUser, newUser     string
		oldPass, newPass     string
		rotateAtBroker       func(t *testing.T, admin sarama.ClusterAdmin)
		refuseUserAtBrokerOf string // PLAIN: the user the brokers refuse from the rotation on
	}{
		"SCRAM-SHA-256 password rotated behind its file reference": {
			mech: bus.SASLScramSHA256, oldUser: "medgate", newUser: "medgate",
			oldPass: "old-Passw0rd-1234", newPass: "new-Passw0rd-5678",
			rotateAtBroker: func(t *testing.T, admin sarama.ClusterAdmin) {
				res, err := admin.UpsertUserScramCredentials([]sarama.AlterUserScramCredentialsUpsert{{
					Name: "medgate", Mechanism: sarama.SCRAM_MECHANISM_SHA_256, Iterations: 4096,
					Salt: []byte("rotation-salt-0001"), Password: []byte("new-Passw0rd-5678"),
				}})
				if err != nil {
					t.Fatalf("rotate the SCRAM password at the broker: %v", err)
				}
				for _, r := range res {
					if !errors.Is(r.ErrorCode, sarama.ErrNoError) {
						t.Fatalf("rotate the SCRAM password at the broker: %v", r.ErrorCode)
					}
				}
			},
		},
		"PLAIN user and password rotated": {
			mech: bus.SASLPlain, oldUser: "medgate-2026a", newUser: "medgate-2026b",
			oldPass: "old-Passw0rd-1234", newPass: "new-Passw0rd-5678",
			refuseUserAtBrokerOf: "medgate-2026a",
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile := func(path string, b []byte) {
				t.Helper()
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			oldCA, newCA := newTestCA(t, "kafka-ca-2025"), newTestCA(t, "kafka-ca-2026")
			oldBroker, _, _ := oldCA.issue(t, "broker-2025", x509.ExtKeyUsageServerAuth)
			newBroker, _, _ := newCA.issue(t, "broker-2026", x509.ExtKeyUsageServerAuth)
			oldClient, oldClientPEM, oldKeyPEM := oldCA.issue(t, "medgate-2025", x509.ExtKeyUsageClientAuth)
			newClient, newClientPEM, newKeyPEM := newCA.issue(t, "medgate-2026", x509.ExtKeyUsageClientAuth)
			testClient, _, _ := newCA.issue(t, "test-admin", x509.ExtKeyUsageClientAuth)

			// The broker presents brokerCert and accepts only the client
			// certificates in accepted (and the test's own).
			var brokerCert atomic.Pointer[tls.Certificate]
			brokerCert.Store(&oldBroker)
			var accepted atomic.Pointer[[]byte]
			accepted.Store(&oldClient.Certificate[0])
			serverTLS := &tls.Config{
				MinVersion:     tls.VersionTLS12,
				GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return brokerCert.Load(), nil },
				ClientAuth:     tls.RequireAnyClientCert,
				VerifyConnection: func(cs tls.ConnectionState) error {
					if len(cs.PeerCertificates) == 0 {
						return errors.New("no client certificate")
					}
					got := cs.PeerCertificates[0].Raw
					if bytes.Equal(got, *accepted.Load()) || bytes.Equal(got, testClient.Certificate[0]) {
						return nil
					}
					return fmt.Errorf("client certificate %q refused", cs.PeerCertificates[0].Subject.CommonName)
				},
			}
			const adminUser, adminPass = "test-admin", "test-admin-Passw0rd"
			opts := []kfake.Opt{kfake.NumBrokers(1), kfake.EnableSASL(), kfake.TLS(serverTLS),
				kfake.Superuser(bus.SASLPlain, adminUser, adminPass), kfake.Superuser(tc.mech, tc.oldUser, tc.oldPass)}
			if tc.newUser != tc.oldUser {
				opts = append(opts, kfake.Superuser(tc.mech, tc.newUser, tc.newPass))
			}
			c, err := kfake.NewCluster(opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			var refusing atomic.Bool
			if tc.refuseUserAtBrokerOf != "" {
				c.ControlKey(int16(kmsg.SASLAuthenticate), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
					c.KeepControl()
					req := kreq.(*kmsg.SASLAuthenticateRequest)
					parts := strings.Split(string(req.SASLAuthBytes), "\x00")
					if len(parts) == 3 && (refusing.Load() && parts[1] == tc.refuseUserAtBrokerOf || parts[1] == tc.newUser && parts[2] != tc.newPass) {
						resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
						resp.ErrorCode = 58 // SASL_AUTHENTICATION_FAILED
						msg := "user removed"
						resp.ErrorMessage = &msg
						return resp, nil, true
					}
					return nil, nil, false
				})
			}

			// The test's own client: its own user and certificate.
			sc := sarama.NewConfig()
			sc.Version = sarama.V3_6_0_0
			sc.Net.TLS.Enable = true
			sc.Net.TLS.Config = &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{testClient}} //nolint:gosec // the test's own client
			sc.Net.SASL.Enable, sc.Net.SASL.Handshake, sc.Net.SASL.Version = true, true, sarama.SASLHandshakeV1
			sc.Net.SASL.Mechanism, sc.Net.SASL.User, sc.Net.SASL.Password = sarama.SASLTypePlaintext, adminUser, adminPass
			brokers := c.ListenAddrs()

			pwFile, caFile := filepath.Join(dir, "kafka-password"), filepath.Join(dir, "kafka-ca.pem")
			certFile, keyFile := filepath.Join(dir, "medgate.crt"), filepath.Join(dir, "medgate.key")
			writeFile(pwFile, []byte(tc.oldPass))
			writeFile(caFile, oldCA.pem)
			writeFile(certFile, oldClientPEM)
			writeFile(keyFile, oldKeyPEM)
			cfgPath := filepath.Join(dir, "medgate.yaml")
			writeConfig := func(user string) {
				writeFile(cfgPath, fmt.Appendf(nil, "node: rotate-1\n"+
					"kafka:\n  brokers: [%q]\n  groupId: rotate\n  createTopics: true\n  partitions: 1\n  replicationFactor: 1\n"+
					"  tls: {caFile: %q, certFile: %q, keyFile: %q}\n  sasl: {mechanism: %s, username: %s, password: \"file:%s\"}\n"+
					"store:\n  driver: sqlite\n  path: %q\n"+
					"http:\n  listen: 127.0.0.1:0\n", brokers[0], caFile, certFile, keyFile, tc.mech, user, pwFile, filepath.Join(dir, "medgate.db")))
			}
			writeConfig(tc.oldUser)
			logs := &lockedBuffer{}
			d, err := Start(t.Context(), cfgPath, Options{Out: logs})
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			defer func() { _ = d.Close() }()
			pollFor(t, 30*time.Second, "the consumer in its group", func() bool { return d.kafkaReadiness() == "ok" })
			sent := 0
			post := func(id string) {
				t.Helper()
				if status, _, body := postMessage(t, d, id); status != http.StatusUnprocessableEntity {
					t.Fatalf("message %s: HTTP %d %s, want 422 (its invalid reply)", id, status, body)
				}
				sent++
			}
			post("before-1")
			post("before-2")

			// Rotation: the new password in its file (and the new user in
			// the configuration), the new CA, certificate and key.
			writeFile(pwFile, []byte(tc.newPass))
			writeFile(caFile, newCA.pem)
			writeFile(certFile, newClientPEM)
			writeFile(keyFile, newKeyPEM)
			writeConfig(tc.newUser)
			before := len(logs.String())
			keys, err := d.ReloadReport(t.Context())
			if err != nil {
				t.Fatalf("reload: %v", err)
			}
			if keys != nil {
				t.Errorf("reload reports %q as taking effect at a restart; want the rotated credentials applied", keys)
			}
			logged := logs.String()[before:]
			if strings.Contains(logged, "take effect only when medgate restarts") {
				t.Errorf("the reload asks for a restart; logs:\n%s", logged)
			}

			// The brokers drop the old credentials.
			admin, err := sarama.NewClusterAdmin(brokers, sc)
			if err != nil {
				t.Fatalf("test admin client: %v", err)
			}
			defer admin.Close()
			if tc.rotateAtBroker != nil {
				tc.rotateAtBroker(t, admin)
			}
			refusing.Store(true)
			brokerCert.Store(&newBroker)
			accepted.Store(&newClient.Certificate[0])

			// A new client made from the running settings connects with
			// the new credentials.
			p, err := bus.NewProducer(d.busCfg)
			if err != nil {
				t.Fatalf("a new Kafka client after the rotation: %v", err)
			}
			if err := p.Send(t.Context(), "medgate.events", []byte("k"), []byte("rotated"), nil); err != nil {
				t.Errorf("send with a new Kafka client after the rotation: %v", err)
			}
			p.Close()

			// The running clients' connections are cut: they connect
			// again, with the new credentials.
			var cut [2]atomic.Bool
			for i, key := range []kmsg.Key{kmsg.Produce, kmsg.Fetch} {
				c.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
					cut[i].Store(true)
					return nil, errors.New("connection cut by the test"), true
				})
			}
			post("after-1")
			pollFor(t, 30*time.Second, "a produce and a fetch connection cut", func() bool { return cut[0].Load() && cut[1].Load() })
			post("after-2")
			post("after-3")
			pollFor(t, 30*time.Second, "the consumer in its group again", func() bool { return d.kafkaReadiness() == "ok" })

			if tc.refuseUserAtBrokerOf != "" {
				// A wrong new password: the reload cannot know it (only
				// the brokers do), the connections authenticated go on,
				// and a new connection is refused as loudly as at start,
				// naming the user, never the password.
				const wrong = "wrong-Passw0rd-0000"
				writeFile(pwFile, []byte(wrong))
				if keys, err := d.ReloadReport(t.Context()); err != nil || keys != nil {
					t.Fatalf("reload with a wrong password: %q, %v; want it applied", keys, err)
				}
				bc := d.busCfg
				bc.GroupID = "probe"
				var refused atomic.Int32
				bc.OnRefused = func(reason string) {
					if reason == bus.RefusedSASL {
						refused.Add(1)
					}
				}
				probe, err := bus.NewConsumer(bc, []string{"medgate.requests"}, func(context.Context, *bus.Message) error { return nil })
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				go func() { done <- probe.Run(ctx) }()
				pollFor(t, 30*time.Second, "a new consumer refused", func() bool { return refused.Load() > 0 })
				if r := probe.Refused(); !strings.Contains(r, fmt.Sprintf("%q", tc.newUser)) || strings.Contains(r, wrong) {
					t.Errorf("Refused() = %q, want it to name the user %q and not the password", r, tc.newUser)
				}
				cancel()
				if err := <-done; err != nil {
					t.Errorf("probe consumer: %v", err)
				}
				post("wrong-password-1")
				if r := d.kafkaReadiness(); r != "ok" {
					t.Errorf("kafka readiness with a wrong password rotated in: %q, want ok (its connections are authenticated)", r)
				}
				writeFile(pwFile, []byte(tc.newPass))
				if keys, err := d.ReloadReport(t.Context()); err != nil || keys != nil {
					t.Fatalf("reload with the right password again: %q, %v", keys, err)
				}
			}

			// Nothing lost, nothing twice: once every request's offset is
			// committed (after its reply was acknowledged), each topic
			// holds one record per message.
			client, err := sarama.NewClient(brokers, sc)
			if err != nil {
				t.Fatalf("test client: %v", err)
			}
			defer client.Close()
			pollFor(t, 30*time.Second, "every request committed", func() bool {
				resp, err := admin.ListConsumerGroupOffsets("rotate", map[string][]int32{"medgate.requests": {0}})
				if err != nil {
					return false
				}
				b := resp.GetBlock("medgate.requests", 0)
				return b != nil && errors.Is(b.Err, sarama.ErrNoError) && b.Offset == int64(sent)
			})
			for _, topic := range []string{"medgate.requests", "medgate.replies"} {
				end, err := client.GetOffset(topic, 0, sarama.OffsetNewest)
				if err != nil {
					t.Fatalf("end of %s: %v", topic, err)
				}
				if end != int64(sent) {
					t.Errorf("%s holds %d records, want %d (one per message sent)", topic, end, sent)
				}
			}
			if all := logs.String(); strings.Contains(all, tc.newPass) || strings.Contains(all, tc.oldPass) {
				t.Errorf("a password was logged; logs:\n%s", all)
			}
		})
	}
}
