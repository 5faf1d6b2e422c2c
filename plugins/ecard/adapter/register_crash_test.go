package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/ecard/card"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// crashHost is a host whose store makes the writes of sdk.WriteState one
// by one (it hides MemoryHost.WriteState, as an older host does) and that
// "crashes" after a number of state writes: from then on every write,
// sequence, event and journal entry fails, as if the instance had died
// there. What was written before stays in the MemoryHost underneath.
type crashHost struct {
	sdkhost.HostServer // the MemoryHost, without its WriteState

	mu      sync.Mutex
	writes  int
	after   int
	crashed bool
}

var errCrash = errors.New("simulated crash: the instance died here")

// write counts a state write and reports whether it may be made.
func (c *crashHost) write() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.crashed && c.writes >= c.after {
		c.crashed = true
	}
	if c.crashed {
		return errCrash
	}
	c.writes++
	return nil
}

func (c *crashHost) dead() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed {
		return errCrash
	}
	return nil
}

func (c *crashHost) Put(ctx context.Context, site, key string, value []byte) (int64, error) {
	if err := c.write(); err != nil {
		return 0, err
	}
	return c.HostServer.Put(ctx, site, key, value)
}

func (c *crashHost) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	if err := c.write(); err != nil {
		return 0, err
	}
	return c.HostServer.CompareAndSet(ctx, site, key, expect, value)
}

func (c *crashHost) Delete(ctx context.Context, site, key string) error {
	if err := c.write(); err != nil {
		return err
	}
	return c.HostServer.Delete(ctx, site, key)
}

func (c *crashHost) NextSequence(ctx context.Context, site, name string) (int64, error) {
	if err := c.dead(); err != nil {
		return 0, err
	}
	return c.HostServer.NextSequence(ctx, site, name)
}

func (c *crashHost) Publish(ctx context.Context, site string, e sdk.Event) error {
	if err := c.dead(); err != nil {
		return err
	}
	return c.HostServer.Publish(ctx, site, e)
}

func (c *crashHost) Journal(ctx context.Context, site string, x sdk.Exchange) (int64, error) {
	if err := c.dead(); err != nil {
		return 0, err
	}
	return c.HostServer.Journal(ctx, site, x)
}

var _ sdkhost.HostServer = (*crashHost)(nil)

// TestRegisterCrashRedelivered lets an instance die after each state write
// of a registration in turn, on a host that makes the writes one by one,
// and then redelivers the message to another instance, as the host does
// after a crash. Wherever the crash fell, the registration must complete
// with one card that the person points at, announced under one event id:
// no card record
// left pointing nowhere and no second number for the same person. A
// newborn registered under its guardian keeps its guardian and birth order
// on the card wherever the crash fell.
func TestRegisterCrashRedelivered(t *testing.T) {
	t.Parallel()
	adult := map[string]any{}
	for k, v := range zhang() {
		adult[k] = v
	}
	for who, id := range map[string]map[string]any{"adult": adult, "newborn": newbornOf("李梅之女", "2", 1)} {
		t.Run(who, func(t *testing.T) {
			t.Parallel()
			testRegisterCrashRedelivered(t, id)
		})
	}
}

