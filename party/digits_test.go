package party

import (
	"reflect"
	"testing"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/plan"
)

// TestStepDigits runs a plan whose sum of squares is split into digits
// (planned for a small modulus) through the encrypted chain: each party's
// digit vectors, summed under encryption and recombined by plan.Finish,
// give the answer the whole plan gives from the totals in the clear.
func TestStepDigits(t *testing.T) {
	f := newFixture(t)
	const sql = `SELECT ta.region, COUNT(*), SUM(tb.balance), VARIANCE(tb.balance), STDDEV(tb.balance) FROM ta JOIN tb USING (person_id) WHERE ta.age > 30 GROUP BY ta.region`
	p, err := plan.Parse(sql, f.cs)
	if err != nil {
		t.Fatal(err)
	}
	// At T = 2^24 and 4,296 entities, Σ balance (≤ 4.3·10^6) fits whole
	// and Σ balance² (≤ 4.3·10^9) is split in 2 digits of 10 bits.
	if err := p.Fit(plan.Limits{Modulus: 1 << 24, Entities: uint64(len(f.people))}, f.cs); err != nil {
		t.Fatal(err)
	}
	sq := plan.Sum{Kind: plan.SumSquares, Table: "tb", Column: "balance"}
	if sp := p.Splits[sq]; sp != (plan.Split{Digits: 2, Bits: 10}) {
		t.Fatalf("splits %v, want the sum of squares in 2 digits of 10 bits", p.Splits)
	}
	pl, err := wire.PlanToProto(p)
	if err != nil {
		t.Fatal(err)
	}
	outMap, cts := f.runSteps(t, pl, chain.Order(p))
	totals := f.combine(pl, outMap, cts)
	sums := p.Sums()
	groups := len(p.Groups())
	got := map[plan.Sum][]uint64{}
	for i, v := range totals {
		s := sums[i%len(sums)]
		if got[s] == nil {
			got[s] = make([]uint64, groups)
		}
		got[s][i/len(sums)] = v
	}
	rows, _, err := p.Finish(got)
	if err != nil {
		t.Fatal(err)
	}
	// The whole plan's totals, in the clear.
	whole, _ := plan.Parse(sql, f.cs)
	want := map[plan.Sum][]uint64{}
	for _, s := range whole.Sums() {
		want[s] = make([]uint64, groups)
	}
	for _, per := range f.people {
		if per["ta"] == nil || per["tb"] == nil || per["ta"]["age"] <= 30 {
			continue
		}
		g := int(per["ta"]["region"])
		for _, s := range whole.Sums() {
			want[s][g] += s.PersonValue(per["tb"]["balance"])
		}
	}
	wantRows, _, err := whole.Finish(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rows, wantRows) {
		t.Fatalf("encrypted digits give %v, the clear totals %v", rows, wantRows)
	}
}
