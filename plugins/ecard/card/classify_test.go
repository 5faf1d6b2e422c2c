package card

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// National health card samples, shaped like those in public integrations.
const (
	ehcID      = "B5A28173C0E94F1A9D3E2B7C6F8A1D4E5B9C0A7F3E2D1C8B6A5F4E3D2C17D4AB"
	ehcStatic  = ehcID + ":1"
	ehcDynamic = ehcID + ":0:07ED5A3C9B1F4E2D8A6C0B3E5F7D1EC3"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	s := newTestSealer(t, newFakeClock(testT0), []Key{testKey("A", 1)}, "A")
	ecard, _, err := s.Seal("88010000000003X", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other := newTestSealer(t, newFakeClock(testT0), []Key{testKey("A", 1)}, "A", WithPrefix("XMH"))
	otherCard, _, err := other.Seal("1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	testCases := map[string]struct {
		text string
		want Kind
	}{
		"e-card":                          {text: ecard, want: KindECard},
		"e-card with CR/LF":               {text: ecard + "\r\n", want: KindECard},
		"e-card of a future version":      {text: "MGE2" + ecard[4:], want: KindECard},
		"e-card, other hospital's prefix": {text: otherCard, want: KindUnknown},
		"health card id alone":            {text: ehcID, want: KindNationalHealthCard},
		"health card id lower case":       {text: strings.ToLower(ehcID), want: KindNationalHealthCard},
		"static health card":              {text: ehcStatic, want: KindNationalHealthCard},
		"dynamic health card":             {text: ehcDynamic, want: KindNationalHealthCard},
		"dynamic with issuer code":        {text: ehcDynamic + ":4400A0062FWHB0187", want: KindNationalHealthCard},
		"health card, bad type":           {text: ehcID + ":2", want: KindUnknown},
		"health card, short token":        {text: ehcID + ":0:07ED", want: KindUnknown},
		"health card, 63 hex":             {text: ehcID[1:], want: KindUnknown},
		"health card, non-hex":            {text: "G" + ehcID[1:], want: KindUnknown},
		"health card, too many parts":     {text: ehcDynamic + ":A:B", want: KindUnknown},
		"resident ID":                     {text: "11010519491231002X", want: KindResidentID},
		"resident ID lower x":             {text: "11010519491231002x", want: KindResidentID},
		"resident ID bad check":           {text: "110105194912310021", want: KindUnknown},
		"resident ID 15 digits":           {text: "110105491231002", want: KindUnknown},
		"trace code":                      {text: "81234567890123456789", want: KindTraceCode},
		"trace code not starting with 8":  {text: "71234567890123456789", want: KindUnknown},
		"trace code 19 digits":            {text: "8123456789012345678", want: KindUnknown},
		"trace code with letter":          {text: "8123456789012345678A", want: KindUnknown},
		"empty":                           {text: "", want: KindUnknown},
		"url":                             {text: "https://example.com/", want: KindUnknown},
		"prefix without body":             {text: "MGE1", want: KindUnknown},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, Classify(tc.text)); diff != "" {
				t.Errorf("Classify(%q) (-want +got):\n%s", tc.text, diff)
			}
		})
	}
	if got := other.Classify(otherCard); got != KindECard {
		t.Errorf("Sealer.Classify with its own prefix = %v, want %v", got, KindECard)
	}
}

// TestResidentIDCheckFails: an ID-number shape with a wrong GB 11643 check
// character is told apart from a valid ID number and from other text.
func TestResidentIDCheckFails(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		text string
		want bool
	}{
		"valid, check X":            {text: "11010519491231002X", want: false},
		"valid, lower x":            {text: "11010519491231002x", want: false},
		"valid, check digit":        {text: "440524188001010014", want: false},
		"wrong check digit":         {text: "110105194912310021", want: true},
		"wrong check X":             {text: "44052418800101001X", want: true},
		"wrong check, scanner CRLF": {text: "110105194912310021\r\n", want: true},
		"17 characters":             {text: "11010519491231002", want: false},
		"19 characters":             {text: "11010519491231002XX", want: false},
		"letter inside":             {text: "1101051949123100AX", want: false},
		"check is a letter not X":   {text: "11010519491231002Y", want: false},
		"empty":                     {text: "", want: false},
		"trace code":                {text: "81234567890123456789", want: false},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := ResidentIDCheckFails(tc.text); got != tc.want {
				t.Errorf("ResidentIDCheckFails(%q) = %v, want %v", tc.text, got, tc.want)
			}
			if tc.want && Classify(tc.text) != KindUnknown {
				t.Errorf("Classify(%q) = %v, want unknown for a failed check", tc.text, Classify(tc.text))
			}
		})
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		kind Kind
		want string
	}{
		"unknown":      {kind: KindUnknown, want: "unknown code"},
		"out of range": {kind: Kind(99), want: "unknown code"},
		"ecard":        {kind: KindECard, want: "hospital e-card code"},
		"health card":  {kind: KindNationalHealthCard, want: "national health card (电子健康卡) code"},
		"resident ID":  {kind: KindResidentID, want: "resident ID number (居民身份证号)"},
		"trace code":   {kind: KindTraceCode, want: "drug trace code (追溯码)"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, tc.kind.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func BenchmarkClassify(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Classify(ehcDynamic)
	}
}
