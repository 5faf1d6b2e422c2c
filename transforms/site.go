package transforms

import (
	"strings"

	"github.com/medgate/medgate/schemas"
)

// ForSite returns a copy of s holding only the mappings that can serve
// site (its own and the DefaultSite ones) and every code table, compiled
// against sch: the schemas of a site whose plugins overlay their own.
// Other sites' mappings are left out, so they are never checked against
// this site's schemas.
func (s *Set) ForSite(site string, sch *schemas.Set) (*Set, error) {
	out := &Set{schemas: sch, files: map[string]fileData{}, tabFiles: s.tabFiles}
	for name, f := range s.files {
		if strings.HasPrefix(name, site+"/") || strings.HasPrefix(name, DefaultSite+"/") {
			out.files[name] = f
		}
	}
	return out.build(&loader{})
}
