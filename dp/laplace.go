package dp

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/bits"
)

// ErrScale is wrapped by the errors of a noise scale that is nil or
// negative.
var ErrScale = errors.New("invalid noise scale")

// DiscreteLaplace returns one exact sample of the discrete Laplace
// distribution of scale t > 0, P(x) ∝ exp(−|x|/t) for x ∈ Z, drawing its
// randomness from rng. A zero scale returns 0 (the limit as t → 0, for a
// sum whose sensitivity is zero); a nil or negative one is an error
// wrapping ErrScale, and a failing rng is an error wrapping its error.
//
// It is Algorithm 2 of Canonne, Kamath and Steinke, "The Discrete Gaussian
// for Differential Privacy" (NeurIPS 2020, arXiv:2004.00010), for
// t = num/den in lowest terms:
//
//  1. U ← uniform {0, …, num−1}; D ← Bernoulli(exp(−U/num)); if D = 0
//     start again.
//  2. V ← the number of successes of Bernoulli(exp(−1)) before the first
//     failure (a geometric variable).
//  3. X ← U + num·V (geometric with ratio exp(−1/num)); Y ← ⌊X/den⌋
//     (geometric with ratio exp(−1/t)).
//  4. B ← Bernoulli(1/2); if B = 1 and Y = 0 start again; return (1−2B)·Y.
//
// Bernoulli(exp(−γ)) for rational γ = n/d is their Algorithm 1: for
// γ ≤ 1, draw Bernoulli(γ/k) for k = 1, 2, … until the first failure and
// return 1 iff that k is odd; for γ > 1, ⌊γ⌋ draws of Bernoulli(exp(−1))
// then one of Bernoulli(exp(−(γ−⌊γ⌋))), all of which must succeed.
// Bernoulli(n/d) compares a uniform integer of {0, …, d−1} with n, and
// uniform integers are drawn by rejection sampling (the fewest whole bytes
// that cover the range, masked to its bit length, redrawn when too large),
// so there is no modulo bias. Every step is integer arithmetic: the
// output distribution is exactly DLap(t), with no floating point
// anywhere. A loop iteration is accepted with probability at least
// (1−e^−1)·(1+α)/2, α = exp(−1/t), so it takes at most 2/(1−e^−1) ≈ 3.2
// iterations on average for every t, each a few Bernoulli draws of a few
// bytes of rng.
func DiscreteLaplace(rng io.Reader, t *big.Rat) (*big.Int, error) {
	return newSampler(rng).laplace(t)
}

// sampler draws from one randomness source, reusing scratch integers.
type sampler struct {
	rng      io.Reader
	buf      [8]byte
	bytes    []byte
	u, d, tt *big.Int
}

func newSampler(rng io.Reader) *sampler {
	return &sampler{rng: rng, u: new(big.Int), d: new(big.Int), tt: new(big.Int)}
}

// laplace is DiscreteLaplace on this sampler.
func (s *sampler) laplace(t *big.Rat) (*big.Int, error) {
	if t == nil || t.Sign() < 0 {
		return nil, fmt.Errorf("%w: %v is not a non-negative rational", ErrScale, t)
	}
	if t.Sign() == 0 {
		return new(big.Int), nil
	}
	num, den := t.Num(), t.Denom()
	one := big.NewInt(1)
	for {
		u, err := s.uniform(num)
		if err != nil {
			return nil, err
		}
		ok, err := s.bernoulliExp(u, num)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		var v uint64
		for {
			ok, err := s.bernoulliExp(one, one)
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			v++
		}
		y := new(big.Int).SetUint64(v)
		y.Mul(y, num).Add(y, u).Quo(y, den)
		b, err := s.uniform64(2)
		if err != nil {
			return nil, err
		}
		if b == 1 {
			if y.Sign() == 0 {
				continue
			}
			y.Neg(y)
		}
		return y, nil
	}
}

// bernoulliExp returns true with probability exp(−n/d), n ≥ 0, d > 0
// (Canonne, Kamath and Steinke 2020, Algorithm 1).
func (s *sampler) bernoulliExp(n, d *big.Int) (bool, error) {
	if n.Cmp(d) > 0 {
		q, r := new(big.Int).QuoRem(n, d, new(big.Int))
		one := big.NewInt(1)
		for i := new(big.Int); i.Cmp(q) < 0; i.Add(i, one) {
			ok, err := s.bernoulliExp(one, one)
			if err != nil || !ok {
				return false, err
			}
		}
		return s.bernoulliExp(r, d)
	}
	// γ = n/d ≤ 1: K is the index of the first failure of Bernoulli(γ/k).
	k := uint64(1)
	for {
		s.d.SetUint64(k)
		s.d.Mul(s.d, d)
		ok, err := s.bernoulli(n, s.d)
		if err != nil {
			return false, err
		}
		if !ok {
			return k%2 == 1, nil
		}
		k++
	}
}

// bernoulli returns true with probability n/d, 0 ≤ n ≤ d, d > 0.
func (s *sampler) bernoulli(n, d *big.Int) (bool, error) {
	if n.Sign() == 0 {
		return false, nil
	}
	if d.IsUint64() {
		u, err := s.uniform64(d.Uint64())
		return u < n.Uint64(), err
	}
	u, err := s.uniformInto(s.u, d)
	if err != nil {
		return false, err
	}
	return u.Cmp(n) < 0, nil
}

// uniform returns a fresh uniform integer of {0, …, n−1}, n > 0.
func (s *sampler) uniform(n *big.Int) (*big.Int, error) {
	if n.IsUint64() {
		u, err := s.uniform64(n.Uint64())
		return new(big.Int).SetUint64(u), err
	}
	return s.uniformInto(new(big.Int), n)
}

// uniform64 returns a uniform integer of {0, …, n−1}, n > 0, by rejection
// sampling: the fewest bytes that hold n−1, masked to its bit length.
func (s *sampler) uniform64(n uint64) (uint64, error) {
	if n <= 1 {
		return 0, nil
	}
	l := bits.Len64(n - 1)
	nb := (l + 7) / 8
	mask := uint64(1)<<l - 1
	if l == 64 {
		mask = ^uint64(0)
	}
	for {
		if _, err := io.ReadFull(s.rng, s.buf[:nb]); err != nil {
			return 0, fmt.Errorf("reading randomness: %w", err)
		}
		var v uint64
		for i := range nb {
			v |= uint64(s.buf[i]) << (8 * i)
		}
		if v &= mask; v < n {
			return v, nil
		}
	}
}

// uniformInto sets z to a uniform integer of {0, …, n−1}, n > 0, by
// rejection sampling, and returns it.
func (s *sampler) uniformInto(z, n *big.Int) (*big.Int, error) {
	top := s.tt.Sub(n, big.NewInt(1))
	l := top.BitLen()
	nb := (l + 7) / 8
	if cap(s.bytes) < nb {
		s.bytes = make([]byte, nb)
	}
	b := s.bytes[:nb]
	for {
		if _, err := io.ReadFull(s.rng, b); err != nil {
			return nil, fmt.Errorf("reading randomness: %w", err)
		}
		if r := l % 8; r != 0 {
			b[0] &= byte(1)<<r - 1 // big-endian: b[0] is the top byte
		}
		if z.SetBytes(b); z.Cmp(top) <= 0 {
			return z, nil
		}
	}
}
