package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/medgate/medgate/host/internal/config"
	"github.com/medgate/medgate/host/internal/message"
	"github.com/medgate/medgate/schemas"
	"github.com/medgate/medgate/transforms"
)

// mappings applies the site's transform mappings (transforms/) to platform
// payloads before they reach a plugin. A message is mapped when its site
// has a mapping for its format and type; otherwise it passes unchanged.
type mappings struct {
	set atomic.Pointer[mappingSets]
}

// loadMappings returns the built-in mappings overlaid with the configured
// directory, compiled against sch, or every problem with file and line.
func loadMappings(cfg *config.Config, sch *schemas.Set) (*transforms.Set, error) {
	if err := transforms.CheckEmbedded(); err != nil {
		return nil, fmt.Errorf("built-in transforms: %w", err)
	}
	over, err := transforms.Embedded().WithSchemas(sch)
	if err == nil && cfg.Transforms != "" {
		over, err = over.Overlay(cfg.Transforms)
	}
	if err != nil {
		var le *transforms.LoadError
		if errors.As(err, &le) {
			var ps config.Problems
			for _, p := range le.Problems {
				msg := p.Reason
				if p.Field != "" {
					msg = fmt.Sprintf("field %q: %s", p.Field, p.Reason)
				}
				if p.Fix != "" {
					msg += " — " + p.Fix
				}
				ps = append(ps, config.Problem{File: p.File, Line: p.Line, Message: msg})
			}
			return nil, ps
		}
		return nil, cfg.Problems("transforms", "%v", err)
	}
	return over, nil
}

// Transform implements pipeline.Transformer.
func (m *mappings) Transform(site, format, typ string, payload []byte) ([]byte, []message.ReplyError, bool) {
	set := m.set.Load().forSite(site)
	if set == nil {
		return payload, nil, false
	}
	mp, ok := set.Find(site, format, typ)
	if !ok {
		return payload, nil, false
	}
	out, problems := mp.Apply(payload, set.Tables(site))
	if len(problems) > 0 {
		errs := make([]message.ReplyError, len(problems))
		for i, p := range problems {
			errs[i] = message.ReplyError{Field: p.Field, Rule: p.Rule, Message: p.Message}
		}
		return nil, errs, true
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, []message.ReplyError{{Field: "$", Rule: "mapping", Message: fmt.Sprintf("mapping %s produced a value that cannot be encoded: %v", mp.Name, err)}}, true
	}
	return data, nil, true
}
