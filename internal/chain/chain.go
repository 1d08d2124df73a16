// Package chain lays out a planned query as the party chain computes it:
// the order of the parties, and the encrypted outputs — one per (term of
// the WHERE's sum of products, group, sum) — that flow through the chain
// and that the coordinator combines into one ciphertext per (group, sum).
// It also estimates a query's cost for EXPLAIN. Pure: no I/O.
package chain

import (
	"fmt"
	"slices"

	"github.com/mpcq/mpcq/plan"
)

// Layout enumerates a query's chain outputs: output o is term k, group g,
// sum s with o = (k*Groups + g)*Sums + s.
type Layout struct {
	Terms, Groups, Sums int
}

// LayoutOf returns a plan's layout.
func LayoutOf(p *plan.Plan) Layout {
	return Layout{Terms: max(1, len(p.Terms)), Groups: len(p.Groups()), Sums: len(p.Sums())}
}

// N is the number of outputs.
func (l Layout) N() int { return l.Terms * l.Groups * l.Sums }

// Split returns the term, group and sum of output o.
func (l Layout) Split(o int) (k, g, s int) {
	s = o % l.Sums
	g = (o / l.Sums) % l.Groups
	k = o / (l.Sums * l.Groups)
	return
}

// Index is the output of term k, group g, sum s.
func (l Layout) Index(k, g, s int) int { return (k*l.Groups+g)*l.Sums + s }

// Validate checks a layout received from the network.
func (l Layout) Validate() error {
	if l.Terms < 1 || l.Terms > plan.MaxTerms || l.Groups < 1 || l.Groups > plan.MaxGroups || l.Sums < 1 || l.Sums > 64 {
		return fmt.Errorf("layout of %d terms, %d groups, %d sums is out of range", l.Terms, l.Groups, l.Sums)
	}
	return nil
}

// GroupIndices returns, for group g, the category index of each GROUP BY
// column (sizes are the columns' category counts; the first column varies
// slowest, as plan.Groups enumerates them).
func GroupIndices(sizes []int, g int) []int {
	out := make([]int, len(sizes))
	for i := len(sizes) - 1; i >= 0; i-- {
		out[i] = g % sizes[i]
		g /= sizes[i]
	}
	return out
}

// Order returns the chain order of a plan's tables. The first party
// encrypts one ciphertext per distinct vector and block, so it should own
// as few distinct vectors as possible: tables owning GROUP BY columns go
// last (their group indicators multiply only the final products), tables
// owning summed columns next to last; ties keep FROM order.
func Order(p *plan.Plan) []string {
	return OrderTables(p.Tables, p.Sums(), p.GroupBy)
}

// OrderTables is Order on a plan's parts, as a party receives them: the
// tables in FROM order, the sums and the GROUP BY columns.
func OrderTables(tables []string, sums []plan.Sum, groupBy []plan.GroupCol) []string {
	weight := map[string]int{}
	for _, s := range sums {
		if s.Table != "" {
			weight[s.Table] = max(weight[s.Table], 1)
		}
	}
	for _, g := range groupBy {
		weight[g.Table] = 2
	}
	out := slices.Clone(tables)
	slices.SortStableFunc(out, func(a, b string) int { return weight[a] - weight[b] })
	return out
}

// Depth is the multiplicative depth of the circuit: one ciphertext ×
// plaintext product per party after the first.
func Depth(chainLen int) int { return chainLen - 1 }
