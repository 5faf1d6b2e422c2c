package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medgate/medgate/plugins/hsa"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// Version is the plugin's version.
const Version = "1.0.0"

// Message types.
const (
	OpUpload        = "selfpay.upload"
	OpCancel        = "selfpay.cancel"
	OpImportPending = "selfpay.import-pending"
)

// transactions are the single transactions, addressable as selfpay.<infno>.
//
// query marks the pure queries (sdk.Operation.Query): they draw a fresh
// msgid for every call, keep nothing per message and change nothing on
// the platform, so the host stores no pending record before the call.
var transactions = []struct {
	infno, summary string
	upload, query  bool
}{
	{"4201A", "4201A upload fee details of one patient (fsiOwnpayPatnFeeListDDTO)", true, false},
	{"4202", "4202 upload the visit and diagnoses of one patient (ownPayPatnMdtrtD, ownPayPatnDiagListD)", true, false},
	{"4203", "4203 mark one patient's upload complete (cplt_flag 1) or incomplete (0)", true, false},
	{"4204", "4204 delete fee details of one patient: all, or those listed in feedetl", true, false},
	{"4207", "4207 query the fee details uploaded for a visit (paged)", false, true},
	{"4208", "4208 query uploaded visits by person, time, amount or bill (paged)", false, true},
	{"4209", "4209 query the diagnoses uploaded for a visit (paged)", false, true},
}

// Adapter implements sdk.Plugin for the self-pay upload. Create it with New.
type Adapter struct {
	log        *slog.Logger
	now        func() time.Time
	httpClient *http.Client
	pause      time.Duration

	mu    sync.RWMutex
	sites map[string]*site
}

// site is one configured site.
type site struct {
	code   string
	client *hsa.Client
	set    *schemas.Set
	opts   options
	cfg    hsa.Config
}

// Option changes an Adapter built by New.
type Option func(*Adapter)

// WithLogger sets the logger (default: sdk.Logger("selfpay")).
func WithLogger(l *slog.Logger) Option {
	return func(a *Adapter) {
		if l != nil {
			a.log = l
		}
	}
}

// WithClock sets the clock for msgids, envelopes and records (tests).
func WithClock(now func() time.Time) Option {
	return func(a *Adapter) {
		if now != nil {
			a.now = now
		}
	}
}

// WithHTTPClient makes every site use h (tests).
func WithHTTPClient(h *http.Client) Option { return func(a *Adapter) { a.httpClient = h } }

// WithPauseMargin sets how much time must be left before the message's
// deadline to start another external call; with less, a workflow stops
// cleanly and resumes on the next attempt. Default 5s.
func WithPauseMargin(d time.Duration) Option { return func(a *Adapter) { a.pause = d } }

// New returns the adapter.
func New(opts ...Option) *Adapter {
	a := &Adapter{log: sdk.Logger("selfpay"), now: time.Now, pause: 5 * time.Second, sites: map[string]*site{}}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Describe implements sdk.Plugin.
func (a *Adapter) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	ops := []sdk.Operation{
		{Type: OpUpload, Schema: "selfpay/4201A", Upload: true,
			Summary: "upload one self-pay inpatient: 4204 clear old details → 4201A fee details in batches → 4202 visit and diagnoses → 4203 complete; resumable"},
		// A cancel changes the platform as a single 4203 and 4204 do, and
		// may wait for a long upload of its visit (claim.go): as an upload
		// the host never gives it up (a wait counts as an attempt towards
		// processing.maxAttempts), and alerts when it is late.
		{Type: OpCancel, Schema: "selfpay/4203", Upload: true, Summary: "withdraw one patient's upload: 4203 cplt_flag=0 → 4204 delete the details"},
		{Type: OpImportPending, Summary: "read a pending self-pay list (XLSX or CSV, base64) and report per patient: pending, uploaded, failed and why"},
	}
	for _, t := range transactions {
		ops = append(ops, sdk.Operation{Type: "selfpay." + t.infno, Schema: "selfpay/" + t.infno, Summary: t.summary, Upload: t.upload, Query: t.query})
	}
	return &sdk.DescribeResponse{
		Name:        "selfpay",
		Version:     Version,
		Description: "自费病人住院信息上传（4201A–4209）至省医保平台。Self-pay inpatient data upload (4201A–4209) to the provincial medical-insurance platform, in the national interface envelope.",
		Operations:  ops,
		Jobs: []sdk.Job{{Name: JobPartsExpire, Interval: 15 * time.Minute, MaxRun: 5 * time.Minute,
			Summary: "remove the kept fee lines of sets of selfpay.upload parts left unfinished past partsKeep (dropping the set, told by import-pending) or left behind by a crash after their set ended"}},
		Settings: settings(),
		Commands: commands(),
		Schemas:  schemas.Documents("selfpay"),
	}, nil
}

