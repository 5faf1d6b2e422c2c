// Package wire holds what both ends of the plugin protocol share: the
// go-plugin handshake, the name the adapter is dispensed under, the protocol
// versions, and the hook through which package sdk lends its plugin-side
// server to sdkhost and sdktest without exporting go-plugin types to
// vendors.
package wire

import (
	"runtime"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Protocol versions. Version 2 adds local commands (RunCommand), schema
// documents in Describe and Configure, and declarations (commands, views).
const (
	V1     = 1
	V2     = 2
	Latest = V2
)

// Handshake is the go-plugin handshake shared by host and plugins. The
// cookie only keeps people from running a plugin by hand; it is not
// security. ProtocolVersion is the oldest version; the versions actually
// offered are the keys of the VersionedPlugins maps.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  V1,
	MagicCookieKey:   "MEDGATE_PLUGIN",
	MagicCookieValue: "4f1c2a7e-medgate-adapter",
}

// PluginName is the name under which the adapter is dispensed.
const PluginName = "adapter"

// Server is the plugin side of one protocol version, a go-plugin plugin
// whose GRPCServer serves the adapter.
type Server interface {
	plugin.Plugin
	plugin.GRPCPlugin
}

// PluginServer returns the plugin side of protocol version for impl, an
// sdk.Plugin. Package sdk sets it in its init function; importing package
// sdk (as every user of this package does) guarantees it is set.
var PluginServer func(impl any, version int) Server

// NewServer is the gRPC server of both ends (the plugin's adapter service
// and the host's services on the go-plugin broker): go-plugin's options
// plus a pool of stream workers, one per processor. Without the pool, gRPC
// starts a goroutine for every call, and each call's handler grows a
// fresh stack again (3 % of the host's and 5–6 % of a plugin's CPU per
// message in the 2026-12-03 profiles); a pooled worker keeps its grown
// stack. A call that finds every worker busy still gets a goroutine of
// its own, so the pool never queues calls. The flow-control windows are
// window's (serverOptions).
func NewServer(opts []grpc.ServerOption) *grpc.Server {
	opts = append(opts, grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))))
	return grpc.NewServer(append(opts, serverOptions()...)...)
}

// window is the initial flow-control window of every stream and
// connection between host and plugin, both directions. gRPC's default is
// 64 KiB, grown by its BDP estimator: a 250 KB message (a 500-line GYU102,
// its sealed journal entry) then waited for WINDOW_UPDATE frames on its
// way. With 1 MiB such a message is sent at once
// (BenchmarkHandleHop, 250 KB: 104 → 89 allocations per call in the host;
// the time per call fell by 11 % in one set of runs and did not change
// measurably in two others). A fixed window also turns off gRPC's BDP
// estimator, which otherwise sends a PING (answered by the peer) with the
// first data of a message whenever it is not already measuring: a frame
// and a wake-up per call on each side, small messages included. A window
// is a limit, not a buffer: nothing is allocated for it, and a receiver
// holds at most this much unread per stream, which medgate's handlers
// read at once.
const window = 1 << 20

func serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.InitialWindowSize(window), grpc.InitialConnWindowSize(window)}
}

// DialOptions are the gRPC settings of both ends' client connections: the
// host's to the plugin (go-plugin's ClientConfig.GRPCDialOptions) and the
// plugin's to the host services on the broker.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window)}
}

// MaxStreamMessage is the largest message either end sends on
// Adapter.HandleStream: gRPC's default receive limit, which neither end
// changes. A unary call over it fails alone; on the stream it would end
// the stream and every call on it, so the host makes a larger request a
// unary Handle call and the plugin answers a larger response with the
// error gRPC gives such a unary response.
const MaxStreamMessage = 4 << 20

// ToMS converts a time to Unix milliseconds, zero for the zero time.
func ToMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromMS is the inverse of ToMS.
func FromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
