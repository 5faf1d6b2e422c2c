package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ProtocolVersion is the newest plugin protocol version this SDK speaks.
// A plugin built with it serves every version from 1 up; the host picks the
// newest both sides know.
const ProtocolVersion = 2

// Plugin is implemented by every adapter. Methods may be called
// concurrently, for different sites and messages; Handle is never called
// concurrently for two messages with the same business key.
//
// New capabilities arrive as Describe data or as optional interfaces (such
// as [CommandRunner]), never as new methods here.
//
// A returned error means the call itself broke (a bug, a lost connection);
// the host treats it as a transient failure. Problems with the input or the
// external system are reported in the response.
type Plugin interface {
	// Describe returns what the plugin offers. It is called once after
	// launch and must not depend on any site's configuration.
	Describe(ctx context.Context, req *DescribeRequest) (*DescribeResponse, error)
	// Configure applies one site's settings, already validated by the host
	// against the declared Settings. It is called before the first message of
	// that site and again on every configuration reload; a plugin must
	// replace the site's previous configuration atomically. The host's
	// start and reloads wait on it, so the host gives up on a Configure
	// (and a Describe) that has not answered within a minute: bound
	// whatever it waits on.
	Configure(ctx context.Context, req *ConfigureRequest) (*ConfigureResponse, error)
	// Handle processes one message.
	Handle(ctx context.Context, req *HandleRequest) (*HandleResponse, error)
	// RunJob runs one scheduled job for one site.
	RunJob(ctx context.Context, req *RunJobRequest) (*RunJobResponse, error)
}

// DescribeRequest is the input of Describe. It is empty today.
type DescribeRequest struct{}

// DescribeResponse declares a plugin's name, operations, jobs, settings and
// work lists.
type DescribeResponse struct {
	// Name is the plugin name; message types are "<Name>.<operation>".
	// It is lowercase letters, digits, '-' and '_', starting with a
	// letter, at most 32 characters (sdkhost.ValidPluginName), and the
	// site's medgate.yaml lists the plugin under the same name
	// (plugins[].name): the host refuses a binary that answers another.
	Name string
	// Version is the plugin's own version (semver recommended).
	Version string
	// Description is one sentence for the console and `medgate plugins`.
	Description string
	// Operations lists the message types the plugin handles.
	Operations []Operation
	// Jobs lists scheduled jobs; the host runs each per enabled site.
	Jobs []Job
	// Settings declares the per-site configuration fields.
	Settings []Setting
	// WorkLists are lists the console can show, e.g. drafts to review.
	WorkLists []WorkList
	// Commands are the plugin's command-line verbs,
	// `medgate <plugin> <command>` (protocol 2).
	Commands []Command
	// Schemas are the schema documents of the plugin's operations by path
	// in the schemas/ layout (<system>/<code>.yaml, <system>/codes/…; the
	// format is medgate's schemas/README.md), so the host maps platform
	// messages against what the plugin declared (protocol 2). A site
	// mapping of type "<plugin>.<operation>" targets the document
	// "<plugin>/<operation>.yaml" (system <plugin>, code <operation>);
	// Operation.Schema names a schema among them. The host loads them at
	// start (medgate check-config reports a document that does not load)
	// and checks mapped messages against them; a message that reaches the
	// plugin without a mapping is not checked: Handle validates it.
	Schemas map[string][]byte
	// Forms are the plugin's console pages (protocol 2).
	Forms []Form
	// WorkListViews give work lists their columns and row actions
	// (protocol 2).
	WorkListViews []WorkListView
	// Documents are pages for documents with editable lines, reviewed
	// and confirmed by an operator (protocol 2).
	Documents []DocumentView
}

