// Package mllp takes HL7 v2 messages over MLLP (the Minimal Lower Layer
// Protocol: each message framed by 0x0B … 0x1C 0x0D on a TCP or TLS
// connection) from platforms that do not speak Kafka, and answers each with
// an HL7 acknowledgment.
//
// A message is processed exactly like an HL7 v2 message from the request
// topic: it becomes a request envelope (format hl7v2, the site of the
// listener, the type its MSH-9 maps to) with the idempotency id
// hl7:<MSH-3>:<MSH-4>:<MSH-10> (a digest of them when that is not a usable
// id), goes through the same queue, mapping and
// plugin, and its outcome is stored and its reply published on the replies
// topic. Only then is the ACK written (original acknowledgment mode): AA
// for ok, AE for rejected or failed, AR for invalid (or a message that
// cannot be read). No commit acknowledgment (CA) is sent before: an ACK
// always means the outcome is stored. When the outcome cannot be stored in
// time the connection is closed without an ACK; the sender resends the
// message, and the resend — the same MSH-10 — gets the stored outcome
// without a second external call.
//
// Each message is counted once in medgate_mllp_messages_total: under its
// ACK's MSA-1 once the ACK is written, as "none" when no ACK is sent (the
// outcome not stored in time), as "failed" when the ACK cannot be written
// (the sender hung up, or did not read it within writeTimeout; its resend
// gets the same answer: the stored outcome of a processed message).
//
// An ACK answers the message's MSH. A plain one (the site has no ACK
// mapping) is written in the message's delimiters, from the message's
// receiving application and facility (MSH-5, MSH-6) to its sending ones
// (MSH-3, MSH-4), with its processing ID (MSH-11) and version (MSH-12);
// a refusal of a message that cannot be read as a whole does the same
// when its MSH segment can be read (for one too large for the listener,
// or sent without MLLP framing, from its first bytes), MSA-2 its MSH-10. A mapped one keeps the mapping's MSH
// but for MSH-5 and MSH-6, the sender's MSH-3 and MSH-4, its MSA-2 is
// the sender's MSH-10, and the QAK-1 of a query's response the query's
// tag (QPD-2, or QRD-4 of a QRY) when the query gives one. An AE or AR,
// plain or mapped, always says why in MSA-3 and an ERR: the listener adds
// them when the mapping wrote none (what the mapping wrote is kept).
// MSA-3 holds at most 80 characters when the message or the ACK is of a
// version before v2.6 (its ST length up to v2.5.1): the start of the
// reason, ending in "...", the whole of it in ERR-8. The ERR segments the
// listener adds carry ERR-3 and ERR-4 (required from v2.5) and, when the
// message or the ACK is before v2.5 (whose ERR has ERR-1 alone), ERR-1:
// the error's code in HL7 table 0357.
// The ACK's own MSH-10, plain or mapped, fits the version of the message
// and of the ACK (20 characters up to v2.5.1, 199 from v2.6): the reply's
// id (32 hex digits) when it fits, else 20 characters of its digest, the
// same for a resend, which gets the stored reply.
//
// A message is read in the character set its MSH-18 declares, or, when it
// declares none, in the listener's defaultCharset (UTF-8 unless set;
// GB18030 for a HIS that writes GBK without declaring it). It is passed
// on as UTF-8 text declaring UNICODE UTF-8 in MSH-18 (also when it declared
// nothing), its hex escapes rewritten in UTF-8. Its ACK is written in the
// character set it was read in, declared in the ACK's MSH-18 (UTF-8 too;
// UTF-8, declared so, when its text cannot be written in that set). A
// message whose MSH-18 names a set the listener cannot read gets an AR in
// UTF-8 (its text ASCII) that answers its MSH, read without MSH-18; when
// the fields of that MSH are not ASCII (a Chinese sending application in
// BIG-5), the AR carries them back byte for byte and declares the sender's
// own MSH-18, in which the sender reads them as it wrote them (the AR's
// text is ASCII, read alike in any set a sender can declare).
//
// Bytes outside a frame (before a start block: a sender's keep-alive
// bytes, a stray byte between frames) are discarded, as HAPI and Mirth
// do, counted in medgate_mllp_discarded_bytes_total and logged once per
// connection (never their content); blank bytes (CR, LF, space, tab)
// between frames are normal and not counted. Bytes outside a frame that
// start as an HL7 message (MSH) are a message sent without MLLP framing:
// it gets an AR saying so and the connection is closed. More bytes
// outside a frame than maxMessageBytes since the last frame (or since the
// peer connected), blank or not, close the connection with a WARN: the
// peer does not speak MLLP. A start block inside a frame (an end block
// lost) closes the connection without an ACK: neither the partial message
// nor the one after it is processed, and the sender resends the one it
// waits for. HAPI and Mirth read that 0x0B as message content instead,
// which would process the two as one message under the first's MSH-10.
//
// A connection closed on a framing error — a start block inside a frame
// (startBlockInFrame), the peer hanging up (or the connection failing)
// inside a frame (endedInFrame), no end block within readTimeout of a
// frame's start (noEndBlock), more than maxMessageBytes outside a frame
// (noStartBlock) — is counted in
// medgate_mllp_framing_errors_total by that reason and logged at WARN,
// never with the bytes read, like a refused connection: the first time,
// then at most once a minute per address and reason, saying how many
// there were meanwhile (framingErrorsSinceLastLog). A sender that resends
// a broken frame for ever is seen without flooding the log. A failed TLS
// handshake is counted in medgate_mllp_connections_total{result="tls"}
// and its WARN rate-limited in the same way (failedSinceLastLog), so a
// scanner hitting a TLS listener does not flood the log either.
//
// A connection from an address not in allowFrom, or beyond
// maxConnections, is closed at once and counted in
// medgate_mllp_refused_connections_total by reason (allowFrom,
// maxConnections; never by address, which would let a scan grow the
// metrics). Its WARN is logged the first time, then at most once a minute
// per address and reason, saying how many were refused meanwhile
// (refusedSinceLastLog): a scanner or a misconfigured sender reconnecting
// in a loop does not flood the log.
//
// Shutdown (and Close, with the server's ShutdownGrace: mllp.shutdownGrace,
// 5s unless set) is graceful, like net/http's: the listener stops taking
// connections at once; a connection waiting for a message (or in the
// middle of one, which is not processed) is closed at once; a connection
// whose message is being processed reads nothing more, gets that message's
// ACK if its outcome arrives within the grace, and is then closed. After the grace the processing still going on
// is cancelled and its connections are cut without an ACK, counted in a
// WARN: their senders resend, and the resends get the stored outcomes.
package mllp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/pipeline"
	"github.com/medgate/medgate/transforms/hl7"
)

// Processor completes a request and returns its stored reply (the
// daemon's ingress: queued on the request topic, processed in key order,
// outcome stored). An error means the outcome is not stored (yet).
type Processor interface {
	Process(ctx context.Context, in pipeline.Input) (*message.Reply, error)
}

// Mappings are the site mappings as the listener uses them (a
// *mapping.Mappings).
type Mappings interface {
	// HL7Type returns the message type an MSH-9 is for at a site.
	HL7Type(site, msgType string) (string, error)
	// ReplyHL7 renders a reply with the site's hl7v2 reply mapping; ok is
	// false when there is none or it failed.
	ReplyHL7(site, typ string, doc []byte) (ack []byte, mapping string, ok bool)
}

// Metrics are the listeners' Prometheus collectors.
type Metrics struct {
	messages    *prometheus.CounterVec
	connections *prometheus.CounterVec
	open        *prometheus.GaugeVec
	discarded   *prometheus.CounterVec
	refused     *prometheus.CounterVec
	framing     *prometheus.CounterVec
}

