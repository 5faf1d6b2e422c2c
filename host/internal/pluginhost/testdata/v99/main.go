// Command v99 is a plugin for pluginhost's tests: it answers medgate's
// handshake but speaks only protocol version 99, which no host knows.
package main

import (
	"github.com/hashicorp/go-plugin"

	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  sdkhost.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{99: {}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
