package dp

import (
	"crypto/rand"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/plan"
)

// TestDigitNoise: a sum split into digits carries its noise in digit 0
// only, at the whole sum's scale (its Δ, ε split over the whole sums, not
// the digits); the other digits get scale 0 and so no noise at all.
func TestDigitNoise(t *testing.T) {
	p, err := plan.Parse("SELECT COUNT(*), VARIANCE(bank.balance) FROM bank", testConsortium)
	if err != nil {
		t.Fatal(err)
	}
	// 1000² × 10^7 entities > T: the sum of squares splits, in 2 digits
	// of 10 bits (10^7 × (2^15 − 1) ≤ T/2).
	const T = 1 << 40
	const n = 10_000_000
	if err := p.Fit(plan.Limits{Modulus: T, Entities: n}, testConsortium); err != nil {
		t.Fatal(err)
	}
	sums := p.Sums()
	if len(sums) <= 3 {
		t.Fatalf("nothing split: %v", sums)
	}
	const eps = 1000
	scales, err := Scales(p, testConsortium, eps)
	if err != nil {
		t.Fatal(err)
	}
	// The unsplit plan's scales: K = 3 whole sums.
	whole, err := SumScales(p.WholeSums(), testConsortium, eps)
	if err != nil {
		t.Fatal(err)
	}
	wholeScale := map[plan.Sum]*big.Rat{}
	for i, s := range p.WholeSums() {
		wholeScale[s] = whole[i]
	}
	for i, s := range sums {
		want := wholeScale[s.Whole()]
		if s.IsDigit() && s.Digit > 0 {
			want = new(big.Rat)
		}
		if scales[i].Cmp(want) != 0 {
			t.Errorf("%s: scale %s, want %s", s.Label(), scales[i].RatString(), want.RatString())
		}
	}
	// The noise drawn: digits above 0 get none, in every group.
	const groups = 3
	noise, err := Shares(rand.Reader, scales, groups)
	if err != nil {
		t.Fatal(err)
	}
	var digit0 bool
	for j, x := range noise {
		s := sums[j%len(sums)]
		if s.IsDigit() && s.Digit > 0 && x.Sign() != 0 {
			t.Fatalf("%s of group %d got noise %s", s.Label(), j/len(sums), x)
		}
		digit0 = digit0 || (s.IsDigit() && s.Digit == 0 && x.Sign() != 0)
	}
	if !digit0 {
		t.Error("no digit 0 got noise (scale 10^6·3: the chance of three zeros is negligible)")
	}
	// FitsModulus: digit 0's bound N·(2^bits − 1) ≈ 10^10 plus twice the
	// whole sum's noise bound. The sum of squares's scale is 3·10^6 at
	// ε 1; two noisy parties: 2.4·10^8 each side, well within T.
	if err := FitsModulus(p, testConsortium, n, T, eps, 1); err != nil {
		t.Fatalf("FitsModulus: %v", err)
	}
	// At ε 0.001 with five noisy parties the bound is 6·10^11 each side:
	// with digit 0's total it does not fit below T, refused naming digit 0.
	err = FitsModulus(p, testConsortium, n, T, 1, 4)
	if !errors.Is(err, ErrNoiseTooWide) || !strings.Contains(err.Error(), "digit 0 of 2") {
		t.Fatalf("FitsModulus at ε 0.001: %v, want ErrNoiseTooWide about digit 0", err)
	}
}