func testRegisterCrashRedelivered(t *testing.T, id map[string]any) {
	payload, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	// Enough crash points to cover every state write of one registration:
	// the case that crashes after all of them completes in one go.
	for after := 0; after <= 6; after++ {
		t.Run("crash after "+string(rune('0'+after))+" writes", func(t *testing.T) {
			t.Parallel()
			mem := sdktest.NewMemoryHost()
			clock := &fakeClock{t: testT0}
			dying := sdktest.Connect(t, New(WithClock(clock.Now)), &crashHost{HostServer: mem, after: after})
			if r, err := dying.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: testSettings()}); err != nil || r.Diagnostics.HasError() {
				t.Fatalf("Configure: %v %v", err, r)
			}
			req := &sdk.HandleRequest{Site: testSite, Type: OpRegister, MessageID: "reg-1", Format: "json", Payload: payload, Attempt: 1}
			first, firstErr := dying.Handle(context.Background(), req)

			e := &env{tb: t, host: mem, clock: clock, p: sdktest.Connect(t, New(WithClock(clock.Now)), mem), seq: new(atomic.Int64)}
			e.mustConfigure(testSettings())
			clock.Set(testT0.Add(5 * time.Second))
			redelivered := *req
			redelivered.Recovering = true
			r, err := e.p.Handle(context.Background(), &redelivered)
			if err != nil || r.Status != sdk.StatusOK {
				t.Fatalf("redelivered registration = %v, %v; want ok", r, err)
			}
			var reply registerReply
			if err := json.Unmarshal(r.Payload, &reply); err != nil {
				t.Fatal(err)
			}
			if !reply.Created {
				t.Errorf("redelivered registration says created=false; the message did create the card")
			}
			if firstErr == nil && first.Status == sdk.StatusOK {
				var f registerReply
				if err := json.Unmarshal(first.Payload, &f); err != nil {
					t.Fatal(err)
				}
				if f.CardNo != reply.CardNo {
					t.Errorf("the redelivery answered card %s, the first handling %s", reply.CardNo, f.CardNo)
				}
			}

			cards := e.keysWithPrefix(keyCard)
			if len(cards) != 1 || cards[0] != keyCard+reply.CardNo {
				t.Errorf("card records = %v, want only %s", cards, keyCard+reply.CardNo)
			}
			persons := e.keysWithPrefix(keyPerson)
			if len(persons) != 1 {
				t.Fatalf("person records = %v, want one", persons)
			}
			var p personRecord
			if _, err := getJSON(context.Background(), siteHost{mem, testSite}, persons[0], &p); err != nil || p.CardNo != reply.CardNo {
				t.Errorf("person points at %q (%v), want %s", p.CardNo, err, reply.CardNo)
			}
			// A crash between publishing and marking the card announced
			// publishes again, under the same event id (README: consumers
			// deduplicate by id): one card announced, under one id.
			ids := map[string]bool{}
			for _, ev := range e.eventsOfType("ecard.registered") {
				ids[ev.ID] = true
			}
			if len(ids) != 1 || !ids["ecard.registered/"+reply.CardNo] {
				t.Errorf("ecard.registered event ids = %v, want only ecard.registered/%s", ids, reply.CardNo)
			}
			if recent := e.keysWithPrefix(keyRecent); len(recent) != 1 {
				t.Errorf("recent-cards rows = %v, want one", recent)
			}
			// The person registering again gets the same card.
			if again := e.registerAny(id); again.CardNo != reply.CardNo || again.Created {
				t.Errorf("registering again = %+v, want card %s, not created", again, reply.CardNo)
			}
			rec, _, err := getCard(context.Background(), siteHost{mem, testSite}, reply.CardNo)
			if _, newborn := id["guardian"]; err != nil || newborn != (rec.Guardian != nil && rec.Guardian.IDNumber == testResidentID && rec.BirthOrder == 1) {
				t.Errorf("card record %+v (%v): guardian and birth order not as registered", rec, err)
			}
		})
	}
}

