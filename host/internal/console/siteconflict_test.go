package console

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/medgate/medgate/host/internal/access"
	"github.com/medgate/medgate/host/internal/audit"
	"github.com/medgate/medgate/host/internal/siteadmin"
	"github.com/medgate/medgate/host/internal/store"
)

// formValues returns what a browser submits from the form of page whose
// action is action: its inputs (hidden and text with their values, a
// checkbox when checked) and selects (the selected option, else the
// first), with the changes applied as if typed.
func formValues(t testing.TB, page, action string, changes map[string]string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, k string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == k {
				return a.Val, true
			}
		}
		return "", false
	}
	var form *html.Node
	for n := range doc.Descendants() {
		if a, _ := attr(n, "action"); n.Type == html.ElementNode && n.Data == "form" && a == action {
			form = n
			break
		}
	}
	if form == nil {
		t.Fatalf("no form with action %s in the page:\n%s", action, page)
	}
	out := url.Values{}
	for n := range form.Descendants() {
		name, ok := attr(n, "name")
		if n.Type != html.ElementNode || !ok {
			continue
		}
		switch n.Data {
		case "input":
			v, _ := attr(n, "value")
			if typ, _ := attr(n, "type"); typ == "checkbox" {
				if _, checked := attr(n, "checked"); !checked {
					continue
				}
				if v == "" {
					v = "on"
				}
			}
			out.Add(name, v)
		case "select":
			var first, sel *string
			for o := range n.Descendants() {
				if o.Type != html.ElementNode || o.Data != "option" {
					continue
				}
				v, _ := attr(o, "value")
				if first == nil {
					first = &v
				}
				if _, ok := attr(o, "selected"); ok {
					sel = &v
				}
			}
			if sel == nil {
				sel = first
			}
			if sel != nil {
				out.Add(name, *sel)
			}
		}
	}
	for k, v := range changes {
		if v == "\x00" {
			out.Del(k) // a checkbox unticked
			continue
		}
		out.Set(k, v)
	}
	return out
}

