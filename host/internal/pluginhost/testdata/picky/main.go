// Command picky is a plugin for pluginhost's tests whose Configure of a
// site fails, with an error rather than diagnostics, once the file named
// by the site's setting failIf exists: with hang set, it answers only
// when its context ends (a Configure that times out); with exit set, the
// process exits instead, and with panic set, Configure panics (which
// kills the process, as a vendor's adapter that panics on a bad setting
// does). Handle answers ok
// for the sites it is configured at, with {"site": "<site>"}; a message
// whose payload is "block" answers only when its context ends, and any
// other message of a site configured with crashHandle set, but one whose
// payload is "ok", kills the process (a setting of the site its messages
// trip on).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/medgate/medgate/plugins/sdk"
)

type picky struct {
	mu    sync.Mutex
	sites map[string]bool
	crash map[string]bool // sites whose messages kill the process
}

func (p *picky) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{
		Name: "picky", Version: "1.0.0", Description: "fails to configure a site once told to",
		Operations: []sdk.Operation{{Type: "picky.echo", Summary: "answer with the site"}},
		Settings: []sdk.Setting{
			{Name: "failIf", Type: sdk.SettingString, Description: "a file: once it exists, Configure fails"},
			{Name: "hang", Type: sdk.SettingString, Description: "non-empty: fail by not answering"},
			{Name: "exit", Type: sdk.SettingString, Description: "non-empty: fail by exiting"},
			{Name: "panic", Type: sdk.SettingString, Description: "non-empty: fail by panicking"},
			{Name: "crashHandle", Type: sdk.SettingString, Description: "non-empty: every message of the site but \"block\" and \"ok\" kills the process"},
		},
	}, nil
}

func (p *picky) Configure(ctx context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	if f := req.Settings["failIf"]; f != "" {
		if _, err := os.Stat(f); err == nil {
			if req.Settings["exit"] != "" {
				os.Exit(3)
			}
			if req.Settings["panic"] != "" {
				panic(fmt.Sprintf("picky: site %q: told to panic", req.Site))
			}
			if req.Settings["hang"] != "" {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("picky: cannot configure site %q: %s exists", req.Site, f)
		}
	}
	p.mu.Lock()
	p.sites[req.Site] = true
	p.crash[req.Site] = req.Settings["crashHandle"] != ""
	p.mu.Unlock()
	return &sdk.ConfigureResponse{}, nil
}

func (p *picky) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	p.mu.Lock()
	ok, crash := p.sites[req.Site], p.crash[req.Site]
	p.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("picky: site %q is not configured", req.Site)
	}
	switch {
	case string(req.Payload) == "block":
		<-ctx.Done()
		return nil, ctx.Err()
	case crash && string(req.Payload) != "ok":
		os.Exit(4)
	}
	out, _ := json.Marshal(map[string]string{"site": req.Site})
	return &sdk.HandleResponse{Status: sdk.StatusOK, Payload: out}, nil
}

func (p *picky) RunJob(context.Context, *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	return &sdk.RunJobResponse{}, nil
}

func main() { sdk.Serve(&picky{sites: map[string]bool{}, crash: map[string]bool{}}) }
