package dp

import (
	"math"
	"math/big"

	"github.com/mpcq/mpcq/plan"
)

// exactWidthMaxScale is the largest scale HalfWidth95 computes exactly
// from the discrete distribution; above it, the continuous limit.
const exactWidthMaxScale = 1000

// HalfWidth95 returns the smallest integer h with P(|X| ≤ h) ≥ 0.95 for X
// the sum of noisyParties i.i.d. DLap(t): the 95% half-width of a total's
// noise, what a result's ± is. It is 0 for t = 0 or noisyParties ≤ 0, and
// nil for a nil or negative t.
//
// It is post-processing of public parameters, so it uses float64:
//
//   - For t ≤ 1000 it is computed from the discrete distribution itself.
//     DLap(t) is A − B for A, B i.i.d. geometric of ratio α = exp(−1/t),
//     so X = A − B for A, B i.i.d. negative binomial (the sum of
//     n = noisyParties such geometrics), and P(|X| ≤ h) =
//     Σ_b P(B=b)·(F(b+h) − F(b−h−1)) with F the negative binomial CDF
//     (truncated where its pmf falls below 1e-18); h is found by binary
//     search (exact up to float64 rounding in sums of probabilities).
//   - For larger t it uses the continuous limit: X/t → G1 − G2 with G1,
//     G2 i.i.d. Gamma(n, 1), whose upper tail for integer n is
//     P(G1 − G2 > q) = Σ_{m<n} Poisson(m; q) · Σ_{j ≤ n−1−m} C(n−1+j, j)/2^(n+j).
//     The 97.5% quantile q is found by bisection (to float64 precision,
//     keeping the end whose tail is at most 2.5%) and h = ⌈q·t⌉ exactly.
//     This is conservative: the discrete distribution is slightly more
//     concentrated than its limit (for n = 1, P(|X| > h) = α^h·2α/(1+α)
//     < α^h, the continuous tail), so h is at most a few units above the
//     exact value, e.g. ⌈t·ln 20⌉ for n = 1.
func HalfWidth95(t *big.Rat, noisyParties int) *big.Int {
	return halfWidth(t, noisyParties, 0.95)
}

// SumHalfWidth95 is the half-width that sum s's noise of scale t from
// noisyParties parties is given, so that the result's interval holds the
// true value with probability at least 95%: HalfWidth95 for a whole sum.
// For a digit of a sum split into k digits it is the half-width at
// 1 − 0.05/k: the recombined total's interval, Σ_d 2^(d·bits)·h_d
// (plan.FinishNoisy), then misses only if some digit's noise exceeds its
// h_d, with probability at most k·0.05/k by the union bound.
func SumHalfWidth95(s plan.Sum, t *big.Rat, noisyParties int) *big.Int {
	if !s.IsDigit() {
		return HalfWidth95(t, noisyParties)
	}
	return halfWidth(t, noisyParties, 1-0.05/float64(s.Digits))
}

// halfWidth is HalfWidth95 at confidence p (0.5 < p < 1).
func halfWidth(t *big.Rat, noisyParties int, p float64) *big.Int {
	if t == nil || t.Sign() < 0 {
		return nil
	}
	if t.Sign() == 0 || noisyParties <= 0 {
		return new(big.Int)
	}
	if t.Cmp(big.NewRat(exactWidthMaxScale, 1)) <= 0 {
		tf, _ := t.Float64()
		return big.NewInt(exactHalfWidth(tf, noisyParties, p))
	}
	q := new(big.Rat).SetFloat64(gammaDiffQuantile(noisyParties, (1-p)/2))
	q.Mul(q, t)
	h := new(big.Int).Quo(q.Num(), q.Denom()) // q > 0: floor
	if !q.IsInt() {
		h.Add(h, big.NewInt(1))
	}
	return h
}

// exactHalfWidth is the smallest h with P(|A − B| ≤ h) ≥ p for A, B
// i.i.d. negative binomial: the sum of n geometric variables of ratio
// exp(−1/t), P(A = a) = C(a+n−1, a)(1−α)^n α^a.
func exactHalfWidth(t float64, n int, p float64) int64 {
	alpha := math.Exp(-1 / t)
	if alpha == 0 {
		return 0 // all the mass at 0
	}
	// The pmf, in logs (P(0) = (1−α)^n underflows for large n·t), up to
	// where it is past its mode (below n·t) and below 1e-18: the mass left
	// is then about 1e-18/(1−α) ≈ 1e-18·t, negligible.
	ln, _ := math.Lgamma(float64(n))
	base := float64(n)*math.Log1p(-alpha) - ln
	var pmf []float64
	for a := 0; ; a++ {
		lan, _ := math.Lgamma(float64(a + n))
		la, _ := math.Lgamma(float64(a + 1))
		v := math.Exp(base + lan - la + float64(a)*math.Log(alpha))
		if a > 0 && float64(a) > float64(n)*t && v < 1e-18 {
			break
		}
		pmf = append(pmf, v)
	}
	cdf := make([]float64, len(pmf))
	acc := 0.0
	for i, v := range pmf {
		acc += v
		cdf[i] = acc
	}
	F := func(x int) float64 {
		switch {
		case x < 0:
			return 0
		case x >= len(cdf):
			return 1
		}
		return cdf[x]
	}
	within := func(h int) float64 {
		s := 0.0
		for b, pb := range pmf {
			s += pb * (F(b+h) - F(b-h-1))
		}
		return s
	}
	lo, hi := 0, len(pmf) // within(hi) ≈ 1
	for lo < hi {
		mid := (lo + hi) / 2
		if within(mid) >= p {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return int64(lo)
}

// gammaDiffQuantile returns q with P(G1 − G2 > q) ≤ tail (and the smallest
// such q to float64 precision), G1, G2 i.i.d. Gamma(n, 1), 0 < tail < 1/2.
func gammaDiffQuantile(n int, tail float64) float64 {
	// W[i] = Σ_{j ≤ i} C(n−1+j, j)/2^(n+j), in logs for large n.
	w := make([]float64, n)
	acc := 0.0
	for j := range n {
		lc, _ := math.Lgamma(float64(n + j))
		lj, _ := math.Lgamma(float64(j + 1))
		ln, _ := math.Lgamma(float64(n))
		acc += math.Exp(lc - lj - ln - float64(n+j)*math.Ln2)
		w[j] = acc
	}
	upper := func(q float64) float64 {
		s := 0.0
		for m := range n {
			lm, _ := math.Lgamma(float64(m + 1))
			s += math.Exp(-q+float64(m)*math.Log(q)-lm) * w[n-1-m]
		}
		return s
	}
	lo, hi := 0.0, 1.0
	for upper(hi) > tail {
		lo, hi = hi, 2*hi
	}
	for range 200 {
		mid := (lo + hi) / 2
		if mid <= lo || mid >= hi {
			break
		}
		if upper(mid) > tail {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
