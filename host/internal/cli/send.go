package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/logging"
	"github.com/medgate/medgate/host/internal/message"
)

// send puts one message on the request topic and waits for its reply.
func send(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flagSet("send")
	tg := targetFlags(fs, 60*time.Second, "how long to wait for the reply")
	typ := fs.String("type", "", `message type "<plugin>.<operation>" (required)`)
	payload := fs.String("payload", "", "payload JSON (or an HL7 v2 text with -format hl7v2)")
	payloadFile := fs.String("payload-file", "", "read the payload from this file")
	format := fs.String("format", "json", "json or hl7v2")
	key := fs.String("key", "", "Kafka key: business key such as a visit number (default: the message id)")
	id := fs.String("id", "", "message id (default: a new random id)")
	occurred := fs.String("occurred-at", "", "RFC 3339 time of the business event (default: now)")
	reveal := fs.Bool("reveal", false, "show the personal data of the reply (names, ID and phone numbers) unmasked; "+
		"the running medgate must grant it (an admin: MEDGATE_USER=NAME, else http.adminToken) and records it in its audit log (personal.reveal) first")
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
	cfg, err := loadConfig(*tg.cfgPath)
	if err != nil {
		return err
	}
	if *reveal {
		// Granted (and audited) before anything is sent: a refusal
		// leaves nothing done.
		if err := grantReveal(ctx, cfg, env.Site, env.ID); err != nil {
			return err
		}
	}
	c, err := newClient(cfg, "medgate-send", *tg.brokers)
	if err != nil {
		return err
	}
	r, value, err := sendEnvelope(ctx, c, *tg.timeout, env, *key)
	if err != nil {
		return err
	}
	if !*reveal {
		declarePersonal(ctx, cfg, env.Type)
	}
	if err := printRawJSON(stdout, shownRawReply(value, *reveal)); err != nil {
		return err
	}
	// A reply that is not ok exits 1, as a plugin command's does, so
	// a script tells a refused or failed message from a done one.
	if r.Status != message.StatusOK {
		return fmt.Errorf("%s at site %s: %s (message %s; the reply above says why)", env.Type, env.Site, r.Status, env.ID)
	}
	return nil
}

// shownRawReply is a reply as `medgate send` prints it, every field it
// has kept (a decoded message.Reply would drop those it does not know):
// medgate's own fields (the message ids, site, type, status, attempts,
// completion time) as they are, and everything else (payload, errors,
// warnings, the external system's answer, any other field) as the
// console's message page shows a reply: masked (logging.MaskJSON; its
// payload with the fields its plugin declares personal too,
// logging.MaskReplyPayload), or,
// revealed, with only its secrets redacted (jsonShown).
func shownRawReply(raw []byte, reveal bool) []byte {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return jsonShown(raw, reveal)
	}
	var typ string
	_ = json.Unmarshal(fields["type"], &typ)
	for k, v := range fields {
		switch k {
		case "id", "requestId", "site", "type", "status", "attempts", "completedAt":
			continue
		case "payload":
			if !reveal && len(v) > 0 {
				// The fields the plugin declares personal too
				// (declarePersonal).
				fields[k] = logging.MaskReplyPayload(typ, v)
				continue
			}
		}
		fields[k] = jsonShown(v, reveal)
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return jsonShown(raw, reveal)
	}
	return b
}

// declarePersonal starts the plugin of message type typ (as `medgate
// <plugin> <command>` does) to read which fields it declares personal
// (logging.Declare), so that the reply's payload is printed with them
// masked as the console masks them. A plugin that cannot be started is
// said on stderr, and the reply is masked by the keys medgate knows only.
func declarePersonal(ctx context.Context, cfg *config.Config, typ string) {
	name, _, _ := strings.Cut(typ, ".")
	proc, err := launchPlugin(ctx, cfg, name, io.Discard)
	if err != nil {
		fmt.Fprintf(os.Stderr, "medgate send: the fields plugin %q declares personal are not known (%v): the reply below has only the keys medgate knows masked (name, idNumber, phone, …) and ID and mobile numbers; check the plugin's path and sha256 in %s\n", name, err, cfg.File)
		return
	}
	defer proc.Close()
	logging.Declare(name, proc.Description(), nil)
}

// sendEnvelope is the Kafka half of `medgate send`: it sends env with the
// Kafka key (default: env.ID) through c and returns the reply, decoded and
// raw.
func sendEnvelope(ctx context.Context, c *client, timeout time.Duration, env message.Envelope, key string) (*message.Reply, []byte, error) {
	return c.do(ctx, call{env: env, key: key, timeout: timeout,
		hint: "is medgate running? (`medgate run`)",
		sent: func(topic string) {
			fmt.Fprintf(os.Stderr, "sent %s to %s; waiting for the reply…\n", env.ID, topic)
		}})
}
