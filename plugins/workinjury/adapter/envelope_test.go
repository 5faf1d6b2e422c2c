package adapter

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/smenvelope"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestEnvelopeSettings runs the connectivity test (GYU000) against a
// simulator configured like the adapter, for the default and for every
// alternative value of every envelope, crypto and endpoint setting.
func TestEnvelopeSettings(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"defaults":                {},
		"cipher C1C2C3":           {setCipherOrder, "C1C2C3"},
		"cipher ASN1":             {setCipherOrder, "ASN1"},
		"no point prefix":         {setPointPrefix, "false"},
		"signature r||s":          {setSigFormat, "RS"},
		"encoding hex":            {setEncoding, "hex"},
		"encoding HEX":            {setEncoding, "HEX"},
		"sign ciphertext":         {setSignTarget, "ciphertext"},
		"sign canonical":          {setSignTarget, "canonical"},
		"sign canonical exclude":  {setSignTarget, "canonical", setCanonicalExclude, "timestamp,signType", setCanonicalKeepEmpty, "true"},
		"sm4 CBC random IV":       {setSM4Mode, "CBC"},
		"sm4 CBC fixed IV":        {setSM4Mode, "CBC", setSM4IV, "000102030405060708090a0b0c0d0e0f"},
		"key ascii16":             {setKeyForm, "ascii16"},
		"key hex32":               {setKeyForm, "hex32"},
		"uid":                     {setUID, "ALICE123@YAHOO.COM"},
		"sign type value":         {setSignTypeValue, "SM2WithSM3"},
		"timestamp unix ms":       {setTimestampLayout, "unixms"},
		"success code 000000":     {setSuccessCodes, "000000,0"},
		"strict open":             {setStrictOpen, "true"},
		"signed errors only":      {setUnsignedErrors, "false"},
		"layout per transaction":  {setLayout, LayoutPerTransaction, setPathTemplate, "/gs/{code}.do"},
		"field names":             {"field.txCode", "jydm", "field.msgId", "jylsh", "field.key", "encKey", "field.data", "encData", "field.sign", "signData", "field.code", "returnCode", "field.message", "returnMsg"},
		"fields left out":         {setLayout, LayoutPerTransaction, "field.txCode", "-", "field.sender", "-", "field.receiver", "-", "field.version", "-", "field.signType", "-", "field.timestamp", "-"},
		"sender and receiver set": {setSenderCode, "350000GS01", setReceiverCode, "GSYDJY", setVersion, "V9.9"},
		"everything else at once": {setCipherOrder, "C1C2C3", setSigFormat, "RS", setEncoding, "HEX", setSignTarget, "ciphertext", setSM4Mode, "CBC", setKeyForm, "hex32", setPointPrefix, "false", setStrictOpen, "true"},
	}
	for name, kv := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withSettings(kv...))
			out := e.mustOK(e.send("GYU000", map[string]any{"echo_text": "ping " + name}))
			if out["echo_text"] != "ping "+name || out["aae036"] == "" {
				t.Fatalf("GYU000 answer = %v", out)
			}
			if got := e.sim.Received("GYU000"); len(got) != 1 || got[0].Input["aab301"] != "350200" {
				t.Fatalf("simulator saw %+v; want one GYU000 with the region filled in", got)
			}
			if e.journaled("GYU000") != 1 {
				t.Fatalf("GYU000 journaled %d times, want 1", e.journaled("GYU000"))
			}
		})
	}
}

