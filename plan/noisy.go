package plan

import (
	"fmt"
	"math/big"
	"strings"
)

// Interval is a noisy cell's 95% interval [Low, High], as decimals. For
// COUNT and SUM it is symmetric around the noisy value and HalfWidth is
// its half-width (the result's "± HalfWidth"); for AVG, VARIANCE and
// STDDEV it is derived by interval arithmetic and HalfWidth is empty. The
// zero Interval (all empty) marks a group column or a NULL cell.
type Interval struct {
	Low, High string
	HalfWidth string
}

// IsZero reports a cell without an interval (a group value or NULL).
func (iv Interval) IsZero() bool { return iv == Interval{} }

// ival is an interval of rationals, [lo, hi].
type ival struct{ lo, hi *big.Rat }

// FinishNoisy is Finish for noisy totals: sums[s][i] is the noisy total of
// sum s for group i (Groups order), centered to a signed value (dp.Center,
// since noise can make a total negative), and halfWidths[s] the 95%
// half-width of sum s's noise (dp.HalfWidth95 of its scale and the number
// of noisy parties). It returns the rows and columns as Finish does, and
// intervals parallel to rows (intervals[i][j] is the interval of
// rows[i][j]; zero for group columns and NULL cells).
//
// Everything here is post-processing of the noisy totals, so it costs no
// privacy:
//
//   - COUNT and SUM are the noisy integers, unclamped (a count may be
//     negative: clamping would bias it), with the interval value ± the
//     sum's half-width.
//   - AVG is SUM/COUNT, VARIANCE the sample variance
//     (n·Σx² − (Σx)²)/(n(n−1)) clamped to ≥ 0, STDDEV its square root,
//     all from the noisy parts and rendered with ResultDecimals decimals.
//     They are NULL where the noisy count is below 1 (AVG) or 2
//     (VARIANCE, STDDEV), as Finish does for the true count.
//   - Their intervals come from interval arithmetic on the parts'
//     intervals, the count's clamped to ≥ 1 (AVG) or ≥ 2 (VARIANCE,
//     STDDEV) since the true value is only defined there, and the
//     variance's to ≥ 0. Lower ends are rounded down and upper ends up.
//     Each part's interval holds its true total with probability 95%, so
//     by the union bound the derived interval holds the true value with
//     probability at least 1 − Σ 0.05 over the parts: 90% for AVG, 85% for
//     VARIANCE and STDDEV. Interval arithmetic ignores that the parts
//     share people, so these intervals are conservative (wide).
//
// A missing, extra or mis-sized sum, or a missing or negative
// half-width, is an error wrapping ErrResult.
func (p *Plan) FinishNoisy(sums map[Sum][]int64, halfWidths map[Sum]*big.Int) (rows [][]string, cols []string, intervals [][]Interval, err error) {
	groups := p.Groups()
	want := map[Sum]bool{}
	for _, s := range p.Sums() {
		want[s] = true
		v, ok := sums[s]
		if !ok {
			return nil, nil, nil, fmt.Errorf("%w: noisy %s is missing", ErrResult, s.label())
		}
		if len(v) != len(groups) {
			return nil, nil, nil, fmt.Errorf("%w: noisy %s has %d values for %d groups", ErrResult, s.label(), len(v), len(groups))
		}
		if h := halfWidths[s]; h == nil || h.Sign() < 0 {
			return nil, nil, nil, fmt.Errorf("%w: noisy %s has no valid 95%% half-width", ErrResult, s.label())
		}
	}
	for s := range sums {
		if !want[s] {
			return nil, nil, nil, fmt.Errorf("%w: %s is not a sum of this plan", ErrResult, s.label())
		}
	}
	// A split sum's digits, each with noise of its own, recombine into its
	// total, and their half-widths likewise into its half-width,
	// Σ_d 2^(d·bits)·h_d (each h_d at 1 − 0.05/digits:
	// dp.SumHalfWidth95).
	noisy, hw := map[Sum][]*big.Int{}, map[Sum][]*big.Int{}
	for s, vs := range sums {
		bs := make([]*big.Int, len(vs))
		for i, v := range vs {
			bs[i] = big.NewInt(v)
		}
		noisy[s], hw[s] = bs, []*big.Int{halfWidths[s]}
	}
	whole, wholeHW := p.wholeTotals(noisy, len(groups)), p.wholeTotals(hw, 1)
	rows = make([][]string, len(groups))
	intervals = make([][]Interval, len(groups))
	for i, g := range groups {
		row := append([]string(nil), g...)
		ivs := make([]Interval, len(g), len(g)+len(p.Aggregates))
		for _, a := range p.Aggregates {
			v, iv, err := finishNoisyOne(a, whole, wholeHW, i)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%w: group %s: aggregate %s: %s", ErrResult, groupLabel(p.GroupBy, g), aggLabel(a), err)
			}
			row = append(row, v)
			ivs = append(ivs, iv)
		}
		rows[i], intervals[i] = row, ivs
	}
	return rows, p.Columns(), intervals, nil
}

