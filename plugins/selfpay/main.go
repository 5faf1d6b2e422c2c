// Command selfpay is medgate's self-pay plugin: the inpatient self-pay
// data upload (4201A–4209) to the provincial medical-insurance platform.
// The host launches it; it only serves. See README.md.
package main

import (
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/selfpay/adapter"
)

func main() { sdk.Serve(adapter.New()) }
