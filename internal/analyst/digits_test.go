package analyst

import (
	"math/big"
	"testing"

	"github.com/mpcq/mpcq/dp"
	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/plan"
)

// TestNoisyDigits: the analyst's client decodes a noisy answer over a sum
// split into digits, each digit with noise of its own (possibly making it
// negative), recombines the total, and gives it the half-width
// Σ_d 2^(d·bits)·h_d, each h_d at 1 − 0.05/digits (dp.SumHalfWidth95).
func TestNoisyDigits(t *testing.T) {
	cs := gen.Consortium()
	const T = 35184368877569
	p, err := plan.Parse("SELECT SUM(bank.balance) FROM bank", cs)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Fit(plan.Limits{Modulus: T, Entities: 100_000_000}, cs); err != nil {
		t.Fatal(err)
	}
	sums := p.Sums()
	if len(sums) != 2 || !sums[0].IsDigit() || sums[1].Digit != 1 {
		t.Fatalf("sums %v, want SUM(bank.balance) in 2 digits", sums)
	}
	bits := sums[0].Bits
	got := map[plan.Sum][]uint64{sums[0]: {T - 95}, sums[1]: {7}}
	rows, _, ivs, err := finishNoisy(p, cs, got, T, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(7), uint(bits)), big.NewInt(95))
	if rows[0][0] != want.String() {
		t.Fatalf("noisy split sum %s, want 7·2^%d − 95 = %s", rows[0][0], bits, want)
	}
	scales, err := dp.Scales(p, cs, 1000, dp.Room{Modulus: T, Collusion: 1})
	if err != nil {
		t.Fatal(err)
	}
	h := new(big.Int)
	for i, s := range sums {
		hd := dp.SumHalfWidth95(s, scales[i], 2)
		if hd.Cmp(dp.HalfWidth95(scales[i], 2)) <= 0 {
			t.Errorf("digit %d's half-width %s is not wider than its 95%% one", i, hd)
		}
		h.Add(h, hd.Lsh(hd, uint(s.Digit*s.Bits)))
	}
	if ivs[0][0].HalfWidth != h.String() {
		t.Fatalf("half-width %s, want Σ 2^(d·bits)·h_d = %s", ivs[0][0].HalfWidth, h)
	}
}
