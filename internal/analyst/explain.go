package analyst

import (
	"context"
	"fmt"
	"strings"

	"github.com/mpcq/mpcq/dp"
	"github.com/mpcq/mpcq/policy"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// ExplainPrivacy is EXPLAIN's privacy part, before anything runs: the ε,
// collusion tolerance and warrant the query would run with (as Query
// resolves them), the noise scale and 95% half-width of each total, and
// how every party's policy would decide it, with the budget left. It
// commits and charges nothing.
func (p *Profile) ExplainPrivacy(ctx context.Context, client pb.CoordinatorClient, req Request) (string, error) {
	pl, sr, err := p.Plan(ctx, client, req.SQL)
	if err != nil {
		return "", err
	}
	cs, err := consortiumOf(sr)
	if err != nil {
		return "", err
	}
	parties, err := Parties(ctx, client)
	if err != nil {
		return "", err
	}
	pr, err := p.ResolvePrivacy(req, parties)
	if err != nil {
		return "", err
	}
	rep, err := client.ExplainPolicy(ctx, &pb.ExplainPolicyRequest{Sql: req.SQL, EpsilonMilli: pr.EpsilonMilli,
		Collusion: uint32(pr.Collusion), Warrant: pr.Warrant})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("Privacy:\n")
	warrantText := "none"
	if pr.Warrant != nil {
		warrantText = fmt.Sprintf("%x… (exact answers allowed: %v)", pr.WarrantHash[:8], pr.Scope.Exact)
	}
	if pr.EpsilonMilli == 0 {
		fmt.Fprintf(&b, "  exact totals (ε 0, no noise); warrant %s\n", warrantText)
	} else {
		fmt.Fprintf(&b, "  ε %s per query, collusion tolerance k=%d (%d of %d parties add noise); warrant %s\n",
			pr.Epsilon(), pr.Collusion, pr.Collusion+1, parties, warrantText)
		scales, err := dp.Scales(pl, cs, pr.EpsilonMilli)
		if err != nil {
			return "", err
		}
		for i, s := range pl.Sums() {
			fs, _ := scales[i].Float64()
			fmt.Fprintf(&b, "  noise of %s: discrete Laplace, scale %.4g per noisy party; 95%% of answers within ±%s\n",
				sumLabel(string(s.Kind), s.Table, s.Column, s.Clip), fs, dp.HalfWidth95(scales[i], pr.Collusion+1))
		}
	}
	for _, pp := range rep.Parties {
		c := pp.Check
		switch {
		case pp.Error != "":
			fmt.Fprintf(&b, "  %s: could not be asked: %s\n", pp.Party, pp.Error)
		case c.Allowed:
			fmt.Fprintf(&b, "  %s: allowed by rule %q (policy version %d)", pp.Party, c.Rule, c.PolicyVersion)
			if c.AnalystLimited {
				fmt.Fprintf(&b, "; ε left: %s for you", policy.FormatEpsilon(c.AnalystLeftMilli))
			}
			if c.CaseLimited {
				fmt.Fprintf(&b, "; ε left for the case: %s", policy.FormatEpsilon(c.CaseLeftMilli))
			}
			b.WriteString("\n")
		default:
			fmt.Fprintf(&b, "  %s: REFUSED (policy version %d): %s\n", pp.Party, c.PolicyVersion, c.Reason)
		}
	}
	return b.String(), nil
}

func sumLabel(kind, table, column string, clip int64) string {
	c := table + "." + column
	if clip > 0 {
		c = fmt.Sprintf("LEAST(%s, %d)", c, clip)
	}
	switch kind {
	case "count":
		return "COUNT(*)"
	case "sum":
		return "SUM(" + c + ")"
	}
	return "the sum of squares of " + c
}
