package pipeline

import "github.com/medgate/medgate/host/internal/message"

// Outbounder maps a reply or event into the site's platform format (a
// *mapping.Mappings, which is also the Transformer): it returns the value
// to publish and sets headers to say which format and mapping it is in. A
// reply it cannot map comes back unchanged, in medgate's JSON.
type Outbounder interface {
	Outbound(kind, site, typ string, doc []byte, headers map[string]string) []byte
}

// RequestOutbounder is an Outbounder that maps a reply knowing the
// request it answers (the request's value, as Input.Value): the response
// to an HL7 v2 query echoes the query's tag, which the reply does not hold.
type RequestOutbounder interface {
	OutboundReply(site, typ string, request, doc []byte, headers map[string]string) []byte
}

// mapOut maps a reply before it is published when the Transformer is an
// Outbounder and the reply's site maps replies of its type, unless the
// request asked for medgate's JSON (Input.ReplyFormat).
func (p *Processor) mapOut(in Input, r *message.Reply, data []byte, headers map[string]string) []byte {
	o, ok := p.tf.(Outbounder)
	if !ok || r.Site == "" || in.ReplyFormat == message.FormatMedgateRequest {
		return data
	}
	if ro, ok := o.(RequestOutbounder); ok {
		return ro.OutboundReply(r.Site, r.Type, in.Value, data, headers)
	}
	return o.Outbound("reply", r.Site, r.Type, data, headers)
}

// unmapOut drops the format headers of a reply published truncated: the
// truncated reply is medgate's JSON.
func unmapOut(headers map[string]string) {
	if _, ok := headers[message.HeaderFormat]; ok {
		headers[message.HeaderFormat] = message.FormatMedgate
		delete(headers, message.HeaderMappingError)
	}
}
