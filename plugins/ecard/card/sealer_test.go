package card

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
	"github.com/google/go-cmp/cmp"
	qrcode "github.com/skip2/go-qrcode"
)

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		cardNo   string
		validity time.Duration
		want     time.Duration // expected validity after defaulting/truncation
	}{
		"default validity is 3 days": {cardNo: "88010000000003X", validity: 0, want: 72 * time.Hour},
		"one digit":                  {cardNo: "7", validity: time.Minute, want: time.Minute},
		"two digits":                 {cardNo: "42", validity: time.Minute, want: time.Minute},
		"ends in X odd length":       {cardNo: "1234X", validity: time.Hour, want: time.Hour},
		"ends in X even length":      {cardNo: "12345X", validity: time.Hour, want: time.Hour},
		"leading zeros kept":         {cardNo: "0000000000000001", validity: time.Second, want: time.Second},
		"max length, max validity":   {cardNo: "8801234567890123", validity: MaxValidity, want: MaxValidity},
		"sub-second truncated":       {cardNo: "123", validity: 90*time.Second + 999*time.Millisecond, want: 90 * time.Second},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock(testT0.Add(123 * time.Millisecond))
			s := newTestSealer(t, clock, []Key{testKey("A", 1)}, "A")
			text, exp, err := s.Seal(tc.cardNo, tc.validity)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if diff := cmp.Diff(testT0.Add(tc.want), exp); diff != "" {
				t.Errorf("expiry mismatch (-want +got):\n%s", diff)
			}
			got, err := s.Open(text)
			if err != nil {
				t.Fatalf("Open(%q): %v", text, err)
			}
			want := Claims{Version: FormatVersion, KeyID: "A", CardNo: tc.cardNo, IssuedAt: testT0, ExpiresAt: exp, Nonce: got.Nonce}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("claims mismatch (-want +got):\n%s", diff)
			}
			if got.Nonce == ([12]byte{}) {
				t.Error("nonce is all zero; want random bytes")
			}
		})
	}
}

func TestSealTextShape(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		prefix   string
		cardNo   string
		validity time.Duration
	}{
		"typical 15-char card, 3 days":   {prefix: "MGE", cardNo: "88010000000003X", validity: 0},
		"worst case: 4-letter prefix":    {prefix: "XMHZ", cardNo: "8801234567890123", validity: MaxValidity},
		"short card, 60s dynamic code":   {prefix: "MGE", cardNo: "12345", validity: time.Minute},
		"2-letter prefix, 16 chars, 30d": {prefix: "HZ", cardNo: "1234567890123456", validity: 30 * 24 * time.Hour},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newTestSealer(t, newFakeClock(testT0), []Key{testKey("Z", 9)}, "Z", WithPrefix(tc.prefix))
			text, _, err := s.Seal(tc.cardNo, tc.validity)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if len(text) > 85 {
				t.Errorf("len(%q) = %d, want ≤ 85", text, len(text))
			}
			if !strings.HasPrefix(text, tc.prefix+"2") {
				t.Errorf("%q does not start with %q", text, tc.prefix+"2")
			}
			for i := 0; i < len(text); i++ {
				if !strings.ContainsRune(qrAlnum, rune(text[i])) {
					t.Errorf("char %q at %d is outside the QR alphanumeric set", text[i], i)
				}
			}
			q, err := qrcode.New(text, qrcode.Medium)
			if err != nil {
				t.Fatalf("qrcode.New: %v", err)
			}
			if q.VersionNumber > 4 {
				t.Errorf("QR version %d, want ≤ 4 (33×33 modules)", q.VersionNumber)
			}
			if s.Prefix() != tc.prefix {
				t.Errorf("Prefix() = %q, want %q", s.Prefix(), tc.prefix)
			}
			if got := s.Classify(text); got != KindECard {
				t.Errorf("Classify = %v, want %v", got, KindECard)
			}
		})
	}
}

