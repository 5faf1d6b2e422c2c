package config

import (
	"fmt"
	"regexp"
)

// Outbound says which of a site's replies and events leave in its
// platform's own format rather than medgate's JSON, through the site's
// outbound mappings (transforms/mappings/<site>/out/<format>/…). A reply or
// event whose type is not listed, or has no mapping, keeps medgate's JSON.
type Outbound struct {
	// Format is what the platform reads: hl7v2 or json (its own JSON).
	Format string `yaml:"format"`
	// Replies lists the request types whose replies are mapped: a type
	// ("ecard.register"), every type of a plugin ("ecard.*") or "*".
	Replies []string `yaml:"replies"`
	// Events lists the event types that are mapped, the same way.
	Events []string `yaml:"events"`
}

// OutboundPatternRE is what an entry of replies or events may be.
var OutboundPatternRE = regexp.MustCompile(`^(\*|[a-z][a-z0-9]*\.\*|[a-z][a-z0-9]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)+)$`)

// checkOutbound checks every site's outbound section (that its types have
// mappings is checked when the mappings are compiled).
func (c *Config) checkOutbound() Problems {
	var ps Problems
	for i, s := range c.Sites {
		o := s.Outbound
		if o == nil {
			continue
		}
		path := fmt.Sprintf("sites[%d].outbound", i)
		switch o.Format {
		case "hl7v2", "json":
		case "":
			ps = append(ps, c.Problem(path+".format", "is required: hl7v2 (HL7 v2 messages) or json (the platform's own JSON)"))
		default:
			ps = append(ps, c.Problem(path+".format", "%q is not an outbound format; use hl7v2 or json", o.Format))
		}
		if len(o.Replies) == 0 && len(o.Events) == 0 {
			ps = append(ps, c.Problem(path, "lists neither replies nor events; list the types to map (e.g. replies: [\"*\"], events: [<plugin>.<event>]) or remove outbound:"))
		}
		for _, l := range []struct {
			name string
			list []string
		}{{"replies", o.Replies}, {"events", o.Events}} {
			name, list := l.name, l.list
			seen := map[string]bool{}
			for j, t := range list {
				at := fmt.Sprintf("%s.%s[%d]", path, name, j)
				switch {
				case !OutboundPatternRE.MatchString(t):
					ps = append(ps, c.Problem(at, "%q is not a type; write a type as the plugin declares it (<plugin>.<name>), every type of a plugin as <plugin>.*, or * for all", t))
				case seen[t]:
					ps = append(ps, c.Problem(at, "%q is listed twice; keep one", t))
				}
				seen[t] = true
			}
		}
	}
	return ps
}
