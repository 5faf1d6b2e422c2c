// Package sdk is the public contract between the medgate host and its
// adapter plugins. Vendors build a plugin against this package alone.
//
// A plugin is a separate executable that implements [Plugin] and calls
// [Serve] from its main function:
//
//	func main() { sdk.Serve(myadapter.New()) }
//
// The host launches it with hashicorp/go-plugin over gRPC (AutoMTLS, a
// SHA-256 checksum of the binary checked before launch, protocol version
// negotiation). Every call takes a context and a request struct and returns
// a response struct that carries [Diagnostic] values, so new fields can be
// added without breaking existing plugins. The generated protobuf code lives
// in an internal package and is not part of the contract.
//
// The host offers services to the plugin through [Host]: a state store
// namespaced by plugin and site (get, put, compare-and-set, prefix scan,
// delete), named sequences, event publishing and the exchange journal.
// Plugins keep no database of their own.
//
// Output written to stdout before the handshake breaks the plugin start;
// log with log/slog to stderr (see [Logger]).
package sdk
