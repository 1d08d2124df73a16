package plan

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// ErrResult marks decrypted sums that Finish cannot turn into results:
// missing, of the wrong length, or inconsistent with each other (which
// means a wrong decryption or a wrapped sum).
var ErrResult = errors.New("invalid decrypted sums")

// ResultDecimals is the number of decimal places of AVG, VARIANCE and
// STDDEV in results (rounded to nearest, halves away from zero).
const ResultDecimals = 6

// NullText is how Finish renders SQL NULL (AVG of an empty group,
// VARIANCE and STDDEV of fewer than two people).
const NullText = "NULL"

// SumKind is one kind of encrypted per-group sum the circuit computes.
type SumKind string

// The sum kinds.
const (
	// SumCount is the number of matching people: Σ WHERE.
	SumCount SumKind = "count"
	// SumValue is Σ WHERE × t.c.
	SumValue SumKind = "sum"
	// SumSquares is Σ WHERE × t.c², the square computed in plaintext by
	// t's party.
	SumSquares SumKind = "sumsq"
)

// Sum is one encrypted per-group sum: SumCount (Table and Column empty),
// or the sum of a column's values or squares over the matching people.
type Sum struct {
	Kind          SumKind
	Table, Column string
	// Clip is the aggregate's LEAST bound (0: none): the sum is over
	// min(t.c, Clip), the sum of squares over min(t.c, Clip)².
	Clip int64
	// Digit, Digits and Bits are zero for a whole sum. For a sum split
	// into Digits ≥ 2 digits (see Fit and Split), this is the sum of
	// every person's digit Digit (0: lowest) in base 2^Bits.
	Digit, Digits, Bits int
}

// column renders the summed value: t.c, or LEAST(t.c, Clip).
func (s Sum) column() string {
	c := s.Table + "." + s.Column
	if s.Clip > 0 {
		return fmt.Sprintf("LEAST(%s, %d)", c, s.Clip)
	}
	return c
}

// Label names a sum for people: COUNT(*), SUM(t.c), SUM(LEAST(t.c, 5)),
// the sum of squares of t.c.
func (s Sum) Label() string { return s.label() }

// label names a sum in messages.
func (s Sum) label() string {
	if s.IsDigit() {
		return fmt.Sprintf("%s, digit %d of %d in base 2^%d", s.Whole().label(), s.Digit, s.Digits, s.Bits)
	}
	switch s.Kind {
	case SumCount:
		return "COUNT(*)"
	case SumValue:
		return "SUM(" + s.column() + ")"
	case SumSquares:
		return "the sum of squares of " + s.column()
	}
	return fmt.Sprintf("sum %q of %s.%s", s.Kind, s.Table, s.Column)
}

// aggSums lists the sums an aggregate is computed from.
func aggSums(a Aggregate) ([]Sum, error) {
	v := Sum{Kind: SumValue, Table: a.Table, Column: a.Column, Clip: a.Clip}
	switch a.Kind {
	case AggCount:
		return []Sum{{Kind: SumCount}}, nil
	case AggSum:
		return []Sum{v}, nil
	case AggAvg:
		return []Sum{{Kind: SumCount}, v}, nil
	case AggVariance, AggStddev:
		return []Sum{{Kind: SumCount}, v, {Kind: SumSquares, Table: a.Table, Column: a.Column, Clip: a.Clip}}, nil
	}
	return nil, fmt.Errorf("%w: aggregate %s: kind %q is not computed from sums", ErrUnsupported, aggLabel(a), a.Kind)
}

// Sums lists the distinct sums the circuit must compute for every group
// to answer all aggregates, in the order the aggregates first need them
// (for AVG: the count, then the sum; for VARIANCE and STDDEV: the count,
// the sum, then the sum of squares), a sum split into digits (Splits)
// as its digits, lowest first. Aggregates of unknown kinds are skipped
// (Fit refuses them).
func (p *Plan) Sums() []Sum {
	var out []Sum
	for _, s := range p.WholeSums() {
		sp, ok := p.Splits[s]
		if !ok || sp.Digits < 2 {
			out = append(out, s)
			continue
		}
		for d := range sp.Digits {
			out = append(out, Sum{Kind: s.Kind, Table: s.Table, Column: s.Column, Clip: s.Clip, Digit: d, Digits: sp.Digits, Bits: sp.Bits})
		}
	}
	return out
}

