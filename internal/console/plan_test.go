package console

import (
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/plan"
)

func TestPlanView(t *testing.T) {
	cs := gen.Consortium()
	const sql = "SELECT COUNT(*), SUM(bank.balance) FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d > 100 AND bank.accounts > 2"
	p, pp, err := wire.Compile(sql, cs, plan.Limits{Modulus: ^uint64(0), Entities: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := wire.PlanHash(pp)
	v, err := planView(p.Canonical, h, cs, plan.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.Matches || len(v.Institutions) != 2 {
		t.Fatalf("plan view %+v: want a match over two institutions", v)
	}
	for _, in := range v.Institutions {
		want := map[string]string{"telecom": "calls_30d > 100", "bank": "accounts > 2"}[in.Table]
		if len(in.Conditions) != 1 || !strings.Contains(in.Conditions[0], want) {
			t.Errorf("%s's conditions %q, want %q", in.Table, in.Conditions, want)
		}
	}
	h[0] ^= 1
	if v, err := planView(p.Canonical, h, cs, plan.Limits{}); err != nil || v.Matches || v.Note == "" {
		t.Fatalf("another committed hash: %+v, %v; want no match and a note", v, err)
	}
	if _, err := planView("SELECT nonsense", h, cs, plan.Limits{}); err == nil {
		t.Fatal("SQL that does not compile gave a plan")
	}
}

// A plan whose sums were split into digits for its epoch's union size
// matches only when recompiled for the same limits, which the snapshot
// takes from the QUERY's parameter set and its EPOCH entry.
func TestPlanViewDigits(t *testing.T) {
	cs := gen.Consortium()
	set, err := mpc.LookupSet(mpc.DefaultSetName)
	if err != nil {
		t.Fatal(err)
	}
	l := plan.Limits{Modulus: set.T, Entities: 20000}
	const sql = "SELECT VARIANCE(utility.kwh_30d) FROM utility JOIN bank USING (person_id) WHERE bank.district IN ('D04')"
	p, pp, err := wire.Compile(sql, cs, l)
	if err != nil {
		t.Fatal(err)
	}
	split := false
	for _, s := range pp.Sums {
		split = split || s.Digits > 1
	}
	if !split {
		t.Fatal("the sum of squares was not split at 20,000 people: the test needs a split plan")
	}
	h, _ := wire.PlanHash(pp)
	if v, err := planView(p.Canonical, h, cs, l); err != nil || !v.Matches {
		t.Fatalf("recompiled for the same limits: %+v, %v; want a match", v, err)
	}
	if v, err := planView(p.Canonical, h, cs, plan.Limits{}); err != nil || v.Matches {
		t.Fatalf("recompiled without the epoch's size: %+v, %v; want no match", v, err)
	}
}
