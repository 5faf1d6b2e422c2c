package adapter

import (
	"context"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/pii"
	"github.com/medgate/medgate/plugins/tracecode/platform"
)

// tokenLogEntry is one record of the token operation log. It never holds
// the token or the secret.
type tokenLogEntry struct {
	At         time.Time `json:"at"`
	Action     string    `json:"action"`
	Reason     string    `json:"reason"`
	OK         bool      `json:"ok"`
	ExpiresAt  time.Time `json:"expiresAt,omitzero"`
	DurationMS int64     `json:"durationMs"`
	Error      string    `json:"error,omitempty"`
	// Warning says why the expiry the platform gave was not used.
	Warning   string `json:"warning,omitempty"`
	MessageID string `json:"messageId,omitempty"`
	Trigger   string `json:"trigger,omitempty"`
	// Subject is what the triggering call was about: a document number, a
	// code, or the date range of a stock-in fetch.
	Subject string `json:"subject,omitempty"`
}

// tokenOutageAlertAfter is how long token requests must have failed,
// the last one unanswered and leaving the site without a token that
// works, before it is an ALERT: a blip passes, an outage that stops the
// site's calls this long pages well within the uploads' 30 minutes.
const tokenOutageAlertAfter = 5 * time.Minute

// observer keeps the token operation log in host state and journals every
// exchange. Failures to record are logged, never returned: the call itself
// happened.
type observer struct {
	h      *handler
	serial string // journal serial of the exchanges: the document number or code
}

func (h *handler) observe(serial string) *observer { return &observer{h: h, serial: serial} }

// Token implements platform.Observer.
func (o *observer) Token(ctx context.Context, e platform.TokenEvent) {
	entry := tokenLogEntry{At: e.At.Truncate(time.Second), Action: e.Action, Reason: e.Reason, OK: e.OK, ExpiresAt: e.ExpiresAt.Truncate(time.Second),
		DurationMS: e.Duration.Milliseconds(), Error: e.Error, Warning: e.Warning, MessageID: o.h.req.MessageID, Trigger: o.h.req.Type, Subject: o.serial}
	wctx := context.WithoutCancel(ctx)
	if _, err := appendLog(wctx, o.h.req.Host, kindToken, e.At.In(o.h.cfg.zone), entry); err != nil {
		o.h.a.log.Error("cannot record a token operation in the operation log", "site", o.h.req.Site, "action", e.Action, "err", err)
	}
	if e.Warning != "" {
		o.h.a.log.Warn("token expiry not usable", "site", o.h.req.Site, "action", e.Action, "expiresAt", e.ExpiresAt, "warning", e.Warning)
	}
	if e.OK {
		o.h.a.log.Info("token operation", "site", o.h.req.Site, "action", e.Action, "reason", e.Reason, "expiresAt", e.ExpiresAt)
		if e.Action != platform.ActionInvalidate {
			// The streak of failures is over.
			o.h.cfg.tokenRefusedAlerted.Store(false)
			o.h.cfg.tokenFailingSince.Store(0)
			o.h.cfg.tokenDownAlerted.Store(false)
		}
		return
	}
	o.h.a.log.Warn("token operation failed", "site", o.h.req.Site, "action", e.Action, "reason", e.Reason, "err", pii.Text(e.Error))
	o.h.cfg.tokenFailingSince.CompareAndSwap(0, e.At.UnixNano())
	since := time.Unix(0, o.h.cfg.tokenFailingSince.Load())
	if !e.Refused && e.NoToken && e.At.Sub(since) >= tokenOutageAlertAfter && !o.h.cfg.tokenDownAlerted.Swap(true) {
		// The token endpoint does not answer and the site holds no token
		// that works: every trace-code call of the site (stock-in and
		// stock-out uploads, fetches) waits, retried, until it answers.
		// A short outage, or a failed refresh while the token still
		// works, passes by itself; one that has lasted this long and
		// stopped the calls pages, once per streak.
		o.h.a.log.Error("ALERT: the trace-code platform's token endpoint does not answer and the site has no valid token left: no trace-code call (stock-in, stock-out, fetch) is made until it answers; check the platform's status and the network path to the site's baseUrl",
			"site", o.h.req.Site, "failingSince", since.In(o.h.cfg.zone), "action", e.Action, "reason", e.Reason, "err", pii.Text(e.Error))
	}
	if e.Refused && !o.h.cfg.tokenRefusedAlerted.Swap(true) {
		// The platform refuses the site's credentials: no call reaches it
		// until someone fixes them, so page once per streak of failed
		// token requests (the host counts the line in
		// medgate_plugin_alerts_total). A token endpoint that does not
		// answer stays a WARN: that passes by itself.
		o.h.a.log.Error("ALERT: the trace-code platform refuses the site's credentials; no trace-code call can be made until they are fixed: check the site's appId, appSecret, orgCode and signMethod against what the platform issued, then reload medgate",
			"site", o.h.req.Site, "action", e.Action, "reason", e.Reason, "err", pii.Text(e.Error))
	}
}

// Exchange implements platform.Observer.
func (o *observer) Exchange(ctx context.Context, x platform.Exchange) {
	serial := o.serial
	if x.Op == platform.OpToken {
		serial = ""
	}
	_, err := o.h.req.Host.Journal(context.WithoutCancel(ctx), sdk.Exchange{
		MessageID: o.h.req.MessageID, System: System, Code: string(x.Op), Serial: serial,
		Request: x.Request, Response: x.Response, Status: x.Status, Error: joinErr(x), Duration: x.Duration,
	})
	if err != nil {
		o.h.a.log.Error("cannot journal a platform exchange", "site", o.h.req.Site, "op", x.Op, "err", err)
	}
}

func joinErr(x platform.Exchange) string {
	switch {
	case x.Error != "":
		return x.Error
	case x.Status == "rejected":
		return "code " + x.Code + ": " + x.Message
	}
	return ""
}

var _ platform.Observer = (*observer)(nil)
