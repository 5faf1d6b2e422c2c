package e2e

import (
	"bytes"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/test/harness"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
	"github.com/medgate/medgate/test/testenv"
)

// TestWorkInjuryEnvelopesOpenSSL checks, with the OpenSSL 3 command line
// alone, the work-injury envelopes on the wire between a running medgate
// (the workinjury plugin) and the national system's simulator, for site
// settings that name their own SM2 user id:
//
//   - the request the adapter posts: openssl unwraps the SM4 key with the
//     national private key, decrypts the business data and verifies the
//     signature with the hospital's public key and the configured uid (and
//     refuses it with the default uid);
//   - the simulator's answer, the same way with the other keys;
//   - the reverse: a proxy in front of the simulator replaces the answer's
//     key, data and signature with ones OpenSSL made (fresh SM4 key, SM4
//     encryption, SM2 encryption to the hospital's key, SM2 signature with
//     the configured uid), and the adapter must accept it.
//
// What OpenSSL does not do (raw C1C3C2 or C1C2C3 ↔ its ASN.1 SM2
// ciphertext, r‖s ↔ DER, hex32 keys, the canonical k=v&… string that is
// signed) is written here from the settings' documentation (smenvelope's
// Options); no adapter or simulator code is called.
func TestWorkInjuryEnvelopesOpenSSL(t *testing.T) {
	t.Parallel()
	ossl := newOpenSSLCLI(t)
	cases := map[string]map[string]string{
		"defaults with the site's uid": {"uid": "GSYD-350200-H0001"},
		"ASN1 CBC r‖s HEX ciphertext-signed hex32 key": {
			"uid": "hospital@350200", "cipherOrder": "ASN1", "sm4Mode": "CBC", "sigFormat": "RS",
			"encoding": "HEX", "signTarget": "ciphertext", "keyForm": "hex32",
		},
		"C1C2C3 canonical-signed ascii16 key": {
			"uid": "350200", "cipherOrder": "C1C2C3", "signTarget": "canonical", "keyForm": "ascii16",
		},
	}
	for name, settings := range cases {
		t.Run(name, func(t *testing.T) {
			opts := smenvelope.Defaults()
			opts.UID = settings["uid"]
			for k, v := range settings {
				switch k {
				case "cipherOrder":
					opts.CipherOrder = smenvelope.CipherOrder(v)
				case "sm4Mode":
					opts.SM4Mode = smenvelope.SM4Mode(v)
				case "sigFormat":
					opts.SigFormat = smenvelope.SigFormat(v)
				case "encoding":
					opts.Encoding = smenvelope.Encoding(v)
				case "signTarget":
					opts.SignTarget = smenvelope.SignTarget(v)
				case "keyForm":
					opts.KeyForm = smenvelope.KeyForm(v)
				}
			}
			kp, err := wisim.GenerateKeyPair()
			if err != nil {
				t.Fatal(err)
			}
			sim, err := wisim.New(wisim.Config{Options: opts, Keys: kp.SimulatorKeys(), Region: "350200"})
			if err != nil {
				t.Fatal(err)
			}
			sim.Seed(1, 1)
			o := ossl.in(t)
			national := o.pem("national.pem", kp.National, true)
			nationalPub := o.pem("national_pub.pem", kp.National, false)
			hospital := o.pem("hospital.pem", kp.Hospital, true)
			hospitalPub := o.pem("hospital_pub.pem", kp.Hospital, false)
			w := wireEnv{o: o, opts: opts}

			px := &resealProxy{sim: sim}
			srv := httptest.NewServer(px)
			t.Cleanup(srv.Close)

			bins := harness.Binaries(t)
			cfg := harness.NewConfig(t, nil)
			cfg.Embedded = true
			cfg.Listen = testenv.FreeAddr(t)
			cfg.Brokers = []string{cfg.Listen}
			keyDir := writeAdapterKeys(t, kp, cfg)
			site := map[string]any{"url": srv.URL + "/gsyd", "regionCode": "350200", "keyDir": keyDir, "timeout": "5s"}
			for k, v := range settings {
				site[k] = v
			}
			cfg.Plugins = []string{"workinjury"}
			cfg.Sites = []map[string]any{{"code": "s1", "plugins": map[string]any{"workinjury": map[string]any{"settings": site}}}}
			mg := harness.Start(t, bins, cfg.Write(t, bins))
			in := &ingress{t: t, addr: mg.HTTPAddr}

			// 1. What the adapter sends and the simulator answers, opened by openssl.
			code, r := in.call("workinjury.GYU000", map[string]any{"echo_text": "openssl-1"})
			req, resp := px.last(t)
			pt := w.open(t, "the adapter's request", req, national, hospitalPub)
			var biz map[string]any
			if err := json.Unmarshal(pt, &biz); err != nil || biz["echo_text"] != "openssl-1" {
				t.Fatalf("the adapter's request, decrypted by openssl, is not the GYU000 input: %v: %s", err, pt)
			}
			if w.verify(req, pt, hospitalPub, smenvelope.DefaultUID) == nil {
				t.Errorf("openssl verifies the adapter's signature with the default uid %s: the configured uid %q was not used", smenvelope.DefaultUID, opts.UID)
			}
			if code != http.StatusOK || r.Status != "ok" {
				t.Fatalf("GYU000 through the simulator: HTTP %d, %+v", code, r)
			}
			apt := w.open(t, "the simulator's answer", resp, hospital, nationalPub)
			if !bytes.Contains(apt, []byte("openssl-1")) {
				t.Errorf("the simulator's answer, decrypted by openssl, does not echo the text: %s", apt)
			}

			// 2. An answer sealed by openssl, opened by the adapter.
			// The adapter must take it at once: a retry or a GYD053 query
			// would mean it refused openssl's envelope (and got the
			// simulator's own next).
			before := px.forwarded()
			px.reseal(func(answer []byte) ([]byte, error) { return w.seal(answer, hospital, hospitalPub, national) })
			code, r = in.call("workinjury.GYU000", map[string]any{"echo_text": "openssl-2"})
			if n, err := px.resealed(); n != 1 || err != nil {
				t.Fatalf("the proxy resealed %d answers with openssl, want 1 (%v)", n, err)
			}
			if n := px.forwarded() - before; n != 1 {
				t.Errorf("the adapter sent %d requests for one GYU000 whose answer openssl sealed: it did not accept that answer", n)
			}
			var out map[string]any
			_ = json.Unmarshal(r.Payload, &out)
			if code != http.StatusOK || r.Status != "ok" || out["echo_text"] != "openssl-2" {
				t.Fatalf("the adapter does not accept an answer sealed by openssl with uid %q: HTTP %d, %+v", opts.UID, code, r)
			}
		})
	}
}