// NewMetrics registers the MLLP metrics in reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_mllp_messages_total",
			Help: "HL7 messages received over MLLP, by listener and the acknowledgment sent (AA, AE, AR; none when the outcome was not stored in time; failed when the ACK could not be written: the sender resends and gets the same answer).",
		}, []string{"listener", "ack"}),
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_mllp_connections_total",
			Help: "MLLP connections, by listener and result (accepted; refused: address not in allowFrom, or too many connections; tls: handshake failed, its WARN logged at most once a minute per address).",
		}, []string{"listener", "result"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "medgate_mllp_open_connections", Help: "MLLP connections open now, by listener.",
		}, []string{"listener"}),
		discarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_mllp_discarded_bytes_total",
			Help: "Bytes received over MLLP outside a frame (before a start block) and discarded, by listener; blank bytes between frames (CR, LF, space, tab) are not counted.",
		}, []string{"listener"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_mllp_refused_connections_total",
			Help: "MLLP connections refused, by listener and reason (allowFrom: the address is not in allowFrom; maxConnections: the listener had maxConnections open). Their WARNs are logged at most once a minute per address and reason.",
		}, []string{"listener", "reason"}),
		framing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "medgate_mllp_framing_errors_total",
			Help: "MLLP connections closed on a framing error, without an ACK for the frame, by listener and reason (startBlockInFrame: a start block inside a frame; endedInFrame: the peer closed the connection, or it failed, inside a frame; noEndBlock: a frame's end block did not come within readTimeout; noStartBlock: more than maxMessageBytes bytes outside a frame). Their WARNs are logged at most once a minute per address and reason.",
		}, []string{"listener", "reason"}),
	}
	for _, c := range []prometheus.Collector{m.messages, m.connections, m.open, m.discarded, m.refused, m.framing} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register MLLP metrics: %w", err)
		}
	}
	return m, nil
}

// DefaultShutdownGrace is how long Close lets the messages being
// processed get their ACK before it cuts their connections when the
// server's ShutdownGrace is not set (mllp.shutdownGrace's default).
const DefaultShutdownGrace = 5 * time.Second

// Server is one MLLP listener.
type Server struct {
	// ShutdownGrace is how long Close (and Shutdown, given a context
	// without a deadline) lets the messages being processed get their ACK
	// before it cuts their connections; zero means DefaultShutdownGrace.
	// Set it before Serve (the daemon sets mllp.shutdownGrace).
	ShutdownGrace time.Duration

	cfg   config.MLLPListener
	proc  Processor
	maps  Mappings
	log   *slog.Logger
	met   *Metrics
	allow []*net.IPNet
	tls   *tls.Config
	sem   chan struct{}

	// refusals rate-limits the WARNs of refused connections, failed TLS
	// handshakes and framing errors.
	refusals *refusalLog

	// cutCtx ends the processing still going on when the grace is over.
	cutCtx context.Context
	cut    context.CancelFunc

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]*connState // by the accepted (raw) connection
	wg    sync.WaitGroup          // connections being served
	done  chan struct{}           // closed when shutdown begins
}

// connState is what a connection is doing.
type connState struct {
	busy bool // a message read from it is being processed or answered
}

// New returns a server for one configured listener; call Listen, then
// Serve. met may be nil.
func New(cfg config.MLLPListener, proc Processor, maps Mappings, log *slog.Logger, met *Metrics) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, proc: proc, maps: maps, log: log.With("mllp", cfg.Address, "site", cfg.Site), met: met,
		sem:      make(chan struct{}, max(cfg.MaxConnections, 1)),
		refusals: newRefusalLog(),
		conns:    map[net.Conn]*connState{}, done: make(chan struct{})}
	s.cutCtx, s.cut = context.WithCancel(context.Background())
	for _, a := range cfg.AllowFrom {
		n, err := config.ParseAllow(a)
		if err != nil {
			return nil, fmt.Errorf("mllp listener %s: %w", cfg.Address, err)
		}
		s.allow = append(s.allow, n)
	}
	if t := cfg.TLS; t != nil {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mllp listener %s: load TLS certificate %s: %w", cfg.Address, t.CertFile, err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if t.ClientCAFile != "" {
			pem, err := os.ReadFile(t.ClientCAFile)
			if err != nil {
				return nil, fmt.Errorf("mllp listener %s: read client CA: %w", cfg.Address, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("mllp listener %s: %s holds no PEM certificate", cfg.Address, t.ClientCAFile)
			}
			s.tls.ClientCAs, s.tls.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
	}
	return s, nil
}

// Listen opens the listening socket.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Address)
	if err != nil {
		return fmt.Errorf("mllp listener for site %s: listen on %s: %w; free the port or change mllp.listeners[].address", s.cfg.Site, s.cfg.Address, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return nil
}

// Addr is the address listened on (after Listen).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve accepts connections until Shutdown or Close.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return errors.New("mllp: Serve before Listen")
	}
	var pause time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return nil
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("mllp listener %s: accept: %w", s.cfg.Address, err)
			}
			// Out of file descriptors and the like: wait and try again, as
			// net/http does.
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			s.log.Warn("MLLP accept failed; retrying", "err", err, "in", pause)
			select {
			case <-time.After(pause):
			case <-s.done:
				return nil
			}
			continue
		}
		pause = 0
		if !s.allowed(c.RemoteAddr()) {
			s.refuse(c, refusedAllowFrom)
			continue
		}
		select {
		case s.sem <- struct{}{}:
		default:
			s.refuse(c, refusedMaxConnections)
			continue
		}
		if !s.track() {
			<-s.sem
			_ = c.Close()
			return nil
		}
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			s.serveConn(ctx, c)
		}()
	}
}

// refuse closes a connection refused for reason (refusedAllowFrom or
// refusedMaxConnections). Every refusal is counted; the first of an
// address is logged, then at most one a minute (refusalLogEvery) saying
// how many were refused meanwhile, so that a peer reconnecting in a loop
// does not flood the log.
func (s *Server) refuse(c net.Conn, reason string) {
	s.count("refused")
	if s.met != nil {
		s.met.refused.WithLabelValues(s.cfg.Address, reason).Inc()
	}
	var msg string
	var args []any
	switch reason {
	case refusedAllowFrom:
		msg = "MLLP connection refused: address not in allowFrom; if it is a sender, add it to mllp.listeners[].allowFrom"
	default:
		msg = "MLLP connection refused: maxConnections reached; if the senders need more connections at once, raise mllp.listeners[].maxConnections"
		args = append(args, "max", cap(s.sem))
	}
	s.warnPeer(reason, c.RemoteAddr(), peerWarn{what: "refusals", metric: "medgate_mllp_refused_connections_total", since: "refusedSinceLastLog"}, msg, args...)
	_ = c.Close()
}

// peerWarn says what a rate-limited WARN about a peer is about.
type peerWarn struct {
	what   string // what is logged, in the plural: "refusals"
	metric string // the metric that counts them all
	since  string // the attribute saying how many were not logged since the last WARN
}

// warnPeer logs msg (with args) at WARN about the peer at addr for reason,
// the first time, then at most once a minute (refusalLogEvery) per address
// and reason, saying how many were not logged meanwhile (see refusalLog).
// msg says what happened and how to fix it; warnPeer adds how the WARNs
// are rate-limited and which metric counts them all.
func (s *Server) warnPeer(reason string, addr net.Addr, w peerWarn, msg string, args ...any) {
	r := s.refusals.note(reason, addr)
	if !r.log {
		return
	}
	if r.shared {
		msg += fmt.Sprintf("; more addresses than the log tells apart (%d) have %s: those of the others are logged together, at most once a minute with how many there were meanwhile", s.refusals.maxPeers, w.what)
	} else {
		msg += fmt.Sprintf("; further %s of this address are logged at most once a minute with how many there were meanwhile", w.what)
	}
	msg += "; " + w.metric + " counts them all"
	args = append([]any{"from", addr.String()}, args...)
	if r.unlogged > 0 {
		args = append(args, w.since, r.unlogged)
	}
	s.log.Warn(msg, args...)
}

