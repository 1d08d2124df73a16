package dp

import (
	"fmt"
	"math"
	"math/big"
	"testing"
)

// halfWidthOf is the smallest h with P(|X| ≤ h) ≥ p under the pmf.
func halfWidthOf(d pmf, p float64) int64 {
	mid := -d.lo // index of 0
	for h := int64(0); ; h++ {
		s := 0.0
		for x := -h; x <= h; x++ {
			if i := mid + x; i >= 0 && i < int64(len(d.p)) {
				s += d.p[i]
			}
		}
		if s >= p {
			return h
		}
	}
}

// TestHalfWidth95Exact: for small scales it is the exact quantile of the
// convolved closed-form pmf.
func TestHalfWidth95Exact(t *testing.T) {
	for _, s := range []string{"1/1000", "1/2", "1", "7/3", "3", "10", "41/2"} {
		for _, n := range []int{1, 2, 3, 5} {
			t.Run(fmt.Sprintf("t=%s/n=%d", s, n), func(t *testing.T) {
				tf, _ := rat(s).Float64()
				want := halfWidthOf(sumOfDLap(tf, n), 0.95)
				if got := HalfWidth95(rat(s), n); got.Int64() != want {
					t.Errorf("HalfWidth95 = %s, want %d", got, want)
				}
			})
		}
	}
}

// TestHalfWidth95MonteCarlo: the sum of three parties' shares falls within
// ±h 95% of the time, and within ±(h−1) less often.
func TestHalfWidth95MonteCarlo(t *testing.T) {
	const n = 3
	scale := rat("3")
	h := HalfWidth95(scale, n).Int64()
	rngs := []*sampler{newSampler(seeded(31)), newSampler(seeded(32)), newSampler(seeded(33))}
	within, withinLess := 0, 0
	for range draws {
		sum := int64(0)
		for _, s := range rngs {
			x, err := s.laplace(scale)
			if err != nil {
				t.Fatal(err)
			}
			sum += x.Int64()
		}
		if abs := max(sum, -sum); abs <= h {
			within++
			if abs <= h-1 {
				withinLess++
			}
		}
	}
	sd := math.Sqrt(0.95 * 0.05 / draws)
	p, pLess := float64(within)/draws, float64(withinLess)/draws
	t.Logf("h = %d: P(|X| ≤ h) ≈ %.4f, P(|X| ≤ h−1) ≈ %.4f", h, p, pLess)
	if p < 0.95-4*sd {
		t.Errorf("P(|X| ≤ %d) ≈ %.4f, below 0.95", h, p)
	}
	if pLess >= 0.95+4*sd {
		t.Errorf("P(|X| ≤ %d) ≈ %.4f: h is not the smallest", h-1, pLess)
	}
}

// TestHalfWidth95Continuous: above the exact range, one party's noise
// gives ⌈t·ln 20⌉ (the Laplace quantile), and the continuous limit is
// conservative and tight where the exact computation ends.
func TestHalfWidth95Continuous(t *testing.T) {
	if q := gammaDiffQuantile(1, 0.025); math.Abs(q-math.Log(20)) > 1e-12 {
		t.Errorf("n=1 quantile %.15f, want ln 20 = %.15f", q, math.Log(20))
	}
	for _, s := range []string{"1001", "1000000", "30000000000", "1180591620717411303424/3"} {
		t.Run("t="+s, func(t *testing.T) {
			tf, _ := rat(s).Float64()
			want := tf * math.Log(20)
			got, _ := new(big.Float).SetInt(HalfWidth95(rat(s), 1)).Float64()
			if got < want*(1-1e-12) || got > want*(1+1e-12)+1 {
				t.Errorf("HalfWidth95 = %.0f, want ⌈t·ln 20⌉ ≈ %.3f", got, want)
			}
		})
	}
	// At t = 1000 compare the exact discrete value with the continuous
	// limit: it must be at least the exact value, and at most 2 above.
	for _, n := range []int{1, 2, 3, 5, 10} {
		t.Run(fmt.Sprintf("limit/n=%d", n), func(t *testing.T) {
			exact := exactHalfWidth(1000, n, 0.95)
			cont := int64(math.Ceil(1000 * gammaDiffQuantile(n, 0.025)))
			if cont < exact || cont > exact+2 {
				t.Errorf("continuous %d, exact %d", cont, exact)
			}
			if above := HalfWidth95(rat("1001"), n).Int64(); above < exact {
				t.Errorf("t=1001: %d below t=1000's %d", above, exact)
			}
		})
	}
}

func TestHalfWidth95Edges(t *testing.T) {
	if h := HalfWidth95(new(big.Rat), 3); h.Sign() != 0 {
		t.Errorf("t=0: %s", h)
	}
	if h := HalfWidth95(rat("5"), 0); h.Sign() != 0 {
		t.Errorf("no noisy party: %s", h)
	}
	if h := HalfWidth95(rat("-5"), 1); h != nil {
		t.Errorf("negative t: %s", h)
	}
	if h := HalfWidth95(rat("1000"), 200); h == nil || h.Sign() <= 0 {
		t.Errorf("200 parties at t=1000: %v", h) // (1−α)^n underflows in linear space
	}
}
