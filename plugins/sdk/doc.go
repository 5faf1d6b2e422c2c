// Package sdk is the public contract between the medgate host and its
// adapter plugins. Vendors build a plugin against this package alone (and
// test it with sdk/sdktest); plugins/sdk/example is a whole plugin in a
// module of its own.
//
// A plugin is a separate executable that implements [Plugin] and calls
// [Serve] from its main function:
//
//	func main() { sdk.Serve(myadapter.New()) }
//
// The host launches it with hashicorp/go-plugin over gRPC (AutoMTLS, a
// SHA-256 checksum of the binary checked before launch, protocol version
// negotiation: a plugin built with this SDK serves versions 1 and 2, and
// the host picks the newest both know). Every call takes a context and a
// request struct and returns a response struct that carries [Diagnostic]
// values, so new fields can be added without breaking existing plugins.
// The generated protobuf code lives in an internal package and the host's
// side of the protocol in sdk/sdkhost; neither is part of the contract.
//
// # Lifecycle
//
//  1. Describe, once per launch: what the plugin offers. Besides its
//     operations, jobs, settings and work lists a plugin declares here
//     everything the host shows or runs for it, for the host knows no
//     plugin by name: its schema documents (Schemas, so platform messages
//     are mapped against what the plugin uses), its command-line verbs
//     ([Command], `medgate <plugin> <command>`) and its console pages
//     ([Form], [WorkListView], [DocumentView]). A [Column] whose values are
//     codes declares their meanings, Chinese first ([Column].Codes): the
//     console and the command line show a declared value as
//     "meaning (code)" ([Column.Shown]), others as they are. A form, row
//     action or command that people must not send below the admin role
//     declares [RoleAdmin] (Role; empty is [RoleOperator]), which the host
//     enforces in the console and on the command line.
//  2. Configure, per site, before the site's first message and again on
//     every reload and relaunch, with settings the host has already checked
//     against the declaration ([Settings] reads them typed; [Sites] holds
//     the result so a reload never changes a running call's configuration).
//  3. Handle, per message ([Mux] routes by type and keeps Describe's list
//     in step; [OK], [Invalid], [Rejected], [Failed], [Retry] and [Wait]
//     build the outcome), and RunJob, per scheduled job and site. The host
//     records a message as pending before Handle, so that after a crash the
//     plugin is called again with Recovering set and reconciles before any
//     resend; an operation declared a pure query ([Operation].Query) skips
//     that record and is simply called again.
//
// # Retries and the circuit breaker
//
// The host retries a retryable failure ([Retry]) with backoff, and counts
// it towards a circuit breaker per plugin and site: a run of them says the
// external system is in trouble, and every message of the plugin at the
// site is then held back for a cooldown. A message that waits on purpose,
// because a precondition of the plugin's own is not met yet (it must wait
// for other messages to finish), answers [Wait] instead: it is retried,
// replied and logged the same, but neither opens the circuit nor closes
// an open one, so it never holds back the other messages of the site. Use
// it only when the answer says nothing of the external system's health;
// a failed or timed-out call to the external system is a [Retry].
//
// Local commands (key import: key material that must not travel through
// Kafka) run in the plugin binary on the operator's machine through the
// optional [CommandRunner] interface, without Configure and without host
// services. New capabilities arrive like that, as Describe data or optional
// interfaces, never as new methods on [Plugin].
//
// # Host services
//
// The host offers services to the plugin through [Host]: a state store
// namespaced by plugin and site (get, put, compare-and-set, prefix scan,
// delete), named sequences, event publishing (event types start with
// "<plugin>."; headers named "medgate-…" are the host's) and the exchange
// journal. A sequence value costs a store write; [NextSequenceGaps] draws
// values that are unique but may have gaps (after a restart) from a block
// the host reserved for the plugin, for serials that need no more. A plugin
// that checks each new record against the earlier ones of a case keeps
// what it derived from them and scans with [ScanKnown]: the host then
// sends only the values the plugin does not hold at their version. A scan
// crosses page by page, so a large prefix reaches the plugin whole without
// the host ever holding it whole (a host older than pages answers at once,
// and an SDK older than pages gets at most 4 MiB, see below). Writes
// that go one after another (a record of what is about to be sent and a
// mark on its case) go in one call with [WriteState], in one transaction
// when the host can. A journal
// entry made while handling a message is stored with the message's
// outcome, in its transaction; the last one made during a Handle travels
// back with the Handle response rather than by a call into the host of
// its own (no change to plugin code). Files the operator should get (an export, a label) are handed
// over with [PutArtifact]; the console and the command line serve them by
// reference only. Plugins keep no database of their own. One call into the
// host carries at most 4 MiB (gRPC's limit); a larger one fails with
// [ErrTooLarge]: keep large data in an artifact and its reference in state.
// The operator also bounds each plugin's writes (medgate's pluginLimits:
// events, journal entries and state writes a second, each Put,
// CompareAndSet and WriteState one state write, and the size of a state
// value, 1 MiB by default); a write past a limit is refused, not made, with gRPC
// ResourceExhausted naming the limit (a state value too large as
// [ErrTooLarge]), and the message it was made for is retried.
//
// Standard output carries go-plugin's handshake, written by [Serve]: in a
// process the host launched, os.Stdout is standard error until then, so a
// line printed before Serve is logged by the host instead of breaking the
// start, and what the plugin prints to os.Stdout or os.Stderr while it
// serves is logged too (as warnings). Log with log/slog to stderr all the
// same (see [Logger]); a write to the stdout file descriptor itself before
// Serve still breaks the start.
//
// # Personal data
//
// The host masks personal data wherever it shows a request, a reply or a
// journal entry (the console's message page, the admin API, medgate send,
// its log) by the JSON key it is under (pii.PersonalKey: name, patientName,
// idNumber, phone, …), ID and mobile numbers anywhere, and the fields the
// plugin declares personal, per operation, under any key: a message's
// request payload by the input fields its operation's schema marks
// `personal: true` (the document Operation.Schema names, and
// "<plugin>/<operation>.yaml", from Schemas or a site's
// ConfigureResponse.Schemas), its reply payload by the output fields so
// marked and by the fields of every Column marked Personal in the work
// lists, forms and commands the operation answers; the plugin's log lines
// by all of them. The host reads them at each launch and Configure. A name
// under a key nothing declares, in a sentence or in an Artifact's name is
// shown as it is, and the journal of external calls is masked by key
// only: declare each personal field (or put it under a key PersonalKey
// accepts), and mask an external system's free text with pii.Text.
//
// # Versioned state
//
// The host keeps a plugin's state across its versions: a reload that puts
// a vendor's new binary to work hands it every key the old one wrote, and
// rolling the binary back hands the old one what the new one wrote. A
// plugin that changes the shape of a value it keeps in state therefore
// tags each value with the format version of the code that writes it
// ([TagState]) and reads it with [UntagState]:
//
//   - Give the value's format a number, from 1, and raise it whenever the
//     shape changes in a way the previous code cannot read. Values written
//     before the plugin tagged anything read as format 0.
//   - Read every format you have ever written, converting an older one in
//     memory; write only the newest. A value is so converted the next time
//     it is written, one key at a time, as the plugin uses it.
//   - Do not rewrite state in Configure: on a reload the new binary is
//     configured while the old one still serves, and a reload refused for
//     another reason (another site's settings) leaves the old binary
//     running on what Configure wrote.
//   - A format newer than the code knows ([ErrNewerState]: the binary was
//     rolled back past the version that wrote it) is never guessed at:
//     answer the message [Retry] with a diagnostic naming the key and both
//     formats, so nothing is lost while the operator reinstalls the newer
//     binary. So ship a version that reads a new format before, or with,
//     the one that writes it, and roll back only to a version that reads
//     what has been written since.
//
// Keys are not versioned: a plugin that renames keys reads the old name
// when the new one is missing, and writes the new one.
package sdk
