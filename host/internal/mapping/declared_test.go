package mapping

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/plugins/sdk"
)

// declaring is a plugin that declares the schema documents docs.
type declaring struct {
	name string
	docs map[string][]byte
}

func (d declaring) Description() *sdk.DescribeResponse {
	return &sdk.DescribeResponse{Name: d.name, Schemas: d.docs}
}

func (declaring) SiteSchemas(string) map[string][]byte { return nil }

// TestDeclaredSchemasThatDoNotLoadNameThePlugin: with several plugins
// running, a schema document one of them declares that does not load is
// reported with the name of that plugin, whose vendor must fix it, and
// not of the others.
func TestDeclaredSchemasThatDoNotLoadNameThePlugin(t *testing.T) {
	t.Parallel()
	good := map[string][]byte{"acme/visit.yaml": fmt.Appendf(nil, visitSchema, "2")}
	bad := map[string][]byte{"bravo/order.yaml": []byte(strings.Replace(strings.ReplaceAll(fmt.Sprintf(visitSchema, "2"), "acme", "bravo"), "code: visit", "code: order", 1) + "  - name: extra\n    type: string\n    maxLenght: 3\n")}
	cfg := &config.Config{Sites: []config.Site{{Code: "h1", Plugins: map[string]config.SitePlugin{"acme": {}, "bravo": {}}}}}
	_, err := Compile(cfg, map[string]declaring{"acme": {"acme", good}, "bravo": {"bravo", bad}})
	if err == nil {
		t.Fatal("Compile accepted a declared schema document that does not load")
	}
	for _, want := range []string{`plugin "bravo"`, `maxLenght`, "update plugin \"bravo\""} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\ndoes not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), `"acme"`) {
		t.Errorf("error %q names plugin acme, whose documents load", err)
	}
}
