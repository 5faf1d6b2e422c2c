package workinjury

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/smenvelope"
)

// gyu000 is a connectivity-test input the GYU000 schema accepts.
var gyu000 = []byte(`{"aab301":"350200","aae036":"2025-04-01 09:30:00"}`)

// exchange posts a request sealed with the adapter's library (smenvelope)
// under adapter to a simulator configured with sim, and returns the
// simulator and its raw answer.
func exchange(t *testing.T, sim, adapter smenvelope.Options, serial string) (*Server, map[string]any, []byte) {
	t.Helper()
	kp := keysOnce()
	s, err := New(Config{Options: sim, Keys: kp.SimulatorKeys()})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	if adapter.Fields.TxCode != "" {
		env[adapter.Fields.TxCode] = "GYU000"
	}
	if adapter.Fields.MsgID != "" {
		env[adapter.Fields.MsgID] = serial
	}
	body, err := smenvelope.SealJSON(adapter, kp.AdapterKeys(), env, gyu000)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d %s", rec.Code, rec.Body)
	}
	var ans map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return s, ans, rec.Body.Bytes()
}

// TestEnvelopeRefusesAnotherForm: a request whose envelope deviates from
// the configured form in one setting is refused and never processed,
// even where the adapter's own library would open it (its Open tries the
// other layouts, formats and key forms unless StrictOpen is set). So if
// the adapter's library sealed in a form other than the one configured,
// the simulator would say so rather than mirror the bug.
func TestEnvelopeRefusesAnotherForm(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		sim, adapter func(*smenvelope.Options)
		want         []string // the refusal codes that may answer
	}{
		"C1C2C3 sent, C1C3C2 configured": {adapter: func(o *smenvelope.Options) { o.CipherOrder = smenvelope.C1C2C3 }, want: []string{"E0003"}},
		"C1C3C2 sent, C1C2C3 configured": {sim: func(o *smenvelope.Options) { o.CipherOrder = smenvelope.C1C2C3 }, want: []string{"E0003"}},
		"ASN.1 sent, C1C3C2 configured":  {adapter: func(o *smenvelope.Options) { o.CipherOrder = smenvelope.ASN1 }, want: []string{"E0003"}},
		"C1C3C2 sent, ASN.1 configured":  {sim: func(o *smenvelope.Options) { o.CipherOrder = smenvelope.ASN1 }, want: []string{"E0003"}},
		"no 04 prefix sent, configured":  {adapter: func(o *smenvelope.Options) { o.PointPrefix = false }, want: []string{"E0003"}},
		"04 prefix sent, not configured": {sim: func(o *smenvelope.Options) { o.PointPrefix = false }, want: []string{"E0003"}},
		"r‖s sent, DER configured":       {adapter: func(o *smenvelope.Options) { o.SigFormat = smenvelope.SigRS }, want: []string{"E0001"}},
		"DER sent, r‖s configured":       {sim: func(o *smenvelope.Options) { o.SigFormat = smenvelope.SigRS }, want: []string{"E0001"}},
		"hex32 key sent, raw16":          {adapter: func(o *smenvelope.Options) { o.KeyForm = smenvelope.Hex32 }, want: []string{"E0003"}},
		"raw16 key sent, hex32":          {sim: func(o *smenvelope.Options) { o.KeyForm = smenvelope.Hex32 }, want: []string{"E0003"}},
		"raw16 key sent, ascii16":        {sim: func(o *smenvelope.Options) { o.KeyForm = smenvelope.ASCII16 }, want: []string{"E0003"}},
		"HEX sent, hex configured": {
			sim:     func(o *smenvelope.Options) { o.Encoding = smenvelope.HexLower },
			adapter: func(o *smenvelope.Options) { o.Encoding = smenvelope.HexUpper }, want: []string{"E0001"}},
		"hex sent, HEX configured": {
			sim:     func(o *smenvelope.Options) { o.Encoding = smenvelope.HexUpper },
			adapter: func(o *smenvelope.Options) { o.Encoding = smenvelope.HexLower }, want: []string{"E0001"}},
		// A wrong mode decrypts to garbage: the padding check or, when
		// the garbage happens to end in valid padding, the signature over
		// the plaintext refuses it.
		"CBC sent, ECB configured": {adapter: func(o *smenvelope.Options) { o.SM4Mode = smenvelope.CBC }, want: []string{"E0003", "E0001"}},
		"fixed IV sent, random IV configured": {
			sim:     func(o *smenvelope.Options) { o.SM4Mode = smenvelope.CBC },
			adapter: func(o *smenvelope.Options) { o.SM4Mode, o.SM4IV = smenvelope.CBC, "000102030405060708090a0b0c0d0e0f" }, want: []string{"E0003", "E0001"}},
		"canonical sent, ciphertext configured": {
			sim:     func(o *smenvelope.Options) { o.SignTarget = smenvelope.SignCiphertext },
			adapter: func(o *smenvelope.Options) { o.SignTarget = smenvelope.SignCanonical }, want: []string{"E0001"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sim, adapter := smenvelope.Defaults(), smenvelope.Defaults()
			if tc.sim != nil {
				tc.sim(&sim)
			}
			if tc.adapter != nil {
				tc.adapter(&adapter)
			}
			s, ans, _ := exchange(t, sim, adapter, "R1")
			if code, _ := ans["code"].(string); !slices.Contains(tc.want, code) {
				t.Fatalf("answer %v; want one of %v", ans, tc.want)
			}
			if got := s.Received(""); len(got) != 0 {
				t.Fatalf("the simulator processed a refused request: %+v", got)
			}
		})
	}
}

