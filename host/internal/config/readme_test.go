package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
)

// readmePath is the repository's README.md.
var readmePath = filepath.Join("..", "..", "..", "README.md")

// configKeys walks t's yaml tags and returns every key path the decoder
// accepts: slices of structs as "name[]", maps of structs as
// "name.<key>". leaf tells whether a path is a value (not a section).
func configKeys(t reflect.Type, prefix string, out map[string]reflect.Type, leaf map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		out[path] = f.Type
		switch {
		case ft.Kind() == reflect.Struct:
			configKeys(ft, path, out, leaf)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out[path+"[]"] = ft.Elem()
			configKeys(ft.Elem(), path+"[]", out, leaf)
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			out[path+".<key>"] = ft.Elem()
			configKeys(ft.Elem(), path+".<key>", out, leaf)
		default:
			leaf[path] = true
		}
	}
}

// readmeRow is one row of a "key | default | …" table of README.md's
// Configuration section.
type readmeRow struct {
	line     int
	keys     []string // full key paths, map keys written as <key>
	defaults []string // one per key, "" when the cell says nothing
}

var (
	backtickRE = regexp.MustCompile("`([^`]*)`")
	mapKeyRE   = regexp.MustCompile(`<[a-z]+>`)
)

// readmeConfigRows reads the key tables between "## Configuration" and the
// next "## " heading. A key cell lists one or more keys in backticks,
// separated by "/" or ","; a key without a dot is a sibling of the first.
// The default cell lists as many defaults, separated the same way.
func readmeConfigRows(t *testing.T) []readmeRow {
	t.Helper()
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	var rows []readmeRow
	in, inTable := false, false
	for i, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Configuration"
			continue
		case !in:
			continue
		case strings.HasPrefix(line, "| key |"):
			inTable = true
			continue
		case !strings.HasPrefix(line, "|"):
			inTable = false
			continue
		case !inTable || strings.HasPrefix(line, "|---"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) < 3 {
			t.Fatalf("README.md:%d: a configuration table row needs key, default and meaning: %q", i+1, line)
		}
		r := readmeRow{line: i + 1}
		for _, m := range backtickRE.FindAllStringSubmatch(cells[0], -1) {
			k := m[1]
			if len(r.keys) > 0 && !strings.ContainsAny(k, ".[") {
				first := r.keys[0]
				k = first[:strings.LastIndex(first, ".")+1] + k
			}
			r.keys = append(r.keys, mapKeyRE.ReplaceAllString(k, "<key>"))
		}
		def := strings.TrimSpace(cells[1])
		parts := []string{def}
		if def == "—" {
			parts = slices.Repeat(parts, len(r.keys))
		} else if len(r.keys) > 1 {
			if parts = strings.Split(def, " / "); len(parts) != len(r.keys) {
				parts = strings.Split(def, ", ")
			}
		}
		if len(parts) == 1 && len(r.keys) > 1 && allComputed(r.keys) {
			// One rule states the default of each key.
			parts = slices.Repeat(parts, len(r.keys))
		}
		if len(parts) != len(r.keys) {
			t.Errorf("README.md:%d: %d keys but %d defaults (%q)", i+1, len(r.keys), len(parts), def)
			continue
		}
		for _, p := range parts {
			r.defaults = append(r.defaults, defaultToken(p))
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatal("README.md has no key tables under ## Configuration")
	}
	return rows
}

// allComputed reports whether every key's default is computed (see
// computedDefaults): one cell may then state the rule for all.
func allComputed(keys []string) bool {
	for _, k := range keys {
		if _, ok := computedDefaults[k]; !ok {
			return false
		}
	}
	return true
}

// defaultToken is what a default cell part says: the first backticked
// word, else the first word; "" for "—".
func defaultToken(p string) string {
	p = strings.TrimSpace(p)
	if p == "—" || p == "" {
		return ""
	}
	if strings.HasPrefix(p, "`") {
		if m := backtickRE.FindStringSubmatch(p); m != nil {
			return m[1]
		}
	}
	return strings.Fields(p)[0]
}

