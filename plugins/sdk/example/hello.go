package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medgate/medgate/plugins/sdk"
	"github.com/medgate/medgate/schemas"
)

// Operations, settings and commands of the plugin.
const (
	name         = "hello"
	opGreet      = name + ".greet"
	opGreeted    = name + ".greeted"
	opForget     = name + ".forget"
	opBadge      = name + ".badge"
	cmdBadge     = "badge"
	setGreeting  = "greeting"
	setMaxLength = "maxNameLength"
	setForget    = "forgetAfter"
	jobForget    = "forget-old"
	cmdGreet     = "greet"
	cmdCheckName = "check-name"
)

// schemaFiles are the schema documents the plugin ships, in the layout
// of medgate's schemas/README.md: <system>/<code>.yaml. A site mapping of
// type hello.greet targets hello/greet.yaml.
//
//go:embed schemas
var schemaFiles embed.FS

// schemaDocuments returns the shipped documents by path, for
// DescribeResponse.Schemas.
func schemaDocuments() map[string][]byte {
	docs := map[string][]byte{}
	sub, err := fs.Sub(schemaFiles, "schemas")
	if err != nil {
		panic(err) // the embedded directory is part of the build
	}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		docs[p], err = fs.ReadFile(sub, p)
		return err
	})
	if err != nil {
		panic(err)
	}
	return docs
}

// greetSchema is hello/greet.yaml, loaded from the shipped documents with
// package schemas, the validator medgate itself uses for a message mapped
// to hello.greet, so that hello.greet sent as it is meets the same rules.
// Load reports every problem of a broken document at once; the documents
// are part of the build, and TestGreetChecksTheShippedSchema loads them.
func greetSchema() *schemas.Schema {
	set, err := schemas.FromDocuments(schemaDocuments())
	if err != nil {
		panic(err)
	}
	s, err := set.Lookup(name, "greet")
	if err != nil {
		panic(err)
	}
	return s
}

// schemaProblems turns validation errors into diagnostics: the JSON path,
// the rule (required, length, type, unknown, …) and what is wrong.
func schemaProblems(errs []schemas.FieldError) sdk.Diagnostics {
	ds := make(sdk.Diagnostics, len(errs))
	for i, e := range errs {
		ds[i] = sdk.Problem(e.Path, e.Rule, e.Message, "the message must match schemas/hello/greet.yaml")
	}
	return ds
}

// site is one site's configuration, replaced whole on every Configure.
type site struct {
	greeting    string
	maxLength   int64
	forgetAfter time.Duration
}

// hello implements sdk.Plugin and sdk.CommandRunner.
type hello struct {
	mux   sdk.Mux
	sites sdk.Sites[site]
	now   func() time.Time
	greet *schemas.Schema // hello/greet.yaml
}

func newHello() *hello {
	h := &hello{now: time.Now, greet: greetSchema()}
	h.mux.Register(sdk.Operation{Type: opGreet, Schema: "hello/greet", Summary: "greet a person and remember it"}, h.greetOp)
	h.mux.Register(sdk.Operation{Type: opGreeted, Summary: "list the people greeted at the site"}, h.greeted)
	h.mux.Register(sdk.Operation{Type: opForget, Summary: "forget that a person was greeted"}, h.forget)
	h.mux.Register(sdk.Operation{Type: opBadge, Summary: "make a name badge, a text file medgate keeps"}, h.badge)
	return h
}

// Describe implements sdk.Plugin.
func (h *hello) Describe(context.Context, *sdk.DescribeRequest) (*sdk.DescribeResponse, error) {
	return &sdk.DescribeResponse{
		Name:        name,
		Version:     "1.0.0",
		Description: "Example plugin of the vendor walkthrough: greets people.",
		Operations:  h.mux.Operations(),
		Schemas:     schemaDocuments(),
		Jobs:        []sdk.Job{{Name: jobForget, Interval: time.Hour, MaxRun: time.Minute, Summary: "forget greetings older than forgetAfter"}},
		Settings: []sdk.Setting{
			{Name: setGreeting, Type: sdk.SettingString, Default: "Hello", Description: "the word of greeting", Example: "你好"},
			{Name: setMaxLength, Type: sdk.SettingInt, Default: "40", Description: "longest name accepted, in characters"},
			{Name: setForget, Type: sdk.SettingDuration, Default: "720h", Description: "how long a greeting is remembered (job forget-old)"},
		},
		WorkLists: []sdk.WorkList{{Name: "greeted", Title: "Greeted people", ListOperation: opGreeted}},
		WorkListViews: []sdk.WorkListView{{
			List:    "greeted",
			Columns: []sdk.Column{{Field: "name", Title: "name", Form: "badge"}, {Field: "at", Title: "greeted at"}},
			Actions: []sdk.Action{{Name: "forget", Label: "Forget", Operation: opForget, Row: map[string]string{"name": "name"}, Operator: "by",
				Confirm: "Forget this greeting?"}},
		}},
		Forms: []sdk.Form{{
			Name: "badge", Title: "Name badge", Operation: opBadge, Key: "name",
			Fields: []sdk.Argument{{Name: "name", Type: sdk.SettingString, Required: true, Description: "who the badge is for"}},
			Result: sdk.Display{File: &sdk.FileResult{ArtifactField: "artifact"}},
		}},
		Commands: []sdk.Command{
			{
				Name: cmdGreet, Summary: "greet a person through the running medgate", Operation: opGreet,
				Arguments: []sdk.Argument{{Name: "name", Type: sdk.SettingString, Required: true, Positional: true, Description: "who to greet"}},
				Result:    sdk.Display{Fields: []sdk.Column{{Field: "greeting", Title: "greeting"}, {Field: "name", Title: "name", Personal: true}}},
			},
			{
				Name: cmdBadge, Summary: "make a name badge; -out saves it", Operation: opBadge,
				Arguments: []sdk.Argument{{Name: "name", Type: sdk.SettingString, Required: true, Positional: true, Description: "who the badge is for"}},
				Result:    sdk.Display{Fields: []sdk.Column{{Field: "artifact", Title: "badge"}}, File: &sdk.FileResult{ArtifactField: "artifact"}},
			},
			{
				Name: cmdCheckName, Summary: "check a name against the site's settings, on this machine", Local: true,
				Arguments: []sdk.Argument{{Name: "name", Type: sdk.SettingString, Required: true, Positional: true, Description: "the name to check"}},
			},
		},
	}, nil
}

