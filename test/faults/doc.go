// Package faults is medgate's fault suite: the real medgate binary and
// plugin binaries against a real Apache Kafka broker (and PostgreSQL for
// several instances), with the work-injury simulator as the external system
// and a stream of numbered uploads. It SIGKILLs the host and the plugin at
// random points, freezes the broker, kills and restarts a broker of its own,
// takes the external system down, sends poison messages (one of them
// killing the plugin on every attempt) and HTTP messages whose client or
// instance goes away, and
// checks that every message gets exactly one reply and the simulator's
// ledger holds every business record exactly once, in order per key.
//
// `go test ./test/faults` (part of `make test`) runs the short form, which
// still kills the host at least 10 times; `make test-faults` passes
// -faults.long for the long form (at least 50 host kills).
package faults
