package chain_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

// TestExplainDigits: EXPLAIN shows a split sum (which, how many digits,
// which base), lays its digits out as sums of the circuit (so the cost
// figures count them), and says nothing is refused.
func TestExplainDigits(t *testing.T) {
	params, err := mpc.NewParams(mpc.DefaultSetName)
	if err != nil {
		t.Fatal(err)
	}
	par := chain.ParamsOf(params, 0)
	const sql = "SELECT STDDEV(utility.kwh_30d), VARIANCE(utility.kwh_30d) FROM utility JOIN bank USING (person_id) WHERE bank.district IN ('D04')"
	p, err := plan.Parse(sql, gen.Consortium())
	if err != nil {
		t.Fatal(err)
	}
	small, err := chain.Explain(p, gen.Consortium(), par, 1000)
	if err != nil {
		t.Fatal(err)
	}
	e, err := chain.Explain(p, gen.Consortium(), par, 20_000)
	if err != nil {
		t.Fatal(err)
	}
	if small.Layout.Sums != 3 || len(small.Splits) != 0 {
		t.Fatalf("at 1,000 entities: %d sums, splits %v; want 3 whole sums", small.Layout.Sums, small.Splits)
	}
	if e.Layout.Sums != 4 || e.Totals != small.Totals+1 {
		t.Fatalf("at 20,000 entities: %d sums, %d totals; want the sum of squares in 2 digits (4 sums, 4 totals)", e.Layout.Sums, e.Totals)
	}
	if e.EstimateS <= small.EstimateS {
		t.Errorf("the split costs nothing in the estimate: %.3f s vs %.3f s whole", e.EstimateS, small.EstimateS)
	}
	out := e.String()
	for _, want := range []string{
		"the sum of squares of utility.kwh_30d: at most 200000000000000 per group, plaintext modulus 35184368877569: split into 2 digits of base 2^17",
		"digit split: the sum of squares of utility.kwh_30d in 2 digits of base 2^17: 1 more sum(s) per group",
		"supplies the sum of squares of utility.kwh_30d, digit 1 of 2 in base 2^17",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("EXPLAIN lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "DOES NOT FIT") {
		t.Errorf("EXPLAIN refuses:\n%s", out)
	}
}

// TestExplainNationalScale plans (EXPLAIN only) COUNT, SUM, AVG, VARIANCE
// and STDDEV of every int column of the synthetic schema at 100,000,000
// entities: none is refused.
func TestExplainNationalScale(t *testing.T) {
	params, err := mpc.NewParams(mpc.DefaultSetName)
	if err != nil {
		t.Fatal(err)
	}
	par := chain.ParamsOf(params, 0)
	cs := gen.Consortium()
	for _, tbl := range cs.Tables {
		for _, c := range tbl.Columns {
			if c.Kind != schema.KindInt {
				continue
			}
			for _, agg := range []string{"COUNT(*)", "SUM(%s)", "AVG(%s)", "VARIANCE(%s)", "STDDEV(%s)"} {
				item := agg
				if strings.Contains(agg, "%s") {
					item = fmt.Sprintf(agg, tbl.Name+"."+c.Name)
				}
				t.Run(item, func(t *testing.T) {
					p, err := plan.Parse("EXPLAIN SELECT "+item+" FROM "+tbl.Name, cs)
					if err != nil {
						t.Fatal(err)
					}
					if err := p.Fit(plan.Limits{Modulus: params.T(), Entities: 100_000_000}, cs); err != nil {
						t.Fatalf("refused at 10^8 entities: %v", err)
					}
					e, err := chain.Explain(p, cs, par, 100_000_000)
					if err != nil {
						t.Fatal(err)
					}
					for _, w := range e.Worst {
						if strings.Contains(w, "DOES NOT FIT") {
							t.Errorf("EXPLAIN refuses: %s", w)
						}
					}
				})
			}
		}
	}
}
