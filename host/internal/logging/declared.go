package logging

import (
	"strings"
	"sync"
	"testing/fstest"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/pii"
	"github.com/medgate/medgate/schemas"
)

// keySet holds normalized keys (pii.NormalizeKey) a plugin declares personal. A
// nil keySet holds none.
type keySet map[string]bool

func (s keySet) has(k string) bool { return len(s) > 0 && s[pii.NormalizeKey(k)] }

// declaredOp is what one operation declares personal: the keys of its
// request payload (its schema's input fields marked personal) and of its
// reply payload (its schema's output fields marked personal, and the
// columns its work lists, forms and commands mark Column.Personal).
type declaredOp struct{ request, reply keySet }

// declaredPlugin is what one plugin declares personal, computed once per
// launch or reload (Declare): by message type, and the union of them all
// for the plugin's log lines, which name no operation.
type declaredPlugin struct {
	ops map[string]declaredOp
	all keySet
}

// declared holds each running plugin's *declaredPlugin by plugin name.
// The host knows no plugin by name: the daemon's plugin host declares
// what every plugin it launches says of itself.
var declared sync.Map

// Declare records the fields plugin's declarations mark personal, so that
// MaskRequest, MaskReply and the plugin's log lines (Plugin) mask their
// values like those of a key pii.PersonalKey accepts, whatever the key:
// for each operation, the scalar input fields (any depth) its schema marks
// `personal: true` in its request payload, the output fields so marked and
// every sdk.Column.Personal of the work lists, forms and commands it
// answers in its reply payload; in the plugin's log lines, all of them.
// An operation's schema is the document its Operation.Schema names and
// the document "<plugin>/<operation>.yaml"; siteSchemas are the documents
// each site's Configure returned (a site's overlay), whose personal
// fields are added for every site (masking more is safe). A document that
// does not load is skipped here (the mappings report it at start). Call
// it at every launch and every Configure: it replaces what plugin
// declared before, and masking then costs no schema walk per message.
func Declare(plugin string, desc *sdk.DescribeResponse, siteSchemas map[string]map[string][]byte) {
	d := &declaredPlugin{ops: map[string]declaredOp{}, all: keySet{}}
	if desc == nil {
		declared.Store(plugin, d)
		return
	}
	op := func(typ string) declaredOp {
		o, ok := d.ops[typ]
		if !ok {
			o = declaredOp{request: keySet{}, reply: keySet{}}
			d.ops[typ] = o
		}
		return o
	}
	var sets []*schemas.Set
	if base, err := overlayDocs(schemas.Embedded(), desc.Schemas); err == nil {
		sets = append(sets, base)
		for _, docs := range siteSchemas {
			if s, err := overlayDocs(base, docs); err == nil && s != base {
				sets = append(sets, s)
			}
		}
	}
	for _, o := range desc.Operations {
		dop := op(o.Type)
		var names [][2]string // system, code
		if sys, code, ok := strings.Cut(o.Schema, "/"); ok {
			names = append(names, [2]string{sys, code})
		}
		if p, name, ok := strings.Cut(o.Type, "."); ok {
			names = append(names, [2]string{p, name})
		}
		for _, set := range sets {
			for _, n := range names {
				if sch, ok := set.Get(n[0], n[1]); ok {
					personalFields(sch.Input, dop.request)
					personalFields(sch.Output, dop.reply)
				}
			}
		}
	}
	columns := func(typ string, ds ...sdk.Display) {
		for _, disp := range ds {
			for _, cs := range [][]sdk.Column{disp.Fields, disp.Columns} {
				for _, c := range cs {
					if c.Personal && c.Field != "" {
						op(typ).reply[pii.NormalizeKey(lastSegment(c.Field))] = true
					}
				}
			}
		}
	}
	for _, f := range desc.Forms {
		columns(f.Operation, f.Result)
	}
	for _, c := range desc.Commands {
		if c.Operation != "" {
			columns(c.Operation, c.Result)
		}
	}
	for _, v := range desc.WorkListViews {
		for _, l := range desc.WorkLists {
			if l.Name == v.List {
				columns(l.ListOperation, sdk.Display{Columns: v.Columns})
			}
		}
	}
	for _, o := range d.ops {
		for k := range o.request {
			d.all[k] = true
		}
		for k := range o.reply {
			d.all[k] = true
		}
	}
	declared.Store(plugin, d)
}

