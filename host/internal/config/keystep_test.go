package config

import (
	"reflect"
	"testing"
)

// TestKeyStep: one key down from a section: a struct's field by its yaml
// tag (through a pointer), any key of a map, and nothing below a value or
// for a key the section does not have. mayHoldSecret and typeAt walk a
// path with it.
func TestKeyStep(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		from       reflect.Type
		name       string
		wantOK     bool
		wantType   reflect.Type
		wantSecret bool
	}{
		"struct field":           {from: reflect.TypeFor[Config](), name: "store", wantOK: true, wantType: reflect.TypeFor[Store]()},
		"secret field":           {from: reflect.TypeFor[Store](), name: "dsn", wantOK: true, wantType: reflect.TypeFor[string](), wantSecret: true},
		"through a pointer":      {from: reflect.TypeFor[*SASL](), name: "password", wantOK: true, wantType: reflect.TypeFor[string](), wantSecret: true},
		"map key":                {from: reflect.TypeFor[map[string]SitePlugin](), name: "workinjury", wantOK: true, wantType: reflect.TypeFor[SitePlugin]()},
		"unknown key":            {from: reflect.TypeFor[Store](), name: "nosuch", wantOK: false},
		"Go field name, not tag": {from: reflect.TypeFor[Store](), name: "DSN", wantOK: false},
		"below a value":          {from: reflect.TypeFor[string](), name: "x", wantOK: false},
		"a list takes no key":    {from: reflect.TypeFor[[]Site](), name: "code", wantOK: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f, got, ok := keyStep(tc.from, tc.name)
			if ok != tc.wantOK || got != tc.wantType {
				t.Fatalf("keyStep(%v, %q) = %v, %v; want %v, %v", tc.from, tc.name, got, ok, tc.wantType, tc.wantOK)
			}
			if secret := f.Tag.Get("secret") == "true"; secret != tc.wantSecret {
				t.Errorf("keyStep(%v, %q): field tagged secret = %v, want %v", tc.from, tc.name, secret, tc.wantSecret)
			}
		})
	}
}

// TestPathWalks pins what mayHoldSecret and typeAt say of known,
// unknown and indexed paths.
func TestPathWalks(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		secret bool
		typ    string // "" when typeAt does not know the path
	}{
		"":                                       {secret: true, typ: "config.Config"},
		"store":                                  {secret: true, typ: "config.Store"},
		"store.path":                             {secret: false, typ: "string"},
		"store.dsn":                              {secret: true, typ: "string"},
		"kafka.sasl.password":                    {secret: true, typ: "string"},
		"kafka.sasl.username":                    {secret: false, typ: "string"},
		"store.nosuch":                           {secret: true},
		"sites[0].code":                          {secret: true, typ: "string"},
		"sites[0]":                               {secret: true, typ: "config.Site"},
		"sites[0].plugins.workinjury.enabled":    {secret: true, typ: "*bool"},
		"sites[0].plugins.workinjury.settings.x": {secret: true, typ: "string"},
		"store.path[0]":                          {secret: false},
	}
	for path, tc := range cases {
		if path == "" {
			if got, ok := typeAt(path); !ok || got.String() != tc.typ {
				t.Errorf("typeAt(%q) = %v, %v; want %s", path, got, ok, tc.typ)
			}
			continue
		}
		if got := mayHoldSecret(path); got != tc.secret {
			t.Errorf("mayHoldSecret(%q) = %v, want %v", path, got, tc.secret)
		}
		got, ok := typeAt(path)
		if (tc.typ == "") == ok || (ok && got.String() != tc.typ) {
			t.Errorf("typeAt(%q) = %v, %v; want %q", path, got, ok, tc.typ)
		}
	}
}
