package bus

import (
	"testing"

	"github.com/xdg-go/scram"
)

// TestSCRAMConversation runs our sarama adapter against xdg-go/scram's
// server side: the right password completes, a wrong one is refused, and a
// server asking for too few iterations is refused.
func TestSCRAMConversation(t *testing.T) {
	t.Parallel()
	for name, gen := range map[string]scram.HashGeneratorFcn{"SHA-256": scramSHA256, "SHA-512": scramSHA512} {
		for _, tc := range []struct {
			name       string
			password   string
			iterations int
			ok         bool
		}{
			{"right password", "pencil", 4096, true},
			{"wrong password", "pen", 4096, false},
			{"weak server", "pencil", 1024, false},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				stored, err := gen.NewClientUnprepped("user", "pencil", "")
				if err != nil {
					t.Fatal(err)
				}
				creds := stored.GetStoredCredentials(scram.KeyFactors{Salt: "salt-0123456789", Iters: tc.iterations})
				srv, err := gen.NewServer(func(string) (scram.StoredCredentials, error) { return creds, nil })
				if err != nil {
					t.Fatal(err)
				}
				sconv := srv.NewConversation()
				c := newSCRAMClient(gen, nil)
				if err := c.Begin("user", tc.password, ""); err != nil {
					t.Fatal(err)
				}
				msg, challenge := "", ""
				var cerr, serr error
				for !c.Done() {
					if msg, cerr = c.Step(challenge); cerr != nil || c.Done() {
						break
					}
					if challenge, serr = sconv.Step(msg); serr != nil {
						break
					}
				}
				ok := cerr == nil && serr == nil && c.Done() && sconv.Valid()
				if ok != tc.ok {
					t.Fatalf("authenticated = %v (client %v, server %v), want %v", ok, cerr, serr, tc.ok)
				}
			})
		}
	}
}