// Configure implements sdk.Plugin.
func (h *hello) Configure(_ context.Context, req *sdk.ConfigureRequest) (*sdk.ConfigureResponse, error) {
	s, ds := parseSettings(req.Settings)
	if ds.HasError() {
		return &sdk.ConfigureResponse{Diagnostics: ds}, nil
	}
	h.sites.Set(req.Site, s)
	return &sdk.ConfigureResponse{}, nil
}

func parseSettings(m map[string]string) (*site, sdk.Diagnostics) {
	st := sdk.NewSettings(m)
	s := &site{greeting: st.String(setGreeting), maxLength: st.Int(setMaxLength), forgetAfter: st.Duration(setForget)}
	ds := st.Diagnostics()
	if s.maxLength < 1 {
		ds = append(ds, sdk.Problem(setMaxLength, "range", "maxNameLength must be at least 1", "set it to the longest name you accept, e.g. 40"))
	}
	if s.forgetAfter <= 0 {
		ds = append(ds, sdk.Problem(setForget, "range", "forgetAfter must be positive", "set how long a greeting is remembered, e.g. 720h"))
	}
	return s, ds
}

// Handle implements sdk.Plugin.
func (h *hello) Handle(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	return h.mux.Handle(ctx, req)
}

// RunJob implements sdk.Plugin: forget-old forgets the site's greetings
// older than its forgetAfter setting. It returns an error only when the
// run did not do its work (the host runs it again sooner, with backoff);
// nothing to forget is a successful run.
func (h *hello) RunJob(ctx context.Context, req *sdk.RunJobRequest) (*sdk.RunJobResponse, error) {
	if req.Job != jobForget {
		return nil, fmt.Errorf("hello has no job %q; it declares %q", req.Job, jobForget)
	}
	s, ok := h.sites.Get(req.Site)
	if !ok {
		return nil, fmt.Errorf("site %q is not configured for hello; the host configures it before its jobs run", req.Site)
	}
	es, err := req.Host.Scan(ctx, "greeted/", 0)
	if err != nil {
		return nil, fmt.Errorf("read the greetings of site %q: %w", req.Site, err)
	}
	var n int64
	for _, e := range es {
		var rec struct{ At time.Time }
		if json.Unmarshal(e.Value, &rec) != nil || req.Now.Sub(rec.At) < s.forgetAfter {
			continue
		}
		if err := req.Host.Delete(ctx, e.Key); err != nil {
			return nil, fmt.Errorf("forget %s at site %q: %w", e.Key, req.Site, err)
		}
		n++
	}
	return &sdk.RunJobResponse{Processed: n, Summary: fmt.Sprintf("forgot %d greetings", n)}, nil
}

// RunCommand implements sdk.CommandRunner: check-name runs on the
// operator's machine with the site's settings.
func (h *hello) RunCommand(_ context.Context, req *sdk.RunCommandRequest) (*sdk.RunCommandResponse, error) {
	if req.Command != cmdCheckName {
		return nil, fmt.Errorf("hello runs no local command %q", req.Command)
	}
	s, ds := parseSettings(req.Settings)
	if ds.HasError() {
		return &sdk.RunCommandResponse{Diagnostics: ds}, nil
	}
	if d, ok := checkName(s, req.Arguments["name"]); !ok {
		return &sdk.RunCommandResponse{Diagnostics: sdk.Diagnostics{d}}, nil
	}
	return &sdk.RunCommandResponse{Output: fmt.Sprintf("%q is a name site %s accepts", req.Arguments["name"], req.Site)}, nil
}

