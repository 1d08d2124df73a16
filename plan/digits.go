package plan

import (
	"fmt"
	"math/big"
	"math/bits"

	"github.com/mpcq/mpcq/schema"
)

// MaxDigits is the most digits one sum is split into (Fit). It is where
// the representation stops: a split needs entities × (2^bits − 1) to stay
// at most half the plaintext modulus, so with a 45-bit modulus every
// aggregate of int64 columns (squares below 2^126) fits in MaxDigits
// digits up to about 2^36 (6.9·10^10) entities.
const MaxDigits = 16

// Split is how a sum too large for the plaintext modulus is computed: in
// Digits sums (Digits ≥ 2), the d-th summing each person's digit d of
// base 2^Bits, (value >> (d·Bits)) mod 2^Bits, so that every digit's
// total stays below the modulus; the analyst recombines the exact total
// as Σ_d 2^(d·Bits) · total_d (Recombine).
type Split struct {
	Digits int
	Bits   int
}

// Whole is the sum a digit belongs to: s without its digit fields (s
// itself for a whole sum).
func (s Sum) Whole() Sum {
	s.Digit, s.Digits, s.Bits = 0, 0, 0
	return s
}

// VectorKey identifies the per-person vector a sum's party contributes
// (kind, column, LEAST bound, digit): equal for equal vectors. The party
// (its vectors and its check of the chain's wiring) and EXPLAIN's cost
// model use it to count distinct vectors.
func (s Sum) VectorKey() string {
	return fmt.Sprintf("%s:%s:%d:%d/%d/%d", s.Kind, s.Column, s.Clip, s.Digit, s.Digits, s.Bits)
}

// IsDigit reports a digit of a split sum.
func (s Sum) IsDigit() bool { return s.Digits > 1 }

// Fit checks that every encrypted sum of the plan stays exact at the
// limits, and records how: a sum whose worst case (see worstCase) is
// below the modulus is computed whole, as it is; any other is split into
// the fewest digits (Split, recorded in p.Splits and so in Sums and the
// plan message) whose totals stay at most (Modulus−1)/2 each:
//
//	entities × (2^Bits − 1) ≤ (Modulus − 1)/2
//
// with Bits as large as that allows, Digits = ⌈bitlen(max)/Bits⌉ for max
// the largest value (or square) one person contributes, and then Bits
// lowered to ⌈bitlen(max)/Digits⌉ (the same number of digits, the
// smallest base: the lower digits, whose share of ε is smallest, get the
// most room for their noise). The other half of the modulus is the room
// each digit's noise has in a noisy query (dp.FitsModulus checks it);
// the split does not depend on the query's ε, so exact and noisy runs of
// one query have one plan.
//
// The error wraps ErrOverflow only where the representation ends: the
// count itself reaches the modulus, or a sum needs more than MaxDigits
// digits (or there are too many entities for even 1-bit digits). It
// wraps ErrUnknownName if the plan names a column the consortium lacks.
func (p *Plan) Fit(l Limits, cs schema.Consortium) error {
	if l.Modulus < 2 {
		return fmt.Errorf("%w: plaintext modulus %d", ErrOverflow, l.Modulus)
	}
	mod := new(big.Int).SetUint64(l.Modulus)
	n := new(big.Int).SetUint64(l.Entities)
	var splits map[Sum]Split
	for _, a := range p.Aggregates {
		sums, err := aggSums(a)
		if err != nil {
			return err
		}
		for _, s := range sums {
			max, why, err := worstCase(s, l.Entities, cs)
			if err != nil {
				return fmt.Errorf("%w: aggregate %s: %w", ErrUnknownName, aggLabel(a), err)
			}
			worst := new(big.Int).Mul(n, max)
			if worst.Cmp(mod) < 0 {
				continue
			}
			sp, ferr := splitFor(max, l)
			if ferr == "" {
				if splits == nil {
					splits = map[Sum]Split{}
				}
				splits[s] = sp
				continue
			}
			if own := aggOwnSum(a); own != nil && *own == s {
				return fmt.Errorf("%w: aggregate %s could reach %s (%s), which is not below the plaintext modulus %d, and %s",
					ErrOverflow, aggLabel(a), worst, why, l.Modulus, ferr)
			}
			return fmt.Errorf("%w: aggregate %s needs %s, which could reach %s (%s) and is not below the plaintext modulus %d, and %s",
				ErrOverflow, aggLabel(a), s.label(), worst, why, l.Modulus, ferr)
		}
	}
	p.Splits = splits
	return nil
}