// TestEnvelopeMismatch: when the two sides disagree on a setting, nothing
// is trusted and the reply says why.
func TestEnvelopeMismatch(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		adapter   []string
		sim       func(*wisim.Config)
		status    sdk.Status
		extCode   string
		inMessage string
	}{
		// The simulator cannot verify our signature: it answers E0001,
		// unsigned (it cannot trust our key to encrypt for us), which is
		// never trusted either.
		"they hold another public key of ours": {sim: func(c *wisim.Config) {
			other, err := wisim.GenerateKeyPair()
			if err != nil {
				panic(err)
			}
			c.Keys.PeerPublic = &other.Hospital.PublicKey
		}, status: sdk.StatusFailed, inMessage: "E0001"},
		// The uid covers both directions: neither side verifies the other.
		"our uid differs": {adapter: []string{setUID, "someone-else"}, sim: func(c *wisim.Config) { c.Options.UID = smenvelope.DefaultUID }, status: sdk.StatusFailed, inMessage: "signature"},
		// We cannot verify the simulator's signature: failed, never trusted.
		"their uid differs": {sim: func(c *wisim.Config) { c.Options.UID = "someone-else" }, status: sdk.StatusFailed, inMessage: "signature"},
		"their key differs": {sim: func(c *wisim.Config) {
			other, err := wisim.GenerateKeyPair()
			if err != nil {
				panic(err)
			}
			c.Keys.Private = other.National
		}, status: sdk.StatusFailed, inMessage: "signature"},
		"their encoding differs":   {adapter: []string{setStrictOpen, "true"}, sim: func(c *wisim.Config) { c.Options.Encoding = smenvelope.HexUpper }, status: sdk.StatusFailed},
		"their field names differ": {sim: func(c *wisim.Config) { c.Options.Fields.Sign = "signData" }, status: sdk.StatusFailed, inMessage: "signature"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := []envOption{withSettings(tc.adapter...)}
			if tc.sim != nil {
				opts = append(opts, withSim(tc.sim))
			}
			e := newEnv(t, opts...)
			r := e.send("GYU000", map[string]any{})
			if r.Status != tc.status {
				t.Fatalf("status %s, want %s: %s", r.Status, tc.status, r.Diagnostics)
			}
			if tc.extCode != "" && (r.External == nil || r.External.Code != tc.extCode) {
				t.Fatalf("external %+v, want code %s", r.External, tc.extCode)
			}
			if tc.status == sdk.StatusFailed && !r.Retryable {
				t.Fatalf("an untrusted answer must be retryable (reconciled): %+v", r)
			}
			if tc.inMessage != "" && !strings.Contains(r.Diagnostics.String(), tc.inMessage) {
				t.Fatalf("diagnostics %q do not mention %q", r.Diagnostics, tc.inMessage)
			}
		})
	}
}

// TestEndpointURL checks both layouts build the expected URL.
func TestEndpointURL(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		layout, template, base, want string
	}{
		"single":                   {LayoutSingle, "/{code}", "https://x/api", "https://x/api"},
		"per transaction":          {LayoutPerTransaction, "/{code}", "https://x/api/", "https://x/api/GYU101"},
		"per transaction template": {LayoutPerTransaction, "/gs/{code}.do", "https://x", "https://x/gs/GYU101.do"},
	}
	for name, tc := range cases {
		c := &siteConfig{layout: tc.layout, pathTemplate: tc.template, url: tc.base}
		if got := c.endpoint("GYU101"); got != tc.want {
			t.Errorf("%s: endpoint = %s, want %s", name, got, tc.want)
		}
	}
}

// TestSettingsProblems lists every problem at once, each on its setting.
func TestSettingsProblems(t *testing.T) {
	t.Parallel()
	in := withDefaults(map[string]string{setURL: "ftp://x", setRegionCode: "35", setKeyDir: t.TempDir(),
		setLayout: LayoutPerTransaction, setPathTemplate: "/fixed", setSM4Mode: "CBC", setSM4IV: "zz", "field.msgId": "-",
		setSenderCode: strings.Repeat("x", 30), setTimeout: "soon"})
	_, ds := parseSettings("s", in)
	want := []string{setURL, setRegionCode, setPathTemplate, "envelope", "field.msgId", setSenderCode, setTimeout}
	got := map[string]bool{}
	for _, d := range ds {
		if d.Severity == sdk.SeverityError {
			got[d.Field] = true
		}
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("no error on %s; got %s", w, ds)
		}
	}
}

