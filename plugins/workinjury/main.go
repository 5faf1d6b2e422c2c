// Command workinjury is medgate's plugin for the national work-injury
// insurance remote-medical system (工伤保险异地就医系统). See README.md.
package main

import (
	"os"
	"runtime/debug"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/workinjury/adapter"
)

// gcPercent is the garbage collector's target (GOGC) unless the GOGC
// environment variable sets one. A 500-line GYU102 allocates a few MB per
// call; letting the heap grow to three times the live data between
// collections instead of two halves their number for a few MB more under
// load. The idle RSS does not change (docs/performance.md, "GYU102, fifth
// round").
const gcPercent = 200

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	sdk.Serve(adapter.New())
}
