package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms"
	"github.com/medgate/medgate/transforms/hl7"
)

// HL7Type returns the message type ("ecard.register") that an HL7 v2
// message of MSH-9 msgType ("ADT^A28") is for at site: the type of the one
// hl7v2 mapping of the site (or, for types it has none of, of the default
// site) whose messageTypes list msgType. It is an error when none or
// several do, naming them, so the MLLP listener can say what to configure.
func (m *Mappings) HL7Type(site, msgType string) (string, error) {
	set := m.set.Load().forSite(site)
	if set == nil {
		return "", fmt.Errorf("no mappings are loaded yet")
	}
	var types []string
	for _, mp := range set.List() {
		if mp.Format != transforms.FormatHL7v2 || (mp.Site != site && mp.Site != transforms.DefaultSite) || !slices.Contains(mp.MessageTypes, msgType) {
			continue
		}
		if own, ok := set.Find(site, transforms.FormatHL7v2, mp.Type); ok && own != mp {
			continue // the site's own mapping of this type replaces the default one
		}
		if !slices.Contains(types, mp.Type) {
			types = append(types, mp.Type)
		}
	}
	switch len(types) {
	case 1:
		return types[0], nil
	case 0:
		return "", fmt.Errorf("no hl7v2 mapping of site %s reads %s messages; add one with messageTypes: [%s] to the site's mappings, or map %s to a message type in the listener's messageTypes", site, msgType, msgType, msgType)
	}
	slices.Sort(types)
	return "", fmt.Errorf("%s messages of site %s are read by the mappings of several types (%s); say which one in the listener's messageTypes, e.g. %q: %s", msgType, site, strings.Join(types, ", "), msgType, types[0])
}

// ReplyHL7 renders a reply (medgate's JSON) as the HL7 acknowledgment an
// MLLP sender gets, with the site's hl7v2 reply mapping for the request
// type (<site>/out/hl7v2/reply[.<type>].yaml), whether or not the site
// maps its Kafka replies. ok is false when the site has no such mapping or
// it failed (the failure is counted and logged); the caller then builds a
// plain ACK itself.
func (m *Mappings) ReplyHL7(site, typ string, doc []byte) (ack []byte, mapping string, ok bool) {
	set := m.set.Load().forSite(site)
	if set == nil {
		return nil, "", false
	}
	mp, found := set.FindOutbound(site, transforms.FormatHL7v2, transforms.KindReply, typ)
	if !found {
		return nil, "", false
	}
	out, problems := mp.Render(doc, set.Tables(site))
	if len(problems) > 0 {
		if c := m.failures.Load(); c != nil {
			c.WithLabelValues(site, transforms.KindReply, mp.Name).Inc()
		}
		slog.Warn("the ACK mapping failed; the MLLP sender gets a plain ACK", "site", site, "type", typ, "mapping", mp.Name, "first", problems[0].Field+": "+problems[0].Rule)
		return nil, mp.Name, false
	}
	return out, mp.Name, true
}

// OutboundReply is Outbound for a reply, given the request it answers
// (its value: the envelope as received). An HL7 v2 response to an HL7 v2
// query (QBP, QRY) gets the query's tag in QAK-1 (QPD-2, or QRD-4 of a
// QRY) when the query gives one, as HL7 requires of a responder and as
// the MLLP listener writes it: the mapping renders medgate's reply, which
// does not hold the query, so it cannot.
func (m *Mappings) OutboundReply(site, typ string, request, doc []byte, headers map[string]string) []byte {
	out := m.Outbound(transforms.KindReply, site, typ, doc, headers)
	if headers[message.HeaderFormat] != transforms.FormatHL7v2 {
		return out
	}
	out = withWarnings(out, doc)
	if !bytes.Contains(out, []byte("\rQAK")) {
		return out
	}
	tag := requestQueryTag(request)
	if tag == "" {
		return out
	}
	return echoQueryTag(out, tag)
}

// requestQueryTag is the query tag of a request envelope whose payload is
// an HL7 v2 query, or "".
func requestQueryTag(request []byte) string {
	var env struct {
		Format  string          `json:"format"`
		Payload json.RawMessage `json:"payload"`
	}
	var text string
	if json.Unmarshal(request, &env) != nil || env.Format != transforms.FormatHL7v2 || json.Unmarshal(env.Payload, &text) != nil {
		return ""
	}
	msg, err := hl7.ParseWith([]byte(text), hl7.Options{Text: true})
	if err != nil {
		return ""
	}
	return msg.QueryTag()
}

// echoQueryTag writes tag in QAK-1 of a rendered HL7 v2 message (UTF-8
// text, segments ending in CR), escaped in its delimiters.
func echoQueryTag(out []byte, tag string) []byte {
	rendered, err := hl7.ParseWith(out, hl7.Options{Text: true})
	if err != nil {
		return out
	}
	d := rendered.Delimiters
	fs := string(d.Field)
	segs := strings.Split(string(out), "\r")
	for i, seg := range segs {
		if seg != "QAK" && !strings.HasPrefix(seg, "QAK"+fs) {
			continue
		}
		f := strings.Split(seg, fs)
		if len(f) < 2 {
			f = append(f, "")
		}
		f[1] = hl7.Escape(tag, d)
		segs[i] = strings.Join(f, fs)
	}
	return []byte(strings.Join(segs, "\r"))
}

// withWarnings adds the reply's warnings (doc, medgate's reply JSON) to a
// rendered HL7 v2 acknowledgment (one with an MSA) whose mapping wrote
// none, as the MLLP listener does: one ERR of severity W (ERR-4) per
// warning, after the ACK's last ERR, else after its MSA. The demo's reply
// mappings write ERR from the errors alone (a mapping writes one segment
// entry per ID), so an AA on the replies topic left out an ecard.register's
// name mismatch or a GYU102's refused fee line.
func withWarnings(out, doc []byte) []byte {
	var r message.Reply
	if json.Unmarshal(doc, &r) != nil || len(r.Warnings) == 0 {
		return out
	}
	rendered, err := hl7.ParseWith(out, hl7.Options{Text: true})
	if err != nil || len(rendered.Segments) == 0 {
		return out
	}
	d := rendered.Delimiters
	fs := string(d.Field)
	segs := strings.Split(string(out), "\r")
	at := -1
	for i, seg := range segs {
		switch {
		case strings.HasPrefix(seg, "MSA"+fs) || seg == "MSA":
			if at < 0 {
				at = i + 1
			}
		case at >= 0 && (strings.HasPrefix(seg, "ERR"+fs) || seg == "ERR"):
			if f := strings.Split(seg, fs); len(f) > 4 && f[4] == "W" {
				return out // the mapping wrote the warnings itself
			}
			at = i + 1
		}
	}
	if at < 0 {
		return out // not an acknowledgment
	}
	version := rendered.Segments[0].Value(12, 1, 1, 1)
	eld := strings.HasPrefix(version, "2.") && len(version) >= 3 && version[2] < '5' && (len(version) == 3 || version[3] == '.')
	warns := make([]string, 0, len(r.Warnings))
	for _, w := range r.Warnings {
		warns = append(warns, hl7.ProblemSegment(w.Rule, w.Field, "W", w.Message, d, eld))
	}
	return []byte(strings.Join(slices.Insert(segs, at, warns...), "\r"))
}
