package logging

import (
	"bytes"
	"strings"
	"testing"
)

// TestMaskFindsNumbersWhereverTheyStand: ID and mobile numbers are masked
// however they are written down: glued to letters, after a URL escape,
// in full-width digits, with the usual separators.
func TestMaskFindsNumbersWhereverTheyStand(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ in, want string }{
		"id after letters":    {"idNo11010519491231002X", "idNo110***********002X"},
		"id after underscore": {"cert_11010519491231002x", "cert_110***********002x"},
		"id url-encoded":      {"q=%2011010519491231002X%20", "q=%20110***********002X%20"},
		// Whether %21 is an escape or %2 and the ID's first digit cannot
		// be told: the number is looked for from both.
		"id in an escape":      {"q=%2110105 19491231 002X", "q=%2110*** ******** 002X"},
		"mobile url-encoded":   {"tel=%2B8613812345678&x=1", "tel=%2B86138****5678&x=1"},
		"mobile after %20":     {"a%2013812345678", "a%20138****5678"},
		"id full-width":        {"身份证１１０１０５１９４９１２３１００２Ｘ。", "身份证１１０***********００２Ｘ。"},
		"mobile full-width":    {"电话：１３８１２３４５６７８", "电话：１３８****５６７８"},
		"mobile 3-4-4 dashes":  {"call 138-1234-5678.", "call 138-****-5678."},
		"mobile 3-4-4 spaces":  {"call 138 1234 5678.", "call 138 **** 5678."},
		"mobile +86 spaced":    {"call +86 138 1234 5678", "call +86 138 **** 5678"},
		"id 6-8-4":             {"id 110105 19491231 002X ok", "id 110*** ******** 002X ok"},
		"id 6-8-4 dashes":      {"id 110105-19491231-002X", "id 110***-********-002X"},
		"mobile then letters":  {"13812345678abc", "138****5678abc"},
		"trace code untouched": {"码81234567890123456789", "码81234567890123456789"},
		"19 digits untouched":  {"1381234567812345678", "1381234567812345678"},
		"amount untouched":     {"12345678.90 元", "12345678.90 元"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := Mask(tc.in); got != tc.want {
				t.Errorf("Mask(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestSecretsRedacted: keys, tokens and passwords are redacted whatever
// the key is called and wherever they are logged: host attributes (also
// in groups), plugin JSON lines, and key=value text.
func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	const tok = "eyJhbGciOiJTTTMifQ.c2VjcmV0"
	t.Run("host attributes", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		l, err := New(&buf, "json", "info")
		if err != nil {
			t.Fatal(err)
		}
		l.Info("call", "accessToken", tok, "sm4Key", "0123456789abcdeffedcba9876543210", "app_secret", "hunter2", "X-Auth-Token", tok)
		l.WithGroup("peer").Info("call", "password", "hunter2", "privateKey", "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8")
		assertNoLeak(t, buf.String(), tok, "0123456789abcdeffedcba9876543210", "hunter2", "3945208f7b2144b1")
	})
	t.Run("plugin json line", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		_, _ = Writer(&buf).Write([]byte(`{"@level":"info","@message":"token refreshed","token":"` + tok + `","req":{"appSecret":"hunter2","sm2PrivateKey":"3945208f7b2144b1"}}` + "\n"))
		assertNoLeak(t, buf.String(), tok, "hunter2", "3945208f7b2144b1")
		if !strings.Contains(buf.String(), "token refreshed") {
			t.Errorf("the message itself was lost: %s", buf.String())
		}
	})
	t.Run("text", func(t *testing.T) {
		t.Parallel()
		for _, in := range []string{
			"GET /api/stock?access_token=" + tok + "&page=1: 401",
			"header Authorization: Bearer " + tok,
			`upstream said {"token":"` + tok + `","code":0}`,
			"login failed for user admin password=hunter2",
			"-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBHkwdwIBAQQg\n-----END PRIVATE KEY-----",
		} {
			assertNoLeak(t, Mask(in), tok, "hunter2", "MIGTAgEAMBMGByqGSM49")
		}
	})
}

func assertNoLeak(t *testing.T, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("output leaks %q: %s", s, out)
		}
	}
}

