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

	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// The demo's x-tif gateway account. The token is not committed anywhere:
// on first start the simulator writes a random one to
// <dir>/paas-token (mode 0600), and the demo configuration reads it from
// there (token: file:../../data/sim/selfpay/paas-token). deploy/demo/run.sh
// starts the simulators before medgate, so the file exists in time.
const selfpayPaasID = "medgate-demo"

func init() {
	register(simulator{name: "selfpay", addr: "127.0.0.1:18082", start: func(dir string, log *slog.Logger) (http.Handler, error) {
		token, err := selfpayToken(filepath.Join(dir, "paas-token"))
		if err != nil {
			return nil, err
		}
		return selfpaysim.New(selfpaysim.Options{PaasID: selfpayPaasID, Token: token, Log: log})
	}})
}

// selfpayToken reads the demo token, creating a random one the first time.
func selfpayToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), nil
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	token := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the demo x-tif token: %w; check that %s is writable", err, filepath.Dir(path))
	}
	return token, nil
}
