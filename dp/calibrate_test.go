package dp

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"testing"

	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

// testConsortium has a small int column, the largest int64 column, and a
// category column.
var testConsortium = schema.Consortium{Tables: []schema.Table{
	{Name: "bank", Key: "pid", Columns: []schema.Column{
		{Name: "balance", Kind: schema.KindInt, Min: 0, Max: 1000},
		{Name: "region", Kind: schema.KindCategory, Categories: []string{"n", "s"}},
	}},
	{Name: "telecom", Key: "pid", Columns: []schema.Column{
		{Name: "minutes", Kind: schema.KindInt, Min: 0, Max: math.MaxInt64},
	}},
}}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("bad rational " + s)
	}
	return r
}

func TestSensitivity(t *testing.T) {
	maxSq := new(big.Int).Mul(big.NewInt(math.MaxInt64), big.NewInt(math.MaxInt64))
	for _, tc := range []struct {
		sum  plan.Sum
		want *big.Int
		err  error
	}{
		{plan.Sum{Kind: plan.SumCount}, big.NewInt(1), nil},
		{plan.Sum{Kind: plan.SumValue, Table: "bank", Column: "balance"}, big.NewInt(1000), nil},
		{plan.Sum{Kind: plan.SumSquares, Table: "bank", Column: "balance"}, big.NewInt(1_000_000), nil},
		{plan.Sum{Kind: plan.SumValue, Table: "telecom", Column: "minutes"}, big.NewInt(math.MaxInt64), nil},
		{plan.Sum{Kind: plan.SumSquares, Table: "telecom", Column: "minutes"}, maxSq, nil},
		{plan.Sum{Kind: plan.SumValue, Table: "bank", Column: "region"}, nil, plan.ErrUnknownName},
		{plan.Sum{Kind: plan.SumValue, Table: "bank", Column: "nope"}, nil, plan.ErrUnknownName},
		{plan.Sum{Kind: plan.SumValue, Table: "nope", Column: "balance"}, nil, plan.ErrUnknownName},
		{plan.Sum{Kind: "cube", Table: "bank", Column: "balance"}, nil, plan.ErrUnsupported},
	} {
		t.Run(fmt.Sprintf("%s(%s.%s)", tc.sum.Kind, tc.sum.Table, tc.sum.Column), func(t *testing.T) {
			got, err := Sensitivity(tc.sum, testConsortium)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, %v; want an error wrapping %v", got, err, tc.err)
				}
				return
			}
			if err != nil || got.Cmp(tc.want) != 0 {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestScales(t *testing.T) {
	agg := func(kind plan.AggKind, table, col string) plan.Aggregate {
		return plan.Aggregate{Kind: kind, Table: table, Column: col}
	}
	count := agg(plan.AggCount, "", "")
	maxSq := new(big.Int).Mul(big.NewInt(math.MaxInt64), big.NewInt(math.MaxInt64))
	for _, tc := range []struct {
		name string
		aggs []plan.Aggregate
		eps  uint64
		want []*big.Rat // in Sums order
	}{
		// K = 1, ε = 1: t = 1.
		{"count/eps=1", []plan.Aggregate{count}, 1000, []*big.Rat{rat("1")}},
		// K = 1, ε = 0.001: t = 1000.
		{"count/eps=0.001", []plan.Aggregate{count}, 1, []*big.Rat{rat("1000")}},
		// K = 2 (count, sum), ε = 0.5: t = Δ·4.
		{"avg/eps=0.5", []plan.Aggregate{agg(plan.AggAvg, "bank", "balance")}, 500, []*big.Rat{rat("4"), rat("4000")}},
		// The same sums from COUNT and SUM: K = 2 still.
		{"count+sum+avg", []plan.Aggregate{count, agg(plan.AggSum, "bank", "balance"), agg(plan.AggAvg, "bank", "balance")}, 500,
			[]*big.Rat{rat("4"), rat("4000")}},
		// K = 3 (count, sum, sumsq), ε = 0.3: t = Δ·10.
		{"variance/eps=0.3", []plan.Aggregate{agg(plan.AggVariance, "bank", "balance")}, 300,
			[]*big.Rat{rat("10"), rat("10000"), rat("10000000")}},
		// K = 3, ε = 0.007: non-integer scales, Max² of int64 (~2^126).
		{"stddev-int64/eps=0.007", []plan.Aggregate{agg(plan.AggStddev, "telecom", "minutes")}, 7,
			[]*big.Rat{rat("3000/7"), new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(math.MaxInt64), big.NewInt(3000)), big.NewInt(7)),
				new(big.Rat).SetFrac(new(big.Int).Mul(maxSq, big.NewInt(3000)), big.NewInt(7))}},
		// K = 4: two columns' sums.
		{"sum+variance", []plan.Aggregate{agg(plan.AggSum, "telecom", "minutes"), agg(plan.AggVariance, "bank", "balance")}, 2000,
			[]*big.Rat{new(big.Rat).SetInt(new(big.Int).Mul(big.NewInt(math.MaxInt64), big.NewInt(2))), rat("2"), rat("2000"), rat("2000000")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &plan.Plan{Aggregates: tc.aggs}
			got, err := Scales(p, testConsortium, tc.eps, testRoom)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) || len(got) != len(p.Sums()) {
				t.Fatalf("%d scales for %d sums, want %d", len(got), len(p.Sums()), len(tc.want))
			}
			for i := range got {
				if got[i].Cmp(tc.want[i]) != 0 {
					t.Errorf("sum %d (%v): scale %s, want %s", i, p.Sums()[i], got[i].RatString(), tc.want[i].RatString())
				}
			}
		})
	}
	p := &plan.Plan{Aggregates: []plan.Aggregate{count}}
	if _, err := Scales(p, testConsortium, 0, testRoom); !errors.Is(err, ErrNoEpsilon) {
		t.Errorf("epsilon 0: got %v, want ErrNoEpsilon", err)
	}
	p = &plan.Plan{Aggregates: []plan.Aggregate{agg(plan.AggSum, "bank", "region")}}
	if _, err := Scales(p, testConsortium, 1000, testRoom); !errors.Is(err, plan.ErrUnknownName) {
		t.Errorf("category column: got %v, want ErrUnknownName", err)
	}
}

