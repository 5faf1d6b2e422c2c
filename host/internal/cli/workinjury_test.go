package cli

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"github.com/medgate/medgate/plugins/smenvelope"
)

// TestImportKeys imports a private key given as hex and a public key given
// as PEM into the keyDir of a site, with mode 0600, printing fingerprints
// and no key material.
func TestImportKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medgate.yaml")
	conf := "sites:\n  - code: s1\n    plugins:\n      workinjury:\n        settings:\n          keyDir: keys/wi\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ours, _ := sm2.GenerateKey(rand.Reader)
	theirs, _ := sm2.GenerateKey(rand.Reader)
	privHex := hex.EncodeToString(ours.D.FillBytes(make([]byte, 32)))
	privFile := filepath.Join(dir, "downloaded-private.txt")
	pubFile := filepath.Join(dir, "national.pem")
	pubPEM, _ := smenvelope.MarshalPublicKeyPEM(&theirs.PublicKey)
	if err := os.WriteFile(privFile, []byte(privHex+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := Main([]string{"import-keys", "-config", cfg, "-site", "s1", "-private", privFile, "-peer-public", pubFile}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errOut.String())
	}
	if strings.Contains(out.String()+errOut.String(), privHex) || strings.Contains(out.String(), "PRIVATE KEY") {
		t.Fatal("the output shows key material")
	}
	if !strings.Contains(out.String(), smenvelope.Fingerprint(&ours.PublicKey)) || !strings.Contains(out.String(), smenvelope.Fingerprint(&theirs.PublicKey)) {
		t.Fatalf("output lacks the fingerprints:\n%s", out.String())
	}
	ks, err := smenvelope.NewKeyStore(smenvelope.KeyStoreConfig{Dir: filepath.Join(dir, "keys", "wi")})
	if err != nil {
		t.Fatalf("the imported keys do not load: %v", err)
	}
	if !ks.Current().Private.Equal(ours) {
		t.Fatal("imported a different private key")
	}
	fi, err := os.Stat(filepath.Join(dir, "keys", "wi", smenvelope.DefaultPrivateKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file mode %v, %v", fi.Mode(), err)
	}

	for name, args := range map[string][]string{
		"no key files":    {"import-keys", "-config", cfg, "-site", "s1"},
		"unknown site":    {"import-keys", "-config", cfg, "-site", "nope", "-private", privFile},
		"not a key":       {"import-keys", "-config", cfg, "-site", "s1", "-private", cfg},
		"ping other":      {"ping", "-config", cfg, "selfpay", "-site", "s1"},
		"ping needs site": {"ping", "-config", cfg, "workinjury"},
	} {
		out.Reset()
		errOut.Reset()
		if code := Main(args, &out, &errOut); code == 0 {
			t.Errorf("%s: exit 0", name)
		}
		if errOut.Len() == 0 {
			t.Errorf("%s: no explanation", name)
		}
	}
}
