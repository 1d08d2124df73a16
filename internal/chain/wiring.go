package chain

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/internal/wire"
)

// ErrWiring is wrapped when the plan does not define a wiring (a table
// that is not the plan's, a layout out of bounds).
var ErrWiring = errors.New("chain wiring")

// Wiring is what a committed plan implies for its chain: the order of the
// tables' parties, and the output map each computes (OutMaps[i][o] is
// the ciphertext, among party i's per-block outputs, that carries output
// o). Party i > 0 receives OutMaps[i-1] as its input map. Both the
// parties (to refuse a rewired chain) and the coordinator (to open every
// party's step at once rather than wait for each map in turn) derive it
// from the plan alone. Pure.
func Wiring(wp *wire.WirePlan) (order []string, outMaps [][]uint32, err error) {
	order = OrderTables(wp.Tables, wp.Sums, wp.GroupBy)
	var prev []uint32
	for q, table := range order {
		if prev, err = outMapOf(wp, table, q == 0, prev); err != nil {
			return nil, nil, err
		}
		outMaps = append(outMaps, prev)
	}
	return order, outMaps, nil
}

// outMapOf is the output map the party of table computes: outputs that
// continue the same incoming ciphertext with the same vector share one
// ciphertext, numbered in order of first use. Equal local conditions are
// recognised by their deterministic encoding, which is what the planner's
// normalized conditions give for equal formulas.
func outMapOf(wp *wire.WirePlan, table string, first bool, inMap []uint32) ([]uint32, error) {
	idx := wp.TableIndex(table)
	if idx < 0 {
		return nil, fmt.Errorf("%w: table %s is not in the plan", ErrWiring, table)
	}
	layout := Layout{Terms: len(wp.Terms), Groups: wp.Groups(), Sums: len(wp.Sums)}
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
	index := map[key]uint32{}
	out := make([]uint32, layout.N())
	for o := range out {
		k, g, s := layout.Split(o)
		var b strings.Builder
		fmt.Fprintf(&b, "L%d", termLoc[k])
		groups := GroupIndices(sizes, g)
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
		j, ok := index[kk]
		if !ok {
			j = uint32(len(index))
			index[kk] = j
		}
		out[o] = j
	}
	return out, nil
}

// Short renders a map for an error message, eliding the middle of a long
// one.
func Short(m []uint32) string {
	if len(m) <= 16 {
		return fmt.Sprint(m)
	}
	return fmt.Sprintf("%v … %v (%d entries)", m[:8], m[len(m)-8:], len(m))
}
