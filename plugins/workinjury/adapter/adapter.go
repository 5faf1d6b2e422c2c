package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/smenvelope"
	"github.com/medgate/medgate/schemas"
)

// Version of the work-injury plugin.
const Version = "0.1.0"

// Name is the plugin name; message types are "workinjury.<code>".
const Name = "workinjury"

// Job names: the scheduled downloads and the institution upload.
const (
	JobFilingApplications = "GYD001"
	JobFilings            = "GYD006"
	JobInstitutions       = "GYU009"
	// JobFeedback finishes the batches of on-demand downloads (asked for
	// by a message, which no other job runs) left stored without their
	// download-result feedback (GYU008), e.g. by a message the host gave
	// up: the feedback is due within 30 minutes of the download.
	JobFeedback = "GYU008"
)

// feedbackJobInterval is the period of JobFeedback: it only reads the
// workflow state of each download code unless a batch awaits its
// feedback, and that feedback is due within 30 minutes.
const feedbackJobInterval = 5 * time.Minute

// jobInterval is the period of every scheduled job (the requirements ask
// for at least every 30 minutes).
const jobInterval = 30 * time.Minute

// Adapter implements sdk.Plugin for the national work-injury system.
type Adapter struct {
	now  func() time.Time
	log  *slog.Logger
	http *http.Client

	mu    sync.RWMutex
	sites map[string]*site

	dlMu  sync.Mutex
	dlRun map[string]chan struct{} // site/code → one workflow at a time

	seen seenDetails // detail numbers of the stays' detail maps read (unique-detail-no)

	// hook, when set by tests, is called at named points of the download
	// workflow; an error aborts the run there, as a crash would.
	hook func(point string) error

	// eventBytes bounds the payload of a download event (maxEventBytes;
	// tests lower it).
	eventBytes int
}

type site struct {
	cfg    *siteConfig
	cancel context.CancelFunc
}

// Option configures an Adapter.
type Option func(*Adapter)

// WithClock replaces the clock (tests).
func WithClock(now func() time.Time) Option { return func(a *Adapter) { a.now = now } }

// WithHTTPClient replaces the HTTP client (tests; timeouts come from the
// site's timeout setting in any case).
func WithHTTPClient(c *http.Client) Option { return func(a *Adapter) { a.http = c } }

// WithLogger replaces the logger.
func WithLogger(l *slog.Logger) Option { return func(a *Adapter) { a.log = l } }

// maxIdlePerHost is how many idle connections to the national system are
// kept for reuse: the host's default kafka.maxInFlight.
const maxIdlePerHost = 64