// Configure implements sdk.Plugin.
func (a *Adapter) Configure(_ context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	cfg, ds := hsa.FromSettings(req.Settings)
	opts, ods := parseOptions(req.Settings)
	ds = append(ds, ods...)
	cfg.System = "hsa"
	var set *schemas.Set
	if !ds.HasError() {
		var err error
		if set, err = hsa.Schemas(opts.schemaDir); err != nil {
			ds.Error(SetSchemaDir, "schema", "the schemas do not load", err.Error())
		}
	}
	if set != nil {
		for _, t := range transactions {
			if _, ok := set.Get("selfpay", t.infno); !ok {
				ds.Error(SetSchemaDir, "schema", "schema selfpay/"+t.infno+" is missing", "restore selfpay/"+t.infno+".yaml in the schema directory")
			}
		}
		if s, ok := set.Get("selfpay", "4201A"); ok && s.BatchLimit > 0 && opts.batchSize > s.BatchLimit {
			ds.Error(SetBatchSize, "range", fmt.Sprintf("batchSize %d is above the 4201A batch limit of %d", opts.batchSize, s.BatchLimit), fmt.Sprintf("set batchSize to at most %d", s.BatchLimit))
		}
	}
	if ds.HasError() {
		return &sdk.ConfigureResponse{Diagnostics: ds}, nil
	}
	hopts := []hsa.Option{hsa.WithSchemas(set), hsa.WithLogger(a.log.With("site", req.Site)), hsa.WithClock(a.now)}
	if a.httpClient != nil {
		hopts = append(hopts, hsa.WithHTTPClient(a.httpClient))
	}
	client, err := hsa.New(cfg, hopts...)
	if err != nil {
		ds.Error(hsa.SetCAFile, "precondition", "cannot build the HTTP client", err.Error())
		return &sdk.ConfigureResponse{Diagnostics: ds}, nil
	}
	a.mu.Lock()
	old := a.sites[req.Site]
	a.sites[req.Site] = &site{code: req.Site, client: client, set: set, opts: opts, cfg: cfg}
	a.mu.Unlock()
	if old != nil && old.client != nil && a.httpClient == nil {
		old.client.Close()
	}
	// The site's own schemas, for the host to map against.
	overlay, err := schemas.DirDocuments(opts.schemaDir, "selfpay")
	if err != nil {
		ds.Warn(SetSchemaDir, "schema", "the host cannot be given the site's schemas", err.Error())
	}
	return &sdk.ConfigureResponse{Diagnostics: ds, Schemas: overlay}, nil
}

// Handle implements sdk.Plugin.
func (a *Adapter) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	a.mu.RLock()
	s, ok := a.sites[req.Site]
	a.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("selfpay: site %q is not configured; the host configures sites before sending messages", req.Site)
	}
	if req.Format != "" && req.Format != "json" {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.format", Rule: "enum", Summary: "the self-pay plugin takes JSON payloads", Detail: "send format json (map HL7 messages with a transform first)"}), nil
	}
	op := strings.TrimPrefix(req.Type, "selfpay.")
	run := &run{a: a, s: s, req: req, h: req.Host}
	switch req.Type {
	case OpUpload:
		resp, err := run.upload(ctx)
		run.settleClaim(ctx, resp, err)
		return resp, err
	case OpCancel:
		resp, err := run.cancel(ctx)
		run.settleClaim(ctx, resp, err)
		return resp, err
	case OpImportPending:
		return run.importPending(ctx)
	}
	for _, t := range transactions {
		if t.infno == op {
			resp, err := run.single(ctx, op)
			run.settleClaim(ctx, resp, err)
			return resp, err
		}
	}
	return sdk.Invalid(sdk.Diagnostic{Field: "$.type", Rule: "enum", Summary: "unknown operation " + req.Type,
		Detail: "use selfpay.upload, selfpay.cancel, selfpay.import-pending or selfpay.4201A … selfpay.4209"}), nil
}

