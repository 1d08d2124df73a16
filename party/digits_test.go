package party

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/request"

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

// TestGovernRefusesForgedSplit plays a coordinator that commits the
// STDDEV query with its sum of squares whole (a total that would wrap) or
// split for another entity count: the party, recompiling at the entities
// of its own alignment (the committed epoch) and its modulus, refuses
// before any policy decision or work.
func TestGovernRefusesForgedSplit(t *testing.T) {
	f := newFixture(t)
	own, _ := f.cs.Table("tb")
	s := &Server{table: own, keys: f.keys}
	a := f.aligned["tb"]
	// 10^8 × 1000² > T: the honest plan has Σ balance² in 2 digits of 10
	// bits.
	a.state.Entities = 100_000_000
	if l := s.limits(a); l.Entities != 100_000_000 || l.Modulus != f.params.T() {
		t.Fatalf("limits %+v, want the alignment's 10^8 entities and T %d", l, f.params.T())
	}
	const sql = "SELECT VARIANCE(tb.balance) FROM tb"
	for name, entities := range map[string]uint64{
		"whole (planned for 1 entity)":          1,
		"whole (planned for 10^7 entities)":     10_000_000,
		"3 digits (planned for 10^11 entities)": 100_000_000_000,
	} {
		t.Run(name, func(t *testing.T) {
			_, forged, err := wire.Compile(sql, f.cs, plan.Limits{Modulus: f.params.T(), Entities: entities})
			if err != nil {
				t.Fatal(err)
			}
			if _, honest, _ := wire.Compile(sql, f.cs, s.limits(a)); proto.Equal(honest, forged) {
				t.Fatal("the forged plan is the honest one: a weak test")
			}
			_, err = s.govern(entry.Query{QueryID: "q-forged"}, 1, request.Verified{}, forged, nil, s.limits(a), time.Now())
			if !errors.Is(err, ErrPlan) || !errors.Is(err, wire.ErrNotCompiled) {
				t.Fatalf("got %v, want ErrPlan and ErrNotCompiled", err)
			}
		})
	}
}
