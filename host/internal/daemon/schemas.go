package daemon

import (
	"fmt"
	"maps"
	"slices"
	"testing/fstest"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/schemas"
	"github.com/medgate/medgate/transforms"
)

// mappingSets are the compiled mappings: one set for every site, and one
// per site whose plugins returned schema documents of their own from
// Configure (a site's schema overlay).
type mappingSets struct {
	all   *transforms.Set
	sites map[string]*transforms.Set
}

// forSite returns the mappings that serve site, or nil.
func (m *mappingSets) forSite(site string) *transforms.Set {
	if m == nil {
		return nil
	}
	if s, ok := m.sites[site]; ok {
		return s
	}
	return m.all
}

// compileMappings loads the mappings (the built-in ones and the configured
// directory) and compiles them against the schemas the running plugins
// declare in Describe, over the built-in schemas, so a vendor's operation
// can be mapped like a shipped one; a site whose plugins returned their
// own schema documents from Configure gets its mappings compiled against
// those as well. Plugins must be started and the sites applied first.
func (d *Daemon) compileMappings(cfg *config.Config) (*mappingSets, error) {
	names := slices.Sorted(maps.Keys(d.plugins))
	var declared []map[string][]byte
	for _, name := range names {
		if desc := d.plugins[name].Description(); desc != nil && len(desc.Schemas) > 0 {
			declared = append(declared, desc.Schemas)
		}
	}
	sch, err := overlaySchemas(schemas.Embedded(), declared)
	if err != nil {
		return nil, cfg.Problems("plugins", "the schema documents the plugins declare do not load: %v; update the plugin that declares them", err)
	}
	all, err := loadMappings(cfg, sch)
	if err != nil {
		return nil, err
	}
	out := &mappingSets{all: all, sites: map[string]*transforms.Set{}}
	for i, s := range cfg.Sites {
		var own []map[string][]byte
		for _, name := range slices.Sorted(maps.Keys(s.Plugins)) {
			if in := d.plugins[name]; in != nil && s.Plugins[name].IsEnabled() {
				if docs := in.SiteSchemas(s.Code); len(docs) > 0 {
					own = append(own, docs)
				}
			}
		}
		if len(own) == 0 {
			continue
		}
		siteSch, err := overlaySchemas(sch, own)
		if err != nil {
			return nil, cfg.Problems(fmt.Sprintf("sites[%d].plugins", i), "the site's schema documents (returned by its plugins' Configure) do not load: %v; correct the site's schema directory", err)
		}
		set, err := all.ForSite(s.Code, siteSch)
		if err != nil {
			return nil, cfg.Problems(fmt.Sprintf("sites[%d]", i), "the mappings do not compile against the site's own schemas: %v; correct the mapping or the site's schema directory", err)
		}
		out.sites[s.Code] = set
	}
	return out, nil
}

// overlaySchemas returns base with the documents laid over it, by path;
// a later map replaces an earlier one's document of the same path.
func overlaySchemas(base *schemas.Set, docs []map[string][]byte) (*schemas.Set, error) {
	if len(docs) == 0 {
		return base, nil
	}
	fsys := fstest.MapFS{}
	for _, d := range docs {
		for p, data := range d {
			fsys[p] = &fstest.MapFile{Data: data, Mode: 0o444}
		}
	}
	return base.OverlayFS(fsys)
}
