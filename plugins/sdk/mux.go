package sdk

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// HandlerFunc handles one operation.
type HandlerFunc func(ctx context.Context, req *HandleRequest) (*HandleResponse, error)

// Mux routes Handle calls by message type. Operations are registered once,
// with their declaration and their handler together, so what Describe lists
// and what Handle serves cannot drift apart:
//
//	m.Register(sdk.Operation{Type: "acme.ping", Summary: "…"}, a.ping)
//	…
//	Describe: Operations: m.Operations()
//	Handle:   return m.Handle(ctx, req)
//
// Register all operations before the plugin serves; a Mux is then safe for
// concurrent use.
type Mux struct {
	ops      []Operation
	handlers map[string]HandlerFunc
}

// Register adds an operation and its handler. It panics on an empty or
// duplicate type or a nil handler: those are mistakes in the plugin's code,
// found by its first test.
func (m *Mux) Register(op Operation, h HandlerFunc) {
	switch {
	case op.Type == "" || !strings.Contains(op.Type, "."):
		panic(fmt.Sprintf("sdk: Mux.Register: operation type %q must be \"<plugin>.<operation>\"", op.Type))
	case h == nil:
		panic(fmt.Sprintf("sdk: Mux.Register: operation %q has no handler; pass the function that handles it (an sdk.HandlerFunc) as Register's second argument", op.Type))
	case m.handlers[op.Type] != nil:
		panic(fmt.Sprintf("sdk: Mux.Register: operation %q registered twice; register each operation once, with the one handler that serves it", op.Type))
	}
	if m.handlers == nil {
		m.handlers = map[string]HandlerFunc{}
	}
	m.handlers[op.Type] = h
	m.ops = append(m.ops, op)
}

// Operations returns the registered operations in registration order, for
// DescribeResponse.Operations.
func (m *Mux) Operations() []Operation { return slices.Clone(m.ops) }

// Handle calls the handler of req.Type. An unknown type is answered
// invalid, naming the types the plugin handles.
func (m *Mux) Handle(ctx context.Context, req *HandleRequest) (*HandleResponse, error) {
	if h := m.handlers[req.Type]; h != nil {
		return h(ctx, req)
	}
	known := make([]string, len(m.ops))
	for i, op := range m.ops {
		known[i] = op.Type
	}
	return Invalid(Problem("$.type", "enum", fmt.Sprintf("this plugin does not handle %q", req.Type), "use one of: "+strings.Join(known, ", "))), nil
}