// overlayDocs returns base with docs laid over it, by path.
func overlayDocs(base *schemas.Set, docs map[string][]byte) (*schemas.Set, error) {
	if len(docs) == 0 {
		return base, nil
	}
	fsys := fstest.MapFS{}
	for p, data := range docs {
		fsys[p] = &fstest.MapFile{Data: data, Mode: 0o444}
	}
	return base.OverlayFS(fsys)
}

// personalFields adds the names of the fields (any depth) marked
// personal to s.
func personalFields(fields []schemas.Field, s keySet) {
	for i := range fields {
		f := &fields[i]
		if f.Personal {
			s[pii.NormalizeKey(f.Name)] = true
		}
		personalFields(f.Fields, s)
	}
}

// lastSegment is the last part of a dotted column field ("patient.name":
// "name").
func lastSegment(f string) string {
	if i := strings.LastIndexByte(f, '.'); i >= 0 {
		return f[i+1:]
	}
	return f
}

// declaredOf returns what the plugin of message type typ declares of it.
func declaredOf(typ string) (declaredOp, bool) {
	plugin, _, ok := strings.Cut(typ, ".")
	if !ok {
		return declaredOp{}, false
	}
	v, ok := declared.Load(plugin)
	if !ok {
		return declaredOp{}, false
	}
	o, ok := v.(*declaredPlugin).ops[typ]
	return o, ok
}

// declaredLogKeys returns the keys plugin declares personal anywhere, for
// its log lines; nil when it declares none.
func declaredLogKeys(plugin string) keySet {
	v, ok := declared.Load(plugin)
	if !ok {
		return nil
	}
	return v.(*declaredPlugin).all
}

// MaskRequest masks a stored request envelope (JSON) of message type typ
// as MaskJSON does, and also the values under the keys typ's plugin
// declares personal in that operation's request (Declare) inside its
// payload. The envelope's own fields (id, site, type …) follow MaskJSON
// alone. Anything MaskJSON takes (not JSON, nil) it takes alike.
func MaskRequest(typ string, b []byte) []byte {
	o, _ := declaredOf(typ)
	return maskEnvelope(b, o.request)
}

// MaskReply is MaskRequest for a reply envelope: the keys the operation
// declares personal in its reply (its schema's output fields, its
// Column.Personal) are masked inside the reply's payload.
func MaskReply(typ string, b []byte) []byte {
	o, _ := declaredOf(typ)
	return maskEnvelope(b, o.reply)
}

// maskEnvelope masks b as MaskJSON does, with the keys of extra masked
// too inside its top-level "payload".
func maskEnvelope(b []byte, extra keySet) []byte {
	if len(extra) == 0 {
		return MaskJSON(b)
	}
	return rewriteJSON(b, Mask, func(v any) any {
		m, ok := v.(map[string]any)
		if !ok {
			return maskAny("", v, nil)
		}
		for k, e := range m {
			switch {
			case secretKey(k):
				m[k] = maskSecret(k, e)
			case k == "payload":
				m[k] = maskAny(k, e, extra)
			default:
				m[k] = maskAny(k, e, nil)
			}
		}
		return m
	})
}

// MaskReplyPayload masks a reply's payload alone (not its envelope) of
// message type typ as MaskReply masks it inside a reply: MaskJSON, and
// the keys the operation declares personal in its reply.
func MaskReplyPayload(typ string, b []byte) []byte {
	o, _ := declaredOf(typ)
	return rewriteJSON(b, Mask, func(v any) any { return maskAny("", v, o.reply) })
}