// TestEnvelopeCrossCheck: requests sealed by the adapter's library open in
// the simulator, and the simulator's answers open in that library with
// StrictOpen (only the configured forms), for every value of every
// envelope setting: the SM2 settings (layout, point prefix, key form,
// signature format) all combined, the others (encoding, signature target,
// SM4 mode and IV, signature format) all combined, and the remaining
// settings one at a time.
func TestEnvelopeCrossCheck(t *testing.T) {
	t.Parallel()
	type set = func(*smenvelope.Options)
	cases := map[string]set{}
	for _, order := range []smenvelope.CipherOrder{smenvelope.C1C3C2, smenvelope.C1C2C3, smenvelope.ASN1} {
		for _, prefix := range []bool{true, false} {
			for _, kf := range []smenvelope.KeyForm{smenvelope.Raw16, smenvelope.ASCII16, smenvelope.Hex32} {
				for _, sf := range []smenvelope.SigFormat{smenvelope.SigDER, smenvelope.SigRS} {
					cases[fmt.Sprintf("%s prefix=%t %s %s", order, prefix, kf, sf)] = func(o *smenvelope.Options) {
						o.CipherOrder, o.PointPrefix, o.KeyForm, o.SigFormat = order, prefix, kf, sf
					}
				}
			}
		}
	}
	sm4 := []struct {
		mode smenvelope.SM4Mode
		iv   string
	}{{smenvelope.ECB, ""}, {smenvelope.CBC, ""}, {smenvelope.CBC, "000102030405060708090a0b0c0d0e0f"}}
	for _, enc := range []smenvelope.Encoding{smenvelope.Base64, smenvelope.HexLower, smenvelope.HexUpper} {
		for _, st := range []smenvelope.SignTarget{smenvelope.SignPlaintext, smenvelope.SignCiphertext, smenvelope.SignCanonical} {
			for _, m := range sm4 {
				for _, sf := range []smenvelope.SigFormat{smenvelope.SigDER, smenvelope.SigRS} {
					cases[fmt.Sprintf("%s sign %s %s iv=%q %s", enc, st, m.mode, m.iv, sf)] = func(o *smenvelope.Options) {
						o.Encoding, o.SignTarget, o.SM4Mode, o.SM4IV, o.SigFormat = enc, st, m.mode, m.iv, sf
					}
				}
			}
		}
	}
	cases["canonical, exclude and keep empty"] = func(o *smenvelope.Options) {
		o.SignTarget, o.CanonicalExclude, o.CanonicalKeepEmpty = smenvelope.SignCanonical, []string{"timestamp", "signType"}, true
	}
	cases["uid"] = func(o *smenvelope.Options) { o.UID = "ALICE123@YAHOO.COM" }
	cases["sign type value"] = func(o *smenvelope.Options) { o.SignTypeValue = "SM2WithSM3" }
	cases["timestamp unix"] = func(o *smenvelope.Options) { o.TimestampLayout = smenvelope.TimestampUnix }
	cases["timestamp unix ms"] = func(o *smenvelope.Options) { o.TimestampLayout = smenvelope.TimestampUnixMilli }
	cases["success codes"] = func(o *smenvelope.Options) { o.SuccessCodes = []string{"000000", "0"} }
	cases["strict open, signed errors only"] = func(o *smenvelope.Options) { o.StrictOpen, o.UnsignedErrors = true, false }
	cases["field names"] = func(o *smenvelope.Options) {
		o.SignTarget = smenvelope.SignCanonical
		o.Fields.TxCode, o.Fields.MsgID, o.Fields.Key, o.Fields.Data = "jydm", "jylsh", "encKey", "encData"
		o.Fields.Sign, o.Fields.Code, o.Fields.Message = "signData", "returnCode", "returnMsg"
	}
	cases["fields left out"] = func(o *smenvelope.Options) {
		o.SignTarget = smenvelope.SignCanonical
		o.Fields.Sender, o.Fields.Receiver, o.Fields.Version, o.Fields.SignType, o.Fields.Timestamp = "", "", "", "", ""
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := smenvelope.Defaults()
			mutate(&o)
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			s, ans, body := exchange(t, o, o, "X1")
			if got := s.Received("GYU000"); len(got) != 1 || got[0].Serial != "X1" || got[0].Input["aab301"] != "350200" {
				t.Fatalf("the simulator opened %+v; answer %v", got, ans)
			}
			strict := o
			strict.StrictOpen = true
			plain, env, err := smenvelope.Open(strict, keysOnce().AdapterKeys(), body)
			if err != nil {
				t.Fatalf("the adapter's library does not open the answer in the configured form: %v (answer %v)", err, ans)
			}
			if env[o.Fields.Code] != o.SuccessCodes[0] || !bytes.Contains(plain, []byte(`"aae036":`)) {
				t.Fatalf("answer %v with data %s", env, plain)
			}
		})
	}
}