// qrAlnum is the QR alphanumeric-mode character set.
const qrAlnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// TestLayout decodes a sealed text by following only the byte layout in the
// package documentation, as a HIS vendor or another implementation would.
func TestLayout(t *testing.T) {
	t.Parallel()
	key := testKey("K", 0x10)
	clock := newFakeClock(testT0)
	s := newTestSealer(t, clock, []Key{key}, "K", WithRand(&seqReader{}), WithSite("xm-first"))
	text, _, err := s.Seal("88010000000003X", 72*time.Hour)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	// Known-answer vector: fixed key, clock, nonce and site. A change here
	// breaks every printed code; bump FormatVersion instead.
	const want = "MGE2JMAACAQDAQCQMBYIBEFAWPDAH4VPMOPHW6TZHWGOMZLFSLUOZGVG2JCYFNICVW76QRG7T6SS6J2U2EA"
	if text != want {
		t.Errorf("known-answer text changed:\n got %s\nwant %s", text, want)
	}

	body, err := b32.DecodeString(strings.TrimPrefix(text, "MGE2"))
	if err != nil {
		t.Fatalf("decode body: %v", err)
	}
	if body[0] != 'K' {
		t.Fatalf("kid byte = %q, want 'K'", body[0])
	}
	nonce, ct := body[1:13], body[13:]
	if diff := cmp.Diff([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, nonce); diff != "" {
		t.Errorf("nonce (-want +got):\n%s", diff)
	}
	block, err := sm4.NewCipher(key.Secret[:])
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := gcm.Open(nil, nonce, ct, []byte("MGE2K"))
	if err != nil {
		t.Fatalf("GCM open with AAD \"MGE2K\": %v", err)
	}
	site := sm3.Sum([]byte("medgate-ecard-site\x00xm-first"))
	wantPT := []byte{0x02}
	wantPT = binary.BigEndian.AppendUint32(wantPT, uint32(testT0.Unix()))
	wantPT = binary.AppendUvarint(wantPT, 72*3600)
	wantPT = append(wantPT, site[:4]...)
	wantPT = append(wantPT, 0x88, 0x01, 0x00, 0x00, 0x00, 0x00, 0x03, 0xAF) // "88010000000003X" + pad nibble
	if diff := cmp.Diff(wantPT, pt); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
}

// legacyText is a format-version-1 code, printed before sites were sealed
// in: key testKey("K", 0x10), issued at testT0 for 72 hours, nonce 0…11,
// card 88010000000003X. It was the known answer of TestLayout then.
const legacyText = "MGE1JMAACAQDAQCQMBYIBEFAWP3AH4VPMOPHW6P6VWZ75ZLVVAJ7U4HC32G66SYHACCZJXZZAE76"

// TestOpenSites checks that a version-2 code opens only at the site that
// sealed it, whatever keys the sites share, and that version-1 codes,
// which name no site, still open until they expire — unless the site
// refuses them (WithLegacyCodes(false)), which leaves version 2 alone.
func TestOpenSites(t *testing.T) {
	t.Parallel()
	key := testKey("K", 0x10)
	sealer := newTestSealer(t, newFakeClock(testT0), []Key{key}, "K", WithSite("xm-first"))
	v2, _, err := sealer.Seal("88010000000003X", time.Hour)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	testCases := map[string]struct {
		text        string
		site        string
		opts        []Option
		wantErr     error
		wantMsg     []string // in the error
		wantVersion int
	}{
		"same site":                     {text: v2, site: "xm-first", wantVersion: FormatVersion},
		"other site, same key":          {text: v2, site: "xm-second", wantErr: ErrOtherSite, wantMsg: otherSiteMsg},
		"site with no name":             {text: v2, site: "", wantErr: ErrOtherSite, wantMsg: otherSiteMsg},
		"site code differing case":      {text: v2, site: "XM-FIRST", wantErr: ErrOtherSite, wantMsg: otherSiteMsg},
		"legacy code, its site":         {text: legacyText, site: "xm-first", wantVersion: LegacyFormatVersion},
		"legacy code, other site":       {text: legacyText, site: "xm-second", wantVersion: LegacyFormatVersion},
		"legacy code, accepted":         {text: legacyText, site: "xm-second", opts: []Option{WithLegacyCodes(true)}, wantVersion: LegacyFormatVersion},
		"legacy code, refused":          {text: legacyText, site: "xm-first", opts: []Option{WithLegacyCodes(false)}, wantErr: ErrLegacyCode, wantMsg: []string{"format version 1", `site "xm-first" no longer accepts`, "print a new code"}},
		"legacy refused, v2 opens":      {text: v2, site: "xm-first", opts: []Option{WithLegacyCodes(false)}, wantVersion: FormatVersion},
		"legacy refused, v2 other site": {text: v2, site: "xm-second", opts: []Option{WithLegacyCodes(false)}, wantErr: ErrOtherSite, wantMsg: otherSiteMsg},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newTestSealer(t, newFakeClock(testT0.Add(time.Minute)), []Key{key}, "K", append([]Option{WithSite(tc.site)}, tc.opts...)...)
			c, err := s.Open(tc.text)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || c != (Claims{}) {
					t.Fatalf("Open = %+v, %v; want zero claims and %v", c, err, tc.wantErr)
				}
				for _, m := range tc.wantMsg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not say %q", err, m)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if c.Version != tc.wantVersion || c.CardNo != "88010000000003X" || c.KeyID != "K" {
				t.Errorf("claims = %+v, want version %d of card 88010000000003X under key K", c, tc.wantVersion)
			}
		})
	}
}

