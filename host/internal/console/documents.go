package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/plugins/sdk"
)

// This file renders the documents plugins declare (sdk.DocumentView): a
// document with lines an operator reviews, adjusts one change at a time
// and confirms. The host knows no plugin or document by name here.

func documentPath(plugin, view string) string {
	return Prefix + "document/" + url.PathEscape(plugin) + "/" + url.PathEscape(view)
}

func documentURL(plugin, view, site, id string) string {
	return documentPath(plugin, view) + "?" + url.Values{"site": {site}, "id": {id}}.Encode()
}

// documentNav lists the documents' work lists of the plugins enabled at
// some site u sees.
func (c *Console) documentNav(u access.User) []navItem {
	var out []navItem
	for _, p := range c.b.Plugins() {
		if len(scopedSites(u, p.Sites)) == 0 {
			continue
		}
		for _, v := range p.Views.Documents {
			out = append(out, navItem{Href: listPath(p.Name, v.List), Title: v.Title, Key: "document/" + p.Name + "/" + v.Name})
		}
	}
	return out
}

// documentLink links a work-list cell holding a document's id to the
// document's page, when the plugin declares one for the list.
func documentLink(p *Plugin, b *listBlock, key string, v json.RawMessage) string {
	var id string
	if p == nil || json.Unmarshal(v, &id) != nil || id == "" {
		return ""
	}
	for _, d := range p.Views.Documents {
		if d.List == b.List.Name && d.ItemField == key {
			return documentURL(p.Name, d.Name, b.Site, id)
		}
	}
	return ""
}

// lookupDocument returns the plugin and document view of a request's path.
func (c *Console) lookupDocument(w http.ResponseWriter, r *http.Request) (*Plugin, *sdk.DocumentView, bool) {
	name, view := r.PathValue("plugin"), r.PathValue("view")
	if p := c.pluginByName(name); p != nil {
		for i := range p.Views.Documents {
			if p.Views.Documents[i].Name == view {
				return p, &p.Views.Documents[i], true
			}
		}
	}
	c.fail(w, r, http.StatusNotFound, "页面不存在 (no such document page)", fmt.Sprintf("没有运行中的插件 %[1]q 声明单据页 %[2]q。No running plugin %[1]q declares a document page %[2]q.", name, view), "请从工作列表打开单据。Open the document from its work list.")
	return nil, nil, false
}

// documentData is the document page's data.
type documentData struct {
	Plugin  string
	View    sdk.DocumentView
	Site    string
	ID      string
	Problem *flash
	Doc     *documentShown
}

// documentShown is a document as its view declares it.
type documentShown struct {
	Status   string
	Editable bool
	Version  string
	Header   []resultField
	Lines    []documentLine
	History  *resultTable
	// Edits are the forms for the whole document.
	Edits []editForm
}

// documentLine is one line with its edit forms.
type documentLine struct {
	// Key is the JSON of the line's key, sent back with its changes.
	Key    string
	Title  string
	Fields []resultField
	Items  []string
	Edits  []editForm
}

// editForm is one edit offered on a line or the document: the values of
// its fields and of the view's shared fields (the reason).
type editForm struct {
	Edit           sdk.Edit
	Values, Shared map[string]string
}

// keptForm is what was typed in a document's change form that was
// refused (by the console's checks or the plugin): the document page
// shows it again in that form, once, so the user corrects it.
type keptForm struct {
	// Doc is the document's page (documentURL); Edit the change; Line
	// the line's key as the form posts it ("" for a change of the
	// document).
	Doc, Edit, Line string
	Values          map[string]string
}

// keep reads what r's change form e posted, but files.
func keep(r *http.Request, doc string, e *sdk.Edit, shared []sdk.Argument) *keptForm {
	k := &keptForm{Doc: doc, Edit: e.Name, Line: r.PostFormValue("line"), Values: map[string]string{}}
	for _, fl := range slices.Concat(e.Fields, shared) {
		switch fl.Type {
		case sdk.ArgumentFile:
		case sdk.ArgumentList:
			k.Values[fl.Name] = strings.Join(r.PostForm[fl.Name], "\n")
		default:
			k.Values[fl.Name] = r.PostFormValue(fl.Name)
		}
	}
	return k
}

// refill shows k's values again in the form of its change (and line).
func (d *documentShown) refill(k *keptForm) {
	set := func(f *editForm) {
		if f.Edit.Name == k.Edit {
			f.Values, f.Shared = k.Values, k.Values
		}
	}
	for i := range d.Lines {
		if k.Line != "" && d.Lines[i].Key == k.Line {
			for j := range d.Lines[i].Edits {
				set(&d.Lines[i].Edits[j])
			}
		}
	}
	if k.Line == "" {
		for i := range d.Edits {
			set(&d.Edits[i])
		}
	}
}