// Operation is one message type a plugin handles.
type Operation struct {
	// Type is the full message type, "<plugin>.<operation>".
	Type string `json:"type"`
	// Schema names the schema of the external transaction, e.g.
	// "workinjury/GYU101", or is empty when there is none. It must be one
	// of the plugin's schema documents: "<system>/<code>" names the
	// document "<system>/<code>.yaml" of DescribeResponse.Schemas, and
	// the host refuses to launch a plugin whose Schema names one it does
	// not declare. It is shown to people (medgate plugins); a site
	// mapping of this operation targets the schema "<plugin>/<operation>"
	// whatever Schema says, so name the operation's document that way.
	Schema string `json:"schema,omitempty"`
	// Summary is one line for people.
	Summary string `json:"summary"`
	// Upload marks operations subject to the 30-minute upload rule: the host
	// tracks the age of pending uploads from the message's occurredAt.
	Upload bool `json:"upload"`
	// Query declares the operation a pure query: handling a message of it
	// has no effect outside the plugin (it changes nothing in the external
	// system, publishes nothing) and writes nothing the plugin would need
	// to reconcile a call whose outcome is unknown (no serial kept in the
	// state store, no sequence drawn that must not be reused), so handling
	// the same message twice is harmless.
	//
	// For such an operation the host stores no pending record before the
	// call: a new message costs one store write, its outcome, instead of
	// two. If the host stops between the call and the outcome, the
	// redelivered message is handled again as a new one (Attempt 1,
	// Recovering false), not reconciled. A message that has a pending
	// record anyway (stored while the operation was not declared a query,
	// or replayed after it failed) is handled as any other: Recovering is
	// set and the plugin reconciles. A redelivered message whose outcome is
	// stored gets the stored reply, the plugin is not called. A client
	// waiting on the host's HTTP ingress has the answer as soon as Handle
	// returned, before the outcome is stored (the reply on Kafka waits for
	// it); if it is never stored, the redelivery asks again.
	//
	// Declare it only when it is true: an operation that sends anything the
	// external system keeps (an upload, a download that must be
	// acknowledged, a feedback) or draws a serial it looks up when
	// Recovering is not a query. Query and Upload are exclusive; a plugin
	// declaring both is refused at launch. Hosts older than the field
	// ignore it (every message then has a pending record, as before).
	Query bool `json:"query,omitempty"`
}

// Job is a scheduled job.
type Job struct {
	// Name is letters, digits, '.', '-' and '_' ("forget-old", "GYU009"):
	// the job's id is PLUGIN/SITE/NAME (medgate job run, medgate jobs),
	// and the host refuses to launch a plugin with a job of another name.
	Name string
	// Interval is how often the job runs for each enabled site, at least
	// a second; the host refuses to launch a plugin declaring a job
	// without one or with a shorter one. A run that fails (RunJob returns
	// an error) runs again sooner: a minute after, then after 2, 4, 8, 16
	// minutes, never later than Interval, until a run succeeds; so return
	// an error only when the run did not do its work (the external
	// system down), not when there was nothing to do. Hosts older than
	// this retry only at the next Interval.
	Interval time.Duration
	Summary  string
	// MaxRun bounds one run of the job: a run that lasts longer is
	// logged as an ALERT and its context is cancelled, so that a hung
	// external call does not keep the job from running again. Zero: three
	// Intervals. Set it when a run's normal length is known and much
	// shorter than that (an hourly download that takes a minute: MaxRun
	// 10 minutes finds a hang 2 hours 50 minutes sooner), or longer (a
	// large export). At least a second; it may be shorter than Interval.
	// Hosts older than it ignore it and bound a run by three Intervals.
	MaxRun time.Duration
}

// Setting types.
const (
	SettingString   = "string"
	SettingInt      = "int"
	SettingBool     = "bool"
	SettingDuration = "duration"
	SettingURL      = "url"
	// SettingSecret values are never logged or shown; the site configuration
	// names an environment variable or a file that holds them (env:NAME,
	// file:PATH). The plugin gets the value itself: a file's contents
	// without leading and trailing white space (its final newline).
	SettingSecret = "secret"
	// SettingPath is a file or directory path.
	SettingPath = "path"
)

// Setting declares one per-site configuration field.
type Setting struct {
	Name string
	// Type is one of the Setting* constants (empty: a string). The host
	// refuses to launch a plugin declaring another type, or a setting name
	// twice.
	Type     string
	Required bool
	// Default is the value when the site's configuration gives none. A
	// secret has none: the host reads secrets only from references the
	// site's configuration writes, never from one the plugin names, and
	// refuses to launch a plugin declaring a Default for a secret (put the
	// reference in Example instead).
	Default     string
	Description string
	Example     string
	Enum        []string // allowed values, if restricted
}

// WorkList is a list of items for people to act on, served by a Handle
// operation that returns {"items": [...]}.
type WorkList struct {
	Name          string `json:"name"`
	Title         string `json:"title"`
	ListOperation string `json:"listOperation"`
	Description   string `json:"description,omitempty"`
}

// ConfigureRequest carries one site's settings.
type ConfigureRequest struct {
	Site string
	// Settings holds every declared setting, defaults applied, as strings
	// (durations in Go syntax, booleans "true"/"false", secrets resolved).
	Settings map[string]string
	// Host is the host's services, bound to this plugin and site.
	Host Host
}

