package dp

import (
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

// ErrNoEpsilon is returned when noise scales are asked for with ε = 0,
// which means exact totals: no noise to calibrate.
var ErrNoEpsilon = errors.New("epsilon is zero: exact totals have no noise scale")

// ErrSplitNoise is returned when noise scales are asked for a plan with a
// sum split into digits. Each digit's total is packed and decrypted on its
// own, so the analyst would see every digit; noise on digit 0 alone would
// leave the higher digits exact, and they change by a known amount when
// one person with a large value is added or removed: that is no
// differential privacy. Until the digits carry noise of their own (and the
// ε is spent across them), a noisy answer needs sums that fit whole.
var ErrSplitNoise = errors.New("a noisy answer over a sum split into digits")

// Sensitivity returns Δ_s, the most one person can change sum s of one
// group (adding or removing them): 1 for plan.SumCount, the declared Max
// of the column for plan.SumValue (values are non-negative, Min ≥ 0),
// Max² for plan.SumSquares. A column the consortium lacks, or that is not
// an int column, is an error wrapping plan.ErrUnknownName.
//
// For a digit of a split sum it is the whole sum's Δ: the noise of a
// split sum belongs to its recombined total (see SumScales).
func Sensitivity(s plan.Sum, cs schema.Consortium) (*big.Int, error) {
	s = s.Whole()
	if s.Kind == plan.SumCount {
		return big.NewInt(1), nil
	}
	t, ok := cs.Table(s.Table)
	var col schema.Column
	if ok {
		col, ok = t.Column(s.Column)
	}
	if !ok || col.Kind != schema.KindInt || col.Min < 0 || col.Max < 0 {
		return nil, fmt.Errorf("%w: sensitivity of %s over %s.%s: not a non-negative int column of the consortium",
			plan.ErrUnknownName, s.Kind, s.Table, s.Column)
	}
	m := big.NewInt(col.Max)
	if s.Clip > 0 && s.Clip < col.Max {
		m = big.NewInt(s.Clip) // LEAST(t.c, clip): one person adds at most clip
	}
	switch s.Kind {
	case plan.SumValue:
		return m, nil
	case plan.SumSquares:
		return m.Mul(m, m), nil
	}
	return nil, fmt.Errorf("%w: sensitivity of sum kind %q over %s.%s: unknown kind", plan.ErrUnsupported, s.Kind, s.Table, s.Column)
}

// Scales returns the discrete Laplace scale of each of the plan's sums, in
// plan.Plan.Sums order: t_s = Δ_s·K·1000/epsilonMilli with K the number of
// sums (ε = epsilonMilli/1000 split equally between them, groups being
// disjoint). epsilonMilli = 0 is an error wrapping ErrNoEpsilon.
func Scales(p *plan.Plan, cs schema.Consortium, epsilonMilli uint64) ([]*big.Rat, error) {
	return SumScales(p.Sums(), cs, epsilonMilli)
}

// SumScales is Scales for a list of sums (a plan's, in its order): the
// one formula t_s = Δ_s·K·1000/epsilonMilli, K the number of whole sums
// (a sum split into digits counts once: its digits are one release).
//
// A list with a sum split into digits is refused (ErrSplitNoise): the
// digits are released one by one, so noise on their recombined total alone
// would not protect them.
func SumScales(sums []plan.Sum, cs schema.Consortium, epsilonMilli uint64) ([]*big.Rat, error) {
	if epsilonMilli == 0 {
		return nil, ErrNoEpsilon
	}
	for _, s := range sums {
		if s.IsDigit() {
			w := s.Whole()
			return nil, fmt.Errorf("%w is refused: %s is split into %d digits of %d bits at this population, and each digit would be released on its own with no noise above digit 0; ask for an exact answer under a warrant, or bound the column with LEAST(%s.%s, N) so that the sum fits whole",
				ErrSplitNoise, w.Label(), s.Digits, s.Bits, w.Table, w.Column)
		}
	}
	eps := new(big.Int).SetUint64(epsilonMilli)
	whole := map[plan.Sum]bool{}
	for _, s := range sums {
		whole[s.Whole()] = true
	}
	k := big.NewInt(int64(len(whole)) * 1000)
	out := make([]*big.Rat, len(sums))
	for i, s := range sums {
		d, err := Sensitivity(s, cs)
		if err != nil {
			return nil, fmt.Errorf("noise scale of sum %d: %w", i, err)
		}
		out[i] = new(big.Rat).SetFrac(d.Mul(d, k), eps)
	}
	return out, nil
}

// Noisy reports whether the party at rank (0-based, in the sorted list of
// all the consortium's parties) adds noise to a query of collusion
// tolerance k: the parties of rank 0 to k do, k+1 of them.
func Noisy(rank, k int) bool { return rank >= 0 && rank <= k }

// Shares draws one party's noise: one DLap(scales[s]) value per packed
// total, in packed order, total j = g·len(scales) + s for group g and sum
// s (group-major), len(scales)·groups values in all; a query packed into
// several ciphertexts passes each its chunk (mpc.Params.PackedChunk) as
// DecryptShare's noise. Errors wrap ErrScale or the rng's error.
func Shares(rng io.Reader, scales []*big.Rat, groups int) ([]*big.Int, error) {
	if groups < 0 {
		return nil, fmt.Errorf("noise for %d groups", groups)
	}
	smp := newSampler(rng)
	out := make([]*big.Int, 0, groups*len(scales))
	for g := range groups {
		for s, t := range scales {
			x, err := smp.laplace(t)
			if err != nil {
				return nil, fmt.Errorf("noise of group %d, sum %d: %w", g, s, err)
			}
			out = append(out, x)
		}
	}
	return out, nil
}

// Center decodes a total mod T (T > 0) as the signed value congruent to it
// in (−T/2, T/2]: noise can make a total negative, which decrypts as a
// value near T. T = 0 stands for 2^64 (the value's two's complement).
func Center(v, T uint64) int64 {
	if T == 0 {
		return int64(v)
	}
	v %= T
	if v > T/2 {
		return -int64(T - v)
	}
	return int64(v)
}
