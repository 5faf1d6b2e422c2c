package adapter

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/medgate/medgate/plugins/sdk"
)

// TestRegisterNewPrefixAfterExhaustion: when the card-number sequence is
// exhausted, the refusal and the README say to widen cardWidth or to
// configure a new cardPrefix. A new prefix is a new range of numbers: the
// registrations after it get cards again, under the new prefix, each
// number once, on every instance. Before, the one counter went on past
// the width, so every number under the new prefix was "exhausted" too and
// the site could not register anyone until it widened the numbers.
func TestRegisterNewPrefixAfterExhaustion(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{numbersSequential, numbersShuffled} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			maps.Copy(s, map[string]string{setCardPrefix: "7", setCardWidth: "1", setCardNumbers: mode})
			e := newEnv(t, s)
			seen := map[string]bool{}
			for i := range 9 {
				seen[e.register(person(i)).CardNo] = true
			}
			if r := e.call(OpRegister, person(9)); r.Status != sdk.StatusFailed || len(r.Diagnostics) != 1 || r.Diagnostics[0].Rule != "sequence" {
				t.Fatalf("10th registration with width 1 = %s %s; want failed, rule sequence", r.Status, r.Diagnostics)
			}

			// The remedy the refusal names: a new prefix, on both
			// instances of the site.
			s[setCardPrefix] = "6"
			e.mustConfigure(s)
			e2 := e.instance(s)
			var mu sync.Mutex
			var wg sync.WaitGroup
			var numbers []string
			for w, inst := range []*env{e, e2} {
				wg.Go(func() {
					for i := 10 + w; i < 18; i += 2 {
						r := inst.call(OpRegister, person(i))
						var reply registerReply
						if r.Status == sdk.StatusOK {
							_ = json.Unmarshal(r.Payload, &reply)
						}
						mu.Lock()
						if r.Status != sdk.StatusOK || !reply.Created {
							t.Errorf("person %d after the new prefix: %s %s (created %v); want a new card", i, r.Status, r.Diagnostics, reply.Created)
						}
						if reply.CardNo != "" {
							numbers = append(numbers, reply.CardNo)
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			for _, n := range numbers {
				if !strings.HasPrefix(n, "6") || len(n) != 3 {
					t.Errorf("card %q after the new prefix: want 3 characters starting with 6", n)
				}
				if seen[n] {
					t.Errorf("card number %q issued twice", n)
				}
				seen[n] = true
			}
			if got, want := len(e.keysWithPrefix(keyCard)), 9+8; got != want {
				t.Errorf("%d card records, want %d", got, want)
			}
		})
	}
}

// TestRegisterExhaustedPrefixOfBefore: a site whose numbers were exhausted
// before prefixes had records (prefix/<cardPrefix>), and which still has
// that prefix configured, or configures again a prefix it gave up, must
// not have the prefix start again at 1: its numbers are taken, and each
// registration would walk through them (every one skipped as existing,
// until the message gives up as busy). It is refused at once as exhausted,
// as before, and a prefix not used before still starts its own numbers.
func TestRegisterExhaustedPrefixOfBefore(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{numbersSequential, numbersShuffled} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			maps.Copy(s, map[string]string{setCardPrefix: "70", setCardWidth: "2", setCardNumbers: mode})
			e := newEnv(t, s)
			for i := range 99 {
				e.register(person(i))
			}
			// The state as a version without prefix records left it.
			for _, k := range e.keysWithPrefix(keyPrefix) {
				if err := e.host.Delete(context.Background(), testSite, k); err != nil {
					t.Fatal(err)
				}
			}
			tests := []struct {
				prefix  string
				created bool
			}{
				{"70", false}, // still configured, exhausted
				{"60", true},  // not used before: its own numbers
				{"70", false}, // given up, configured again
			}
			for i, tc := range tests {
				s[setCardPrefix] = tc.prefix
				e.mustConfigure(s)
				r := e.call(OpRegister, person(100+i))
				switch {
				case tc.created && r.Status != sdk.StatusOK:
					t.Errorf("cardPrefix %s: %s %s, want a new card", tc.prefix, r.Status, r.Diagnostics)
				case !tc.created && (r.Status != sdk.StatusFailed || r.Retryable || len(r.Diagnostics) != 1 || r.Diagnostics[0].Rule != "sequence"):
					t.Errorf("cardPrefix %s: %s retryable %v %s, want failed, not retryable, rule sequence", tc.prefix, r.Status, r.Retryable, r.Diagnostics)
				}
			}
			if got, want := len(e.keysWithPrefix(keyCard)), 99+1; got != want {
				t.Errorf("%d card records, want %d", got, want)
			}
		})
	}
}
