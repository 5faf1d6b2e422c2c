package adapter

import (
	"context"
	"maps"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
	"github.com/medgate/medgate/plugins/sdk/sdktest"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	p := sdktest.Connect(t, New(), sdktest.NewMemoryHost())
	d, err := p.Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "ecard" || d.Version != "1.0.0" {
		t.Errorf("name %q version %q, want ecard 1.0.0", d.Name, d.Version)
	}
	var ops, queries []string
	for _, o := range d.Operations {
		ops = append(ops, o.Type)
		if o.Upload || o.Summary == "" {
			t.Errorf("operation %s: upload %v, summary %q; want false and a summary", o.Type, o.Upload, o.Summary)
		}
		if o.Query {
			queries = append(queries, o.Type)
		}
	}
	wantOps := []string{OpRegister, OpQRCode, OpScan, OpRevoke, OpLink, OpGet, OpCardsList, OpDesk, OpRename, OpPhone}
	if diff := cmp.Diff(wantOps, ops); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	// Only the reads are pure queries: register, qrcode, revoke, link,
	// desk, rename and phone write state or publish events.
	if diff := cmp.Diff([]string{OpScan, OpGet, OpCardsList}, queries); diff != "" {
		t.Errorf("operations declared Query (-want +got):\n%s", diff)
	}
	secrets := map[string]bool{}
	for _, s := range d.Settings {
		if s.Description == "" || s.Example == "" {
			t.Errorf("setting %s needs a description and an example", s.Name)
		}
		if s.Type == sdk.SettingSecret {
			secrets[s.Name] = true
		}
	}
	if diff := cmp.Diff(map[string]bool{setIdentitySecret: true, setQRKeys: true, setTempCardLookupToken: true}, secrets); diff != "" {
		t.Errorf("secret settings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]sdk.WorkList{{Name: "recent-cards", Title: "最近登记的电子卡 Recent e-card registrations", ListOperation: OpCardsList,
		Description: "最新登记的电子卡在前，姓名、证件号和手机号已遮蔽。The newest e-cards first, with names, ID numbers and phones masked."}}, d.WorkLists); diff != "" {
		t.Errorf("work lists (-want +got):\n%s", diff)
	}
}