// otherSiteMsg is what an ErrOtherSite says: whose code it is and what to do.
var otherSiteMsg = []string{"another site", "print a code"}

// TestOpenVersionPayloadMismatch seals, with the key directly, a payload of
// one format version behind the text version digit of the other: Open must
// refuse it as tampered rather than read a version-2 code as an unbound
// version-1 one.
func TestOpenVersionPayloadMismatch(t *testing.T) {
	t.Parallel()
	key := testKey("A", 1)
	s := newTestSealer(t, newFakeClock(testT0), []Key{key}, "A", WithSite("xm-first"))
	block, err := sm4.NewCipher(key.Secret[:])
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	issued := binary.BigEndian.AppendUint32(nil, uint32(testT0.Unix()))
	tag := SiteTag("xm-first")
	testCases := map[string]struct {
		version byte
		payload []byte
	}{
		"version-2 payload as version 1":   {version: '1', payload: append(append(append([]byte{2}, issued...), 60), append(tag[:], 0x12, 0x3F)...)},
		"version-1 payload as version 2":   {version: '2', payload: append(append([]byte{1}, issued...), 60, 0x12, 0x3F)},
		"version 2 without its site tag":   {version: '2', payload: append(append([]byte{2}, issued...), 60, 0x12)},
		"version 2 with a short site tag":  {version: '2', payload: append(append([]byte{2}, issued...), 60, tag[0], tag[1])},
		"version 2, tag but no card digit": {version: '2', payload: append(append(append([]byte{2}, issued...), 60), tag[:]...)},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			nonce := make([]byte, nonceLen)
			body := append([]byte("A"), nonce...)
			body = gcm.Seal(body, nonce, tc.payload, []byte{'M', 'G', 'E', tc.version, 'A'})
			c, err := s.Open("MGE" + string(tc.version) + b32.EncodeToString(body))
			if !errors.Is(err, ErrTampered) || c != (Claims{}) {
				t.Fatalf("Open = %+v, %v; want ErrTampered", c, err)
			}
		})
	}
}