// New returns the adapter.
func New(opts ...Option) *Adapter {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Calls to the national system run side by side, up to the host's
	// kafka.maxInFlight (64 by default); with net/http's default of 2 idle
	// connections per host every call beyond the second dialled (and, over
	// HTTPS, shook hands) anew. Keep as many as may be in flight.
	tr.MaxIdleConnsPerHost = maxIdlePerHost
	tr.MaxIdleConns = max(tr.MaxIdleConns, maxIdlePerHost)
	a := &Adapter{
		now:   time.Now,
		log:   sdk.Logger(Name),
		http:  &http.Client{Transport: tr},
		sites: map[string]*site{},
		dlRun: map[string]chan struct{}{},

		eventBytes: maxEventBytes,
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// opKind is how an operation is carried out.
type opKind int

const (
	opQuery    opKind = iota // read-only: resent freely
	opUpload                 // changes national state: reconciled with GYD053 before any resend
	opDownload               // the download workflow (fetch, store, publish, feedback)
)

func kindOf(sc *schemas.Schema) opKind {
	if _, ok := eventTypes[sc.Code]; ok {
		return opDownload
	}
	switch sc.Code {
	case "GYD054":
		return opQuery
	}
	if sc.Direction == schemas.DirectionQuery {
		return opQuery
	}
	return opUpload
}

// pureQuery reports whether the operation of sc is a pure query
// (sdk.Operation.Query), for which the host stores no pending record
// before the call. The queries (opQuery) draw a fresh serial for every
// call, keep nothing per message (no msg/<id> record: only uploads do,
// for GYD053) and change nothing in the national system, so a call made
// twice only asks twice. GYD052 is left out: a successful card
// authentication is remembered in the adapter's state for the
// GYD052@admission precondition, so it writes what a later upload relies
// on.
func pureQuery(sc *schemas.Schema) bool {
	return kindOf(sc) == opQuery && sc.Code != "GYD052"
}

// Describe implements sdk.Plugin.
func (a *Adapter) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	var ops []sdk.Operation
	for _, sc := range schemas.Embedded().List(Name) {
		k := kindOf(sc)
		summary := sc.Name
		switch k {
		case opDownload:
			summary += " (download workflow: fetch ≤500, store, publish events, GYU008 feedback)"
		case opUpload:
			summary += " (reconciled with GYD053 before any resend)"
		}
		ops = append(ops, sdk.Operation{
			Type:    Name + "." + sc.Code,
			Schema:  Name + "/" + sc.Code,
			Summary: summary,
			// Every upload, the revocations (direction revoke) and a
			// GYU008 sent by hand (feedback) included: the adapter holds
			// them to uploadDeadline (late), and the host must too (the
			// oldest-pending metric, never given up).
			Upload: k == opUpload,
			Query:  pureQuery(sc),
		})
	}
	return &sdk.DescribeResponse{
		Name:        Name,
		Version:     Version,
		Description: "National work-injury insurance remote-medical system (工伤保险异地就医系统): SM2/SM4 envelope, 39 transactions, scheduled downloads.",
		Operations:  ops,
		Jobs: []sdk.Job{
			{Name: JobFilingApplications, Interval: jobInterval, Summary: "download filing applications (GYD001, ≤500 per batch, with GYD054 attachments) and acknowledge them (GYU008)"},
			{Name: JobFilings, Interval: jobInterval, Summary: "download filings (GYD006) and acknowledge them (GYU008)"},
			{Name: JobInstitutions, Interval: jobInterval, Summary: "upload new and changed approved institutions from institutionsFile (GYU009)"},
			{Name: JobFeedback, Interval: feedbackJobInterval, Summary: "feed back (GYU008) the stored batches of downloads asked for by messages whose feedback is still due, fetching nothing new"},
		},
		Settings: settings(),
		Commands: commands(),
		Schemas:  schemas.Documents(Name),
	}, nil
}

// Configure implements sdk.Plugin.
func (a *Adapter) Configure(_ context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	c, ds := parseSettings(req.Site, req.Settings)
	if ds.HasError() {
		return &sdk.ConfigureResponse{Diagnostics: ds}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	go a.watchKeys(ctx, c)
	a.mu.Lock()
	// Serials are the sender code, the second and a per-site sequence:
	// two sites sending as one sender draw the same serials, which the
	// national system refuses as repeated (and GYD053 would answer about
	// the other site's transaction). A warning, not an error: a site
	// removed by a reload stays listed here until the plugin restarts.
	for _, other := range slices.Sorted(maps.Keys(a.sites)) {
		if other != req.Site && a.sites[other].cfg.sender == c.sender {
			ds.Warn(setSenderCode, "unique", fmt.Sprintf("site %s sends as %s too: the two sites' message serials can collide", other, c.sender),
				"the national system refuses a repeated serial; give each site its own senderCode (its default is regionCode, which sites of one region share)")
		}
	}
	old := a.sites[req.Site]
	a.sites[req.Site] = &site{cfg: c, cancel: cancel}
	a.mu.Unlock()
	if old != nil {
		old.cancel()
	}
	if ks := c.keys.Load(); ks != nil {
		a.log.Info("site configured", "site", req.Site, "layout", c.layout, "keys", ks)
	}
	return &sdk.ConfigureResponse{Diagnostics: ds}, nil
}

// watchKeys loads the keys once their files appear and then reloads them
// when they change, until ctx ends.
func (a *Adapter) watchKeys(ctx context.Context, c *siteConfig) {
	t := time.NewTicker(c.keyReload)
	defer t.Stop()
	for c.keys.Load() == nil {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ks, err := smenvelope.NewKeyStore(c.keyCfg); err == nil {
			c.keys.Store(ks)
			a.log.Info("SM2 keys loaded", "site", c.code, "keys", ks)
		}
	}
	c.keys.Load().Watch(ctx, c.keyReload, func(err error) {
		if err != nil {
			a.log.Error("SM2 key reload failed; the previous keys stay in use", "site", c.code, "err", err)
			return
		}
		a.log.Info("SM2 keys reloaded", "site", c.code, "keys", c.keys.Load())
	})
}

func (a *Adapter) site(name string) (*siteConfig, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	s, ok := a.sites[name]
	if !ok {
		return nil, fmt.Errorf("workinjury: site %q is not configured (the host configures a site before its first message)", name)
	}
	return s.cfg, nil
}

// Handle implements sdk.Plugin.
func (a *Adapter) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	c, err := a.site(req.Site)
	if err != nil {
		return nil, err
	}
	code, ok := strings.CutPrefix(req.Type, Name+".")
	sc, found := c.schemas.Get(Name, code)
	if !ok || !found {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.type", Rule: "unknown", Summary: "unknown work-injury transaction " + req.Type,
			Detail: "use workinjury.<code> with one of the 39 codes, e.g. workinjury.GYU000"}), nil
	}
	if req.Format != "" && req.Format != "json" {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.format", Rule: "enum", Summary: "work-injury transactions take JSON payloads",
			Detail: "map HL7 v2 messages to the transaction input with a transform first"}), nil
	}
	doc, raw, ds := decodePayload(req.Payload)
	if ds.HasError() {
		return sdk.Invalid(ds...), nil
	}
	if code == "GYU009" {
		// Institutions come only from the configured sources, and only
		// approved ones are uploaded.
		if !c.instFromMessages {
			return sdk.Invalid(sdk.Diagnostic{Field: "$", Rule: "source", Summary: "this site uploads institutions from its institutionsFile, not from messages",
				Detail: "set institutionsSource to messages or file,messages to accept workinjury.GYU009 messages"}), nil
		}
		if v, ok := doc["audit_status"]; ok {
			delete(doc, "audit_status")
			raw = nil
			if s := str(map[string]any{"v": v}, "v"); s != "1" {
				ds := sdk.Diagnostics{{Severity: sdk.SeverityError, Field: "$.audit_status", Rule: "state", Summary: "rule approved-institution: audit_status is " + strconv.Quote(s) + ", not 1 (approved)",
					Detail: "GYU009 uploads only approved institutions; send the institution once it is approved"}}
				zhFirst(code, ds)
				return sdk.Invalid(ds...), nil
			}
		}
	}
	var fileURLs []string
	if code == "GYU002" {
		// file_url (a link to the document, a platform-only field of the
		// schema) is read here; the documents are fetched once the message
		// is otherwise valid (attachfetch.go).
		var uds sdk.Diagnostics
		fileURLs, uds = fileLinks(doc)
		ds = append(ds, uds...)
		// Base64 content wrapped in lines goes without its line breaks
		// (attachformat.go).
		if unwrapContents(doc) {
			raw = nil
		}
	}
	if a.defaults(c, code, doc) {
		raw = nil
	}
	// Numbers written with an exponent are checked and sent as the plain
	// decimals they are (money.go).
	if plainNumbers(doc) {
		raw = nil
	}
	// The schema judges the platform message: platform-only fields (GYU002's
	// file_url) by their own rules, and a field they stand in for
	// (requiredUnless: file_content, filled from the link once fetched) may
	// be missing.
	for _, fe := range sc.ValidateInput(doc) {
		ds = append(ds, sdk.Diagnostic{Severity: sdk.SeverityError, Field: fe.Path, Rule: fe.Rule, Summary: fe.Message, Detail: schemaFix(sc, fe)})
	}
	// Platform-only fields never reach the national system, whatever their
	// value and whichever the schema (a site's overlay included) declares.
	if sc.StripPlatformOnly(doc) {
		raw = nil
	}
	// The business rules look at the adapter state, which an upload that
	// already went out has changed itself (a retry of an accepted GYU006
	// would otherwise meet its own filing): they run before the first send
	// only, and a retry goes straight to reconciliation.
	switch code {
	case "GYU102", "GYU103", "GYR001":
		// The rules' read of the visit is remembered for the in-flight,
		// settling or revoking mark (visitMemo), made on that version.
		ctx = withVisitMemo(ctx)
	case "GYR002", "GYR003":
		// The rules' read of the visit or settlement revoked is remembered
		// for the revocation's mark, made on that version (revokeChecks).
		ctx = withRevokeChecks(ctx)
	case "GYU003":
		// The rules' read of the month's gate is remembered for its
		// compare-and-set before sending (passMonthGate).
		ctx = withMonthGate(ctx)
	case "GYU004":
		// The rules' read of each settlement's deduction gate is
		// remembered for its compare-and-set when the deductions are
		// marked (markDeductions).
		ctx = withDeductGates(ctx)
	case "GYU303":
		// The rules' read of the person's device lines in flight is
		// remembered for the compare-and-set of its own mark
		// (markDeviceLines).
		ctx = withDeviceGate(ctx)
	}
	if ds.HasError() {
		// The message is refused whatever its business rules say, so they
		// are checked from this site's state only: a national check they
		// would make (GYD051) would send part of an invalid message out.
		ctx = withoutNationalChecks(ctx)
	}
	sent := false
	var rec sentRecord
	var recVer int64
	if kindOf(sc) == opUpload {
		if ykc700 := str(doc, "ykc700"); code == "GYU102" && ykc700 != "" && !ds.HasError() {
			// The rules read the visit next (unless this is a retry):
			// that read is made while the message's record is read.
			ctx = withPrefetch(ctx, req.Host, "visit/"+ykc700)
		}
		ver, err := getJSON(ctx, req.Host, "msg/"+req.MessageID, &rec)
		if err != nil {
			return failed(true, "state", "cannot read the adapter state", err.Error()), nil
		}
		sent, recVer = ver > 0, ver
	}
	if fileURLs != nil && !ds.HasError() && !rec.Done {
		// The linked documents are fetched, checked and recorded (their
		// SHA-256) before the rules and the first send; a message whose
		// outcome is stored needs none of them.
		fds, resp := a.fillAttachments(ctx, req, c, sc, doc, fileURLs)
		if resp != nil {
			return a.late(ctx, req, c, code, resp), nil
		}
		if fds.HasError() {
			return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: append(ds, fds...)}, nil
		}
	}
	if !sent {
		rds, err := a.checkRules(ctx, req.Host, c, req.MessageID, code, doc)
		var ue *unavailableError
		var we *monthWaitError
		var swe *settleWaitError
		var dwe *deductWaitError
		var dve *deviceWaitError
		var rwe *revokeWaitError
		var xwe *deductionMsgWaitError
		var mce *monthClaimError
		var pae *partAgainError
		switch {
		case errors.As(err, &we):
			// A GYU003 of a month with uploads still without an outcome:
			// final errors of its own come first (the platform must fix
			// them anyway); else it waits, retryably.
			if ds = append(ds, rds...); ds.HasError() {
				return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
			}
			a.log.Info("monthly settlement waits for uploads of its month without a known outcome; nothing sent, retried", "site", c.code,
				"message", req.MessageID, "akb020", we.akb020, "month", we.month, "waitingFor", strings.Join(we.open, ", "))
			return a.late(ctx, req, c, code, we.response()), nil
		case errors.As(err, &swe):
			// A message of a stay whose discharge settlement has no known
			// outcome yet (settling.go): its own errors first, else it
			// waits, retryably.
			if ds = append(ds, rds...); ds.HasError() {
				return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
			}
			a.log.Info("a message of a stay waits for "+swe.waitsFor()+" without a known outcome; nothing sent, retried", "site", c.code,
				"message", req.MessageID, "code", code, "ykc700", swe.ykc700, "waitingFor", strings.Join(swe.open, ", "))
			if rw := swe.revokeWait(); rw != nil {
				// A fee-detail revocation given up is named for replay.
				return a.late(ctx, req, c, code, a.waitResponse(ctx, req.Host, c, req.MessageID, code, rw)), nil
			}
			return a.late(ctx, req, c, code, swe.response()), nil
		case errors.As(err, &dwe):
			// A GYU004 whose check depends on deductions of its settlement
			// without a known outcome yet (settling.go): its own errors
			// first, else it waits, retryably.
			if ds = append(ds, rds...); ds.HasError() {
				return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
			}
			a.log.Info("a deduction waits for deductions of its settlement without a known outcome; nothing sent, retried", "site", c.code,
				"message", req.MessageID, "settle_no", dwe.settleNo, "waitingFor", strings.Join(dwe.open, ", "))
			return a.late(ctx, req, c, code, dwe.response()), nil
		case errors.As(err, &dve):
			// A GYU303 whose lines are in another device settlement
			// without a known outcome yet (settling.go): its own errors
			// first, else it waits, retryably.
			if ds = append(ds, rds...); ds.HasError() {
				return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
			}
			a.log.Info("a device settlement waits for another one with the same lines without a known outcome; nothing sent, retried", "site", c.code,
				"message", req.MessageID, "akb020", dve.akb020, "waitingFor", strings.Join(dve.open, ", "))
			return a.late(ctx, req, c, code, dve.response()), nil
		case errors.As(err, &rwe):
			// A message that depends on a revocation without a known
			// outcome yet (revokewait.go): its own errors first, else it
			// waits, retryably.
			if ds = append(ds, rds...); ds.HasError() {
				return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
			}
			a.log.Info("a message waits for a revocation without a known outcome; nothing sent, retried", "site", c.code,
				"message", req.MessageID, "code", code, "waitingFor", strings.Join(rwe.open, ", "))
			return a.late(ctx, req, c, code, a.waitResponse(ctx, req.Host, c, req.MessageID, code, rwe)), nil
		case errors.As(err, &xwe):
			// A revocation of a deduction, or an upload of its number,
			// whose upload or revocation has no known outcome yet
			// (settling.go): its own errors first, else it waits.
			if ds = append(ds, rds...); ds.HasError() {
				return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
			}
			a.log.Info("a deduction message waits for another one of the deduction without a known outcome; nothing sent, retried", "site", c.code,
				"message", req.MessageID, "code", code, "deduct_no", xwe.deductNo, "waitingFor", strings.Join(xwe.open, ", "))
			return a.late(ctx, req, c, code, xwe.response()), nil
		case errors.As(err, &mce):
			// An upload of a month whose monthly settlement has no outcome
			// yet (monthwait.go): its own errors first, else it waits.
			if ds = append(ds, rds...); ds.HasError() {
				return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
			}
			a.log.Info("an upload waits for the monthly settlement of its month; nothing sent, retried", "site", c.code,
				"message", req.MessageID, "code", code, "akb020", mce.ref.akb020, "month", mce.ref.month, "waitingFor", mce.cl.MessageID)
			return a.late(ctx, req, c, code, mce.response()), nil
		case errors.As(err, &pae):
			// A part of a monthly settlement that another message sent
			// with the same items (monthparts.go): its own errors first,
			// else that message's answer, or a wait for it.
			if ds = append(ds, rds...); ds.HasError() {
				return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
			}
			a.log.Info("a part of a monthly settlement came again under a new message id; answered from the earlier message, nothing sent", "site", c.code,
				"message", req.MessageID, "akb020", pae.akb020, "month", pae.month, "part", pae.part, "earlier", pae.msgID)
			resp := a.partAgain(ctx, req.Host, pae)
			if resp.Status == sdk.StatusOK {
				return resp, nil
			}
			return a.late(ctx, req, c, code, resp), nil
		case errors.As(err, &ue):
			resp := failed(true, "unavailable", "a national precondition check gave no trustworthy answer; nothing was sent", err.Error())
			if kindOf(sc) == opUpload {
				// Only uploads are held to the 30-minute rule; the card
				// checks (GYD052, GYD055) have national preconditions too.
				resp = a.late(ctx, req, c, code, resp)
			}
			return resp, nil
		case err != nil:
			return failed(true, "state", "cannot read the adapter state", err.Error()), nil
		}
		ds = append(ds, rds...)
		if !ds.HasError() && kindOf(sc) == opUpload {
			cds, err := a.claim(ctx, req.Host, req.MessageID, code, doc)
			if err != nil {
				return failed(true, "state", "cannot reserve the upload's business key", err.Error()), nil
			}
			ds = append(ds, cds...)
			if code == "GYU003" && inParts(doc) && !ds.HasError() {
				// A part of a month in parts claims its place among the
				// month's parts (monthparts.go).
				resp, err := a.claimMonthPart(ctx, req.Host, req.MessageID, doc)
				if err != nil {
					return failed(true, "state", "cannot claim the part of the monthly settlement (nothing was sent)", err.Error()), nil
				}
				if resp != nil {
					a.log.Info("another part of the month was claimed while this part was checked; nothing sent, retried", "site", c.code,
						"message", req.MessageID, "akb020", str(doc, "akb020"), "month", str(doc, "settle_month"))
					return a.late(ctx, req, c, code, resp), nil
				}
			}
		}
	}
	if ds.HasError() {
		return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
	}
	switch kindOf(sc) {
	case opDownload:
		return a.handleDownload(ctx, req, c, code, doc), nil
	case opQuery:
		serial, err := a.newSerial(ctx, req.Host, c)
		if err != nil {
			return failed(true, "state", "cannot draw a message serial", err.Error()), nil
		}
		out := a.call(ctx, req.Host, c, req.MessageID, code, serial, requestInput(doc, raw))
		if out.kind == kindOK && code == "GYD052" {
			if resp := otherHolder(doc, out); resp != nil {
				a.log.Warn("a GYD052 answer authenticates the card for another person than the one asked about; not passed on", "site", c.code, "message", req.MessageID, "serial", out.serial)
				return resp, nil
			}
			a.cardAuthenticated(ctx, req.Host, doc, out.output)
		}
		if out.kind == kindOK && code == "GYD054" {
			// The attachment asked for, whole, or nothing (attachanswer.go).
			aid := str(doc, "attachment_id")
			f, content, problem := attachmentAnswer(aid, out.output)
			if problem != "" {
				a.log.Warn("a GYD054 answer is not the attachment asked for; not passed on", "site", c.code, "message", req.MessageID, "serial", out.serial, "problem", problem)
				return attachmentQuery(aid, out.serial, problem), nil
			}
			// Content that is not what its name says is passed on
			// marked, with an ALERT (attachanswer.go).
			if fp := downloadedFormat(str(f, "file_name"), str(f, "file_format"), content); fp != "" {
				a.attachmentFormatAlert(ctx, req.Host, c, aid, out.serial, fp, content, map[string]any{"messageId": req.MessageID})
				resp := a.respond(code, out)
				resp.Diagnostics = append(resp.Diagnostics, formatWarning(aid, out.serial, fp))
				return resp, nil
			}
		}
		return a.respond(code, out), nil
	default:
		// rec is what was sent for this message, read above; the rules and
		// the claim do not change it. The rules' warnings (a check that
		// could not be made) go with the reply, whatever the outcome.
		resp := a.uploadKnown(ctx, req, c, code, doc, raw, rec, recVer)
		if resp != nil {
			resp.Diagnostics = append(slices.Clip(ds), resp.Diagnostics...)
		}
		return a.late(ctx, req, c, code, resp), nil
	}
}

