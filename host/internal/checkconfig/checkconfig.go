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
	_, err := CheckWarn(ctx, cfgPath)
	return err
}

// CheckWarn is [Check] that also returns the warnings: settings medgate
// runs with that are likely not what the hospital meant (a PostgreSQL
// DSN that verifies the server against the system's CAs, see
// dsnWarning), in the order of the file's lines. A warning does not make
// the check fail.
func CheckWarn(ctx context.Context, cfgPath string) (warnings []config.Problem, _ error) {
	cfg, err := config.Load(cfgPath)
	var problems config.Problems
	if err != nil {
		if !errors.As(err, &problems) || cfg == nil {
			return nil, err
		}
	}
	tmp, err := os.MkdirTemp("", "medgate-check-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	st, err := store.Open(ctx, "sqlite", filepath.Join(tmp, "check.db"))
	if err != nil {
		return nil, err
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
			if w, err := checkDSN(dsn); err != nil {
				problems = append(problems, cfg.Problem("store.dsn", "%v", err))
			} else if w != "" {
				warnings = append(warnings, cfg.Problem("store.dsn", "%s", w))
			}
		}
	}
	// The SQLite database is checked as medgate run will open it, as
	// this user (the unit's, with sudo -u medgate), creating nothing: a
	// directory it cannot write or a file it cannot read otherwise shows
	// only once the unit has started.
	if cfg.Store.Driver == "sqlite" && cfg.Store.Path != "" && !reported["store.path"] {
		if err := store.CheckSQLitePath(cfg.Store.Path); err != nil {
			problems = append(problems, cfg.Problem("store.path", "%v", err))
		}
	}
	// So is artifacts.dir, which medgate run creates (or fails to start):
	// the default, beside the configuration, is read-only under the
	// systemd unit.
	if cfg.Artifacts.Dir != "" && !reported["artifacts.dir"] {
		if err := store.CheckPrivateDir("directory", cfg.Artifacts.Dir); err != nil {
			problems = append(problems, cfg.Problem("artifacts.dir", "%v (medgate keeps the files plugins hand over there; under the systemd unit it must be under /var/lib/medgate)", err))
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
		return warnings, problems
	}
	return warnings, nil
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

// dsnSystemCAs is the warning of a DSN whose server certificate is
// verified (sslmode=verify-full or verify-ca) against the system's CAs:
// it never quotes the DSN, which may hold a password.
const dsnSystemCAs = "sslmode=%s without sslrootcert: the PostgreSQL server's certificate is checked against this machine's system CAs, " +
	"so a database whose certificate the hospital's own CA signed is refused at start (x509: certificate signed by unknown authority), " +
	"while one from any CA this machine trusts is accepted; add sslrootcert=/etc/medgate/tls/pg-ca.pem " +
	"(the CA certificate in PEM, readable by medgate) to the connection string (…&sslrootcert=FILE in a URL, sslrootcert=FILE among keywords), " +
	"or sslrootcert=system if the system's CAs are meant"

// checkDSN parses a PostgreSQL connection string as the driver does
// (pgxpool.ParseConfig, environment variables such as PGSSLROOTCERT
// included), without connecting. It returns a warning (dsnSystemCAs) for
// a string that verifies the server's certificate against the system's
// CAs without saying so, and an error for a malformed one (dsnError).
// Neither quotes the string.
func checkDSN(dsn string) (warning string, _ error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return "", dsnError(dsn, err)
	}
	// The driver's TLS configuration tells the mode apart: verify-full
	// verifies the chain and the name, verify-ca the chain itself (the
	// name is not checked); RootCAs is set by sslrootcert only (a file,
	// or "system").
	t := pc.ConnConfig.TLSConfig
	switch {
	case t == nil || t.RootCAs != nil:
	case !t.InsecureSkipVerify:
		return fmt.Sprintf(dsnSystemCAs, "verify-full"), nil
	case t.VerifyPeerCertificate != nil:
		return fmt.Sprintf(dsnSystemCAs, "verify-ca"), nil
	}
	return "", nil
}

// dsnError is the error of a connection string the driver refused with
// err: what is wrong and how to fix it, never with the string's password.
func dsnError(dsn string, err error) error {
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