func TestNoisy(t *testing.T) {
	for _, tc := range []struct {
		rank, k int
		want    bool
	}{
		{0, 0, true}, {1, 0, false}, {0, 2, true}, {2, 2, true}, {3, 2, false}, {-1, 2, false}, {4, 4, true},
	} {
		if got := Noisy(tc.rank, tc.k); got != tc.want {
			t.Errorf("Noisy(%d, %d) = %v, want %v", tc.rank, tc.k, got, tc.want)
		}
	}
	// k+1 parties of N add noise.
	for n := 1; n <= 5; n++ {
		for k := range n {
			noisy := 0
			for r := range n {
				if Noisy(r, k) {
					noisy++
				}
			}
			if noisy != k+1 {
				t.Errorf("N=%d k=%d: %d noisy parties, want %d", n, k, noisy, k+1)
			}
		}
	}
}

func TestShares(t *testing.T) {
	// Sum 0 has scale 0 (no noise), sum 1 a large one: total j = g·2 + s.
	scales := []*big.Rat{new(big.Rat), rat("1000000")}
	const groups = 4
	got, err := Shares(seeded(5), scales, groups)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != groups*len(scales) {
		t.Fatalf("%d values, want %d", len(got), groups*len(scales))
	}
	for j, x := range got {
		if s := j % len(scales); (s == 0) != (x.Sign() == 0) {
			t.Errorf("total %d (group %d, sum %d) has noise %s", j, j/len(scales), s, x)
		}
	}
	again, err := Shares(seeded(5), scales, groups)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, again, func(a, b *big.Int) bool { return a.Cmp(b) == 0 }) {
		t.Error("the same seed drew different noise")
	}
	if got, err := Shares(seeded(5), scales, 0); err != nil || len(got) != 0 {
		t.Errorf("no groups: %v, %v", got, err)
	}
	if _, err := Shares(seeded(5), []*big.Rat{rat("-1")}, 1); !errors.Is(err, ErrScale) {
		t.Errorf("negative scale: got %v, want ErrScale", err)
	}
	if _, err := Shares(seeded(5), scales, -1); err == nil {
		t.Error("negative groups accepted")
	}
}

func TestCenter(t *testing.T) {
	const T = 35184368877569 // odd, the parameter sets' modulus
	for _, tc := range []struct {
		v, T uint64
		want int64
	}{
		{0, T, 0}, {1, T, 1}, {T - 1, T, -1}, {T - 12345, T, -12345},
		{T / 2, T, T / 2}, {T/2 + 1, T, -(T / 2)}, {T + 3, T, 3},
		{2, 4, 2}, {3, 4, -1}, {2, 5, 2}, {3, 5, -2},
		{math.MaxUint64, math.MaxUint64, 0}, {math.MaxUint64 - 1, math.MaxUint64, -1},
		{1 << 63, 0, math.MinInt64}, {5, 0, 5},
	} {
		if got := Center(tc.v, tc.T); got != tc.want {
			t.Errorf("Center(%d, %d) = %d, want %d", tc.v, tc.T, got, tc.want)
		}
	}
}

// testRoom is the deployed 45-bit modulus with collusion tolerance 1.
var testRoom = Room{Modulus: 35184368877569, Collusion: 1}