// WholeSums is Sums without the digit splits: the sums the aggregates
// are computed from, each once.
func (p *Plan) WholeSums() []Sum {
	var out []Sum
	seen := map[Sum]bool{}
	for _, a := range p.Aggregates {
		sums, _ := aggSums(a)
		for _, s := range sums {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// Groups returns every group's category values, one per GROUP BY column:
// the cartesian product of the columns' declared categories, the first
// column varying slowest, in declaration order. Without GROUP BY it is one
// group with no values.
func (p *Plan) Groups() [][]string {
	out := [][]string{{}}
	for _, g := range p.GroupBy {
		next := make([][]string, 0, len(out)*len(g.Categories))
		for _, prefix := range out {
			for _, c := range g.Categories {
				next = append(next, append(append([]string(nil), prefix...), c))
			}
		}
		out = next
	}
	return out
}

// Columns returns the result's column names: the group columns, then the
// aggregates in SELECT order.
func (p *Plan) Columns() []string {
	var out []string
	for _, g := range p.GroupBy {
		out = append(out, g.Name)
	}
	for _, a := range p.Aggregates {
		out = append(out, a.Name)
	}
	return out
}

// Finish computes the result rows from the decrypted sums: sums[s][i] is
// sum s of group i (Groups order) for every s of Sums. Each row holds the
// group's category values, then every aggregate rendered as text: COUNT
// and SUM as integers, AVG, VARIANCE and STDDEV exactly from the integer
// sums as decimals with ResultDecimals places, or NullText where SQL gives
// NULL (AVG of no one, VARIANCE and STDDEV of fewer than two). SUM of no
// one is 0 (SQL's COALESCE(SUM(x), 0)). The second result is the column
// names (Columns). A missing, extra or inconsistent sum is an error
// wrapping ErrResult.
func (p *Plan) Finish(sums map[Sum][]uint64) ([][]string, []string, error) {
	groups := p.Groups()
	need := p.Sums()
	want := map[Sum]bool{}
	for _, s := range need {
		want[s] = true
		v, ok := sums[s]
		if !ok {
			return nil, nil, fmt.Errorf("%w: %s is missing", ErrResult, s.label())
		}
		if len(v) != len(groups) {
			return nil, nil, fmt.Errorf("%w: %s has %d values for %d groups", ErrResult, s.label(), len(v), len(groups))
		}
	}
	for s := range sums {
		if !want[s] {
			return nil, nil, fmt.Errorf("%w: %s is not a sum of this plan", ErrResult, s.label())
		}
	}
	exact := map[Sum][]*big.Int{}
	for s, vs := range sums {
		bs := make([]*big.Int, len(vs))
		for i, v := range vs {
			bs[i] = new(big.Int).SetUint64(v)
		}
		exact[s] = bs
	}
	whole := p.wholeTotals(exact, len(groups))
	rows := make([][]string, len(groups))
	for i, g := range groups {
		row := append([]string(nil), g...)
		for _, a := range p.Aggregates {
			v, err := finishOne(a, whole, i)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: group %s: aggregate %s: %s", ErrResult, groupLabel(p.GroupBy, g), aggLabel(a), err)
			}
			row = append(row, v)
		}
		rows[i] = row
	}
	return rows, p.Columns(), nil
}

func groupLabel(cols []GroupCol, values []string) string {
	if len(cols) == 0 {
		return "(all)"
	}
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c.Name + "=" + values[i]
	}
	return strings.Join(parts, ", ")
}

// finishOne renders one aggregate of group i from the whole sums' exact
// totals.
func finishOne(a Aggregate, sums map[Sum][]*big.Int, i int) (string, error) {
	get := func(k SumKind) *big.Int {
		s := Sum{Kind: k}
		if k != SumCount {
			s.Table, s.Column, s.Clip = a.Table, a.Column, a.Clip
		}
		return sums[s][i]
	}
	switch a.Kind {
	case AggCount:
		return get(SumCount).String(), nil
	case AggSum:
		return get(SumValue).String(), nil
	}
	n, s := get(SumCount), get(SumValue)
	if n.Sign() == 0 {
		if s.Sign() != 0 {
			return "", fmt.Errorf("sum %s over no one", s)
		}
		return NullText, nil
	}
	if a.Kind == AggAvg {
		return new(big.Rat).SetFrac(s, n).FloatString(ResultDecimals), nil
	}
	q := get(SumSquares)
	if n.Cmp(big.NewInt(2)) < 0 {
		if new(big.Int).Mul(s, s).Cmp(q) != 0 {
			return "", fmt.Errorf("sum %s and sum of squares %s of one value disagree", s, q)
		}
		return NullText, nil
	}
	// Sample variance: (n Σx² - (Σx)²) / (n (n-1)).
	num := new(big.Int).Mul(n, q)
	num.Sub(num, new(big.Int).Mul(s, s))
	if num.Sign() < 0 {
		return "", fmt.Errorf("sum %s and sum of squares %s of %s values are inconsistent (negative variance)", s, q, n)
	}
	den := new(big.Int).Mul(n, new(big.Int).Sub(n, big.NewInt(1)))
	if a.Kind == AggVariance {
		return new(big.Rat).SetFrac(num, den).FloatString(ResultDecimals), nil
	}
	if a.Kind == AggStddev {
		return sqrtDecimal(num, den, ResultDecimals), nil
	}
	return "", fmt.Errorf("kind %q is not computed from sums", a.Kind)
}

// sqrtDecimal renders sqrt(num/den) (num ≥ 0, den > 0) with the given
// number of decimals, rounded to nearest (halves away from zero), exactly.
func sqrtDecimal(num, den *big.Int, decimals int) string {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(2*decimals)), nil)
	v := new(big.Int).Mul(num, scale) // sqrt(v/den) is the answer × 10^decimals
	r := new(big.Int).Sqrt(new(big.Int).Quo(v, den))
	// Round up iff v/den ≥ (r + 1/2)², i.e. 4v ≥ (4r² + 4r + 1) den.
	lhs := new(big.Int).Lsh(v, 2)
	rhs := new(big.Int).Mul(r, r)
	rhs.Add(rhs, r).Lsh(rhs, 2).Add(rhs, big.NewInt(1)).Mul(rhs, den)
	if lhs.Cmp(rhs) >= 0 {
		r.Add(r, big.NewInt(1))
	}
	digits := r.String()
	if decimals == 0 {
		return digits
	}
	if len(digits) <= decimals {
		digits = strings.Repeat("0", decimals-len(digits)+1) + digits
	}
	return digits[:len(digits)-decimals] + "." + digits[len(digits)-decimals:]
}
