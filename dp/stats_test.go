package dp

import (
	"io"
	"math"
	mrand "math/rand/v2"
	"testing"
)

// seeded is a deterministic randomness source: a ChaCha8 stream.
func seeded(seed uint64) io.Reader {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return mrand.NewChaCha8(s)
}

// pmf is a distribution on the integers lo, lo+1, …, lo+len(p)−1 (the
// mass outside is negligible).
type pmf struct {
	lo int64
	p  []float64
}

// dlapPMF is the closed form (1−α)/(1+α)·α^|x|, α = exp(−1/t), on
// |x| ≤ M with α^M below 1e-20.
func dlapPMF(t float64) pmf {
	alpha := math.Exp(-1 / t)
	m := int64(math.Ceil(20*math.Ln10*t)) + 1
	out := pmf{lo: -m, p: make([]float64, 2*m+1)}
	for x := -m; x <= m; x++ {
		out.p[x+m] = (1 - alpha) / (1 + alpha) * math.Pow(alpha, math.Abs(float64(x)))
	}
	return out
}

// convolve is the distribution of the sum of independent a and b.
func convolve(a, b pmf) pmf {
	out := pmf{lo: a.lo + b.lo, p: make([]float64, len(a.p)+len(b.p)-1)}
	for i, x := range a.p {
		for j, y := range b.p {
			out.p[i+j] += x * y
		}
	}
	return out
}

// sumOfDLap is the pmf of the sum of n i.i.d. DLap(t), by convolution.
func sumOfDLap(t float64, n int) pmf {
	one := dlapPMF(t)
	out := one
	for range n - 1 {
		out = convolve(out, one)
	}
	return out
}

// chiSquare returns Pearson's statistic of the observed counts against
// the target and its degrees of freedom. Bins: every value whose expected
// count is at least 5 on its own, the values below them pooled into one
// bin and those above into another (each merged into its neighbour when
// its own expectation is below 5).
func chiSquare(obs map[int64]int, n int, target pmf) (stat float64, df int) {
	type bin struct {
		exp float64
		obs int
	}
	var bins []bin
	var low, high bin
	first, last := -1, -1
	for i, p := range target.p {
		if p*float64(n) >= 5 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	for i, p := range target.p {
		switch {
		case i < first:
			low.exp += p * float64(n)
		case i > last:
			high.exp += p * float64(n)
		default:
			bins = append(bins, bin{exp: p * float64(n), obs: obs[target.lo+int64(i)]})
		}
	}
	for x, c := range obs {
		switch i := x - target.lo; {
		case i < int64(first):
			low.obs += c
		case i > int64(last):
			high.obs += c
		}
	}
	if low.exp >= 5 {
		bins = append([]bin{low}, bins...)
	} else {
		bins[0].exp += low.exp
		bins[0].obs += low.obs
	}
	if high.exp >= 5 {
		bins = append(bins, high)
	} else {
		bins[len(bins)-1].exp += high.exp
		bins[len(bins)-1].obs += high.obs
	}
	for _, b := range bins {
		d := float64(b.obs) - b.exp
		stat += d * d / b.exp
	}
	return stat, len(bins) - 1
}

// gammaQ is the regularized upper incomplete gamma function Q(a, x)
// (series below a+1, Lentz's continued fraction above).
func gammaQ(a, x float64) float64 {
	if x <= 0 {
		return 1
	}
	lg, _ := math.Lgamma(a)
	if x < a+1 {
		sum, term := 1/a, 1/a
		for n := 1.0; n < 1000; n++ {
			term *= x / (a + n)
			sum += term
			if term < sum*1e-16 {
				break
			}
		}
		return 1 - sum*math.Exp(-x+a*math.Log(x)-lg)
	}
	const tiny = 1e-300
	b := x + 1 - a
	c, d := 1/tiny, 1/b
	h := d
	for i := 1.0; i < 1000; i++ {
		an := -i * (i - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-16 {
			break
		}
	}
	return math.Exp(-x+a*math.Log(x)-lg) * h
}

// chiSquareCritical is the chi-square critical value of df degrees of
// freedom at level 1−alpha: the x with P(χ² > x) = alpha.
func chiSquareCritical(df int, alpha float64) float64 {
	lo, hi := 0.0, 1.0
	for gammaQ(float64(df)/2, hi/2) > alpha {
		hi *= 2
	}
	for range 200 {
		mid := (lo + hi) / 2
		if gammaQ(float64(df)/2, mid/2) > alpha {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

func TestChiSquareCritical(t *testing.T) {
	// Published values of the 0.999 quantile.
	for df, want := range map[int]float64{1: 10.828, 2: 13.816, 10: 29.588, 30: 59.703, 100: 149.449} {
		if got := chiSquareCritical(df, 0.001); math.Abs(got-want) > 0.002 {
			t.Errorf("df %d: critical value %.4f, want %.3f", df, got, want)
		}
	}
}
