// Command ledger is medgate's test plugin: the worked example of a vendor
// plugin, built only against plugins/sdk. It is used by the end-to-end
// tests and is not shipped.
package main

import (
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/test/plugins/ledger/adapter"
)

func main() { sdk.Serve(adapter.New()) }
