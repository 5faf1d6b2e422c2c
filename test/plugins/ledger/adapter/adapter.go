// Package adapter is the test plugin's implementation. It plays an external
// system with a ledger file of side effects so tests can prove that medgate
// never repeats an external effect: every Handle call is appended to
// calls.log, every effect to effects.log, in the site's ledgerDir.
//
// Operations (payload {"seq": n, ...}):
//
//	ledger.record  record an effect (reconciles from the ledger when Recovering)
//	ledger.crash   kill the plugin process the first payload.crashTimes times (default 1) a
//	               message is seen, then record; crashTimes -1: on every attempt
//	ledger.reject  answer a business error (status rejected)
//	ledger.fail    fail retryably payload.failTimes times (counted in host state), then record
//	ledger.slow    wait payload.ms milliseconds (or until the context ends), then record
//	ledger.state   exercise the host services: CAS counter, sequence, event, journal
//	ledger.noop    answer ok at once, with no call logged and no effect: a
//	               plugin that costs nothing, to measure the host alone
//
// Job "tick" publishes a ledger.tick event and counts runs in host state.
package adapter

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

// Version of the test plugin.
const Version = "1.0.0"

// Adapter implements sdk.Plugin.
type Adapter struct {
	mu    sync.Mutex
	sites map[string]siteConfig
	// file appends are serialised so lines never interleave.
	fileMu sync.Mutex
}

type siteConfig struct {
	dir string
}

// New returns the test adapter.
func New() *Adapter { return &Adapter{sites: map[string]siteConfig{}} }

// Describe implements sdk.Plugin.
func (a *Adapter) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	ops := []sdk.Operation{
		{Type: "ledger.record", Summary: "record an effect", Upload: true},
		{Type: "ledger.crash", Summary: "crash the plugin crashTimes times, then record", Upload: true},
		{Type: "ledger.reject", Summary: "answer a business error"},
		{Type: "ledger.fail", Summary: "fail retryably n times, then record"},
		{Type: "ledger.slow", Summary: "wait, then record"},
		{Type: "ledger.state", Summary: "exercise host services"},
		{Type: "ledger.noop", Summary: "answer ok at once, no effect (benchmarks of the host)"},
	}
	return &sdk.DescribeResponse{
		Name:        "ledger",
		Version:     Version,
		Description: "测试插件，把副作用记入账本文件。Test plugin that records side effects in a ledger file.",
		Operations:  ops,
		Jobs:        []sdk.Job{{Name: "tick", Interval: 30 * time.Minute, Summary: "publish a tick event"}},
		Settings: []sdk.Setting{
			{Name: "ledgerDir", Type: sdk.SettingPath, Required: true, Description: "directory of calls.log and effects.log", Example: "/var/lib/medgate/ledger"},
			{Name: "label", Type: sdk.SettingString, Default: "test", Description: "free text echoed in replies"},
		},
		Commands: commands(),
	}, nil
}

// Configure implements sdk.Plugin.
func (a *Adapter) Configure(_ context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	var ds sdk.Diagnostics
	dir := req.Settings["ledgerDir"]
	if err := os.MkdirAll(dir, 0o750); err != nil {
		ds.Error("ledgerDir", "precondition", "cannot create the ledger directory", err.Error())
		return &sdk.ConfigureResponse{Diagnostics: ds}, nil
	}
	if req.Settings["label"] == "warn" {
		// A warning of an accepted configuration, for the host's tests.
		ds.Warn("label", "example", "label warn asks for a configuration warning", "any other label gives none")
	}
	a.mu.Lock()
	a.sites[req.Site] = siteConfig{dir: dir}
	a.mu.Unlock()
	return &sdk.ConfigureResponse{Diagnostics: ds}, nil
}

type payload struct {
	Seq       *int64 `json:"seq"`
	FailTimes int    `json:"failTimes"`
	// CrashTimes is how often ledger.crash kills the process (0: once,
	// -1: always).
	CrashTimes int `json:"crashTimes"`
	MS         int `json:"ms"`
}