func TestExpiryBoundary(t *testing.T) {
	t.Parallel()
	const validity = 72 * time.Hour
	testCases := map[string]struct {
		at          time.Duration // offset from the issue time
		wantErr     error
		wantExpires bool // whether an *ExpiredError is expected
	}{
		"at issue":                   {at: 0},
		"one second before expiry":   {at: validity - time.Second},
		"one nanosecond before":      {at: validity - time.Nanosecond},
		"exactly at expiry":          {at: validity, wantErr: ErrExpired, wantExpires: true},
		"after expiry":               {at: validity + time.Hour, wantErr: ErrExpired, wantExpires: true},
		"skew: 60s early is fine":    {at: -DefaultSkew},
		"skew: 61s early is refused": {at: -DefaultSkew - time.Second, wantErr: ErrNotYetValid},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock(testT0)
			s := newTestSealer(t, clock, []Key{testKey("A", 1)}, "A")
			text, exp, err := s.Seal("123456", validity)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			clock.Set(testT0.Add(tc.at))
			c, err := s.Open(text)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Open error = %v, want %v", err, tc.wantErr)
			}
			var ee *ExpiredError
			if got := errors.As(err, &ee); got != tc.wantExpires {
				t.Fatalf("errors.As(*ExpiredError) = %v, want %v", got, tc.wantExpires)
			}
			if ee != nil {
				if diff := cmp.Diff(exp, ee.ExpiresAt); diff != "" {
					t.Errorf("ExpiresAt (-want +got):\n%s", diff)
				}
				if !strings.Contains(ee.Error(), "refresh") {
					t.Errorf("error %q does not say how to fix it", ee.Error())
				}
			}
			if c.CardNo != "123456" {
				t.Errorf("CardNo = %q, want authentic claims even for expired/not-yet-valid codes", c.CardNo)
			}
		})
	}
}

func TestWithSkew(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(testT0)
	s := newTestSealer(t, clock, []Key{testKey("A", 1)}, "A", WithSkew(0))
	text, _, err := s.Seal("1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(testT0.Add(-time.Second))
	if _, err := s.Open(text); !errors.Is(err, ErrNotYetValid) {
		t.Errorf("Open with zero skew, 1s early: %v, want ErrNotYetValid", err)
	}
}

// TestTamper changes every character of a sealed text to every other
// QR-alphanumeric character and every lower-case letter, flips every bit
// of every character, and flips every bit of every decoded body byte.
// Each variant must be rejected with a rejection error, never accepted as
// any card. A letter put in lower case is no change (Open reads the text
// in upper case, see TestOpenCapsLock), so that variant is left out.
func TestTamper(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(testT0)
	// Two keys, so that a changed kid can land on a configured key.
	s := newTestSealer(t, clock, []Key{testKey("A", 1), testKey("B", 2)}, "A")
	text, _, err := s.Seal("88010000000003X", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, variant string) {
		t.Helper()
		c, err := s.Open(variant)
		if err == nil {
			t.Fatalf("Open(%q) accepted altered text as card %q", variant, c.CardNo)
		}
		if !isRejection(err) {
			t.Fatalf("Open(%q) = %v, want ErrNotECard, ErrTampered or ErrUnknownKey", variant, err)
		}
		if c != (Claims{}) {
			t.Fatalf("Open(%q) returned claims %+v with error %v", variant, c, err)
		}
	}
	t.Run("replace each char", func(t *testing.T) {
		t.Parallel()
		n := 0
		for i := 0; i < len(text); i++ {
			for _, r := range qrAlnum + "abcdefghijklmnopqrstuvwxyz" {
				if strings.ToUpper(string(r)) == text[i:i+1] {
					continue // the character itself, or its lower case
				}
				check(t, text[:i]+string(r)+text[i+1:])
				n++
			}
		}
		t.Logf("%d variants rejected", n)
	})
	t.Run("flip each bit of the text", func(t *testing.T) {
		t.Parallel()
		for i := 0; i < len(text); i++ {
			for b := range 8 {
				v := []byte(text)
				v[i] ^= 1 << b
				if strings.ToUpper(string(v)) == text {
					continue // a letter put in lower case: no change
				}
				check(t, string(v))
			}
		}
	})
	t.Run("flip each bit of the body", func(t *testing.T) {
		t.Parallel()
		body, err := b32.DecodeString(text[4:])
		if err != nil {
			t.Fatal(err)
		}
		for i := range body {
			for b := range 8 {
				v := append([]byte(nil), body...)
				v[i] ^= 1 << b
				check(t, text[:4]+b32.EncodeToString(v))
			}
		}
	})
	t.Run("truncate and extend", func(t *testing.T) {
		t.Parallel()
		for i := range len(text) {
			check(t, text[:i])
		}
		for _, r := range qrAlnum {
			if r != ' ' {
				check(t, text+string(r))
			}
		}
		check(t, text+"AAAAAAAA")
	})
	t.Run("move the body under another prefix", func(t *testing.T) {
		t.Parallel()
		other := newTestSealer(t, clock, []Key{testKey("A", 1)}, "A", WithPrefix("MGF"))
		check(t, "MGF"+text[3:]) // same key and body under another prefix: AAD differs
		if _, err := other.Open("MGF" + text[3:]); !errors.Is(err, ErrTampered) {
			t.Errorf("prefix swap under same key: %v, want ErrTampered", err)
		}
	})
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(testT0)
	oldKey, newKey := testKey("A", 1), testKey("B", 2)
	before := newTestSealer(t, clock, []Key{oldKey}, "A")
	during := newTestSealer(t, clock, []Key{oldKey, newKey}, "B")
	after := newTestSealer(t, clock, []Key{newKey}, "B")
	reusedID := newTestSealer(t, clock, []Key{testKey("A", 3)}, "A")

	oldText, _, err := before.Seal("1001", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	newText, _, err := during.Seal("1002", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	testCases := map[string]struct {
		s       *Sealer
		text    string
		wantKey string
		wantErr error
	}{
		"old code, old key still configured":  {s: during, text: oldText, wantKey: "A"},
		"new code sealed with the active key": {s: during, text: newText, wantKey: "B"},
		"new code, old sealer lacks the key":  {s: before, text: newText, wantErr: ErrUnknownKey},
		"old code after the key is retired":   {s: after, text: oldText, wantErr: ErrUnknownKey},
		"same kid, different secret":          {s: reusedID, text: oldText, wantErr: ErrTampered},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := tc.s.Open(tc.text)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Open = %v, want %v", err, tc.wantErr)
			}
			if c.KeyID != tc.wantKey {
				t.Errorf("KeyID = %q, want %q", c.KeyID, tc.wantKey)
			}
		})
	}
}

