// Command medgate-sim serves the simulators of the external systems
// (work-injury national system, provincial medical-insurance platform,
// Xiamen trace-code platform) on loopback, for `make run` and manual
// testing. Each simulator registers itself from a file sim_<name>.go in
// this directory; the simulators themselves live in test/sim/<name>.
//
//	medgate-sim -dir data/sim            serve every simulator on its default address
//	medgate-sim -dir data/sim -only workinjury -addr workinjury=127.0.0.1:18081
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

// simulator is one registered simulator.
type simulator struct {
	name string
	addr string // default listen address
	// start builds the handler; dir is a data directory of its own (keys,
	// state) that the simulator may use.
	start func(dir string, log *slog.Logger) (http.Handler, error)
}

var registry = map[string]simulator{}

func register(s simulator) {
	if _, dup := registry[s.name]; dup {
		panic("medgate-sim: simulator registered twice: " + s.name)
	}
	registry[s.name] = s
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "medgate-sim:", err)
		os.Exit(1)
	}
}

type addrFlags map[string]string

func (a addrFlags) String() string { return fmt.Sprint(map[string]string(a)) }
func (a addrFlags) Set(v string) error {
	name, addr, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("want NAME=HOST:PORT")
	}
	a[name] = addr
	return nil
}

func run() error {
	dir := flag.String("dir", "data/sim", "data directory (a subdirectory per simulator)")
	only := flag.String("only", "", "comma-separated simulators to run (default: all)")
	addrs := addrFlags{}
	flag.Var(addrs, "addr", "NAME=HOST:PORT listen address of a simulator (repeatable)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	want := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n != "" {
			if _, ok := registry[n]; !ok {
				return fmt.Errorf("unknown simulator %q; known: %s", n, strings.Join(names, ", "))
			}
			want[n] = true
		}
	}
	var servers []*http.Server
	for _, n := range names {
		if len(want) > 0 && !want[n] {
			continue
		}
		s := registry[n]
		addr := s.addr
		if a, ok := addrs[n]; ok {
			addr = a
		}
		d := *dir + "/" + n
		if err := os.MkdirAll(d, 0o750); err != nil {
			return err
		}
		h, err := s.start(d, log.With("sim", n))
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: listen on %s: %w", n, addr, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() { _ = srv.Serve(ln) }()
		fmt.Printf("simulator %-12s http://%s\n", n, ln.Addr())
	}
	if len(servers) == 0 {
		fmt.Println("no simulators registered")
	} else {
		// deploy/demo/run.sh starts medgate on this line: every simulator
		// listens and has written its keys and tokens.
		fmt.Println("simulators ready")
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	return nil
}