func (c *Console) documentPage(w http.ResponseWriter, r *http.Request) {
	p, v, ok := c.lookupDocument(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	d := documentData{Plugin: p.Name, View: *v, Site: q.Get("site"), ID: q.Get("id")}
	if !c.checkSite(w, r, p.Name, d.Site) {
		return
	}
	nav, title := "document/"+p.Name+"/"+v.Name, v.Title+" "+d.ID
	res := c.send(r.Context(), c.o.Wait, prefixList, p.Name, d.Site, v.Get, d.ID, jsonObject{{v.IDField, d.ID}})
	if !res.ok() {
		d.Problem = res.flash("")
		c.render(w, r, http.StatusOK, "document", title, nav, d)
		return
	}
	doc, err := showDocument(v, res.Reply.Payload, c.o.Location)
	if err != nil {
		d.Problem = &flash{Title: "文档格式不对 (unexpected reply)", MessageID: res.ID, Lines: []string{fmt.Sprintf("%s: %v; check the plugin version", v.Get, err)}}
	}
	if s := sessionFrom(r); s != nil && doc != nil {
		if f := c.sessions.peekFlash(s); f != nil && f.kept != nil && f.kept.Doc == documentURL(p.Name, v.Name, d.Site, d.ID) {
			doc.refill(f.kept)
		}
	}
	d.Doc = doc
	c.render(w, r, http.StatusOK, "document", title, nav, d)
}

// showDocument builds the page of a document reply as v declares it.
func showDocument(v *sdk.DocumentView, payload []byte, loc *time.Location) (*documentShown, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("the reply is not a JSON object: %w", err)
	}
	out := &documentShown{Editable: true, Version: plainText(lookup(obj, v.Version))}
	if v.Status != "" {
		out.Status = valueText(lookup(obj, v.Status), loc)
	}
	if v.Editable != nil {
		out.Editable = plainText(lookup(obj, v.Editable.Field)) == v.Editable.Equals
	}
	for _, h := range v.Header {
		if t := columnText(h, lookup(obj, h.Field), loc); t != "" {
			out.Header = append(out.Header, resultField{Title: h.Title, Value: t})
		}
	}
	lines, ok := lookup(obj, v.Lines).([]any)
	if !ok && lookup(obj, v.Lines) != nil {
		return nil, fmt.Errorf("field %q is not an array of lines", v.Lines)
	}
	for _, l := range lines {
		m, _ := l.(map[string]any)
		key, _ := json.Marshal(m[v.LineKey])
		dl := documentLine{Key: string(key), Title: valueText(m[v.LineKey], loc)}
		if v.LineTitle != "" {
			dl.Title += " · " + valueText(m[v.LineTitle], loc)
		}
		for _, col := range v.LineColumns {
			dl.Fields = append(dl.Fields, resultField{Title: col.Title, Value: columnText(col, m[col.Field], loc)})
		}
		if v.LineItems != nil {
			items, _ := m[v.LineItems.Field].([]any)
			for _, it := range items {
				dl.Items = append(dl.Items, plainText(it))
			}
		}
		if out.Editable {
			for _, e := range v.Edits {
				if !e.PerLine {
					continue
				}
				f := editForm{Edit: e, Values: map[string]string{}}
				if e.Prefill {
					for _, fl := range e.Fields {
						f.Values[fl.Name] = plainText(m[fl.Name])
					}
				}
				dl.Edits = append(dl.Edits, f)
			}
		}
		out.Lines = append(out.Lines, dl)
	}
	if out.Editable {
		for _, e := range v.Edits {
			if !e.PerLine {
				out.Edits = append(out.Edits, editForm{Edit: e, Values: map[string]string{}})
			}
		}
	}
	if h := v.History; h != nil && h.Rows != "" {
		out.History = tableOf(obj, *h, loc)
	}
	return out, nil
}

// columnText shows a value of a declared column, masked, and masked as
// personal data when the column says so (sdk.Column.Personal), whatever
// the plugin sent; a code the column declares (sdk.Column.Codes) as
// "meaning (code)", the code shown masked like any value.
func columnText(col sdk.Column, v any, loc *time.Location) string {
	t := valueText(v, loc)
	if col.Personal && t != "" {
		t = personal(t)
	}
	if len(col.Codes) > 0 {
		t = col.Shown(plainText(v), t)
	}
	return t
}

// fieldInput is one input of an edit form: the declared field, its value
// and whether ticked items may fill it instead.
type fieldInput struct {
	Field  sdk.Argument
	Value  string
	Picked bool
}

// fieldOf is the template function that builds a fieldInput.
func fieldOf(f sdk.Argument, values map[string]string, pick string) fieldInput {
	return fieldInput{Field: f, Value: values[f.Name], Picked: f.Name == pick}
}

// plainText is a scalar JSON value as text, unmasked (a value sent back).
func plainText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// jsonNumber is a JSON number literal.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// documentHead is the start of every payload of a document: its id, the
// operator and the version the page showed.
func documentHead(r *http.Request, v *sdk.DocumentView, id string) jsonObject {
	head := jsonObject{{v.IDField, id}}
	if v.Operator != "" {
		head = append(head, member{v.Operator, sessionFrom(r).operator})
	}
	if ver := strings.TrimSpace(r.PostFormValue("version")); v.VersionField != "" && ver != "" {
		if jsonNumber.MatchString(ver) {
			head = append(head, member{v.VersionField, json.Number(ver)})
		} else {
			head = append(head, member{v.VersionField, ver})
		}
	}
	return head
}