func TestOpenNotECard(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(testT0)
	s := newTestSealer(t, clock, []Key{testKey("A", 1)}, "A")
	valid, _, err := s.Seal("1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	testCases := map[string]struct {
		text     string
		wantKind Kind
		wantMsg  string
	}{
		"empty":                  {text: "", wantKind: KindUnknown, wantMsg: `does not start with "MGE"`},
		"national health card":   {text: ehcStatic, wantKind: KindNationalHealthCard, wantMsg: "health-card platform"},
		"dynamic health card":    {text: ehcDynamic, wantKind: KindNationalHealthCard, wantMsg: "health-card platform"},
		"resident ID":            {text: "11010519491231002X", wantKind: KindResidentID, wantMsg: "ID number"},
		"trace code":             {text: "81234567890123456789", wantKind: KindTraceCode, wantMsg: "trace code"},
		"prefix only":            {text: "MGE", wantKind: KindUnknown, wantMsg: "no version digit"},
		"no version digit":       {text: "MGEX" + valid[4:], wantKind: KindUnknown, wantMsg: "no version digit"},
		"future version":         {text: "MGE3" + valid[4:], wantKind: KindECard, wantMsg: "upgrade"},
		"cut off":                {text: valid[:30], wantKind: KindECard, wantMsg: "cut off"},
		"non-base32 body":        {text: valid[:10] + "0" + valid[11:], wantKind: KindECard, wantMsg: "not base32"},
		"URL wrapping the code":  {text: "https://h.example/e?c=" + valid, wantKind: KindUnknown},
		"impossible base32 size": {text: valid[:len(valid)-2] + "A", wantKind: KindECard},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := s.Open(tc.text)
			var ne *NotECardError
			if !errors.As(err, &ne) || !errors.Is(err, ErrNotECard) {
				t.Fatalf("Open = %v, want a *NotECardError matching ErrNotECard", err)
			}
			if ne.Kind != tc.wantKind {
				t.Errorf("Kind = %v, want %v", ne.Kind, tc.wantKind)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tc.wantMsg)
			}
		})
	}
}

