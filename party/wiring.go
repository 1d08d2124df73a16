package party

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/wire"
)

// ErrWiring is wrapped when a step's place in the chain or its input map
// is not what the committed plan implies: a coordinator rewiring the
// chain (which incoming ciphertext continues which output) would make the
// last party compute, pack and sign a circuit other than the committed one.
var ErrWiring = errors.New("chain wiring differs from the committed plan")

// checkWiring checks, from the committed plan alone, that table sits at
// position pos of the plan's chain order and that inMap is exactly the
// output map the party before it computes (none for the first party).
// Pure.
func checkWiring(wp *wire.WirePlan, table string, pos int, inMap []uint32) error {
	order := chain.OrderTables(wp.Tables, wp.Sums, wp.GroupBy)
	if pos < 0 || pos >= len(order) || order[pos] != table {
		return fmt.Errorf("%w: the plan's chain order is %v; table %s is not at position %d", ErrWiring, order, table, pos)
	}
	if pos == 0 {
		if len(inMap) != 0 {
			return fmt.Errorf("%w: the first party of the chain is given an input map of %d entries", ErrWiring, len(inMap))
		}
		return nil
	}
	var want []uint32
	for q := range pos {
		var err error
		if want, err = outMapOf(wp, order[q], q == 0, want); err != nil {
			return err
		}
	}
	if !slices.Equal(inMap, want) {
		return fmt.Errorf("%w: input map %v, the plan implies %v for the outputs of %s", ErrWiring, short(inMap), short(want), order[pos-1])
	}
	return nil
}

// outMapOf is the output map the party of table computes (stepOutputs):
// outputs that continue the same incoming ciphertext with the same vector
// share one ciphertext, numbered in order of first use. Equal local
// conditions are recognised by their deterministic encoding, which is what
// the planner's normalized conditions give for equal formulas.
func outMapOf(wp *wire.WirePlan, table string, first bool, inMap []uint32) ([]uint32, error) {
	idx := wp.TableIndex(table)
	if idx < 0 {
		return nil, fmt.Errorf("%w: table %s is not in the plan", ErrWiring, table)
	}
	layout := chain.Layout{Terms: len(wp.Terms), Groups: wp.Groups(), Sums: len(wp.Sums)}
	if err := layout.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWiring, err)
	}
	if !first && len(inMap) != layout.N() {
		return nil, fmt.Errorf("%w: input map of %d entries for %d outputs", ErrWiring, len(inMap), layout.N())
	}
	// The distinct local conditions of the table, by first use.
	termLoc := make([]int, len(wp.Terms))
	seen := map[string]int{}
	for k, term := range wp.Terms {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(term.Locals[idx])
		if err != nil {
			return nil, fmt.Errorf("%w: term %d: %v", ErrWiring, k, err)
		}
		j, ok := seen[string(b)]
		if !ok {
			j = len(seen)
			seen[string(b)] = j
		}
		termLoc[k] = j
	}
	sizes := wp.GroupSizes()
	type key struct {
		in  uint32
		vec string
	}
	var keys []key
	out := make([]uint32, layout.N())
	for o := range out {
		k, g, s := layout.Split(o)
		var b strings.Builder
		fmt.Fprintf(&b, "L%d", termLoc[k])
		groups := chain.GroupIndices(sizes, g)
		for i, gc := range wp.GroupBy {
			if gc.Table == table {
				fmt.Fprintf(&b, "|G%d=%d", i, groups[i])
			}
		}
		if sum := wp.Sums[s]; sum.Table == table {
			b.WriteString("|S" + sum.VectorKey())
		}
		kk := key{vec: b.String()}
		if !first {
			kk.in = inMap[o]
		}
		j := slices.Index(keys, kk)
		if j < 0 {
			j = len(keys)
			keys = append(keys, kk)
		}
		out[o] = uint32(j)
	}
	return out, nil
}

// short renders a map for an error message, eliding the middle of a long one.
func short(m []uint32) string {
	if len(m) <= 16 {
		return fmt.Sprint(m)
	}
	return fmt.Sprintf("%v … %v (%d entries)", m[:8], m[len(m)-8:], len(m))
}