// resealProxy forwards every request to the simulator and records the
// exchange; after reseal, it replaces the next answer by what the function
// makes of it (or, when that fails, answers 502 and keeps the error).
type resealProxy struct {
	sim       http.Handler
	mu        sync.Mutex
	req, resp []byte
	fn        func([]byte) ([]byte, error)
	n         int // answers resealed
	calls     int // requests forwarded
	err       error
}

func (p *resealProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec := httptest.NewRecorder()
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	p.sim.ServeHTTP(rec, r2)
	answer := rec.Body.Bytes()
	p.mu.Lock()
	fn := p.fn
	p.fn = nil
	p.mu.Unlock()
	if fn != nil {
		answer, err = fn(answer)
	}
	p.mu.Lock()
	p.req, p.resp = body, answer
	p.calls++
	if fn != nil {
		p.n++
		if err != nil && p.err == nil {
			p.err = err
		}
	}
	p.mu.Unlock()
	if err != nil {
		http.Error(w, "test proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(answer)
}

// last returns the last request and answer as JSON objects.
func (p *resealProxy) last(t *testing.T) (req, resp map[string]any) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.req == nil {
		t.Fatal("the adapter sent nothing to the simulator")
	}
	if err := unmarshalNumbers(p.req, &req); err != nil {
		t.Fatalf("the adapter's request is not a JSON envelope: %v: %.200s", err, p.req)
	}
	if err := unmarshalNumbers(p.resp, &resp); err != nil {
		t.Fatalf("the simulator's answer is not a JSON envelope: %v: %.200s", err, p.resp)
	}
	return req, resp
}

func (p *resealProxy) reseal(fn func([]byte) ([]byte, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fn = fn
}

// resealed returns how many answers were resealed and the first error.
func (p *resealProxy) resealed() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n, p.err
}

// forwarded returns how many requests reached the simulator.
func (p *resealProxy) forwarded() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// unmarshalNumbers decodes JSON keeping numbers as their literal.
func unmarshalNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// opensslCLI is the openssl binary, checked for SM2, SM3 and SM4.
type opensslCLI struct{ bin string }

func newOpenSSLCLI(t *testing.T) opensslCLI {
	t.Helper()
	bin := testenv.Tool(t, "openssl", "openssl")
	o := opensslCLI{bin: bin}.in(t)
	for _, probe := range [][]string{
		{"genpkey", "-algorithm", "SM2", "-out", "probe.pem"},
		{"enc", "-sm4-ecb", "-K", "00112233445566778899aabbccddeeff", "-in", o.write("probe.txt", []byte("x")), "-out", "probe.sm4"},
		{"dgst", "-sm3", "probe.txt"},
	} {
		if _, err := o.try(probe...); err != nil {
			msg := fmt.Sprintf("openssl (%s) lacks SM2, SM3 or SM4: %v; install OpenSSL 3 (deploy/testenv/checkers.sh)", bin, err)
			if os.Getenv(testenv.RequireServicesEnv) == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	return opensslCLI{bin: bin}
}

// osslDir runs openssl in a directory of its own. Its methods may be
// called from the proxy's goroutine: they report errors rather than fail
// the test there.
type osslDir struct {
	t   *testing.T
	bin string
	dir string
}

func (c opensslCLI) in(t *testing.T) *osslDir {
	return &osslDir{t: t, bin: c.bin, dir: t.TempDir()}
}

func (o *osslDir) write(name string, b []byte) string {
	o.t.Helper()
	p := filepath.Join(o.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		o.t.Fatal(err)
	}
	return p
}

// tmp writes b to a new file and returns its path.
func (o *osslDir) tmp(b []byte) (string, error) {
	f, err := os.CreateTemp(o.dir, "in")
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return f.Name(), err
}

// pem writes k (its private key, or its public key) as PEM for openssl.
func (o *osslDir) pem(name string, k *sm2.PrivateKey, private bool) string {
	o.t.Helper()
	var b []byte
	var err error
	if private {
		b, err = smenvelope.MarshalPrivateKeyPEM(k)
	} else {
		b, err = smenvelope.MarshalPublicKeyPEM(&k.PublicKey)
	}
	if err != nil {
		o.t.Fatal(err)
	}
	return o.write(name, b)
}

func (o *osslDir) try(args ...string) ([]byte, error) {
	cmd := exec.Command(o.bin, args...)
	cmd.Dir = o.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("openssl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// with runs openssl with args, the last one's bytes given as a file (the
// input file's path is appended after inFlag).
func (o *osslDir) with(in []byte, inFlag string, args ...string) ([]byte, error) {
	p, err := o.tmp(in)
	if err != nil {
		return nil, err
	}
	if inFlag != "" {
		args = append(args, inFlag)
	}
	return o.try(append(args, p)...)
}

// wireEnv reads and writes the envelope members of one site's settings.
type wireEnv struct {
	o    *osslDir
	opts smenvelope.Options
}

func (w wireEnv) decode(what, s string) ([]byte, error) {
	if w.opts.Encoding == smenvelope.Base64 {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%s is not base64: %w", what, err)
		}
		return b, nil
	}
	if w.opts.Encoding == smenvelope.HexUpper && s != strings.ToUpper(s) {
		return nil, fmt.Errorf("%s is not upper-case hex, as encoding HEX says: %.40s", what, s)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s is not hex: %w", what, err)
	}
	return b, nil
}

func (w wireEnv) encode(b []byte) string {
	switch w.opts.Encoding {
	case smenvelope.Base64:
		return base64.StdEncoding.EncodeToString(b)
	case smenvelope.HexUpper:
		return strings.ToUpper(hex.EncodeToString(b))
	}
	return hex.EncodeToString(b)
}

// member returns the envelope member name as bytes, decoded.
func (w wireEnv) member(env map[string]any, name string) ([]byte, error) {
	s, ok := env[name].(string)
	if !ok || s == "" {
		return nil, fmt.Errorf("the envelope has no %q member (it has %v)", name, slices.Sorted(maps.Keys(env)))
	}
	return w.decode("member "+name, s)
}

// sm2Cipher is OpenSSL's SM2 ciphertext (GM/T 0009).
type sm2Cipher struct {
	X, Y       *big.Int
	Hash, Data []byte
}

// decrypt decrypts an envelope with openssl: the SM4 key with priv, then
// the data with SM4.
func (w wireEnv) decrypt(env map[string]any, priv string) ([]byte, error) {
	f := w.opts.Fields
	ek, err := w.member(env, f.Key)
	if err != nil {
		return nil, err
	}
	if w.opts.CipherOrder != smenvelope.ASN1 {
		// 04 ‖ X ‖ Y ‖ C3 ‖ C2 (or C2 ‖ C3) → SEQUENCE{X, Y, C3, C2}.
		if len(ek) < 1+64+32+1 || ek[0] != 4 {
			return nil, fmt.Errorf("the SM2 ciphertext is not 04‖C1‖…: %d bytes, %x…", len(ek), ek[:min(2, len(ek))])
		}
		c := sm2Cipher{X: new(big.Int).SetBytes(ek[1:33]), Y: new(big.Int).SetBytes(ek[33:65])}
		if w.opts.CipherOrder == smenvelope.C1C3C2 {
			c.Hash, c.Data = ek[65:97], ek[97:]
		} else {
			c.Data, c.Hash = ek[65:len(ek)-32], ek[len(ek)-32:]
		}
		if ek, err = asn1.Marshal(c); err != nil {
			return nil, err
		}
	}
	key, err := w.o.with(ek, "-in", "pkeyutl", "-decrypt", "-inkey", priv)
	if err != nil {
		return nil, err
	}
	if w.opts.KeyForm == smenvelope.Hex32 {
		k, err := hex.DecodeString(string(key))
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("keyForm hex32, but the SM2-decrypted key is %d bytes that are not 32 hex characters", len(key))
		}
		key = k
	}
	if len(key) != 16 {
		return nil, fmt.Errorf("the SM2-decrypted SM4 key has %d bytes, want 16", len(key))
	}
	ct, err := w.member(env, f.Data)
	if err != nil {
		return nil, err
	}
	args := []string{"enc", "-d", "-K", hex.EncodeToString(key)}
	switch {
	case w.opts.SM4Mode == smenvelope.ECB:
		args = append(args, "-sm4-ecb")
	case w.opts.SM4IV != "":
		args = append(args, "-sm4-cbc", "-iv", w.opts.SM4IV)
	default:
		if len(ct) < 32 {
			return nil, fmt.Errorf("CBC data of %d bytes has no IV in front", len(ct))
		}
		args = append(args, "-sm4-cbc", "-iv", hex.EncodeToString(ct[:16]))
		ct = ct[16:]
	}
	return w.o.with(ct, "-in", args...)
}

// signed is what the signature covers.
func (w wireEnv) signed(env map[string]any, pt []byte) ([]byte, error) {
	switch w.opts.SignTarget {
	case smenvelope.SignPlaintext:
		return pt, nil
	case smenvelope.SignCiphertext:
		s, _ := env[w.opts.Fields.Data].(string)
		return []byte(s), nil
	case smenvelope.SignCanonical:
		// k1=v1&k2=v2&…: every member but the signature and the excluded
		// ones, sorted by name; empty and null values left out; numbers
		// as their JSON literal, objects and arrays as compact JSON.
		skip := map[string]bool{w.opts.Fields.Sign: true}
		for _, n := range w.opts.CanonicalExclude {
			skip[n] = true
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(env)) {
			if skip[k] {
				continue
			}
			var v string
			switch x := env[k].(type) {
			case nil:
			case string:
				v = x
			case json.Number:
				v = x.String()
			case bool:
				v = fmt.Sprint(x)
			default:
				b, err := json.Marshal(x)
				if err != nil {
					return nil, err
				}
				v = string(b)
			}
			if v == "" && !w.opts.CanonicalKeepEmpty {
				continue
			}
			parts = append(parts, k+"="+v)
		}
		return []byte(strings.Join(parts, "&")), nil
	}
	return nil, fmt.Errorf("signTarget %s is not checked here", w.opts.SignTarget)
}

// verify checks the envelope's signature with openssl, pub and uid.
func (w wireEnv) verify(env map[string]any, pt []byte, pub, uid string) error {
	sig, err := w.member(env, w.opts.Fields.Sign)
	if err != nil {
		return err
	}
	if w.opts.SigFormat == smenvelope.SigRS {
		if len(sig) != 64 {
			return fmt.Errorf("sigFormat RS, but the signature has %d bytes", len(sig))
		}
		if sig, err = asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])}); err != nil {
			return err
		}
	}
	msg, err := w.signed(env, pt)
	if err != nil {
		return err
	}
	sp, err := w.o.tmp(sig)
	if err != nil {
		return err
	}
	out, err := w.o.with(msg, "", "dgst", "-sm3", "-verify", pub, "-sigopt", "distid:"+uid, "-signature", sp)
	if err != nil {
		return err
	}
	if !strings.Contains(string(out), "Verified OK") {
		return fmt.Errorf("openssl dgst -verify printed %q", out)
	}
	return nil
}

