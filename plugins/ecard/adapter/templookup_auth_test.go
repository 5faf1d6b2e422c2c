package adapter

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// The names of the lookup's secrets, as a site writes them: the token
// setting and a key carried in the URL's query by a site that had no
// other way to authenticate.
const (
	lookupTokenSetting = "tempCardLookupToken"
	testLookupToken    = "tok-4d1f8a0c2b9e7d6f"
	testQuerySecret    = "qkey-93e1c7a5b2d04f68"
)

// TestScanTemporaryCardHISLookupToken: the HIS lookup authenticates with
// tempCardLookupToken as a bearer token, a refusal of the service names
// that setting, and neither the token nor the URL's query appears in a
// reply, a diagnostic or the journal, whatever the outcome.
func TestScanTemporaryCardHISLookupToken(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		_, _ = w.Write([]byte(`{"found": true, "patientId": "P0009"}`))
	}))
	t.Cleanup(other.Close)
	his := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ TempCardNo string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		switch {
		case req.TempCardNo == "98000007":
			// Sends the lookup to another server (another port: another
			// host as far as the token is concerned).
			http.Redirect(w, r, other.URL+"/tempcard", http.StatusTemporaryRedirect)
			return
		case r.URL.Query().Get("key") != testQuerySecret:
			http.Error(w, "unknown client", http.StatusBadRequest)
			return
		case r.Header.Get("Authorization") == "":
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		case r.Header.Get("Authorization") != "Bearer "+testLookupToken:
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		switch req.TempCardNo {
		case "98000001":
			_, _ = w.Write([]byte(`{"found": true, "patientId": "P0001", "name": "李四光", "idType": "01", "idNumber": "110105194912310021", "phone": "13900001111"}`))
		case "98000004":
			http.Error(w, "database down", http.StatusInternalServerError)
		default:
			_, _ = w.Write([]byte(`{"found": false}`))
		}
	}))
	t.Cleanup(his.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens there any more

	testCases := map[string]struct {
		url    string
		token  string
		text   string
		status sdk.Status
		// detail is a part of the diagnostic's detail (when invalid).
		detail string
	}{
		"token sent, found":     {url: his.URL, token: testLookupToken, text: "98000001", status: sdk.StatusOK},
		"token sent, not found": {url: his.URL, token: testLookupToken, text: "98000002", status: sdk.StatusInvalid, detail: "neither linked"},
		"no token: 401 names the setting": {url: his.URL, text: "98000001", status: sdk.StatusInvalid,
			detail: "HTTP 401: it asks for authentication, and " + lookupTokenSetting + " is not set"},
		"wrong token: 403 names the setting": {url: his.URL, token: "tok-wrong-0000", text: "98000001", status: sdk.StatusInvalid,
			detail: "HTTP 403: it refused the token in " + lookupTokenSetting},
		"service fails":            {url: his.URL, token: testLookupToken, text: "98000004", status: sdk.StatusInvalid, detail: "answered HTTP 500"},
		"nothing listens":          {url: closed.URL, token: testLookupToken, text: "98000001", status: sdk.StatusInvalid, detail: "call " + closed.URL + "/tempcard?…: "},
		"redirect to another host": {url: his.URL, token: testLookupToken, text: "98000007", status: sdk.StatusInvalid, detail: "redirected the lookup to another address"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			maps.Copy(s, map[string]string{setTempCardLookup: tc.url + "/tempcard?key=" + testQuerySecret, setLookupTimeout: "1s", setRevealIdentity: "true"})
			if tc.token != "" {
				s[lookupTokenSetting] = tc.token
			}
			e := newEnv(t, s)
			r := e.call(OpScan, map[string]any{"text": tc.text, "reveal": true})
			if r.Status != tc.status {
				t.Fatalf("status %s %s, want %s", r.Status, r.Diagnostics, tc.status)
			}
			if tc.status == sdk.StatusOK {
				var got hisScanReply
				if err := json.Unmarshal(r.Payload, &got); err != nil || got.Patient.PatientID != "P0001" {
					t.Errorf("payload %s (%v), want patient P0001", r.Payload, err)
				}
			} else if len(r.Diagnostics) == 0 || !strings.Contains(r.Diagnostics[0].Detail, tc.detail) {
				t.Errorf("diagnostics %s, want a detail with %q", r.Diagnostics, tc.detail)
			}
			shown := []string{string(r.Payload)}
			for _, d := range r.Diagnostics {
				shown = append(shown, d.Field, d.Summary, d.Detail)
			}
			var journaled int
			for _, x := range e.host.Exchanges() {
				if x.Exchange.System == "his" {
					journaled++
					shown = append(shown, x.Exchange.Serial, string(x.Exchange.Request), string(x.Exchange.Response), x.Exchange.Error)
				}
			}
			if journaled != 1 {
				t.Errorf("%d lookups journaled, want 1", journaled)
			}
			for _, text := range shown {
				if leak := containsAny(text, testLookupToken, "tok-wrong-0000", testQuerySecret, "key="); leak != "" {
					t.Errorf("%q is shown in %s", leak, text)
				}
			}
		})
	}
	t.Cleanup(func() { // after the parallel subtests
		if n := elsewhere.Load(); n != 0 {
			t.Errorf("the lookup followed a redirect to another host %d times", n)
		}
	})
}