// framingWarn is what the WARNs of framing errors are about.
var framingWarn = peerWarn{what: "framing errors", metric: "medgate_mllp_framing_errors_total", since: "framingErrorsSinceLastLog"}

// framingReason is the reason (a framing* constant) of the framing error
// a connection's read ended with, or "" when err is not one; inFrame
// reports whether the read stopped inside a frame. Any failure inside a
// frame (a reset, a broken TLS record) but a timeout or the listener's own
// close ends the frame as the peer's close does (endedInFrame).
func framingReason(err error, inFrame bool) string {
	switch {
	case errors.Is(err, errNoStartBlock):
		return framingNoStartBlock
	case errors.Is(err, hl7.ErrFraming) && errors.Is(err, io.ErrUnexpectedEOF):
		return framingEndedInFrame
	case errors.Is(err, hl7.ErrFraming):
		// The hl7 reader's only other framing error.
		return framingStartBlockInFrame
	case inFrame && errors.Is(err, os.ErrDeadlineExceeded):
		return framingNoEndBlock
	case inFrame && !errors.Is(err, net.ErrClosed):
		// Reset by the peer, a broken TLS record: the frame ends unread
		// as when the peer closes the connection.
		return framingEndedInFrame
	}
	return ""
}

// framingError counts a connection ended by a framing error (reason, a
// framing* constant) and logs it at WARN, rate-limited, without any of
// the bytes read: a sender that resends a broken frame for ever is seen
// without flooding the log.
func (s *Server) framingError(c net.Conn, reason string, err error) {
	if s.met != nil {
		s.met.framing.WithLabelValues(s.cfg.Address, reason).Inc()
	}
	var msg string
	var args []any
	switch reason {
	case framingStartBlockInFrame:
		msg = "MLLP connection closed without an ACK: a start block (0x0B) came inside a frame, before its end block; neither message is processed and the sender resends the one it waits for: check that the sender ends every frame with 0x1C 0x0D"
	case framingEndedInFrame:
		msg = "MLLP connection ended inside a frame: the peer closed it (or it failed) before the frame's end block, so the partial message is not processed: check that the sender ends every frame with 0x1C 0x0D and waits for its ACK"
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			args = append(args, "err", err)
		}
	case framingNoEndBlock:
		msg = "MLLP connection closed without an ACK: a frame's end block did not come within readTimeout, so the partial message is not processed and the sender resends it: check that the sender ends every frame with 0x1C 0x0D, or raise mllp.listeners[].readTimeout for a slow link"
		args = append(args, "readTimeout", s.cfg.ReadTimeout.D().String())
	default: // framingNoStartBlock
		msg = "MLLP connection closed: more bytes than maxMessageBytes came without a start block; the peer does not send MLLP frames (0x0B, the message, 0x1C 0x0D): check its framing, and that it does not speak TLS to a listener without tls (or the reverse)"
		args = append(args, "maxMessageBytes", s.maxMessageBytes())
	}
	s.warnPeer(reason, c.RemoteAddr(), framingWarn, msg, append(args, "reason", reason)...)
}

func (s *Server) count(result string) {
	if s.met != nil {
		s.met.connections.WithLabelValues(s.cfg.Address, result).Inc()
	}
}

// allowed reports whether a peer may connect: in allowFrom, or loopback
// when allowFrom is empty.
func (s *Server) allowed(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	if len(s.allow) == 0 {
		return ta.IP.IsLoopback()
	}
	for _, n := range s.allow {
		if n.Contains(ta.IP) {
			return true
		}
	}
	return false
}

// track counts a connection about to be served, unless shutdown began.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
	}
	s.wg.Add(1)
	return true
}

// Close shuts the server down with its ShutdownGrace; see Shutdown.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.shutdownGrace())
	defer cancel()
	return s.Shutdown(ctx)
}

// shutdownGrace is ShutdownGrace, or DefaultShutdownGrace when unset.
func (s *Server) shutdownGrace() time.Duration {
	if s.ShutdownGrace > 0 {
		return s.ShutdownGrace
	}
	return DefaultShutdownGrace
}

// Shutdown stops the server gracefully: it stops accepting connections
// and closes those waiting for a message (or in the middle of one, which
// is not processed) at once; a connection whose message is being
// processed reads nothing more, gets that message's ACK when its outcome
// arrives, and is closed. When ctx ends first (without a deadline,
// ShutdownGrace after the call), the processing still going on is
// cancelled, its connections are cut without an ACK (their senders resend
// and get the stored outcomes), a WARN counts them and Shutdown returns
// ctx's error. It returns once every connection is closed.
func (s *Server) Shutdown(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.shutdownGrace())
		defer cancel()
	}
	s.mu.Lock()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	var err error
	if s.ln != nil {
		if err = s.ln.Close(); errors.Is(err, net.ErrClosed) {
			err = nil // closed by an earlier Shutdown
		}
	}
	for c, st := range s.conns {
		if !st.busy {
			_ = c.Close()
		}
	}
	s.mu.Unlock()
	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return err
	case <-ctx.Done():
	}
	// The messages still being processed are counted as they are cut,
	// under the lock their connections leave by: cancelled first, a
	// processing could end and its connection go before it was counted.
	s.mu.Lock()
	cut := 0
	for c, st := range s.conns {
		if st.busy {
			cut++
		}
		_ = c.Close()
	}
	s.cut()
	s.mu.Unlock()
	<-finished
	if cut == 0 {
		return err
	}
	s.log.Warn("MLLP shutdown: messages still being processed when the grace ended; their connections were cut without an ACK (their senders resend them and get the stored outcomes)", "cut", cut)
	return errors.Join(err, fmt.Errorf("mllp listener %s: shutdown grace ended with %d message(s) still being processed, their connections cut: %w", s.cfg.Address, cut, ctx.Err()))
}

// ServeConn reads messages from one connection and answers each, until
// the peer closes it, it idles past idleTimeout, a frame is broken or the
// server shuts down.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) {
	if !s.track() {
		_ = c.Close()
		return
	}
	defer s.wg.Done()
	s.serveConn(ctx, c)
}

