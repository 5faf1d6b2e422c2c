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
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/medgate/medgate/host/internal/bus"
	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/daemon"
	"github.com/medgate/medgate/host/internal/message"
)

// loadConfig loads the configuration file. Problems that still leave a
// configuration are not fatal here: the running medgate reports them.
func loadConfig(path string) (*config.Config, error) {
	if err := configMissing(path, " (the file the running medgate was started with)"); err != nil {
		return nil, err
	}
	cfg, err := config.Load(path)
	if err != nil && cfg == nil {
		return nil, err
	}
	return cfg, nil
}

// configMissing says how to give the configuration when the file path
// does not exist (nil when it does, or cannot be told: loading it says
// why); which, if set, says which file to give.
func configMissing(path, which string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("configuration file %s not found: give -config FILE%s, or set MEDGATE_CONFIG to it", path, which)
	}
	return nil
}

// target holds the flags of the commands that send one request to a
// running medgate: where it goes (-config, -site, -brokers) and how long
// to wait for the reply (-timeout).
type target struct {
	cfgPath, site, brokers *string
	timeout                *time.Duration
}

// targetFlags defines the target flags on fs.
func targetFlags(fs *flag.FlagSet, timeout time.Duration, timeoutUsage string) target {
	return target{
		cfgPath: configFlag(fs),
		site:    fs.String("site", "", "site code (required)"),
		timeout: fs.Duration("timeout", timeout, timeoutUsage),
		brokers: fs.String("brokers", "", "comma-separated brokers (default: from the configuration)"),
	}
}

// client talks to a running medgate the way the hospital systems do: it
// puts a request envelope on the request topic and waits for the reply
// with the same requestId on the replies topic. `medgate send`, `ping`,
// `tracecode export` and `selfpay import-pending` use it.
type client struct {
	cfg *config.Config
	bus bus.Config
	// brokersFrom says where the brokers' addresses came from.
	brokersFrom string
}

// newClient makes a client of cfg that names itself clientID to Kafka.
// brokers, comma-separated, overrides the brokers of the configuration
// (the embedded broker's address when it has one).
func newClient(cfg *config.Config, clientID, brokers string) (*client, error) {
	addrs, from := cfg.Kafka.Brokers, "kafka.brokers of "+cfg.File
	if cfg.Kafka.Embedded != nil {
		addrs, from = []string{cfg.Kafka.Embedded.Listen}, "kafka.embedded.listen of "+cfg.File+", the broker inside the running medgate"
	}
	if brokers != "" {
		addrs, from = strings.Split(brokers, ","), "-brokers"
	}
	bc, err := daemon.BusConfig(cfg, addrs, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	bc.ClientID = clientID
	return &client{cfg: cfg, bus: bc, brokersFrom: from}, nil
}

// call is one request and what to say around it.
type call struct {
	env message.Envelope
	// key is the Kafka key; empty means env.ID.
	key string
	// timeout bounds the whole call.
	timeout time.Duration
	// sent, when set, is called once the envelope is on topic.
	sent func(topic string)
	// hint ends the error when no reply comes in time:
	// "no reply to ID within TIMEOUT; " + hint.
	hint string
	// progress, when set, reads the events topic from before the envelope
	// is sent and closes done after the last event of the request. After
	// an ok reply the call waits a little for done, since events and
	// replies travel on different topics.
	progress func(ctx context.Context, events *bus.Tail, done chan<- struct{})
}

// progressGrace is how long a call waits for the last progress event
// after an ok reply.
const progressGrace = 3 * time.Second

// do sends rq.env and returns its reply, decoded and as the raw record
// value.
func (c *client) do(ctx context.Context, rq call) (*message.Reply, []byte, error) {
	topics := c.cfg.Kafka.Topics
	value, err := json.Marshal(rq.env)
	if err != nil {
		return nil, nil, err
	}
	key := rq.key
	if key == "" {
		key = rq.env.ID
	}
	ctx, cancel := context.WithTimeout(ctx, rq.timeout)
	defer cancel()
	replies, err := bus.NewTail(ctx, c.bus, topics.Replies)
	if err != nil {
		return nil, nil, fmt.Errorf("read replies from %s: %w; %s", topics.Replies, err, c.reachHint())
	}
	defer replies.Close()
	var done chan struct{}
	if rq.progress != nil {
		events, err := bus.NewTail(ctx, c.bus, topics.Events)
		if err != nil {
			return nil, nil, fmt.Errorf("read events from %s: %w; %s", topics.Events, err, c.reachHint())
		}
		defer events.Close()
		done = make(chan struct{})
		go rq.progress(ctx, events, done)
	}
	p, err := bus.NewProducer(c.bus)
	if err != nil {
		return nil, nil, fmt.Errorf("send to %s: %w; %s", topics.Requests, err, c.reachHint())
	}
	defer p.Close()
	// The reply must come back in medgate's JSON, whatever the site's
	// outbound mappings, for the CLI to read it.
	if err := p.Send(ctx, topics.Requests, []byte(key), value, map[string]string{message.HeaderReplyFormat: message.FormatMedgateRequest}); err != nil {
		return nil, nil, fmt.Errorf("send to %s: %w", topics.Requests, err)
	}
	if rq.sent != nil {
		rq.sent(topics.Requests)
	}
	for {
		m, err := replies.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, fmt.Errorf("no reply to %s within %s; %s", rq.env.ID, rq.timeout, rq.hint)
			}
			return nil, nil, err
		}
		var r message.Reply
		if json.Unmarshal(m.Value, &r) != nil || r.RequestID != rq.env.ID {
			continue
		}
		if done != nil && r.Status == message.StatusOK {
			select {
			case <-done:
			case <-time.After(progressGrace):
			}
		}
		return &r, m.Value, nil
	}
}

// reachHint says, for Kafka not reachable, where the brokers' addresses
// came from and how to give others.
func (c *client) reachHint() string {
	return fmt.Sprintf("the brokers %s come from %s: is medgate running (medgate run) with its Kafka up? Give -brokers HOST:PORT[,HOST:PORT] for other brokers, or -config the file medgate runs with",
		strings.Join(c.bus.Brokers, ","), c.brokersFrom)
}

// newID returns prefix and 24 random hex digits: a message id.
func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// printJSON writes v as indented JSON, without HTML escapes.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printRawJSON writes the JSON document raw re-indented, keeping fields
// a decoded message.Reply would drop.
func printRawJSON(w io.Writer, raw []byte) error {
	var pretty any
	_ = json.Unmarshal(raw, &pretty)
	return printJSON(w, pretty)
}
