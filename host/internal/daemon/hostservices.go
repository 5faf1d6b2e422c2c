package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/host/internal/store"
	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/plugins/sdk/sdkhost"
)

// hostServices implements sdkhost.HostServer for one plugin: state is
// namespaced "<plugin>/<site>", events go to the events topic, journal
// entries to the store.
type hostServices struct {
	plugin string
	d      *Daemon
}

func (h *hostServices) ns(site string) string { return h.plugin + "/" + site }

func mapErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return sdk.ErrNotFound
	case errors.Is(err, store.ErrConflict):
		return sdk.ErrConflict
	}
	return err
}

func (h *hostServices) Get(ctx context.Context, site, key string) (sdk.Entry, error) {
	e, err := h.d.store.StateGet(ctx, h.ns(site), key)
	if err != nil {
		return sdk.Entry{}, mapErr(err)
	}
	return sdk.Entry{Key: e.Key, Value: e.Value, Version: e.Version}, nil
}

func (h *hostServices) Put(ctx context.Context, site, key string, value []byte) (int64, error) {
	v, err := h.d.store.StatePut(ctx, h.ns(site), key, value)
	return v, mapErr(err)
}

func (h *hostServices) CompareAndSet(ctx context.Context, site, key string, expect int64, value []byte) (int64, error) {
	v, err := h.d.store.StateCAS(ctx, h.ns(site), key, expect, value)
	return v, mapErr(err)
}

func (h *hostServices) Scan(ctx context.Context, site, prefix string, limit int) ([]sdk.Entry, error) {
	es, err := h.d.store.StateScan(ctx, h.ns(site), prefix, limit)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]sdk.Entry, len(es))
	for i, e := range es {
		out[i] = sdk.Entry{Key: e.Key, Value: e.Value, Version: e.Version}
	}
	return out, nil
}

func (h *hostServices) Delete(ctx context.Context, site, key string) error {
	return mapErr(h.d.store.StateDelete(ctx, h.ns(site), key))
}

func (h *hostServices) NextSequence(ctx context.Context, site, name string) (int64, error) {
	return h.d.store.NextSequence(ctx, h.ns(site)+"/"+name)
}

func (h *hostServices) Publish(ctx context.Context, site string, e sdk.Event) error {
	if e.Type == "" {
		return fmt.Errorf("publish: event type is required")
	}
	if h.d.producer == nil {
		return fmt.Errorf("publish %s: Kafka is not connected yet; publish from Handle or RunJob, not Configure", e.Type)
	}
	if e.ID == "" {
		e.ID = newID()
	}
	var payload json.RawMessage
	if len(e.Payload) > 0 {
		if !json.Valid(e.Payload) {
			return fmt.Errorf("publish %s: payload is not JSON", e.Type)
		}
		payload = e.Payload
	}
	rec := message.Event{ID: e.ID, Site: site, Type: e.Type, Key: e.Key, OccurredAt: e.OccurredAt, PublishedAt: time.Now().UTC(), Payload: payload}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	headers := map[string]string{message.HeaderType: e.Type, message.HeaderEventID: e.ID, message.HeaderPlugin: h.plugin}
	for k, v := range e.Headers {
		headers[k] = v
	}
	key := e.Key
	if key == "" {
		key = e.ID
	}
	return h.d.producer.Send(ctx, h.d.cfg.Kafka.Topics.Events, []byte(key), data, headers)
}

func (h *hostServices) Journal(ctx context.Context, site string, x sdk.Exchange) (int64, error) {
	return h.d.store.AppendExchange(ctx, store.Exchange{
		MessageID: x.MessageID, Plugin: h.plugin, Site: site, System: x.System, Code: x.Code, Serial: x.Serial,
		Request: x.Request, Response: x.Response, Status: x.Status, Error: x.Error,
		DurationMS: x.Duration.Milliseconds(), At: time.Now().UTC(),
	})
}

var _ sdkhost.HostServer = (*hostServices)(nil)