// serveConn is ServeConn for a tracked connection.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	// The processing ends when the grace does.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.cutCtx, cancel)()
	st := &connState{}
	raw := c
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		return
	default:
	}
	s.conns[raw] = st
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, raw)
		s.mu.Unlock()
	}()
	if s.tls != nil {
		tc := tls.Server(c, s.tls)
		_ = tc.SetDeadline(time.Now().Add(s.cfg.ReadTimeout.D()))
		if err := tc.HandshakeContext(ctx); err != nil {
			if !s.closing() {
				s.count("tls")
				s.warnPeer(tlsHandshakeFailed, c.RemoteAddr(), peerWarn{what: "failed handshakes", metric: `medgate_mllp_connections_total{result="tls"}`, since: "failedSinceLastLog"},
					"MLLP TLS handshake failed: the listener has tls set, so a sender must speak TLS to it (and, with clientCAFile, present a certificate that CA signed)", "err", err)
			}
			return
		}
		c = tc
	}
	s.count("accepted")
	if s.met != nil {
		g := s.met.open.WithLabelValues(s.cfg.Address)
		g.Inc()
		defer g.Dec()
	}
	dr := &deadlineReader{c: c, idle: s.cfg.IdleTimeout.D(), read: s.cfg.ReadTimeout.D(), maxGap: s.maxMessageBytes()}
	warned := false
	dr.discarded = func(n int) {
		if s.met != nil {
			s.met.discarded.WithLabelValues(s.cfg.Address).Add(float64(n))
		}
		if !warned {
			warned = true
			s.log.Warn("MLLP: bytes outside an MLLP frame (before a start block: keep-alive or stray bytes) discarded; logged once per connection, medgate_mllp_discarded_bytes_total counts them all", "from", c.RemoteAddr().String(), "bytes", n)
		}
	}
	rd := hl7.NewReader(dr)
	rd.MaxSize = s.cfg.MaxMessageBytes
	w := hl7.NewWriter(c)
	for read := 0; ; read++ { // read: the frames read so far
		dr.waitNext()
		raw, err := rd.ReadMessage()
		if err != nil {
			if errors.Is(err, hl7.ErrTooLarge) {
				// The rest of the stream cannot be trusted: refuse and hang
				// up. The rest of the frame is read first (within
				// readTimeout): hanging up on unread bytes resets the
				// connection, and the sender, still writing its message,
				// would get the reset instead of the AR and resend. The
				// AR answers this frame's MSH (the reader's head of it),
				// not that of a frame after it the same read brought.
				head := slices.Clone(rd.Head())
				dr.discardFrame(read + 1)
				s.log.Warn("MLLP message refused: larger than maxMessageBytes", "from", c.RemoteAddr().String(), "control", hl7.PeekControlID(head), "maxMessageBytes", s.cfg.MaxMessageBytes)
				s.write(c, w, s.refusal(head, fmt.Sprintf("the message is larger than the %d bytes this listener takes (mllp.listeners[].maxMessageBytes); split it or raise the limit", s.cfg.MaxMessageBytes)), "AR")
			} else if errors.Is(err, errUnframed) {
				// Without framing the message has no end to wait for: refuse and hang up.
				s.write(c, w, s.refusal(dr.unframed, "the message is not in an MLLP frame; send each message as 0x0B, the message, 0x1C 0x0D"), "AR")
			} else if reason := framingReason(err, dr.inFrame); reason != "" && !s.closing() {
				s.framingError(c, reason, err)
			} else if errors.Is(err, os.ErrDeadlineExceeded) && !dr.inFrame && !s.closing() {
				s.log.Info("MLLP connection closed: no message came within idleTimeout; the sender connects again for its next message (raise mllp.listeners[].idleTimeout to keep idle connections open longer)",
					"from", c.RemoteAddr().String(), "idleTimeout", s.cfg.IdleTimeout.D().String())
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !s.closing() {
				s.log.Info("MLLP connection ended", "from", c.RemoteAddr().String(), "err", err)
			}
			return
		}
		if !s.setBusy(st, true) {
			return // read as shutdown began: not processed; the sender resends it
		}
		ack, code := s.handle(ctx, raw)
		if ack == nil {
			s.countMessage("none")
			return // no ACK: the sender resends; the resend gets the stored outcome
		}
		if !s.write(c, w, ack, code) || !s.setBusy(st, false) {
			return
		}
	}
}

// setBusy marks a connection as processing a message or not; it reports
// false, leaving the connection as it is, when shutdown began: no new
// message is read or processed then.
func (s *Server) setBusy(st *connState, busy bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
	}
	st.busy = busy
	return true
}

// closing reports whether shutdown began.
func (s *Server) closing() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// write writes a message's ACK (MSA-1 code) and counts the message in
// medgate_mllp_messages_total: under code once the ACK is written, as
// "failed" when it could not be (the peer hung up or did not read it
// within writeTimeout; its resend gets the same answer, the stored outcome
// of a processed message).
func (s *Server) write(c net.Conn, w *hl7.Writer, ack []byte, code string) bool {
	_ = c.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout.D()))
	if err := w.WriteMessage(ack); err != nil {
		s.countMessage("failed")
		s.log.Warn("MLLP ACK not written: the sender did not get it and will resend the message, whose resend gets the same outcome", "from", c.RemoteAddr().String(), "ack", code, "err", err)
		return false
	}
	s.countMessage(code)
	return true
}

// countMessage counts a message in medgate_mllp_messages_total under the
// acknowledgment it got.
func (s *Server) countMessage(ack string) {
	if s.met != nil {
		s.met.messages.WithLabelValues(s.cfg.Address, ack).Inc()
	}
}

// maxMessageBytes is the largest message the listener reads
// (maxMessageBytes, or the HL7 reader's default when unset).
func (s *Server) maxMessageBytes() int {
	if s.cfg.MaxMessageBytes > 0 {
		return s.cfg.MaxMessageBytes
	}
	return hl7.DefaultMaxSize
}

var (
	// errUnframed is a message that does not start with the MLLP start block.
	errUnframed = errors.New("the message is not in an MLLP frame")
	// errNoStartBlock is more bytes outside a frame than a message may hold.
	errNoStartBlock = errors.New("too many bytes without an MLLP start block")
)

// deadlineReader gives the connection idle time before a message starts
// and read time, from its first bytes, for the whole message: a sender
// trickling a message in byte by byte cannot hold the connection longer.
// The idle time runs from when the listener waits for the next message
// (waitNext) or a frame ended, whatever bytes outside a frame arrive
// meanwhile: a sender trickling blanks cannot hold the connection longer
// either.
//
// Between frames it passes on blank bytes and the start block. Other bytes
// there are discarded, as HAPI and Mirth do (a sender's keep-alive bytes, a
// stray byte after an end block), and reported to discarded, unless they
// start as an HL7 message (MSH): a message without MLLP framing has no end
// the listener could wait for, and ends the stream with errUnframed (after
// the frames before it). More than maxGap bytes outside a frame since the
// last frame (or the connection's start), blank or not, end the stream
// with errNoStartBlock: a peer streaming bytes that are not MLLP is cut off.
type deadlineReader struct {
	c          net.Conn
	idle, read time.Duration
	maxGap     int
	discarded  func(n int) // called with the bytes each Read discarded
	until      time.Time   // when the message being read must be in; zero between messages
	idleFrom   time.Time   // when the wait for the next message began
	inFrame    bool
	ended      bool  // the last byte was an end block
	frames     int   // the frames that ended (their end block read)
	gap        int   // bytes outside a frame since the last one ended
	lead       int   // how many of the gap's first non-blank bytes spell the start of "MSH"; -1 once they do not
	err        error // errUnframed or errNoStartBlock, returned by the next Read
	// unframed is the start (at most hl7.HeadSize) of a message without
	// framing (errUnframed), from its "MSH" as far as the read that found
	// it went: its refusal answers the MSH segment in it (refusal).
	unframed []byte
}

// waitNext starts the idle time: the listener waits for the next message.
// A frame that started while the message before it was processed (its
// sender pipelines) gets its read time from now: readTimeout bounds the
// sender's sending, not the listener's processing.
func (d *deadlineReader) waitNext() {
	d.idleFrom = time.Now()
	if d.inFrame {
		d.until = d.idleFrom.Add(d.read)
	}
}

// Read reads from the connection and returns what it passes on (see
// deadlineReader); it reads again rather than return nothing when every
// byte read was discarded.
func (d *deadlineReader) Read(p []byte) (int, error) {
	for {
		if d.err != nil {
			return 0, d.err
		}
		t := d.until
		if t.IsZero() {
			if d.idleFrom.IsZero() {
				d.idleFrom = time.Now()
			}
			t = d.idleFrom.Add(d.idle)
		}
		_ = d.c.SetReadDeadline(t)
		n, err := d.c.Read(p)
		kept, dropped := d.filter(p[:n])
		if dropped > 0 && d.discarded != nil {
			d.discarded(dropped)
		}
		if kept > 0 || n == 0 || err != nil {
			return kept, err
		}
	}
}

