// Command workinjury is medgate's plugin for the national work-injury
// insurance remote-medical system (工伤保险异地就医系统). See README.md.
package main

import (
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/workinjury/adapter"
)

func main() { sdk.Serve(adapter.New()) }
