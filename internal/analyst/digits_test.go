package analyst

import (
	"errors"
	"testing"

	"github.com/mpcq/mpcq/dp"
	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/plan"
)

// TestNoisyDigitsRefused: the analyst's client does not decode a noisy
// answer over a sum split into digits (the coordinator and every party
// refuse such a query before it runs: dp.ErrSplitNoise); exact split sums
// are recombined (plan's TestFinishDigits).
func TestNoisyDigitsRefused(t *testing.T) {
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
	if len(sums) != 2 {
		t.Fatalf("sums %v, want SUM(bank.balance) in 2 digits", sums)
	}
	got := map[plan.Sum][]uint64{sums[0]: {T - 95}, sums[1]: {7}}
	if _, _, _, err := finishNoisy(p, cs, got, T, 1000, 1); !errors.Is(err, dp.ErrSplitNoise) {
		t.Fatalf("noisy split sum decoded: %v, want dp.ErrSplitNoise", err)
	}
}
