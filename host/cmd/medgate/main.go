// Command medgate is the gateway daemon and its command-line tools.
// Everything is in host/internal/cli; main only runs it and exits.
package main

import (
	"os"

	"github.com/medgate/medgate/host/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