func checkName(s *site, n string) (sdk.Diagnostic, bool) {
	switch {
	case strings.TrimSpace(n) == "":
		return sdk.Problem("$.name", "required", "name is required", "send the name of the person to greet"), false
	case int64(utf8.RuneCountInString(n)) > s.maxLength:
		return sdk.Problem("$.name", "length", fmt.Sprintf("name has %d characters", utf8.RuneCountInString(n)),
			fmt.Sprintf("this site accepts at most %d (setting maxNameLength)", s.maxLength)), false
	}
	return sdk.Diagnostic{}, true
}

type greetPayload struct {
	Name string `json:"name"`
}

// greetOp answers hello.greet and remembers who was greeted in host state.
// The payload is checked against the shipped schema first (every broken
// rule at once), then against the site's maxNameLength.
func (h *hello) greetOp(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	s, ok := h.sites.Get(req.Site)
	if !ok {
		return sdk.NotConfigured(req.Site), nil
	}
	// Numbers stay json.Number, as ValidateInput expects them.
	dec := json.NewDecoder(bytes.NewReader(req.Payload))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return sdk.Invalid(sdk.Problem("$", "type", "the payload is not JSON", err.Error())), nil
	}
	if errs := h.greet.ValidateInput(doc); len(errs) > 0 {
		return sdk.Invalid(schemaProblems(errs)...), nil
	}
	var p greetPayload
	if err := json.Unmarshal(req.Payload, &p); err != nil {
		return sdk.Invalid(sdk.Problem("$", "type", "the payload is not a JSON object", err.Error())), nil
	}
	if d, ok := checkName(s, p.Name); !ok {
		return sdk.Invalid(d), nil
	}
	at := h.now().UTC()
	rec, _ := json.Marshal(map[string]string{"name": p.Name, "at": at.Format(time.RFC3339), "message": req.MessageID})
	if _, err := req.Host.Put(ctx, "greeted/"+p.Name, rec); err != nil {
		return sdk.Retry(sdk.Problem("", "state", "cannot remember the greeting", err.Error())), nil
	}
	// The name goes under a key medgate masks wherever it shows the reply
	// (pii.PersonalKey), never into a sentence such as "Hello, Ada".
	return sdk.OK(map[string]string{"greeting": s.greeting, "name": p.Name})
}

// greeted lists the people greeted at the site, for the work list.
func (h *hello) greeted(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	es, err := req.Host.Scan(ctx, "greeted/", 0)
	if err != nil {
		return sdk.Retry(sdk.Problem("", "state", "cannot read the greetings", err.Error())), nil
	}
	items := make([]json.RawMessage, len(es))
	for i, e := range es {
		items[i] = e.Value
	}
	return sdk.OK(map[string]any{"items": items})
}

type forgetPayload struct {
	Name string `json:"name"`
	By   string `json:"by"`
}

// forget answers hello.forget, the work list's row action.
func (h *hello) forget(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	var p forgetPayload
	if err := json.Unmarshal(req.Payload, &p); err != nil || p.Name == "" {
		return sdk.Invalid(sdk.Problem("$.name", "required", "name is required", "send the name to forget")), nil
	}
	if err := req.Host.Delete(ctx, "greeted/"+p.Name); err != nil {
		return sdk.Retry(sdk.Problem("", "state", "cannot forget the greeting", err.Error())), nil
	}
	return sdk.OK(map[string]any{"name": p.Name, "forgotten": true, "by": p.By})
}

// badge answers hello.badge: the badge is a file handed to medgate, and the
// reply carries its reference.
func (h *hello) badge(ctx context.Context, req *sdk.HandleRequest) (*sdk.HandleResponse, error) {
	s, ok := h.sites.Get(req.Site)
	if !ok {
		return sdk.NotConfigured(req.Site), nil
	}
	var p greetPayload
	if err := json.Unmarshal(req.Payload, &p); err != nil {
		return sdk.Invalid(sdk.Problem("$", "type", "the payload is not a JSON object", err.Error())), nil
	}
	if d, ok := checkName(s, p.Name); !ok {
		return sdk.Invalid(d), nil
	}
	text := s.greeting + ", " + p.Name + "\n"
	// The file's name is shown and logged as it is: it quotes no name.
	ref, err := sdk.PutArtifact(ctx, req.Host, sdk.Artifact{Name: "badge.txt", ContentType: "text/plain; charset=utf-8"}, strings.NewReader(text))
	if err != nil {
		return sdk.Retry(sdk.Problem("", "artifact", "cannot hand the badge to medgate", err.Error())), nil
	}
	return sdk.OK(map[string]string{"artifact": ref.ID, "sha256": ref.SHA256})
}

var (
	_ sdk.Plugin        = (*hello)(nil)
	_ sdk.CommandRunner = (*hello)(nil)
)
