package party

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/source"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

// ErrPlan is wrapped by errors about a plan this party cannot run.
var ErrPlan = errors.New("plan refused")

// vecSpec describes one of this party's slot vectors: a term's local
// condition, optionally restricted to one category of each GROUP BY column
// it owns, optionally multiplied by a column's values or squares.
type vecSpec struct {
	local  int   // index into stepPlan.locals (deduplicated)
	groups []int // per GROUP BY column: category index, or -1 if not owned
	sum    *plan.Sum
}

// stepPlan is this party's view of a query's circuit.
type stepPlan struct {
	table    schema.Table
	layout   chain.Layout
	locals   []plan.Local // distinct local conditions of this table
	termLoc  []int        // per term: index into locals
	groupBy  []plan.GroupCol
	sizes    []int
	sums     []plan.Sum
	rows     *source.Rows // read by read: masks per local, values per column
	ranks    []uint32
	entities int
	cache    map[string][]uint64
}

// newStepPlan decodes and checks the parts of a plan that concern this
// party's table: its local condition in every term (decoded against its
// own schema), the GROUP BY columns and sums it owns.
func newStepPlan(wp *wire.WirePlan, t schema.Table, ranks []uint32, entities int) (*stepPlan, error) {
	idx := wp.TableIndex(t.Name)
	if idx < 0 {
		return nil, fmt.Errorf("%w: table %s is not in the plan's tables %v", ErrPlan, t.Name, wp.Tables)
	}
	sp := &stepPlan{table: t, ranks: ranks, entities: entities, groupBy: wp.GroupBy, sizes: wp.GroupSizes(),
		sums: wp.Sums, cache: map[string][]uint64{}}
	sp.layout = chain.Layout{Terms: len(wp.Terms), Groups: wp.Groups(), Sums: len(wp.Sums)}
	if err := sp.layout.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPlan, err)
	}
	seen := map[string]int{}
	for k, term := range wp.Terms {
		l, err := wire.LocalFromProto(term.Locals[idx], t)
		if err != nil {
			return nil, fmt.Errorf("%w: term %d: %w", ErrPlan, k, err)
		}
		if l.Table != t.Name {
			return nil, fmt.Errorf("%w: term %d: local condition for table %s sent to %s", ErrPlan, k, l.Table, t.Name)
		}
		raw := l.Key()
		if j, ok := seen[raw]; ok {
			sp.termLoc = append(sp.termLoc, j)
			continue
		}
		seen[raw] = len(sp.locals)
		sp.termLoc = append(sp.termLoc, len(sp.locals))
		sp.locals = append(sp.locals, l)
	}
	for _, g := range wp.GroupBy {
		if g.Table != t.Name {
			continue
		}
		col, ok := t.Column(g.Column)
		if !ok || col.Kind != schema.KindCategory || !slices.Equal(col.Categories, g.Categories) {
			return nil, fmt.Errorf("%w: GROUP BY %s.%s does not match this party's category column", ErrPlan, t.Name, g.Column)
		}
	}
	for _, s := range wp.Sums {
		if s.Table != t.Name {
			continue
		}
		col, ok := t.Column(s.Column)
		if !ok || col.Kind != schema.KindInt {
			return nil, fmt.Errorf("%w: sum over %s.%s, which is not an int column", ErrPlan, t.Name, s.Column)
		}
	}
	return sp, nil
}

// readFunc reads what a step needs from the party's table (see
// source.Source.Read).
type readFunc func(source.Request) (*source.Rows, error)

// read asks for the step's rows: the required locals' conditions and the
// GROUP BY and summed columns this party owns, and checks the answer's
// shape against the alignment.
func (sp *stepPlan) read(read readFunc) error {
	var req source.Request
	for _, l := range sp.locals {
		req.Locals = append(req.Locals, l.Expr) // nil (true) for absent or any: unused
	}
	for _, g := range sp.groupBy {
		if g.Table == sp.table.Name && !slices.Contains(req.Columns, g.Column) {
			req.Columns = append(req.Columns, g.Column)
		}
	}
	for _, s := range sp.sums {
		if s.Table == sp.table.Name && s.Kind != plan.SumCount && !slices.Contains(req.Columns, s.Column) {
			req.Columns = append(req.Columns, s.Column)
		}
	}
	rows, err := read(req)
	if err != nil {
		if errors.Is(err, plan.ErrEval) {
			return fmt.Errorf("%w: %w", ErrPlan, err)
		}
		return err
	}
	n := len(sp.ranks)
	if len(rows.Masks) != len(req.Locals) {
		return fmt.Errorf("table %s: read %d conditions for %d", sp.table.Name, len(rows.Masks), len(req.Locals))
	}
	for _, m := range rows.Masks {
		if len(m) != n {
			return fmt.Errorf("table %s: read %d rows for %d aligned", sp.table.Name, len(m), n)
		}
	}
	for _, c := range req.Columns {
		if len(rows.Cols[c]) != n {
			return fmt.Errorf("table %s: read %d values of column %s for %d aligned rows", sp.table.Name, len(rows.Cols[c]), c, n)
		}
	}
	sp.rows = rows
	return nil
}

