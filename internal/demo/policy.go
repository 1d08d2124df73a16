package demo

import (
	"fmt"

	"github.com/mpcq/mpcq/policy"
)

// Demo privacy settings: what the demo's parties allow.
const (
	// DemoMaxEpsilon is the largest ε of one noisy demo query.
	DemoMaxEpsilon = "1"
	// DemoDailyBudget is each analyst's ε per 24 hours at every party.
	DemoDailyBudget = "10"
	// DemoCase is the case the demo warrant is issued for.
	DemoCase = "DEMO-CASE-0001"
)

// Policy returns the demo policy of a party (docs/policy.md): every
// analyst may use every column; exact answers only under a warrant whose
// scope allows them (the demo analyst's); noisy answers cost at most ε 1
// each, and each analyst has ε 10 per day.
func Policy(party string) []byte {
	return fmt.Appendf(nil, `{
  "version": 1,
  "party": %q,
  "rules": [
    {
      "name": "demo",
      "analysts": ["*"],
      "where": ["*"],
      "aggregate": ["*"],
      "group_by": ["*"],
      "exact": "warrant",
      "max_epsilon": %s
    }
  ],
  "budget": {"period": "24h", "per_analyst": %s, "per_case": 30}
}
`, party, DemoMaxEpsilon, DemoDailyBudget)
}

// checkPolicy parses a demo policy, so that a bad edit of the template
// fails at set-up with the file's line.
func checkPolicy(name string, b []byte) error {
	_, err := policy.Parse(name, b)
	return err
}
