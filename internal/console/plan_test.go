package console

import (
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/internal/wire"
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
	v, err := planView(p.Canonical, h, cs)
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
	if v, err := planView(p.Canonical, h, cs); err != nil || v.Matches || v.Note == "" {
		t.Fatalf("another committed hash: %+v, %v; want no match and a note", v, err)
	}
	if _, err := planView("SELECT nonsense", h, cs); err == nil {
		t.Fatal("SQL that does not compile gave a plan")
	}
}