// schemaFix says how to fix a schema error of a message: where to correct
// it, and which schema file declares the rule. The validator's own message
// says what is wrong, but not always what to do (a number with too many
// digits); and the declared limits are mostly medgate's reconstruction, so
// the way to change a wrong one is named too.
func schemaFix(sc *schemas.Schema, fe schemas.FieldError) string {
	fix := fmt.Sprintf("correct %s where the message is built (the HIS or its transform) and send it again; the rule is declared by %s", fe.Path, sc.File)
	if sc.Reconstructed {
		fix += " (medgate's reconstruction: if the official specification declares the field otherwise, point the site's schemaDir at corrected schemas)"
	}
	return fix
}

// cardAuthenticated remembers a successful card authentication (GYD052)
// for the GYD052@admission precondition.
func (a *Adapter) cardAuthenticated(ctx context.Context, h sdk.Host, doc map[string]any, output json.RawMessage) {
	var r map[string]any
	if err := decodeJSON(output, &r); err != nil || str(r, "auth_result") != "1" {
		return
	}
	key := "card/" + personKey(str(doc, "aac002")) + "/" + str(doc, "akb020")
	if err := putJSON(ctx, h, key, a.now().UTC()); err != nil {
		a.log.Warn("cannot record a card authentication", "err", err)
	}
	// The holder, for the pre-check of a later GYD055 of the card, which
	// names no person.
	holder := cardHolder{AAC002: str(doc, "aac002"), AAC003: str(doc, "aac003"), At: a.now().UTC()}
	if err := putJSON(ctx, h, holderKey(str(doc, "aaz500")), holder); err != nil {
		a.log.Warn("cannot record a card's holder", "err", err)
	}
}