// TestSiteFormTwoAdmins: two admins open the same plugin's settings form
// (or the sites page) and save one after the other. The second save keeps
// what the first one saved (a setting, disabling the plugin) unless both
// changed the same setting: then it is refused with 409, audited refused
// naming the setting, the first admin's value stays in the file, and the
// form comes back with the value in force, from which the second admin
// re-applies.
func TestSiteFormTwoAdmins(t *testing.T) {
	t.Parallel()
	sites, path := newSiteAdmin(t)
	f := newFixture(t, testToken, func(o *Options) { o.Sites = sites })
	a, b := f.client(), f.client()
	a.signIn("li.admin", f.addUser("li.admin", access.Admin))
	b.signIn("wang.admin", f.addUser("wang.admin", access.Admin))
	const formPath = "/console/admin/sites/s1/ecard"
	settings := func() map[string]string {
		sp, err := sites.SitePlugin("s1", "ecard")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{"enabled": map[bool]string{true: "yes", false: "no"}[sp.Enabled]}
		for _, st := range sp.Settings {
			out[st.Name] = st.Value
		}
		return out
	}

	// Both open the form; A changes the url.
	pageA, pageB := a.get(formPath).body, b.get(formPath).body
	if r := a.post(formPath, formValues(t, pageA, formPath, map[string]string{"s.url": "https://a.example/"})); r.code != http.StatusSeeOther {
		t.Fatalf("A's save: %d\n%s", r.code, r.body)
	}
	// B, from the form opened before, changes the mode only: A's url stays.
	if r := b.post(formPath, formValues(t, pageB, formPath, map[string]string{"s.mode": "live"})); r.code != http.StatusSeeOther {
		t.Fatalf("B's save of another setting: %d\n%s", r.code, r.body)
	}
	if got := settings(); got["url"] != "https://a.example/" || got["mode"] != "live" {
		t.Fatalf("after both saves: %v; want A's url and B's mode", got)
	}

	// B, still from the old form, changes the url too: refused, A's stays.
	before, _ := os.ReadFile(path)
	r := b.post(formPath, formValues(t, pageB, formPath, map[string]string{"s.url": "https://b.example/"}))
	if r.code != http.StatusConflict {
		t.Fatalf("both changed url: %d; want 409\n%s", r.code, r.body)
	}
	for _, want := range []string{"another admin changed the same settings", "<code>url</code>", "https://b.example/", `name="s.url" value="https://a.example/"`, `name="b.url" value="https://a.example/"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the conflict page lacks %q:\n%s", want, r.body)
		}
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatalf("the refused change reached the file:\n%s", after)
	}
	got, err := f.st.ListAudit(t.Context(), store.AuditFilter{Action: "site.plugin.update", Limit: 1})
	if err != nil || len(got) != 1 || got[0].Outcome != audit.Refused || got[0].Actor != "wang.admin" || !strings.Contains(got[0].Detail, "another admin") || !strings.Contains(got[0].Detail, "url") {
		t.Fatalf("audit of the refused change: %+v %v; want refused by wang.admin naming url", got, err)
	}

	// B re-applies from the conflict page: based on the values in force.
	if r := b.post(formPath, formValues(t, r.body, formPath, map[string]string{"s.url": "https://b.example/"})); r.code != http.StatusSeeOther {
		t.Fatalf("B's save from the conflict page: %d\n%s", r.code, r.body)
	}
	if got := settings(); got["url"] != "https://b.example/" || got["mode"] != "live" {
		t.Fatalf("after B re-applied: %v", got)
	}

	// A opens the form; B disables the plugin with the sites page's
	// button; A's save of a setting from the form (enabled ticked, as
	// opened) does not enable it again.
	pageA = a.get(formPath).body
	sitesB := b.get("/console/admin/sites").body
	if r := b.post(formPath+"/enabled", formValues(t, sitesB, formPath+"/enabled", nil)); r.code != http.StatusSeeOther {
		t.Fatalf("B disables: %d\n%s", r.code, r.body)
	}
	if r := a.post(formPath, formValues(t, pageA, formPath, map[string]string{"s.retries": "3"})); r.code != http.StatusSeeOther {
		t.Fatalf("A's save: %d\n%s", r.code, r.body)
	}
	if got := settings(); got["enabled"] != "no" || got["retries"] != "3" || got["url"] != "https://b.example/" {
		t.Fatalf("after B disabled and A saved a setting: %v; want disabled, retries 3, B's url", got)
	}
}

// TestSiteFormHidesWrittenSecret: a secret written as such in the file
// (by hand, for a plugin disabled at the site, where the reload does not
// check it) is never in the settings form, not even in its hidden base;
// left empty, the form keeps it (and the save is refused until it is a
// reference); replaced by a reference, it is saved.
func TestSiteFormHidesWrittenSecret(t *testing.T) {
	t.Parallel()
	cfg, path := loadSitesConfig(t)
	const secret = "plain-literal-secret-42"
	data, _ := os.ReadFile(path)
	data = []byte(strings.Replace(string(data), "      ecard:\n        settings:\n", "      ecard:\n        enabled: false\n        settings:\n          token: "+secret+"\n", 1))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	host := &siteHost{cfg: cfg}
	if err := host.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	sites := siteadmin.New(host)
	f := newFixture(t, testToken, func(o *Options) { o.Sites = sites })
	c := f.client()
	c.signIn("li.admin", f.addUser("li.admin", access.Admin))
	const formPath = "/console/admin/sites/s1/ecard"

	page := c.get(formPath).body
	if strings.Contains(page, secret) {
		t.Fatalf("the form shows the secret written in the file:\n%s", page)
	}
	r := c.post(formPath, formValues(t, page, formPath, map[string]string{"s.retries": "2"}))
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, "secrets are never written") || strings.Contains(r.body, secret) {
		t.Fatalf("a save leaving the written secret: %d; want 422 asking for a reference, without the secret\n%s", r.code, r.body)
	}
	if r := c.post(formPath, formValues(t, page, formPath, map[string]string{"s.token": "env:ECARD_TOKEN"})); r.code != http.StatusSeeOther {
		t.Fatalf("replacing the secret by a reference: %d\n%s", r.code, r.body)
	}
	if after, _ := os.ReadFile(path); strings.Contains(string(after), secret) || !strings.Contains(string(after), "token: env:ECARD_TOKEN") {
		t.Fatalf("the file after replacing the secret:\n%s", after)
	}
}
