package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/daemon"
	"github.com/medgate/medgate/host/internal/pipeline"
)

// send puts one message on the request topic and waits for its reply.
func send(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	site := fs.String("site", "", "site code (required)")
	typ := fs.String("type", "", `message type "<plugin>.<operation>" (required)`)
	payload := fs.String("payload", "", "payload JSON (or an HL7 v2 text with -format hl7v2)")
	payloadFile := fs.String("payload-file", "", "read the payload from this file")
	format := fs.String("format", "json", "json or hl7v2")
	key := fs.String("key", "", "Kafka key: business key such as a visit number (default: the message id)")
	id := fs.String("id", "", "message id (default: a new random id)")
	occurred := fs.String("occurred-at", "", "RFC 3339 time of the business event (default: now)")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for the reply")
	brokers := fs.String("brokers", "", "comma-separated brokers (default: from the configuration)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var problems []string
	if *site == "" {
		problems = append(problems, "-site is required")
	}
	if *typ == "" {
		problems = append(problems, `-type is required, e.g. -type ledger.record`)
	}
	if (*payload == "") == (*payloadFile == "") {
		problems = append(problems, "give exactly one of -payload and -payload-file")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	body := []byte(*payload)
	if *payloadFile != "" {
		var err error
		if body, err = os.ReadFile(*payloadFile); err != nil {
			return fmt.Errorf("read payload: %w", err)
		}
	}
	var raw json.RawMessage
	switch *format {
	case "json":
		if !json.Valid(body) {
			return errors.New("the payload is not valid JSON")
		}
		raw = body
	case "hl7v2":
		raw, _ = json.Marshal(string(body))
	default:
		return fmt.Errorf("-format %q: use json or hl7v2", *format)
	}
	if *id == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		*id = "cli-" + hex.EncodeToString(b[:])
	}
	if *occurred == "" {
		*occurred = time.Now().Format(time.RFC3339)
	}
	if *key == "" {
		*key = *id
	}
	env := pipeline.Envelope{ID: *id, Site: *site, Type: *typ, OccurredAt: *occurred, Format: *format, Payload: raw}
	value, err := json.Marshal(env)
	if err != nil {
		return err
	}

	cfg, err := config.Load(*cfgPath)
	if err != nil && cfg == nil {
		return err
	}
	addrs := cfg.Kafka.Brokers
	if cfg.Kafka.Embedded != nil {
		addrs = []string{cfg.Kafka.Embedded.Listen}
	}
	if *brokers != "" {
		addrs = strings.Split(*brokers, ",")
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bc, err := daemon.BusConfig(cfg, addrs, quiet)
	if err != nil {
		return err
	}
	bc.ClientID = "medgate-send"
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	tail, err := bus.NewTail(ctx, bc, cfg.Kafka.Topics.Replies)
	if err != nil {
		return fmt.Errorf("read replies from %s: %w", cfg.Kafka.Topics.Replies, err)
	}
	defer tail.Close()
	p, err := bus.NewProducer(bc)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Send(ctx, cfg.Kafka.Topics.Requests, []byte(*key), value, nil); err != nil {
		return fmt.Errorf("send to %s: %w", cfg.Kafka.Topics.Requests, err)
	}
	fmt.Fprintf(os.Stderr, "sent %s to %s; waiting for the reply…\n", *id, cfg.Kafka.Topics.Requests)
	for {
		m, err := tail.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("no reply to %s within %s; is medgate running? (`medgate run`)", *id, *timeout)
			}
			return err
		}
		var r pipeline.Reply
		if json.Unmarshal(m.Value, &r) != nil || r.RequestID != *id {
			continue
		}
		var pretty any
		_ = json.Unmarshal(m.Value, &pretty)
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(pretty)
	}
}