// filter moves the bytes of b to pass on to its start and returns how
// many there are and how many were discarded. A buffered read may hold
// the end of one message and the start of the next; the idle timeout
// applies again after a frame ends.
func (d *deadlineReader) filter(b []byte) (kept, dropped int) {
	for i, c := range b {
		switch {
		case d.inFrame:
			if c == hl7.EndBlock {
				d.inFrame, d.until, d.idleFrom = false, time.Time{}, time.Now()
				d.gap, d.lead, d.ended = 0, 0, true
				d.frames++
			}
		case c == hl7.StartBlock:
			d.inFrame, d.until, d.ended = true, time.Now().Add(d.read), false
			if d.lead > 0 { // "M" or "MS" and no message: discarded
				dropped += d.lead
			}
		default:
			// The CR after an end block ends the frame; it is not outside it.
			ended := d.ended
			d.ended = false
			if ended && c == '\r' {
				break
			}
			if d.gap++; d.gap > d.maxGap {
				d.err = errNoStartBlock
				return kept, dropped
			}
			if c == '\r' || c == '\n' || c == ' ' || c == '\t' {
				break
			}
			if d.lead >= 0 && c == "MSH"[d.lead] {
				if d.lead++; d.lead == len("MSH") {
					d.err = errUnframed
					rest := b[i+1:]
					d.unframed = append(append(d.unframed[:0], "MSH"...), rest[:min(len(rest), hl7.HeadSize-len("MSH"))]...)
					return kept, dropped
				}
				continue // counted once it is known not to start a message
			}
			if d.lead > 0 {
				dropped += d.lead
			}
			d.lead = -1
			dropped++
			continue
		}
		b[kept] = c
		kept++
	}
	return kept, dropped
}

// discardFrame reads and drops the rest of the n-th frame of the
// connection, up to its end block, within the message's read time; it
// reads nothing when that frame has ended already (a frame after it is
// not waited for).
func (d *deadlineReader) discardFrame(n int) {
	buf := make([]byte, 32<<10)
	for d.frames < n && d.inFrame && d.err == nil {
		if _, err := d.Read(buf); err != nil {
			return
		}
	}
}

// handle processes one message and returns its ACK and MSA-1, or nil when
// the outcome is not stored.
func (s *Server) handle(ctx context.Context, raw []byte) ([]byte, string) {
	msg, err := hl7.ParseWith(raw, hl7.Options{DefaultCharset: s.cfg.DefaultCharset})
	if err != nil {
		// MSH-10 may still be readable: the sender can tell which message
		// was refused.
		why := fmt.Sprintf("the message cannot be read: %v", err)
		if errors.Is(err, hl7.ErrBatch) {
			why = fmt.Sprintf("the frame holds a batch (FHS, BHS, BTS, FTS segments) or several messages, which one ACK cannot answer, so none was processed: send each message in an MLLP frame of its own, without batch segments (%v)", err)
		}
		if errors.Is(err, hl7.ErrEncoding) && hl7.PeekCharset(raw) == "" && s.readsUTF8() {
			why += fmt.Sprintf(": set defaultCharset: GB18030 on the MLLP listener %s (mllp.listeners[].defaultCharset) when its sender writes GBK or GB 18030 without MSH-18", s.cfg.Address)
			s.log.Warn("MLLP message refused: it has no MSH-18 and is not valid UTF-8; if the sender writes GBK or GB 18030, set defaultCharset: GB18030 on this listener", "control", hl7.PeekControlID(raw))
		}
		return s.refusal(raw, why), "AR"
	}
	msh := &msg.Segments[0]
	control := msg.ControlID()
	if control == "" {
		return s.nak(msg, "", msg.Charset, "MSH-10 (message control ID) is empty; medgate needs it to recognise a resent message"), "AR"
	}
	msgType := msg.Type()
	typ, ok := s.cfg.MessageTypes[msgType]
	if !ok {
		if typ, err = s.maps.HL7Type(s.cfg.Site, msgType); err != nil {
			return s.nak(msg, control, msg.Charset, err.Error()), "AR"
		}
	}
	id := messageID(msh.Value(3, 1, 1, 1), msh.Value(4, 1, 1, 1), control)
	key := messageKey(msg, id)
	occurred := time.Now().UTC().Format(time.RFC3339)
	if t, ok := hl7Time(msh.Value(7, 1, 1, 1)); ok {
		occurred = t.UTC().Format(time.RFC3339)
	}
	env, err := json.Marshal(map[string]any{"id": id, "site": s.cfg.Site, "type": typ, "format": "hl7v2", "occurredAt": occurred, "payload": utf8Text(msg)})
	if err != nil {
		return s.nak(msg, control, msg.Charset, "the message cannot be encoded: "+err.Error()), "AR"
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.ProcessTimeout.D())
	defer cancel()
	reply, err := s.proc.Process(pctx, pipeline.Input{Value: env, Key: key, TraceID: newID()})
	if err != nil || reply == nil {
		s.log.Warn("MLLP message not acknowledged: its outcome is not stored yet; the sender will resend it", "id", id, "err", err)
		return nil, ""
	}
	code := ackCode(reply.Status)
	doc, err := json.Marshal(reply)
	if err == nil {
		if ack, name, ok := s.maps.ReplyHL7(s.cfg.Site, typ, doc); ok {
			if fixed, msa1, ok := withMSA(ack, reply, msg, control, code); ok {
				return encodeAs(fixed, msg.Charset), msa1
			}
			s.log.Warn("the ACK mapping wrote no MSA segment (or no readable HL7 message); the sender gets a plain ACK", "mapping", name)
		}
	}
	return encodeAs(plainAck(reply, msg, control, code), msg.Charset), code
}

// refusal is the AR (rule format, why) of a message that was not
// processed, answering as much of its MSH as raw, the message or its
// start, lets be read: MSA-2 its MSH-10, so that the sender can tell which
// message was refused, the MSH addressed to its sender, in the character
// set the message declares (else the listener's defaultCharset).
func (s *Server) refusal(raw []byte, why string) []byte {
	cs := hl7.PeekCharset(raw)
	if cs == "" {
		cs = s.cfg.DefaultCharset
	}
	charset, _ := hl7.CharsetName(cs) // unknown: the refusal goes in UTF-8
	req, msh18 := peekMSH(raw, charset)
	control := hl7.PeekControlID(raw)
	if msh18 != "" {
		if ack, ok := s.nakInSenderSet(req, control, msh18, why); ok {
			return ack
		}
		req = nil
	}
	return s.nak(req, control, charset, why)
}

// nakInSenderSet is the AR of a message in a character set the listener
// cannot read whose MSH fields up to MSH-18 hold bytes that are not ASCII
// (a Chinese sending application in BIG-5), read as ISO 8859-1 so as to
// keep them byte for byte (peekMSH): the AR carries them back as they
// came and declares the sender's own MSH-18, msh18, in which they read as
// the sender wrote them, so that the sender can match the AR to its
// application and facility. Its own text is ASCII, which every set a
// sender can declare (its MSH is ASCII) reads alike. ok is false when the
// AR's text is not ASCII.
func (s *Server) nakInSenderSet(req *hl7.Message, control, msh18, why string) ([]byte, bool) {
	isASCII := func(v string) bool { return !strings.ContainsFunc(v, func(r rune) bool { return r >= utf8.RuneSelf }) }
	if !isASCII(why) || !isASCII(s.cfg.Site) {
		return nil, false
	}
	r := &message.Reply{ID: newID(), Site: s.cfg.Site, Errors: []message.ReplyError{{Rule: "format", Message: why}}}
	first, rest, _ := strings.Cut(string(plainAck(r, req, control, "AR")), "\r")
	fs := string(req.Delimiters.Field)
	fields := strings.Split(first, fs) // fields[k] is MSH-(k+1)
	for len(fields) < 18 {
		fields = append(fields, "")
	}
	fields[17] = msh18
	out, err := hl7.Encode(strings.Join(fields, fs)+"\r"+rest, "8859/1")
	return out, err == nil
}

