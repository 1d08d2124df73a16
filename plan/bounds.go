package plan

import (
	"fmt"
	"math/big"

	"github.com/mpcq/mpcq/schema"
)

// Limits are the sizes a plan's results must fit in.
type Limits struct {
	// Modulus is the plaintext modulus T: results are computed mod T.
	Modulus uint64
	// Entities is an upper bound on the number of aligned entities (the
	// size of the union of all parties' person sets).
	Entities uint64
}

// CheckBounds refuses a plan one of whose encrypted sums (see Sums) could
// wrap around the plaintext modulus. The worst case of the count is
// Entities, of the sum of t.c Entities times the column's declared Max,
// of the sum of squares of t.c Entities times Max²; each must be below
// Modulus. So COUNT(*) and SUM are checked directly, AVG through its sum,
// VARIANCE and STDDEV through their sum and sum of squares.
//
// The same worst case bounds every group's sum (a group is a subset of
// the people) and every term's sum individually: the circuit computes
// Σ_k Sign_k × S_k where each S_k sums 0/1 products times a value over
// people, so 0 ≤ S_k ≤ the worst case, and the signed combination equals
// the true (non-negative, also bounded) result. Each term's sum being
// below the modulus is what makes the result exact whether the terms are
// combined under encryption (mod T) or not. Local arithmetic in WHERE is
// evaluated by the parties in plaintext int64 and never encrypted, so it
// has no modulus limit.
//
// The error wraps ErrOverflow (ErrUnknownName if the plan names a column
// the consortium lacks) and says which aggregate, which sum, its worst
// case, the modulus, and how to fix it.
func (p *Plan) CheckBounds(l Limits, cs schema.Consortium) error {
	mod := new(big.Int).SetUint64(l.Modulus)
	n := new(big.Int).SetUint64(l.Entities)
	for _, a := range p.Aggregates {
		sums, err := aggSums(a)
		if err != nil {
			return err
		}
		for _, s := range sums {
			worst := new(big.Int).Set(n)
			why := fmt.Sprintf("one per entity, %d entities", l.Entities)
			fix := "align fewer entities or use a parameter set with a larger plaintext modulus"
			if s.Kind != SumCount {
				t, ok := cs.Table(s.Table)
				var col schema.Column
				if ok {
					col, ok = t.Column(s.Column)
				}
				if !ok || col.Kind != schema.KindInt || col.Max < 0 {
					return fmt.Errorf("%w: aggregate %s: %s.%s is not an int column of the consortium; re-plan the query against the current schema",
						ErrUnknownName, aggLabel(a), s.Table, s.Column)
				}
				max := big.NewInt(col.Max)
				why = fmt.Sprintf("%d entities x declared max %d of %s.%s", l.Entities, col.Max, s.Table, s.Column)
				if s.Clip > 0 && s.Clip < col.Max {
					max = big.NewInt(s.Clip)
					why = fmt.Sprintf("%d entities x %d (LEAST of %s.%s)", l.Entities, s.Clip, s.Table, s.Column)
				}
				worst.Mul(worst, max)
				if s.Kind == SumSquares {
					worst.Mul(worst, max)
					why += " squared"
				}
				fix = fmt.Sprintf("narrow the declared bounds of %s.%s or use a parameter set with a larger plaintext modulus", s.Table, s.Column)
			}
			if worst.Cmp(mod) < 0 {
				continue
			}
			if own := aggOwnSum(a); own != nil && *own == s {
				return fmt.Errorf("%w: aggregate %s could reach %s (%s), which is not below the plaintext modulus %d; %s",
					ErrOverflow, aggLabel(a), worst, why, l.Modulus, fix)
			}
			return fmt.Errorf("%w: aggregate %s needs %s, which could reach %s (%s) and is not below the plaintext modulus %d; %s",
				ErrOverflow, aggLabel(a), s.label(), worst, why, l.Modulus, fix)
		}
	}
	return nil
}

// aggOwnSum is the one sum that is the aggregate's value (COUNT, SUM), or
// nil for aggregates computed from several sums.
func aggOwnSum(a Aggregate) *Sum {
	switch a.Kind {
	case AggCount:
		return &Sum{Kind: SumCount}
	case AggSum:
		return &Sum{Kind: SumValue, Table: a.Table, Column: a.Column, Clip: a.Clip}
	}
	return nil
}

// aggLabel names an aggregate in messages: its text, and its output name
// when that differs.
func aggLabel(a Aggregate) string {
	t := aggText(a)
	if a.Name != "" && a.Name != t {
		return fmt.Sprintf("%s AS %s", t, quoteIdent(a.Name))
	}
	return t
}
