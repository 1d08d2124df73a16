package mpc

import (
	"fmt"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// Packing the totals.
//
// A batched plaintext m(X) = Σ c_i X^i holds its slots at the N roots of
// X^N + 1 modulo T, so the sum of its slots is N·c_0 mod T: a ciphertext's
// total is already in its constant coefficient. Pack moves the constant
// coefficient of each of k ciphertexts to position j·gap of one ciphertext,
// gap = N/padded with padded the power of two ≥ max(k, 4) (lattigo's Pack:
// padded−1 key switches), then zeroes every other coefficient (a partial
// Trace: log2(gap) more key switches; PackKeySwitches counts them).
// Decryption therefore reveals the k totals and nothing else, and costs one
// decryption share per party for the whole query instead of one per
// (group, sum); summing each ciphertext's slots separately cost log2(N) key
// switches per total.
//
// The automorphisms used are the full trace's (X → X^(5^(2^i)) for
// i < log2(N)−1, and X → X^(−1)): the ceremony's Galois keys.

// MaxPacked is the largest number of totals one packed ciphertext holds
// (8,192 at logN 14: more than a plan's 100 groups × 64 sums).
func (p *Params) MaxPacked() int { return p.Slots() / 2 }

// PackedCount is the number of packed ciphertexts that hold k totals.
func (p *Params) PackedCount(k int) int { return (k + p.MaxPacked() - 1) / p.MaxPacked() }

// PackedChunk returns the totals [lo, hi) that packed ciphertext i of k
// holds.
func (p *Params) PackedChunk(k, i int) (lo, hi int) {
	return i * p.MaxPacked(), min(k, (i+1)*p.MaxPacked())
}

// packShape returns the padded count (a power of two, at least 4) and the
// coefficient gap between packed totals, for k totals.
func (p *Params) packShape(k int) (padded, gap int, err error) {
	if k < 1 || k > p.MaxPacked() {
		return 0, 0, fmt.Errorf("packing %d totals: supported 1 to %d", k, p.MaxPacked())
	}
	padded = max(4, 1<<bits.Len(uint(k-1)))
	return padded, p.Slots() / padded, nil
}

// PackKeySwitches is the number of key switches (automorphisms) packing k
// totals costs, over all packed ciphertexts: for one ciphertext of k > 1
// totals, padded−1 merges plus log2(N/padded) trace steps; for k = 1 the
// full trace, log2(N).
func (p *Params) PackKeySwitches(k int) int {
	logN := p.BGV.LogN()
	total := 0
	for i := range p.PackedCount(k) {
		lo, hi := p.PackedChunk(k, i)
		padded, _, err := p.packShape(hi - lo)
		switch {
		case err != nil:
			return 0
		case hi-lo == 1:
			total += logN
		default:
			total += padded - 1 + logN - (bits.Len(uint(padded)) - 1)
		}
	}
	return total
}

// Pack sums the slots of each ciphertext (all at one level) and packs the
// k totals into one ciphertext at DecryptLevel whose coefficient j·gap
// holds total_j·N⁻¹ mod T and every other coefficient zero. It consumes
// (overwrites) its inputs. Needs the rotation keys.
func (w *Worker) Pack(cts []*rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	padded, gap, err := w.p.packShape(len(cts))
	if err != nil {
		return nil, err
	}
	for i, ct := range cts {
		if ct.Degree() != 1 || ct.Level() != cts[0].Level() {
			return nil, fmt.Errorf("packing ciphertext %d of degree %d at level %d with others at level %d", i, ct.Degree(), ct.Level(), cts[0].Level())
		}
	}
	var out *rlwe.Ciphertext
	if len(cts) == 1 {
		// One total: the full trace keeps only the constant coefficient.
		out = bgv.NewCiphertext(w.p.BGV, 1, cts[0].Level())
		if err := w.eval.Trace(cts[0], 0, out); err != nil {
			return nil, fmt.Errorf("summing slots: %w", err)
		}
	} else {
		m := make(map[int]*rlwe.Ciphertext, len(cts))
		for j, ct := range cts {
			m[j*gap] = ct
		}
		if out, err = w.eval.Evaluator.Pack(m, w.p.BGV.LogN(), false); err != nil {
			return nil, fmt.Errorf("packing totals: %w", err)
		}
		// Zero every coefficient that is not a multiple of gap: the trace
		// down to the subring Z[X^gap] (of degree 2^(logN−log2 gap)).
		logn := bits.Len(uint(padded)) - 2
		if err := w.eval.Trace(out, logn, out); err != nil {
			return nil, fmt.Errorf("clearing packed ciphertext: %w", err)
		}
	}
	for out.Level() > DecryptLevel {
		next := bgv.NewCiphertext(w.p.BGV, 1, out.Level()-1)
		if err := w.eval.Rescale(out, next); err != nil {
			return nil, fmt.Errorf("rescaling packed totals: %w", err)
		}
		out = next
	}
	return out, nil
}

// DecryptPacked is the analyst's step: decrypt a switched packed ciphertext
// and return its k totals, checking that every other coefficient is zero
// (a deviation from the protocol, or noise beyond the budget, would show
// there).
func (p *Params) DecryptPacked(sk *rlwe.SecretKey, ct *rlwe.Ciphertext, k int) ([]uint64, error) {
	_, gap, err := p.packShape(k)
	if err != nil {
		return nil, err
	}
	pt := bgv.NewDecryptor(p.BGV, sk).DecryptNew(ct)
	pt.IsBatched = false
	coeffs := make([]uint64, p.Slots())
	if err := bgv.NewEncoder(p.BGV).Decode(pt, coeffs); err != nil {
		return nil, fmt.Errorf("decoding result: %w", err)
	}
	t, n := p.T(), uint64(p.Slots())
	out := make([]uint64, k)
	for i, c := range coeffs {
		if i%gap == 0 && i/gap < k {
			hi, lo := bits.Mul64(c, n)
			_, out[i/gap] = bits.Div64(hi%t, lo, t)
			continue
		}
		if c != 0 {
			return nil, fmt.Errorf("%w: coefficient %d holds %d where only zero may be", ErrNotExact, i, c)
		}
	}
	return out, nil
}