// TestOpenCapsLock: a keyboard-wedge scanner with Caps Lock on types the
// code in lower case. The text's alphabet (prefix A–Z, version digit,
// base32 A–Z 2–7) has no lower case, so the code is read in upper case
// and the cryptographic check decides: the lower-case form of a valid code opens as that code, and the
// lower-case form of an altered one is still refused.
func TestOpenCapsLock(t *testing.T) {
	t.Parallel()
	s := newTestSealer(t, newFakeClock(testT0), []Key{testKey("A", 1)}, "A")
	text, _, err := s.Seal("88010000000003X", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	testCases := map[string]string{
		"lower case":             strings.ToLower(text),
		"lower case with CR/LF":  strings.ToLower(text) + "\r\n",
		"lower-case body":        text[:4] + strings.ToLower(text[4:]),
		"lower-case prefix only": strings.ToLower(text[:3]) + text[3:],
	}
	for name, variant := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if c, err := s.Open(variant); err != nil || c.CardNo != "88010000000003X" {
				t.Errorf("Open(%q) = %+v, %v; want card 88010000000003X", variant, c, err)
			}
		})
	}
	i, c := len(text)-5, "A"
	if text[i] == 'A' {
		c = "B"
	}
	altered := text[:i] + c + text[i+1:]
	if _, err := s.Open(strings.ToLower(altered)); !isRejection(err) {
		t.Errorf("Open of an altered code in lower case = %v, want a rejection", err)
	}
}

func TestOpenTrimsScannerWhitespace(t *testing.T) {
	t.Parallel()
	s := newTestSealer(t, newFakeClock(testT0), []Key{testKey("A", 1)}, "A")
	text, _, err := s.Seal("55", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.Open(" " + text + "\r\n"); err != nil || c.CardNo != "55" {
		t.Errorf("Open with CR/LF = %+v, %v; want card 55", c, err)
	}
}

func TestSealErrors(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		cardNo   string
		validity time.Duration
		clock    time.Time
		rand     *errReader
		wantErr  error
		wantMsg  string
	}{
		"empty card":           {cardNo: "", wantErr: ErrWrongLength, wantMsg: "1–16"},
		"card too long":        {cardNo: "12345678901234567", wantErr: ErrWrongLength, wantMsg: "1–16"},
		"letter in card":       {cardNo: "12A4", wantErr: ErrBadCharacter, wantMsg: "digits"},
		"X not last":           {cardNo: "12X4", wantErr: ErrBadCharacter, wantMsg: "ending in X"},
		"lower x":              {cardNo: "124x", wantErr: ErrBadCharacter},
		"negative validity":    {cardNo: "1", validity: -time.Second, wantMsg: "between 1s"},
		"sub-second validity":  {cardNo: "1", validity: time.Millisecond, wantMsg: "between 1s"},
		"validity over max":    {cardNo: "1", validity: MaxValidity + time.Second, wantMsg: "shorter"},
		"clock before 1970":    {cardNo: "1", clock: time.Unix(-1, 0), wantMsg: "fix the system clock"},
		"clock after 2106":     {cardNo: "1", clock: time.Unix(1<<32, 0), wantMsg: "fix the system clock"},
		"broken random source": {cardNo: "1", rand: &errReader{}, wantMsg: "read nonce: entropy source broken"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := tc.clock
			if clock.IsZero() {
				clock = testT0
			}
			var opts []Option
			if tc.rand != nil {
				opts = append(opts, WithRand(tc.rand))
			}
			s := newTestSealer(t, newFakeClock(clock), []Key{testKey("A", 1)}, "A", opts...)
			text, _, err := s.Seal(tc.cardNo, tc.validity)
			if err == nil {
				t.Fatalf("Seal = %q, want error", text)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Seal error %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Seal error %q does not contain %q", err, tc.wantMsg)
			}
		})
	}
}

