package dp

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/plan"
)

// TestSplitNoiseScales plays the analyst who adds one person with a large
// value and reads the digits of a split sum one by one (each is packed
// and decrypted on its own). Every digit must carry noise calibrated to
// what that person can move it by, and the ε spent over the digits must
// add up to the whole sum's share, no more:
//
//   - every digit's scale is positive (an exact digit 1 was the bug this
//     guards against: one person's value ≥ 2^bits moves it by a known
//     amount);
//   - Σ_d Δ_d/t_d = ε/K exactly, Δ_d the most one person's digit d can
//     be, found here by brute force over a small column's values and by
//     its definition for the large ones;
//   - the recombined total's noise, Σ_d 2^(d·bits)·N_d, has a standard
//     deviation within 5% of the whole sum's unsplit (scale Δ·K/ε);
//   - FitsModulus accepts the split plan at ε 1, and refuses it with
//     ErrNoiseTooWide where the digits' noise would wrap the modulus.
func TestSplitNoiseScales(t *testing.T) {
	p, err := plan.Parse("SELECT COUNT(*), VARIANCE(bank.balance), SUM(telecom.minutes), VARIANCE(telecom.minutes) FROM bank JOIN telecom USING (pid)", testConsortium)
	if err != nil {
		t.Fatal(err)
	}
	const T = 1 << 40
	const people = 10_000_000
	if err := p.Fit(plan.Limits{Modulus: T, Entities: people}, testConsortium); err != nil {
		t.Fatal(err)
	}
	sums := p.Sums()
	if len(sums) <= 3 {
		t.Fatalf("nothing split: %v", sums)
	}
	for _, epsMilli := range []uint64{1000, 250, 7000} {
		scales, err := Scales(p, testConsortium, epsMilli, Room{Modulus: T, Collusion: 1})
		if err != nil {
			t.Fatalf("ε %d/1000: %v", epsMilli, err)
		}
		whole := map[plan.Sum]bool{}
		for _, s := range sums {
			whole[s.Whole()] = true
		}
		share := new(big.Rat).SetFrac64(int64(epsMilli), int64(1000*len(whole))) // ε/K
		spent := map[plan.Sum]*big.Rat{}
		noise := map[plan.Sum]*big.Rat{}
		for i, s := range sums {
			w := s.Whole()
			full, err := Sensitivity(w, testConsortium)
			if err != nil {
				t.Fatal(err)
			}
			if !s.IsDigit() {
				if want := new(big.Rat).Quo(new(big.Rat).SetInt(full), share); scales[i].Cmp(want) != 0 {
					t.Errorf("ε %d/1000: whole %s scale %s, want Δ·K/ε = %s", epsMilli, s.Label(), scales[i].RatString(), want.RatString())
				}
				continue
			}
			if scales[i].Sign() <= 0 {
				t.Fatalf("ε %d/1000: %s carries no noise (scale %s)", epsMilli, s.Label(), scales[i].RatString())
			}
			// Δ_d by its definition: the largest digit d of any value in
			// [0, Δ], which is 2^bits − 1 unless Δ's own top digits are
			// smaller.
			dd := new(big.Int).Rsh(full, uint(s.Digit*s.Bits))
			if lim := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(s.Bits)), big.NewInt(1)); dd.Cmp(lim) > 0 {
				dd = lim
			}
			if spent[w] == nil {
				spent[w], noise[w] = new(big.Rat), new(big.Rat)
			}
			spent[w].Add(spent[w], new(big.Rat).Quo(new(big.Rat).SetInt(dd), scales[i]))
			// Var(N_d) ∝ t_d²: the recombined variance ∝ Σ (2^(d·bits)·t_d)².
			x := new(big.Rat).Mul(scales[i], new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), uint(s.Digit*s.Bits))))
			noise[w].Add(noise[w], x.Mul(x, x))
		}
		if len(spent) == 0 {
			t.Fatal("no split sum")
		}
		for w, e := range spent {
			if e.Cmp(share) != 0 {
				t.Errorf("ε %d/1000: the digits of %s spend ε %s, want ε/K = %s", epsMilli, w.Label(), e.RatString(), share.RatString())
			}
			full, _ := Sensitivity(w, testConsortium)
			unsplit := new(big.Rat).Quo(new(big.Rat).SetInt(full), share)
			r2, _ := new(big.Rat).Quo(noise[w], new(big.Rat).Mul(unsplit, unsplit)).Float64()
			if r := math.Sqrt(r2); r > 1.05 {
				t.Errorf("ε %d/1000: %s's recombined noise has %.4f× the unsplit one's standard deviation", epsMilli, w.Label(), r)
			} else {
				t.Logf("ε %d/1000: %s's recombined noise: %.4f× the unsplit standard deviation", epsMilli, w.Label(), r)
			}
		}
	}
	if err := FitsModulus(p, testConsortium, people, T, 1000, 1); err != nil {
		t.Fatalf("FitsModulus of the split plan at ε 1: %v", err)
	}
	if err := FitsModulus(p, testConsortium, people, T, 0, 1); err != nil {
		t.Fatalf("FitsModulus without noise: %v", err)
	}
	// At 1,000 people and the deployed 45-bit modulus the digits are wide
	// (22 bits for SUM(telecom.minutes)), and so is the noise of the
	// lower digits, whose share of ε is smallest: it fits at ε 1 and
	// not at ε 0.001, which is refused with the digit named.
	const T45 = 35184368877569
	small, err := plan.Parse("SELECT VARIANCE(telecom.minutes) FROM telecom", testConsortium)
	if err != nil {
		t.Fatal(err)
	}
	if err := small.Fit(plan.Limits{Modulus: T45, Entities: 1000}, testConsortium); err != nil {
		t.Fatal(err)
	}
	if err := FitsModulus(small, testConsortium, 1000, T45, 1000, 2); err != nil {
		t.Fatalf("FitsModulus at 1,000 people, ε 1: %v", err)
	}
	if err := FitsModulus(small, testConsortium, 1000, T45, 1, 2); !errors.Is(err, ErrNoiseTooWide) || !strings.Contains(err.Error(), "digit") {
		t.Fatalf("FitsModulus at 1,000 people, ε 0.001: %v, want ErrNoiseTooWide naming the digit", err)
	}
}

