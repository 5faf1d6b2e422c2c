package message

// Kafka headers on replies and events of a site with outbound mappings
// (sites[].outbound).
const (
	// HeaderFormat is the format of a reply's or event's value when it is
	// not medgate's JSON: "hl7v2" or "json" (the platform's own JSON), as
	// written by the mapping HeaderMapping names; FormatMedgate when a
	// mapping failed and the value is medgate's JSON.
	HeaderFormat = "medgate-format"
	// HeaderMapping names the outbound mapping used (or that failed), for
	// example "demo/out/hl7v2/event.ecard.registered".
	HeaderMapping = "medgate-mapping"
	// HeaderMappingError says why the mapping failed: its problems, each
	// naming the target field and the source.
	HeaderMappingError = "medgate-mapping-error"
	// FormatMedgate is HeaderFormat on a value left in medgate's JSON.
	FormatMedgate = "medgate-json"
	// HeaderReplyFormat on a request set to FormatMedgateRequest asks for
	// the reply in medgate's JSON whatever the site's outbound mappings
	// (medgate's CLI reads its replies from the topic).
	HeaderReplyFormat = "medgate-reply-format"
	// FormatMedgateRequest is the value of HeaderReplyFormat.
	FormatMedgateRequest = "medgate"
)
