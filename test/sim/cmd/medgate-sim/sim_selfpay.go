package main

import (
	"log/slog"
	"net/http"
	"os"

	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
)

// The demo's x-tif credentials. They are NOT secrets: they only open the
// simulator. medgate reads the token from the environment variable named
// by selfpayTokenEnv (the demo configuration says token: env:…); the
// simulator uses the same variable, or the demo value when it is unset.
const (
	selfpayPaasID    = "medgate-demo"
	selfpayTokenEnv  = "MEDGATE_DEMO_SELFPAY_TOKEN"
	selfpayDemoToken = "demo-token-NOT-A-SECRET"
)

func init() {
	register(simulator{name: "selfpay", addr: "127.0.0.1:18082", start: func(_ string, log *slog.Logger) (http.Handler, error) {
		token := os.Getenv(selfpayTokenEnv)
		if token == "" {
			token = selfpayDemoToken
		}
		return selfpaysim.New(selfpaysim.Options{PaasID: selfpayPaasID, Token: token, Log: log})
	}})
}