// RunJob implements sdk.Plugin: JobPartsExpire.
func (a *Adapter) RunJob(ctx context.Context, req *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	if req.Job != JobPartsExpire {
		return nil, fmt.Errorf("selfpay: unknown job %q; the plugin declares only %s", req.Job, JobPartsExpire)
	}
	a.mu.RLock()
	s, ok := a.sites[req.Site]
	a.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("selfpay: site %q is not configured; the host configures sites before running jobs", req.Site)
	}
	r := &run{a: a, s: s, req: &sdk.HandleRequest{Site: req.Site, Type: OpUpload, MessageID: "job-" + req.TraceID, TraceID: req.TraceID, Host: req.Host}, h: req.Host}
	return r.expireParts(ctx)
}

// run is one Handle call.
type run struct {
	a   *Adapter
	s   *site
	req *sdk.HandleRequest
	h   sdk.Host
	// claimed is the visit whose claim this message may hold, released
	// once its workflow's outcome is final (claim.go).
	claimed string
	// parts is the set of parts whose last part this message uploads
	// (parts.go), nil for a stay sent whole.
	parts *partsState
}

// errPause stops a workflow cleanly before the deadline.
var errPause = errors.New("paused before the message's deadline")

// beforeCall returns errPause when too little time is left for a call.
func (r *run) beforeCall(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return errPause
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < r.a.pause {
		return errPause
	}
	return nil
}

