package transforms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"gopkg.in/yaml.v3"

	"github.com/medgate/medgate/schemas"
	"github.com/medgate/medgate/transforms/hl7"
)

// Outbound mapping kinds: what medgate publishes and a site may map into its
// platform's own format.
const (
	// KindReply is a reply to a request (medgate's reply JSON).
	KindReply = "reply"
	// KindEvent is an event a plugin publishes (medgate's event JSON).
	KindEvent = "event"
)

// OutDir is the directory, under a site's, that holds its outbound
// mappings: <site>/out/<json|hl7v2>/<reply|event>[.<type>].yaml.
const OutDir = "out"

// Kinds of synthetic target fields of outbound mappings, which have no
// transaction schema: kindAny keeps the computed value as it is (times as
// RFC 3339 text), kindHL7 turns it into the text of an HL7 field.
const (
	kindAny schemas.Kind = ""
	kindHL7 schemas.Kind = "hl7"
)

var (
	outName        = regexp.MustCompile(`^(reply|event)(\.[a-z][a-z0-9]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)+)?$`)
	hl7MessageType = regexp.MustCompile(`^[A-Z0-9]{3}(\^[A-Z0-9]{3}(\^[A-Z0-9_]{3,7})?)?$`)
	hl7Version     = regexp.MustCompile(`^2\.[1-9](\.[0-9])?$`)
)

// outboundKeys are the extra keys of a scalar entry in an outbound
// mapping: required: true makes an empty value a problem, type: (json
// only) converts the value to a schema type.
var outboundKeys = []string{"required", "type"}

// compileOutbound checks one outbound mapping file. name is
// "<site>/out/<format>/<kind>[.<type>]". The mapping reads medgate's reply
// or event JSON (Format is FormatJSON) and writes Output: the platform's
// JSON, or an HL7 v2 message.
func (l *loader) compileOutbound(file, name string, data []byte, siteTables Tables) *Mapping {
	parts := strings.Split(name, "/")
	site, output, base := parts[0], parts[2], parts[3]
	c := &compiler{l: l, file: file, tables: map[string]bool{}, lets: map[string]bool{}, outbound: true}
	before := len(l.Problems)
	switch {
	case !siteName.MatchString(site):
		l.Add(file, 0, "", fmt.Sprintf("site directory %q is not a site code", site), "name the directory after the site code: letters, digits, - and _")
	case output != FormatJSON && output != FormatHL7v2:
		l.Add(file, 0, "", fmt.Sprintf("format directory %q is not known", output), "put the file under <site>/out/json/ (the platform's JSON) or <site>/out/hl7v2/")
	case !outName.MatchString(base):
		l.Add(file, 0, "", fmt.Sprintf("file name %q is not an outbound mapping name", base+".yaml"),
			"name it reply.yaml (every reply), reply.<request type>.yaml (replies to one type, e.g. reply.ecard.register.yaml) or event.<event type>.yaml (e.g. event.ecard.registered.yaml)")
	}
	if len(l.Problems) > before {
		return nil
	}
	kind, typ, _ := strings.Cut(base, ".")
	m := &Mapping{Name: name, Site: site, Format: FormatJSON, Output: output, Kind: kind, Type: typ, File: file,
		loc: defaultZone, tables: siteTables, paths: map[string]*source{}}
	c.m = m
	for t := range siteTables {
		c.tables[t] = true
	}
	root := l.parse(file, data)
	if root == nil {
		return nil
	}
	allowed := []string{"description", "timezone", "tables", "let", "fields"}
	if output == FormatHL7v2 {
		allowed = []string{"description", "timezone", "tables", "let", "messageType", "version", "segments"}
	}
	keys := c.mapping(root, "", allowed)
	if keys == nil {
		return nil
	}
	c.header(keys)
	if n := keys["messageType"]; n != nil {
		m.MessageType = c.str(n, "messageType")
		if m.MessageType != "" && !hl7MessageType.MatchString(m.MessageType) {
			c.add(n, "messageType", fmt.Sprintf("%q is not an HL7 message type", m.MessageType), "write MSH-9 as type^trigger[^structure], such as ADT^A28^ADT_A05 or ACK")
		}
	} else if output == FormatHL7v2 && keys["segments"] != nil {
		l.Add(file, root.Line, "messageType", "an hl7v2 outbound mapping needs messageType: (MSH-9)", "add messageType: such as ADT^A28^ADT_A05 or ACK^A28^ACK")
	}
	m.Version = "2.5"
	if n := keys["version"]; n != nil {
		m.Version = c.str(n, "version")
		if !hl7Version.MatchString(m.Version) {
			c.add(n, "version", fmt.Sprintf("%q is not an HL7 v2 version", m.Version), "write MSH-12 such as 2.4 or 2.5")
		}
	}
	if n := keys["let"]; n != nil {
		c.compileLets(n)
	}
	top := "fields"
	if output == FormatHL7v2 {
		top = "segments"
	}
	n := keys[top]
	if n == nil {
		fix := "add fields: with one entry per field of the platform's JSON"
		if output == FormatHL7v2 {
			fix = "add segments: with MSH first, one entry per segment, each with its fields: (MSH-10: $.id, …)"
		}
		l.Add(file, root.Line, top, "the mapping has nothing to write", fix)
		return nil
	}
	var targets []schemas.Field
	if output == FormatHL7v2 {
		targets = c.synthSegments(n)
	} else {
		targets = c.synthFields(n, "fields", "")
	}
	m.Schema = &schemas.Schema{Code: base, Name: m.Description, System: "out", Input: targets}
	m.fields = c.compileFields(n, targets, "", false)
	c.checkReversed()
	if len(l.Problems) > before {
		return nil
	}
	return m
}

