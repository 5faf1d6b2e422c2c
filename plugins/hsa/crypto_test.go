package hsa

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
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
