package pluginhost

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestRunnerChecksBinaryBeforeExec: the runner checks the binary's
// checksum again just before it runs it, so a binary replaced after the
// launch's first check does not run.
func TestRunnerChecksBinaryBeforeExec(t *testing.T) {
	t.Parallel()
	path, sum := ledger(t)
	for name, tc := range map[string]struct {
		sum     string
		wantErr error
	}{
		"checksum matches": {sum: sum},
		"binary replaced":  {sum: strings.Repeat("0", 64), wantErr: ErrChecksum},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := newRunner(path, tc.sum, exec.Command(""))
			if err != nil {
				t.Fatal(err)
			}
			err = r.Start(t.Context())
			if r.cmd.Process != nil {
				_ = r.Kill(t.Context())
				_ = r.Wait(t.Context())
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Start: %v, want %v", err, tc.wantErr)
			}
			if started := r.ID() != ""; started != (tc.wantErr == nil) {
				t.Errorf("process started: %v, want %v", started, tc.wantErr == nil)
			}
		})
	}
}