// ConfigureResponse reports problems with the site's settings. Any error
// diagnostic makes the host refuse to enable the plugin for that site.
type ConfigureResponse struct {
	Diagnostics Diagnostics
	// Schemas holds the site's schema documents after the site's overlay,
	// by path as in DescribeResponse.Schemas (protocol 2); they replace the
	// declared documents of the same path for that site.
	Schemas map[string][]byte
}

// HandleRequest is one message for the plugin.
type HandleRequest struct {
	Site      string
	Type      string // "<plugin>.<operation>"
	MessageID string // unique; the idempotency key
	Key       string // business key (patient or visit number)
	// OccurredAt is the time of the business event; zero if not given.
	OccurredAt time.Time
	// ReceivedAt is when the host first received the message (its stored
	// received time): the same on every call and redelivery of the
	// message. Zero from a host that does not send it.
	ReceivedAt time.Time
	// Format is "json" or "hl7v2"; Payload is the raw payload (JSON bytes,
	// or the HL7 v2 text).
	Format  string
	Payload []byte
	// Attempt counts calls for this message, starting at 1.
	Attempt int
	// Recovering is true when an earlier call for this message may have
	// reached the external system without its outcome being recorded (a
	// crash or a timeout after sending). The plugin must reconcile with the
	// external system (query by the original serial) before any resend.
	Recovering bool
	// Deadline is when the host gives up on this message.
	Deadline time.Time
	TraceID  string
	// Host is the host's services, bound to this plugin and site.
	Host Host
}

// Status is the outcome of a message.
type Status string

// Outcomes, as in the reply's "status".
const (
	// StatusOK: done.
	StatusOK Status = "ok"
	// StatusInvalid: medgate's own checks failed; nothing was sent out.
	StatusInvalid Status = "invalid"
	// StatusRejected: the external system answered with a business error.
	StatusRejected Status = "rejected"
	// StatusFailed: no answer; set Retryable when a retry may succeed.
	StatusFailed Status = "failed"
)

// HandleResponse is the outcome of one message.
type HandleResponse struct {
	Status Status
	// Retryable marks a failed outcome as transient: the host retries with
	// backoff within the message's deadline. Retryable failures count
	// towards the circuit breaker of the plugin at the site: a run of them
	// pauses every message of the plugin there for a while, for they say
	// that the external system is in trouble.
	Retryable bool
	// Waiting marks a retryable failed outcome as a deliberate wait: a
	// precondition of the plugin's own is not met yet (other messages
	// must finish first) and nothing about the external system's health
	// was learnt. The host retries it as any retryable failure, and
	// replies and logs it the same, but leaves it out of the circuit
	// breaker: it neither opens the circuit nor closes an open one. Set it
	// (with [Wait]) only when the answer says nothing of the external
	// system: a failure of a call to it is trouble, not a wait. Ignored
	// unless Status is StatusFailed and Retryable is set; a host built
	// before it counts the answer as any retryable failure.
	Waiting     bool
	Diagnostics Diagnostics
	External    *External
	// Payload is the reply payload, JSON.
	Payload []byte
}

// External is what the external system answered.
type External struct {
	System  string
	Code    string
	Message string
	MsgID   string
}

// RunJobRequest asks the plugin to run one scheduled job for one site.
type RunJobRequest struct {
	Site    string
	Job     string
	Now     time.Time
	TraceID string
	Host    Host
}

// RunJobResponse reports a job run.
type RunJobResponse struct {
	Diagnostics Diagnostics
	Summary     string
	Processed   int64
}

// Severity of a diagnostic.
type Severity int

// Severities.
const (
	SeverityError Severity = iota
	SeverityWarning
)

// Diagnostic is one problem for people: a short Summary (what is wrong) and
// a Detail (why, and how to fix it), optionally at a JSON path Field such as
// "$.fee[3].qty" and with a Rule such as "required", "length", "type",
// "enum", "precondition", "amount" or "state".
type Diagnostic struct {
	Severity Severity
	Field    string
	Rule     string
	Summary  string
	Detail   string
}

// Message returns Summary and Detail as one sentence.
func (d Diagnostic) Message() string {
	if d.Detail == "" {
		return d.Summary
	}
	if d.Summary == "" {
		return d.Detail
	}
	return d.Summary + ": " + d.Detail
}

// Diagnostics is a list of diagnostics.
type Diagnostics []Diagnostic

// HasError reports whether any diagnostic is an error.
func (ds Diagnostics) HasError() bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Error appends an error diagnostic.
func (ds *Diagnostics) Error(field, rule, summary, detail string) {
	*ds = append(*ds, Diagnostic{Severity: SeverityError, Field: field, Rule: rule, Summary: summary, Detail: detail})
}

