package plan

import (
	"fmt"
	"math/big"
	"math/bits"

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

// CheckBounds refuses a plan whose result could wrap around the plaintext
// modulus: the worst case of COUNT(*) is Entities, of SUM(t.c) is
// Entities times the column's declared Max, and each must be below
// Modulus. The error wraps ErrOverflow (ErrUnknownName if the plan names a
// column the consortium lacks) and says which aggregate, its worst case,
// the modulus, and how to fix it.
func (p *Plan) CheckBounds(l Limits, cs schema.Consortium) error {
	for _, a := range p.Aggregates {
		var hi, lo uint64
		var why, fix string
		switch a.Kind {
		case AggCount:
			lo = l.Entities
			why = fmt.Sprintf("one per entity, %d entities", l.Entities)
			fix = "align fewer entities or use a parameter set with a larger plaintext modulus"
		case AggSum:
			t, ok := cs.Table(a.Table)
			var col schema.Column
			if ok {
				col, ok = t.Column(a.Column)
			}
			if !ok || col.Kind != schema.KindInt || col.Max < 0 {
				return fmt.Errorf("%w: aggregate %s: %s.%s is not an int column of the consortium; re-plan the query against the current schema",
					ErrUnknownName, aggLabel(a), a.Table, a.Column)
			}
			hi, lo = bits.Mul64(l.Entities, uint64(col.Max))
			why = fmt.Sprintf("%d entities x declared max %d of %s.%s", l.Entities, col.Max, a.Table, a.Column)
			fix = fmt.Sprintf("narrow the declared bounds of %s.%s or use a parameter set with a larger plaintext modulus", a.Table, a.Column)
		default:
			return fmt.Errorf("%w: aggregate %s: kind %q has no known bound", ErrUnsupported, aggLabel(a), a.Kind)
		}
		if hi == 0 && lo < l.Modulus {
			continue
		}
		total := new(big.Int).Lsh(new(big.Int).SetUint64(hi), 64)
		total.Or(total, new(big.Int).SetUint64(lo))
		return fmt.Errorf("%w: aggregate %s could reach %s (%s), which is not below the plaintext modulus %d; %s",
			ErrOverflow, aggLabel(a), total, why, l.Modulus, fix)
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
