package daemon

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestReloadReportsRotatedHTTPTokens: the HTTP server reads its tokens at
// start only, so a reload after a client's token was rotated in its file
// (the reference unchanged, as the README's install keeps one file per
// client) lists the key as not applied, and one whose token cannot be read
// any more (its file made readable by others) says so among the
// warnings. The reload answered {"status": "reloaded"}, nothing pending,
// while the old token went on working until a restart: an operator
// replacing a leaked token believed it dead. Neither names a token.
func TestReloadReportsRotatedHTTPTokens(t *testing.T) {
	dir := t.TempDir()
	const oldToken, newToken, adminToken = "old-cashier-token-0123456789", "new-cashier-token-9876543210", "admin-token-0123456789abcdef"
	secret := func(name, v string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cashier := secret("client-cashier", oldToken, 0o600)
	admin := secret("admin-token", adminToken, 0o600)
	cfg := filepath.Join(dir, "medgate.yaml")
	yaml := "node: httprot-1\nlog: {format: json}\n" +
		"kafka:\n  embedded:\n    listen: 127.0.0.1:0\n    dataDir: " + filepath.Join(dir, "kafka") + "\n" +
		"store:\n  driver: sqlite\n  path: " + filepath.Join(dir, "medgate.db") + "\n" +
		"http:\n  listen: 127.0.0.1:0\n  adminToken: file:" + admin + "\n  clients:\n    - {name: cashier, token: file:" + cashier + "}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	d, err := Start(t.Context(), cfg, Options{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	noToken := func(what string, s ...string) {
		t.Helper()
		for _, v := range s {
			for _, tok := range []string{oldToken, newToken, adminToken} {
				if strings.Contains(v, tok) {
					t.Errorf("%s shows a token: %s", what, v)
				}
			}
		}
	}

	keys, warnings, err := d.ReloadNotes(t.Context())
	if err != nil || len(keys) > 0 || len(warnings) > 0 {
		t.Fatalf("a reload of the unchanged configuration: keys %q, warnings %q, %v; want none", keys, warnings, err)
	}

	secret("client-cashier", newToken, 0o600)
	keys, warnings, err = d.ReloadNotes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"http.clients[0].token"}) || len(warnings) > 0 {
		t.Errorf("a reload after the cashier's token was rotated in its file: keys %q, warnings %q; want http.clients[0].token not applied", keys, warnings)
	}
	noToken("the reload", append(keys, warnings...)...)

	if err := os.Chmod(cashier, 0o644); err != nil {
		t.Fatal(err)
	}
	_, warnings, err = d.ReloadNotes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "http.clients[0].token") || !strings.Contains(warnings[0], "chmod 600") ||
		!strings.Contains(warnings[0], "would not start") {
		t.Errorf("a reload with the cashier's token file readable by others: warnings %q; want one naming http.clients[0].token, the fix and that medgate would not start", warnings)
	}
	noToken("the reload", warnings...)
	noToken("the log", out.String())
}
