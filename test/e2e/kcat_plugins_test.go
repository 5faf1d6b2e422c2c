package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/test/harness"
	"github.com/medgate/medgate/test/qrscan"
	selfpaysim "github.com/medgate/medgate/test/sim/selfpay"
	"github.com/medgate/medgate/test/sim/tracecode"
	wisim "github.com/medgate/medgate/test/sim/workinjury"
	"github.com/medgate/medgate/test/testenv"
)

// kcatPlatform plays the integration platform with kcat (librdkafka): it
// produces request envelopes and reads the replies topic, sharing no code
// with medgate or with the Go Kafka clients of the harness.
type kcatPlatform struct {
	t      *testing.T
	bin    string
	broker string
	topics harness.Topics
}

// kcatReply is one record of the replies topic as kcat printed it.
type kcatReply struct {
	key, headers string
	body         harness.Reply
	raw          []byte
}

// send produces req under key on the requests topic, as the platform does.
func (k kcatPlatform) send(key string, req harness.Request) {
	k.t.Helper()
	value, err := json.Marshal(req)
	if err != nil {
		k.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, "-b", k.broker, "-P", "-t", k.topics.Requests, "-k", key, "-X", "acks=all")
	cmd.Stdin = bytes.NewReader(value)
	if out, err := cmd.CombinedOutput(); err != nil {
		k.t.Fatalf("kcat -P %s (%s): %v\n%s", req.ID, req.Type, err, out)
	}
}

// reply reads the replies topic with kcat until the reply to the request
// id is there and returns it.
func (k kcatPlatform) reply(id string, timeout time.Duration) kcatReply {
	k.t.Helper()
	var got *kcatReply
	harness.Eventually(k.t, timeout, "kcat to read the reply to "+id, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// -e: exit at the end of the partitions; key, headers and value
		// separated by the ASCII unit separator, records by the record
		// separator (a reply carries base64 images of any length).
		out, err := exec.CommandContext(ctx, k.bin, "-b", k.broker, "-C", "-t", k.topics.Replies, "-o", "beginning", "-e", "-q",
			"-f", "%k\x1f%h\x1f%s\x1e").Output()
		if err != nil {
			return false
		}
		for _, rec := range bytes.Split(out, []byte("\x1e")) {
			parts := bytes.SplitN(rec, []byte("\x1f"), 3)
			if len(parts) != 3 {
				continue
			}
			var r harness.Reply
			if err := json.Unmarshal(parts[2], &r); err != nil {
				k.t.Fatalf("a reply kcat read is not JSON: %v: %.200q", err, parts[2])
			}
			if r.RequestID == id {
				got = &kcatReply{key: string(parts[0]), headers: string(parts[1]), body: r, raw: parts[2]}
				return true
			}
		}
		return false
	})
	return *got
}

// call sends one request with kcat, reads its reply with kcat and checks
// the reply is keyed and labelled as the platform routes it, with the
// wanted status.
func (k kcatPlatform) call(key string, req harness.Request, status string, out any) kcatReply {
	k.t.Helper()
	k.send(key, req)
	r := k.reply(req.ID, 2*time.Minute)
	if r.body.Status != status {
		k.t.Fatalf("%s (%s) sent by kcat: status %q, want %q; errors %+v external %+v\n%.600s", req.ID, req.Type, r.body.Status, status, r.body.Errors, r.body.External, r.raw)
	}
	if r.key != key || !strings.Contains(r.headers, "medgate-request-id="+req.ID) || !strings.Contains(r.headers, "medgate-status="+status) {
		k.t.Errorf("the reply to %s kcat read has key %q and headers %q, want key %q, medgate-request-id=%s and medgate-status=%s", req.ID, r.key, r.headers, key, req.ID, status)
	}
	if out != nil {
		if err := json.Unmarshal(r.body.Payload, out); err != nil {
			k.t.Fatalf("%s: payload %.300s: %v", req.ID, r.body.Payload, err)
		}
	}
	return r
}

