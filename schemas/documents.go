package schemas

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing/fstest"
)

// Documents returns the built-in schema files of the given systems, by
// path (<system>/<code>.yaml, <system>/codes/<name>.yaml): what a plugin
// declares in Describe so the host validates and maps against the schemas
// the plugin itself uses. A system without built-in schemas has none.
func Documents(systems ...string) map[string][]byte {
	out := map[string][]byte{}
	for _, sys := range systems {
		matches, _ := fs.Glob(embedded, sys+"/*.yaml")
		codes, _ := fs.Glob(embedded, sys+"/codes/*.yaml")
		for _, p := range append(matches, codes...) {
			if data, err := fs.ReadFile(embedded, p); err == nil {
				out[p] = data
			}
		}
	}
	return out
}

// DirDocuments returns the schema files of the given systems in an
// overlay directory (laid out like schemas/), by path: what a plugin
// returns from Configure for a site with its own schema directory. dir ""
// has none.
func DirDocuments(dir string, systems ...string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if dir == "" {
		return out, nil
	}
	fsys := os.DirFS(dir)
	for _, sys := range systems {
		matches, _ := fs.Glob(fsys, sys+"/*.yaml")
		codes, _ := fs.Glob(fsys, sys+"/codes/*.yaml")
		for _, p := range append(matches, codes...) {
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, p), err)
			}
			out[p] = data
		}
	}
	return out, nil
}

// FromDocuments loads schema files given by path, as plugins declare them,
// with every problem reported at once like Load. Later maps replace files
// of earlier ones with the same path.
func FromDocuments(docs ...map[string][]byte) (*Set, error) {
	fsys := fstest.MapFS{}
	for _, d := range docs {
		for _, p := range slices.Sorted(maps.Keys(d)) {
			fsys[p] = &fstest.MapFile{Data: d[p], Mode: 0o444}
		}
	}
	return Load(fsys)
}
