package sdk

import (
	"context"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/medgate/medgate/plugins/sdk/internal/pb"
)

// oldOperation returns the message Operation as a peer built before the
// query field knew it: the current descriptor without field 6.
func oldOperation(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	fdp := protodesc.ToFileDescriptorProto(pb.File_plugin_proto)
	fdp.Name = proto.String("old/plugin.proto")
	for _, m := range fdp.MessageType {
		if m.GetName() != "Operation" {
			continue
		}
		kept := m.Field[:0]
		for _, f := range m.Field {
			if f.GetNumber() != 6 {
				kept = append(kept, f)
			}
		}
		if len(kept) == len(m.Field) {
			t.Fatal("the current Operation has no field 6 to leave out")
		}
		m.Field = kept
	}
	fdp.Service = []*descriptorpb.ServiceDescriptorProto{}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatalf("the old protocol's descriptor: %v", err)
	}
	md := fd.Messages().ByName("Operation")
	if md == nil || md.Fields().ByNumber(6) != nil {
		t.Fatal("the old Operation is not as a peer before the query field knew it")
	}
	return md
}

// TestQueryFlagAcrossProtocolVersions: Operation.Query is a field added
// without a new protocol version. A plugin built before it sends
// operations the current host reads as no query (a pending record before
// every call, as before); a host built before it reads a current plugin's
// operations whole, the flag left as an unknown field it ignores.
func TestQueryFlagAcrossProtocolVersions(t *testing.T) {
	t.Parallel()
	old := oldOperation(t)

	t.Run("older plugin, current host", func(t *testing.T) {
		t.Parallel()
		m := dynamicpb.NewMessage(old)
		m.Set(old.Fields().ByName("type"), protoreflect.ValueOfString("p.check"))
		m.Set(old.Fields().ByName("summary"), protoreflect.ValueOfString("check"))
		data, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var got pb.Operation
		if err := proto.Unmarshal(data, &got); err != nil {
			t.Fatalf("the current host cannot read an older plugin's operation: %v", err)
		}
		if got.GetType() != "p.check" || got.GetQuery() {
			t.Fatalf("an older plugin's operation reads as %v; want p.check, no query", &got)
		}
	})

	t.Run("current plugin, older host", func(t *testing.T) {
		t.Parallel()
		data, err := proto.Marshal(&pb.Operation{Type: "p.check", Schema: "x/C", Summary: "check", Upload: false, Query: true})
		if err != nil {
			t.Fatal(err)
		}
		m := dynamicpb.NewMessage(old)
		if err := proto.Unmarshal(data, m); err != nil {
			t.Fatalf("an older host cannot read a current plugin's operation: %v", err)
		}
		if m.Get(old.Fields().ByName("type")).String() != "p.check" || m.Get(old.Fields().ByName("schema")).String() != "x/C" ||
			m.Get(old.Fields().ByName("summary")).String() != "check" || m.Get(old.Fields().ByName("upload")).Bool() {
			t.Fatalf("an older host reads %v", m)
		}
		// The flag is an unknown field there: kept as bytes, meaning nothing.
		num, typ, n := protowire.ConsumeTag(m.GetUnknown())
		if n < 0 || num != 6 || typ != protowire.VarintType {
			t.Fatalf("an older host sees unknown fields %x; want field 6, the query flag", m.GetUnknown())
		}
	})
}

// queryPlugin declares one query and one upload.
type queryPlugin struct{ Plugin }

func (queryPlugin) Describe(context.Context, *DescribeRequest) (*DescribeResponse, error) {
	return &DescribeResponse{Name: "p", Operations: []Operation{
		{Type: "p.check", Summary: "check", Query: true},
		{Type: "p.send", Summary: "send", Upload: true},
	}}, nil
}

// TestQueryFlagDescribed: the plugin side puts Operation.Query on the wire.
func TestQueryFlagDescribed(t *testing.T) {
	t.Parallel()
	s := &adapterServer{impl: queryPlugin{}}
	d, err := s.Describe(t.Context(), &pb.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Operations) != 2 || !d.Operations[0].GetQuery() || d.Operations[1].GetQuery() || !d.Operations[1].GetUpload() {
		t.Fatalf("Describe on the wire: %v", d.Operations)
	}
}