// peekMSH reads the MSH segment alone of a message that cannot be read as
// a whole (a bad segment or byte further on), in charset, so that its
// refusal can still answer the sender's MSH; nil when that cannot be read
// either. When MSH-18 names a character set the listener cannot read, the
// fields before it are read alone: as they are when they are ASCII (the
// refusal then answers the sender's MSH in ASCII); else (a Chinese
// sending application in BIG-5) as ISO 8859-1, which keeps every byte, and
// msh18 is the sender's MSH-18 as written, in which the refusal is to
// carry them back (nakInSenderSet).
func peekMSH(raw []byte, charset string) (m *hl7.Message, msh18 string) {
	line := bytes.TrimLeft(raw, "\v\r\n\t ")
	if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	m, err := hl7.ParseWith(line, hl7.Options{DefaultCharset: charset})
	if errors.Is(err, hl7.ErrCharset) && len(line) > 3 {
		// The k-th field separator comes before MSH-(k+1): cut at the
		// 17th, before MSH-18.
		head, fs, n, declared := line, line[3], 0, ""
		for i, c := range line {
			if c == fs {
				if n++; n == 17 {
					head = line[:i]
					declared, _, _ = strings.Cut(string(line[i+1:]), string(fs))
					break
				}
			}
		}
		switch {
		case !slices.ContainsFunc(head, func(c byte) bool { return c >= utf8.RuneSelf }):
			m, err = hl7.ParseWith(head, hl7.Options{})
		case !strings.ContainsFunc(declared, func(r rune) bool { return r < ' ' || r >= utf8.RuneSelf }):
			m, err = hl7.ParseWith(head, hl7.Options{DefaultCharset: "ISO-8859-1"})
			msh18 = declared
		}
	}
	if err != nil || m == nil {
		return nil, ""
	}
	return m, msh18
}

// readsUTF8 reports whether the listener reads messages without MSH-18 as
// UTF-8 (defaultCharset unset or UTF-8).
func (s *Server) readsUTF8() bool {
	name, err := hl7.CharsetName(s.cfg.DefaultCharset)
	return err == nil && name == "UTF-8"
}

// messageID is the idempotency id hl7:<MSH-3>:<MSH-4>:<MSH-10>. When that
// is not a usable message id (spaces or Chinese in a sending application
// or facility name, or longer than 128 characters), the three values are
// replaced by a digest of them, followed by MSH-10 when it fits: the same
// message always gets the same id, and another message another one.
func messageID(app, facility, control string) string {
	id := "hl7:" + app + ":" + facility + ":" + control
	if message.ValidID(id) {
		return id
	}
	sum := sha256.Sum256([]byte(app + "\x00" + facility + "\x00" + control))
	id = "hl7:" + hex.EncodeToString(sum[:16])
	if withControl := id + ":" + control; message.ValidID(withControl) {
		return withControl
	}
	return id
}

func loc(s string) hl7.Location {
	l, _ := hl7.ParseLocation(s)
	return l
}

// patientNumberLocs are the PID-3 repetitions that hold the hospital's
// own number for the patient: patient internal identifier (PI), medical
// record number (MR), patient external identifier (PT).
var patientNumberLocs = []hl7.Location{loc("PID-3(5=PI).1"), loc("PID-3(5=MR).1"), loc("PID-3(5=PT).1")}

