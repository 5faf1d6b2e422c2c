package main

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
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
	// sdktest.Configure checks the declarations and the settings as medgate
	// does and fills in the defaults (forgetAfter here).
	if r := sdktest.Configure(t, c, "s1", map[string]string{setGreeting: "你好", setMaxLength: "5"}); r.Diagnostics.HasError() {
		t.Fatalf("configure: %v", r.Diagnostics)
	}
	cases := map[string]struct {
		site, payload string
		status        sdk.Status
		retryable     bool
		want          string
	}{
		"greets":              {"s1", `{"name":"Ada"}`, sdk.StatusOK, false, `{"greeting":"你好","name":"Ada"}`},
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
	if arts := host.Artifacts(); len(arts) != 1 || arts[0].Ref.ID != badge.Artifact || string(arts[0].Data) != "你好, Ada\n" || arts[0].Artifact.Name != "badge.txt" {
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
	if r := sdktest.Configure(t, c, "s2", map[string]string{setMaxLength: "0"}); !r.Diagnostics.HasError() {
		t.Fatalf("maxNameLength 0 must be refused: %+v", r)
	}
}

// TestForgetOld runs the scheduled job as the host does, for one site at a
// time given: greetings older than the site's forgetAfter are forgotten,
// newer ones and other sites' are kept.
func TestForgetOld(t *testing.T) {
	t.Parallel()
	clock := sdktest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	h := newHello()
	h.now = clock.Now
	host := sdktest.NewMemoryHost()
	c := sdktest.Connect(t, h, host)
	sdktest.Configure(t, c, "s1", map[string]string{setForget: "48h"})
	sdktest.Configure(t, c, "s2", nil) // the default, 720h
	greet := func(site, name string) {
		t.Helper()
		r, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: site, Type: opGreet, MessageID: site + name, Payload: []byte(`{"name":"` + name + `"}`)})
		if err != nil || r.Status != sdk.StatusOK {
			t.Fatalf("greet %s at %s: %v %+v", name, site, err, r)
		}
	}
	greet("s1", "Ada")
	greet("s2", "Ada")
	clock.Advance(24 * time.Hour)
	greet("s1", "Bob")
	clock.Advance(25 * time.Hour) // Ada greeted 49h ago, Bob 25h ago
	cases := []struct {
		site      string
		processed int64
		kept      []string
	}{
		{"s1", 1, []string{"greeted/Bob"}},
		{"s2", 0, []string{"greeted/Ada"}},
		{"s1", 0, []string{"greeted/Bob"}}, // nothing left to forget: still a successful run
	}
	for i, tc := range cases {
		r, err := c.RunJob(t.Context(), &sdk.RunJobRequest{Site: tc.site, Job: jobForget, Now: clock.Now()})
		if err != nil || r.Processed != tc.processed {
			t.Fatalf("run %d at %s: %v %+v; want %d forgotten", i, tc.site, err, r, tc.processed)
		}
		es, err := host.Scan(t.Context(), tc.site, "greeted/", 0)
		if err != nil {
			t.Fatal(err)
		}
		var kept []string
		for _, e := range es {
			kept = append(kept, e.Key)
		}
		if !slices.Equal(kept, tc.kept) {
			t.Fatalf("run %d at %s kept %v, want %v", i, tc.site, kept, tc.kept)
		}
	}
}

// TestGreetChecksTheShippedSchema: hello.greet is validated against the
// schema document the plugin ships (schemas/hello/greet.yaml) with package
// schemas, as medgate validates a message mapped to it, so a message sent
// as hello.greet itself meets the same rules: each broken rule comes back
// as a diagnostic with its JSON path and rule, and nothing is remembered.
func TestGreetChecksTheShippedSchema(t *testing.T) {
	t.Parallel()
	h := newHello()
	host := sdktest.NewMemoryHost()
	c := sdktest.Connect(t, h, host)
	// The site accepts long names, so only the schema's maxLength (200) limits them.
	if r := sdktest.Configure(t, c, "s1", map[string]string{setMaxLength: "1000"}); r.Diagnostics.HasError() {
		t.Fatalf("configure: %v", r.Diagnostics)
	}
	cases := map[string]struct {
		payload string
		want    []string // field rule, of every diagnostic; nil = ok
	}{
		"valid":                           {`{"name":"Ada"}`, nil},
		"200 characters":                  {`{"name":"` + strings.Repeat("名", 200) + `"}`, nil},
		"longer than maxLength 200":       {`{"name":"` + strings.Repeat("a", 201) + `"}`, []string{"$.name length"}},
		"name is not text":                {`{"name":42}`, []string{"$.name type"}},
		"name missing":                    {`{}`, []string{"$.name required"}},
		"key the schema does not declare": {`{"name":"Ada","nickname":"A"}`, []string{"$.nickname unknown"}},
		"every broken rule at once":       {`{"name":null,"age":3,"nickname":"A"}`, []string{"$.age unknown", "$.name required", "$.nickname unknown"}},
	}
	// Sequential: each case compares what the site remembers before and after.
	remembered := func(t *testing.T) int {
		t.Helper()
		es, err := host.Scan(t.Context(), "s1", "greeted/", 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := remembered(t)
			r, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: opGreet, MessageID: name, Payload: []byte(tc.payload)})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range r.Diagnostics {
				got = append(got, d.Field+" "+d.Rule)
			}
			if tc.want == nil {
				if r.Status != sdk.StatusOK {
					t.Fatalf("status %s %v, want ok", r.Status, r.Diagnostics)
				}
				return
			}
			if r.Status != sdk.StatusInvalid || !slices.Equal(got, tc.want) {
				t.Fatalf("status %s, diagnostics %q (%v); want invalid with %q", r.Status, got, r.Diagnostics, tc.want)
			}
			if after := remembered(t); after != before {
				t.Fatalf("an invalid greeting was remembered: %d greetings before, %d after", before, after)
			}
		})
	}
}

