package sdk_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

// declared is a plugin that declares the given settings and keeps what
// Configure received.
type declared struct {
	settings []sdk.Setting
	schemas  map[string][]byte
	site     map[string][]byte // the documents Configure returns for the site
	got      map[string]string
}

func (p *declared) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{Name: "acme", Settings: p.settings, Schemas: p.schemas}, nil
}

func (p *declared) Configure(_ context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	p.got = req.Settings
	return &sdk.ConfigureResponse{Schemas: p.site}, nil
}

func (p *declared) Handle(context.Context, *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return sdk.OK(nil)
}

func (p *declared) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}

// fatalTB records the first Fatalf and ends the goroutine, as testing does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestConfigureAsTheHost: sdktest.Configure gives the plugin its settings
// as medgate does (every declared setting, defaults filled in) and fails
// the test where medgate would refuse the plugin or the site.
func TestConfigureAsTheHost(t *testing.T) {
	t.Parallel()
	good := []sdk.Setting{
		{Name: "endpoint", Type: sdk.SettingURL, Required: true},
		{Name: "apiKey", Type: sdk.SettingSecret, Required: true},
		{Name: "batch", Type: sdk.SettingInt, Default: "500"},
		{Name: "label"},
	}
	order := "code: order\nname: 订单\nsystem: acme\ndirection: upload\nsource: acme's interface document\ninput:\n  - name: no\n    type: string\n"
	cases := map[string]struct {
		settings []sdk.Setting
		schemas  map[string][]byte
		site     map[string][]byte
		given    map[string]string
		want     map[string]string // what Configure receives
		fatal    string            // part of the failure; "": none
	}{
		"defaults filled in, secret as its value": {good, nil, nil, map[string]string{"endpoint": "https://acme.example", "apiKey": "k-1"},
			map[string]string{"endpoint": "https://acme.example", "apiKey": "k-1", "batch": "500", "label": ""}, ""},
		"a secret given as medgate.yaml's env: reference": {good, nil, nil, map[string]string{"endpoint": "https://acme.example", "apiKey": "env:ACME_KEY"},
			nil, `setting "apiKey" of site "s1" is a secret given as the reference "env:ACME_KEY"`},
		"a secret given as a file: reference": {good, nil, nil, map[string]string{"endpoint": "https://acme.example", "apiKey": "file:/etc/medgate/acme-key"},
			nil, `give the secret's value itself`},
		"a plain setting that looks like a reference": {good, nil, nil, map[string]string{"endpoint": "https://acme.example", "apiKey": "k-1", "label": "env:prod"},
			map[string]string{"endpoint": "https://acme.example", "apiKey": "k-1", "batch": "500", "label": "env:prod"}, ""},
		"a setting medgate refuses": {good, nil, nil, map[string]string{"endpoint": "ftp://acme.example", "apiKey": "k-1", "batch": "many"},
			nil, `medgate would refuse the settings of site "s1": endpoint: "ftp://acme.example" is not an http(s) URL; batch: "many" is not a whole number`},
		"a declaration medgate refuses": {[]sdk.Setting{{Name: "apiKey", Type: "secert"}}, nil, nil, nil,
			nil, `medgate would refuse to launch plugin "acme": setting "apiKey": type "secert"`},
		"schema documents that load": {[]sdk.Setting{{Name: "label"}}, map[string][]byte{"acme/order.yaml": []byte(order)}, nil, nil, map[string]string{"label": ""}, ""},
		"a schema document medgate does not load": {nil, map[string][]byte{"acme/order.yaml": []byte(order + "    maxLenght: 3\n")}, nil, nil,
			nil, `acme/order.yaml:9: field "input.no.maxLenght": unknown key — did you mean "maxLength"?`},
		"a schema document of another directory's system": {nil, map[string][]byte{"acme/order.yaml": []byte(strings.Replace(order, "system: acme", "system: acne", 1))}, nil, nil,
			nil, `acme/order.yaml:3: field "system": system "acne" does not match the directory "acme"`},
		"a site overlay that loads": {[]sdk.Setting{{Name: "label"}}, map[string][]byte{"acme/order.yaml": []byte(order)},
			map[string][]byte{"acme/order.yaml": []byte(order + "    maxLength: 3\n")}, nil, map[string]string{"label": ""}, ""},
		"a site overlay medgate does not load": {[]sdk.Setting{{Name: "label"}}, map[string][]byte{"acme/order.yaml": []byte(order)},
			map[string][]byte{"acme/order.yaml": []byte(order + "    maxLenght: 3\n")}, nil,
			nil, `medgate would refuse site "s1": the schema documents plugin "acme"'s Configure returned for it (ConfigureResponse.Schemas, the site's overlay) do not load: loading schemas: 1 problem(s)` + "\n" + `acme/order.yaml:9: field "input.no.maxLenght"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := &declared{settings: tc.settings, schemas: tc.schemas, site: tc.site}
			c := sdktest.Connect(t, p, sdktest.NewMemoryHost())
			ftb := &fatalTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				sdktest.Configure(ftb, c, "s1", tc.given)
			}()
			<-done
			if tc.fatal == "" {
				if ftb.msg != "" {
					t.Fatalf("Configure failed the test: %s", ftb.msg)
				}
				if diff := cmp.Diff(tc.want, p.got); diff != "" {
					t.Errorf("settings the plugin received (-want +got):\n%s", diff)
				}
				return
			}
			if !strings.Contains(ftb.msg, tc.fatal) {
				t.Errorf("failure %q lacks %q", ftb.msg, tc.fatal)
			}
			if p.got != nil && tc.site == nil { // a site overlay is Configure's answer
				t.Errorf("Configure was called with %v after a refusal", p.got)
			}
		})
	}
}

// TestUnsetSettingsCrossTheProtocol: an optional setting without a default
// that a site leaves unset reaches the plugin over the real protocol as "",
// so sdk.Settings reads it without the diagnostic of an undeclared name,
// while a misspelt name is reported.
func TestUnsetSettingsCrossTheProtocol(t *testing.T) {
	t.Parallel()
	p := &declared{settings: []sdk.Setting{
		{Name: "endpoint", Type: sdk.SettingURL, Required: true},
		{Name: "note", Type: sdk.SettingString},
		{Name: "retries", Type: sdk.SettingInt},
		{Name: "apiKey", Type: sdk.SettingSecret},
	}}
	c := sdktest.Connect(t, p, sdktest.NewMemoryHost())
	sdktest.Configure(t, c, "s1", map[string]string{"endpoint": "https://lab.example/api"})
	s := sdk.NewSettings(p.got)
	if s.String("note") != "" || s.Int("retries") != 0 || s.String("apiKey") != "" || s.URL("endpoint").Host != "lab.example" || len(s.Diagnostics()) != 0 {
		t.Fatalf("reads of declared settings over the protocol: %v (settings given %q)", s.Diagnostics(), p.got)
	}
	if s.String("apikey"); !s.Diagnostics().HasError() || s.Diagnostics()[0].Field != "apikey" {
		t.Fatalf("a misspelt setting read: %v", s.Diagnostics())
	}
}
