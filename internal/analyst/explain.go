package analyst

import (
	"context"
	"fmt"
	"math/big"
	"strings"

	"github.com/mpcq/mpcq/dp"
	"github.com/mpcq/mpcq/plan"
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
		scales, err := dp.Scales(pl, cs, pr.EpsilonMilli, dp.Room{Modulus: sr.PlaintextModulus, Collusion: pr.Collusion})
		if err != nil {
			return "", err
		}
		recombined := map[plan.Sum]*big.Int{}
		for i, s := range pl.Sums() {
			fs, _ := scales[i].Float64()
			label := sumLabel(string(s.Kind), s.Table, s.Column, s.Clip)
			h := dp.SumHalfWidth95(s, scales[i], pr.Collusion+1)
			if !s.IsDigit() {
				fmt.Fprintf(&b, "  noise of %s: discrete Laplace, scale %.4g per noisy party; 95%% of answers within ±%s\n", label, fs, h)
				continue
			}
			fmt.Fprintf(&b, "  noise of %s, digit %d of %d (base 2^%d): discrete Laplace, scale %.4g per noisy party; %.1f%% of answers within ±%s\n",
				label, s.Digit, s.Digits, s.Bits, fs, 100-5/float64(s.Digits), h)
			w := s.Whole()
			if recombined[w] == nil {
				recombined[w] = new(big.Int)
			}
			recombined[w].Add(recombined[w], h.Lsh(h, uint(s.Digit*s.Bits)))
			if s.Digit == s.Digits-1 {
				fmt.Fprintf(&b, "  noise of %s, its digits recombined: 95%% of answers within ±%s\n", label, recombined[w])
			}
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
