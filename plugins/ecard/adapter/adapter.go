package adapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// Version is the plugin's version.
const Version = "1.0.0"

// Message types.
const (
	OpRegister  = "ecard.register"
	OpQRCode    = "ecard.qrcode"
	OpScan      = "ecard.scan"
	OpRevoke    = "ecard.revoke"
	OpLink      = "ecard.link"
	OpGet       = "ecard.get"
	OpCardsList = "ecard.cards.list"
)

// WorkListRecent is the name of the console's recent-cards work list.
const WorkListRecent = "recent-cards"

// Adapter implements sdk.Plugin for the e-card. Create it with New.
type Adapter struct {
	now func() time.Time
	log *slog.Logger

	mu    sync.RWMutex
	sites map[string]*siteConfig

	// sealed remembers, by site and key id, the qrKeyRecord time this
	// instance last saw in state, so most codes cost no extra write.
	sealedMu sync.Mutex
	sealed   map[string]time.Time
}

// Option changes an Adapter built by New.
type Option func(*Adapter)

// WithClock sets the clock used for registration times and for sealing and
// opening QR codes. The default is time.Now. A nil clock is ignored.
func WithClock(now func() time.Time) Option {
	return func(a *Adapter) {
		if now != nil {
			a.now = now
		}
	}
}

// WithLogger replaces the logger (default sdk.Logger("ecard"), which the
// host re-emits). A nil logger is ignored.
func WithLogger(l *slog.Logger) Option {
	return func(a *Adapter) {
		if l != nil {
			a.log = l
		}
	}
}

// New returns the e-card adapter.
func New(opts ...Option) *Adapter {
	a := &Adapter{now: time.Now, log: sdk.Logger("ecard"), sites: map[string]*siteConfig{}, sealed: map[string]time.Time{}}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Describe implements sdk.Plugin.
func (a *Adapter) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{
		Name:        "ecard",
		Version:     Version,
		Description: "医院电子就诊卡：登记、卡号、加密限时二维码、扫码、注销、关联临时卡。The hospital's own electronic card: registration, card numbers, sealed time-limited QR codes, scanning, revocation and temporary-card links.",
		// scan, get and cards.list only read the plugin's state (and a
		// scan of a temporary card may ask the HIS lookup, a read): pure
		// queries, no pending record before the call (sdk.Operation.Query).
		Operations: []sdk.Operation{
			{Type: OpRegister, Summary: "register a person (name, ID type and number, phone) and return their e-card number; one person, one card"},
			{Type: OpQRCode, Summary: "issue a sealed, time-limited QR code for a card: text, PNG and printable label"},
			{Type: OpScan, Summary: "decode a scanned QR text into the card and patient, or say why it is refused", Query: true},
			{Type: OpRevoke, Summary: "revoke a card so its QR codes no longer scan"},
			{Type: OpLink, Summary: "link a temporary card to an e-card so its history follows the patient"},
			{Type: OpGet, Summary: "read a card by e-card or temporary-card number, with its linked temporary cards", Query: true},
			{Type: OpCardsList, Summary: "list the most recent registrations, masked, for the console", Query: true},
			{Type: OpDesk, Summary: "the cashier's desk in one step: register a person or find their card, and issue the QR code with its printable label"},
			{Type: OpRename, Summary: "correct the name stored on a card (a typo at registration, a name changed), given the ID number on the card and a reason"},
			{Type: OpPhone, Summary: "correct the phone number stored on a card (a typo at registration, a new number), given the ID number on the card and a reason"},
		},
		Settings: settings(),
		WorkLists: []sdk.WorkList{{
			Name:          WorkListRecent,
			Title:         "最近登记的电子卡 Recent e-card registrations",
			ListOperation: OpCardsList,
			Description:   "最新登记的电子卡在前，姓名、证件号和手机号已遮蔽。The newest e-cards first, with names, ID numbers and phones masked.",
		}},
		Forms:         forms(),
		Commands:      commands(),
		Schemas:       schemas.Documents("ecard"),
		WorkListViews: workListViews(),
	}, nil
}

// Configure implements sdk.Plugin. It checks every setting and reports all
// problems at once; on any error the site keeps its previous configuration.
// It warns when qrKeys no longer holds a key whose sealed codes are still
// valid (see qrKeyRecord).
func (a *Adapter) Configure(ctx context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	cfg, ds := parseSettings(req.Site, req.Settings, a.now)
	if cfg != nil {
		a.warnRemovedKeys(ctx, req.Site, req.Host, cfg, &ds)
		a.mu.Lock()
		a.sites[req.Site] = cfg
		a.mu.Unlock()
	}
	return &sdk.ConfigureResponse{Diagnostics: ds}, nil
}

// Handle implements sdk.Plugin.
func (a *Adapter) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	a.mu.RLock()
	cfg := a.sites[req.Site]
	a.mu.RUnlock()
	if cfg == nil {
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true, Diagnostics: sdk.Diagnostics{{
			Rule: "precondition", Summary: fmt.Sprintf("the ecard plugin is not configured for site %q", req.Site),
			Detail: "enable the plugin for the site with valid settings; the message is retried once it is configured",
		}}}, nil
	}
	if req.Format != "" && req.Format != "json" {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.format", Rule: "enum", Summary: fmt.Sprintf("format %q is not supported by the ecard plugin", req.Format),
			Detail: `send the payload as a JSON object with "format": "json"`}), nil
	}
	h := handler{a: a, cfg: cfg, req: req}
	var resp *sdk.HandleResponse
	var err error
	switch req.Type {
	case OpRegister:
		resp, err = h.register(ctx)
	case OpQRCode:
		resp, err = h.qrcode(ctx)
	case OpScan:
		resp, err = h.scan(ctx)
	case OpRevoke:
		resp, err = h.revoke(ctx)
	case OpLink:
		resp, err = h.link(ctx)
	case OpGet:
		resp, err = h.get(ctx)
	case OpCardsList:
		resp, err = h.list(ctx)
	case OpDesk:
		resp, err = h.desk(ctx)
	case OpRename:
		resp, err = h.rename(ctx)
	case OpPhone:
		resp, err = h.phone(ctx)
	default:
		return sdk.Invalid(sdk.Diagnostic{Field: "$.type", Rule: "enum", Summary: fmt.Sprintf("unknown message type %q", req.Type),
			Detail: "use one of ecard.register, ecard.qrcode, ecard.scan, ecard.revoke, ecard.link, ecard.get, ecard.cards.list, ecard.desk, ecard.rename, ecard.phone.correct"}), nil
	}
	if errors.Is(err, errBusy) {
		return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true,
			Diagnostics: sdk.Diagnostics{{Rule: "state", Summary: "the card changed concurrently too often", Detail: "the message is retried"}}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Type, err)
	}
	return resp, nil
}

// RunJob implements sdk.Plugin. The plugin has no scheduled jobs.
func (a *Adapter) RunJob(_ context.Context, req *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return nil, fmt.Errorf("ecard: unknown job %q; the ecard plugin declares no jobs", req.Job)
}

// handler serves one message.
type handler struct {
	a   *Adapter
	cfg *siteConfig
	req *sdk.HandleRequest
}

func (h handler) host() sdk.Host { return h.req.Host }

var _ sdk.Plugin = (*Adapter)(nil)
