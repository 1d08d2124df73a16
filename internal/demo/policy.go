package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/policy"
	"github.com/mpcq/mpcq/warrant"
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

// writeAnalysts writes the demo's authorizer profile and its two analyst
// profiles: DIR/analyst holds a warrant of the demo authorizer for the
// demo case that allows exact answers on every table (so mpcdemo run
// compares exactly with the plaintext oracle), DIR/analyst-dp none.
func writeAnalysts(l *Layout, ca *pki.CA, paramSet string, now time.Time) error {
	const validity = 30 * 24 * time.Hour
	jcert, jkey, err := ca.Issue(pki.RoleAuthorizer, "judge-demo", nil, now, validity)
	if err != nil {
		return err
	}
	dir := l.AuthorizerDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name    string
		b       []byte
		private bool
	}{{"ca.pem", ca.CertPEM(), false}, {"cert.pem", jcert, false}, {"key.pem", jkey, true}} {
		write := pki.WritePublic
		if f.private {
			write = pki.WritePrivate
		}
		if err := write(filepath.Join(dir, f.name), f.b); err != nil {
			return err
		}
	}
	acert, akey, err := ca.Issue(pki.RoleAnalyst, "analyst-demo", nil, now, validity)
	if err != nil {
		return err
	}
	w, err := warrant.New(DemoCase, []string{"mpcq://analyst/analyst-demo"},
		warrant.Scope{Tables: l.Parties, Exact: true}, now.Add(-time.Minute), now.Add(validity-time.Hour))
	if err != nil {
		return err
	}
	priv, err := pki.PrivateKey(jkey)
	if err != nil {
		return err
	}
	sw, err := warrant.Sign(w, priv, jcert)
	if err != nil {
		return err
	}
	err = analyst.WriteProfile(l.AnalystDir(), analyst.ProfileConfig{Coordinator: l.CoordinatorAddr, ParamSet: paramSet,
		Purpose: "demo: synthetic data walkthrough", LegalBasis: DemoCase, Warrant: WarrantFile}, ca.CertPEM(), acert, akey)
	if err != nil {
		return err
	}
	if err := pki.WritePrivate(filepath.Join(l.AnalystDir(), WarrantFile), sw.Marshal()); err != nil {
		return err
	}
	dcert, dkey, err := ca.Issue(pki.RoleAnalyst, "analyst-dp", nil, now, validity)
	if err != nil {
		return err
	}
	return analyst.WriteProfile(l.AnalystDPDir(), analyst.ProfileConfig{Coordinator: l.CoordinatorAddr, ParamSet: paramSet,
		Purpose: "demo: noisy statistics without a warrant", LegalBasis: "none (no warrant)", DefaultEpsilon: DemoMaxEpsilon}, ca.CertPEM(), dcert, dkey)
}
