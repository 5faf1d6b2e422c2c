// Package api is medgate's HTTP server: the ingress for HIS clients that
// cannot speak Kafka (POST /v1/messages, same envelope and same pipeline),
// health (/healthz, /readyz), Prometheus metrics (/metrics) and the admin
// API under /admin (reload, plugins, jobs, messages, exchanges), and the
// staff console under /console/ when one is given.
//
// Handlers return errors; one function turns an *Error into a JSON body
// with a stable code, so users see a message and a fix, never a stack.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/host/internal/scheduler"
	"github.com/medgate/medgate/host/internal/store"
)

// Error is an API error: the HTTP status, a stable code and a message for
// people (what is wrong and how to fix it).
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Backend is what the server needs from the daemon.
type Backend interface {
	Process(ctx context.Context, in pipeline.Input) (*pipeline.Reply, error)
	Store() store.Store
	Ready(ctx context.Context) map[string]string // component → "ok" or the problem
	Reload(ctx context.Context) error
	Plugins() any
	Jobs() []scheduler.Status
	TriggerJob(ctx context.Context, id string) error
	Replay(ctx context.Context, id string) error
}

// Options configure the server.
type Options struct {
	IngressTimeout time.Duration
	AdminToken     string // empty: admin API open (bind to loopback!)
	IngressToken   string
	MaxBodyBytes   int64
	Registry       *prometheus.Registry
	Logger         *slog.Logger
	// Console, when not nil, is mounted under /console/ (the staff web
	// console; it does its own sign-in).
	Console http.Handler
}

// Handler returns the HTTP handler.
func Handler(b Backend, o Options) http.Handler {
	s := &server{b: b, o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.Handle("GET /readyz", s.h(s.ready))
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	mux.Handle("POST /v1/messages", s.auth(o.IngressToken, s.h(s.ingress)))
	mux.Handle("POST /admin/reload", s.auth(o.AdminToken, s.h(s.reload)))
	mux.Handle("GET /admin/plugins", s.auth(o.AdminToken, s.h(s.plugins)))
	mux.Handle("GET /admin/jobs", s.auth(o.AdminToken, s.h(s.jobs)))
	mux.Handle("POST /admin/jobs/{plugin}/{site}/{job}/run", s.auth(o.AdminToken, s.h(s.runJob)))
	mux.Handle("GET /admin/messages", s.auth(o.AdminToken, s.h(s.messages)))
	mux.Handle("GET /admin/messages/{id}", s.auth(o.AdminToken, s.h(s.message)))
	mux.Handle("GET /admin/exchanges", s.auth(o.AdminToken, s.h(s.exchanges)))
	mux.Handle("POST /admin/messages/{id}/replay", s.auth(o.AdminToken, s.h(s.replay)))
	if o.Console != nil {
		mux.Handle("/console/", o.Console)
	}
	return mux
}

type server struct {
	b Backend
	o Options
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *server) h(f handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := f(w, r)
		if err == nil {
			return
		}
		var ae *Error
		if !errors.As(err, &ae) {
			s.o.Logger.Error("http handler failed", "path", r.URL.Path, "err", err)
			ae = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "medgate could not complete the request; see the medgate log for details"}
		}
		writeJSON(w, ae.Status, ae)
	})
}

func (s *server) auth(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			writeJSON(w, http.StatusUnauthorized, &Error{Code: "unauthorized", Message: "send Authorization: Bearer <token> with the token configured for this endpoint"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// replyStatus maps a reply status to the HTTP status of the ingress.
var replyStatus = map[string]int{
	pipeline.StatusOK:       http.StatusOK,
	pipeline.StatusInvalid:  http.StatusUnprocessableEntity,
	pipeline.StatusRejected: http.StatusConflict,
	pipeline.StatusFailed:   http.StatusBadGateway,
}

func (s *server) ingress(w http.ResponseWriter, r *http.Request) error {
	max := s.o.MaxBodyBytes + 1
	body, err := io.ReadAll(io.LimitReader(r.Body, max))
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "read", Message: "cannot read the request body: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.o.IngressTimeout)
	defer cancel()
	key := r.Header.Get("X-Medgate-Key")
	reply, err := s.b.Process(ctx, pipeline.Input{Value: body, Key: key, TraceID: r.Header.Get("X-Medgate-Trace-Id")})
	if err != nil {
		if ctx.Err() != nil {
			return &Error{Status: http.StatusGatewayTimeout, Code: "timeout", Message: fmt.Sprintf("no outcome within %s; send the same message (same id) again later: medgate returns the stored outcome and never repeats the external call", s.o.IngressTimeout)}
		}
		s.o.Logger.Error("ingress message not finished", "err", err)
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "medgate could not finish the message (store or Kafka unavailable); send it again with the same id"}
	}
	writeJSON(w, replyStatus[reply.Status], reply)
	return nil
}

func (s *server) ready(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := s.b.Ready(ctx)
	status := http.StatusOK
	for _, v := range checks {
		if v != "ok" {
			status = http.StatusServiceUnavailable
		}
	}
	writeJSON(w, status, checks)
	return nil
}

func (s *server) reload(w http.ResponseWriter, r *http.Request) error {
	if err := s.b.Reload(r.Context()); err != nil {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "config", Message: "the new configuration was not applied; the previous one stays in force: " + err.Error()}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
	return nil
}

func (s *server) plugins(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, s.b.Plugins())
	return nil
}

func (s *server) jobs(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, s.b.Jobs())
	return nil
}

