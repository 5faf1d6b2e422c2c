// Package siteadmin changes which plugins a site enables and their
// settings, for the console's admin pages and the admin API, and writes
// the change back to the configuration file.
//
// A change is checked exactly as the file is (config.Parse, then each
// plugin's declared settings, every problem listed at once) before the
// file is touched. Then the file is edited as a YAML node tree, so its
// comments and key order stay, and only the lines of the plugin's entry
// at the site are rewritten: every other line stays byte for byte (when
// the site does not list the plugin yet, or the entry's layout is
// unusual, the whole file is re-encoded, comments kept but realigned);
// the previous file is kept as <file>.bak;
// the new one is written to a temporary file and renamed over the old
// (atomic); and the configuration is reloaded. When the reload fails, the
// previous file is put back and reloaded, and the change is refused with
// the reload's problems.
//
// Two admins may have the same form open. A change that says what its
// admin saw (Change.Base, Change.BaseEnabled) is merged with the file as
// it is when saved: only what this admin changed is written, and a
// setting the other admin changed to something else in the meantime is
// refused (ErrConflict), never silently overwritten.
package siteadmin

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
)

// Change is what an admin changes of one plugin at one site.
type Change struct {
	// Enabled, when set, enables or disables the plugin at the site (a
	// plugin not yet listed under the site is added).
	Enabled *bool
	// Settings, when not nil, replaces the site's settings of the plugin:
	// names with an empty value are removed (their default applies).
	// Order lists the names in the order new keys are added (the plugin's
	// declaration order).
	Settings map[string]string
	Order    []string
	// Base, when not nil, holds the settings as the admin saw them when
	// the form was opened. Update then merges: a setting the admin left
	// as seen keeps its value in the file (another admin may have
	// changed it since); a setting changed both here and in the file
	// since is refused with ErrConflict.
	Base map[string]string
	// BaseEnabled, when set, is whether the plugin was enabled when the
	// admin opened the form: an Enabled equal to it changes nothing.
	BaseEnabled *bool
}

// Edit returns the configuration data with the change applied to the
// plugin at the site, comments and the order of existing keys kept, and
// the lines outside the plugin's entry unchanged.
func Edit(data []byte, site, plugin string, ch Change) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("the configuration is not valid YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the configuration is not a YAML mapping")
	}
	sites := get(doc.Content[0], "sites")
	if sites == nil || sites.Kind != yaml.SequenceNode {
		return nil, errors.New("the configuration has no sites: list")
	}
	var siteNode *yaml.Node
	for _, s := range sites.Content {
		if c := get(s, "code"); s.Kind == yaml.MappingNode && c != nil && c.Value == site {
			siteNode = s
		}
	}
	if siteNode == nil {
		return nil, fmt.Errorf("the configuration has no site %q", site)
	}
	plugins := ensure(siteNode, "plugins", yaml.MappingNode)
	if plugins.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("sites[%s].plugins is not a mapping", site)
	}
	pk := key(plugins, plugin) // nil when the site does not list the plugin yet
	pn := get(plugins, plugin)
	if pn == nil || (pn.Kind == yaml.ScalarNode && (pn.Tag == "!!null" || pn.Value == "")) {
		if pn == nil {
			plugins.Content = append(plugins.Content, scalar(plugin), &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"})
		} else {
			*pn = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", HeadComment: pn.HeadComment, LineComment: pn.LineComment}
		}
		pn = get(plugins, plugin)
	}
	if pn.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("sites[%s].plugins.%s is not a mapping", site, plugin)
	}
	if ch.Enabled != nil {
		v := "false"
		if *ch.Enabled {
			v = "true"
		}
		en := ensure(pn, "enabled", yaml.ScalarNode)
		en.Kind, en.Tag, en.Value, en.Style = yaml.ScalarNode, "!!bool", v, 0
	}
	if ch.Settings != nil {
		setSettings(pn, ch.Settings, ch.Order)
	}
	full, err := encode(&doc, indentOf(data))
	if err != nil {
		return nil, fmt.Errorf("write the configuration: %w", err)
	}
	if pk != nil {
		if out, ok := splice(data, full, pk, pn); ok {
			return out, nil
		}
	}
	return full, nil
}