// late flags an upload past its deadline (occurredAt + uploadDeadline):
// the response carries a warning, and the first time an event
// (workinjury.upload.late) is published and an error logged for alerting.
// An upload whose outcome comes from a send made within the deadline is
// not late, however late its message comes again.
// A late upload is never given up by the adapter: its failures stay
// retryable. An upload without occurredAt is timed from when medgate first
// received the message (req.ReceivedAt, the same on every redelivery), and
// the warning, event and log line say so.
func (a *Adapter) late(ctx context.Context, req *sdk.HandleRequest, c *siteConfig, code string, resp *sdk.HandleResponse) *sdk.HandleResponse {
	if resp == nil || resp.Status == sdk.StatusInvalid {
		return resp
	}
	from, basis := req.OccurredAt, timedFromOccurred
	if from.IsZero() {
		from, basis = req.ReceivedAt, timedFromReceived
	}
	if from.IsZero() {
		// Neither time is known (a host older than ReceivedAt and a
		// message without occurredAt): there is nothing to time.
		return resp
	}
	deadline := from.Add(c.deadline)
	now := a.now()
	if !now.After(deadline) {
		return resp
	}
	if resp.Status == sdk.StatusOK || resp.Status == sdk.StatusRejected {
		// The rule is about when the upload reached the national system:
		// one whose answer is known from a send within the deadline – a
		// message redelivered, or an answer lost and reconciled with
		// GYD053 after it – was on time.
		var rec sentRecord
		if ver, err := getJSON(ctx, req.Host, "msg/"+req.MessageID, &rec); err == nil && ver > 0 && rec.Done && !rec.SentAt.IsZero() && !rec.SentAt.After(deadline) {
			return resp
		}
	}
	over := now.Sub(deadline).Round(time.Second)
	at := from.In(cst).Format("2006-01-02 15:04:05")
	summary := fmt.Sprintf("%s is late: the business event was at %s and the upload deadline (%s) passed %s ago", code, at, c.deadline, over)
	if basis == timedFromReceived {
		summary = fmt.Sprintf("%s is late: the message has no occurredAt, medgate received it at %s, and the upload deadline (%s) counted from then passed %s ago", code, at, c.deadline, over)
	}
	resp.Diagnostics = append(resp.Diagnostics, sdk.Diagnostic{Severity: sdk.SeverityWarning, Rule: "late",
		Summary: summary,
		Detail:  "it is still sent; the national system may ask why"})
	if resp.Status == sdk.StatusFailed {
		resp.Retryable = true
	}
	h := req.Host
	key := "late/" + req.MessageID
	var seen time.Time
	if ver, err := getJSON(ctx, h, key, &seen); err != nil || ver > 0 {
		return resp
	}
	a.log.Error("ALERT: upload past its 30-minute deadline; still retrying", "site", c.code, "code", code, "message", req.MessageID,
		"timedFrom", basis, basis, from, "overdue", over.String(), "attempt", req.Attempt, "status", string(resp.Status))
	ev := map[string]any{"site": c.code, "code": code, "messageId": req.MessageID, "timedFrom": basis, basis: from,
		"deadline": deadline, "overdueSeconds": int64(over / time.Second), "attempt": req.Attempt, "status": string(resp.Status)}
	payload, _ := marshal(ev)
	if err := h.Publish(ctx, sdk.Event{ID: Name + "/" + c.code + "/late/" + req.MessageID, Type: "workinjury.upload.late", Key: req.MessageID,
		Payload: payload, OccurredAt: now, Headers: map[string]string{"workinjury-code": code}}); err != nil {
		a.log.Warn("cannot publish the late-upload event; it is tried again on the next attempt", "message", req.MessageID, "err", err)
		return resp
	}
	if err := putJSON(ctx, h, key, now.UTC()); err != nil {
		a.log.Warn("cannot record the late-upload event", "err", err)
	}
	return resp
}

