// Command hello is the example plugin of the vendor walkthrough: a whole
// medgate adapter built against the SDK (and package schemas, to validate),
// in its own module. It shows an operation mux, typed per-site settings
// held across reloads, a shipped schema document its operation is validated
// against, host state, a scheduled job, a work list, a
// console page whose reply is a file, a remote command and a local command.
//
// Build it like any vendor would, from this directory:
//
//	go build -o hello .
//
// then list it in medgate.yaml under plugins (name hello, its path and
// sha256sum) and enable it for a site.
package main

import "github.com/medgate/medgate/plugins/sdk"

func main() { sdk.Serve(newHello()) }
