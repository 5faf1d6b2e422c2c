package workinjury

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/emmansun/gmsm/sm2"

	"github.com/medgate/medgate/plugins/smenvelope"
)

// KeyPair is a generated pair of SM2 keys: the national system's and the
// hospital's (the adapter's).
type KeyPair struct {
	National *sm2.PrivateKey
	Hospital *sm2.PrivateKey
}

// GenerateKeyPair generates fresh keys for both sides.
func GenerateKeyPair() (KeyPair, error) {
	n, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate the national SM2 key: %w", err)
	}
	h, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate the hospital SM2 key: %w", err)
	}
	return KeyPair{National: n, Hospital: h}, nil
}

// NewHospital returns a key pair with the same national key and a freshly
// generated hospital key: one more institution of the same national
// system, with a key of its own (register its public key with
// Server.AddSender or Config.Senders under the institution's sender code).
func (k KeyPair) NewHospital() (KeyPair, error) {
	h, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate a hospital SM2 key: %w", err)
	}
	return KeyPair{National: k.National, Hospital: h}, nil
}

// SimulatorKeys are the keys the simulator uses.
func (k KeyPair) SimulatorKeys() smenvelope.Keys {
	return smenvelope.Keys{Private: k.National, PeerPublic: &k.Hospital.PublicKey}
}

// AdapterKeys are the keys the adapter uses.
func (k KeyPair) AdapterKeys() smenvelope.Keys {
	return smenvelope.Keys{Private: k.Hospital, PeerPublic: &k.National.PublicKey}
}

// WriteAdapterKeys writes the adapter's key files into dir the way
// `medgate import-keys` does: private.pem (mode 0600) and peer_public.pem.
func (k KeyPair) WriteAdapterKeys(dir string) error {
	priv, err := smenvelope.MarshalPrivateKeyPEM(k.Hospital)
	if err != nil {
		return err
	}
	defer clear(priv)
	pub, err := smenvelope.MarshalPublicKeyPEM(&k.National.PublicKey)
	if err != nil {
		return err
	}
	if err := smenvelope.ImportKey(priv, smenvelope.KindPrivate, filepath.Join(dir, smenvelope.DefaultPrivateKeyFile)); err != nil {
		return err
	}
	return smenvelope.ImportKey(pub, smenvelope.KindPublic, filepath.Join(dir, smenvelope.DefaultPeerPublicKeyFile))
}

// EnsureKeys loads the key pair kept in dir, generating it on first use:
//
//	dir/national/private.pem     the simulator's private key (0600)
//	dir/hospital/private.pem     the hospital's private key (0600), as staff
//	                             would download it from the national system
//	dir/hospital/public.pem      the hospital's public key
//	dir/hospital/peer_public.pem the national public key
//
// so that dir/hospital is a ready keyDir for the adapter. Nothing here is
// ever committed: `make run` creates it under data/.
func EnsureKeys(dir string) (KeyPair, error) {
	nat := filepath.Join(dir, "national", smenvelope.DefaultPrivateKeyFile)
	hosp := filepath.Join(dir, "hospital", smenvelope.DefaultPrivateKeyFile)
	n, err1 := smenvelope.LoadPrivateKeyFile(nat, nil)
	h, err2 := smenvelope.LoadPrivateKeyFile(hosp, nil)
	if err1 == nil && err2 == nil {
		return KeyPair{National: n, Hospital: h}, nil
	}
	for _, err := range []error{err1, err2} {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return KeyPair{}, fmt.Errorf("simulator keys in %s: %w (delete the directory to generate new ones)", dir, err)
		}
	}
	kp, err := GenerateKeyPair()
	if err != nil {
		return KeyPair{}, err
	}
	np, err := smenvelope.MarshalPrivateKeyPEM(kp.National)
	if err != nil {
		return KeyPair{}, err
	}
	defer clear(np)
	if err := smenvelope.ImportKey(np, smenvelope.KindPrivate, nat); err != nil {
		return KeyPair{}, err
	}
	if err := kp.WriteAdapterKeys(filepath.Join(dir, "hospital")); err != nil {
		return KeyPair{}, err
	}
	hp, err := smenvelope.MarshalPublicKeyPEM(&kp.Hospital.PublicKey)
	if err != nil {
		return KeyPair{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, "hospital", "public.pem"), hp, 0o644); err != nil {
		return KeyPair{}, err
	}
	return kp, nil
}