// messageKey is a message's key (its Kafka record key, stored with it and
// shown on the admin API and the console): PV1-19 (the visit), else the
// hospital's number for the patient in PID-3 (patientNumberLocs), else,
// when PID-3 holds only a person's document (a resident ID card or a
// passport number, or a number of no declared type), "pid:" and the
// first 32 hex digits of its SHA-256, so the patient's messages keep one
// key without the document's number being stored or shown; else the
// message id.
func messageKey(msg *hl7.Message, id string) string {
	if v := msg.Get(loc("PV1-19")); v != "" {
		return v
	}
	for _, l := range patientNumberLocs {
		if v := msg.Get(l); v != "" {
			return v
		}
	}
	if v := msg.Get(loc("PID-3")); v != "" {
		sum := sha256.Sum256([]byte(v))
		return "pid:" + hex.EncodeToString(sum[:16])
	}
	return id
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// ackCode is MSA-1 for a reply status.
func ackCode(status string) string {
	switch status {
	case message.StatusOK:
		return "AA"
	case message.StatusInvalid:
		return "AR"
	}
	return "AE"
}

// hl7Time reads an HL7 DTM of at least minute precision; local times are
// in +08:00, as the mappings' default.
func hl7Time(s string) (time.Time, bool) {
	zone := time.FixedZone("+08:00", 8*3600)
	body, off := s, ""
	if i := strings.LastIndexAny(s, "+-"); i >= 12 {
		body, off = s[:i], s[i:]
	}
	body, _, _ = strings.Cut(body, ".")
	layouts := map[int]string{12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(body)]
	if !ok {
		return time.Time{}, false
	}
	if off != "" {
		layout += "-0700"
		body += off
	}
	t, err := time.ParseInLocation(layout, body, zone)
	return t, err == nil
}

// utf8Text returns the message as UTF-8 text with MSH-18 saying so, so it
// can travel in a JSON envelope whatever character set it came in. The
// bytes of its hex escapes (\Xhh…\) are rewritten in UTF-8 too. A message
// that declared no character set (read in the listener's defaultCharset)
// gets MSH-18 too: without it, the bytes of its hex escapes would be read
// in the default of the mapping that reads the payload next, not in the
// one the listener read the message in.
func utf8Text(m *hl7.Message) string {
	var b strings.Builder
	sep := string(m.Delimiters.Field)
	for i, seg := range m.Segments {
		if i > 0 {
			b.WriteByte('\r')
		}
		b.WriteString(seg.Name)
		fields := seg.Fields
		if seg.Name == "MSH" && i == 0 {
			b.WriteString(fields[0])
			fields = fields[1:]
			if m.Charset != "UTF-8" || strings.TrimSpace(seg.Value(18, 1, 1, 1)) == "" {
				f := append([]string(nil), fields...)
				for len(f) < 17 {
					f = append(f, "")
				}
				for k := 1; k < len(f); k++ { // f[0] is MSH-2, the encoding characters
					f[k] = m.RecodeEscapes(f[k])
				}
				f[16] = "UNICODE UTF-8" // MSH-18
				fields = f
			}
			b.WriteString(strings.Join(fields, sep))
			continue
		}
		for _, f := range fields {
			b.WriteString(sep)
			b.WriteString(m.RecodeEscapes(f))
		}
	}
	b.WriteByte('\r')
	return b.String()
}

// withMSA makes sure a mapped ACK acknowledges the sender's message req:
// MSA-2 is the sender's MSH-10 whatever the mapping wrote there (the
// original acknowledgment mode requires it), MSA-1 the outcome's code
// unless the mapping chose one (a query answered "not found" may say AA),
// MSH-5 and MSH-6 the sender's MSH-3 and MSH-4 (when it wrote them), and
// QAK-1 the query's tag (QPD-2, or QRD-4; when it gives one), which a
// mapping cannot know. An AE or AR says why, as a plain ACK does
// (ackErrors): MSA-3 the first reason when the mapping left it empty, and
// one ERR per reason after the MSA when the mapping wrote none. It returns
// the ACK and its MSA-1; ok is false when the mapping wrote no MSA (or no
// readable MSH).
func withMSA(ack []byte, r *message.Reply, req *hl7.Message, control, code string) ([]byte, string, bool) {
	am, err := hl7.ParseWith(ack, hl7.Options{Text: true}) // rendered as UTF-8 text
	if err != nil || len(req.Segments) == 0 {
		return nil, "", false
	}
	d, fs := am.Delimiters, string(am.Delimiters.Field)
	// sender is field n of req's MSH as the ACK's delimiters write it.
	msh := &req.Segments[0]
	sender := func(n int) string {
		if req.Delimiters == d {
			return headerText(msh.Field(n), req.Charset, d.Escape)
		}
		return headerText(hl7.Escape(msh.Value(n, 1, 1, 1), d), req.Charset, d.Escape)
	}
	segs := strings.Split(string(ack), "\r")
	ackVersion := ""
	if f := strings.Split(segs[0], fs); len(f) >= 2 { // f[k] is MSH-(k+1)
		for len(f) < 6 {
			f = append(f, "")
		}
		for k, n := range map[int]int{4: 3, 5: 4} {
			if v := sender(n); v != "" {
				f[k] = v
			}
		}
		// MSH-10 (f[9], the mapping's: the demo's is the reply id) fits
		// both the ACK's version and the sender's.
		if len(f) > 11 {
			ackVersion, _, _ = strings.Cut(f[11], string(d.Component))
		}
		if len(f) > 9 {
			f[9] = ackControlID(f[9], min(controlIDMax(ackVersion), controlIDMax(msh.Value(12, 1, 1, 1))))
		}
		segs[0] = strings.Join(f, fs)
	}
	tag := req.QueryTag()
	msa, hasERR, lastERR, hasWarning := -1, false, -1, false
	var msaFields []string
	for i, seg := range segs {
		switch {
		case strings.HasPrefix(seg, "MSA"+fs) && msa < 0:
			f := strings.Split(seg, fs)
			for len(f) < 4 {
				f = append(f, "")
			}
			if f[1] == "" {
				f[1] = code
			}
			f[2] = hl7.Escape(control, d)
			msa, msaFields = i, f
		case strings.HasPrefix(seg, "QAK"+fs) && tag != "":
			f := strings.Split(seg, fs)
			f[1] = hl7.Escape(tag, d)
			segs[i] = strings.Join(f, fs)
		case strings.HasPrefix(seg, "ERR"+fs) || seg == "ERR":
			hasERR = true
			lastERR = i
			if f := strings.Split(seg, fs); len(f) > 4 && f[4] == "W" {
				hasWarning = true
			}
		}
	}
	if msa < 0 {
		return nil, "", false
	}
	msa1 := msaFields[1]
	var errSegs []string
	if msa1 == "AE" || msa1 == "AR" {
		errs := ackErrors(r, msa1)
		if len(errs) > 0 && msaFields[3] == "" {
			msaFields[3] = hl7.Escape(errs[0].Message, d)
		}
		// MSA-3 fits both versions (the mapping's too: the demo's is the
		// whole first reason); the whole reason is in the ERR.
		msaFields[3] = fitText(msaFields[3], d, msa3Max(ackVersion, req.Segments[0].Value(12, 1, 1, 1)))
		if !hasERR {
			errSegs = errSegments(errs, d, before(ackVersion, 5) || before(req.Segments[0].Value(12, 1, 1, 1), 5))
		}
	}
	segs[msa] = strings.Join(msaFields, fs)
	segs = slices.Insert(segs, msa+1, errSegs...)
	// The reply's warnings, when the mapping wrote none (no ERR of
	// severity W), follow the errors: after the mapping's last ERR (its
	// errors, when it wrote some: then errSegs is empty), else after the
	// ones added here.
	if !hasWarning && len(r.Warnings) > 0 {
		at := msa + 1 + len(errSegs)
		if lastERR > msa {
			at = lastERR + 1
		}
		warns := warnSegments(r.Warnings, d, before(ackVersion, 5) || before(req.Segments[0].Value(12, 1, 1, 1), 5))
		segs = slices.Insert(segs, at, warns...)
	}
	return []byte(strings.Join(segs, "\r")), msa1, true
}

// controlIDMax is the most characters MSH-10 (ST) holds in an HL7 v2
// version (MSH-12): 20 up to v2.5.1, 199 from v2.6 on. That is the length
// the HL7 v2 standard gives MSH-10 in each version's chapter 2, as the HL7
// database has it (and nHapi generates from it: "Message Control ID" is
// ST 20 in NHapi.Model.V22 to V251/Segment/MSH.cs, ST 199 in V26 to V281).
// A version that cannot be read (none, or not 2.x) gets 20, which every
// version takes.
func controlIDMax(version string) int {
	if fromV26(version) {
		return 199
	}
	return 20
}

// fromV26 reports whether an HL7 version (MSH-12) is v2.6 or later; one
// that cannot be read (none, or not 2.x) is taken for an earlier one,
// whose limits every version accepts.
func fromV26(version string) bool { return !before(version, 6) }

// before reports whether an HL7 version (MSH-12) is before v2.minor, or
// cannot be read (none, or not 2.x).
func before(version string, minor int) bool {
	major, rest, _ := strings.Cut(strings.TrimSpace(version), ".")
	m, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(m)
	return major != "2" || err != nil || n < minor
}

// msa3Max is the most characters MSA-3 (text message, ST) holds in both
// versions: 80 up to v2.5.1 (the HL7 database, as nHapi's generated
// NHapi.Model.V22 to V251/Segment/MSA.cs has it), no length from v2.6 on
// (0: none).
func msa3Max(versions ...string) int {
	for _, v := range versions {
		if !fromV26(v) {
			return 80
		}
	}
	return 0
}

// fitText cuts escaped text (in d) to at most max characters as written,
// ending it in "..." when cut; an escape sequence is never cut. max 0
// means no limit. The whole text is in the ACK's ERR.
func fitText(text string, d hl7.Delimiters, max int) string {
	if max == 0 || utf8.RuneCountInString(text) <= max {
		return text
	}
	const more = "..."
	keep, n := 0, 0 // bytes and characters of text kept
	for i := 0; i < len(text); {
		unit := text[i:]
		_, size := utf8.DecodeRuneInString(unit)
		if unit[0] == d.Escape {
			if end := strings.IndexByte(unit[1:], d.Escape); end >= 0 {
				size = end + 2
			}
		}
		chars := utf8.RuneCountInString(unit[:size])
		if n+chars > max-len(more) {
			break
		}
		i, keep, n = i+size, i+size, n+chars
	}
	return text[:keep] + more
}

// ackControlID is an ACK's MSH-10 for id, escaped text (the reply's id,
// or what the ACK mapping wrote), in at most max characters: id itself
// when it fits, else the first 20 characters (100 bits) of the base32
// SHA-256 of id. So it stays unique across instances as the reply id is
// (random, 128 bits), and a resend, which gets the stored reply, gets the
// same MSH-10 again.
func ackControlID(id string, max int) string {
	if utf8.RuneCountInString(id) <= max { // an empty one too: the mapping's choice
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return base32.StdEncoding.EncodeToString(sum[:])[:min(20, max)]
}

// errSegments are the ERR segments of errs in delimiters d, one per error:
// the rule and field in ERR-3, severity E, the message in ERR-8 (what
// v2.5 and later require: ERR-3 and ERR-4). With eld (an ACK to or of a
// version before v2.5, whose ERR has ERR-1 alone, required), ERR-1 is the
// error's code in HL7 table 0357 as an ELD: ^^^code&text&HL70357 (no
// segment or field: the errors name JSON paths, in ERR-3).
func errSegments(errs []message.ReplyError, d hl7.Delimiters, eld bool) []string {
	return errSegmentsOf(errs, "E", d, eld)
}

// warnSegments are the ERR segments of a reply's warnings: as
// errSegments, with ERR-4 (severity, HL7 table 0516) W. A warning is
// what the plugin noticed without refusing the message (an ecard.register
// of an ID number registered under another name, a fee line the national
// system refused inside an accepted GYU102): an AA without it would tell
// the sender all went as sent.
func warnSegments(warns []message.ReplyError, d hl7.Delimiters, eld bool) []string {
	return errSegmentsOf(warns, "W", d, eld)
}

// errSegmentsOf is errSegments with ERR-4 severity.
func errSegmentsOf(errs []message.ReplyError, severity string, d hl7.Delimiters, eld bool) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, hl7.ProblemSegment(e.Rule, e.Field, severity, e.Message, d, eld))
	}
	return out
}

