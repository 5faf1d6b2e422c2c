package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"

	"github.com/hashicorp/go-plugin/runner"
)

// procRunner runs a plugin's process for go-plugin (ClientConfig.RunnerFunc).
// go-plugin gives a runner's process, and only a runner's, a socket
// directory of its own that its host side uses too: the listener the host
// serves its services on (the gRPC broker's) is made there, beside the
// plugin's, instead of in the temporary directory itself, where nothing
// would remove it after a medgate was killed (sockets.go).
type procRunner struct {
	cmd            *exec.Cmd
	path, sum      string
	stdout, stderr io.ReadCloser
}

var _ runner.Runner = (*procRunner)(nil)

// newRunner prepares the process of the plugin binary at path, whose
// SHA-256 must be sum, with the environment and standard input go-plugin
// set on spec (its handshake and socket directory variables) after the
// host's allowed variables (pluginEnv).
func newRunner(path, sum string, spec *exec.Cmd) (*procRunner, error) {
	cmd := command(path)
	cmd.Env = append(pluginEnv(os.Environ()), spec.Env...)
	cmd.Stdin = spec.Stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("plugin %s: standard output pipe: %w", path, err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("plugin %s: standard error pipe: %w", path, err)
	}
	return &procRunner{cmd: cmd, path: path, sum: sum, stdout: stdout, stderr: stderr}, nil
}

// Start checks the binary's checksum again just before it runs it (what
// go-plugin's SecureConfig does for the processes it starts itself).
func (r *procRunner) Start(context.Context) error {
	if err := VerifyChecksum(r.path, r.sum); err != nil {
		return err
	}
	return r.cmd.Start()
}

func (r *procRunner) Wait(context.Context) error { return r.cmd.Wait() }

// Kill kills the process; killing one that has exited is no error.
func (r *procRunner) Kill(context.Context) error {
	if r.cmd.Process == nil {
		return nil
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (r *procRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *procRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *procRunner) Name() string          { return r.path }

// ID is the process id, "" before the process started.
func (r *procRunner) ID() string {
	if pid := r.pid(); pid > 0 {
		return strconv.Itoa(pid)
	}
	return ""
}

func (r *procRunner) pid() int {
	if r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// Diagnose is what go-plugin adds to the error of a process that did not
// answer its handshake.
func (r *procRunner) Diagnose(context.Context) string {
	return fmt.Sprintf("%s did not answer go-plugin's handshake: check that it is a medgate plugin built for this system and that this user may execute it", r.path)
}

// The plugin runs on this machine: addresses are the same for both.

func (r *procRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (r *procRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}