// Warn appends a warning diagnostic.
func (ds *Diagnostics) Warn(field, rule, summary, detail string) {
	*ds = append(*ds, Diagnostic{Severity: SeverityWarning, Field: field, Rule: rule, Summary: summary, Detail: detail})
}

// String joins the diagnostics, one per line.
func (ds Diagnostics) String() string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteByte('\n')
		}
		if d.Field != "" {
			fmt.Fprintf(&b, "%s: ", d.Field)
		}
		b.WriteString(d.Message())
	}
	return b.String()
}

// Invalid returns a response with status invalid carrying ds.
func Invalid(ds ...Diagnostic) *HandleResponse {
	return &HandleResponse{Status: StatusInvalid, Diagnostics: ds}
}

// Errors returned by Host methods.
var (
	// ErrNotFound: the state key does not exist.
	ErrNotFound = errors.New("sdk: not found")
	// ErrConflict: a compare-and-set expectation did not hold.
	ErrConflict = errors.New("sdk: version conflict")
	// ErrTooLarge: a host service call (a state value, an event, a
	// journal entry) is larger than the host takes in one call. Keep large
	// data in an artifact (PutArtifact) and only its reference in state.
	ErrTooLarge = errors.New("sdk: too large for the host")
)

// MaxEventPayloadBytes is the largest event payload (Event.Payload) the
// host publishes: its Kafka producer sends records of at most 1,000,000
// bytes (key, value and headers), and the event's envelope (id, site,
// type, times) and headers take less than the 16 KiB left. A topic whose
// max.message.bytes is lower takes less. A larger event is refused with
// [ErrTooLarge] on every try: keep large data in an artifact
// (PutArtifact) and its reference in the event.
const MaxEventPayloadBytes = 1000000 - 16<<10

// Entry is one state value with its version (1 after the first write).
type Entry struct {
	Key     string
	Value   []byte
	Version int64
}

// Event is a record the plugin publishes to the events topic.
type Event struct {
	// ID is unique per event; the host derives one when empty. Give
	// downloaded records a stable id (e.g. system + serial) so a re-publish
	// after a crash can be deduplicated downstream.
	ID         string
	Type       string // e.g. "workinjury.filing.downloaded"
	Key        string // business key
	Payload    []byte // JSON
	Headers    map[string]string
	OccurredAt time.Time
}

// Exchange is one call to an external system, for the journal.
type Exchange struct {
	// MessageID is the HandleRequest's MessageID of the message the call
	// was made for; empty for a call a job makes (RunJob), which the
	// journal keeps without a message.
	MessageID string
	System    string
	Code      string
	Serial    string
	Request   []byte // as sent; the host stores it as given
	Response  []byte // as received
	Status    string // ok | rejected | error | unknown
	Error     string
	Duration  time.Duration
}

// Host is the host's services for one plugin and one site.
type Host interface {
	// Get returns the entry or ErrNotFound.
	Get(ctx context.Context, key string) (Entry, error)
	// Put writes unconditionally and returns the new version.
	Put(ctx context.Context, key string, value []byte) (int64, error)
	// CompareAndSet writes only if the current version is expect (0: the key
	// must not exist) and returns the new version, or ErrConflict.
	CompareAndSet(ctx context.Context, key string, expect int64, value []byte) (int64, error)
	// Scan returns entries whose key starts with prefix, in key order
	// (limit 0: all). The SDK reads a large scan from the host page by
	// page, each page bounded in bytes (1 MiB in medgate), and returns
	// every entry as one answer; keep limit or a narrow prefix for what
	// the plugin itself should hold in memory. Each entry is as
	// consistent as a Get: others may write while the pages are read.
	Scan(ctx context.Context, prefix string, limit int) ([]Entry, error)
	// Delete removes a key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// NextSequence returns the next value (from 1) of a named counter shared
	// by every instance of the host: no value is skipped or given twice.
	// Each call is a store write; for values that only need to be unique,
	// [NextSequenceGaps] is cheaper.
	NextSequence(ctx context.Context, name string) (int64, error)
	// Publish writes an event to the events topic and returns once the
	// broker has acknowledged it. An event whose payload passes
	// [MaxEventPayloadBytes] is refused with [ErrTooLarge], nothing sent.
	Publish(ctx context.Context, e Event) error
	// Journal records an external call and returns its journal id. The
	// host stores an entry no later than the outcome of the message it
	// names: an entry for the message being handled (x.MessageID is the
	// request's MessageID, during Handle) may be held and stored in the
	// same transaction as that message's outcome, and its id is then 0.
	// Do not use the journal as a write-ahead record of what was sent:
	// keep that in state (Put) before the request leaves.
	Journal(ctx context.Context, x Exchange) (int64, error)
}

