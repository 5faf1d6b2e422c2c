package harness

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// Config is a medgate configuration for one test: its own topics, group
// and store, so tests sharing one Kafka broker never see each other.
type Config struct {
	Dir      string // holds the config file, SQLite database and plugin data
	Brokers  []string
	Embedded bool   // use the in-process broker instead of Brokers
	Listen   string // embedded broker address when Embedded
	Prefix   string // topic and group prefix
	Store    map[string]any
	Sites    []map[string]any
	Plugins  []string // plugin names to declare
	// Extra is merged into the top level (e.g. "processing").
	Extra map[string]any
	path  string
}

// Topics are the four topic names of a Config.
type Topics struct{ Requests, Replies, Events, DLQ string }

// NewConfig returns a configuration with unique topics, SQLite in a temp
// dir, and the ledger test plugin enabled for site "s1".
func NewConfig(t testing.TB, brokers []string) *Config {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	dir := t.TempDir()
	return &Config{
		Dir:     dir,
		Brokers: brokers,
		Prefix:  "t" + hex.EncodeToString(b[:]),
		Store:   map[string]any{"driver": "sqlite", "path": filepath.Join(dir, "medgate.db")},
		Plugins: []string{"ledger"},
		Sites: []map[string]any{{
			"code": "s1",
			"plugins": map[string]any{
				"ledger": map[string]any{"settings": map[string]any{"ledgerDir": filepath.Join(dir, "ledger")}},
			},
		}},
		Extra: map[string]any{},
	}
}

// Topics returns the topic names.
func (c *Config) Topics() Topics {
	return Topics{Requests: c.Prefix + ".requests", Replies: c.Prefix + ".replies", Events: c.Prefix + ".events", DLQ: c.Prefix + ".dlq"}
}

// LedgerDir is the ledger plugin's directory for site s1.
func (c *Config) LedgerDir() string { return filepath.Join(c.Dir, "ledger") }

// Write writes the file (again) and returns its path.
func (c *Config) Write(t testing.TB, b *Bins) string {
	t.Helper()
	tp := c.Topics()
	kafka := map[string]any{
		"groupId":      c.Prefix + ".group",
		"topics":       map[string]any{"requests": tp.Requests, "replies": tp.Replies, "events": tp.Events, "dlq": tp.DLQ},
		"createTopics": true,
		"partitions":   3,
	}
	if c.Embedded {
		kafka["embedded"] = map[string]any{"listen": c.Listen, "dataDir": filepath.Join(c.Dir, "kafka")}
	} else {
		kafka["brokers"] = c.Brokers
	}
	var plugins []map[string]any
	for _, name := range c.Plugins {
		plugins = append(plugins, map[string]any{"name": name, "path": b.Plugins[name], "sha256": b.SHA256[name]})
	}
	doc := map[string]any{
		"node":       c.Prefix,
		"kafka":      kafka,
		"store":      c.Store,
		"http":       map[string]any{"listen": "127.0.0.1:0"},
		"log":        map[string]any{"format": "json", "level": "info"},
		"processing": map[string]any{"initialBackoff": "50ms", "maxBackoff": "500ms"},
		"plugins":    plugins,
		"sites":      c.Sites,
	}
	for k, v := range c.Extra {
		doc[k] = v
	}
	data, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	c.path = filepath.Join(c.Dir, "medgate.yaml")
	if err := os.WriteFile(c.path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return c.path
}
