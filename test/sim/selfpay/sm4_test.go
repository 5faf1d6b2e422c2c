package selfpay

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/medgate/medgate/plugins/hsa"
)

// TestSM4StandardVector: the first block is GB/T 32907-2016's example
// (key = plaintext = 0123456789abcdeffedcba9876543210); the second is the
// PKCS#7 padding block a 16-byte input gets.
func TestSM4StandardVector(t *testing.T) {
	const key = "0123456789abcdeffedcba9876543210"
	pt := []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}
	ct, err := sm4Seal(key, true, pt)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ct, "681edf34d206965e86b3e94f536e4246") || len(ct) != 64 {
		t.Fatalf("SM4-ECB of the standard vector = %s", ct)
	}
	back, err := sm4Open(key, true, ct)
	if err != nil || !bytes.Equal(back, pt) {
		t.Fatalf("open: %x, %v", back, err)
	}
}

// TestSM4AgreesWithTheClient: the simulator's SM4 and medgate's
// (plugins/hsa) are separate implementations; each opens what the other
// seals, in both encodings and with both key forms.
func TestSM4AgreesWithTheClient(t *testing.T) {
	for _, key := range []string{"0123456789abcdeffedcba9876543210", "1234567890abcdef"} {
		for _, hexForm := range []bool{false, true} {
			for n := range 40 {
				pt := make([]byte, n)
				_, _ = rand.Read(pt)
				ours, err := sm4Seal(key, hexForm, pt)
				if err != nil {
					t.Fatal(err)
				}
				theirs, err := hsa.SM4Encrypt(hsa.Secret(key), hexForm, pt)
				if err != nil {
					t.Fatal(err)
				}
				if ours != theirs {
					t.Fatalf("key %d chars, hex %v, %d bytes: simulator %s, client %s", len(key), hexForm, n, ours, theirs)
				}
				if got, err := sm4Open(key, hexForm, theirs); err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("simulator cannot open the client's %d bytes: %v", n, err)
				}
			}
		}
	}
	for _, bad := range []string{"", "AAAA", "not base64!", strings.Repeat("A", 24)} {
		if _, err := sm4Open("1234567890abcdef", false, bad); err == nil {
			t.Errorf("sm4Open(%q) accepted", bad)
		}
	}
}

func TestParseMsgID(t *testing.T) {
	for _, tc := range []struct {
		id, code string
		ok       bool
	}{
		{"H35020300001" + "20260401103000" + "0001", "H35020300001", true},
		{"H35020300001" + "20260401103000" + "001", "", false},
		{"H35020300001" + "20261301103000" + "0001", "", false},
		{"H35020300001" + "20260401103000" + "00a1", "", false},
		{"", "", false},
	} {
		code, err := parseMsgID(tc.id)
		if (err == nil) != tc.ok || code != tc.code {
			t.Errorf("parseMsgID(%q) = %q, %v; want %q, ok %v", tc.id, code, err, tc.code, tc.ok)
		}
	}
}