// GapSequenceHost is a Host that answers [NextSequenceGaps] from blocks of
// values. Call it through NextSequenceGaps.
type GapSequenceHost interface {
	NextSequenceGaps(ctx context.Context, name string) (int64, error)
}

// NextSequenceGaps returns a value of the named counter that no other call
// of any instance of the host gets, like Host.NextSequence, without its
// promise of consecutive values: the host reserves a block of values for
// this plugin process (one store write) and the SDK hands them out one by
// one from memory, with no call to the host. So values:
//
//   - are unique across every instance of the host sharing the store;
//   - increase within one plugin process, but not across instances (two
//     instances draw from different blocks at the same time);
//   - have gaps: what is left of a block when the plugin process stops
//     (relaunch, host restart) is never handed out: at most the block
//     size, 100 in medgate, per name, site and restart.
//
// Use it for message serials and ids that only have to be unique (it saves
// a call to the host and a store write with its fsync per value). Keep Host.NextSequence for
// numbers that must have no gaps or must grow across instances (card
// numbers, receipt numbers). Names are shared with NextSequence: mixing
// both on one name keeps values unique. A host that has no blocks (older
// hosts, test hosts) answers with NextSequence.
func NextSequenceGaps(ctx context.Context, h Host, name string) (int64, error) {
	if gh, ok := h.(GapSequenceHost); ok {
		return gh.NextSequenceGaps(ctx, name)
	}
	return h.NextSequence(ctx, name)
}

// KnownScanHost is a Host that can leave out of a scan the values the
// caller already holds. Call it through [ScanKnown].
type KnownScanHost interface {
	ScanKnown(ctx context.Context, prefix string, limit int, known map[string]int64) ([]Entry, error)
}

// ScanKnown is Host.Scan for a caller that keeps what it has read, or what
// it derived from it: known gives, by key, the version of each entry the
// caller holds. Every entry under prefix comes back with its key and
// version, in key order; an entry whose version is known[Key] may come
// without its Value, every other entry comes whole. So a value crosses
// from the host's store to the plugin once, not on every scan: a plugin
// that checks a new record against all the earlier ones of a case (a
// visit's fee lines) reads each earlier record once instead of once per
// record.
//
// Tell the entries apart by version (e.Version == known[e.Key]: you have
// it), not by an empty Value: a host that does not know the call (an older
// host, a test host) sends every value, which is also correct.
//
// A version names one value of a key only while the key exists: a key
// that is deleted and created again starts again at version 1. Keep what
// you derive by key and version only for keys that are never created
// again with another value, or forget a key when you delete it.
func ScanKnown(ctx context.Context, h Host, prefix string, limit int, known map[string]int64) ([]Entry, error) {
	if kh, ok := h.(KnownScanHost); ok && len(known) > 0 {
		return kh.ScanKnown(ctx, prefix, limit, known)
	}
	return h.Scan(ctx, prefix, limit)
}

// ArtifactHost is the Host of protocol 2, which also keeps files. Call it
// through [PutArtifact].
type ArtifactHost interface {
	// PutArtifact streams a file (an export, a label) into storage the
	// host holds and returns its reference.
	PutArtifact(ctx context.Context, a Artifact, r io.Reader) (ArtifactRef, error)
}

// ErrNoArtifacts: the host keeps no artifacts (it speaks protocol 1).
var ErrNoArtifacts = errors.New("sdk: this host keeps no artifacts; it needs protocol version 2")

// PutArtifact streams a file into storage the host holds and returns its
// reference. Put the reference's ID in the reply and declare the field in
// Display.File: the console and the command line serve a file only by
// such a reference, never by a path.
func PutArtifact(ctx context.Context, h Host, a Artifact, r io.Reader) (ArtifactRef, error) {
	ah, ok := h.(ArtifactHost)
	if !ok {
		return ArtifactRef{}, ErrNoArtifacts
	}
	return ah.PutArtifact(ctx, a, r)
}

// Artifact names a file handed to the host.
type Artifact struct {
	// Name is the file name people see when they download it.
	Name string
	// ContentType is its media type; empty: from the name's extension.
	ContentType string
}

// ArtifactRef is a stored artifact: its ID (what replies carry), name, size
// and SHA-256.
type ArtifactRef struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}