// What the 30-minute rule timed an upload from (late): the business
// event's time, or, without one, when medgate received the message.
const (
	timedFromOccurred = "occurredAt"
	timedFromReceived = "receivedAt"
)

// decodeObject parses a payload that must be one JSON object; numbers stay
// json.Number so that lengths and decimals are checked as written.
func decodeObject(payload []byte) (map[string]any, sdk.Diagnostics) {
	doc, _, ds := decodePayload(payload)
	return doc, ds
}

// decodePayload is decodeObject that also returns the payload itself when
// it is, byte for byte, what marshal writes for the decoded object (see
// parsePayloadCanonical), and nil otherwise. Whoever changes the object
// must drop it.
func decodePayload(payload []byte) (map[string]any, []byte, sdk.Diagnostics) {
	var ds sdk.Diagnostics
	if doc, canonical, ok := parsePayloadCanonical(payload); ok {
		if canonical {
			return doc, payload, ds
		}
		return doc, nil, ds
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil || doc == nil {
		ds.Error("$", "type", "the payload is not a JSON object", "send the transaction input as an object, e.g. {\"aac002\": \"…\"}")
		return nil, nil, ds
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		ds.Error("$", "type", "the payload has data after the JSON object", "send exactly one object")
		return nil, nil, ds
	}
	return doc, nil, ds
}

// defaults fills inputs that medgate knows better than the sender: the
// province region and the send time of GYU000, the region of downloads.
// It reports whether it changed doc.
func (a *Adapter) defaults(c *siteConfig, code string, doc map[string]any) bool {
	changed := false
	setIfEmpty := func(k string, v any) {
		if cur, ok := doc[k]; !ok || cur == nil || cur == "" {
			doc[k] = v
			changed = true
		}
	}
	switch code {
	case "GYU000":
		setIfEmpty("aab301", c.region)
		setIfEmpty("aae036", a.now().In(cst).Format("2006-01-02 15:04:05"))
	case "GYD001", "GYD006":
		setIfEmpty("aab299", c.region)
	}
	return changed
}

// respond turns the outcome of a read-only call into a response.
func (a *Adapter) respond(code string, out outcome) *sdk.HandleResponse {
	switch out.kind {
	case kindOK:
		return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: out.output,
			External: &sdk.External{System: systemName, Code: out.code, Message: out.message, MsgID: out.serial}}
	case kindRejected:
		return rejected(code, out.serial, out.code, out.message)
	case kindLocal:
		return failed(true, "precondition", "nothing was sent to the national system", out.err.Error())
	default:
		return failed(true, "unavailable", "the national system gave no trustworthy answer", out.err.Error())
	}
}

func rejected(code, serial, extCode, extMsg string) *sdk.HandleResponse {
	return &sdk.HandleResponse{
		Status:   sdk.StatusRejected,
		External: &sdk.External{System: systemName, Code: extCode, Message: extMsg, MsgID: serial},
		Diagnostics: sdk.Diagnostics{{Severity: sdk.SeverityError, Rule: "external",
			Summary: "the national system refused " + code,
			Detail:  fmt.Sprintf("code %s: %s (serial %s)", extCode, extMsg, serial)}},
	}
}

func failed(retryable bool, rule, summary, detail string) *sdk.HandleResponse {
	return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: retryable,
		Diagnostics: sdk.Diagnostics{{Severity: sdk.SeverityError, Rule: rule, Summary: summary, Detail: detail}}}
}

var _ sdk.Plugin = (*Adapter)(nil)
