package message

// HeaderPrefix starts the Kafka header names only the host sets; a plugin's
// event headers may not use it.
const HeaderPrefix = "medgate-"

// Kafka header names the host sets on the records it reads and writes.
const (
	// HeaderTraceID carries the trace id of a request, its reply and DLQ record.
	HeaderTraceID = "medgate-trace-id"
	// HeaderType is the message or event type of a reply or event.
	HeaderType = "medgate-type"
	// HeaderStatus is the status of a reply.
	HeaderStatus = "medgate-status"
	// HeaderRequestID is the id of the request a reply answers; on a
	// request queued by the HTTP ingress, that request's own id (a hint:
	// the envelope's id is what counts).
	HeaderRequestID = "medgate-request-id"
	// HeaderTruncated is "1" on a reply or DLQ record published without
	// its payload because it was too large.
	HeaderTruncated = "medgate-truncated"
	// HeaderReason is why a message went to the DLQ.
	HeaderReason = "medgate-reason"
	// HeaderEventID is the id of an event.
	HeaderEventID = "medgate-event-id"
	// HeaderPlugin names the plugin that published an event.
	HeaderPlugin = "medgate-plugin"
	// HeaderIngress is "http" on a request that came through POST /v1/messages.
	HeaderIngress = "medgate-ingress"
	// HeaderReplay is "1" on a request replayed from the DLQ.
	HeaderReplay = "medgate-replay"
)

// MaxTraceBytes bounds a trace id (header medgate-trace-id): the HTTP
// ingress refuses a longer X-Medgate-Trace-Id, and the pipeline cuts a
// longer header of a Kafka request to it, since the trace id travels in
// the reply's and the DLQ record's headers and in the DLQ record itself.
const MaxTraceBytes = 256