// spec returns the vector this party contributes to output o, and a key
// that is equal for equal vectors.
func (sp *stepPlan) spec(o int) (vecSpec, string) {
	k, g, s := sp.layout.Split(o)
	v := vecSpec{local: sp.termLoc[k], groups: chain.GroupIndices(sp.sizes, g)}
	var b strings.Builder
	fmt.Fprintf(&b, "L%d", v.local)
	for i, gc := range sp.groupBy {
		if gc.Table != sp.table.Name {
			v.groups[i] = -1
			continue
		}
		fmt.Fprintf(&b, "|G%d=%d", i, v.groups[i])
	}
	if sum := sp.sums[s]; sum.Table == sp.table.Name {
		v.sum = &sum
		b.WriteString("|S" + sum.VectorKey())
	}
	return v, b.String()
}

// vector computes (and caches) a slot vector: value per aligned person,
// zero where the condition fails.
func (sp *stepPlan) vector(v vecSpec, key string) ([]uint64, error) {
	if out, ok := sp.cache[key]; ok {
		return out, nil
	}
	base, err := sp.base(v.local)
	if err != nil {
		return nil, err
	}
	out := base
	filtered := v.sum != nil
	for _, g := range v.groups {
		filtered = filtered || g >= 0
	}
	if filtered {
		out = make([]uint64, sp.entities)
		var vals []int64
		if v.sum != nil {
			vals = sp.rows.Cols[v.sum.Column]
		}
		for row, slot := range sp.ranks {
			if base[slot] == 0 {
				continue
			}
			ok := true
			for i, g := range v.groups {
				if g >= 0 && sp.rows.Cols[sp.groupBy[i].Column][row] != int64(g) {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			if v.sum == nil {
				out[slot] = 1
				continue
			}
			// LEAST(t.c, clip), its square (exact in 128 bits), or a
			// digit of either for a split sum.
			out[slot] = v.sum.PersonValue(vals[row])
		}
	}
	sp.cache[key] = out
	return out, nil
}

// base is a local condition's 0/1 vector over the aligned slots.
func (sp *stepPlan) base(i int) ([]uint64, error) {
	key := fmt.Sprintf("base%d", i)
	if out, ok := sp.cache[key]; ok {
		return out, nil
	}
	l := sp.locals[i]
	out := make([]uint64, sp.entities)
	switch l.Presence {
	case plan.PresenceRequired:
		mask := sp.rows.Masks[i]
		for row, slot := range sp.ranks {
			if mask[row] {
				out[slot] = 1
			}
		}
	case plan.PresenceAbsent, plan.PresenceAny:
		for s := range out {
			out[s] = 1
		}
		if l.Presence == plan.PresenceAbsent {
			for _, slot := range sp.ranks {
				out[slot] = 0
			}
		}
	default:
		return nil, fmt.Errorf("%w: presence %v", ErrPlan, l.Presence)
	}
	sp.cache[key] = out
	return out, nil
}

// outKey identifies one output ciphertext per block: the incoming
// ciphertext it continues (0 for the first party) times one of this
// party's vectors.
type outKey struct {
	in  uint32
	vec string
}

// stepOutputs dedupes the outputs of a chain step: outputs that continue
// the same incoming ciphertext with the same vector share one ciphertext.
// It returns the distinct ciphertexts (key and vector spec) and, per
// output, its ciphertext index.
func (sp *stepPlan) stepOutputs(inMap []uint32, first bool, inCount int) ([]outKey, []vecSpec, []uint32, error) {
	n := sp.layout.N()
	if !first && len(inMap) != n {
		return nil, nil, nil, fmt.Errorf("%w: input map has %d entries for %d outputs", ErrPlan, len(inMap), n)
	}
	var keys []outKey
	var specs []vecSpec
	outMap := make([]uint32, n)
	for o := 0; o < n; o++ {
		spec, vk := sp.spec(o)
		k := outKey{vec: vk}
		if !first {
			if int(inMap[o]) >= inCount {
				return nil, nil, nil, fmt.Errorf("%w: output %d continues ciphertext %d of %d", ErrPlan, o, inMap[o], inCount)
			}
			k.in = inMap[o]
		}
		j := slices.Index(keys, k)
		if j < 0 {
			j = len(keys)
			keys = append(keys, k)
			specs = append(specs, spec)
		}
		outMap[o] = uint32(j)
	}
	return keys, specs, outMap, nil
}
