package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/message"
)

// send puts one message on the request topic and waits for its reply.
func send(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	tg := targetFlags(fs, 60*time.Second, "how long to wait for the reply")
	typ := fs.String("type", "", `message type "<plugin>.<operation>" (required)`)
	payload := fs.String("payload", "", "payload JSON (or an HL7 v2 text with -format hl7v2)")
	payloadFile := fs.String("payload-file", "", "read the payload from this file")
	format := fs.String("format", "json", "json or hl7v2")
	key := fs.String("key", "", "Kafka key: business key such as a visit number (default: the message id)")
	id := fs.String("id", "", "message id (default: a new random id)")
	occurred := fs.String("occurred-at", "", "RFC 3339 time of the business event (default: now)")
	if err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	var problems []string
	if *tg.site == "" {
		problems = append(problems, "-site is required")
	}
	if *typ == "" {
		problems = append(problems, `-type is required, e.g. -type ledger.record`)
	}
	if (*payload == "") == (*payloadFile == "") {
		problems = append(problems, "give exactly one of -payload and -payload-file")
	}
	if len(problems) > 0 {
		return usageError{strings.Join(problems, "; ") + "; `medgate send -h` lists the flags"}
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
		if err := json.Unmarshal(body, &raw); err != nil {
			if *payloadFile != "" {
				return fmt.Errorf("-payload-file %s is not valid JSON (%v); correct it, or give -format hl7v2 for an HL7 v2 text", *payloadFile, err)
			}
			return usageError{fmt.Sprintf("-payload is not valid JSON (%v); put it in single quotes, e.g. -payload '{\"visitNo\": \"V1\"}', or give -format hl7v2 for an HL7 v2 text", err)}
		}
		raw = body
	case "hl7v2":
		raw, _ = json.Marshal(string(body))
	default:
		return usageError{fmt.Sprintf("-format %q: use json or hl7v2", *format)}
	}
	if *id == "" {
		*id = newID("cli-")
	}
	if *occurred == "" {
		*occurred = time.Now().Format(time.RFC3339)
	}
	env := message.Envelope{ID: *id, Site: *tg.site, Type: *typ, OccurredAt: *occurred, Format: *format, Payload: raw}
	_, value, err := sendEnvelope(ctx, tg, env, *key)
	if err != nil {
		return err
	}
	return printRawJSON(stdout, value)
}

// sendEnvelope is the Kafka half of `medgate send` (and `medgate ping`):
// it sends env with the Kafka key (default: env.ID) and returns the reply,
// decoded and raw.
func sendEnvelope(ctx context.Context, tg target, env message.Envelope, key string) (*message.Reply, []byte, error) {
	c, err := tg.client("medgate-send")
	if err != nil {
		return nil, nil, err
	}
	return c.do(ctx, call{env: env, key: key, timeout: *tg.timeout,
		hint: "is medgate running? (`medgate run`)",
		sent: func(topic string) {
			fmt.Fprintf(os.Stderr, "sent %s to %s; waiting for the reply…\n", env.ID, topic)
		}})
}
