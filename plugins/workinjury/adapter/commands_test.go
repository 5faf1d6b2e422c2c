package adapter

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
	"github.com/medgate/medgate/plugins/smenvelope"
)

// TestImportKeysCommand runs `medgate workinjury import-keys` the way the
// host does, over the plugin protocol: a private key given as hex and a
// public key given as PEM land in the site's keyDir, the private one with
// mode 0600, and only fingerprints are printed.
func TestImportKeysCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyDir := filepath.Join(dir, "keys", "wi")
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
	c := sdktest.Connect(t, New(), sdktest.NewMemoryHost())
	d, err := c.Describe(t.Context(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var declared bool
	for _, cmd := range d.Commands {
		declared = declared || (cmd.Name == CmdImportKeys && cmd.Local)
	}
	if !declared {
		t.Fatalf("import-keys is not declared as a local command: %+v", d.Commands)
	}
	settings := map[string]string{setKeyDir: keyDir}
	r, err := c.RunCommand(t.Context(), &sdk.RunCommandRequest{Site: "s1", Command: CmdImportKeys, Settings: settings,
		Arguments: map[string]string{"private": privFile, "peer-public": pubFile}})
	if err != nil || r.Diagnostics.HasError() {
		t.Fatalf("import-keys: %v %v", err, r.Diagnostics)
	}
	if strings.Contains(r.Output, privHex) || strings.Contains(r.Output, "PRIVATE KEY") {
		t.Fatal("the output shows key material")
	}
	if !strings.Contains(r.Output, smenvelope.Fingerprint(&ours.PublicKey)) || !strings.Contains(r.Output, smenvelope.Fingerprint(&theirs.PublicKey)) {
		t.Fatalf("output lacks the fingerprints:\n%s", r.Output)
	}
	ks, err := smenvelope.NewKeyStore(smenvelope.KeyStoreConfig{Dir: keyDir})
	if err != nil {
		t.Fatalf("the imported keys do not load: %v", err)
	}
	if !ks.Current().Private.Equal(ours) {
		t.Fatal("imported a different private key")
	}
	fi, err := os.Stat(filepath.Join(keyDir, smenvelope.DefaultPrivateKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file mode %v, %v", fi.Mode(), err)
	}

	cases := map[string]struct {
		settings, args map[string]string
		field          string
	}{
		"no key files": {settings, map[string]string{}, ""},
		"no keyDir":    {map[string]string{}, map[string]string{"private": privFile}, setKeyDir},
		"not a key":    {settings, map[string]string{"private": pubFile + ".missing"}, "private"},
		"garbage key":  {settings, map[string]string{"peer-public": privFile + "x"}, "peer-public"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := c.RunCommand(t.Context(), &sdk.RunCommandRequest{Site: "s1", Command: CmdImportKeys, Settings: tc.settings, Arguments: tc.args})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Diagnostics.HasError() || r.Diagnostics[0].Field != tc.field || r.Diagnostics[0].Detail == "" {
				t.Fatalf("diagnostics %+v, want an error at %q with a detail", r.Diagnostics, tc.field)
			}
		})
	}
	if _, err := c.RunCommand(t.Context(), &sdk.RunCommandRequest{Site: "s1", Command: CmdPing}); err == nil {
		t.Fatal("ping is a remote command; running it locally must fail")
	}
}
