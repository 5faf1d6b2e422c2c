package daemon

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/mapping"
	"github.com/medgate/medgate/schemas"
	"github.com/medgate/medgate/test/testenv"
)

// TestVendorOperationMappedAtRunTime runs medgate with a vendor's plugin
// (testdata/acme) whose operation's schema exists nowhere but in the
// plugin's Describe, and a mapping to it in the configured transforms
// directory: the mapping compiles against the declared schema, a message
// is mapped at run time, and site h2, whose Configure returns an overlay
// of the schema (no decimal places), gets its amount mapped by the
// overlay.
func TestVendorOperationMappedAtRunTime(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "plugins", "acme")
	build := exec.Command("go", "build", "-o", bin, "./testdata/acme")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the vendor plugin: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	mapFile := filepath.Join(dir, "maps", "default", "json", "acme.visit.yaml")
	if err := os.MkdirAll(filepath.Dir(mapFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mapFile, []byte("fields:\n  patientId: {from: $.patient.id}\n  amount: {from: $.amount}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kafkaAddr := testenv.FreeAddr(t)
	cfgPath := filepath.Join(dir, "medgate.yaml")
	cfgText := fmt.Sprintf(`kafka:
  embedded: {listen: %q, dataDir: kafka}
store: {path: db/medgate.db}
http: {listen: 127.0.0.1:0}
transforms: maps
plugins:
  - {name: acme, path: %q, sha256: %s}
sites:
  - code: h1
    plugins: {acme: {}}
  - code: h2
    plugins: {acme: {settings: {scale: "0"}}}
`, kafkaAddr, bin, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}

	// Against the built-in schemas alone the mapping has no target.
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mapping.Load(cfg, schemas.Embedded()); err == nil || !strings.Contains(err.Error(), "no schema for acme/visit") {
		t.Fatalf("without the plugin's schema: err = %v, want no schema for acme/visit", err)
	}

	d, err := Start(t.Context(), cfgPath, Options{Out: io.Discard})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	// The files plugins hand over are kept in artifacts.dir, by default
	// data/artifacts beside the configuration, private to medgate.
	if st, err := os.Stat(filepath.Join(dir, "data", "artifacts")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("artifacts directory: %v, %v; want data/artifacts with mode 700", st, err)
	}
	for site, want := range map[string]string{"h1": `{"amount":7.00,"patientId":"P9"}`, "h2": `{"amount":7,"patientId":"P9"}`} {
		body := fmt.Sprintf(`{"id":"visit-%s","site":%q,"type":"acme.visit","payload":{"patient":{"id":"P9"},"amount":"7"}}`, site, site)
		resp, err := http.Post("http://"+d.HTTPAddr()+"/v1/messages", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var reply struct {
			Status  string          `json:"status"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(raw, &reply); err != nil {
			t.Fatalf("site %s: reply %s: %v", site, raw, err)
		}
		if reply.Status != "ok" || string(reply.Payload) != want {
			t.Errorf("site %s: HTTP %d, reply %s; want ok with the plugin receiving %s", site, resp.StatusCode, raw, want)
		}
	}
}