// actualDefaults parses configurations that set nothing optional and
// returns the value of every key path after defaults.
func actualDefaults(t *testing.T) map[string]reflect.Value {
	t.Helper()
	src := `kafka:
  embedded: {}
  tls: {}
  sasl: {}
store:
  encryption: {keys: [{}]}
http: {clients: [{}]}
console: {proxy: {}}
plugins: [{}]
sites: [{plugins: {x: {}}, outbound: {}}]
mllp: {listeners: [{tls: {}}]}
`
	// Problems are expected (empty names and references):
	// only the defaults are read.
	c, _ := Parse("medgate.yaml", []byte(src))
	out := map[string]reflect.Value{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for v.Kind() == reflect.Pointer && !v.IsNil() {
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			path := name
			if prefix != "" {
				path = prefix + "." + name
			}
			fv := v.Field(i)
			out[path] = fv
			switch {
			case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct && fv.Len() > 0:
				walk(fv.Index(0), path+"[]")
			case fv.Kind() == reflect.Map && fv.Type().Elem().Kind() == reflect.Struct:
				for _, k := range fv.MapKeys() {
					walk(fv.MapIndex(k), path+".<key>")
				}
			default:
				walk(fv, path)
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}

// matchesDefault reports whether the README's default doc is the value v.
func matchesDefault(v reflect.Value, doc string) (bool, string) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return doc == "", "not set"
		}
		v = v.Elem()
	}
	if v.Type() == reflect.TypeFor[Duration]() {
		got := time.Duration(v.Int())
		if doc == "" {
			return got == 0, got.String()
		}
		want, err := time.ParseDuration(doc)
		return err == nil && want == got, got.String()
	}
	switch v.Kind() {
	case reflect.String:
		return v.String() == doc, strconv.Quote(v.String())
	case reflect.Bool:
		if doc == "" {
			doc = "false"
		}
		return strconv.FormatBool(v.Bool()) == doc, strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int16, reflect.Int64:
		if doc == "" {
			return v.Int() == 0, strconv.FormatInt(v.Int(), 10)
		}
		want, err := strconv.ParseInt(doc, 10, 64)
		return err == nil && want == v.Int(), strconv.FormatInt(v.Int(), 10)
	case reflect.Slice, reflect.Map:
		return doc == "" && v.Len() == 0, fmt.Sprint(v.Interface())
	}
	return false, fmt.Sprintf("unhandled %s", v.Type())
}

// computedDefaults are defaults that depend on other settings or on the
// machine; the README states the rule and the test checks the rule.
var computedDefaults = map[string]func(c *Config) (doc string, ok bool){
	"node": func(c *Config) (string, bool) {
		host, _ := os.Hostname()
		want := os.Getenv("MEDGATE_NODE")
		if want == "" {
			want = host
		}
		return "`$MEDGATE_NODE`, else the host name", c.Node == want
	},
	"kafka.version": func(c *Config) (string, bool) {
		// Empty in the configuration: bus speaks bus.DefaultVersion.
		return bus.DefaultVersion, c.Kafka.Version == ""
	},
	"kafka.createTopics": func(c *Config) (string, bool) {
		return "false (true with `embedded`)", !c.Kafka.CreateTopics
	},
	"http.writeTimeout": func(c *Config) (string, bool) {
		return "ingressTimeout + `15s`", c.HTTP.WriteTimeout == c.HTTP.IngressTimeout+Duration(15*time.Second)
	},
	"sites[].plugins.<key>.enabled": func(*Config) (string, bool) {
		return "true", SitePlugin{}.IsEnabled()
	},
	"plugins[].limits.publishPerSecond":            pluginLimitsDefault,
	"plugins[].limits.publishBurst":                pluginLimitsDefault,
	"plugins[].limits.journalPerSecond":            pluginLimitsDefault,
	"plugins[].limits.journalBurst":                pluginLimitsDefault,
	"plugins[].limits.stateValueBytes":             pluginLimitsDefault,
	"plugins[].limits.perSitePublishPerSecond":     pluginLimitsDefault,
	"plugins[].limits.perSitePublishBurst":         pluginLimitsDefault,
	"plugins[].limits.perSiteJournalPerSecond":     pluginLimitsDefault,
	"plugins[].limits.perSiteJournalBurst":         pluginLimitsDefault,
	"plugins[].limits.stateWritesPerSecond":        pluginLimitsDefault,
	"plugins[].limits.stateWritesBurst":            pluginLimitsDefault,
	"plugins[].limits.perSiteStateWritesPerSecond": pluginLimitsDefault,
	"plugins[].limits.perSiteStateWritesBurst":     pluginLimitsDefault,
	"pluginLimits.perSitePublishBurst":             perSiteBurstDefault,
	"pluginLimits.perSiteJournalBurst":             perSiteBurstDefault,
	"pluginLimits.perSiteStateWritesBurst":         perSiteBurstDefault,
	"mllp.listeners[].maxMessageBytes": func(c *Config) (string, bool) {
		return "524288", c.MLLP.Listeners[0].MaxMessageBytes == min(512<<10, c.Processing.MaxPayloadBytes/2)
	},
	"mllp.listeners[].processTimeout": func(c *Config) (string, bool) {
		return "callTimeout + `30s`", c.MLLP.Listeners[0].ProcessTimeout == c.Processing.CallTimeout+Duration(30*time.Second)
	},
}