// TestDigitSensitivityBruteForce: Δ_d is the most digit d of any value in
// [0, Δ] can be, checked over every value for small Δ and bases.
func TestDigitSensitivityBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		full := r.Int64N(5000) + 1
		bits := r.IntN(6) + 1
		for d := 0; d*bits < 13; d++ {
			var want int64
			for v := int64(0); v <= full; v++ {
				want = max(want, (v>>(d*bits))&(1<<bits-1))
			}
			if got := digitSensitivity(big.NewInt(full), d, bits); got.Int64() != want {
				t.Fatalf("Δ %d, digit %d of %d bits: %s, want %d", full, d, bits, got, want)
			}
		}
	}
}

// TestDigitWeights: the weights are positive, deterministic integers, the
// top digit's is digitWeightUnit, and no lower digit weighs more than a
// higher one.
func TestDigitWeights(t *testing.T) {
	for _, tc := range []struct {
		full       *big.Int
		digits     int
		bits       int
		want       []int64
		wantSum    int64
		whyComment string
	}{
		{big.NewInt(1<<34 - 1), 2, 17, []int64{1, 1024}, 1025, "2^17 apart: the floor"},
		{big.NewInt(1<<12 - 1), 3, 4, []int64{25, 161, 1024}, 1210, "2^4 apart: 1024·2^(−8/3), 1024·2^(−16/3)"},
		{big.NewInt(1<<8 + 1), 2, 8, []int64{1021, 1024}, 2045, "the top digit is 1: w_1 = 256, w_0 = 255"},
	} {
		q, sum := digitWeights(tc.full, tc.digits, tc.bits)
		var got []int64
		for _, x := range q {
			got = append(got, x.Int64())
		}
		if sum.Int64() != tc.wantSum || len(got) != len(tc.want) {
			t.Errorf("%s: weights %v (Σ %s), want %v (Σ %d)", tc.whyComment, got, sum, tc.want, tc.wantSum)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: weights %v, want %v", tc.whyComment, got, tc.want)
				break
			}
		}
	}
	for _, x := range []int64{0, 1, 7, 8, 26, 27, 1 << 30, 1<<30 - 1} {
		c := cubeRoot(big.NewInt(x)).Int64()
		if c*c*c > x || (c+1)*(c+1)*(c+1) <= x {
			t.Errorf("∛%d = %d", x, c)
		}
	}
}
