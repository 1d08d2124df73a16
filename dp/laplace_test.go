package dp

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"testing"
)

// draws is the number of seeded samples each goodness-of-fit test takes.
const draws = 200_000

// histogram draws n samples of sample() into a histogram.
func histogram(t *testing.T, n int, sample func() (*big.Int, error)) map[int64]int {
	t.Helper()
	h := map[int64]int{}
	for range n {
		x, err := sample()
		if err != nil {
			t.Fatal(err)
		}
		if !x.IsInt64() {
			t.Fatalf("sample %s out of range", x)
		}
		h[x.Int64()]++
	}
	return h
}

// TestDiscreteLaplaceFits: single samples of DLap(t) at several scales
// fit the closed-form pmf (chi-square below the 0.999 critical value),
// and a target whose scale is 20% off is rejected.
func TestDiscreteLaplaceFits(t *testing.T) {
	for i, tc := range []struct{ num, den int64 }{{1, 2}, {3, 1}, {7, 3}} {
		scale := big.NewRat(tc.num, tc.den)
		t.Run("t="+scale.RatString(), func(t *testing.T) {
			rng := seeded(uint64(100 + i))
			h := histogram(t, draws, func() (*big.Int, error) { return DiscreteLaplace(rng, scale) })
			tf, _ := scale.Float64()
			stat, df := chiSquare(h, draws, dlapPMF(tf))
			crit := chiSquareCritical(df, 0.001)
			t.Logf("chi-square %.1f on %d df (critical %.1f)", stat, df, crit)
			if stat >= crit {
				t.Errorf("DLap(%s) does not fit its pmf: chi-square %.1f >= %.1f on %d df", scale.RatString(), stat, crit, df)
			}
			wrong, wdf := chiSquare(h, draws, dlapPMF(1.2*tf))
			t.Logf("20%% wrong scale: chi-square %.1f on %d df", wrong, wdf)
			if wc := chiSquareCritical(wdf, 0.001); wrong < wc {
				t.Errorf("a 20%% wrong scale is not rejected: chi-square %.1f < %.1f on %d df", wrong, wc, wdf)
			}
		})
	}
}

// TestSumOfSharesFits is the distributed noise's guarantee: with N = 3
// parties and collusion tolerance k = 2, all three add noise, and the sum
// of their shares of a total is distributed as the sum of three i.i.d.
// DLap(t) (computed independently, by convolving the closed-form pmf).
// A target of the wrong scale (20% off) is rejected.
func TestSumOfSharesFits(t *testing.T) {
	const parties, k = 3, 2
	for i, tc := range []struct{ num, den int64 }{{3, 1}, {7, 3}} {
		scale := big.NewRat(tc.num, tc.den)
		t.Run("t="+scale.RatString(), func(t *testing.T) {
			rngs := make([]io.Reader, parties)
			for r := range parties {
				rngs[r] = seeded(uint64(1000*(i+1) + r))
			}
			h := histogram(t, draws, func() (*big.Int, error) {
				sum := new(big.Int)
				for r := range parties {
					if !Noisy(r, k) {
						continue
					}
					sh, err := Shares(rngs[r], []*big.Rat{scale}, 1)
					if err != nil {
						return nil, err
					}
					sum.Add(sum, sh[0])
				}
				return sum, nil
			})
			tf, _ := scale.Float64()
			stat, df := chiSquare(h, draws, sumOfDLap(tf, parties))
			crit := chiSquareCritical(df, 0.001)
			t.Logf("chi-square %.1f on %d df (critical %.1f)", stat, df, crit)
			if stat >= crit {
				t.Errorf("sum of %d shares does not fit: chi-square %.1f >= %.1f on %d df", parties, stat, crit, df)
			}
			wrong, wdf := chiSquare(h, draws, sumOfDLap(1.2*tf, parties))
			t.Logf("20%% wrong scale: chi-square %.1f on %d df", wrong, wdf)
			if wc := chiSquareCritical(wdf, 0.001); wrong < wc {
				t.Errorf("a 20%% wrong scale is not rejected: chi-square %.1f < %.1f on %d df", wrong, wc, wdf)
			}
			// Two noisy parties instead of three is also rejected.
			fewer, fdf := chiSquare(h, draws, sumOfDLap(tf, parties-1))
			t.Logf("2 noises instead of 3: chi-square %.1f on %d df", fewer, fdf)
			if fc := chiSquareCritical(fdf, 0.001); fewer < fc {
				t.Errorf("the sum of 2 noises is not rejected: chi-square %.1f < %.1f on %d df", fewer, fc, fdf)
			}
		})
	}
}

