package party

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/wire"
)

// ErrWiring is wrapped when a step's place in the chain or its input map
// is not what the committed plan implies: a coordinator rewiring the
// chain (which incoming ciphertext continues which output) would make the
// last party compute, pack and sign a circuit other than the committed one.
var ErrWiring = errors.New("chain wiring differs from the committed plan")

// checkWiring checks, from the committed plan alone (chain.Wiring), that
// table sits at position pos of the plan's chain order and that inMap is
// exactly the output map the party before it computes (none for the
// first party). Pure.
func checkWiring(wp *wire.WirePlan, table string, pos int, inMap []uint32) error {
	order, outMaps, err := chain.Wiring(wp)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWiring, err)
	}
	if pos < 0 || pos >= len(order) || order[pos] != table {
		return fmt.Errorf("%w: the plan's chain order is %v; table %s is not at position %d", ErrWiring, order, table, pos)
	}
	if pos == 0 {
		if len(inMap) != 0 {
			return fmt.Errorf("%w: the first party of the chain is given an input map of %d entries", ErrWiring, len(inMap))
		}
		return nil
	}
	if want := outMaps[pos-1]; !slices.Equal(inMap, want) {
		return fmt.Errorf("%w: input map %v, the plan implies %v for the outputs of %s", ErrWiring, chain.Short(inMap), chain.Short(want), order[pos-1])
	}
	return nil
}
