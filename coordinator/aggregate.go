package coordinator

import (
	"context"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/pool"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/plan"
)

// aggregate combines the chain's outputs into one ciphertext per (group,
// sum) — Σ over the WHERE's terms of sign × product — then sums each one's
// slots and packs the totals into as few ciphertexts as the parameters
// allow (one for every plan at logN 14), on up to workers goroutines, one
// packed ciphertext at a time each. It does no I/O.
func aggregate(ctx context.Context, base *mpc.Worker, params *mpc.Params, workers int, layout chain.Layout, terms []plan.Term, finals []*rlwe.Ciphertext, outMap []uint32) ([]*rlwe.Ciphertext, error) {
	combined, err := combineTerms(base, layout, terms, finals, outMap)
	if err != nil {
		return nil, err
	}
	n := len(combined)
	packed := make([]*rlwe.Ciphertext, params.PackedCount(n))
	ws := make([]*mpc.Worker, min(max(workers, 1), len(packed)))
	for w := range ws {
		ws[w] = base.Copy()
	}
	err = pool.Run(ctx, len(ws), len(packed), func(_ context.Context, w, i int) error {
		lo, hi := params.PackedChunk(n, i)
		var err error
		packed[i], err = ws[w].Pack(combined[lo:hi])
		return err
	})
	if err != nil {
		return nil, err
	}
	return packed, nil
}

// combineTerms returns, for every (group, sum) in layout order (group
// major), Σ_k sign_k · finals[outMap[index(k, group, sum)]]. Terms beyond
// the plan's (a plan without WHERE has one implicit term) count +1.
func combineTerms(base *mpc.Worker, layout chain.Layout, terms []plan.Term, finals []*rlwe.Ciphertext, outMap []uint32) ([]*rlwe.Ciphertext, error) {
	n := layout.Groups * layout.Sums
	combined := make([]*rlwe.Ciphertext, n)
	for j := range n {
		g, sm := j/layout.Sums, j%layout.Sums
		cts := make([]*rlwe.Ciphertext, layout.Terms)
		signs := make([]int, layout.Terms)
		for k := range layout.Terms {
			cts[k] = finals[outMap[layout.Index(k, g, sm)]]
			signs[k] = 1
			if k < len(terms) {
				signs[k] = terms[k].Sign
			}
		}
		var err error
		if combined[j], err = base.Combine(cts, signs); err != nil {
			return nil, err
		}
	}
	return combined, nil
}