func encode(n *yaml.Node, indent int) ([]byte, error) {
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(indent)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// splice returns data with only the lines of the plugin's entry (its key
// pk, value pn, both edited) replaced by the entry re-encoded, so every
// other line stays byte for byte: re-encoding the whole file realigns
// comments, requotes lists and moves a comment that follows the entry
// into it. It is used only when the result holds the same data and the
// same comments as full, the whole file re-encoded; ok is false
// otherwise (a flow-style entry, an unusual layout).
func splice(data, full []byte, pk, pn *yaml.Node) (out []byte, ok bool) {
	lines := strings.SplitAfter(string(data), "\n")
	start, indent := pk.Line-1, pk.Column-1
	if start < 0 || start >= len(lines) || indent < 0 || len(lines[start]) <= indent ||
		strings.TrimLeft(lines[start][:indent], " ") != "" || !strings.HasPrefix(lines[start][indent:], pk.Value) {
		return nil, false
	}
	// The entry runs to the first line as little indented as its key;
	// blank lines at its end stay outside.
	end := start + 1
	for end < len(lines) && (strings.TrimSpace(lines[end]) == "" || leading(lines[end]) > indent) {
		end++
	}
	for end > start+1 && strings.TrimSpace(lines[end-1]) == "" {
		end--
	}
	// Comments the parser attached to the entry that are written outside
	// it (before it, or after it at a lesser indentation) stay where they
	// are in the text; keep only those written inside.
	inside := map[string]bool{}
	for _, l := range lines[start:end] {
		if _, c, found := strings.Cut(l, "#"); found {
			inside["#"+strings.TrimSpace(c)] = true
		}
	}
	k := *pk
	k.HeadComment = ""
	v := *pn
	keepInside(&k, inside)
	v = *deepKeep(&v, inside)
	entry, err := encode(&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{&k, &v}}, indentOf(data))
	if err != nil {
		return nil, false
	}
	var b strings.Builder
	b.WriteString(strings.Join(lines[:start], ""))
	pad := lines[start][:indent]
	for l := range strings.SplitAfterSeq(string(entry), "\n") {
		if l != "" {
			b.WriteString(pad + l)
		}
	}
	if end < len(lines) && !strings.HasSuffix(b.String(), "\n") {
		b.WriteString("\n")
	}
	b.WriteString(strings.Join(lines[end:], ""))
	out = []byte(b.String())
	if !sameData(out, full) || !sameComments(out, full) {
		return nil, false
	}
	return out, true
}

// leading is the number of spaces a line starts with.
func leading(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

// keepInside drops the comments of n whose lines are not all in inside.
func keepInside(n *yaml.Node, inside map[string]bool) {
	for _, c := range []*string{&n.HeadComment, &n.LineComment, &n.FootComment} {
		for l := range strings.SplitSeq(*c, "\n") {
			if l = strings.TrimSpace(l); l != "" && !inside["#"+strings.TrimSpace(strings.TrimPrefix(l, "#"))] {
				*c = ""
				break
			}
		}
	}
}

// deepKeep returns a copy of n (and of its descendants) with keepInside
// applied to each; n itself is not changed.
func deepKeep(n *yaml.Node, inside map[string]bool) *yaml.Node {
	c := *n
	keepInside(&c, inside)
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = deepKeep(ch, inside)
	}
	return &c
}