// Handle implements sdk.Plugin.
func (a *Adapter) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	a.mu.Lock()
	site, ok := a.sites[req.Site]
	a.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("ledger: site %q is not configured", req.Site)
	}
	if req.Type == "ledger.noop" {
		return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: []byte(`{"noop":true}`)}, nil
	}
	if err := a.appendLine(site, "calls.log", req.MessageID, req.Key); err != nil {
		return nil, err
	}
	var p payload
	if err := json.Unmarshal(req.Payload, &p); err != nil {
		return sdk.Invalid(sdk.Diagnostic{Field: "$", Rule: "type", Summary: "payload is not a JSON object", Detail: err.Error()}), nil
	}
	if p.Seq == nil {
		return sdk.Invalid(sdk.Diagnostic{Field: "$.seq", Rule: "required", Summary: "seq is required", Detail: "send {\"seq\": <integer>}"}), nil
	}
	switch req.Type {
	case "ledger.record":
	case "ledger.crash":
		times := max(p.CrashTimes, 1)
		for k := 0; k < times || p.CrashTimes < 0; k++ {
			marker := filepath.Join(site.dir, "crashed-"+safe(req.MessageID))
			if k > 0 {
				marker += "-" + strconv.Itoa(k)
			}
			if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) || p.CrashTimes < 0 {
				if err := os.WriteFile(marker, nil, 0o640); err != nil {
					return nil, err
				}
				os.Exit(3) // simulate a plugin crash mid-message
			}
		}
	case "ledger.reject":
		return &sdk.HandleResponse{
			Status:      sdk.StatusRejected,
			External:    &sdk.External{System: "ledger", Code: "E42", Message: "the ledger refuses this entry"},
			Diagnostics: sdk.Diagnostics{{Rule: "external", Summary: "rejected by the ledger", Detail: "E42"}},
		}, nil
	case "ledger.fail":
		k := "fail/" + req.MessageID
		n, err := counter(ctx, req.Host, k)
		if err != nil {
			return nil, err
		}
		if n <= int64(p.FailTimes) {
			return &sdk.HandleResponse{Status: sdk.StatusFailed, Retryable: true,
				Diagnostics: sdk.Diagnostics{{Rule: "transient", Summary: "ledger temporarily unavailable", Detail: fmt.Sprintf("failure %d of %d", n, p.FailTimes)}}}, nil
		}
	case "ledger.slow":
		select {
		case <-time.After(time.Duration(p.MS) * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case "ledger.state":
		n, err := counter(ctx, req.Host, "counter")
		if err != nil {
			return nil, err
		}
		seq, err := req.Host.NextSequence(ctx, "ledger")
		if err != nil {
			return nil, err
		}
		if err := req.Host.Publish(ctx, sdk.Event{ID: "state-" + req.MessageID, Type: "ledger.state.changed", Key: req.Key, Payload: []byte(fmt.Sprintf(`{"counter":%d}`, n))}); err != nil {
			return nil, err
		}
		if _, err := req.Host.Journal(ctx, sdk.Exchange{MessageID: req.MessageID, System: "ledger", Code: "STATE", Serial: strconv.FormatInt(seq, 10), Request: req.Payload, Response: []byte(`{"ok":true}`), Status: "ok", Duration: time.Millisecond}); err != nil {
			return nil, err
		}
		out, _ := json.Marshal(map[string]int64{"counter": n, "sequence": seq})
		return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: out}, nil
	default:
		return sdk.Invalid(sdk.Diagnostic{Field: "$.type", Rule: "enum", Summary: "unknown operation " + req.Type}), nil
	}
	return a.record(site, req, *p.Seq)
}

// record performs the side effect. When the host says an earlier attempt
// may have reached us, it first reconciles from the ledger, as a real
// adapter reconciles by querying the external system.
func (a *Adapter) record(site siteConfig, req *sdk.HandleRequest, seq int64) (*sdk.HandleResponse, error) {
	if req.Recovering {
		done, err := a.hasEffect(site, req.MessageID)
		if err != nil {
			return nil, err
		}
		if done {
			out, _ := json.Marshal(map[string]any{"messageId": req.MessageID, "seq": seq, "reconciled": true})
			return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: out, External: &sdk.External{System: "ledger", Code: "0", MsgID: req.MessageID}}, nil
		}
	}
	if err := a.appendLine(site, "effects.log", req.MessageID, req.Key, strconv.FormatInt(seq, 10)); err != nil {
		return nil, err
	}
	out, _ := json.Marshal(map[string]any{"messageId": req.MessageID, "seq": seq, "key": req.Key})
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: out, External: &sdk.External{System: "ledger", Code: "0", MsgID: req.MessageID}}, nil
}

// RunJob implements sdk.Plugin.
func (a *Adapter) RunJob(ctx context.Context, req *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	if req.Job != "tick" {
		return nil, fmt.Errorf("ledger: unknown job %q", req.Job)
	}
	n, err := counter(ctx, req.Host, "ticks")
	if err != nil {
		return nil, err
	}
	if err := req.Host.Publish(ctx, sdk.Event{ID: fmt.Sprintf("tick-%s-%d", req.Site, n), Type: "ledger.tick", Key: req.Site, Payload: []byte(fmt.Sprintf(`{"tick":%d}`, n)), OccurredAt: req.Now}); err != nil {
		return nil, err
	}
	return &sdk.RunJobResponse{Summary: fmt.Sprintf("tick %d", n), Processed: 1}, nil
}

// counter increments a state counter with compare-and-set.
func counter(ctx context.Context, h sdk.Host, key string) (int64, error) {
	for {
		var cur int64
		var ver int64
		e, err := h.Get(ctx, key)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
		case err != nil:
			return 0, err
		default:
			cur, _ = strconv.ParseInt(string(e.Value), 10, 64)
			ver = e.Version
		}
		_, err = h.CompareAndSet(ctx, key, ver, []byte(strconv.FormatInt(cur+1, 10)))
		if errors.Is(err, sdk.ErrConflict) {
			continue
		}
		if err != nil {
			return 0, err
		}
		return cur + 1, nil
	}
}

func (a *Adapter) appendLine(site siteConfig, name string, fields ...string) error {
	a.fileMu.Lock()
	defer a.fileMu.Unlock()
	f, err := os.OpenFile(filepath.Join(site.dir, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("ledger: open %s: %w", name, err)
	}
	if _, err := fmt.Fprintln(f, strings.Join(fields, "\t")); err != nil {
		f.Close()
		return fmt.Errorf("ledger: write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ledger: sync %s: %w", name, err)
	}
	return f.Close()
}

func (a *Adapter) hasEffect(site siteConfig, id string) (bool, error) {
	a.fileMu.Lock()
	defer a.fileMu.Unlock()
	f, err := os.Open(filepath.Join(site.dir, "effects.log"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.SplitN(sc.Text(), "\t", 2)[0] == id {
			return true, nil
		}
	}
	return false, sc.Err()
}

func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == '.' {
			return '_'
		}
		return r
	}, s)
}

var _ sdk.Plugin = (*Adapter)(nil)
