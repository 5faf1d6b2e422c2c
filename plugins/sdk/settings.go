package sdk

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Settings reads a site's settings with their declared types. The host has
// checked every value against the declaration before Configure, so a value
// that does not parse means the plugin reads a setting as another type than
// it declared; Diagnostics reports each such read. The host gives every
// declared setting ("" when unset and without a default), so a name the map
// does not hold is one the plugin does not declare, a misspelt name most
// often ("apikey" for "apiKey"); Diagnostics reports each such read too,
// instead of letting the plugin run with an empty value.
//
//	s := sdk.NewSettings(req.Settings)
//	timeout := s.Duration("timeout")
//	retries := s.Int("retries")
//	if ds := s.Diagnostics(); ds.HasError() { return &sdk.ConfigureResponse{Diagnostics: ds}, nil }
type Settings struct {
	m          map[string]string
	ds         Diagnostics
	undeclared map[string]bool // names read that the map does not hold, reported once
}

// NewSettings wraps the settings of a ConfigureRequest.
func NewSettings(m map[string]string) *Settings { return &Settings{m: m} }

// String returns the value of name ("" when unset).
func (s *Settings) String(name string) string { return s.value(name) }

// value returns the value of name, reporting a name the host did not give.
func (s *Settings) value(name string) string {
	v, ok := s.m[name]
	if !ok && !s.undeclared[name] {
		if s.undeclared == nil {
			s.undeclared = map[string]bool{}
		}
		s.undeclared[name] = true
		given := "none"
		if len(s.m) > 0 {
			given = strings.Join(slices.Sorted(maps.Keys(s.m)), ", ")
		}
		s.ds = append(s.ds, Problem(name, "undeclared",
			fmt.Sprintf("the plugin reads setting %q, which it does not declare: medgate gives a plugin every setting it declares (\"\" when unset) and no other; the settings given are: %s", name, given),
			"correct the name read (names are case-sensitive) or declare the setting in Describe's Settings"))
	}
	return v
}

// Int returns the value of an int setting (0 when unset).
func (s *Settings) Int(name string) int64 {
	v := s.value(name)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		s.wrongType(name, SettingInt)
	}
	return n
}

// Bool returns the value of a bool setting (false when unset).
func (s *Settings) Bool(name string) bool {
	v := s.value(name)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		s.wrongType(name, SettingBool)
	}
	return b
}

// Duration returns the value of a duration setting (0 when unset).
func (s *Settings) Duration(name string) time.Duration {
	v := s.value(name)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		s.wrongType(name, SettingDuration)
	}
	return d
}

// URL returns the value of a url setting (nil when unset).
func (s *Settings) URL(name string) *url.URL {
	v := s.value(name)
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil {
		s.wrongType(name, SettingURL)
		return nil
	}
	return u
}

// Diagnostics returns one error per value read as a type it does not have,
// naming the setting but not its value.
func (s *Settings) Diagnostics() Diagnostics { return s.ds }

// wrongType reports a read as another type than the value has. The value
// is not repeated: it may be a secret the host resolved.
func (s *Settings) wrongType(name, typ string) {
	s.ds = append(s.ds, Problem(name, "type", fmt.Sprintf("setting %q is read as %s but its value is not one", name, typ),
		fmt.Sprintf("declare it with Type %q in Describe so the host checks it, or read it as a string", typ)))
}
