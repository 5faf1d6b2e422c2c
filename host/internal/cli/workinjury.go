package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/plugins/smenvelope"
)

// importKeys implements `medgate import-keys`: it writes the SM2 key pair
// that staff downloaded from the national work-injury system (our private
// key, the national public key) into the site's keyDir in canonical PEM,
// mode 0600. Key material is never printed; only public-key fingerprints.
func importKeys(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("import-keys", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	site := fs.String("site", "", "site whose workinjury keyDir receives the keys (or give -dir)")
	plugin := fs.String("plugin", "workinjury", "plugin whose keyDir setting names the directory")
	dir := fs.String("dir", "", "key directory (default: the site's keyDir setting)")
	priv := fs.String("private", "", "our private key file: PEM (PKCS#8 or SEC1), DER, hex or raw")
	pub := fs.String("peer-public", "", "the national system's public key file: PEM, certificate, DER, hex or raw")
	pwEnv := fs.String("password-env", "", "environment variable holding the password of an encrypted private key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *priv == "" && *pub == "" {
		return errors.New("import-keys: give -private FILE and/or -peer-public FILE (the key files downloaded from the national system)")
	}
	privName, pubName := smenvelope.DefaultPrivateKeyFile, smenvelope.DefaultPeerPublicKeyFile
	if *dir == "" {
		if *site == "" {
			return errors.New("import-keys: give -site SITE (to use its keyDir setting) or -dir DIR")
		}
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		settings, err := pluginSettings(cfg, *site, *plugin)
		if err != nil {
			return err
		}
		if *dir = settings["keyDir"]; *dir == "" {
			return fmt.Errorf("import-keys: site %q has no %s keyDir setting in %s: add one, or give -dir", *site, *plugin, cfg.File)
		}
		if !filepath.IsAbs(*dir) {
			*dir = filepath.Join(filepath.Dir(cfg.File), *dir)
		}
		if v := settings["privateKeyFile"]; v != "" {
			privName = v
		}
		if v := settings["peerPublicKeyFile"]; v != "" {
			pubName = v
		}
	}
	join := func(name string) string {
		if filepath.IsAbs(name) {
			return name
		}
		return filepath.Join(*dir, name)
	}
	if *priv != "" {
		src, err := os.ReadFile(*priv)
		if err != nil {
			return fmt.Errorf("import-keys: read the private key: %w", err)
		}
		defer clear(src)
		var pw []byte
		if *pwEnv != "" {
			v, ok := os.LookupEnv(*pwEnv)
			if !ok {
				return fmt.Errorf("import-keys: environment variable %s is not set", *pwEnv)
			}
			pw = []byte(v)
			defer clear(pw)
		}
		dst := join(privName)
		if err := smenvelope.ImportKeyWithPassword(src, pw, smenvelope.KindPrivate, dst); err != nil {
			if errors.Is(err, smenvelope.ErrEncryptedKey) {
				return fmt.Errorf("import-keys: %w (put the password in an environment variable and pass -password-env NAME)", err)
			}
			return fmt.Errorf("import-keys: %w", err)
		}
		k, err := smenvelope.LoadPrivateKeyFile(dst, nil)
		if err != nil {
			return fmt.Errorf("import-keys: check the written key: %w", err)
		}
		fmt.Fprintf(stdout, "imported our private key (public key %s) into %s (mode 0600)\n", smenvelope.Fingerprint(&k.PublicKey), dst)
	}
	if *pub != "" {
		src, err := os.ReadFile(*pub)
		if err != nil {
			return fmt.Errorf("import-keys: read the national public key: %w", err)
		}
		dst := join(pubName)
		if err := smenvelope.ImportKey(src, smenvelope.KindPublic, dst); err != nil {
			return fmt.Errorf("import-keys: %w", err)
		}
		k, err := smenvelope.LoadPublicKeyFile(dst)
		if err != nil {
			return fmt.Errorf("import-keys: check the written key: %w", err)
		}
		fmt.Fprintf(stdout, "imported the national public key %s into %s\n", smenvelope.Fingerprint(k), dst)
	}
	fmt.Fprintln(stdout, "a running medgate picks the new keys up within the keyReloadInterval setting (default 10s); no restart is needed")
	return nil
}

// pluginSettings returns a site's settings of one plugin.
func pluginSettings(cfg *config.Config, site, plugin string) (map[string]string, error) {
	for _, s := range cfg.Sites {
		if s.Code != site {
			continue
		}
		p, ok := s.Plugins[plugin]
		if !ok {
			return nil, fmt.Errorf("site %q does not enable the %s plugin in %s", site, plugin, cfg.File)
		}
		return p.Settings, nil
	}
	return nil, fmt.Errorf("no site %q in %s", site, cfg.File)
}

// ping implements `medgate ping workinjury -site S`: the connectivity test
// (GYU000) through the running medgate, the way every message goes.
func ping(ctx context.Context, args []string, stdout io.Writer) error {
	plugin := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		plugin, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("ping", flag.ContinueOnError)
	tg := targetFlags(fs, 60*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The plugin name may come before, between or after the flags.
	for fs.NArg() > 0 {
		if plugin != "" && plugin != fs.Arg(0) {
			return fmt.Errorf("usage: medgate ping workinjury -site SITE (unexpected %q)", fs.Arg(0))
		}
		plugin = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
	}
	if plugin != "workinjury" {
		return fmt.Errorf("usage: medgate ping workinjury -site SITE (ping knows: workinjury; got %q)", plugin)
	}
	if *tg.site == "" {
		return errors.New("ping: -site is required")
	}
	env := pipeline.Envelope{ID: newID("cli-"), Site: *tg.site, Type: "workinjury.GYU000", OccurredAt: time.Now().Format(time.RFC3339),
		Format: "json", Payload: json.RawMessage(`{"echo_text":"medgate ping"}`)}
	start := time.Now()
	r, _, err := sendEnvelope(ctx, tg, env, "")
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	took := time.Since(start).Round(time.Millisecond)
	if r.Status == pipeline.StatusOK {
		serial := ""
		if r.External != nil {
			serial = r.External.MsgID
		}
		var p struct {
			Time string `json:"aae036"`
		}
		_ = json.Unmarshal(r.Payload, &p)
		fmt.Fprintf(stdout, "workinjury/%s: connected; the national system answered GYU000 (serial %s, its time %s) in %s\n", *tg.site, serial, p.Time, took)
		return nil
	}
	fmt.Fprintf(stdout, "workinjury/%s: %s after %s\n", *tg.site, r.Status, took)
	if r.External != nil && r.External.Code != "" {
		fmt.Fprintf(stdout, "  national system: code %s: %s\n", r.External.Code, r.External.Message)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(stdout, "  %s\n", e.Message)
	}
	return fmt.Errorf("ping: workinjury at site %s is not reachable (%s)", *tg.site, r.Status)
}