// TestLookupSettings: a lookup URL with user info is refused (its
// credentials would show wherever the URL is shown), a token that cannot be
// sent in a header is refused, and no diagnostic repeats a credential or the
// URL's query.
func TestLookupSettings(t *testing.T) {
	t.Parallel()
	testCases := map[string]struct {
		settings map[string]string
		// field is the setting of the first error, or "" when accepted.
		field string
		// warn is the setting of a warning, or "".
		warn string
		// hidden is another part of the value no diagnostic may show.
		hidden string
	}{
		"URL with a query and a token": {settings: map[string]string{setTempCardLookup: "https://his.local/tempcard?key=" + testQuerySecret, lookupTokenSetting: testLookupToken}},
		"URL with user and password": {settings: map[string]string{setTempCardLookup: "https://medgate:" + testQuerySecret + "@his.local/tempcard"},
			field: setTempCardLookup},
		"URL with a user only": {settings: map[string]string{setTempCardLookup: "https://" + testQuerySecret + "@his.local/tempcard"},
			field: setTempCardLookup},
		"not an http URL, with a query": {settings: map[string]string{setTempCardLookup: "ftp://his.local/tempcard?key=" + testQuerySecret},
			field: setTempCardLookup},
		"unparsable URL with user info": {settings: map[string]string{setTempCardLookup: "https://medgate:" + testQuerySecret + "@his local/tempcard"},
			field: setTempCardLookup},
		"URL with user info and a bad %-escape": {settings: map[string]string{setTempCardLookup: "https://medgate:" + testQuerySecret + "%q9@his.local/tempcard"},
			field: setTempCardLookup, hidden: "%q9"},
		"token with Bearer in it": {settings: map[string]string{setTempCardLookup: "https://his.local/tempcard", lookupTokenSetting: "Bearer " + testLookupToken},
			field: lookupTokenSetting},
		"token with a line break": {settings: map[string]string{setTempCardLookup: "https://his.local/tempcard", lookupTokenSetting: testLookupToken + "\r\nX-Evil: 1"},
			field: lookupTokenSetting},
		// A bearer token in clear text crosses the network to anyone on
		// the path: refused, unless the service is on this machine.
		"token over plain http": {settings: map[string]string{setTempCardLookup: "http://his.local/tempcard", lookupTokenSetting: testLookupToken},
			field: lookupTokenSetting},
		"token over plain http to a LAN address": {settings: map[string]string{setTempCardLookup: "http://10.20.1.7:8080/tempcard?key=" + testQuerySecret, lookupTokenSetting: testLookupToken},
			field: lookupTokenSetting},
		"token over plain http to a name that starts with localhost": {settings: map[string]string{setTempCardLookup: "http://localhost.his.example/tempcard", lookupTokenSetting: testLookupToken},
			field: lookupTokenSetting},
		"token over plain http to a name that starts with 127.0.0.1": {settings: map[string]string{setTempCardLookup: "http://127.0.0.1.nip.io/tempcard", lookupTokenSetting: testLookupToken},
			field: lookupTokenSetting},
		"token over plain http to the unspecified address": {settings: map[string]string{setTempCardLookup: "http://0.0.0.0:8080/tempcard", lookupTokenSetting: testLookupToken},
			field: lookupTokenSetting},
		"token over plain http to 127.0.0.1": {settings: map[string]string{setTempCardLookup: "http://127.0.0.1:8080/tempcard", lookupTokenSetting: testLookupToken}},
		"token over plain http to 127.0.0.2": {settings: map[string]string{setTempCardLookup: "http://127.0.0.2/tempcard", lookupTokenSetting: testLookupToken}},
		"token over plain http to ::1":       {settings: map[string]string{setTempCardLookup: "http://[::1]:8080/tempcard", lookupTokenSetting: testLookupToken}},
		"token over plain http to localhost": {settings: map[string]string{setTempCardLookup: "http://LocalHost:8080/tempcard", lookupTokenSetting: testLookupToken}},
		"no token over plain http":           {settings: map[string]string{setTempCardLookup: "http://his.local/tempcard"}},
		"token over https to a LAN address":  {settings: map[string]string{setTempCardLookup: "https://10.20.1.7/tempcard", lookupTokenSetting: testLookupToken}},
		"token without a lookup URL": {settings: map[string]string{lookupTokenSetting: testLookupToken},
			warn: lookupTokenSetting},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testSettings()
			maps.Copy(s, tc.settings)
			_, ds := parseSettings(testSite, s, func() time.Time { return testT0 })
			for _, d := range ds {
				if leak := containsAny(d.Summary+" "+d.Detail, testQuerySecret, testLookupToken, tc.hidden); leak != "" {
					t.Errorf("diagnostic %s: %s shows %q", d.Field, d.Summary, leak)
				}
			}
			var errField, warnField string
			for _, d := range ds {
				switch {
				case d.Severity == sdk.SeverityError && errField == "":
					errField = d.Field
				case d.Severity == sdk.SeverityWarning && warnField == "":
					warnField = d.Field
				}
			}
			if errField != tc.field || warnField != tc.warn {
				t.Errorf("diagnostics %s: error on %q, warning on %q; want error on %q, warning on %q", ds, errField, warnField, tc.field, tc.warn)
			}
		})
	}
}

// TestLookupRedirects: the lookup follows a redirect only to the scheme and
// host (port included, letter case not) the site configured, so the token
// never travels to another server or in clear text.
func TestLookupRedirects(t *testing.T) {
	t.Parallel()
	l, err := parseLookup("https://his.local:8443/medgate/tempcard?key="+testQuerySecret, secret(testLookupToken), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	testCases := map[string]struct {
		to      string
		allowed bool
	}{
		"another path":               {to: "https://his.local:8443/medgate/v2/tempcard", allowed: true},
		"host in another case":       {to: "https://HIS.Local:8443/medgate/tempcard", allowed: true},
		"plain http":                 {to: "http://his.local:8443/medgate/tempcard"},
		"another port":               {to: "https://his.local:9443/medgate/tempcard"},
		"another host":               {to: "https://login.his.local:8443/medgate/tempcard"},
		"the default port, implicit": {to: "https://his.local/medgate/tempcard"},
	}
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, tc.to, nil)
			err := l.client.CheckRedirect(req, []*http.Request{httptest.NewRequest(http.MethodPost, l.url, nil)})
			if got := err == nil; got != tc.allowed {
				t.Errorf("redirect to %s: %v, want allowed %v", tc.to, err, tc.allowed)
			}
		})
	}
}
