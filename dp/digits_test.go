package dp

import (
	"errors"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/plan"
)

// TestSplitNoiseRefused: a noisy answer over a sum split into digits is
// refused, by the scales every party and the coordinator compute, and so
// by FitsModulus before the ledger. Each digit is decrypted on its own:
// noise on digit 0 alone would leave digit 1 exact, and adding one person
// with a value of 2^bits or more moves it by a known amount. The same
// plan's whole sums (population small enough not to split) get scales.
func TestSplitNoiseRefused(t *testing.T) {
	p, err := plan.Parse("SELECT COUNT(*), VARIANCE(bank.balance) FROM bank", testConsortium)
	if err != nil {
		t.Fatal(err)
	}
	const T = 1 << 40
	if err := p.Fit(plan.Limits{Modulus: T, Entities: 10_000_000}, testConsortium); err != nil {
		t.Fatal(err)
	}
	if len(p.Sums()) <= 3 {
		t.Fatalf("nothing split: %v", p.Sums())
	}
	_, err = Scales(p, testConsortium, 1000)
	if !errors.Is(err, ErrSplitNoise) || !strings.Contains(err.Error(), "LEAST(bank.balance") {
		t.Fatalf("scales of a split plan: %v, want ErrSplitNoise saying how to fix it", err)
	}
	if err := FitsModulus(p, testConsortium, 10_000_000, T, 1000, 1); !errors.Is(err, ErrSplitNoise) {
		t.Fatalf("FitsModulus of a split plan: %v, want ErrSplitNoise", err)
	}
	// Exact answers over the same plan are not concerned.
	if err := FitsModulus(p, testConsortium, 10_000_000, T, 0, 1); err != nil {
		t.Fatalf("FitsModulus without noise: %v", err)
	}
	// The same query at a population where nothing splits has its scales.
	q, err := plan.Parse("SELECT COUNT(*), VARIANCE(bank.balance) FROM bank", testConsortium)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Fit(plan.Limits{Modulus: T, Entities: 1000}, testConsortium); err != nil {
		t.Fatal(err)
	}
	if len(q.Sums()) != 3 {
		t.Fatalf("split at 1000 people: %v", q.Sums())
	}
	if _, err := Scales(q, testConsortium, 1000); err != nil {
		t.Fatalf("scales of whole sums: %v", err)
	}
}