// open decrypts the envelope with priv and verifies it with pub and the
// configured uid, failing the test on any problem.
func (w wireEnv) open(t *testing.T, what string, env map[string]any, priv, pub string) []byte {
	t.Helper()
	pt, err := w.decrypt(env, priv)
	if err != nil {
		t.Fatalf("%s: openssl cannot decrypt it: %v", what, err)
	}
	if err := w.verify(env, pt, pub, w.opts.UID); err != nil {
		t.Fatalf("%s: openssl does not verify its signature with the configured uid %q: %v", what, w.opts.UID, err)
	}
	return pt
}

// seal replaces the answer's key, data and signature by ones openssl
// makes: the answer is decrypted with the hospital's key, its business
// data encrypted again under a fresh SM4 key, that key encrypted to the
// hospital's public key, and the whole signed with the national key and
// the configured uid.
func (w wireEnv) seal(answer []byte, hospital, hospitalPub, national string) ([]byte, error) {
	var env map[string]any
	if err := unmarshalNumbers(answer, &env); err != nil {
		return nil, fmt.Errorf("the simulator's answer is not JSON: %w", err)
	}
	f := w.opts.Fields
	pt, err := w.decrypt(env, hospital)
	if err != nil {
		return nil, err
	}
	raw, err := w.o.try("rand", "16")
	if w.opts.KeyForm == smenvelope.ASCII16 {
		// 16 characters of [0-9a-f], whose bytes are the SM4 key.
		raw, err = w.o.try("rand", "-hex", "8")
		raw = bytes.TrimSpace(raw)
	}
	if err != nil {
		return nil, err
	}
	wrapped := raw
	if w.opts.KeyForm == smenvelope.Hex32 {
		wrapped = []byte(hex.EncodeToString(raw))
	}
	ek, err := w.o.with(wrapped, "-in", "pkeyutl", "-encrypt", "-pubin", "-inkey", hospitalPub)
	if err != nil {
		return nil, err
	}
	if w.opts.CipherOrder != smenvelope.ASN1 {
		var c sm2Cipher
		if rest, err := asn1.Unmarshal(ek, &c); err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("openssl's SM2 ciphertext is not SEQUENCE{x, y, hash, data}: %v", err)
		}
		b := []byte{4}
		b = append(b, c.X.FillBytes(make([]byte, 32))...)
		b = append(b, c.Y.FillBytes(make([]byte, 32))...)
		if w.opts.CipherOrder == smenvelope.C1C3C2 {
			b = append(append(b, c.Hash...), c.Data...)
		} else {
			b = append(append(b, c.Data...), c.Hash...)
		}
		ek = b
	}
	args := []string{"enc", "-K", hex.EncodeToString(raw)}
	var iv []byte
	switch {
	case w.opts.SM4Mode == smenvelope.ECB:
		args = append(args, "-sm4-ecb")
	case w.opts.SM4IV != "":
		args = append(args, "-sm4-cbc", "-iv", w.opts.SM4IV)
	default:
		if iv, err = w.o.try("rand", "16"); err != nil {
			return nil, err
		}
		args = append(args, "-sm4-cbc", "-iv", hex.EncodeToString(iv))
	}
	ct, err := w.o.with(pt, "-in", args...)
	if err != nil {
		return nil, err
	}
	env[f.Key] = w.encode(ek)
	env[f.Data] = w.encode(append(iv, ct...))
	msg, err := w.signed(env, pt)
	if err != nil {
		return nil, err
	}
	sig, err := w.o.with(msg, "", "dgst", "-sm3", "-sign", national, "-sigopt", "distid:"+w.opts.UID)
	if err != nil {
		return nil, err
	}
	if w.opts.SigFormat == smenvelope.SigRS {
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(sig, &rs); err != nil {
			return nil, fmt.Errorf("openssl's SM2 signature is not DER: %w", err)
		}
		sig = append(rs.R.FillBytes(make([]byte, 32)), rs.S.FillBytes(make([]byte, 32))...)
	}
	env[f.Sign] = w.encode(sig)
	return json.Marshal(env)
}
