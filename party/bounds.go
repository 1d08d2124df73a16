package party

import (
	"errors"
	"fmt"

	"github.com/mpcq/mpcq/internal/chain"
)

// Bounded work, the party's side: whatever the coordinator checked, a
// party refuses a step whose planned memory is above its own
// max_step_memory_mb, and more than max_concurrent_steps steps at once.

var (
	// ErrTooLarge means a step's planned memory is above
	// max_step_memory_mb (InvalidArgument: the same step is refused
	// however idle the party is).
	ErrTooLarge = errors.New("query step too large")
	// ErrBusy means max_concurrent_steps steps are running
	// (ResourceExhausted: the same step may run later).
	ErrBusy = errors.New("party busy")
)

// shape is the step's figures for the memory model the coordinator's
// EXPLAIN uses (chain.StepShape), on workers goroutines.
func (st *step) shape(workers int) chain.StepShape {
	out := st.params.CiphertextSize(st.inLevel - 1)
	s := chain.StepShape{First: st.first(), Last: st.last(), Workers: workers, Entities: st.entities,
		Vectors: len(st.vecs), In: st.inCount, Out: len(st.outs), OutBytes: out}
	if !st.first() {
		s.InBytes = st.params.CiphertextSize(st.inLevel)
	}
	if st.last() {
		s.SumBytes = out
		s.Totals = st.layout.Groups * st.layout.Sums
		s.Packed = st.params.PackedCount(s.Totals)
		if !st.first() {
			s.OutBytes = s.InBytes // running sums stay at the incoming level
		}
	}
	return s
}

// checkMemory refuses a step whose planned peak on workers goroutines is
// above maxBytes (0: no check).
func (st *step) checkMemory(workers int, maxBytes int64) error {
	sh := st.shape(workers)
	if maxBytes <= 0 || sh.Bytes() <= maxBytes {
		return nil
	}
	return fmt.Errorf("%w: this step needs about %s (%s), above this party's cap of %s (max_step_memory_mb)",
		ErrTooLarge, chain.HumanBytes(sh.Bytes()), sh.Detail(), chain.HumanBytes(maxBytes))
}
