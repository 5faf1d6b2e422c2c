package bus

import (
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"

	"github.com/xdg-go/scram"
)

// scramMinIterations is the smallest PBKDF2 iteration count accepted from a
// server, as in Kafka (ScramMechanism.minIterations); a lower count would let
// a rogue server weaken the proof.
const scramMinIterations = 4096

// errSCRAM wraps every failure of the SCRAM exchange: a wrong password is
// not something a retry fixes.
var errSCRAM = errors.New("SCRAM authentication failed")

var (
	scramSHA256 = scram.HashGeneratorFcn(sha256.New)
	scramSHA512 = scram.HashGeneratorFcn(sha512.New)
)

// scramClient adapts github.com/xdg-go/scram to sarama.SCRAMClient. Kafka
// does not apply SASLprep to passwords, so neither does this client.
type scramClient struct {
	gen  scram.HashGeneratorFcn
	conv *scram.ClientConversation
	// creds, when set, give the user and password of each conversation
	// in place of those Begin is given (sarama's, fixed for a client's
	// life): a rotation reaches the next authentication.
	creds *Credentials
}

func newSCRAMClient(gen scram.HashGeneratorFcn, creds *Credentials) *scramClient {
	return &scramClient{gen: gen, creds: creds}
}

// Begin starts a conversation for user and password, or for the
// credentials in force when the client has them.
func (c *scramClient) Begin(user, password, authzID string) error {
	if c.creds != nil {
		m := c.creds.cur.Load()
		user, password = m.user, m.password
	}
	cl, err := c.gen.NewClientUnprepped(user, password, authzID)
	if err != nil {
		return fmt.Errorf("%w: %v", errSCRAM, err)
	}
	c.conv = cl.WithMinIterations(scramMinIterations).NewConversation()
	return nil
}

// Step answers one server message.
func (c *scramClient) Step(challenge string) (string, error) {
	out, err := c.conv.Step(challenge)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errSCRAM, err)
	}
	return out, nil
}

// Done reports whether the exchange finished and the server was verified.
func (c *scramClient) Done() bool { return c.conv.Done() }