// finishNoisyOne renders one aggregate of group i and its interval from
// the whole sums' noisy totals and half-widths.
func finishNoisyOne(a Aggregate, sums map[Sum][]*big.Int, halfWidths map[Sum][]*big.Int, i int) (string, Interval, error) {
	sumOf := func(k SumKind) Sum {
		s := Sum{Kind: k}
		if k != SumCount {
			s.Table, s.Column, s.Clip = a.Table, a.Column, a.Clip
		}
		return s
	}
	get := func(k SumKind) (*big.Int, *big.Int) {
		s := sumOf(k)
		return sums[s][i], halfWidths[s][0]
	}
	around := func(v, h *big.Int) ival {
		return ival{new(big.Rat).SetInt(new(big.Int).Sub(v, h)), new(big.Rat).SetInt(new(big.Int).Add(v, h))}
	}
	switch a.Kind {
	case AggCount, AggSum:
		k := SumValue
		if a.Kind == AggCount {
			k = SumCount
		}
		v, h := get(k)
		return v.String(), Interval{
			Low:       new(big.Int).Sub(v, h).String(),
			High:      new(big.Int).Add(v, h).String(),
			HalfWidth: h.String(),
		}, nil
	case AggAvg, AggVariance, AggStddev:
	default:
		return "", Interval{}, fmt.Errorf("kind %q is not computed from sums", a.Kind)
	}
	n, nh := get(SumCount)
	s, sh := get(SumValue)
	minCount := int64(1)
	if a.Kind != AggAvg {
		minCount = 2
	}
	if n.Cmp(big.NewInt(minCount)) < 0 {
		return NullText, Interval{}, nil
	}
	// The count's interval, clamped to where the value is defined; n is
	// in it, as n ≥ minCount.
	ni := around(n, nh)
	ni.lo = ratMax(ni.lo, new(big.Rat).SetInt64(minCount))
	si := around(s, sh)
	nr, sr := new(big.Rat).SetInt(n), new(big.Rat).SetInt(s)
	if a.Kind == AggAvg {
		v := new(big.Rat).Quo(sr, nr)
		return v.FloatString(ResultDecimals), renderInterval(ivalQuo(si, ni)), nil
	}
	q, qh := get(SumSquares)
	qi := around(q, qh)
	// Sample variance = (Σx² − (Σx)²/n)/(n − 1), clamped to ≥ 0.
	v := new(big.Rat).Sub(new(big.Rat).SetInt(q), new(big.Rat).Quo(new(big.Rat).Mul(sr, sr), nr))
	v.Quo(v, new(big.Rat).Sub(nr, big.NewRat(1, 1)))
	zero := new(big.Rat)
	v = ratMax(v, zero)
	one := big.NewRat(1, 1)
	vi := ivalQuo(ivalSub(qi, ivalQuo(ivalSquare(si), ni)),
		ival{new(big.Rat).Sub(ni.lo, one), new(big.Rat).Sub(ni.hi, one)})
	vi = ival{ratMax(vi.lo, zero), ratMax(vi.hi, zero)}
	if a.Kind == AggVariance {
		return v.FloatString(ResultDecimals), renderInterval(vi), nil
	}
	return sqrtDecimal(v.Num(), v.Denom(), ResultDecimals), Interval{
		Low:  sqrtDirected(vi.lo, ResultDecimals, false),
		High: sqrtDirected(vi.hi, ResultDecimals, true),
	}, nil
}

