package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/medgate/medgate/schemas"
	tracecodesim "github.com/medgate/medgate/test/sim/tracecode"
)

// The demo's trace-code platform account. The app secret and the national
// x-tif token of the medical-insurance endpoint are not committed: on
// first start the simulator writes random ones to <dir>/app-secret and
// <dir>/hsa-token (mode 0600), and deploy/demo/medgate.yaml reads them from
// there. deploy/demo/run.sh starts the simulators before medgate.
const (
	tracecodeAppID   = "medgate-demo"
	tracecodeOrgCode = "H35020300001"
	tracecodePaasID  = "medgate-demo"
)

func init() {
	register(simulator{name: "tracecode", addr: "127.0.0.1:18083", start: func(dir string, log *slog.Logger) (http.Handler, error) {
		secret, err := tracecodeSecret(filepath.Join(dir, "app-secret"))
		if err != nil {
			return nil, err
		}
		hsaToken, err := tracecodeSecret(filepath.Join(dir, "hsa-token"))
		if err != nil {
			return nil, err
		}
		return tracecodesim.New(tracecodesim.Options{AppID: tracecodeAppID, AppSecret: secret, OrgCode: tracecodeOrgCode, Seed: 2026,
			HSAPaasID: tracecodePaasID, HSAToken: hsaToken, Log: log, Spec: schemas.EmbeddedFS()}), nil
	}})
}

// tracecodeSecret reads a demo secret, creating a random one the first time.
func tracecodeSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), nil
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	s := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the demo secret %s: %w; check that %s is writable", filepath.Base(path), err, filepath.Dir(path))
	}
	return s, nil
}