// sameData reports whether a and b hold the same YAML data.
func sameData(a, b []byte) bool {
	var x, y any
	if yaml.Unmarshal(a, &x) != nil || yaml.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// sameComments reports whether a and b hold the same comments, each as
// many times, wherever they are.
func sameComments(a, b []byte) bool {
	count := func(d []byte) map[string]int {
		m := map[string]int{}
		for l := range strings.SplitSeq(string(d), "\n") {
			if _, c, found := strings.Cut(l, "#"); found {
				m[strings.TrimSpace(c)]++
			}
		}
		return m
	}
	return maps.Equal(count(a), count(b))
}

// setSettings makes the settings mapping of pn hold exactly want.
func setSettings(pn *yaml.Node, want map[string]string, order []string) {
	has := false
	for _, v := range want {
		if v != "" {
			has = true
		}
	}
	if !has {
		remove(pn, "settings")
		return
	}
	sn := ensure(pn, "settings", yaml.MappingNode)
	if sn.Kind != yaml.MappingNode {
		*sn = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	sn.Style = 0 // block style, one setting a line
	kept := sn.Content[:0]
	done := map[string]bool{}
	for i := 0; i+1 < len(sn.Content); i += 2 {
		k, v := sn.Content[i], sn.Content[i+1]
		nv, ok := want[k.Value]
		if !ok || nv == "" {
			continue
		}
		setString(v, nv)
		kept = append(kept, k, v)
		done[k.Value] = true
	}
	sn.Content = kept
	names := slices.Clone(order)
	for n := range want {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.SortStableFunc(names[len(order):], func(a, b string) int { return cmpString(a, b) })
	for _, n := range names {
		if v := want[n]; v != "" && !done[n] {
			v2 := &yaml.Node{}
			setString(v2, v)
			sn.Content = append(sn.Content, scalar(n), v2)
			done[n] = true
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// setString makes n the string v; the encoder quotes it when it would
// otherwise read as another type ("350200", "true").
func setString(n *yaml.Node, v string) {
	n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!str", v
	if n.Style != yaml.DoubleQuotedStyle && n.Style != yaml.SingleQuotedStyle {
		n.Style = 0
	}
}

func scalar(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
}

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// key returns the key node of key in mapping m, or nil.
func key(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// ensure returns the value of key in m, adding it (of kind) when missing.
func ensure(m *yaml.Node, key string, kind yaml.Kind) *yaml.Node {
	if v := get(m, key); v != nil {
		if kind == yaml.MappingNode && v.Kind == yaml.ScalarNode && (v.Tag == "!!null" || v.Value == "") {
			*v = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", HeadComment: v.HeadComment, LineComment: v.LineComment}
		}
		return v
	}
	v := &yaml.Node{Kind: kind}
	if kind == yaml.MappingNode {
		v.Tag = "!!map"
	}
	m.Content = append(m.Content, scalar(key), v)
	return v
}

// remove deletes key from mapping m.
func remove(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// indentOf guesses the file's indentation: the first indented line's
// leading spaces (2 when none).
func indentOf(data []byte) int {
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		t := bytes.TrimLeft(line, " ")
		if n := len(line) - len(t); n > 0 && len(t) > 0 && t[0] != '#' && t[0] != '-' {
			if n >= 2 && n <= 8 {
				return n
			}
			break
		}
	}
	return 2
}

// WriteFile replaces the file at path with data: the previous content
// (old) goes to path+".bak" first, then data is written to a temporary
// file in the same directory, synced and renamed over path, keeping the
// file's mode. A reader never sees a half-written file. When path is a
// symbolic link, the file it points to is replaced (its .bak beside it)
// and the link stays.
func WriteFile(path string, old, data []byte) error {
	path = resolve(path)
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := atomicWrite(path+".bak", old, mode); err != nil {
		return writeError("keep the previous configuration as "+path+".bak", path, err)
	}
	if err := atomicWrite(path, data, mode); err != nil {
		return writeError("write the configuration "+path, path, err)
	}
	return nil
}

// writeError is a failed write of the configuration at path (what was
// being done, and err), saying that the file is unchanged and how to fix
// the usual causes.
func writeError(what, path string, err error) error {
	dir := filepath.Dir(path)
	switch {
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%s: %w; the configuration is unchanged: medgate may not write in %s (the systemd unit's ProtectSystem=strict and a Kubernetes ConfigMap keep it read-only); "+
			"edit %s there and run `medgate reload`, or let medgate write the directory (systemd: ReadWritePaths=%s)", what, err, dir, path, dir)
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%s: %w; the configuration is unchanged: free space on the disk that holds %s, then save again", what, err, dir)
	}
	return fmt.Errorf("%s: %w; the configuration is unchanged", what, err)
}

// resolve returns the file a symbolic link at path points to, or path.
func resolve(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		return p
	}
	return path
}

// atomicWrite replaces the file at path (the file a link there points to)
// with data: a synced temporary file renamed over it, then the directory
// synced.
func atomicWrite(path string, data []byte, mode os.FileMode) error {
	path = resolve(path)
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing left to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