func TestNewSealerErrors(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		keys   []Key
		active string
		opts   []Option
		want   []string // substrings, one per expected problem
	}{
		"no keys": {
			active: "A",
			want:   []string{"no keys"},
		},
		"every problem is listed": {
			keys:   []Key{{ID: "a", Secret: testKey("", 1).Secret}, {ID: "B"}, testKey("C", 1), testKey("C", 2), testKey("AB", 3)},
			active: "Q",
			opts:   []Option{WithPrefix("ABC"), WithSkew(time.Hour), WithRand(nil)},
			want: []string{
				`prefix "ABC" uses only A–F`,
				"skew 1h0m0s must be between 0 and 10m0s",
				"random source is nil",
				`keys[0]: id "a" must be one character`,
				`keys[1] (id "B"): secret is all zero`,
				`keys[3]: id "C" is used twice`,
				`keys[4]: id "AB" must be one character`,
				`active key "Q" is not among the configured keys`,
			},
		},
		"bad prefixes": {
			keys: []Key{testKey("A", 1)}, active: "A",
			opts: []Option{WithPrefix("M1")},
			want: []string{`prefix "M1" must be 2–4 letters A–Z`},
		},
		"prefix too long": {
			keys: []Key{testKey("A", 1)}, active: "A",
			opts: []Option{WithPrefix("MGEXY")},
			want: []string{`prefix "MGEXY" must be 2–4 letters A–Z`},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := NewSealer(tc.keys, tc.active, nil, tc.opts...)
			if err == nil {
				t.Fatalf("NewSealer = %v, want error", s)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not match ErrInvalidConfig", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(lines), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%s", w, err)
				}
			}
		})
	}
}