// TestPersonalKeysMasked: the personal fields beyond names, IDs and
// phones (addresses, card numbers) and the Chinese keys platforms use are
// masked whole, in host attributes and JSON alike. (The hospital's e-card
// number, cardNo, is shown: staff look patients up by it.)
func TestPersonalKeysMasked(t *testing.T) {
	t.Parallel()
	in := `{"address":"福建省厦门市思明区湖滨南路55号","bankCardNo":"6222021234567890123","姓名":"王小梅","home_addr":"湖里区","bank_card":"A1234567","cardNo":"880100000000013"}`
	out := string(MaskJSON([]byte(in)))
	assertNoLeak(t, out, "湖滨南路55号", "6222021234567890123", "王小梅", "湖里区", "A1234567")
	if !strings.Contains(out, `"cardNo":"880100000000013"`) {
		t.Errorf("the e-card number is masked: %s", out)
	}
	var buf bytes.Buffer
	l, err := New(&buf, "text", "info")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("registered", "address", "福建省厦门市思明区湖滨南路55号", "patName", "王小梅", "listen_address", "10.0.0.1:2575")
	assertNoLeak(t, buf.String(), "湖滨南路55号", "王小梅")
}

// TestPersonalFieldsInTextMasked: a personal field written into text (a
// request body logged as a string, a URL's query, 姓名：…) is masked by its
// key, as it would be in a JSON line.
func TestPersonalFieldsInTextMasked(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ in, want string }{
		"json in text":    {`body {"name":"欧阳娜娜","address":"湖滨南路55号","code":"A1"}`, `body {"name":"欧***","address":"湖*****号","code":"A1"}`},
		"escaped json":    {`{"body":"{\"psn_name\":\"欧阳娜娜\"}"}`, `{"body":"{\"psn_name\":\"欧***\"}"}`},
		"query":           {"GET /p?patName=欧阳娜娜&page=2", "GET /p?patName=欧***&page=2"},
		"chinese colon":   {"姓名：欧阳娜娜，住址：湖里区", "姓名：欧***，住址：湖**"},
		"chinese run":     {"请核对患者姓名：欧阳娜娜。联系地址:厦门市湖里区", "请核对患者姓名：欧***。联系地址:厦****区"},
		"chinese other":   {"科室：心内科", "科室：心内科"},
		"other keys kept": {`{"type":"ecard.register"} site=S1`, `{"type":"ecard.register"} site=S1`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := Mask(tc.in); got != tc.want {
				t.Errorf("Mask(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestAddressKeys: a patient's address is masked under any address key
// (selfpay's addr, work injury's aae006), while a network address the
// host logs under "address" (the MLLP listener's) stays readable; the
// social-security card number (aaz500) is masked.
func TestAddressKeys(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := New(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("MLLP listening", "address", "127.0.0.1:2575")
	l.Info("filing", "addr", "厦门市湖滨南路55号", "aae006", "厦门市思明区莲前路1号", "aaz500", "A12345678901", "homeAddress", "湖里区江头街道")
	out := buf.String()
	assertNoLeak(t, out, "湖滨南路55号", "思明区莲前路", "A12345678901", "湖里区江头")
	if !strings.Contains(out, `"address":"127.0.0.1:2575"`) {
		t.Errorf("the listener's network address is masked: %s", out)
	}
	in := `{"input":{"addr":"厦门市湖滨南路55号","aae006":"厦门市思明区莲前路1号","url":"http://h/x?address=127.0.0.1"}}`
	got := string(MaskJSON([]byte(in)))
	assertNoLeak(t, got, "湖滨南路55号", "思明区莲前路")
	if !strings.Contains(got, "address=127.0.0.1") {
		t.Errorf("a network address in a URL is masked: %s", got)
	}
}

// TestSecretHintsKept: a hint that names a secret's setting with a
// placeholder is no secret and stays readable.
func TestSecretHintsKept(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"the answer has no accessToken; check the fieldNames setting (accessToken=<platform name>)",
		"set password=${MEDGATE_DB_PASSWORD} in the environment",
	} {
		if got := Mask(in); got != in {
			t.Errorf("Mask(%q) = %q, want it unchanged", in, got)
		}
	}
}
