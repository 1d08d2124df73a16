package party

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
	"github.com/mpcq/mpcq/table"
)

// ErrPlan is wrapped by errors about a plan this party cannot run.
var ErrPlan = errors.New("plan refused")

const maskKey = "mask"

// vecKey names the slot vector this party contributes for an aggregate:
// the SUM column's values where the aggregate sums one of its columns,
// else its 0/1 indicator.
func vecKey(a plan.Aggregate, mine string) string {
	if a.Kind == plan.AggSum && a.Table == mine {
		return "sum:" + a.Column
	}
	return maskKey
}

// checkPlan validates the parts of a plan that concern this party's table.
func checkPlan(p *plan.Plan, t schema.Table) error {
	if !slices.Contains(p.Tables, t.Name) {
		return fmt.Errorf("%w: table %s is not in the plan's tables %v", ErrPlan, t.Name, p.Tables)
	}
	for _, c := range p.PredicatesFor(t.Name) {
		col, ok := t.Column(c.Column)
		if !ok {
			return fmt.Errorf("%w: predicate on unknown column %s.%s", ErrPlan, t.Name, c.Column)
		}
		if col.Kind == schema.KindCategory && (c.Value < 0 || c.Value >= int64(len(col.Categories)) || (c.Op != plan.OpEq && c.Op != plan.OpNe)) {
			return fmt.Errorf("%w: predicate on category column %s.%s must be = or != a declared category", ErrPlan, t.Name, c.Column)
		}
	}
	for _, a := range p.Aggregates {
		if a.Kind == plan.AggSum && a.Table == t.Name {
			col, ok := t.Column(a.Column)
			if !ok || col.Kind != schema.KindInt {
				return fmt.Errorf("%w: SUM over %s.%s, which is not an int column", ErrPlan, t.Name, a.Column)
			}
		}
	}
	return nil
}

// buildVectors computes, in slot order, the vectors this party needs for
// a plan: the indicator of its rows that satisfy all its predicates, and
// that indicator times a column for every SUM over its table. Slots of
// people it does not hold are zero.
func buildVectors(d *table.Data, ranks []uint32, entities int, p *plan.Plan) (map[string][]uint64, error) {
	if len(ranks) != d.Len() {
		return nil, fmt.Errorf("alignment has %d ranks for %d rows", len(ranks), d.Len())
	}
	preds := p.PredicatesFor(d.Table.Name)
	cols := make([][]int64, len(preds))
	for i, c := range preds {
		cols[i] = d.Cols[c.Column]
		if cols[i] == nil {
			return nil, fmt.Errorf("%w: no column %s", ErrPlan, c.Column)
		}
	}
	mask := make([]uint64, entities)
	for row, slot := range ranks {
		ok := true
		for i, c := range preds {
			if !c.Eval(cols[i][row]) {
				ok = false
				break
			}
		}
		if ok {
			mask[slot] = 1
		}
	}
	out := map[string][]uint64{maskKey: mask}
	for _, a := range p.Aggregates {
		k := vecKey(a, d.Table.Name)
		if _, done := out[k]; done {
			continue
		}
		col := d.Cols[a.Column]
		if col == nil {
			return nil, fmt.Errorf("%w: no column %s", ErrPlan, a.Column)
		}
		v := make([]uint64, entities)
		for row, slot := range ranks {
			if mask[slot] == 1 {
				v[slot] = uint64(col[row])
			}
		}
		out[k] = v
	}
	return out, nil
}

// outKey identifies one output ciphertext per block: the incoming
// ciphertext it continues (0 for the first party) times one of this
// party's vectors.
type outKey struct {
	in  uint32
	vec string
}

// stepOutputs dedupes the outputs of a chain step: aggregates that continue
// the same incoming ciphertext with the same vector share one output.
// It returns the distinct outputs and, per aggregate, its output index.
func stepOutputs(aggs []plan.Aggregate, inMap []uint32, first bool, mine string, inCount int) ([]outKey, []uint32, error) {
	if !first && len(inMap) != len(aggs) {
		return nil, nil, fmt.Errorf("%w: input map has %d entries for %d aggregates", ErrPlan, len(inMap), len(aggs))
	}
	var keys []outKey
	outMap := make([]uint32, len(aggs))
	for i, a := range aggs {
		k := outKey{vec: vecKey(a, mine)}
		if !first {
			if int(inMap[i]) >= inCount {
				return nil, nil, fmt.Errorf("%w: aggregate %d continues ciphertext %d of %d", ErrPlan, i, inMap[i], inCount)
			}
			k.in = inMap[i]
		}
		j := slices.Index(keys, k)
		if j < 0 {
			j = len(keys)
			keys = append(keys, k)
		}
		outMap[i] = uint32(j)
	}
	return keys, outMap, nil
}
