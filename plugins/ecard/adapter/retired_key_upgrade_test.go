package adapter

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
)

// TestRetiredKeyDuringRollingUpgrade: the QR key is rotated (A → B) while
// an instance of the previous version still runs with A active. That
// version records, before it hands a code out, until when its A codes stay
// valid (qrkey/A), but writes the record without "since", which it does
// not know. Its codes scan at an instance of this version: the record
// covers them. Before, its write also switched the retired-key check off
// for A for good (a record without since judges nothing, and instances of
// this version, sealing with B, never wrote A's record again), so a copy of
// A opened codes for as long as A stayed in the ring; now a scan that finds
// such a record starts it again from then on, as every code sealed since is
// recorded. An instance of a version that records nothing (before qrkey
// records existed) hands out A codes the record does not cover: they are
// refused as retired-key like a copy's, which is why the README says to
// rotate only once no such instance runs and its codes have expired.
func TestRetiredKeyDuringRollingUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	cardNo := e.register(zhang()).CardNo
	var before qrReply
	e.ok(OpQRCode, map[string]string{"cardNo": cardNo, "validity": "72h"}, &before) // qrkey/A: since T0, until T0+72h

	rotated := testSettings()
	rotated[setQRKeys] = "A:" + testKeyAHex + ",B:" + testKeyBHex
	rotated[setQRActiveKey] = "B"
	e.mustConfigure(rotated)

	key := card.Key{ID: "A"}
	if _, err := hex.Decode(key.Secret[:], []byte(testKeyAHex)); err != nil {
		t.Fatal(err)
	}
	sealA := func(at time.Time, validity time.Duration) (string, time.Time) {
		t.Helper()
		s, err := card.NewSealer([]card.Key{key}, "A", func() time.Time { return at }, card.WithSite(testSite))
		if err != nil {
			t.Fatal(err)
		}
		text, expires, err := s.Seal(cardNo, validity)
		if err != nil {
			t.Fatal(err)
		}
		return text, expires
	}
	// previousVersion seals with A as the previous version did: it records
	// the expiry, rounded up to the hour, in a record of its own shape
	// (no since) when it is later than the one recorded, then hands out.
	previousVersion := func(at time.Time, validity time.Duration) string {
		t.Helper()
		text, expires := sealA(at, validity)
		ctx := context.Background()
		entry, err := e.host.Get(ctx, testSite, keyQRKey+"A")
		if err != nil {
			t.Fatal(err)
		}
		var old struct {
			Until time.Time `json:"until"`
		}
		if err := json.Unmarshal(entry.Value, &old); err != nil {
			t.Fatal(err)
		}
		until := expires.Truncate(time.Hour)
		if until.Before(expires) {
			until = until.Add(time.Hour)
		}
		if old.Until.Before(until) {
			old.Until = until
			b, _ := json.Marshal(old)
			if _, err := e.host.CompareAndSet(ctx, testSite, keyQRKey+"A", entry.Version, b); err != nil {
				t.Fatal(err)
			}
		}
		return text
	}
	recordsNothing := func(at time.Time, validity time.Duration) string {
		text, _ := sealA(at, validity)
		return text
	}

	steps := []struct {
		name       string
		at         time.Time
		text       func() string
		wantReason string // "" for a code that scans
	}{
		{name: "the previous version's code, beyond every code this version sealed with A", at: testT0.Add(90 * time.Minute),
			text: func() string { return previousVersion(testT0.Add(time.Hour), 100*time.Hour) }},
		{name: "a copy of A after the previous version's write", at: testT0.Add(2 * time.Hour),
			text: func() string { text, _ := sealA(testT0.Add(2*time.Hour), 2000*time.Hour); return text }, wantReason: "retired-key"},
		{name: "the previous version's code again, later", at: testT0.Add(4 * time.Hour),
			text: func() string { return previousVersion(testT0.Add(3*time.Hour), 200*time.Hour) }},
		{name: "a copy of A after the previous version's second write", at: testT0.Add(5 * time.Hour),
			text: func() string { text, _ := sealA(testT0.Add(5*time.Hour), 2000*time.Hour); return text }, wantReason: "retired-key"},
		{name: "an instance that records nothing", at: testT0.Add(6 * time.Hour),
			text: func() string { return recordsNothing(testT0.Add(6*time.Hour), 1000*time.Hour) }, wantReason: "retired-key"},
		{name: "the code printed before the rotation", at: testT0.Add(7 * time.Hour), text: func() string { return before.Text }},
	}
	for _, s := range steps {
		e.clock.Set(s.at)
		st, rule, m := e.scan(s.text())
		wantSt, wantRule := sdk.StatusOK, ""
		if s.wantReason != "" {
			wantSt, wantRule = sdk.StatusInvalid, ResultTampered
		}
		if st != wantSt || rule != wantRule || s.wantReason != "" && m["reason"] != s.wantReason {
			t.Errorf("%s: scan %s %s %v, want %s %s %s", s.name, st, rule, m, wantSt, wantRule, s.wantReason)
		}
	}
}
