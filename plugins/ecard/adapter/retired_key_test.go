package adapter

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestScanRetiredKey: after qrActiveKey moves from A to B with A kept in
// qrKeys, a code printed with A before the change scans until it expires,
// and A stops working once every code the site sealed with it has expired:
// a code sealed with A after the change (a copy of the retired key, which
// is why keys are rotated) and valid beyond the latest expiry the site
// recorded for A is refused as tampered (retired-key). Before, A kept
// opening any code sealed with it for as long as it stayed in the ring.
// A code a not yet reloaded instance seals with A (the two-step rotation)
// is recorded and scans.
func TestScanRetiredKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo := e.register(zhang()).CardNo
	var before qrReply
	e.ok(OpQRCode, map[string]string{"cardNo": cardNo, "validity": "72h"}, &before)
	// Until the rotation has reached it, a second instance seals with A.
	lagging := e.instance(testSettings())

	rotated := testSettings()
	rotated[setQRKeys] = "A:" + testKeyAHex + ",B:" + testKeyBHex
	rotated[setQRActiveKey] = "B"
	e.mustConfigure(rotated)

	e.clock.Set(testT0.Add(time.Hour))
	var lag qrReply
	lagging.ok(OpQRCode, map[string]string{"cardNo": cardNo, "validity": "80h"}, &lag)

	key := card.Key{ID: "A"}
	if _, err := hex.Decode(key.Secret[:], []byte(testKeyAHex)); err != nil {
		t.Fatal(err)
	}
	// copyOfA seals with the retired key, as anyone holding a copy could.
	copyOfA := func(at time.Time, validity time.Duration) string {
		t.Helper()
		s, err := card.NewSealer([]card.Key{key}, "A", func() time.Time { return at }, card.WithSite(testSite))
		if err != nil {
			t.Fatal(err)
		}
		text, _, err := s.Seal(cardNo, validity)
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	lastA := testT0.Add(81 * time.Hour) // the lagging code's expiry, rounded up to the hour
	testCases := []struct {
		name       string
		at         time.Time
		text       string
		wantRule   string
		wantReason string
	}{
		{name: "code printed before the change, before it expires", at: before.ExpiresAt.Add(-time.Second), text: before.Text},
		{name: "code printed before the change, at its expiry", at: before.ExpiresAt, text: before.Text, wantRule: ResultExpired},
		{name: "code a lagging instance sealed with A after the change", at: lag.ExpiresAt.Add(-time.Second), text: lag.Text},
		{name: "A sealed after the change, valid beyond the last A code", at: testT0.Add(2 * time.Hour),
			text: copyOfA(testT0.Add(2*time.Hour), 90*24*time.Hour), wantRule: ResultTampered, wantReason: "retired-key"},
		{name: "A sealed after every A code expired", at: lastA.Add(time.Minute),
			text: copyOfA(lastA, time.Hour), wantRule: ResultTampered, wantReason: "retired-key"},
		{name: "A sealed within the last A code's validity", at: testT0.Add(3 * time.Hour),
			text: copyOfA(testT0.Add(3*time.Hour), time.Hour)},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			e.clock.Set(tc.at)
			st, rule, m := e.scan(tc.text)
			wantSt := sdk.StatusOK
			if tc.wantRule != "" {
				wantSt = sdk.StatusInvalid
			}
			if st != wantSt || rule != tc.wantRule {
				t.Fatalf("scan: %s %s %v, want %s %s", st, rule, m, wantSt, tc.wantRule)
			}
			if tc.wantReason != "" && m["reason"] != tc.wantReason {
				t.Errorf("reason %v, want %s", m["reason"], tc.wantReason)
			}
		})
	}
}