// TestRegisterAfterCrashOtherMessage dies between the claim on the person
// and the card record, and then lets another registration of the same
// person arrive before the claiming message is redelivered: while the claim
// may still be running it is told to retry; once the claim is older than
// announceGrace it completes the card under the claimed number. The
// claiming message, redelivered last, answers the same card as created.
func TestRegisterAfterCrashOtherMessage(t *testing.T) {
	t.Parallel()
	payload, err := json.Marshal(zhang())
	if err != nil {
		t.Fatal(err)
	}
	mem := sdktest.NewMemoryHost()
	clock := &fakeClock{t: testT0}
	// The site's first registration writes its cardPrefix's record, then
	// the claim, then the card record: it dies after the claim.
	dying := sdktest.Connect(t, New(WithClock(clock.Now)), &crashHost{HostServer: mem, after: 2})
	if r, err := dying.Configure(context.Background(), &sdk.ConfigureRequest{Site: testSite, Settings: testSettings()}); err != nil || r.Diagnostics.HasError() {
		t.Fatalf("Configure: %v %v", err, r)
	}
	claimer := &sdk.HandleRequest{Site: testSite, Type: OpRegister, MessageID: "reg-1", Format: "json", Payload: payload, Attempt: 1}
	if r, err := dying.Handle(context.Background(), claimer); err == nil && r.Status == sdk.StatusOK {
		t.Fatalf("the registration survived its crash: %v", r)
	}
	e := &env{tb: t, host: mem, clock: clock, p: sdktest.Connect(t, New(WithClock(clock.Now)), mem), seq: new(atomic.Int64)}
	e.mustConfigure(testSettings())
	if cards := e.keysWithPrefix(keyCard); len(cards) != 0 {
		t.Fatalf("card records after the crash = %v, want none (the claim is written first)", cards)
	}

	clock.Set(testT0.Add(announceGrace))
	if r := e.call(OpRegister, zhang()); r.Status != sdk.StatusFailed || !r.Retryable {
		t.Fatalf("registration while the claim may still run = %s (retryable %v) %s, want failed, retryable", r.Status, r.Retryable, r.Diagnostics)
	}
	if cards := e.keysWithPrefix(keyCard); len(cards) != 0 {
		t.Fatalf("card records after the refused registration = %v, want none", cards)
	}

	clock.Set(testT0.Add(announceGrace + time.Second))
	other := e.register(zhang())
	if other.Created || !other.RegisteredAt.Equal(testT0) {
		t.Errorf("registration completing the claim = %+v, want created=false, registeredAt %s (the claim's)", other, testT0)
	}
	if cards := e.keysWithPrefix(keyCard); len(cards) != 1 || cards[0] != keyCard+other.CardNo {
		t.Errorf("card records = %v, want only %s", cards, keyCard+other.CardNo)
	}

	redelivered := *claimer
	redelivered.Recovering = true
	r, err := e.p.Handle(context.Background(), &redelivered)
	if err != nil || r.Status != sdk.StatusOK {
		t.Fatalf("redelivered registration = %v, %v; want ok", r, err)
	}
	var reply registerReply
	if err := json.Unmarshal(r.Payload, &reply); err != nil {
		t.Fatal(err)
	}
	if reply.CardNo != other.CardNo || !reply.Created {
		t.Errorf("redelivered registration = %+v, want card %s, created", reply, other.CardNo)
	}
	if evs := e.eventsOfType("ecard.registered"); len(evs) == 0 || evs[0].ID != "ecard.registered/"+other.CardNo {
		t.Errorf("ecard.registered events = %v, want ecard.registered/%s", evs, other.CardNo)
	}
}

// TestRegisterClaimOnForeignCard finds the person claimed for a number whose
// card record is another person's, which a host that writes one by one
// leaves when the card record was refused after the claim was written: the
// registration must not answer that card, but issue the person their own.
func TestRegisterClaimOnForeignCard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	foreign := e.register(person(1)).CardNo
	ik, err := card.IdentityKey([]byte(testIdentity), card.Identity{IDType: "01", IDNumber: testResidentID})
	if err != nil {
		t.Fatal(err)
	}
	claim, err := json.Marshal(personRecord{CardNo: foreign, Seq: 1, RegisteredBy: "m-lost", ClaimedAt: testT0})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.host.Put(context.Background(), testSite, keyPerson+ik, claim); err != nil {
		t.Fatal(err)
	}
	got := e.register(zhang())
	if got.CardNo == foreign || !got.Created {
		t.Fatalf("registration = %+v, want a new card, not %s (another person's)", got, foreign)
	}
	var p personRecord
	if _, err := getJSON(context.Background(), siteHost{e.host, testSite}, keyPerson+ik, &p); err != nil || p.CardNo != got.CardNo {
		t.Errorf("person points at %q (%v), want %s", p.CardNo, err, got.CardNo)
	}
}