// pluginLimitsDefault checks that a plugin's limits left out are the
// pluginLimits values.
func pluginLimitsDefault(*Config) (string, bool) {
	c, _ := Parse("medgate.yaml", []byte("kafka: {embedded: {}}\npluginLimits: {publishPerSecond: 3, journalBurst: 5}\nplugins: [{}]\n"))
	return "the `pluginLimits` value", c.Plugins[0].Limits == c.PluginLimits && c.PluginLimits.PublishPerSecond == 3 && c.PluginLimits.JournalBurst == 5
}

// perSiteBurstDefault checks that a perSite burst left out is twice the
// perSite rate written beside it.
func perSiteBurstDefault(*Config) (string, bool) {
	c, _ := Parse("medgate.yaml", []byte("kafka: {embedded: {}}\npluginLimits: {perSitePublishPerSecond: 30, perSiteJournalPerSecond: 7, perSiteStateWritesPerSecond: 11}\n"))
	return "twice the rate", c.PluginLimits.PerSitePublishBurst == 60 && c.PluginLimits.PerSiteJournalBurst == 14 && c.PluginLimits.PerSiteStateWritesBurst == 22
}

// TestREADMEConfigurationTables: every key the configuration accepts has a
// row in README.md's Configuration tables, every row names a key that
// exists, and each documented default is the one medgate applies.
func TestREADMEConfigurationTables(t *testing.T) {
	t.Parallel()
	keys, leaf := map[string]reflect.Type{}, map[string]bool{}
	configKeys(reflect.TypeFor[Config](), "", keys, leaf)
	rows := readmeConfigRows(t)
	documented := map[string]int{}
	for _, r := range rows {
		for _, k := range r.keys {
			if _, ok := keys[k]; !ok {
				t.Errorf("README.md:%d: `%s` is not a configuration key (the keys medgate reads are the yaml tags of host/internal/config.Config)", r.line, k)
			}
			if j, dup := documented[k]; dup {
				t.Errorf("README.md:%d: `%s` is documented twice (also line %d)", r.line, k, j)
			}
			documented[k] = r.line
		}
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range leaf {
			if !yield(k) {
				return
			}
		}
	}) {
		if _, ok := documented[k]; !ok {
			t.Errorf("configuration key `%s` has no row in README.md's Configuration tables", k)
		}
	}

	c, _ := Parse("medgate.yaml", []byte("kafka:\n  brokers: [\"k:9092\"]\nmllp: {listeners: [{}]}\n"))
	values := actualDefaults(t)
	for _, r := range rows {
		for i, k := range r.keys {
			doc := r.defaults[i]
			if f, ok := computedDefaults[k]; ok {
				want, ok := f(c)
				if !ok {
					t.Errorf("README.md:%d: `%s`: the documented default %q is not the rule medgate applies", r.line, k, want)
				}
				continue
			}
			if !leaf[k] {
				if doc != "" {
					t.Errorf("README.md:%d: `%s` is a section; document the defaults of its keys instead of %q", r.line, k, doc)
				}
				continue
			}
			v, ok := values[k]
			if !ok {
				continue // reported above
			}
			if ok, got := matchesDefault(v, doc); !ok {
				t.Errorf("README.md:%d: `%s`: README says the default is %q, medgate's is %s", r.line, k, doc, got)
			}
		}
	}
}