// TestBernoulliExp checks Algorithm 1's frequency, including γ > 1.
func TestBernoulliExp(t *testing.T) {
	for i, g := range []struct{ n, d int64 }{{0, 1}, {1, 3}, {1, 1}, {5, 2}} {
		t.Run(fmt.Sprintf("γ=%d/%d", g.n, g.d), func(t *testing.T) {
			s := newSampler(seeded(uint64(200 + i)))
			hits := 0
			for range draws {
				ok, err := s.bernoulliExp(big.NewInt(g.n), big.NewInt(g.d))
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					hits++
				}
			}
			p := math.Exp(-float64(g.n) / float64(g.d))
			sd := math.Sqrt(p * (1 - p) / draws)
			if got := float64(hits) / draws; math.Abs(got-p) > 4*sd+1e-12 {
				t.Errorf("frequency %.5f, want %.5f ± %.5f", got, p, 4*sd)
			}
		})
	}
}

// TestUniformBigIsUniform: rejection sampling above 64 bits covers the
// range evenly (residues mod 3 of a range that is a multiple of 3).
func TestUniformBigIsUniform(t *testing.T) {
	n := new(big.Int).Lsh(big.NewInt(3), 70) // 3·2^70: top byte partially masked
	s := newSampler(seeded(7))
	var counts [3]int
	three := big.NewInt(3)
	for range 30_000 {
		u, err := s.uniform(n)
		if err != nil {
			t.Fatal(err)
		}
		if u.Sign() < 0 || u.Cmp(n) >= 0 {
			t.Fatalf("uniform %s outside [0, %s)", u, n)
		}
		counts[new(big.Int).Mod(u, three).Int64()]++
	}
	for r, c := range counts {
		if math.Abs(float64(c)-10_000) > 4*math.Sqrt(10_000*2.0/3) {
			t.Errorf("residue %d: %d of 30000", r, c)
		}
	}
}

// TestDiscreteLaplaceHugeScale: a scale beyond 64 bits (the sum of squares
// of a large int64 column) samples through the big-integer path with
// the right magnitude.
func TestDiscreteLaplaceHugeScale(t *testing.T) {
	scale := new(big.Rat).SetFrac(new(big.Int).Lsh(big.NewInt(1), 130), big.NewInt(3))
	rng := seeded(9)
	sumAbs := new(big.Float)
	const n = 2000
	for range n {
		x, err := DiscreteLaplace(rng, scale)
		if err != nil {
			t.Fatal(err)
		}
		sumAbs.Add(sumAbs, new(big.Float).SetInt(new(big.Int).Abs(x)))
	}
	// E|X| ≈ t for large t; the mean of 2000 is within 10% w.h.p.
	mean, _ := new(big.Float).Quo(sumAbs, big.NewFloat(n)).Float64()
	tf, _ := scale.Float64()
	if r := mean / tf; r < 0.9 || r > 1.1 {
		t.Errorf("mean |X| / t = %.3f, want about 1", r)
	}
}

type failingReader struct{}

var errRead = errors.New("no entropy")

func (failingReader) Read([]byte) (int, error) { return 0, errRead }

func TestDiscreteLaplaceErrors(t *testing.T) {
	if _, err := DiscreteLaplace(seeded(1), big.NewRat(-1, 2)); !errors.Is(err, ErrScale) {
		t.Errorf("negative scale: got %v, want ErrScale", err)
	}
	if _, err := DiscreteLaplace(seeded(1), nil); !errors.Is(err, ErrScale) {
		t.Errorf("nil scale: got %v, want ErrScale", err)
	}
	if _, err := DiscreteLaplace(failingReader{}, big.NewRat(3, 1)); !errors.Is(err, errRead) {
		t.Errorf("failing rng: got %v, want it wrapped", err)
	}
	if x, err := DiscreteLaplace(failingReader{}, new(big.Rat)); err != nil || x.Sign() != 0 {
		t.Errorf("zero scale: got %v, %v, want 0", x, err)
	}
}
