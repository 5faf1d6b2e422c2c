// Package checkconfig validates a configuration file completely without
// starting medgate (medgate check-config): the file, the plugin binaries,
// every site's plugin settings, the secrets it refers to and the mappings.
package checkconfig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/hostsvc"
	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/mapping"
	"github.com/medgate/medgate/host/internal/metrics"
	"github.com/medgate/medgate/host/internal/pluginhost"
	"github.com/medgate/medgate/host/internal/sites"
	"github.com/medgate/medgate/host/internal/store"
)

// Check validates a configuration file completely without starting
// medgate: the file itself, then every plugin binary (checksum, launch,
// Describe), every site's plugin settings against the plugin's declared
// fields, the secrets the file refers to (HTTP tokens, store keys, the
// Kafka SASL password and the PostgreSQL DSN) and the Kafka TLS files (a
// CA certificate, a client certificate matching its key, in its validity),
// as medgate run reads them. It returns
// config.Problems listing every problem found.
func Check(ctx context.Context, cfgPath string) error {
	cfg, err := config.Load(cfgPath)
	var problems config.Problems
	if err != nil {
		if !errors.As(err, &problems) || cfg == nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "medgate-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	st, err := store.Open(ctx, "sqlite", filepath.Join(tmp, "check.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	log, _ := logging.New(io.Discard, "text", "error")
	plugins := map[string]*pluginhost.Instance{}
	services := hostsvc.New(st, cfg.Kafka.Topics.Events)
	m := metrics.New(st.OldestPending, time.Now)
	defer func() {
		for _, in := range plugins {
			in.Close()
		}
	}()
	// Only launch plugins whose declaration is sound.
	sound := *cfg
	sound.Plugins = nil
	bad := map[int]bool{}
	for _, p := range problems {
		for i := range cfg.Plugins {
			if p.Path == pluginPath(i) || len(p.Path) > len(pluginPath(i)) && p.Path[:len(pluginPath(i))+1] == pluginPath(i)+"." {
				bad[i] = true
			}
		}
	}
	// soundIndex[j] is the index in cfg.Plugins of sound.Plugins[j].
	var soundIndex []int
	for i, p := range cfg.Plugins {
		if !bad[i] {
			sound.Plugins = append(sound.Plugins, p)
			soundIndex = append(soundIndex, i)
		}
	}
	var ps config.Problems
	// Secrets are read now, so an unreadable token, store key, Kafka
	// password or DSN is found before start (systemd runs check-config
	// first). A key already reported (a secret written in the file) is not
	// reported again.
	reported := map[string]bool{}
	for _, p := range problems {
		reported[p.Path] = true
	}
	addNew := func(err error) {
		if errors.As(err, &ps) {
			for _, p := range ps {
				if !reported[p.Path] {
					problems = append(problems, p)
				}
			}
		}
	}
	_, err = cfg.HTTPCredentials()
	addNew(err)
	_, err = cfg.StoreKeys()
	addNew(err)
	addNew(cfg.CheckConnectionSecrets())
	if cfg.Store.Driver == "postgres" && !reported["store.dsn"] {
		if dsn, err := cfg.Secret(cfg.Store.DSN); err == nil && dsn != "" {
			if err := parseDSN(dsn); err != nil {
				problems = append(problems, cfg.Problem("store.dsn", "%v", err))
			}
		}
	}
	// The Kafka TLS files are read as medgate run reads them (a CA file
	// without a certificate, a certificate with another's key, an expired
	// client certificate refuse the start), unless one is missing already.
	if t := cfg.Kafka.TLS; t != nil && !reportedUnder(reported, "kafka.tls") {
		if _, err := bus.NewCredentials(nil, &bus.TLSConfig{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, InsecureSkipVerify: t.InsecureSkipVerify}); err != nil {
			problems = append(problems, cfg.Problem("kafka.tls", "%v", err))
		}
	}
	launch := func(ctx context.Context, p config.Plugin, sum string) (*pluginhost.Instance, error) {
		return pluginhost.Start(ctx, pluginhost.Spec{Name: p.Name, Path: p.Path, SHA256: sum}, services.For(p.Name), pluginhost.Options{
			Logger:    log,
			OnRestart: func(name string) { m.PluginRestarts.WithLabelValues(name).Inc() },
		})
	}
	if err := sites.StartPlugins(ctx, &sound, plugins, launch); errors.As(err, &ps) {
		for _, p := range ps {
			problems = append(problems, declaredAt(cfg, p, soundIndex))
		}
	}
	if _, _, err := sites.Apply(ctx, cfg, plugins, log); errors.As(err, &ps) {
		problems = append(problems, ps...)
	}
	// The mappings compile against what the launched plugins declare.
	if _, err := mapping.Compile(cfg, plugins); err != nil {
		if errors.As(err, &ps) {
			problems = append(problems, ps...)
		} else {
			problems = append(problems, cfg.Problem("transforms", "%v", err))
		}
	}
	if len(problems) > 0 {
		// In the order of the file's lines, as config.Load lists its own.
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return problems
	}
	return nil
}

// reportedUnder reports whether a problem was reported at path or a key
// under it.
func reportedUnder(reported map[string]bool, path string) bool {
	for p := range reported {
		if p == path || strings.HasPrefix(p, path+".") {
			return true
		}
	}
	return false
}

func pluginPath(i int) string { return "plugins[" + strconv.Itoa(i) + "]" }

// declaredAt moves a problem that StartPlugins reported at
// plugins[j] of the sound declarations to plugins[soundIndex[j]], the
// plugin's own path and line in the file.
func declaredAt(cfg *config.Config, p config.Problem, soundIndex []int) config.Problem {
	for j, i := range soundIndex {
		rest, ok := strings.CutPrefix(p.Path, pluginPath(j))
		if !ok || rest != "" && rest[0] != '.' {
			continue
		}
		return cfg.Problem(pluginPath(i)+rest, "%s", p.Message)
	}
	return p
}

// dsnPasswordRE matches the password of a connection string, as a URL's
// user information or a password= keyword.
var dsnPasswordRE = regexp.MustCompile(`://[^:/@]*:([^@]*)@|password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// parseDSN parses a PostgreSQL connection string as the driver does
// (pgxpool.ParseConfig), without connecting. Its error says what is
// wrong and how to fix it, never with the string's password.
func parseDSN(dsn string) error {
	_, err := pgxpool.ParseConfig(dsn)
	if err == nil {
		return nil
	}
	text := err.Error()
	if i := strings.LastIndex(text, "`: "); i >= 0 {
		// The reason only: the string quoted before it may hold a
		// password the driver's redaction does not recognise.
		text = text[i+len("`: "):]
	}
	for _, m := range dsnPasswordRE.FindAllStringSubmatch(dsn, -1) {
		for _, pw := range m[1:] {
			if pw = strings.Trim(pw, "'"); pw != "" {
				text = strings.ReplaceAll(text, pw, "xxxxx")
				if esc := url.PathEscape(pw); esc != pw {
					text = strings.ReplaceAll(text, esc, "xxxxx")
				}
			}
		}
	}
	return fmt.Errorf("the PostgreSQL connection string is malformed (medgate run would refuse it): %s; write it as postgres://USER:PASSWORD@HOST:PORT/DBNAME?sslmode=verify-full (or as host= port= user= password= dbname= sslmode= keywords)", text)
}