// outcome turns an error of the envelope library into a response; it
// returns a nil response for errors the host must see (state failures).
func (r *run) outcome(err error, what string) (*sdk.HandleResponse, error) {
	var be *hsa.BusinessError
	var ge *hsa.GatewayError
	var te *hsa.TransportError
	var ve *hsa.ValidationError
	var ae *hsa.AnswerError
	var ue *unsettledError
	var ce *checkError
	var cre *clearRefusedError
	var rre *reopenRefusedError
	var tre *transientRefusalError
	switch {
	case errors.As(err, &ce):
		return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ce.ds}, nil
	case errors.Is(err, errPause):
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true, Diagnostics: sdk.Diagnostics{{Rule: "transient",
			Summary: what + " paused", Detail: "too little time was left before the deadline; the next attempt resumes from the step it reached"}}}, nil
	case errors.Is(err, errCompletionUnknown):
		// Not retryable: another attempt cannot learn more, and a blind
		// resend could complete a visit someone reopened meanwhile.
		advice := "nothing was resent. Check the visit on the platform (selfpay.4208 by the patient's certificate: cpltFlag): " +
			"if it is 1 the completion took effect and nothing more is needed; if it is 0, send selfpay.4203 cplt_flag=1 again under a new message id"
		if r.req.Type == OpUpload {
			advice = "nothing was resent; the fee details and the visit were uploaded. Check the visit on the platform (selfpay.4208 by the patient's certificate: cpltFlag): " +
				"if it is 1 the upload is complete and nothing more is needed; if it is 0, send selfpay.4203 cplt_flag=1 again under a new message id"
		}
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: false,
			Diagnostics: sdk.Diagnostics{{Rule: "state", Summary: what + ": the outcome of 4203 cplt_flag=1 is unknown",
				Detail: hsa.MaskText(err.Error()) + "; " + advice}}}, nil
	case errors.Is(err, errWithdrawalUnknown):
		// Not retryable, as above: a blind resend could reopen a visit
		// someone completed again meanwhile.
		advice := "nothing was resent and the details were not deleted. Check the visit on the platform (selfpay.4208 by the patient's certificate: cpltFlag; selfpay.4207: its fee details): " +
			"if it is still to be withdrawn, send selfpay.cancel again under a new message id"
		switch r.req.Type {
		case OpUpload:
			advice = "nothing was resent, and no fee detail was deleted or uploaded. Check the visit on the platform (selfpay.4208 by the patient's certificate: cpltFlag; selfpay.4207: its fee details), " +
				"then send selfpay.upload with \"reupload\": true again under a new message id if it is still to be uploaded again"
		case "selfpay.4203":
			advice = "nothing was resent. Check the visit on the platform (selfpay.4208 by the patient's certificate: cpltFlag): " +
				"if it is 0 the withdrawal took effect and nothing more is needed; if it is 1, send selfpay.4203 cplt_flag=0 again under a new message id"
		}
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: false,
			Diagnostics: sdk.Diagnostics{{Rule: "state", Summary: what + ": the outcome of 4203 cplt_flag=0 is unknown",
				Detail: hsa.MaskText(err.Error()) + "; " + advice}}}, nil
	case errors.As(err, &ue):
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true,
			External: &sdk.External{System: r.s.cfg.System, MsgID: ue.f.MsgID},
			Diagnostics: sdk.Diagnostics{{Rule: "transient", Summary: what + ": the outcome of " + ue.f.Infno + " is still unknown",
				Detail: hsa.MaskText(ue.err.Error()) + "; the query that reconciles it was refused or answered unusably, so nothing is resent: the next attempt reconciles again"}}}, nil
	case errors.As(err, &cre):
		be := cre.be
		advice := "; nothing more was sent, for the upload would add its lines to the details still there. " +
			"Resolve the cause the platform gives (a completed visit: send the upload with \"reupload\": true) and send the upload again under a new message id"
		if cre.query != nil {
			advice = "; nothing more was sent, for medgate cannot tell whether old details are left. Resolve the cause the platform gives and send the upload again under a new message id; " +
				"if this refusal means there was nothing to delete, add its infcode or a phrase of its message to the site's nothingToDelete setting"
		}
		return r.stepRefused(be, fmt.Sprintf("%s: 4204, clearing the visit's old fee details before the upload, refused by the platform (infcode %d)", what, be.Infcode),
			hsa.MaskText(cre.Error())+advice), nil
	case errors.As(err, &rre):
		be := rre.be
		step := "opening the completed visit before the re-upload"
		advice := "; nothing more was sent, for the re-upload would send its fee details and visit over a visit the platform holds otherwise than it assumes. " +
			"Resolve the cause the platform gives (if the visit was never uploaded, send the upload without \"reupload\") and send it again under a new message id"
		if rre.query != nil {
			advice = "; nothing more was sent, for medgate cannot tell whether the visit is still complete. Resolve the cause the platform gives and send the upload again under a new message id; " +
				"if this refusal means the visit was not complete, add its infcode or a phrase of its message to the site's nothingToReopen setting"
		}
		if r.req.Type == OpCancel {
			step = "withdrawing the visit's completion before deleting its fee details"
			advice = "; nothing more was sent and no fee detail was deleted, for the platform refuses deleting the details of a complete visit. " +
				"Resolve the cause the platform gives and send selfpay.cancel again under a new message id; " +
				"if this refusal means the visit was not complete, add its infcode or a phrase of its message to the site's nothingToReopen setting"
			if rre.hint != "" {
				advice += "; " + rre.hint
			}
		}
		return r.stepRefused(be, fmt.Sprintf("%s: 4203 cplt_flag=0, %s, refused by the platform (infcode %d)", what, step, be.Infcode),
			hsa.MaskText(rre.Error())+advice), nil
	case errors.As(err, &tre):
		be := tre.be
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true,
			External: &sdk.External{System: r.s.cfg.System, Code: strconv.Itoa(be.Infcode), Message: hsa.MaskText(be.Message), MsgID: be.MsgID},
			Diagnostics: sdk.Diagnostics{{Rule: "transient", Summary: fmt.Sprintf("%s: %s refused by the platform for a passing cause (infcode %d)", what, be.Infno, be.Infcode),
				Detail: hsa.MaskText(be.Message) + "; the platform did not run it, and medgate sends it again with backoff (a new msgid), going on from this step. " +
					"The refusal is listed in the site's transientRefusals; if it is about the data, remove it from there, or the message is tried again for ever"}}}, nil
	case errors.As(err, &ae):
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true,
			External: &sdk.External{System: r.s.cfg.System, Code: "0", MsgID: ae.MsgID},
			Diagnostics: sdk.Diagnostics{{Rule: "transient", Summary: what + ": the platform's answer to " + ae.Infno + " cannot be used",
				Detail: hsa.MaskText(ae.Error()) + "; nothing was taken from it and nothing more was sent: medgate asks again"}}}, nil
	case errors.As(err, &be):
		return &sdk.HandleResponse{Status: sdk.StatusRejected,
			External: &sdk.External{System: r.s.cfg.System, Code: strconv.Itoa(be.Infcode), Message: hsa.MaskText(be.Message), MsgID: be.MsgID},
			Diagnostics: sdk.Diagnostics{{Rule: "external", Summary: fmt.Sprintf("%s: %s refused by the platform (infcode %d)", what, be.Infno, be.Infcode),
				Detail: hsa.MaskText(be.Message) + "; correct the data and send the message again (a new message id)"}}}, nil
	case errors.As(err, &ge):
		rule := "external"
		if ge.Auth() {
			rule = "auth"
		}
		return &sdk.HandleResponse{Status: sdk.StatusRejected,
			External:    &sdk.External{System: r.s.cfg.System, Code: "HTTP " + strconv.Itoa(ge.Status), Message: hsa.MaskText(ge.Body), MsgID: ge.MsgID},
			Diagnostics: sdk.Diagnostics{{Rule: rule, Summary: what + ": the gateway refused " + ge.Infno, Detail: hsa.MaskText(ge.Error())}}}, nil
	case errors.As(err, &te):
		d := "the platform did not answer; medgate retries"
		if te.Sent {
			d = "the call may have reached the platform; the next attempt reconciles with 4207/4208 before resending"
		}
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true,
			External:    &sdk.External{System: r.s.cfg.System, MsgID: te.MsgID},
			Diagnostics: sdk.Diagnostics{{Rule: "transient", Summary: what + ": " + te.Infno + " got no answer", Detail: hsa.MaskText(te.Err.Error()) + "; " + d}}}, nil
	case errors.As(err, &ve):
		ds := make(sdk.Diagnostics, 0, len(ve.Errors))
		for _, fe := range ve.Errors {
			field := fe.Path
			detail := hsa.MaskText(fe.Message)
			if ve.Side == "envelope" {
				field = "envelope" + strings.TrimPrefix(fe.Path, "$")
				detail += "; the envelope is built from the site's settings: correct them"
			}
			ds = append(ds, sdk.Diagnostic{Field: field, Rule: fe.Rule, Summary: what + ": " + ve.Infno + " " + ve.Side + " is not valid", Detail: detail})
		}
		return &sdk.HandleResponse{Status: sdk.StatusInvalid, Diagnostics: ds}, nil
	}
	return nil, err
}

var _ sdk.Plugin = (*Adapter)(nil)

// stepRefused is the rejected answer to an upload whose preparing step
// (the 4204 that clears old details, the 4203 that reopens a completed
// visit) the platform refused with be: nothing more was sent.
func (r *run) stepRefused(be *hsa.BusinessError, summary, detail string) *sdk.HandleResponse {
	return &sdk.HandleResponse{Status: sdk.StatusRejected,
		External:    &sdk.External{System: r.s.cfg.System, Code: strconv.Itoa(be.Infcode), Message: hsa.MaskText(be.Message), MsgID: be.MsgID},
		Diagnostics: sdk.Diagnostics{{Rule: "external", Summary: summary, Detail: detail}}}
}
