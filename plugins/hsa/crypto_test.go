package hsa

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

const stdKey = "0123456789abcdeffedcba9876543210"

// TestSM4StandardVector: GB/T 32907-2016 example 1, and a PKCS#7 padded
// message cross-checked with OpenSSL 3:
//
//	printf '{"a":1}' | openssl enc -sm4-ecb -K 0123456789abcdeffedcba9876543210 | base64
func TestSM4StandardVector(t *testing.T) {
	t.Parallel()
	pt, _ := hex.DecodeString(stdKey)
	ct, err := SM4Encrypt(stdKey, true, pt)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ct, "681edf34d206965e86b3e94f536e4246") || len(ct) != 64 {
		t.Errorf("block = %s, want 681edf34d206965e86b3e94f536e4246 + one padding block", ct)
	}
	got, err := SM4Encrypt(stdKey, false, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if got != "24+Yhm3IuBJoCwSlTbMsug==" {
		t.Errorf("openssl cross-check: got %s", got)
	}
	back, err := SM4Decrypt(stdKey, false, got)
	if err != nil || string(back) != `{"a":1}` {
		t.Errorf("decrypt: %q, %v", back, err)
	}
}

func TestSM4KeyForms(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		key     Secret
		wantErr bool
	}{
		"hex":          {stdKey, false},
		"16 chars":     {"abcdefghijklmnop", false},
		"empty":        {"", true},
		"bad hex":      {Secret(strings.Repeat("z", 32)), true},
		"wrong length": {"short", true},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := sm4Key(tc.key)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil && tc.key != "" && strings.Contains(err.Error(), tc.key.Reveal()) {
				t.Errorf("the error shows the key: %v", err)
			}
		})
	}
}

func TestSM4DecryptRejectsGarbage(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "!!!", base64.StdEncoding.EncodeToString([]byte("short")), base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		if _, err := SM4Decrypt(stdKey, false, in); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%q: err = %v, want ErrDecrypt", in, err)
		}
	}
}

// TestInputLimitCountsWhatIsSent: maxInputChars bounds the envelope's
// input as sent. With encType SM4 that is the ciphertext, longer than the
// JSON (base64 of UTF-8 bytes: 4 characters per Chinese character), so an
// input that fits in clear may not fit encrypted: it is refused before
// sending, and InputChars predicts the length sent.
func TestInputLimitCountsWhatIsSent(t *testing.T) {
	t.Parallel()
	input := map[string]any{"memo": strings.Repeat("长", 20)} // JSON of 31 characters, 71 bytes
	testCases := map[string]struct {
		enc, encoding string
		wantSent      int // characters of the input as sent
	}{
		"clear":      {EncNone, "", 31},
		"SM4 base64": {EncSM4, "base64", 108},
		"SM4 hex":    {EncSM4, "hex", 160},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("")
			cfg.Enc, cfg.SM4Key, cfg.SM4Hex = tc.enc, stdKey, tc.encoding == "hex"
			b, _ := json.Marshal(input)
			if got := cfg.InputChars(utf8.RuneCount(b), len(b)); got != tc.wantSent {
				t.Errorf("InputChars = %d, want %d", got, tc.wantSent)
			}
			for _, limit := range []int{tc.wantSent - 1, tc.wantSent} {
				p := &platform{}
				srv := serve(t, p)
				cfg.BaseURL, cfg.MaxInputChars = srv.URL, limit
				c := newClient(t, cfg, WithClock(fixedClock()))
				_, err := c.Do(context.Background(), newMemHost(), Call{Infno: "4201A", Input: input})
				var ve *ValidationError
				switch {
				case limit < tc.wantSent && (!errors.As(err, &ve) || ve.Errors[0].Rule != "length" || len(p.envs) != 0):
					t.Errorf("limit %d: err %v, %d calls sent; want a length error and nothing sent", limit, err, len(p.envs))
				case limit >= tc.wantSent && (err != nil || len(p.envs) != 1):
					t.Errorf("limit %d: err %v, %d calls sent; want it sent", limit, err, len(p.envs))
				case limit >= tc.wantSent:
					sent := p.envs[0]["input"]
					if s, isText := sent.(string); isText && utf8.RuneCountInString(s) != tc.wantSent {
						t.Errorf("sent %d characters, want %d", utf8.RuneCountInString(s), tc.wantSent)
					}
				}
			}
		})
	}
}
