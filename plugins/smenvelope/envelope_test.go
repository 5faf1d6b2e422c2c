package smenvelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultsValid(t *testing.T) {
	if err := Defaults().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, o := range allCombos() {
		if err := o.Validate(); err != nil {
			t.Fatalf("%s: %v", comboName(o), err)
		}
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	var zero Options
	err := zero.Validate()
	var oe *OptionsError
	if !errors.As(err, &oe) {
		t.Fatalf("zero Options: %v", err)
	}
	// key, data, sign, successCodes, cipherOrder, sigFormat, encoding, signTarget, sm4Mode, keyForm, uid.
	if len(oe.Problems) != 11 {
		t.Errorf("zero Options: %d problems, want 11: %v", len(oe.Problems), oe.Problems)
	}

	o := Defaults()
	o.Fields.MsgID = "data" // duplicates fields.data
	o.SM4Mode, o.SM4IV = CBC, "00zz"
	o.Encoding = "Base64"
	o.SignTypeValue = ""
	o.TimestampLayout = ""
	err = o.Validate()
	if !errors.As(err, &oe) || len(oe.Problems) != 5 {
		t.Fatalf("want 5 problems, got %v", err)
	}
	for _, want := range []string{`"data"`, "sm4IV", `encoding "Base64"`, "signTypeValue", "timestampLayout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, err := Seal(o, Keys{}, nil, nil); !errors.As(err, &oe) {
		t.Errorf("Seal with invalid options: %v", err)
	}
	if _, _, err := Open(o, Keys{}, []byte("{}")); !errors.As(err, &oe) {
		t.Errorf("Open with invalid options: %v", err)
	}
}

// Every option combination: peer seals, we open (and, with StrictOpen, the
// configured forms alone suffice).
func TestSealOpenAllCombinations(t *testing.T) {
	ours, peer := testKeys(t)
	business := businessJSON(300)
	combos := allCombos()
	if len(combos) != 810 {
		t.Fatalf("%d combinations, want 810", len(combos))
	}
	for _, o := range combos {
		for _, strict := range []bool{false, true} {
			o.StrictOpen = strict
			body := sealJSON(t, o, peer, testEnv(), business)
			got, env, err := Open(o, ours, body)
			if err != nil {
				t.Fatalf("%s strict=%v: Open: %v", comboName(o), strict, err)
			}
			if !bytes.Equal(got, business) {
				t.Fatalf("%s: business mismatch", comboName(o))
			}
			if env["infno"] != "GYU101" || env["signType"] != "SM2" || env["timestamp"] == nil {
				t.Fatalf("%s: envelope fields lost: %v", comboName(o), env)
			}
			// The other direction (simulator opens our request) works with the swapped keys.
			if o.StrictOpen {
				body = sealJSON(t, o, ours, testEnv(), business)
				if got, _, err := Open(o, peer, body); err != nil || !bytes.Equal(got, business) {
					t.Fatalf("%s: reverse direction: %v", comboName(o), err)
				}
			}
		}
	}
}

func TestSealShape(t *testing.T) {
	ours, peer := testKeys(t)
	fixed := time.Date(2026, 3, 4, 1, 2, 3, 0, time.UTC)
	defer func(f func() time.Time) { now = f }(now)
	now = func() time.Time { return fixed }

	o := Defaults()
	m, err := Seal(o, ours, testEnv(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if m["timestamp"] != "2026-03-04 09:02:03" {
		t.Errorf("timestamp = %v, want UTC+8 2026-03-04 09:02:03", m["timestamp"])
	}
	for _, k := range []string{"infno", "msgid", "sender", "receiver", "version", "key", "data", "sign", "signType", "timestamp"} {
		if _, ok := m[k]; !ok {
			t.Errorf("field %q missing", k)
		}
	}
	// Default: base64, 04‖C1‖C3‖C2 of a 16-byte key = 113 bytes, one padded block of data.
	ek, _ := decodeText(Base64, m["key"].(string))
	if len(ek) != 113 || ek[0] != 4 {
		t.Errorf("encrypted key is %d bytes starting %x, want 113 starting 04", len(ek), ek[:1])
	}
	ct, _ := decodeText(Base64, m["data"].(string))
	if len(ct) != 16 {
		t.Errorf("encrypted data is %d bytes, want 16", len(ct))
	}
	if got, _, err := Open(o, peer, mustJSON(t, m)); err != nil || string(got) != "{}" {
		t.Fatalf("Open: %q %v", got, err)
	}

	// Caller-supplied timestamp and signType are kept; unix layouts.
	env := testEnv()
	env["timestamp"], env["signType"] = "T", "SM3withSM2"
	m, _ = Seal(o, ours, env, nil)
	if m["timestamp"] != "T" || m["signType"] != "SM3withSM2" {
		t.Errorf("caller fields overwritten: %v %v", m["timestamp"], m["signType"])
	}
	o.TimestampLayout = TimestampUnixMilli
	m, _ = Seal(o, ours, nil, nil)
	if m["timestamp"] != "1772586123000" {
		t.Errorf("unixms timestamp = %v", m["timestamp"])
	}
	// Hex encodings and RS signatures have the documented shape.
	o = Defaults()
	o.Encoding, o.SigFormat, o.PointPrefix = HexUpper, SigRS, false
	m, _ = Seal(o, ours, nil, []byte("x"))
	if s := m["sign"].(string); len(s) != 128 || strings.ToUpper(s) != s {
		t.Errorf("HEX RS signature = %q", s)
	}
	if k := m["key"].(string); len(k) != 224 {
		t.Errorf("HEX C1C3C2 key without prefix is %d chars, want 224", len(k))
	}
	// Empty field names are not written.
	o = Defaults()
	o.Fields.Timestamp, o.Fields.SignType = "", ""
	m, _ = Seal(o, ours, nil, nil)
	if _, ok := m["timestamp"]; ok {
		t.Error("timestamp written although its field name is empty")
	}
	if _, ok := m[""]; ok {
		t.Error("empty member name written")
	}
}

func TestSealRejects(t *testing.T) {
	ours, _ := testKeys(t)
	o := Defaults()
	if _, err := Seal(o, ours, map[string]string{"sign": "x"}, nil); err == nil || !strings.Contains(err.Error(), `"sign"`) {
		t.Errorf("env with the sign field: %v", err)
	}
	if _, err := Seal(o, Keys{Private: ours.Private}, nil, nil); err == nil || !strings.Contains(err.Error(), "PeerPublic") {
		t.Errorf("missing peer key: %v", err)
	}
	if _, err := Seal(o, Keys{PeerPublic: ours.PeerPublic}, nil, nil); err == nil || !strings.Contains(err.Error(), "Private") {
		t.Errorf("missing private key: %v", err)
	}
}

func TestStrictOpenRejectsOtherForms(t *testing.T) {
	ours, peer := testKeys(t)
	for _, tc := range []struct {
		name   string
		change func(*Options)
		class  error
	}{
		{"C1C2C3 for C1C3C2", func(o *Options) { o.CipherOrder = C1C2C3 }, ErrMalformed},
		{"ASN1 for C1C3C2", func(o *Options) { o.CipherOrder = ASN1 }, ErrMalformed},
		{"no 04 prefix", func(o *Options) { o.PointPrefix = false }, ErrMalformed},
		{"RS for DER", func(o *Options) { o.SigFormat = SigRS }, ErrBadSignature},
		{"hex32 for raw16", func(o *Options) { o.KeyForm = Hex32 }, ErrMalformed},
	} {
		send := Defaults()
		tc.change(&send)
		body := sealJSON(t, send, peer, nil, []byte(`{"a":1}`))
		recv := Defaults()
		if got, _, err := Open(recv, ours, body); err != nil || string(got) != `{"a":1}` {
			t.Errorf("%s: lenient Open: %q %v", tc.name, got, err)
		}
		recv.StrictOpen = true
		if got, _, err := Open(recv, ours, body); !errors.Is(err, tc.class) || got != nil {
			t.Errorf("%s: strict Open: %v", tc.name, err)
		}
		send.StrictOpen = true
		if _, _, err := Open(send, ours, body); err != nil {
			t.Errorf("%s: strict Open with the sender's options: %v", tc.name, err)
		}
	}
	// Mode and encoding are never guessed.
	body := sealJSON(t, Defaults(), peer, nil, []byte(`{"a":1}`))
	o := Defaults()
	o.SM4Mode = CBC
	if _, _, err := Open(o, ours, body); err == nil {
		t.Error("CBC opened ECB data")
	}
	o = Defaults()
	o.Encoding = HexLower
	if _, _, err := Open(o, ours, body); err == nil {
		t.Error("hex opened base64")
	}
}

func TestOpenWrongKeys(t *testing.T) {
	ours, peer := testKeys(t)
	o := Defaults()
	body := sealJSON(t, o, peer, nil, []byte("secret"))
	// Verifying with the wrong peer key fails as a signature error.
	wrong := Keys{Private: ours.Private, PeerPublic: pub(ours.Private)}
	if got, _, err := Open(o, wrong, body); !errors.Is(err, ErrBadSignature) || got != nil {
		t.Errorf("wrong peer key: %v", err)
	}
	// Decrypting with the wrong private key fails before anything is returned.
	wrong = Keys{Private: peer.Private, PeerPublic: ours.PeerPublic}
	if got, _, err := Open(o, wrong, body); err == nil || got != nil {
		t.Errorf("wrong private key: %v", err)
	}
}

// Flipping any byte of signature, encrypted key or encrypted data gives an
// error and never plaintext.
func TestTamper(t *testing.T) {
	ours, peer := testKeys(t)
	business := businessJSON(200)
	var combos []Options
	for _, st := range []SignTarget{SignPlaintext, SignCiphertext, SignCanonical} {
		o := Defaults()
		o.SignTarget = st
		combos = append(combos, o)
	}
	o := Defaults()
	o.CipherOrder, o.SigFormat, o.Encoding, o.SM4Mode, o.KeyForm = ASN1, SigRS, HexLower, CBC, Hex32
	combos = append(combos, o)
	o = Defaults()
	o.CipherOrder, o.PointPrefix, o.Encoding, o.SM4Mode, o.SM4IV, o.KeyForm = C1C2C3, false, HexUpper, CBC, "ffeeddccbbaa99887766554433221100", ASCII16
	combos = append(combos, o)

	for _, o := range combos {
		m, err := Seal(o, peer, testEnv(), business)
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range []string{"sign", "key", "data"} {
			raw, err := decodeText(o.Encoding, m[field].(string))
			if err != nil {
				t.Fatal(err)
			}
			for i := range raw {
				for _, mask := range []byte{0x01, 0x80, 0xff} {
					mod := append([]byte(nil), raw...)
					mod[i] ^= mask
					m2 := make(map[string]any, len(m))
					for k, v := range m {
						m2[k] = v
					}
					m2[field] = encodeBytes(o.Encoding, mod)
					got, _, err := Open(o, ours, mustJSON(t, m2))
					if err == nil || got != nil {
						t.Fatalf("%s: flipping byte %d of %s with %#x: err=%v, got %d bytes", comboName(o), i, field, mask, err, len(got))
					}
					if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformed) {
						t.Fatalf("%s: flipping %s: unexpected error class: %v", comboName(o), field, err)
					}
					if strings.Contains(err.Error(), "110101199001011234") {
						t.Fatalf("error reveals plaintext: %v", err)
					}
				}
			}
		}
	}
}

func TestCanonicalCoversEnvelopeFields(t *testing.T) {
	ours, peer := testKeys(t)
	o := Defaults()
	o.SignTarget = SignCanonical
	m, _ := Seal(o, peer, testEnv(), []byte("{}"))
	for _, field := range []string{"infno", "msgid", "timestamp", "signType"} {
		m2 := map[string]any{}
		for k, v := range m {
			m2[k] = v
		}
		m2[field] = "changed"
		if _, _, err := Open(o, ours, mustJSON(t, m2)); !errors.Is(err, ErrBadSignature) {
			t.Errorf("changing %s: %v", field, err)
		}
	}
	// Adding a field is detected too.
	m["extra"] = "x"
	if _, _, err := Open(o, ours, mustJSON(t, m)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("adding a field: %v", err)
	}
}

func TestCanonicalString(t *testing.T) {
	o := Defaults()
	o.CanonicalExclude = []string{"signType"}
	var env map[string]any
	dec := json.NewDecoder(strings.NewReader(`{"b":"2","a":"1","sign":"S","signType":"SM2","empty":"","n":0,"f":1.50,"t":true,"z":null,"o":{"y":1,"x":[1,"2"]}}`))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		t.Fatal(err)
	}
	got, err := canonical(o, env)
	if err != nil {
		t.Fatal(err)
	}
	if want := `a=1&b=2&f=1.50&n=0&o={"x":[1,"2"],"y":1}&t=true`; string(got) != want {
		t.Errorf("canonical = %s\nwant        %s", got, want)
	}
	o.CanonicalKeepEmpty = true
	got, _ = canonical(o, env)
	if !strings.Contains(string(got), "&empty=&") {
		t.Errorf("CanonicalKeepEmpty: %s", got)
	}
}

func TestMissingSignature(t *testing.T) {
	ours, peer := testKeys(t)
	for _, st := range []SignTarget{SignPlaintext, SignCiphertext, SignCanonical} {
		o := Defaults()
		o.SignTarget = st
		m, _ := Seal(o, peer, testEnv(), []byte(`{"x":1}`))
		for _, v := range []any{nil, "", "   "} {
			if v == nil {
				delete(m, "sign")
			} else {
				m["sign"] = v
			}
			got, _, err := Open(o, ours, mustJSON(t, m))
			var se *SignatureError
			if !errors.As(err, &se) || !se.Missing || got != nil || !errors.Is(err, ErrBadSignature) {
				t.Errorf("%s sign=%v: %v", st, v, err)
			}
		}
		m["sign"] = 12
		if _, _, err := Open(o, ours, mustJSON(t, m)); !errors.Is(err, ErrBadSignature) {
			t.Errorf("numeric sign: %v", err)
		}
		m["sign"] = "***"
		if _, _, err := Open(o, ours, mustJSON(t, m)); !errors.Is(err, ErrBadSignature) {
			t.Errorf("undecodable sign: %v", err)
		}
	}
}

func TestErrorResponses(t *testing.T) {
	ours, peer := testKeys(t)
	o := Defaults()

	// Unsigned error response: *BusinessError, not verified.
	body := []byte(`{"code":"1001","message":"备案不存在","msgid":"m1"}`)
	got, env, err := Open(o, ours, body)
	var be *BusinessError
	if !errors.As(err, &be) || be.Code != "1001" || be.Message != "备案不存在" || be.Verified || got != nil || env["msgid"] != "m1" {
		t.Fatalf("unsigned error response: %v %#v", err, be)
	}
	if !strings.Contains(err.Error(), "UNVERIFIED") {
		t.Errorf("unverified business error does not say so: %v", err)
	}
	// Numeric code.
	if _, _, err := Open(o, ours, []byte(`{"code":500}`)); !errors.As(err, &be) || be.Code != "500" {
		t.Fatalf("numeric code: %v", err)
	}
	// UnsignedErrors off: a signature is required.
	strict := o
	strict.UnsignedErrors = false
	if _, _, err := Open(strict, ours, body); !errors.Is(err, ErrBadSignature) || errors.As(err, &be) {
		t.Fatalf("unsigned error response with UnsignedErrors=false: %v", err)
	}

	// Signed error response without data (canonical target): verified.
	c := o
	c.SignTarget = SignCanonical
	c.UnsignedErrors = false
	m := map[string]any{"code": "1002", "message": "参数错误", "msgid": "m2"}
	msg, _ := canonical(c, m)
	sig, _ := sm2Sign(peer.Private, msg, c.UID, c.SigFormat)
	m["sign"] = encodeBytes(c.Encoding, sig)
	if _, _, err := Open(c, ours, mustJSON(t, m)); !errors.As(err, &be) || !be.Verified || be.Code != "1002" {
		t.Fatalf("signed error response: %v", err)
	}
	m["message"] = "tampered"
	if _, _, err := Open(c, ours, mustJSON(t, m)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered signed error response: %v", err)
	}

	// Error response with encrypted data: verified, decrypted, plaintext returned with the error.
	env2 := map[string]string{"code": "2001", "message": "部分失败"}
	body = sealJSON(t, o, peer, env2, []byte(`{"failed":[1]}`))
	got, _, err = Open(o, ours, body)
	if !errors.As(err, &be) || !be.Verified || string(got) != `{"failed":[1]}` {
		t.Fatalf("error response with data: %q %v", got, err)
	}
	// Success code with data; success codes as numbers.
	body = sealJSON(t, o, peer, map[string]string{"code": "0000"}, []byte(`{}`))
	if _, _, err := Open(o, ours, body); err != nil {
		t.Fatalf("success 0000: %v", err)
	}
	var mm map[string]any
	_ = json.Unmarshal(sealJSON(t, o, peer, nil, []byte(`{}`)), &mm)
	mm["code"] = 0
	if _, _, err := Open(o, ours, mustJSON(t, mm)); err != nil {
		t.Fatalf("numeric success code 0: %v", err)
	}
	// Success without data still needs a signature (over the empty plaintext).
	if _, _, err := Open(o, ours, []byte(`{"code":"0"}`)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("unsigned success without data: %v", err)
	}
	sig, _ = sm2Sign(peer.Private, nil, o.UID, o.SigFormat)
	got, _, err = Open(o, ours, mustJSON(t, map[string]any{"code": "0", "sign": encodeBytes(o.Encoding, sig)}))
	if err != nil || got != nil {
		t.Fatalf("signed success without data: %q %v", got, err)
	}
}

func TestOpenMalformed(t *testing.T) {
	ours, peer := testKeys(t)
	o := Defaults()
	good := sealJSON(t, o, peer, nil, []byte(`{}`))
	var m map[string]any
	_ = json.Unmarshal(good, &m)
	with := func(k string, v any) []byte {
		m2 := map[string]any{}
		for kk, vv := range m {
			m2[kk] = vv
		}
		if v == nil {
			delete(m2, k)
		} else {
			m2[k] = v
		}
		return mustJSON(t, m2)
	}
	cases := map[string][]byte{
		"empty":         nil,
		"null":          []byte("null"),
		"array":         []byte("[]"),
		"string":        []byte(`"x"`),
		"truncated":     good[:len(good)/2],
		"trailing":      append(append([]byte(nil), good...), []byte("{}")...),
		"object":        []byte("{}"),
		"no key":        with("key", nil),
		"key number":    with("key", 5),
		"key garbage":   with("key", "%%%"),
		"key short":     with("key", "BAE="),
		"data number":   with("data", 1.5),
		"data garbage":  with("data", "!!"),
		"data odd len":  with("data", "AAAA"),
		"data object":   with("data", map[string]any{"a": 1}),
		"code object":   with("code", map[string]any{"a": 1}),
		"sign array":    with("sign", []any{1}),
		"huge key":      with("key", strings.Repeat("A", 1<<16)),
		"bad utf8":      []byte("{\"sign\":\"\xff\"}"),
		"deep":          []byte(strings.Repeat("[", 10000)),
		"signed no key": with("key", ""),
	}
	for name, body := range cases {
		got, _, err := Open(o, ours, body)
		if err == nil || got != nil {
			t.Errorf("%s: err=%v got=%q", name, err, got)
		}
	}
	if _, _, err := Open(o, ours, []byte("{\"a\":")); err == nil || !errors.Is(err, ErrMalformed) {
		t.Errorf("syntax error not ErrMalformed: %v", err)
	}
}

func TestDecodeTextLenient(t *testing.T) {
	want := []byte{0xfb, 0xff, 0x01, 0x02}
	for _, s := range []string{"+/8BAg==", "+/8BAg", "-_8BAg==", "-_8BAg", "+/8B\r\nAg=="} {
		if b, err := decodeText(Base64, s); err != nil || !bytes.Equal(b, want) {
			t.Errorf("base64 %q: %x %v", s, b, err)
		}
	}
	for _, s := range []string{"fbff0102", "FBFF0102", "FbFf0102"} {
		for _, e := range []Encoding{HexLower, HexUpper} {
			if b, err := decodeText(e, s); err != nil || !bytes.Equal(b, want) {
				t.Errorf("%s %q: %x %v", e, s, b, err)
			}
		}
	}
}

func TestSessionKeyForms(t *testing.T) {
	for range 50 {
		m, k, err := newSessionKey(ASCII16)
		if err != nil || len(k) != 16 || !bytes.Equal(m, k) {
			t.Fatal("ascii16", err)
		}
		for _, c := range k {
			if !strings.ContainsRune(alnum, rune(c)) {
				t.Fatalf("ascii16 key has %q", c)
			}
		}
		m, k, err = newSessionKey(Hex32)
		if err != nil || len(m) != 32 || len(k) != 16 {
			t.Fatal("hex32", err)
		}
		if back, err := sessionKeyFromMaterial(Hex32, true, m); err != nil || !bytes.Equal(back, k) {
			t.Fatal("hex32 back", err)
		}
	}
	if _, err := sessionKeyFromMaterial(Raw16, false, make([]byte, 20)); err == nil {
		t.Error("20-byte key accepted")
	}
	if _, err := sessionKeyFromMaterial(ASCII16, true, make([]byte, 16)); err == nil {
		t.Error("strict ascii16 accepted NUL bytes")
	}
}

func TestSM4DecryptNeverPanics(t *testing.T) {
	key := make([]byte, 16)
	for _, mode := range []SM4Mode{ECB, CBC} {
		for _, iv := range [][]byte{nil, make([]byte, 16)} {
			for n := range 50 {
				if _, err := sm4Decrypt(mode, key, iv, make([]byte, n)); err == nil && n > 0 && n%16 == 0 {
					// All-zero plaintext after decryption is not valid padding (overwhelmingly); any outcome but a panic is fine.
					_ = err
				}
			}
		}
	}
	if _, err := sm4Decrypt(ECB, make([]byte, 5), nil, make([]byte, 16)); err == nil {
		t.Error("5-byte SM4 key accepted")
	}
}

// TestEncodeBytesBase64: the chunked base64 of encodeBytes is the standard
// encoding for every length, across the chunk boundaries (768 bytes in).
func TestEncodeBytesBase64(t *testing.T) {
	t.Parallel()
	b := make([]byte, 3*768+5)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	for n := range len(b) + 1 {
		if got, want := encodeBytes(Base64, b[:n]), base64.StdEncoding.EncodeToString(b[:n]); got != want {
			t.Fatalf("%d bytes: %q, want %q", n, got, want)
		}
	}
}

// TestValidateAllocatesNothing: Seal and Open validate their options on
// every call (twice per exchange at each end), so valid options are checked
// without allocating: before, a map of the member names (and a decoded
// copy of a fixed CBC IV) were 0.8 % of the work-injury plugin's CPU per
// GYD051.
func TestValidateAllocatesNothing(t *testing.T) {
	fixedIV := Defaults()
	fixedIV.SM4Mode, fixedIV.SM4IV = CBC, "000102030405060708090a0b0c0d0e0f"
	for _, o := range append(allCombos(), Defaults(), fixedIV) {
		if err := o.Validate(); err != nil {
			t.Fatalf("%s: %v", comboName(o), err)
		}
		if n := testing.AllocsPerRun(20, func() { _ = o.Validate() }); n != 0 {
			t.Fatalf("%s: Validate of valid options allocates %.0f times; want none", comboName(o), n)
		}
	}
	// The IV decoded in place is still checked.
	fixedIV.SM4IV = "000102030405060708090a0b0c0d0e0g"
	if err := fixedIV.Validate(); err == nil || !strings.Contains(err.Error(), "sm4IV") {
		t.Errorf("an IV of 32 characters that are not all hex: %v; want the sm4IV problem", err)
	}
}
