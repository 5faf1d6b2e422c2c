package sdk_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

func TestMux(t *testing.T) {
	t.Parallel()
	var m sdk.Mux
	m.Register(sdk.Operation{Type: "p.a", Summary: "a"}, func(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		return sdk.OK(map[string]string{"op": "a"})
	})
	m.Register(sdk.Operation{Type: "p.b", Summary: "b"}, func(_ context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
		return sdk.OK(map[string]string{"op": "b", "site": req.Site})
	})
	if diff := cmp.Diff([]sdk.Operation{{Type: "p.a", Summary: "a"}, {Type: "p.b", Summary: "b"}}, m.Operations()); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	cases := map[string]struct {
		typ        string
		status     sdk.Status
		payload    string
		diagnostic string
	}{
		"first":   {"p.a", sdk.StatusOK, `{"op":"a"}`, ""},
		"second":  {"p.b", sdk.StatusOK, `{"op":"b","site":"s1"}`, ""},
		"unknown": {"p.c", sdk.StatusInvalid, "", "use one of: p.a, p.b"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := m.Handle(t.Context(), &sdk.HandleRequest{Site: "s1", Type: tc.typ})
			if err != nil || r.Status != tc.status || string(r.Payload) != tc.payload {
				t.Fatalf("Handle(%s) = %+v, %v", tc.typ, r, err)
			}
			if tc.diagnostic != "" && (len(r.Diagnostics) != 1 || !strings.Contains(r.Diagnostics[0].Detail, tc.diagnostic) || r.Diagnostics[0].Field != "$.type") {
				t.Errorf("diagnostics %+v, want one at $.type saying %q", r.Diagnostics, tc.diagnostic)
			}
		})
	}
}

func TestMuxRegisterRefusesMistakes(t *testing.T) {
	t.Parallel()
	h := func(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) { return sdk.OK(nil) }
	cases := map[string]func(m *sdk.Mux){
		"no plugin prefix": func(m *sdk.Mux) { m.Register(sdk.Operation{Type: "ping"}, h) },
		"no handler":       func(m *sdk.Mux) { m.Register(sdk.Operation{Type: "p.a"}, nil) },
		"twice":            func(m *sdk.Mux) { m.Register(sdk.Operation{Type: "p.a"}, h); m.Register(sdk.Operation{Type: "p.a"}, h) },
	}
	for name, register := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Fatal("Register did not panic")
				}
			}()
			register(&sdk.Mux{})
		})
	}
}

