// Command v99 is a plugin for pluginhost's tests: it answers medgate's
// handshake but speaks only protocol version 99, which no host knows.
package main

import (
	"os"

	"github.com/hashicorp/go-plugin"

	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

func main() {
	// go-plugin's Serve writes the handshake to os.Stdout, which the SDK
	// this test plugin is built with points at standard error until its
	// own Serve: a plugin built with an older SDK had it as it started.
	os.Stdout = os.NewFile(1, "/dev/stdout")
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  sdkhost.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{99: {}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
