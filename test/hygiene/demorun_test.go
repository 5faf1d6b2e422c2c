package hygiene

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoRunWaitsForSimulators: `make run` (deploy/demo/run.sh) starts
// medgate only once every simulator listens and has written the keys and
// tokens the demo configuration reads (the work-injury key pair, the
// x-tif tokens), which medgate-sim says with a last line "simulators
// ready". Before, run.sh started medgate at the first "simulator" line:
// on a slow machine medgate read the demo configuration before the
// work-injury simulator had written its keys, and the banner listed two
// simulators of three. run.sh here runs with a fake medgate-sim and a fake
// medgate that records the simulators' log as it finds it.
func TestDemoRunWaitsForSimulators(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skipf("deploy/demo/run.sh needs bash: %v", err)
	}
	runSh, err := filepath.Abs(filepath.Join("..", "..", "deploy", "demo", "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	const (
		line1 = "simulator selfpay      http://127.0.0.1:18082"
		line3 = "simulator workinjury   http://127.0.0.1:18081"
	)
	cases := map[string]struct {
		sim       string // what the fake medgate-sim prints before it waits to be stopped
		wantStart bool   // whether medgate is started
		wantOut   string // in run.sh's output
	}{
		"every simulator ready": {
			sim:       line1 + `\n` + line3 + `\nsimulators ready\n`,
			wantStart: true, wantOut: line3,
		},
		"a simulator still starting": {
			sim:       line1 + `\n`,
			wantStart: false, wantOut: "not ready",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			scripts := map[string]string{
				// Prints its lines, then serves until run.sh stops it.
				"medgate-sim": "#!/usr/bin/env bash\nprintf '" + tc.sim + "'\nexec sleep 600\n",
				// Records what the simulators had said when it started.
				"medgate": "#!/usr/bin/env bash\ncp data/sim/medgate-sim.log data/medgate-saw\n",
			}
			for n, s := range scripts {
				if err := os.WriteFile(filepath.Join(bin, n), []byte(s), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", runSh, bin, "medgate.yaml")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "MEDGATE_SIM_WAIT=1")
			out, err := cmd.CombinedOutput()
			saw, readErr := os.ReadFile(filepath.Join(dir, "data", "medgate-saw"))
			started := readErr == nil
			switch {
			case started != tc.wantStart:
				t.Errorf("run.sh started medgate: %v, want %v (the simulators' log when it started: %q)\n%s", started, tc.wantStart, saw, out)
			case started && !strings.Contains(string(saw), "simulators ready"):
				t.Errorf("run.sh started medgate before medgate-sim said it was ready; the log then:\n%s", saw)
			case tc.wantStart && err != nil:
				t.Errorf("run.sh: %v\n%s", err, out)
			case !tc.wantStart && err == nil:
				t.Errorf("run.sh exited 0 with a simulator not ready\n%s", out)
			}
			if !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("run.sh's output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
}
