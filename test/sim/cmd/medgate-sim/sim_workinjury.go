package main

import (
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/schemas"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// The work-injury national system (工伤保险异地就医系统), with the default
// envelope settings of the workinjury plugin. On first start it generates
// both key pairs under <dir>/keys; <dir>/keys/hospital is the keyDir the
// demo site uses (see deploy/demo/medgate.yaml). It is seeded with demo
// data: institutions, 20 filing applications with attachments, 10 filings,
// a social-security card and the QR code QR-DEMO-0001.
func init() {
	register(simulator{name: "workinjury", addr: "127.0.0.1:18081", start: startWorkinjury})
}

func startWorkinjury(dir string, log *slog.Logger) (http.Handler, error) {
	keys := filepath.Join(dir, "keys")
	kp, err := wisim.EnsureKeys(keys)
	if err != nil {
		return nil, err
	}
	s, err := wisim.New(wisim.Config{Options: smenvelope.Defaults(), Keys: kp.SimulatorKeys(), Region: "350200", Log: log,
		// The field lists as data: the binary is built with -trimpath and
		// may run away from the source tree. The simulator checks them
		// with its own rules.
		Spec: schemas.EmbeddedFS()})
	if err != nil {
		return nil, err
	}
	s.Seed(20, 10)
	log.Info("work-injury simulator ready", "adapterKeyDir", filepath.Join(keys, "hospital"),
		"nationalKey", smenvelope.Fingerprint(&kp.National.PublicKey), "hospitalKey", smenvelope.Fingerprint(&kp.Hospital.PublicKey))
	return s, nil
}