// header reads the keys inbound and outbound mappings share: description,
// timezone and tables.
func (c *compiler) header(keys map[string]*yaml.Node) {
	m := c.m
	if n := keys["description"]; n != nil {
		m.Description = c.str(n, "description")
	}
	if n := keys["timezone"]; n != nil {
		tz := c.str(n, "timezone")
		loc, err := parseZone(tz)
		if err != nil {
			c.add(n, "timezone", err.Error(), `write an offset such as "+08:00", or "UTC"`)
		} else {
			m.loc = loc
		}
	}
	if n := keys["tables"]; n != nil {
		for i, item := range c.list(n, "tables") {
			t := c.str(item, fmt.Sprintf("tables[%d]", i))
			if !tableName.MatchString(t) {
				c.add(item, fmt.Sprintf("tables[%d]", i), fmt.Sprintf("%q is not a table name", t), "use letters, digits, '.', '-' and '_'")
				continue
			}
			m.declared = append(m.declared, t)
			c.tables[t] = true
		}
	}
	c.opts = append(funcOptions(m.loc), expr.Env(env{}))
}

// synthFields builds the target fields of a JSON outbound mapping from the
// mapping itself: an entry with fields: is an object (a list with each:),
// any other entry a value kept as computed, or converted to its type:.
func (c *compiler) synthFields(n *yaml.Node, at, seg string) []schemas.Field {
	var out []schemas.Field
	for _, kv := range c.pairs(n, at) {
		k, v := kv[0], kv[1]
		f := schemas.Field{Name: k.Value, Type: schemas.Type{Kind: kindAny}}
		field := at + "." + k.Value
		if seg != "" {
			f.Type.Kind = kindHL7
			c.checkHL7Target(k, field, seg)
		}
		if v.Kind == yaml.MappingNode {
			var sub map[string]*yaml.Node
			for i := 0; i+1 < len(v.Content); i += 2 {
				if sub == nil {
					sub = map[string]*yaml.Node{}
				}
				sub[v.Content[i].Value] = v.Content[i+1]
			}
			if fn := sub["fields"]; fn != nil && seg == "" {
				f.Type.Kind = schemas.KindObject
				if sub["each"] != nil {
					f.Type.Kind = schemas.KindArray
				}
				f.Fields = c.synthFields(fn, field+".fields", "")
			}
			if rn := sub["required"]; rn != nil {
				if rn.Tag != "!!bool" {
					c.add(rn, field+".required", "required takes true or false", "write required: true")
				}
				f.Required = rn.Value == "true"
			}
			if tn := sub["type"]; tn != nil {
				if seg != "" {
					c.add(tn, field+".type", "HL7 fields are text; type: is only for json mappings", "remove it, or format the value in expr:")
				} else if t, err := schemas.ParseType(tn.Value); err != nil || !t.Scalar() || t.Kind == schemas.KindEnum {
					c.add(tn, field+".type", fmt.Sprintf("%q is not a value type", tn.Value), "use string, integer, decimal(p,s), date, datetime or boolean")
				} else {
					f.Type = t
				}
			}
		}
		out = append(out, f)
	}
	return out
}