func ratMax(a, b *big.Rat) *big.Rat {
	if a.Cmp(b) >= 0 {
		return a
	}
	return b
}

func ratMin(a, b *big.Rat) *big.Rat {
	if a.Cmp(b) <= 0 {
		return a
	}
	return b
}

// ivalSub is x − y.
func ivalSub(x, y ival) ival {
	return ival{new(big.Rat).Sub(x.lo, y.hi), new(big.Rat).Sub(x.hi, y.lo)}
}

// ivalSquare is {v² : v ∈ x}.
func ivalSquare(x ival) ival {
	a, b := new(big.Rat).Mul(x.lo, x.lo), new(big.Rat).Mul(x.hi, x.hi)
	if x.lo.Sign() <= 0 && x.hi.Sign() >= 0 {
		return ival{new(big.Rat), ratMax(a, b)}
	}
	return ival{ratMin(a, b), ratMax(a, b)}
}

// ivalQuo is x / y for y > 0 (y.lo > 0): the extremes are among the
// quotients of the ends.
func ivalQuo(x, y ival) ival {
	lo, hi := new(big.Rat).Quo(x.lo, y.lo), new(big.Rat).Quo(x.lo, y.lo)
	for _, a := range []*big.Rat{x.lo, x.hi} {
		for _, b := range []*big.Rat{y.lo, y.hi} {
			q := new(big.Rat).Quo(a, b)
			lo, hi = ratMin(lo, q), ratMax(hi, q)
		}
	}
	return ival{lo, hi}
}

// renderInterval renders x with ResultDecimals decimals, the low end
// rounded down and the high end up, so the rendered interval contains x.
func renderInterval(x ival) Interval {
	return Interval{Low: ratDirected(x.lo, ResultDecimals, false), High: ratDirected(x.hi, ResultDecimals, true)}
}

// ratDirected renders r with the given number of decimals (> 0), rounded
// down (floor) or, if up, up (ceiling).
func ratDirected(r *big.Rat, decimals int, up bool) string {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)
	num := new(big.Int).Mul(r.Num(), scale)
	// Denom > 0, so Div (Euclidean) is the floor.
	q, m := new(big.Int).DivMod(num, r.Denom(), new(big.Int))
	if up && m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	return fixedPoint(q, decimals)
}

// sqrtDirected renders sqrt(r) (r ≥ 0) with the given number of decimals
// (> 0), rounded down or, if up, up.
func sqrtDirected(r *big.Rat, decimals int, up bool) string {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(2*decimals)), nil)
	v := new(big.Int).Mul(r.Num(), scale) // sqrt(v/den) is the answer × 10^decimals
	den := r.Denom()
	// ⌊sqrt(⌊v/den⌋)⌋ = ⌊sqrt(v/den)⌋.
	s := new(big.Int).Sqrt(new(big.Int).Quo(v, den))
	if up && new(big.Int).Mul(new(big.Int).Mul(s, s), den).Cmp(v) != 0 {
		s.Add(s, big.NewInt(1))
	}
	return fixedPoint(s, decimals)
}

// fixedPoint renders q·10^−decimals (decimals > 0).
func fixedPoint(q *big.Int, decimals int) string {
	neg := q.Sign() < 0
	digits := new(big.Int).Abs(q).String()
	if len(digits) <= decimals {
		digits = strings.Repeat("0", decimals-len(digits)+1) + digits
	}
	out := digits[:len(digits)-decimals] + "." + digits[len(digits)-decimals:]
	if neg {
		out = "-" + out
	}
	return out
}
