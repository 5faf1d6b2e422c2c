package config

import (
	"fmt"

	"github.com/medgate/medgate/host/internal/api/origin"
)

// checkConsole checks the console section.
func (c *Config) checkConsole() Problems {
	var ps Problems
	add := func(path, f string, a ...any) { ps = append(ps, c.Problem(path, f, a...)) }
	for i, o := range c.Console.PublicOrigins {
		if _, err := origin.Normalize(o); err != nil {
			add(fmt.Sprintf("console.publicOrigins[%d]", i), "%v", err)
		}
	}
	return ps
}