// synthSegments builds the target of an HL7 outbound mapping: one object
// per segment (a list with each:), whose fields are HL7 locations in it.
func (c *compiler) synthSegments(n *yaml.Node) []schemas.Field {
	var out []schemas.Field
	for i, kv := range c.pairs(n, "segments") {
		k, v := kv[0], kv[1]
		at := "segments." + k.Value
		switch {
		case !segmentID.MatchString(k.Value):
			c.add(k, at, fmt.Sprintf("%q is not a segment ID", k.Value), "write the 3-character segment ID, such as PID or ZEC")
		case i == 0 && k.Value != "MSH":
			c.add(k, at, "the first segment must be MSH", "put MSH: first")
		case i > 0 && k.Value == "MSH":
			c.add(k, at, "MSH must be the first segment", "move MSH: to the top of segments:")
		}
		f := schemas.Field{Name: k.Value, Type: schemas.Type{Kind: schemas.KindObject}}
		var fn *yaml.Node
		for j := 0; j+1 < len(v.Content); j += 2 {
			switch v.Content[j].Value {
			case "each":
				f.Type.Kind = schemas.KindArray
			case "fields":
				fn = v.Content[j+1]
			}
		}
		if fn != nil {
			f.Fields = c.synthFields(fn, at+".fields", k.Value)
		}
		if k.Value == "MSH" && fn != nil {
			for _, need := range []string{"MSH-7", "MSH-10"} {
				if !slices.ContainsFunc(f.Fields, func(x schemas.Field) bool { return x.Name == need || strings.HasPrefix(x.Name, need+".") }) {
					c.add(fn, at+".fields."+need, fmt.Sprintf("%s is not mapped", need), map[string]string{
						"MSH-7":  "map the message time, e.g. MSH-7: {from: $.completedAt, expr: hl7ts(value)}",
						"MSH-10": "map the message control ID, e.g. MSH-10: $.id",
					}[need])
				}
			}
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		c.add(n, "segments", "no segments", "list MSH first, then the message's segments")
	}
	return out
}

// checkHL7Target checks the key of an HL7 field entry: a location in the
// segment, without occurrence or repetition selectors.
func (c *compiler) checkHL7Target(k *yaml.Node, at, seg string) {
	loc, err := hl7.ParseLocation(k.Value)
	switch {
	case err != nil:
		c.add(k, at, err.Error(), "")
	case loc.Segment != seg:
		c.add(k, at, fmt.Sprintf("%s is not a field of segment %s", k.Value, seg), "start the key with "+seg+"-")
	case loc.Occurrence > 0 || loc.SelectField > 0 || loc.SelectComponent > 0 || loc.Repetition == hl7.AllRepetitions:
		c.add(k, at, fmt.Sprintf("%s selects among existing values; a target names one place", k.Value), "write it like PID-3(2).1 (field, repetition, component, subcomponent)")
	case seg == "MSH" && loc.Field <= 2:
		c.add(k, at, "MSH-1 and MSH-2 are the delimiters, written by medgate", "remove it")
	}
}

// Outbound reports whether m maps what medgate publishes (a reply or an
// event) rather than a platform message.
func (m *Mapping) Outbound() bool { return m.Kind != "" }

// Render maps one reply or event (medgate's JSON, doc) into the platform's
// format: JSON for json mappings, an HL7 v2 message (segments ending in CR,
// UTF-8) for hl7v2 ones. tables are the site's code tables, as for
// [Mapping.Apply]. When anything is wrong Render returns every problem,
// each naming the mapping and the target field; the output must then not
// be sent. Render is safe for concurrent use.
func (m *Mapping) Render(doc []byte, tables Tables) ([]byte, []Problem) {
	r := &run{m: m, tables: tables}
	if !r.parse(doc) {
		return nil, r.problems
	}
	out := r.build()
	if len(r.problems) > 0 {
		slices.SortStableFunc(r.problems, func(a, b Problem) int { return comparePath(a.Field, b.Field) })
		if m.Output == FormatHL7v2 {
			for i := range r.problems {
				r.problems[i].Field = hl7Target(r.problems[i].Field)
			}
		}
		return nil, r.problems
	}
	if m.Output == FormatHL7v2 {
		return m.encodeHL7(out), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, []Problem{{Field: "$", Rule: RuleType, Mapping: m.Name,
			Message: fmt.Sprintf("the output of mapping %s cannot be encoded as JSON: %v; fix the mapping", m.Name, err)}}
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// hl7Target writes the target path of a problem of an hl7v2 mapping as
// the HL7 location it names: $.PID["PID-3.1"] → PID-3.1, $.ERR[1]["ERR-8"]
// → ERR[2]-8 (the second ERR segment); the segment ("$.ZEC") stays as
// its ID.
func hl7Target(path string) string {
	rest, ok := strings.CutPrefix(path, "$.")
	if !ok || len(rest) < 3 {
		return path
	}
	seg, rest := rest[:3], rest[3:]
	occ := ""
	if len(rest) > 1 && rest[0] == '[' && rest[1] >= '0' && rest[1] <= '9' {
		end := strings.IndexByte(rest, ']')
		n, err := strconv.Atoi(rest[1:max(end, 1)])
		if end < 0 || err != nil {
			return path
		}
		occ, rest = "["+strconv.Itoa(n+1)+"]", rest[end+1:]
	}
	var key string
	switch {
	case rest == "":
		return seg + occ
	case strings.HasPrefix(rest, "."):
		key = rest[1:]
	case strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]"):
		k, err := strconv.Unquote(rest[1 : len(rest)-1])
		if err != nil {
			return path
		}
		key = k
	default:
		return path
	}
	if !strings.HasPrefix(key, seg+"-") {
		return path
	}
	return seg + occ + key[3:]
}

// FindOutbound returns the outbound mapping for a site, output format,
// kind and type: <site>/out/<format>/<kind>.<type>, else
// <site>/out/<format>/<kind> (every type), else the same under the
// DefaultSite directory.
func (s *Set) FindOutbound(site, format, kind, typ string) (*Mapping, bool) {
	for _, dir := range []string{site, DefaultSite} {
		pre := dir + "/" + OutDir + "/" + format + "/" + kind
		if m, ok := s.out[pre+"."+typ]; ok && typ != "" {
			return m, true
		}
		if m, ok := s.out[pre]; ok {
			return m, true
		}
	}
	return nil, false
}

// OutboundList returns every outbound mapping, sorted by name.
func (s *Set) OutboundList() []*Mapping {
	out := make([]*Mapping, 0, len(s.out))
	for _, m := range s.out {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *Mapping) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// hl7Field is one field of a segment being written: repetitions of
// components of subcomponents, each escaped.
type hl7Field [][][]string

func (f *hl7Field) set(rep, comp, sub int, v string) {
	rep, comp, sub = max(rep, 1), max(comp, 1), max(sub, 1)
	for len(*f) < rep {
		*f = append(*f, nil)
	}
	r := &(*f)[rep-1]
	for len(*r) < comp {
		*r = append(*r, nil)
	}
	c := &(*r)[comp-1]
	for len(*c) < sub {
		*c = append(*c, "")
	}
	(*c)[sub-1] = v
}

func (f hl7Field) encode(b *strings.Builder, d hl7.Delimiters) {
	for i, rep := range f {
		if i > 0 {
			b.WriteByte(d.Repetition)
		}
		for j, comp := range rep {
			if j > 0 {
				b.WriteByte(d.Component)
			}
			for k, sub := range comp {
				if k > 0 {
					b.WriteByte(d.Subcomponent)
				}
				b.WriteString(hl7.Escape(sub, d))
			}
		}
	}
}

// encodeHL7 writes the segments built by an hl7v2 outbound mapping, in the
// mapping's order, as one message.
func (m *Mapping) encodeHL7(out map[string]any) []byte {
	d := hl7.DefaultDelimiters
	var b strings.Builder
	for _, ru := range m.fields {
		var items []map[string]any
		switch v := out[ru.name].(type) {
		case map[string]any:
			items = []map[string]any{v}
		case []any:
			for _, it := range v {
				if o, ok := it.(map[string]any); ok {
					items = append(items, o)
				}
			}
		}
		for _, item := range items {
			var fields []hl7Field
			put := func(l hl7.Location, v string) {
				for len(fields) < l.Field {
					fields = append(fields, nil)
				}
				fields[l.Field-1].set(l.Repetition, l.Component, l.Subcomponent, v)
			}
			if ru.name == "MSH" {
				for i, part := range strings.Split(m.MessageType, "^") {
					put(hl7.Location{Field: 9, Component: i + 1}, part)
				}
				put(hl7.Location{Field: 12}, m.Version)
			}
			for _, fr := range ru.fields {
				v, ok := item[fr.name].(string)
				if !ok {
					continue
				}
				l, _ := hl7.ParseLocation(fr.name)
				put(l, v)
			}
			b.WriteString(ru.name)
			start := 0
			if ru.name == "MSH" {
				b.WriteByte(d.Field)
				b.WriteByte(d.Component)
				b.WriteByte(d.Repetition)
				b.WriteByte(d.Escape)
				b.WriteByte(d.Subcomponent)
				start = 2
			}
			for i := start; i < len(fields); i++ {
				b.WriteByte(d.Field)
				fields[i].encode(&b, d)
			}
			b.WriteByte('\r')
		}
	}
	return []byte(b.String())
}