// headerText returns v, escaped text for the ACK's MSH line, as the ACK
// can carry it in charset: a character whose GB 18030 bytes hold an ASCII
// byte (a GBK character whose second byte is '|' or '^', say) is written
// as a hex escape (\Xhhhh\, read in the ACK's character set), since the
// MSH line up to MSH-18 is read byte by byte before the character set is
// known.
func headerText(v, charset string, escape byte) string {
	if charset != "GB18030" {
		return v
	}
	var b strings.Builder
	for _, r := range v {
		if r < utf8.RuneSelf {
			b.WriteRune(r)
			continue
		}
		enc, err := hl7.Encode(string(r), "GB18030")
		if err != nil || !slices.ContainsFunc(enc, func(c byte) bool { return c < utf8.RuneSelf }) {
			b.WriteRune(r)
			continue
		}
		b.WriteByte(escape)
		b.WriteString("X" + strings.ToUpper(hex.EncodeToString(enc)))
		b.WriteByte(escape)
	}
	return b.String()
}

// encodeAs writes a UTF-8 ACK in the character set the sender used,
// declaring it in MSH-18 (the ACK's fields separated by its MSH-1): UTF-8
// too ("" is UTF-8), which an ACK left without MSH-18 would not say to a
// receiver that reads undeclared messages in GB 18030, as many Chinese
// HIS do; the ACK's texts are Chinese. An ACK whose text the sender's set
// cannot hold (Chinese in 8859/1) is written in UTF-8, declared so.
func encodeAs(ack []byte, charset string) []byte {
	msh18 := map[string]string{"": "UNICODE UTF-8", "UTF-8": "UNICODE UTF-8", "GB18030": "GB 18030-2000", "ISO-8859-1": "8859/1"}[charset]
	if msh18 == "" {
		return ack
	}
	text := string(ack)
	first, rest, _ := strings.Cut(text, "\r")
	if len(first) < 4 {
		return ack
	}
	fs := first[3:4]
	fields := strings.Split(first, fs)
	for len(fields) < 18 {
		fields = append(fields, "")
	}
	fields[17] = msh18
	if msh18 != "UNICODE UTF-8" {
		if out, err := hl7.Encode(strings.Join(fields, fs)+"\r"+rest, msh18); err == nil {
			return out
		}
		// A text the set cannot hold (a Chinese reason in an 8859/1
		// ACK): the ACK goes in UTF-8, and says so.
		fields[17] = "UNICODE UTF-8"
	}
	return []byte(strings.Join(fields, fs) + "\r" + rest)
}

// plainAck is the ACK sent when the site has no ACK mapping (or it
// failed): MSA with the code and the sender's MSH-10, one ERR per error.
// Its MSH answers req's (nil when the message could not be read at all):
// in req's delimiters, from req's receiving application and facility
// (MSH-5, MSH-6; MEDGATE and the site when empty) to its sending ones
// (MSH-3, MSH-4), with req's processing ID (MSH-11) and version (MSH-12),
// as HL7 v2 requires of an acknowledgment.
func plainAck(r *message.Reply, req *hl7.Message, control, code string) []byte {
	d := hl7.DefaultDelimiters
	var msh *hl7.Segment
	own := false // the ACK is in req's delimiters
	if req != nil && len(req.Segments) > 0 {
		msh = &req.Segments[0]
		if rd := req.Delimiters; rd.Component != 0 && rd.Repetition != 0 && rd.Escape != 0 && rd.Subcomponent != 0 {
			d, own = rd, true
		}
	}
	esc := func(s string) string { return hl7.Escape(s, d) }
	// raw is field n of req's MSH as written (in d, so it goes into the
	// ACK unchanged, components and escapes included), or def; in other
	// delimiters than req's (which declares too few to write an ACK in),
	// its first component.
	raw := func(n int, def string) string {
		switch {
		case msh == nil || msh.Field(n) == "":
			return def
		case own:
			return headerText(msh.Field(n), req.Charset, d.Escape)
		}
		return headerText(esc(msh.Value(n, 1, 1, 1)), req.Charset, d.Escape)
	}
	enc := string([]byte{d.Component, d.Repetition, d.Escape, d.Subcomponent})
	if d.Truncation != 0 {
		enc += string(d.Truncation)
	}
	var b strings.Builder
	seg := func(fields ...string) {
		b.WriteString(strings.Join(fields, string(d.Field)))
		b.WriteByte('\r')
	}
	version := "2.5"
	if msh != nil && msh.Value(12, 1, 1, 1) != "" {
		version = msh.Value(12, 1, 1, 1)
	}
	seg("MSH", enc, raw(5, "MEDGATE"), raw(6, esc(r.Site)), raw(3, ""), raw(4, ""),
		time.Now().In(time.FixedZone("", 8*3600)).Format("20060102150405"), "", "ACK", ackControlID(esc(r.ID), controlIDMax(version)), raw(11, "P"), raw(12, "2.5"))
	errs := ackErrors(r, code)
	text := ""
	if len(errs) > 0 {
		text = errs[0].Message
	}
	seg("MSA", code, esc(control), fitText(esc(text), d, msa3Max(version)))
	for _, e := range append(errSegments(errs, d, before(version, 5)), warnSegments(r.Warnings, d, before(version, 5))...) {
		b.WriteString(e)
		b.WriteByte('\r')
	}
	if x := r.External; x != nil {
		seg("ZEX", esc(x.System), esc(x.Code), esc(x.Message), esc(x.MsgID))
	}
	return []byte(b.String())
}

// ackErrors are the errors an ACK with MSA-1 code reports: the reply's,
// or, for an AE or AR whose reply holds none, one saying why all the
// same (the external system's answer, or where the outcome can be read),
// so that no negative ACK leaves its sender without a reason.
func ackErrors(r *message.Reply, code string) []message.ReplyError {
	if len(r.Errors) > 0 || code == "AA" {
		return r.Errors
	}
	if x := r.External; x != nil {
		return []message.ReplyError{{Rule: "external", Message: fmt.Sprintf("the external system %s answered %s: %s", x.System, x.Code, x.Message)}}
	}
	return []message.ReplyError{{Rule: r.Status, Message: fmt.Sprintf("the outcome is %s but gives no reason; see message %s (GET /admin/messages/%s)", r.Status, r.RequestID, r.RequestID)}}
}

// nak is an AR for a message that was not processed; req is the message
// as far as it could be read (nil when not at all).
func (s *Server) nak(req *hl7.Message, control, charset, why string) []byte {
	r := &message.Reply{ID: newID(), Site: s.cfg.Site, Errors: []message.ReplyError{{Rule: "format", Message: why}}}
	return encodeAs(plainAck(r, req, control, "AR"), charset)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
