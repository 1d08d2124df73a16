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

// Sensitivity returns Δ_s, the most one person can change sum s of one
// group (adding or removing them): 1 for plan.SumCount, the declared Max
// of the column for plan.SumValue (values are non-negative, Min ≥ 0),
// Max² for plan.SumSquares. A column the consortium lacks, or that is not
// an int column, is an error wrapping plan.ErrUnknownName.
//
// For a digit d of a split sum in base 2^b it is the digit's own Δ_d,
// the most one person's digit d can be: min(2^b − 1, Δ >> (d·b)) for Δ
// the whole sum's.
func Sensitivity(s plan.Sum, cs schema.Consortium) (*big.Int, error) {
	d, err := wholeSensitivity(s.Whole(), cs)
	if err != nil || !s.IsDigit() {
		return d, err
	}
	return digitSensitivity(d, s.Digit, s.Bits), nil
}

// digitSensitivity is Δ_d = min(2^bits − 1, whole >> (d·bits)).
func digitSensitivity(whole *big.Int, d, bits int) *big.Int {
	top := new(big.Int).Rsh(whole, uint(d*bits))
	base := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(bits)), big.NewInt(1))
	if top.Cmp(base) < 0 {
		return top
	}
	return base
}

// digitWeightUnit is the weight of a split sum's top digit in its ε
// split (digitWeights); no digit weighs less than 1, 1/digitWeightUnit of
// the top digit's.
const digitWeightUnit = 1024

// digitWeights returns q_d for d = 0..digits−1, the digits' shares of a
// split sum's ε (digit d gets ε·q_d/Σq), and Σq. The recombined total's
// noise is Σ_d 2^(d·bits)·N_d, N_d of scale Δ_d/ε_d, whose variance
// Σ_d (w_d/ε_d)² with w_d = 2^(d·bits)·Δ_d is least, for Σ ε_d fixed, at
// ε_d ∝ w_d^(2/3): q_d = max(1, ⌊∛(digitWeightUnit³·w_d²/w_max²)⌋),
// computed in integers so that every party, the coordinator and the
// analyst find the same weights. The recombined noise's standard
// deviation is then about (Σ_d (w_d/w_max)^(2/3))^(3/2) times that of a
// sum whose sensitivity is w_max (about an unsplit sum's): within a few
// percent when the top digit is as wide as the others, since each lower
// digit's w is then 2^bits times smaller (1.5% for the sums of
// TestSplitNoiseScales), but up to about 2.8 times when the top digit
// holds a single bit and the digit below it weighs as much. The floor of
// 1 bounds a lower digit's scale, which keeps its noise inside the
// modulus (SumScales first gives each digit the ε its noise needs for
// that; FitsModulus checks every digit).
func digitWeights(whole *big.Int, digits, bits int) ([]*big.Int, *big.Int) {
	w := make([]*big.Int, digits)
	wmax := new(big.Int)
	for d := range digits {
		w[d] = new(big.Int).Lsh(digitSensitivity(whole, d, bits), uint(d*bits))
		if w[d].Cmp(wmax) > 0 {
			wmax = w[d]
		}
	}
	q := make([]*big.Int, digits)
	sum := new(big.Int)
	one := big.NewInt(1)
	for d := range digits {
		q[d] = one
		if wmax.Sign() > 0 {
			x := new(big.Int).Mul(w[d], w[d])
			x.Lsh(x, 30) // digitWeightUnit³ = 2^30
			x.Quo(x, new(big.Int).Mul(wmax, wmax))
			if c := cubeRoot(x); c.Cmp(one) > 0 {
				q[d] = c
			}
		}
		sum.Add(sum, q[d])
	}
	return q, sum
}

// cubeRoot is ⌊∛x⌋ for x ≥ 0.
func cubeRoot(x *big.Int) *big.Int {
	lo, hi := new(big.Int), new(big.Int).Lsh(big.NewInt(1), uint(x.BitLen()/3+1))
	one := big.NewInt(1)
	for lo.Cmp(hi) < 0 { // lo³ ≤ x < (hi+1)³
		mid := new(big.Int).Add(lo, hi)
		mid.Add(mid, one).Rsh(mid, 1)
		c := new(big.Int).Mul(mid, mid)
		if c.Mul(c, mid).Cmp(x) <= 0 {
			lo = mid
		} else {
			hi = mid.Sub(mid, one)
		}
	}
	return lo
}

