// Command tracecode is medgate's adapter plugin for the Xiamen drug and
// consumable trace-code platform (一码通). The host launches it; it only
// serves the plugin protocol.
package main

import (
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/tracecode/adapter"
)

func main() { sdk.Serve(adapter.New()) }
