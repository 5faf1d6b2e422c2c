package console

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/access"
)

// cellLinkRE finds a work-list cell's link (href, text).
var cellLinkRE = regexp.MustCompile(`<td><a href="([^"]*)">([^<]*)</a></td>`)

// TestWorkListCellLinksOnlyWhereAllowed: a work-list cell that opens a
// plugin's page (a column's form, such as the e-card card number opening
// the print form, or a document's item field) is a link only for a role
// whose route lets it open that page; any other role sees the value as
// plain text, and each link shown opens (no 403).
func TestWorkListCellLinksOnlyWhereAllowed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, testToken)
	cells := []struct {
		list, value, href string
	}{
		{"plugin=ecard&list=recent-cards", "880100000000013", "/console/form/ecard/print?"},
		{"plugin=tracecode&list=draft-receipts", "SUP-001", "/console/document/tracecode/draft?"},
	}
	for _, role := range access.Roles {
		t.Run(role.String(), func(t *testing.T) {
			name := "cells-" + role.String()
			c := f.client()
			c.signIn(name, f.addUser(name, role))
			for _, cell := range cells {
				r := c.get("/console/worklists?" + cell.list)
				if r.code != http.StatusOK || !strings.Contains(r.body, "<td>"+cell.value+"</td>") && !strings.Contains(r.body, ">"+cell.value+"</a>") {
					t.Fatalf("work list %s as %s: %d, value %s not shown\n%s", cell.list, role, r.code, cell.value, r.body)
				}
				var links []string
				for _, m := range cellLinkRE.FindAllStringSubmatch(r.body, -1) {
					if m[2] == cell.value {
						links = append(links, html.UnescapeString(m[1]))
					}
				}
				want := role.Allows(access.Operator) // both pages' routes need an operator (routeTable)
				if got := len(links) > 0; got != want {
					t.Errorf("%s: cell %s of %s is a link %v (%q), want %v", role, cell.value, cell.list, got, links, want)
				}
				if !want && !strings.Contains(r.body, "<td>"+cell.value+"</td>") {
					t.Errorf("%s: cell %s of %s is not shown as plain text", role, cell.value, cell.list)
				}
				for _, l := range links {
					if !strings.HasPrefix(l, cell.href) {
						t.Errorf("%s: cell %s links %s, want %s…", role, cell.value, l, cell.href)
					}
					if got := c.get(l); got.code == http.StatusForbidden {
						t.Errorf("%s: the link %s of cell %s answers 403", role, l, cell.value)
					}
				}
			}
		})
	}
}
