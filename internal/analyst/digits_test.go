package analyst

import (
	"testing"

	"github.com/mpcq/mpcq/dp"
	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/plan"
)

// TestFinishNoisyDigits decodes a noisy split sum as the analyst does:
// digit 0 carries the noise (here negative, so it decrypts near T) and is
// decoded signed with the whole sum's noise bound, the other digits are
// exact; the recombined answer is the true total plus the noise, with the
// whole sum's half-width.
func TestFinishNoisyDigits(t *testing.T) {
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
	if len(sums) != 2 || sums[0].Bits != 13 {
		t.Fatalf("sums %v, want SUM(bank.balance) in 2 digits of 13 bits", sums)
	}
	const eps, k = 1000, 1
	if err := dp.FitsModulus(p, cs, 100_000_000, T, eps, k); err != nil {
		t.Fatal(err)
	}
	// True digit totals 5 and 7 (the total 7·2^13 + 5 = 57,349), noise −100
	// in digit 0 only.
	got := map[plan.Sum][]uint64{sums[0]: {T - 95}, sums[1]: {7}}
	rows, _, ivs, err := finishNoisy(p, cs, got, T, eps, k)
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "57249" {
		t.Fatalf("noisy SUM %s, want 57349 − 100 = 57249", rows[0][0])
	}
	scales, _ := dp.SumScales(p.WholeSums(), cs, eps)
	if want := dp.HalfWidth95(scales[0], k+1).String(); ivs[0][0].HalfWidth != want {
		t.Fatalf("half-width %s, want the whole sum's %s", ivs[0][0].HalfWidth, want)
	}
}
