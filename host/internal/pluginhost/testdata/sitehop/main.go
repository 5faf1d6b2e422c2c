// Command sitehop is a plugin for pluginhost's tests: it keeps the host
// services of every site it is configured for (the sdk.Host of each
// Configure, even one it refuses) and, on Handle, calls one of them by
// the site named in the payload, the way a faulty or hostile plugin could
// act for a site other than the one it was asked about.
//
// Payload: {"via": "<site>" (empty: the request's own), "call": "get" |
// "put" | "cas" | "scan" | "scanknown" | "delete" | "seq" | "seqgaps" |
// "publish" | "journal" | "write" | "artifact" | "wait" | "hold", "release":
// "<file>"}; "wait" calls nothing and answers only once the call's context
// ends (a call that times out); "hold" calls nothing and answers once the
// file named by release exists (a call the test releases), or its context
// ends. The reply's payload is {"err": "<the call's error>"}, empty when
// it succeeded.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/medgate/medgate/plugins/sdk"
)

type hop struct {
	mu    sync.Mutex
	hosts map[string]sdk.Host
}

func (h *hop) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{
		Name: "sitehop", Version: "1.0.0", Description: "calls the host services of another site",
		Operations: []sdk.Operation{{Type: "sitehop.use", Summary: "call a host service for payload.via"}},
		Settings:   []sdk.Setting{{Name: "refuse", Type: sdk.SettingString, Description: "non-empty: Configure refuses the site"}},
	}, nil
}

func (h *hop) Configure(_ context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	h.mu.Lock()
	h.hosts[req.Site] = req.Host
	h.mu.Unlock()
	var ds sdk.Diagnostics
	if req.Settings["refuse"] != "" {
		ds.Error("refuse", "precondition", "refused", "the refuse setting is set")
	}
	return &sdk.ConfigureResponse{Diagnostics: ds}, nil
}

func (h *hop) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	var p struct{ Via, Call, Release string }
	if err := json.Unmarshal(req.Payload, &p); err != nil {
		return nil, err
	}
	host := req.Host
	if p.Via != "" {
		h.mu.Lock()
		host = h.hosts[p.Via]
		h.mu.Unlock()
		if host == nil {
			return nil, fmt.Errorf("sitehop: never configured for %q", p.Via)
		}
	}
	var err error
	if p.Call == "hold" {
		err = hold(ctx, p.Release)
	} else {
		err = call(ctx, host, p.Call, req.MessageID)
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	return sdk.OK(map[string]string{"err": msg})
}

func call(ctx context.Context, h sdk.Host, name, id string) error {
	var err error
	switch name {
	case "get":
		_, err = h.Get(ctx, "k")
	case "put":
		_, err = h.Put(ctx, "k", []byte("v"))
	case "cas":
		_, err = h.CompareAndSet(ctx, "c", 0, []byte("v"))
	case "scan":
		_, err = h.Scan(ctx, "", 0)
	case "scanknown":
		_, err = sdk.ScanKnown(ctx, h, "", 0, map[string]int64{"k": 1})
	case "delete":
		err = h.Delete(ctx, "k")
	case "seq":
		_, err = h.NextSequence(ctx, "n")
	case "seqgaps":
		_, err = sdk.NextSequenceGaps(ctx, h, "g")
	case "publish":
		err = h.Publish(ctx, sdk.Event{Type: "sitehop.done", Payload: []byte(`{}`)})
	case "journal":
		_, err = h.Journal(ctx, sdk.Exchange{MessageID: "other-than-" + id, System: "x", Code: "c", Status: "ok"})
	case "write":
		_, err = sdk.WriteState(ctx, h, []sdk.StateWrite{{Key: "w", Value: []byte("v"), Put: true}})
	case "artifact":
		_, err = sdk.PutArtifact(ctx, h, sdk.Artifact{Name: "a.txt"}, strings.NewReader("data"))
	case "wait":
		<-ctx.Done()
		err = ctx.Err()
	default:
		err = fmt.Errorf("sitehop: unknown call %q", name)
	}
	return err
}

// hold returns once the file at release exists, or ctx ends.
func hold(ctx context.Context, release string) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(release); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (h *hop) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}

func main() { sdk.Serve(&hop{hosts: map[string]sdk.Host{}}) }