// TestKcatDrivesEachPlugin has kcat play the integration platform on the
// real Apache Kafka broker for the main operation of every shipped plugin,
// on one medgate serving all four for site s1 against their simulators:
// e-card (the desk registers and issues a code; zbarimg, not our decoder,
// reads the reply's QR image and its label image, and the decoded text
// sent back by kcat as ecard.scan names the card), self-pay (a fee upload
// the simulated platform then holds), trace-code (a stock-in fetch of the
// documents the simulated platform has today) and work injury (a card read
// answered by the simulated national system). Each reply is read by kcat,
// keyed by the business key, with the request id and status in headers.
func TestKcatDrivesEachPlugin(t *testing.T) {
	t.Parallel()
	kcat := testenv.Tool(t, "kcat", "kcat")
	zbar := testenv.Tool(t, "zbarimg", "zbar-tools")
	brokers := testenv.Kafka(t)
	bins := harness.Binaries(t)

	const tcSecret = "kcat-app-secret-0123456789"
	tcSim := tracecode.New(tracecode.Options{AppID: "kcat-app", AppSecret: tcSecret, OrgCode: "H35020300001", Seed: 5, BillsPerDay: 2})
	tcSrv := httptest.NewServer(tcSim)
	t.Cleanup(tcSrv.Close)
	spSim, err := selfpaysim.New(selfpaysim.Options{PaasID: spPaas, Token: spToken})
	if err != nil {
		t.Fatal(err)
	}
	spSrv := httptest.NewServer(spSim)
	t.Cleanup(spSrv.Close)
	wiSim, kp := newNationalSim(t, 2, 2)
	wiSrv := httptest.NewServer(wiSim)
	t.Cleanup(wiSrv.Close)

	cfg := harness.NewConfig(t, brokers)
	ecardConfig(t, cfg)
	secret := func(name, v string) string {
		p := filepath.Join(cfg.Dir, "secrets", name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file:" + p
	}
	cfg.Plugins = append(cfg.Plugins, "tracecode", "selfpay", "workinjury")
	plugins := cfg.Sites[0]["plugins"].(map[string]any)
	plugins["tracecode"] = map[string]any{"settings": map[string]any{
		"baseUrl": tcSrv.URL, "appId": "kcat-app", "appSecret": secret("app-secret", tcSecret), "orgCode": "H35020300001", "orgName": "示例医院",
		"productItemMap": "8100001=YP0001,8100002=YP0002,8100003=YP0003,8100004=YP0004,8100005=YP0005",
		"exportDir":      filepath.Join(cfg.Dir, "exports"),
	}}
	plugins["selfpay"] = map[string]any{"settings": map[string]any{
		"baseURL": spSrv.URL + "/fsi/api/rsfComIfsService/callService", "fixmedinsCode": spCode, "fixmedinsName": "厦门市示例医院",
		"mdtrtareaAdmvs": "350200", "recerSysCode": "CSTEST", "opter": "OP001", "opterName": "医保接口",
		"paasid": spPaas, "token": secret("paas-token", spToken), "timeout": "5s",
	}}
	plugins["workinjury"] = map[string]any{"settings": map[string]any{
		"url": wiSrv.URL + "/gsyd", "regionCode": "350200", "keyDir": writeAdapterKeys(t, kp, cfg), "timeout": "3s",
	}}
	mg := harness.Start(t, bins, cfg.Write(t, bins))
	harness.NewPlatform(t, brokers, cfg.Topics()) // waits for the topics medgate creates
	k := kcatPlatform{t: t, bin: kcat, broker: brokers[0], topics: cfg.Topics()}
	now := func() string { return time.Now().Format(time.RFC3339) }

	t.Run("ecard desk, QR read by zbarimg, scan", func(t *testing.T) {
		k := k
		k.t = t
		person := map[string]any{"name": "张三丰", "idType": "01", "idNumber": "11010519491231002X", "phone": "13812345678", "validity": "72h"}
		var desk struct {
			CardNo, Text, Outcome string
			Png                   string `json:"png"`
			LabelPng              string `json:"labelPng"`
		}
		k.call("11010519491231002X", harness.Request{ID: "kcat-ecard-desk", Site: "s1", Type: "ecard.desk", OccurredAt: now(), Payload: person}, "ok", &desk)
		if desk.CardNo == "" || desk.Text == "" || desk.Png == "" || desk.LabelPng == "" {
			t.Fatalf("the desk's reply lacks the card number, the code's text or its images: %+v", desk)
		}
		for name, b64 := range map[string]string{"png": desk.Png, "labelPng": desk.LabelPng} {
			img, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatalf("the desk's %s is not standard base64: %v", name, err)
			}
			read, err := qrscan.ZBar(zbar, img)
			if err != nil {
				t.Fatalf("zbarimg cannot read the QR code of the desk's %s: %v", name, err)
			}
			if read != desk.Text {
				t.Fatalf("zbarimg read %q from the desk's %s; the reply's text is %q", read, name, desk.Text)
			}
			var scan struct{ CardNo, Name, IDNumber string }
			k.call(desk.CardNo, harness.Request{ID: "kcat-ecard-scan-" + name, Site: "s1", Type: "ecard.scan", OccurredAt: now(), Payload: map[string]any{"text": read}}, "ok", &scan)
			if scan.CardNo != desk.CardNo || scan.Name != "张*丰" || strings.Contains(scan.IDNumber, "19491231") {
				t.Errorf("the scan of what zbarimg read from the %s names card %q (%s, %s), want card %s, masked", name, scan.CardNo, scan.Name, scan.IDNumber, desk.CardNo)
			}
		}
	})

	t.Run("selfpay fee upload", func(t *testing.T) {
		k := k
		k.t = t
		const visit = "KCAT-SP-1"
		fees := map[string]any{"fsiOwnpayPatnFeeListDDTO": []any{spFee(visit, 1), spFee(visit, 2)}}
		r := k.call(visit, harness.Request{ID: "kcat-selfpay-4201A", Site: "s1", Type: "selfpay.4201A", OccurredAt: now(), Payload: fees}, "ok", nil)
		if r.body.External == nil || !strings.HasPrefix(r.body.External.MsgID, spCode) {
			t.Errorf("the 4201A reply names no platform message: external %+v", r.body.External)
		}
		if v := spSim.Visit(spCode, visit); len(v.Fees) != 2 {
			t.Errorf("after the 4201A kcat sent, the platform holds %d fee(s) of %s, want 2", len(v.Fees), visit)
		}
	})

	t.Run("tracecode stock-in fetch", func(t *testing.T) {
		k := k
		k.t = t
		today := time.Now().In(tcZone)
		bills := tcSim.StockIn(today)
		if len(bills) == 0 {
			t.Fatal("the trace-code simulator has no stock-in document today")
		}
		var fr struct {
			Bills  int
			Drafts []string
		}
		day := today.Format("2006-01-02")
		k.call("kcat-stockin-"+day, harness.Request{ID: "kcat-tracecode-fetch", Site: "s1", Type: "tracecode.stockin.fetch", OccurredAt: now(),
			Payload: map[string]string{"beginDate": day, "endDate": day}}, "ok", &fr)
		if fr.Bills != len(bills) || len(fr.Drafts) != len(bills) {
			t.Errorf("the stock-in fetch kcat sent found %d document(s) and made %d draft(s); the platform has %d", fr.Bills, len(fr.Drafts), len(bills))
		}
	})

	t.Run("workinjury card read", func(t *testing.T) {
		k := k
		k.t = t
		card := wisim.DemoCard()
		r := k.call(card.AAC002, harness.Request{ID: "kcat-workinjury-GYD052", Site: "s1", Type: "workinjury.GYD052", OccurredAt: now(),
			Payload: map[string]any{"aaz500": card.AAZ500, "card_id": card.CardID, "aab301": card.AAB301, "aac002": card.AAC002, "aac003": card.AAC003, "akb020": "H35020300123", "aae036": "2025-04-01 09:30:00"}}, "ok", nil)
		if !bytes.Contains(r.body.Payload, []byte(card.AAC002)) {
			t.Errorf("the GYD052 reply kcat read does not carry the card holder's aac002 %s: %.600s", card.AAC002, r.body.Payload)
		}
	})

	if logs := mg.Logs(); strings.Contains(logs, "11010519491231002X") || strings.Contains(logs, spToken) {
		t.Error("medgate's log contains an unmasked ID number or the self-pay token")
	}
}