func (s *server) runJob(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("plugin") + "/" + r.PathValue("site") + "/" + r.PathValue("job")
	if err := s.b.TriggerJob(r.Context(), id); err != nil {
		switch {
		case errors.Is(err, scheduler.ErrUnknownJob):
			return &Error{Status: http.StatusNotFound, Code: "unknown_job", Message: err.Error()}
		case errors.Is(err, scheduler.ErrNotOwner):
			return &Error{Status: http.StatusConflict, Code: "not_owner", Message: err.Error() + "; it runs on the instance that holds the lease"}
		}
		return &Error{Status: http.StatusBadGateway, Code: "job_failed", Message: err.Error()}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ran", "job": id})
	return nil
}

func (s *server) messages(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	ms, err := s.b.Store().ListMessages(r.Context(), q.Get("site"), q.Get("type"), q.Get("status"), limit)
	if err != nil {
		return err
	}
	out := make([]messageView, len(ms))
	for i, m := range ms {
		out[i] = view(m)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) message(w http.ResponseWriter, r *http.Request) error {
	m, err := s.b.Store().GetMessage(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no message with this id has been received"}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view(*m))
	return nil
}

func (s *server) replay(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := s.b.Replay(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no message with this id has been received"}
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: "not_replayable", Message: err.Error()}
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "replayed", "id": id, "next": "GET /admin/messages/" + id})
	return nil
}

type messageView struct {
	ID         string          `json:"id"`
	Site       string          `json:"site"`
	Type       string          `json:"type"`
	Key        string          `json:"key"`
	Status     string          `json:"status"`
	Outcome    string          `json:"outcome,omitempty"`
	Attempts   int             `json:"attempts"`
	OccurredAt time.Time       `json:"occurredAt,omitzero"`
	ReceivedAt time.Time       `json:"receivedAt"`
	UpdatedAt  time.Time       `json:"updatedAt"`
	Reply      json.RawMessage `json:"reply,omitempty"`
}

func view(m store.Message) messageView {
	return messageView{ID: m.ID, Site: m.Site, Type: m.Type, Key: m.Key, Status: m.Status, Outcome: m.Outcome, Attempts: m.Attempts,
		OccurredAt: m.OccurredAt, ReceivedAt: m.ReceivedAt, UpdatedAt: m.UpdatedAt, Reply: m.Reply}
}

func (s *server) exchanges(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	xs, err := s.b.Store().ListExchanges(r.Context(), store.ExchangeFilter{
		Plugin: q.Get("plugin"), Site: q.Get("site"), Code: q.Get("code"), Serial: q.Get("serial"), MessageID: q.Get("messageId"), Limit: limit,
	})
	if err != nil {
		return err
	}
	out := make([]exchangeView, len(xs))
	for i, x := range xs {
		out[i] = exchangeView{ID: x.ID, MessageID: x.MessageID, Plugin: x.Plugin, Site: x.Site, System: x.System, Code: x.Code,
			Serial: x.Serial, Request: body(x.Request), Response: body(x.Response), Status: x.Status, Error: x.Error, DurationMS: x.DurationMS, At: x.At}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type exchangeView struct {
	ID         int64           `json:"id"`
	MessageID  string          `json:"messageId,omitempty"`
	Plugin     string          `json:"plugin"`
	Site       string          `json:"site"`
	System     string          `json:"system"`
	Code       string          `json:"code"`
	Serial     string          `json:"serial,omitempty"`
	Request    json.RawMessage `json:"request,omitempty"`
	Response   json.RawMessage `json:"response,omitempty"`
	Status     string          `json:"status"`
	Error      string          `json:"error,omitempty"`
	DurationMS int64           `json:"durationMs"`
	At         time.Time       `json:"at"`
}

// body shows a journal body as JSON when it is JSON, else as a string.
func body(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(strings.ToValidUTF8(string(b), "\uFFFD"))
	return s
}
