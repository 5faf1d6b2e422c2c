package checkconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckReadsSecrets: check-config reports unreadable HTTP tokens and
// store keys, all at once, without showing any secret.
func TestCheckReadsSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "short-token"), []byte("tooshort"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `kafka:
  embedded: {}
http:
  adminToken: file:short-token
  clients:
    - {name: cashier, token: env:MEDGATE_TEST_CHECK_UNSET}
store:
  path: db/medgate.db
  encryption:
    keys:
      - {id: k1, key: env:MEDGATE_TEST_CHECK_UNSET_KEY}
`
	path := filepath.Join(dir, "medgate.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Check(t.Context(), path)
	if err == nil {
		t.Fatal("Check accepted unreadable secrets")
	}
	for _, want := range []string{
		"medgate.yaml:4: http.adminToken: the token is 8 characters",
		"medgate.yaml:6: http.clients[0].token: environment variable MEDGATE_TEST_CHECK_UNSET is not set",
		"store.encryption.keys[0].key: environment variable MEDGATE_TEST_CHECK_UNSET_KEY is not set",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "tooshort") {
		t.Error("Check shows a token")
	}
}