// TestEnvelopeKnownAnswers checks the simulator's primitives against the
// examples of the standards themselves, so that neither library's
// agreement with the other is the only evidence: SM4 (GM/T 0002-2012
// appendix A, example 1), and on the recommended curve (GM/T 0003.5) the
// decryption of "encryption standard" in both raw layouts and ASN.1, and
// the signature of "message digest" with uid 1234567812345678.
func TestEnvelopeKnownAnswers(t *testing.T) {
	t.Parallel()
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	e, err := newEnvelope(smenvelope.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	key := unhex("0123456789abcdeffedcba9876543210")
	ct, err := e.sm4Encrypt(key, key)
	if err != nil || hex.EncodeToString(ct[:16]) != "681edf34d206965e86b3e94f536e4246" || len(ct) != 32 {
		t.Fatalf("SM4-ECB of the GM/T 0002 example = %x, %v", ct, err)
	}
	if pt, err := e.sm4Decrypt(key, ct); err != nil || !bytes.Equal(pt, key) {
		t.Fatalf("SM4-ECB decryption = %x, %v", pt, err)
	}

	d, _ := new(big.Int).SetString("3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8", 16)
	priv, err := sm2Private(&ecdsa.PrivateKey{D: d})
	if err != nil {
		t.Fatal(err)
	}
	if want := "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"; hex.EncodeToString(priv.X.FillBytes(make([]byte, 32))) != want {
		t.Fatalf("public x of the example key = %x, want %s", priv.X, want)
	}
	c1 := unhex("04ebfc718e8d1798620432268e77feb6415e2ede0e073c0f4f640ecd2e149a73" + "e858f9d81e5430a57b36daab8f950a3c64e6ee6a63094d99283aff767e124df0")
	c3 := unhex("59983c18f809e262923c53aec295d30383b54e39d609d160afcb1908d0bd8766")
	c2 := unhex("21886ca989ca9c7d58087307ca93092d651efa")
	layouts := map[smenvelope.CipherOrder][]byte{
		smenvelope.C1C3C2: slices.Concat([]byte{4}, c1, c3, c2),
		smenvelope.C1C2C3: slices.Concat([]byte{4}, c1, c2, c3),
	}
	for order, in := range layouts {
		o := smenvelope.Defaults()
		o.CipherOrder = order
		e, _ := newEnvelope(o)
		if pt, err := e.sm2Decrypt(priv, in); err != nil || string(pt) != "encryption standard" {
			t.Errorf("%s: decryption of the GM/T 0003.5 example = %q, %v", order, pt, err)
		}
		other := smenvelope.C1C2C3
		if order == other {
			other = smenvelope.C1C3C2
		}
		if _, err := e.sm2Decrypt(priv, layouts[other]); err == nil {
			t.Errorf("%s: the %s layout decrypts too", order, other)
		}
	}
	o := smenvelope.Defaults()
	o.CipherOrder = smenvelope.ASN1
	ea, _ := newEnvelope(o)
	der, err := ea.sm2Encrypt(&priv.PublicKey, []byte("encryption standard"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := ea.sm2Decrypt(priv, der); err != nil || string(pt) != "encryption standard" || der[0] != 0x30 {
		t.Errorf("ASN.1 round trip: %q, %v (starts %#x)", pt, err, der[0])
	}

	o = smenvelope.Defaults()
	o.SigFormat = smenvelope.SigRS // and the default uid 1234567812345678
	er, _ := newEnvelope(o)
	r, s, err := er.parseSignature(unhex("f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3" + "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa"))
	if err != nil {
		t.Fatal(err)
	}
	if !er.verify(&priv.PublicKey, []byte("message digest"), r, s) {
		t.Error("the GM/T 0003.5 example signature does not verify")
	}
	if er.verify(&priv.PublicKey, []byte("message digesT"), r, s) {
		t.Error("the example signature verifies over another message")
	}
	o.UID = "ALICE123@YAHOO.COM"
	if eu, _ := newEnvelope(o); eu.verify(&priv.PublicKey, []byte("message digest"), r, s) {
		t.Error("the example signature verifies with another uid")
	}
}

// TestNewRefusesWhatItCannotSimulate: a setting the simulator does not
// implement, or a key that is not an SM2 key, is refused by New with the
// setting named, every problem at once.
func TestNewRefusesWhatItCannotSimulate(t *testing.T) {
	t.Parallel()
	kp := keysOnce()
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		mutate func(*Config)
		want   []string
	}{
		"cipher order":    {func(c *Config) { c.Options.CipherOrder = "C2C1C3" }, []string{`cipherOrder "C2C1C3"`}},
		"signature":       {func(c *Config) { c.Options.SigFormat = "PEM" }, []string{`sigFormat "PEM"`}},
		"encoding":        {func(c *Config) { c.Options.Encoding = "base32" }, []string{`encoding "base32"`}},
		"sign target":     {func(c *Config) { c.Options.SignTarget = "header" }, []string{`signTarget "header"`}},
		"sm4 mode":        {func(c *Config) { c.Options.SM4Mode = "GCM" }, []string{`sm4Mode "GCM"`}},
		"sm4 IV":          {func(c *Config) { c.Options.SM4Mode, c.Options.SM4IV = "CBC", "0011" }, []string{`sm4IV "0011"`}},
		"key form":        {func(c *Config) { c.Options.KeyForm = "raw32" }, []string{`keyForm "raw32"`}},
		"no uid":          {func(c *Config) { c.Options.UID = "" }, []string{"uid"}},
		"no sign member":  {func(c *Config) { c.Options.Fields.Sign = "" }, []string{"fields.sign"}},
		"same name twice": {func(c *Config) { c.Options.Fields.Data = "key" }, []string{`fields.key and fields.data are both "key"`}},
		"every problem": {func(c *Config) { c.Options.SM4Mode, c.Options.KeyForm = "OFB", "" },
			[]string{"2 problem(s)", `sm4Mode "OFB"`, `keyForm ""`}},
		"a P-256 hospital key": {func(c *Config) { c.Keys.PeerPublic = &p256.PublicKey }, []string{"Keys.PeerPublic"}},
		"a P-256 sender key": {func(c *Config) { c.Senders = map[string]*ecdsa.PublicKey{"SITEA": &p256.PublicKey} },
			[]string{`Senders["SITEA"]`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Options: smenvelope.Defaults(), Keys: kp.SimulatorKeys()}
			tc.mutate(&cfg)
			_, err := New(cfg)
			if err == nil {
				t.Fatal("New accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

// FuzzEnvelopeOpen: whatever the key, data and signature members hold, in
// any SM2 layout, open returns an error or the plaintext and never panics
// (some SM2 implementations panic on short ciphertext; open checks its
// length and point first).
func FuzzEnvelopeOpen(f *testing.F) {
	kp := keysOnce()
	s, err := New(Config{Options: smenvelope.Defaults(), Keys: kp.SimulatorKeys()})
	if err != nil {
		f.Fatal(err)
	}
	keys, _ := s.keysOf("")
	layouts := []smenvelope.CipherOrder{smenvelope.C1C3C2, smenvelope.C1C2C3, smenvelope.ASN1}
	envs := make([]*envelope, 0, 2*len(layouts))
	for _, order := range layouts {
		for _, prefix := range []bool{true, false} {
			o := smenvelope.Defaults()
			o.CipherOrder, o.PointPrefix = order, prefix
			e, err := newEnvelope(o)
			if err != nil {
				f.Fatal(err)
			}
			envs = append(envs, e)
		}
	}
	for i, e := range envs {
		sealed, err := e.seal(keys.priv, &keys.priv.PublicKey, map[string]string{"infno": "GYU000"}, gyu000, time.Now())
		if err != nil {
			f.Fatal(err)
		}
		k, _ := e.decode(sealed["key"].(string))
		d, _ := e.decode(sealed["data"].(string))
		sg, _ := e.decode(sealed["sign"].(string))
		f.Add(uint8(i), k, d, sg)
		f.Add(uint8(i), k[:len(k)/2], d, sg)
	}
	f.Add(uint8(0), []byte{4}, []byte{}, []byte{0x30, 0})
	f.Fuzz(func(t *testing.T, which uint8, key, data, sig []byte) {
		e := envs[int(which)%len(envs)]
		body, _ := json.Marshal(map[string]string{"infno": "GYU000", "key": e.encode(key), "data": e.encode(data), "sign": e.encode(sig)})
		if plain, err := e.open(keys.priv, keys.peer, body); err == nil && plain == nil {
			t.Fatal("open succeeded without business data")
		}
	})
}