func TestSealerConcurrentUse(t *testing.T) {
	t.Parallel()
	s := newTestSealer(t, newFakeClock(testT0), []Key{testKey("A", 1)}, "A")
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			for i := range 200 {
				card := strings.Repeat("9", 1+(g+i)%16)
				text, _, e := s.Seal(card, time.Hour)
				if e != nil {
					err = e
					break
				}
				c, e := s.Open(text)
				if e != nil || c.CardNo != card {
					err = errors.Join(e, errors.New("card mismatch "+c.CardNo))
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	s := newTestSealer(b, newFakeClock(testT0), []Key{testKey("A", 1), testKey("B", 2)}, "B")
	text, _, err := s.Seal("88010000000003X", 72*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(text); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenTampered(b *testing.B) {
	s := newTestSealer(b, newFakeClock(testT0), []Key{testKey("A", 1)}, "A")
	text, _, err := s.Seal("88010000000003X", 72*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	flip := byte('A')
	if text[20] == 'A' {
		flip = 'B'
	}
	text = text[:20] + string(flip) + text[21:]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(text); err == nil {
			b.Fatal("accepted tampered text")
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	s := newTestSealer(b, newFakeClock(testT0), []Key{testKey("A", 1)}, "A")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Seal("88010000000003X", 72*time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOpenMalformedPayload seals payloads that Seal never produces, using the
// key directly, and requires Open to reject them as tampered rather than
// misread them.
func TestOpenMalformedPayload(t *testing.T) {
	t.Parallel()
	key := testKey("A", 1)
	s := newTestSealer(t, newFakeClock(testT0), []Key{key}, "A")
	block, err := sm4.NewCipher(key.Secret[:])
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	issued := binary.BigEndian.AppendUint32(nil, uint32(testT0.Unix()))
	payload := func(parts ...[]byte) []byte {
		var p []byte
		for _, x := range parts {
			p = append(p, x...)
		}
		return p
	}
	testCases := map[string]struct {
		payload []byte
		want    string // empty means Open must succeed
	}{
		"well formed":          {payload: payload([]byte{1}, issued, []byte{60}, []byte{0x12, 0x3F})},
		"payload version 2":    {payload: payload([]byte{2}, issued, []byte{60}, []byte{0x12}), want: "payload version"},
		"zero validity":        {payload: payload([]byte{1}, issued, []byte{0}, []byte{0x12}), want: "bad validity"},
		"validity over max":    {payload: payload([]byte{1}, issued, binary.AppendUvarint(nil, uint64(MaxValidity/time.Second)+1), []byte{0x12}), want: "bad validity"},
		"truncated varint":     {payload: payload([]byte{1}, issued, []byte{0x80, 0x80}), want: "bad validity"},
		"card number too long": {payload: payload([]byte{1}, issued, []byte{60}, make([]byte, 9)), want: "bad card number length"},
		"nibble B":             {payload: payload([]byte{1}, issued, []byte{60}, []byte{0x1B}), want: "bad card number digit"},
		"X not last":           {payload: payload([]byte{1}, issued, []byte{60}, []byte{0xA1}), want: "bad card number digit"},
		"pad then X":           {payload: payload([]byte{1}, issued, []byte{60}, []byte{0xFA}), want: "bad card number digit"},
		"pad in the middle":    {payload: payload([]byte{1}, issued, []byte{60}, []byte{0x1F, 0x23}), want: "bad card number digit"},
		"only a pad nibble":    {payload: payload([]byte{1}, issued, []byte{60}, []byte{0xFF}), want: "bad card number digit"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			nonce := make([]byte, nonceLen)
			aad := []byte("MGE1A")
			body := append([]byte("A"), nonce...)
			body = gcm.Seal(body, nonce, tc.payload, aad)
			text := "MGE1" + b32.EncodeToString(body)
			c, err := s.Open(text)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if c.CardNo != "123" {
					t.Errorf("CardNo = %q, want 123", c.CardNo)
				}
				return
			}
			if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, want ErrTampered mentioning %q", err, tc.want)
			}
		})
	}
}

// TestOpenKeyIDThatIsNoKeyID: a code whose key id byte is not a key id at
// all (keys are named 0–9 or A–Z), as a misread or altered character at
// the start of the body makes it, is a malformed e-card code (scan again),
// not ErrUnknownKey, whose reply asks to reprint the code as for a key
// removed from the ring. A key id that could name a key still gives
// ErrUnknownKey.
func TestOpenKeyIDThatIsNoKeyID(t *testing.T) {
	t.Parallel()
	s := newTestSealer(t, newFakeClock(testT0), []Key{testKey("A", 1)}, "A")
	text, _, err := s.Seal("88010000000003X", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	body, err := b32.DecodeString(text[4:])
	if err != nil {
		t.Fatal(err)
	}
	testCases := map[string]struct {
		kid            byte
		wantUnknownKey bool
	}{
		"a control byte":        {kid: 0x11},
		"a lower-case letter":   {kid: 'a'},
		"a high byte":           {kid: 0xC1},
		"key B, not configured": {kid: 'B', wantUnknownKey: true},
		"key 7, not configured": {kid: '7', wantUnknownKey: true},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := append([]byte(nil), body...)
			v[0] = tc.kid
			_, err := s.Open(text[:4] + b32.EncodeToString(v))
			var ne *NotECardError
			switch {
			case tc.wantUnknownKey && !errors.Is(err, ErrUnknownKey):
				t.Errorf("Open with key id %q = %v, want ErrUnknownKey", tc.kid, err)
			case !tc.wantUnknownKey && (!errors.As(err, &ne) || ne.Kind != KindECard || errors.Is(err, ErrUnknownKey)):
				t.Errorf("Open with key id byte %#02x = %v, want a malformed e-card code (NotECardError of KindECard)", tc.kid, err)
			}
		})
	}
}