// wholeSensitivity is Sensitivity for a whole sum.
func wholeSensitivity(s plan.Sum, cs schema.Consortium) (*big.Int, error) {
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

// Room is what the noise of a digit of a split sum must fit in: the
// plaintext modulus T and the collusion tolerance k of the query (k+1
// parties add noise). Whole sums do not need it (FitsModulus checks them).
type Room struct {
	Modulus   uint64
	Collusion int
}

// Scales returns the discrete Laplace scale of each of the plan's sums, in
// plan.Plan.Sums order (SumScales). epsilonMilli = 0 is an error wrapping
// ErrNoEpsilon.
func Scales(p *plan.Plan, cs schema.Consortium, epsilonMilli uint64, room Room) ([]*big.Rat, error) {
	return SumScales(p.Sums(), cs, epsilonMilli, room)
}

// SumScales is Scales for a list of sums (a plan's, in its order). ε is
// split equally between the K whole sums (a sum split into digits counts
// once, groups being disjoint), ε/K each. A whole sum's scale is
// t_s = Δ_s·K·1000/epsilonMilli.
//
// A split sum's digits are each packed and decrypted on their own, so
// each carries noise of its own, calibrated to its own sensitivity Δ_d
// (Sensitivity), and the sum's ε/K is spent across them:
//
//   - first, each digit gets m_d, the least ε that keeps its noise bound
//     (NoiseBound, k+1 parties) within a quarter of the modulus, so that
//     with the digit's largest total (at most half the modulus, plan.Fit)
//     the noisy total decodes: m_d = TailFactor·(k+1)·Δ_d/((T−1)/4 − 1).
//     If Σ m_d exceeds ε/K the query is refused (ErrNoiseTooWide, with
//     the least ε that would do);
//   - the rest, ε/K − Σ m_d, goes to the digits in proportion to
//     digitWeights, which favours the top digit so that the recombined
//     noise is nearly the whole sum's.
//
// Digit d's scale is t_d = Δ_d/ε_d. Adding or removing one person moves
// each digit's total by at most Δ_d, so releasing the digits costs
// Σ_d ε_d = ε/K by sequential composition: the same as a whole sum.
func SumScales(sums []plan.Sum, cs schema.Consortium, epsilonMilli uint64, room Room) ([]*big.Rat, error) {
	if epsilonMilli == 0 {
		return nil, ErrNoEpsilon
	}
	eps := new(big.Int).SetUint64(epsilonMilli)
	whole := map[plan.Sum]bool{}
	for _, s := range sums {
		whole[s.Whole()] = true
	}
	k := big.NewInt(int64(len(whole)) * 1000)
	share := new(big.Rat).SetFrac(eps, k) // ε/K
	out := make([]*big.Rat, len(sums))
	for i, s := range sums {
		if s.IsDigit() && (s.Digit < 0 || s.Digit >= s.Digits || s.Bits < 1 || s.Digits > plan.MaxDigits) {
			return nil, fmt.Errorf("noise scale of sum %d: %w: %s is not a digit of a valid split", i, plan.ErrUnsupported, s.Label())
		}
		d, err := wholeSensitivity(s.Whole(), cs)
		if err != nil {
			return nil, fmt.Errorf("noise scale of sum %d: %w", i, err)
		}
		if !s.IsDigit() {
			out[i] = new(big.Rat).SetFrac(d.Mul(d, k), eps)
			continue
		}
		e, err := digitEpsilons(s, d, share, new(big.Rat).SetFrac(eps, big.NewInt(1000)), room)
		if err != nil {
			return nil, fmt.Errorf("%w: %s at ε %s: %v", ErrNoiseTooWide, s.Whole().Label(), formatMilli(epsilonMilli), err)
		}
		out[i] = new(big.Rat).Quo(new(big.Rat).SetInt(digitSensitivity(d, s.Digit, s.Bits)), e)
	}
	return out, nil
}

// digitEpsilons returns ε_d for digit s.Digit of a split sum whose whole
// sensitivity is whole and whose share of the query's ε is share
// (SumScales).
func digitEpsilons(s plan.Sum, whole *big.Int, share, epsilon *big.Rat, room Room) (*big.Rat, error) {
	if room.Modulus < 9 || room.Collusion < 0 {
		return nil, fmt.Errorf("no room for noise in plaintext modulus %d with collusion tolerance %d", room.Modulus, room.Collusion)
	}
	free := new(big.Rat).SetFrac64(int64((room.Modulus-1)/4-1), 1)
	per := new(big.Rat).Quo(big.NewRat(int64(TailFactor)*int64(room.Collusion+1), 1), free)
	mins := make([]*big.Rat, s.Digits)
	need := new(big.Rat)
	for d := range s.Digits {
		mins[d] = new(big.Rat).Mul(per, new(big.Rat).SetInt(digitSensitivity(whole, d, s.Bits)))
		need.Add(need, mins[d])
	}
	rest := new(big.Rat).Sub(share, need)
	if rest.Sign() <= 0 {
		// ε/K = share, so the least ε is ε·need/share.
		least := new(big.Rat).Mul(epsilon, new(big.Rat).Quo(need, share))
		return nil, fmt.Errorf("its %d digits (base 2^%d) need more than its share of ε for their noise to fit the plaintext modulus %d with %d noisy parties; ask with ε above %s, or bound the column with LEAST so that the sum fits whole",
			s.Digits, s.Bits, room.Modulus, room.Collusion+1, least.FloatString(3))
	}
	q, total := digitWeights(whole, s.Digits, s.Bits)
	e := new(big.Rat).Mul(rest, new(big.Rat).SetFrac(q[s.Digit], total))
	return e.Add(e, mins[s.Digit]), nil
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
