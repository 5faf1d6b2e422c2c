// Package pb holds the generated protobuf and gRPC code of plugin protocol
// version 1 (plugin.proto). It is internal to plugins/sdk: vendors use the
// SDK's hand-written Go types. Regenerate with `make proto`.
package pb