// TestMissingKeysThenImported: without key files the site is enabled with a
// warning and calls fail with the fix; once the files appear they are used
// without a restart.
func TestMissingKeysThenImported(t *testing.T) {
	t.Parallel()
	kp := testKeys()
	c, _ := parseSettings(testSite, withDefaults(map[string]string{setURL: "http://x", setRegionCode: "350200", setKeyDir: t.TempDir()}))
	sim, err := wisim.New(wisim.Config{Options: c.opts, Keys: kp.SimulatorKeys()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	e := &env{t: t, settings: withDefaults(map[string]string{setURL: srv.URL, setRegionCode: "350200", setKeyDir: dir, setKeyReload: "20ms"}), sim: sim}
	e.host = newHostForTest()
	e.impl = New(WithLogger(discardLogger()))
	e.p = connectPlugin(t, e.impl, e.host)
	r, err := e.p.Configure(t.Context(), &sdk.ConfigureRequest{Site: testSite, Settings: e.settings})
	if err != nil {
		t.Fatal(err)
	}
	if r.Diagnostics.HasError() || len(r.Diagnostics) == 0 || !strings.Contains(r.Diagnostics.String(), "import-keys") {
		t.Fatalf("diagnostics = %q; want a warning naming medgate import-keys", r.Diagnostics)
	}
	resp := e.send("GYU000", map[string]any{})
	if resp.Status != sdk.StatusFailed || !resp.Retryable || !strings.Contains(resp.Diagnostics.String(), "import-keys") {
		t.Fatalf("without keys: %+v %s", resp, resp.Diagnostics)
	}
	if err := kp.WriteAdapterKeys(dir); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the keys are picked up", func() bool { return e.send("GYU000", map[string]any{}).Status == sdk.StatusOK })
}

// TestKeyRotation: new key files replace the old ones without a restart.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	var simCfg *wisim.Config
	e := newEnv(t, withSim(func(c *wisim.Config) { simCfg = c }))
	e.mustOK(e.send("GYU000", map[string]any{}))
	// The national system issues a new pair for us and a new key of its own.
	next, err := wisim.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	cfg := *simCfg
	cfg.Keys = next.SimulatorKeys()
	sim2, err := wisim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = sim2
	if r := e.send("GYU000", map[string]any{}); r.Status == sdk.StatusOK {
		t.Fatal("old keys still accepted by the new national key")
	}
	if err := next.WriteAdapterKeys(e.keyDir); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rotated keys are used", func() bool { return e.send("GYU000", map[string]any{}).Status == sdk.StatusOK })
}

// TestAttachmentDirIsCheckedAtConfigure: an attachmentDir medgate cannot
// create or write to is refused when the site is configured, saying how
// to fix it, instead of failing the first GYD054 download's record; one
// that does not exist yet is made, and the check leaves nothing in it.
func TestAttachmentDirIsCheckedAtConfigure(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly := t.TempDir()
	if err := os.Chmod(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(readOnly, 0o700) })
	missing := filepath.Join(t.TempDir(), "a", "b")
	cases := []struct {
		name, dir string
		refused   bool
		skip      bool
	}{
		{"empty: attachments travel in the events", "", false, false},
		{"missing: made", missing, false, false},
		{"below a file", filepath.Join(file, "sub"), true, false},
		{"not writable", readOnly, true, os.Geteuid() == 0}, // root writes anywhere
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip {
				t.Skip("running as root: every directory is writable")
			}
			_, ds := parseSettings("s", withDefaults(map[string]string{setURL: "http://x", setRegionCode: "350200", setKeyDir: t.TempDir(), setAttachmentDir: tc.dir}))
			var got *sdk.Diagnostic
			for i, d := range ds {
				if d.Field == setAttachmentDir && d.Severity == sdk.SeverityError {
					got = &ds[i]
				}
			}
			if tc.refused != (got != nil) {
				t.Fatalf("attachmentDir %q: refused = %v, want %v (%s)", tc.dir, got != nil, tc.refused, ds)
			}
			if got != nil && !strings.Contains(got.Message(), "leave attachmentDir empty") {
				t.Errorf("the refusal does not say how to fix it: %s", got.Message())
			}
			if tc.dir != "" && !tc.refused {
				left, err := os.ReadDir(tc.dir)
				if err != nil || len(left) != 0 {
					t.Errorf("after the check %s holds %v (%v), want an empty directory", tc.dir, left, err)
				}
			}
		})
	}
}