// documentAdjust sends one change of a document, by the signed-in
// operator, against the version the page showed.
func (c *Console) documentAdjust(w http.ResponseWriter, r *http.Request) {
	p, v, ok := c.lookupDocument(w, r)
	if !ok {
		return
	}
	s := sessionFrom(r)
	site, id := r.PostFormValue("site"), r.PostFormValue("id")
	if !c.checkSite(w, r, p.Name, site) {
		return
	}
	back := documentURL(p.Name, v.Name, site, id)
	name := r.PostFormValue("edit")
	var e *sdk.Edit
	for i := range v.Edits {
		if v.Edits[i].Name == name {
			e = &v.Edits[i]
		}
	}
	if e == nil {
		recordUndone(r, audit.Refused, "unknown change, not sent")
		c.sessions.setFlash(s, &flash{Title: "未发送 (not sent)", Lines: []string{fmt.Sprintf("The change %q is not known; use the forms on the document page.", name)}})
		redirect(w, r, back)
		return
	}
	change := jsonObject{{v.Adjust.Kind, e.Name}}
	var problems []string
	if e.PerLine {
		var key any
		dec := json.NewDecoder(strings.NewReader(r.PostFormValue("line")))
		dec.UseNumber()
		if err := dec.Decode(&key); err != nil || key == nil {
			problems = append(problems, "The line is missing; use the forms on the document page.")
		}
		change = append(change, member{v.LineKey, key})
	}
	fields := jsonObject{}
	for _, fl := range e.Fields {
		val, err := formValue(r, fl)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if val != nil {
			fields = append(fields, member{fl.Name, val})
		}
	}
	if e.Into != "" {
		change = append(change, member{e.Into, fields})
	} else {
		change = append(change, fields...)
	}
	payload := documentHead(r, v, id)
	for _, fl := range v.Adjust.Shared {
		val, err := formValue(r, fl)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if val != nil {
			payload = append(payload, member{fl.Name, val})
		}
	}
	if len(problems) > 0 {
		recordUndone(r, audit.Refused, "fields not valid, not sent")
		c.sessions.setFlash(s, &flash{Title: "未发送 (not sent)", Lines: problems, kept: keep(r, back, e, v.Adjust.Shared)})
		redirect(w, r, back)
		return
	}
	payload = append(payload, member{v.Adjust.Changes, []any{change}})
	res := c.send(r.Context(), c.o.Wait, prefixAction, p.Name, site, v.Adjust.Operation, id, payload)
	recordResult(r, res)
	c.o.Logger.Info("console: document adjusted", "operator", s.operator, "plugin", p.Name, "document", v.Name, "site", site, "id", id, "edit", e.Name, "message", res.ID, "ok", res.ok())
	f := res.flash("已保存 (saved): " + e.Label)
	if !f.OK {
		f.kept = keep(r, back, e, v.Adjust.Shared)
	}
	c.sessions.setFlash(s, f)
	redirect(w, r, back)
}

// documentConfirm sends the document's confirmation by the signed-in
// operator and shows the reply's declared fields.
func (c *Console) documentConfirm(w http.ResponseWriter, r *http.Request) {
	p, v, ok := c.lookupDocument(w, r)
	if !ok {
		return
	}
	s := sessionFrom(r)
	site, id := r.PostFormValue("site"), r.PostFormValue("id")
	if !c.checkSite(w, r, p.Name, site) {
		return
	}
	if v.Confirm == nil {
		c.fail(w, r, http.StatusNotFound, "不能确认 (nothing to confirm)", fmt.Sprintf("插件 %[1]s 的单据页 %[2]q 没有声明确认操作。The %[1]s plugin's document page %[2]q declares no confirmation.", p.Name, v.Name), "请从工作列表打开单据。Open the document from its work list.")
		return
	}
	res := c.send(r.Context(), c.o.Wait, prefixAction, p.Name, site, v.Confirm.Operation, id, documentHead(r, v, id))
	recordResult(r, res)
	c.o.Logger.Info("console: document confirmed", "operator", s.operator, "plugin", p.Name, "document", v.Name, "site", site, "id", id, "message", res.ID, "ok", res.ok())
	f := res.flash("已确认 (confirmed)")
	if res.ok() {
		if shown, err := c.showResult(s.id, p.Name, site, v.Confirm.Operation, sdk.Display{Fields: v.Confirm.Result.Fields}, res.Reply.Payload); err == nil {
			for _, fl := range shown.Fields {
				f.Lines = append(f.Lines, fl.Title+": "+fl.Value)
			}
		}
	}
	c.sessions.setFlash(s, f)
	redirect(w, r, documentURL(p.Name, v.Name, site, id))
}

// member is one member of an ordered JSON object.
type member struct {
	Key   string
	Value any
}

// jsonObject is a JSON object whose members keep their order, so a
// payload reads as declared.
type jsonObject []member

// MarshalJSON implements json.Marshaler.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.Key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
