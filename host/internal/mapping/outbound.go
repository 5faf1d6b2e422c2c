package mapping

import (
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/transforms"
)

// siteOut is a site's outbound configuration as the mappings use it.
type siteOut struct {
	format  string
	replies []string
	events  []string
}

// selects reports whether a type is listed by patterns: exactly, by
// "<plugin>.*" or by "*".
func selects(patterns []string, typ string) bool {
	for _, p := range patterns {
		if p == "*" || p == typ || strings.HasSuffix(p, ".*") && strings.HasPrefix(typ, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

// outboundSites reads the sites' outbound sections and checks that every
// type they list has a mapping in set (a pattern must match at least one),
// listing every problem.
func outboundSites(cfg *config.Config, set func(site string) *transforms.Set) (map[string]*siteOut, error) {
	out := map[string]*siteOut{}
	var ps config.Problems
	for i, s := range cfg.Sites {
		o := s.Outbound
		if o == nil {
			continue
		}
		so := &siteOut{format: o.Format, replies: o.Replies, events: o.Events}
		out[s.Code] = so
		ms := set(s.Code)
		for _, l := range []struct {
			kind, name string
			list       []string
		}{{transforms.KindReply, "replies", o.Replies}, {transforms.KindEvent, "events", o.Events}} {
			for j, p := range l.list {
				if hasOutbound(ms, s.Code, o.Format, l.kind, p) {
					continue
				}
				file := fmt.Sprintf("%s/out/%s/%s.%s.yaml", s.Code, o.Format, l.kind, strings.TrimSuffix(p, ".*"))
				if p == "*" {
					file = fmt.Sprintf("%s/out/%s/%s.yaml", s.Code, o.Format, l.kind)
				}
				ps = append(ps, cfg.Problem(fmt.Sprintf("sites[%d].outbound.%s[%d]", i, l.name, j),
					"no %s mapping serves %q for format %s; add %s (or %s/out/%s/%s.yaml for every type) to the mapping directory, or remove the entry",
					l.kind, p, o.Format, file, s.Code, o.Format, l.kind))
			}
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return out, nil
}

// hasOutbound reports whether set has a mapping for a type or, for a
// pattern, for at least one type it matches.
func hasOutbound(set *transforms.Set, site, format, kind, pattern string) bool {
	if set == nil {
		return false
	}
	if !strings.Contains(pattern, "*") {
		_, ok := set.FindOutbound(site, format, kind, pattern)
		return ok
	}
	if _, ok := set.FindOutbound(site, format, kind, ""); ok {
		return true
	}
	for _, m := range set.OutboundList() {
		if (m.Site == site || m.Site == transforms.DefaultSite) && m.Output == format && m.Kind == kind && selects([]string{pattern}, m.Type) {
			return true
		}
	}
	return false
}

// Outbound maps a reply (kind transforms.KindReply) or event
// (transforms.KindEvent) of a site, as medgate's JSON doc, into the site's
// platform format when sites[].outbound lists its type and a mapping
// serves it, and sets headers to say so (message.HeaderFormat,
// message.HeaderMapping). Otherwise doc is returned unchanged. A mapping
// that fails never loses the record: doc is returned unchanged with
// message.HeaderFormat set to message.FormatMedgate and
// message.HeaderMappingError saying why, and the failure is counted in
// medgate_outbound_mapping_failures_total and logged.
func (m *Mappings) Outbound(kind, site, typ string, doc []byte, headers map[string]string) []byte {
	sets := m.set.Load()
	if sets == nil {
		return doc
	}
	so := sets.outbound[site]
	if so == nil {
		return doc
	}
	patterns := so.replies
	if kind == transforms.KindEvent {
		patterns = so.events
	}
	if !selects(patterns, typ) {
		return doc
	}
	set := sets.forSite(site)
	mp, ok := set.FindOutbound(site, so.format, kind, typ)
	if !ok {
		return doc
	}
	out, problems := mp.Render(doc, set.Tables(site))
	if len(problems) == 0 {
		headers[message.HeaderFormat] = so.format
		headers[message.HeaderMapping] = mp.Name
		return out
	}
	why := make([]string, 0, 3)
	for i, p := range problems {
		if i == 3 {
			why = append(why, fmt.Sprintf("and %d more", len(problems)-3))
			break
		}
		why = append(why, p.Field+": "+p.Rule+": "+p.Message)
	}
	text := strings.Join(why, "; ")
	if len(text) > 1024 {
		// Cut at a character boundary: the header stays UTF-8 text.
		cut := 1021
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "..."
	}
	headers[message.HeaderFormat] = message.FormatMedgate
	headers[message.HeaderMapping] = mp.Name
	headers[message.HeaderMappingError] = text
	if c := m.failures.Load(); c != nil {
		c.WithLabelValues(site, kind, mp.Name).Inc()
	}
	slog.Warn("outbound mapping failed; the record goes out in medgate's JSON with the reason in the medgate-mapping-error header",
		"site", site, "kind", kind, "type", typ, "mapping", mp.Name, "problems", len(problems), "first", problems[0].Field+": "+problems[0].Rule)
	return doc
}

// Register adds medgate_outbound_mapping_failures_total to reg.
func (m *Mappings) Register(reg prometheus.Registerer) error {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "medgate_outbound_mapping_failures_total",
		Help: "Replies and events whose outbound mapping failed and that went out in medgate's JSON instead (header medgate-mapping-error), by site, kind (reply, event) and mapping.",
	}, []string{"site", "kind", "mapping"})
	if err := reg.Register(c); err != nil {
		return fmt.Errorf("register outbound mapping metrics: %w", err)
	}
	m.failures.Store(c)
	return nil
}
