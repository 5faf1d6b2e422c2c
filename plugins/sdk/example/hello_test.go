package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// TestGreet runs the plugin over the real protocol in memory, as vendors
// test theirs: configure a site, greet, list the greeted people.
func TestGreet(t *testing.T) {
	t.Parallel()
	clock := sdktest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	h := newHello()
	h.now = clock.Now
	host := sdktest.NewMemoryHost()
	c := sdktest.Connect(t, h, host)
	if r, err := c.Configure(t.Context(), &sdk.ConfigureRequest{Site: "s1", Settings: map[string]string{setGreeting: "你好", setMaxLength: "5"}}); err != nil || r.Diagnostics.HasError() {
		t.Fatalf("configure: %v %v", err, r)
	}
	cases := map[string]struct {
		site, payload string
		status        sdk.Status
		retryable     bool
		want          string
	}{
		"greets":              {"s1", `{"name":"Ada"}`, sdk.StatusOK, false, `{"greeting":"你好, Ada"}`},
		"name too long":       {"s1", `{"name":"Bartholomew"}`, sdk.StatusInvalid, false, ""},
		"no name":             {"s1", `{}`, sdk.StatusInvalid, false, ""},
		"site not configured": {"s9", `{"name":"Ada"}`, sdk.StatusFailed, true, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: tc.site, Type: opGreet, MessageID: name, Payload: []byte(tc.payload)})
			if err != nil || r.Status != tc.status || r.Retryable != tc.retryable || (tc.want != "" && string(r.Payload) != tc.want) {
				t.Fatalf("greet: %v %+v", err, r)
			}
		})
	}
	r, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: opGreeted, MessageID: "list"})
	if err != nil || r.Status != sdk.StatusOK {
		t.Fatalf("greeted: %v %+v", err, r)
	}
	var list struct {
		Items []struct{ Name, At string }
	}
	if err := json.Unmarshal(r.Payload, &list); err != nil || len(list.Items) != 1 || list.Items[0].Name != "Ada" || list.Items[0].At != "2026-05-01T09:00:00Z" {
		t.Fatalf("greeted list %s", r.Payload)
	}
	// The badge is a file handed to the host; the reply carries its reference.
	r, err = c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: opBadge, MessageID: "badge", Payload: []byte(`{"name":"Ada"}`)})
	var badge struct{ Artifact string }
	if err != nil || r.Status != sdk.StatusOK || json.Unmarshal(r.Payload, &badge) != nil {
		t.Fatalf("badge: %v %+v", err, r)
	}
	if arts := host.Artifacts(); len(arts) != 1 || arts[0].Ref.ID != badge.Artifact || string(arts[0].Data) != "你好, Ada\n" || arts[0].Artifact.Name != "badge-Ada.txt" {
		t.Fatalf("artifacts %+v, reply %s", arts, r.Payload)
	}
	// The work list's row action forgets a greeting.
	r, err = c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: opForget, MessageID: "forget", Payload: []byte(`{"name":"Ada","by":"王药师"}`)})
	if err != nil || r.Status != sdk.StatusOK {
		t.Fatalf("forget: %v %+v", err, r)
	}
	if _, err := host.Get(t.Context(), "s1", "greeted/Ada"); err == nil {
		t.Fatal("Ada is still remembered after forget")
	}
	if r, err := c.Configure(t.Context(), &sdk.ConfigureRequest{Site: "s2", Settings: map[string]string{setMaxLength: "0"}}); err != nil || !r.Diagnostics.HasError() {
		t.Fatalf("maxNameLength 0 must be refused: %v %+v", err, r)
	}
}