// worstCase is the most one person adds to sum s (1 for the count, the
// declared Max or LEAST clip, or its square) and, for messages, why the
// total's worst case is entities times that.
func worstCase(s Sum, entities uint64, cs schema.Consortium) (*big.Int, string, error) {
	if s.Kind == SumCount {
		return big.NewInt(1), fmt.Sprintf("one per entity, %d entities", entities), nil
	}
	t, ok := cs.Table(s.Table)
	var col schema.Column
	if ok {
		col, ok = t.Column(s.Column)
	}
	if !ok || col.Kind != schema.KindInt || col.Max < 0 {
		return nil, "", fmt.Errorf("%s.%s is not an int column of the consortium; re-plan the query against the current schema", s.Table, s.Column)
	}
	max := big.NewInt(col.Max)
	why := fmt.Sprintf("%d entities x declared max %d of %s.%s", entities, col.Max, s.Table, s.Column)
	if s.Clip > 0 && s.Clip < col.Max {
		max = big.NewInt(s.Clip)
		why = fmt.Sprintf("%d entities x %d (LEAST of %s.%s)", entities, s.Clip, s.Table, s.Column)
	}
	if s.Kind == SumSquares {
		max.Mul(max, max)
		why += " squared"
	}
	return max, why, nil
}

// splitFor picks the split of a sum each person adds at most max to (see
// Fit), or says why none fits.
func splitFor(max *big.Int, l Limits) (Split, string) {
	if l.Entities == 0 {
		return Split{}, "no entities"
	}
	room := (l.Modulus - 1) / 2 / l.Entities // 2^bits − 1 ≤ room < 2^63
	b := min(bits.Len64(room+1)-1, 62)
	if b < 1 {
		return Split{}, fmt.Sprintf("%d entities leave no room for even one-bit digits (entities x digit must stay at most %d); align fewer entities or use a parameter set with a larger plaintext modulus",
			l.Entities, (l.Modulus-1)/2)
	}
	width := max.BitLen()
	d := (width + b - 1) / b
	if d > MaxDigits {
		return Split{}, fmt.Sprintf("splitting it into digits of at most %d bits (%d entities x digit at most %d) needs %d digits, more than the %d a sum may have; narrow the declared bounds, align fewer entities or use a parameter set with a larger plaintext modulus",
			b, l.Entities, (l.Modulus-1)/2, d, MaxDigits)
	}
	return Split{Digits: d, Bits: (width + d - 1) / d}, ""
}

// PersonValue returns what one person with value v (v ≥ 0; ignored for the
// count) adds to sum s: 1 for the count; LEAST(v, Clip) or its square
// for a whole sum; for a digit of a split sum, that value's (or exact
// 128-bit square's) digit s.Digit in base 2^s.Bits.
func (s Sum) PersonValue(v int64) uint64 {
	if s.Kind == SumCount {
		return 1
	}
	x := uint64(v)
	if s.Clip > 0 && x > uint64(s.Clip) {
		x = uint64(s.Clip) // LEAST(t.c, clip)
	}
	var hi, lo uint64
	if s.Kind == SumSquares {
		hi, lo = bits.Mul64(x, x)
	} else {
		lo = x
	}
	if !s.IsDigit() {
		return lo // below the modulus: Fit checked max² < T
	}
	return digitOf(hi, lo, s.Digit*s.Bits, s.Bits)
}

// digitOf is bits [shift, shift+width) of the 128-bit value hi:lo.
func digitOf(hi, lo uint64, shift, width int) uint64 {
	var x uint64
	switch {
	case shift >= 128:
		return 0
	case shift >= 64:
		x = hi >> (shift - 64)
	case shift == 0:
		x = lo
	default:
		x = lo>>shift | hi<<(64-shift)
	}
	if width < 64 {
		x &= 1<<width - 1
	}
	return x
}

// Recombine is the exact total of a split sum from its digits' totals
// (digit 0 first, any sign): Σ_d 2^(d·bits) · totals[d].
func Recombine(bitsPerDigit int, totals []*big.Int) *big.Int {
	out := new(big.Int)
	for d := len(totals) - 1; d >= 0; d-- {
		out.Lsh(out, uint(bitsPerDigit))
		out.Add(out, totals[d])
	}
	return out
}

// wholeTotals recombines per-digit totals (keyed by the sums of Sums,
// each a value per group) into the totals of the plan's whole sums.
func (p *Plan) wholeTotals(sums map[Sum][]*big.Int, groups int) map[Sum][]*big.Int {
	out := map[Sum][]*big.Int{}
	for _, s := range p.Sums() {
		w := s.Whole()
		if !s.IsDigit() {
			out[w] = sums[s]
			continue
		}
		if s.Digit != 0 {
			continue
		}
		vals := make([]*big.Int, groups)
		for g := range groups {
			ds := make([]*big.Int, s.Digits)
			for d := range s.Digits {
				ds[d] = sums[Sum{Kind: s.Kind, Table: s.Table, Column: s.Column, Clip: s.Clip, Digit: d, Digits: s.Digits, Bits: s.Bits}][g]
			}
			vals[g] = Recombine(s.Bits, ds)
		}
		out[w] = vals
	}
	return out
}