func TestConfigure(t *testing.T) {
	t.Parallel()
	zero := "00000000000000000000000000000000"
	testCases := map[string]struct {
		change map[string]string
		want   []diag
	}{
		"valid": {},
		"defaults for everything optional": {
			change: map[string]string{setQRActiveKey: ""},
		},
		"key ring with rotation": {
			change: map[string]string{setQRKeys: "A:" + testKeyAHex + ", B:" + testKeyBHex + "\n", setQRActiveKey: "B"},
		},
		"missing secrets": {
			change: map[string]string{setIdentitySecret: "", setQRKeys: "", setQRActiveKey: ""},
			want:   []diag{{setIdentitySecret, "required", true}, {setQRKeys, "required", true}},
		},
		"prefix overlapping a temporary prefix": {
			change: map[string]string{setCardPrefix: "99", setTempCardPrefixes: "9,88,9901"},
			want:   []diag{{setTempCardPrefixes, "overlap", true}, {setTempCardPrefixes, "overlap", true}},
		},
		"missing temporary prefixes": {
			change: map[string]string{setTempCardPrefixes: ""},
			want:   []diag{{setTempCardPrefixes, "required", true}},
		},
		"numbers too long": {
			change: map[string]string{setCardPrefix: "88010000", setCardWidth: "10"},
			want:   []diag{{setCardWidth, "range", true}},
		},
		"several keys and no active key": {
			change: map[string]string{setQRKeys: "A:" + testKeyAHex + ",B:" + testKeyBHex, setQRActiveKey: ""},
			want:   []diag{{setQRActiveKey, "required", true}},
		},
		"active key not in the ring": {
			change: map[string]string{setQRActiveKey: "C"},
			want:   []diag{{setQRActiveKey, "enum", true}},
		},
		"all-zero key": {
			change: map[string]string{setQRKeys: "A:" + zero + ",B:" + testKeyBHex},
			want:   []diag{{setQRKeys, "format", true}},
		},
		"duplicate key id": {
			change: map[string]string{setQRKeys: "A:" + testKeyAHex + ",A:" + testKeyBHex},
			want:   []diag{{setQRKeys, "format", true}},
		},
		"every problem at once": {
			change: map[string]string{
				setIdentitySecret: "tiny-secret", setQRKeys: "A:" + testKeyAHex[:30] + "," + testKeyBHex + ",ab:" + testKeyBHex,
				setQRActiveKey: "A", setQRPrefix: "ABC", setQRValidity: "2161h", setQRSkew: "1h", setQRImageSize: "10",
				setCardPrefix: "88a", setCardWidth: "0", setCardCheck: "crc", setTempCardPrefixes: "99,99,x",
			},
			want: []diag{
				{setIdentitySecret, "length", true},
				{setQRKeys, "format", true}, {setQRKeys, "format", true}, {setQRKeys, "format", true},
				{setQRPrefix, "format", true}, {setQRSkew, "range", true}, {setQRValidity, "range", true}, {setQRImageSize, "range", true},
				{setCardPrefix, "format", true}, {setCardCheck, "enum", true}, {setCardWidth, "range", true},
				{setTempCardPrefixes, "format", true}, {setTempCardPrefixes, "format", true},
			},
		},
		"unparsable numbers and durations": {
			change: map[string]string{setQRValidity: "3d", setQRSkew: "soon", setQRImageSize: "big", setCardWidth: "ten"},
			want: []diag{
				{setQRSkew, "type", true}, {setQRValidity, "type", true}, {setQRImageSize, "type", true}, {setCardWidth, "type", true},
			},
		},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testSettings())
			s := testSettings()
			maps.Copy(s, tc.change)
			ds := e.configure(s)
			if diff := cmp.Diff(tc.want, diagsOf(ds)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\n%s", diff, ds)
			}
			for _, d := range ds {
				if d.Summary == "" || d.Detail == "" {
					t.Errorf("diagnostic %+v needs a summary and a detail", d)
				}
				if leak := containsAny(d.Summary+d.Detail, testIdentity, testKeyAHex, testKeyAHex[:30], testKeyBHex, "tiny-secret"); leak != "" {
					t.Errorf("diagnostic %q reveals secret material %q", d.Message(), leak)
				}
			}
		})
	}
}

// A rejected configuration leaves the previous one in force.
func TestConfigureKeepsPreviousOnError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	bad := testSettings()
	bad[setIdentitySecret] = ""
	if ds := e.configure(bad); !ds.HasError() {
		t.Fatal("Configure accepted an empty identitySecret")
	}
	e.register(zhang())
}

func TestHandleRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testSettings())
	testCases := map[string]struct {
		site, typ, format string
		want              sdk.Status
		retryable         bool
		rule              string
	}{
		"unconfigured site": {site: "other", typ: OpScan, format: "json", want: sdk.StatusFailed, retryable: true, rule: "precondition"},
		"unknown type":      {site: testSite, typ: "ecard.nope", format: "json", want: sdk.StatusInvalid, rule: "enum"},
		"hl7 payload":       {site: testSite, typ: OpScan, format: "hl7v2", want: sdk.StatusInvalid, rule: "enum"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := e.p.Handle(context.Background(), &sdk.HandleRequest{Site: tc.site, Type: tc.typ, MessageID: name, Format: tc.format, Payload: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			got := []any{r.Status, r.Retryable, r.Diagnostics[0].Rule}
			if diff := cmp.Diff([]any{tc.want, tc.retryable, tc.rule}, got); diff != "" {
				t.Errorf("status, retryable, rule (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunJobUnknown(t *testing.T) {
	t.Parallel()
	if _, err := New().RunJob(context.Background(), &sdk.RunJobRequest{Job: "x"}); err == nil {
		t.Error("RunJob of an unknown job succeeded")
	}
}

// TestDescriptionPassesHostChecks: the host refuses to launch a plugin
// whose declarations (operations, forms, commands, columns) break the
// contract; the e-card's pass the same checks.
func TestDescriptionPassesHostChecks(t *testing.T) {
	t.Parallel()
	d, err := New().Describe(context.Background(), &sdk.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range sdkhost.CheckDescription(d) {
		t.Errorf("declaration refused: %v", err)
	}
}