func TestResponses(t *testing.T) {
	t.Parallel()
	d := sdk.Problem("$.x", "required", "x is missing", "send x")
	ok, err := sdk.OK(struct {
		N int `json:"n"`
	}{3})
	if err != nil {
		t.Fatal(err)
	}
	empty, _ := sdk.OK(nil)
	if _, err := sdk.OK(make(chan int)); err == nil {
		t.Error("OK of a value JSON cannot encode must fail")
	}
	cases := map[string]struct {
		got, want *sdk.HandleResponse
	}{
		"ok":       {ok, &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"n":3}`)}},
		"ok empty": {empty, &sdk.HandleResponse{Status: sdk.StatusOK}},
		"invalid":  {sdk.Invalid(d), &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: sdk.Diagnostics{d}}},
		"rejected": {sdk.Rejected(sdk.External{System: "x", Code: "E1"}, d), &sdk.HandleResponse{Status: sdk.StatusRejected, External: &sdk.External{System: "x", Code: "E1"}, Diagnostics: sdk.Diagnostics{d}}},
		"failed":   {sdk.Failed(d), &sdk.HandleResponse{Status: sdk.StatusFailed, Diagnostics: sdk.Diagnostics{d}}},
		"retry":    {sdk.Retry(d), &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true, Diagnostics: sdk.Diagnostics{d}}},
		"wait":     {sdk.Wait(d), &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true, Waiting: true, Diagnostics: sdk.Diagnostics{d}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if d.Severity != sdk.SeverityError {
		t.Error("Problem must be an error")
	}
}

func TestSettings(t *testing.T) {
	t.Parallel()
	s := sdk.NewSettings(map[string]string{"n": "42", "b": "true", "d": "90s", "u": "https://x.example/api", "name": "a",
		"badInt": "x", "badBool": "maybe", "badDur": "soon", "unset": ""})
	got := []any{s.String("name"), s.Int("n"), s.Bool("b"), s.Duration("d"), s.URL("u").Host, s.Int("unset"), s.Bool("unset"), s.Duration("unset"), s.URL("unset") == nil}
	want := []any{"a", int64(42), true, 90 * time.Second, "x.example", int64(0), false, time.Duration(0), true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if len(s.Diagnostics()) != 0 {
		t.Fatalf("well-typed reads gave diagnostics %v", s.Diagnostics())
	}
	s.Int("badInt")
	s.Bool("badBool")
	s.Duration("badDur")
	var fields []string
	for _, d := range s.Diagnostics() {
		fields = append(fields, d.Field)
	}
	if diff := cmp.Diff([]string{"badInt", "badBool", "badDur"}, fields); diff != "" || !s.Diagnostics().HasError() {
		t.Errorf("diagnostics of wrongly typed reads (-want +got):\n%s", diff)
	}
}

// TestSettingsReadUndeclared: medgate gives a plugin every setting it
// declares, "" when unset, so a read of a name the map does not hold is a
// setting the plugin does not declare, most often a misspelt one. It used to
// read as "" (0, false) without a word, and the plugin ran with an empty API
// key; each such read is now an error diagnostic naming the setting and the
// names given, once per name, with no value.
func TestSettingsReadUndeclared(t *testing.T) {
	t.Parallel()
	const secret = "s3cret"
	cases := map[string]struct {
		read func(s *sdk.Settings)
		want []string
	}{
		"declared, unset": {func(s *sdk.Settings) { s.String("endpoint"); s.Int("retries") }, nil},
		"misspelt string": {func(s *sdk.Settings) { s.String("apikey") }, []string{"apikey"}},
		"misspelt int":    {func(s *sdk.Settings) { s.Int("retry") }, []string{"retry"}},
		"misspelt bool":   {func(s *sdk.Settings) { s.Bool("enabled") }, []string{"enabled"}},
		"misspelt dur":    {func(s *sdk.Settings) { s.Duration("timeOut") }, []string{"timeOut"}},
		"misspelt url":    {func(s *sdk.Settings) { s.URL("endpiont") }, []string{"endpiont"}},
		"read twice":      {func(s *sdk.Settings) { s.String("apikey"); s.String("apikey") }, []string{"apikey"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := sdk.NewSettings(map[string]string{"apiKey": secret, "endpoint": "", "retries": ""})
			tc.read(s)
			ds := s.Diagnostics()
			var fields []string
			for _, d := range ds {
				fields = append(fields, d.Field)
				for _, w := range []string{"does not declare", "apiKey, endpoint, retries", "correct the name"} {
					if !strings.Contains(d.Summary+" "+d.Detail, w) {
						t.Errorf("diagnostic %v does not say %q", d, w)
					}
				}
			}
			if diff := cmp.Diff(tc.want, fields); diff != "" || ds.HasError() != (len(tc.want) > 0) {
				t.Errorf("diagnostics %v (-want +got fields):\n%s", ds, diff)
			}
			if strings.Contains(ds.String(), secret) {
				t.Errorf("diagnostics quote a value: %s", ds)
			}
		})
	}
}

func TestSites(t *testing.T) {
	t.Parallel()
	type conf struct{ url string }
	var s sdk.Sites[conf]
	if _, ok := s.Get("s1"); ok {
		t.Fatal("an empty Sites has s1")
	}
	first := &conf{"a"}
	if prev := s.Set("s1", first); prev != nil {
		t.Fatalf("previous of a new site = %v", prev)
	}
	held, _ := s.Get("s1") // a running call keeps this value
	if prev := s.Set("s1", &conf{"b"}); prev != first {
		t.Fatalf("Set returned %v, want the replaced value", prev)
	}
	now, _ := s.Get("s1")
	if held.url != "a" || now.url != "b" {
		t.Fatalf("held %q, now %q; a reload must not change a value already taken", held.url, now.url)
	}
	s.Set("s0", &conf{"c"})
	if diff := cmp.Diff([]string{"s0", "s1"}, s.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if v := s.Delete("s1"); v.url != "b" {
		t.Fatalf("Delete returned %v", v)
	}
	if _, ok := s.Get("s1"); ok {
		t.Fatal("s1 still there after Delete")
	}
	if r := sdk.NotConfigured("s9"); r.Status != sdk.StatusFailed || !r.Retryable || !strings.Contains(r.Diagnostics[0].Summary, "s9") {
		t.Errorf("NotConfigured = %+v", r)
	}
}

func TestClock(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := sdktest.NewClock(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("Now = %v", c.Now())
	}
	if got := c.Advance(30 * time.Minute); !got.Equal(t0.Add(30*time.Minute)) || !c.Now().Equal(got) {
		t.Fatalf("Advance = %v, Now = %v", got, c.Now())
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("after Set, Now = %v", c.Now())
	}
}

// TestSettingsKeepValuesOut: a setting read as a type it does not have is
// reported without its value, which may be a resolved secret.
func TestSettingsKeepValuesOut(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-key/with:chars"
	s := sdk.NewSettings(map[string]string{"apiKey": secret, "pin": "12ab", "token": "%zz"})
	s.Int("apiKey")
	s.Bool("pin")
	s.Duration("apiKey")
	s.URL("token")
	ds := s.Diagnostics()
	if len(ds) != 4 {
		t.Fatalf("diagnostics = %v, want one per wrongly typed read", ds)
	}
	for _, v := range []string{secret, "12ab", "%zz"} {
		if strings.Contains(ds.String(), v) {
			t.Errorf("diagnostics repeat the value %q:\n%s", v, ds)
		}
	}
}