// TestGreetNeverQuotesTheName: name is personal (greet.yaml marks it), so a
// refusal never quotes its value unmasked, whatever rule it breaks.
func TestGreetNeverQuotesTheName(t *testing.T) {
	t.Parallel()
	h := newHello()
	c := sdktest.Connect(t, h, sdktest.NewMemoryHost())
	if r := sdktest.Configure(t, c, "s1", map[string]string{setMaxLength: "5"}); r.Diagnostics.HasError() {
		t.Fatalf("configure: %v", r.Diagnostics)
	}
	cases := map[string]struct {
		payload, value string
	}{
		"name sent as a number":         {`{"name":350200199001011234}`, "350200199001011234"},
		"name longer than the site's":   {`{"name":"Bartholomew"}`, "Bartholomew"},
		"name longer than the schema's": {`{"name":"` + strings.Repeat("Ada", 70) + `"}`, "AdaAdaAda"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: opGreet, MessageID: name, Payload: []byte(tc.payload)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != sdk.StatusInvalid || len(r.Diagnostics) == 0 {
				t.Fatalf("status %s %v, want invalid", r.Status, r.Diagnostics)
			}
			for _, d := range r.Diagnostics {
				if strings.Contains(d.Field+d.Summary+d.Detail, tc.value) {
					t.Errorf("diagnostic quotes the name unmasked: %+v", d)
				}
			}
		})
	}
}

// TestRepliesKeepTheNameUnderAPersonalKey: medgate masks a reply's
// personal data by its keys (pii.PersonalKey) wherever it shows the reply
// (the console's message page, GET /admin/messages, medgate send, its
// log); a name under another key, or inside a sentence, is shown as it
// is. So every value of an ok reply that quotes the person's name is under
// a key pii.PersonalKey accepts, or inside one (sdktest.Unmasked). A file's name is shown
// and logged as it is (console: file downloaded, file=…): it quotes no
// name either.
func TestRepliesKeepTheNameUnderAPersonalKey(t *testing.T) {
	t.Parallel()
	const person = "张三丰"
	host := sdktest.NewMemoryHost()
	c := sdktest.Connect(t, newHello(), host)
	if r := sdktest.Configure(t, c, "s1", map[string]string{setGreeting: "你好"}); r.Diagnostics.HasError() {
		t.Fatalf("configure: %v", r.Diagnostics)
	}
	cases := map[string]struct {
		op, payload string
	}{
		// In this order: forget needs the greeting first.
		"1 greet":  {opGreet, `{"name":"` + person + `"}`},
		"2 badge":  {opBadge, `{"name":"` + person + `"}`},
		"3 forget": {opForget, `{"name":"` + person + `","by":"王药师"}`},
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			r, err := c.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: tc.op, MessageID: name, Payload: []byte(tc.payload)})
			if err != nil || r.Status != sdk.StatusOK {
				t.Fatalf("%s: %v %+v", tc.op, err, r)
			}
			for _, at := range sdktest.Unmasked(r.Payload, person) {
				t.Errorf("%s reply %s quotes the name at %s, under a key medgate does not mask (pii.PersonalKey): the console and medgate send would show it", tc.op, r.Payload, at)
			}
		})
	}
	for _, a := range host.Artifacts() {
		if strings.Contains(a.Artifact.Name, person) {
			t.Errorf("the file %q quotes the name: the console shows and logs a file's name as it is", a.Artifact.Name)
		}
	}
}
