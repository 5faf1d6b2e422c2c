// Command ecard is medgate's plugin for the hospital's own electronic card
// (医院电子就诊卡): registration, card numbers, sealed time-limited QR codes,
// scanning, revocation and temporary-card links. See README.md beside this
// file for the operations and settings.
package main

import (
	"github.com/medgate/medgate/plugins/ecard/adapter"
	"github.com/medgate/medgate/plugins/sdk"
)

func main() { sdk.Serve(adapter.New()) }
