package adapter

import (
	"testing"

	wisim "github.com/medgate/medgate/test/sim/workinjury"
)

// TestDeviceSettlementPlace: a GYU303 is made where the person's
// assistive-device filing allows it. A filing that names no institution
// names a place of treatment (aab299), and the device institution must be
// there, as it must be for an admission; checked from the filing known
// here when the site asks no GYD051 for devices (preconditions without
// GYD051@device), and refused before anything is sent.
func TestDeviceSettlementPlace(t *testing.T) {
	t.Parallel()
	noNational := withSettings(setPreconditions, "-")
	// placeFiling records a device filing of the chain's device person
	// that names the place region and no institution, at this site and at
	// the national system, and returns a GYU303 of it.
	placeFiling := func(region string) func(c *chain) map[string]any {
		return func(c *chain) map[string]any {
			f := wisim.SampleFiling("PL", 7, region)
			f["aac002"], f["aac003"], f["aac044"] = c.device["aac002"], c.device["aac003"], c.device["aac044"]
			f["filing_type"], f["akb020"], f["akb021"] = "3", "", ""
			c.sim.AddFiling(f)
			h := hostFor(c.host, testSite)
			if err := c.impl.putFiling(c.t.Context(), h, f["filing_no"].(string), filingState{Status: filingApproved, Person: personKey(f["aac002"].(string)),
				InstType: "3", AAB299: region, AAE030: f["aae030"].(string), AAE031: f["aae031"].(string)}); err != nil {
				c.t.Fatal(err)
			}
			return c.deviceSettlement("filing_no", f["filing_no"])
		}
	}
	runRuleCases(t, map[string]ruleCase{
		"filing of the institution's place": {code: "GYU303", opts: []envOption{noNational}, prepare: placeFiling("350200"), ok: true},
		"filing of another place":           {code: "GYU303", opts: []envOption{noNational}, prepare: placeFiling("440300"), field: "$.akb020", rule: "rule filing-place"},
	})
}
