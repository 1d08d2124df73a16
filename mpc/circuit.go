package mpc

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/mhe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
	"github.com/tuneinsight/lattigo/v5/utils/sampling"
)

// ErrNotExact is returned when a decrypted result is not well-formed packed
// totals (a coefficient that must be zero is not), which means a party or
// the coordinator deviated from the protocol or the noise budget was
// exceeded.
var ErrNotExact = errors.New("decrypted result is not well-formed packed totals")

// Blocks is the number of ciphertext blocks that hold entities slots.
func (p *Params) Blocks(entities int) int {
	n := p.Slots()
	return (entities + n - 1) / n
}

// Worker holds one goroutine's lattigo objects. Lattigo objects are not safe
// for concurrent use: make one Worker per goroutine with Copy.
type Worker struct {
	p    *Params
	ecd  *bgv.Encoder
	enc  *rlwe.Encryptor // nil without a public key
	pk   *rlwe.PublicKey // the key enc encrypts with (an EncPool must be for the same)
	eval *bgv.Evaluator
}

// NewWorker returns a worker. pk (the collective public key) is needed only
// to encrypt; evk (the Galois keys) only to pack totals.
func (p *Params) NewWorker(pk *rlwe.PublicKey, evk rlwe.EvaluationKeySet) *Worker {
	w := &Worker{p: p, ecd: bgv.NewEncoder(p.BGV), eval: bgv.NewEvaluator(p.BGV, evk)}
	if pk != nil {
		w.enc = bgv.NewEncryptor(p.BGV, pk)
		w.pk = pk
	}
	return w
}

// Copy returns an independent worker sharing the read-only keys.
func (w *Worker) Copy() *Worker {
	c := &Worker{p: w.p, ecd: w.ecd.ShallowCopy(), eval: w.eval.ShallowCopy(), pk: w.pk}
	if w.enc != nil {
		c.enc = w.enc.ShallowCopy()
	}
	return c
}

// Encode encodes one block of slot values (each < T) as a plaintext to
// multiply blocks at the given level with. reuse, when not nil and at that
// level, is overwritten instead of allocating: a party encodes each of its
// distinct vectors once per block and multiplies every output using it.
func (w *Worker) Encode(values []uint64, level int, reuse *rlwe.Plaintext) (*rlwe.Plaintext, error) {
	if len(values) > w.p.Slots() {
		return nil, fmt.Errorf("block of %d values exceeds %d slots", len(values), w.p.Slots())
	}
	pt := reuse
	if pt == nil || pt.Level() != level {
		pt = bgv.NewPlaintext(w.p.BGV, level)
	}
	if err := w.ecd.Encode(values, pt); err != nil {
		return nil, fmt.Errorf("encoding block: %w", err)
	}
	return pt, nil
}

// EncryptBlock is the first chain step: encrypt one block of slot values
// (each < T) under the collective key at the chain's fresh level.
func (w *Worker) EncryptBlock(values []uint64, chainLen int) (*rlwe.Ciphertext, error) {
	if w.enc == nil {
		return nil, fmt.Errorf("worker has no public key to encrypt with")
	}
	level, err := w.p.FreshLevel(chainLen)
	if err != nil {
		return nil, err
	}
	pt, err := w.Encode(values, level, nil)
	if err != nil {
		return nil, err
	}
	ct := bgv.NewCiphertext(w.p.BGV, 1, level)
	if err := w.enc.Encrypt(pt, ct); err != nil {
		return nil, fmt.Errorf("encrypting block: %w", err)
	}
	return ct, nil
}

// MulBlock is a later chain step: multiply an incoming block slot-wise by
// this party's plaintext values (encoded at the block's level), then
// rescale one level. No party key is needed and the result stays under the
// collective key.
func (w *Worker) MulBlock(ct *rlwe.Ciphertext, pt *rlwe.Plaintext) (*rlwe.Ciphertext, error) {
	if ct.Level() < 1 {
		return nil, fmt.Errorf("block at level 0 cannot be multiplied further")
	}
	if pt.Level() != ct.Level() {
		return nil, fmt.Errorf("plaintext at level %d for a block at level %d", pt.Level(), ct.Level())
	}
	prod := bgv.NewCiphertext(w.p.BGV, 1, ct.Level())
	if err := w.eval.Mul(ct, pt, prod); err != nil {
		return nil, fmt.Errorf("multiplying block: %w", err)
	}
	out := bgv.NewCiphertext(w.p.BGV, 1, ct.Level()-1)
	if err := w.eval.Rescale(prod, out); err != nil {
		return nil, fmt.Errorf("rescaling block: %w", err)
	}
	return out, nil
}

// AddInto adds ct into acc (acc += ct); both at the same level.
func (w *Worker) AddInto(acc, ct *rlwe.Ciphertext) error {
	if acc.Level() != ct.Level() {
		return fmt.Errorf("adding blocks at levels %d and %d", acc.Level(), ct.Level())
	}
	return w.eval.Add(acc, ct, acc)
}

// DecryptShare is a party's PCKS step: its share of switching the packed
// aggregate ct (at DecryptLevel) to the analyst's public key, with noise
// flooding.
//
// noise, when not nil, is this party's differential-privacy noise: one
// value per total packed in ct (len(noise) is the ciphertext's total
// count k, as given to Pack), noise[j] added to total j inside the share
// (see addNoise), so the analyst decrypts total_j + Σ_parties noise_j mod
// T and no one learns the total noise. A nil noise keeps the totals exact.
func (p *Params) DecryptShare(sk *rlwe.SecretKey, analyst *rlwe.PublicKey, ct *rlwe.Ciphertext, noise []*big.Int) ([]byte, error) {
	if ct.Level() != DecryptLevel {
		return nil, fmt.Errorf("decryption share requested at level %d; only packed totals at level %d are switched", ct.Level(), DecryptLevel)
	}
	pcks, err := mhe.NewPublicKeySwitchProtocol(p.BGV, p.floodDistribution())
	if err != nil {
		return nil, err
	}
	share := pcks.AllocateShare(DecryptLevel)
	pcks.GenShare(sk, analyst, ct, &share)
	if err := p.widenFlooding(share.Value[0], ct.IsNTT); err != nil {
		return nil, err
	}
	if noise != nil {
		if err := p.addNoise(share.Value[0], ct, noise); err != nil {
			return nil, fmt.Errorf("adding differential-privacy noise to the decryption share: %w", err)
		}
	}
	return p.marshalPCKSShare(share), nil
}

// addNoise adds noise[j] to packed total j of ct inside a PCKS share's
// first component h0. The packed plaintext's coefficient j·gap holds
// total_j·N⁻¹ mod T (see Pack; DecryptPacked multiplies by N), so the
// noise is a coefficient-domain plaintext whose coefficient j·gap is
// noise_j·N⁻¹ mod T (negative noise reduced mod T) and every other
// coefficient zero, encoded by lattigo at ct's level, scale and NTT form:
// adding it to h0 is what adding it to ct would be, since the switched
// ciphertext's first component is ct's plus the sum of the h0 shares.
func (p *Params) addNoise(h0 ring.Poly, ct *rlwe.Ciphertext, noise []*big.Int) error {
	_, gap, err := p.packShape(len(noise))
	if err != nil {
		return fmt.Errorf("noise for %d totals: %w", len(noise), err)
	}
	if h0.Level() != ct.Level() {
		return fmt.Errorf("share at level %d for a ciphertext at level %d", h0.Level(), ct.Level())
	}
	t := new(big.Int).SetUint64(p.T())
	nInv := new(big.Int).ModInverse(big.NewInt(int64(p.Slots())), t)
	if nInv == nil {
		return fmt.Errorf("ring degree %d is not invertible mod T=%d", p.Slots(), p.T())
	}
	coeffs := make([]uint64, p.Slots())
	v := new(big.Int)
	for j, x := range noise {
		if x == nil {
			return fmt.Errorf("noise for total %d is missing", j)
		}
		v.Mul(x, nInv).Mod(v, t) // Mod is Euclidean: in [0, T) for negative noise too
		coeffs[j*gap] = v.Uint64()
	}
	pt := bgv.NewPlaintext(p.BGV, ct.Level())
	pt.IsBatched = false
	pt.IsNTT = ct.IsNTT
	pt.Scale = ct.Scale
	if err := bgv.NewEncoder(p.BGV).Encode(coeffs, pt); err != nil {
		return fmt.Errorf("encoding noise: %w", err)
	}
	p.BGV.RingQ().AtLevel(h0.Level()).Add(h0, pt.Value, h0)
	return nil
}

// widenFlooding adds FloodWideScale × y to a PCKS share's first
// component, y a fresh discrete Gaussian of FloodWideSigma per coefficient
// (see ParamSet.FloodWideScale): flooding wider than lattigo's sampler
// can draw, at the cost of one more sample, scalar product and NTT.
func (p *Params) widenFlooding(h0 ring.Poly, isNTT bool) error {
	if p.Set.FloodWideScale == 0 {
		return nil
	}
	prng, err := sampling.NewPRNG()
	if err != nil {
		return err
	}
	ringQ := p.BGV.RingQ().AtLevel(h0.Level())
	sampler, err := ring.NewSampler(prng, p.BGV.RingQ(), ring.DiscreteGaussian{Sigma: p.Set.FloodWideSigma, Bound: 6 * p.Set.FloodWideSigma}, false)
	if err != nil {
		return err
	}
	y := ringQ.NewPoly()
	sampler.AtLevel(h0.Level()).Read(y)
	ringQ.MulScalar(y, p.Set.FloodWideScale, y)
	if isNTT {
		ringQ.NTT(y, y)
	}
	ringQ.Add(h0, y, h0)
	return nil
}

// CombineShares is the coordinator's PCKS step: decode every party's share
// (untrusted) and switch ct to the analyst's key. Every party of the
// collective key must contribute.
func (p *Params) CombineShares(ct *rlwe.Ciphertext, shares map[string][]byte) (*rlwe.Ciphertext, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("no decryption shares")
	}
	pcks, err := mhe.NewPublicKeySwitchProtocol(p.BGV, p.floodDistribution())
	if err != nil {
		return nil, err
	}
	var agg mhe.PublicKeySwitchShare
	first := true
	for _, name := range sortedKeys(shares) {
		s, err := p.unmarshalPCKSShare(shares[name], ct.Level())
		if err != nil {
			return nil, &PartyError{Party: name, Err: err}
		}
		if first {
			agg, first = s, false
			continue
		}
		if err := pcks.AggregateShares(agg, s, &agg); err != nil {
			return nil, &PartyError{Party: name, Err: fmt.Errorf("aggregating decryption share: %w", err)}
		}
	}
	out := bgv.NewCiphertext(p.BGV, 1, ct.Level())
	pcks.KeySwitch(ct, agg, out)
	return out, nil
}

// Combine returns Σ signs[i]·cts[i] (signs ±1), all at one level: the
// coordinator's step that turns the WHERE's sum of products into one
// ciphertext per (group, sum) before packing.
func (w *Worker) Combine(cts []*rlwe.Ciphertext, signs []int) (*rlwe.Ciphertext, error) {
	if len(cts) == 0 || len(cts) != len(signs) {
		return nil, fmt.Errorf("combining %d ciphertexts with %d signs", len(cts), len(signs))
	}
	out := bgv.NewCiphertext(w.p.BGV, 1, cts[0].Level())
	*out.MetaData = *cts[0].MetaData
	for i, ct := range cts {
		if ct.Level() != out.Level() {
			return nil, fmt.Errorf("combining ciphertexts at levels %d and %d", out.Level(), ct.Level())
		}
		var err error
		switch signs[i] {
		case 1:
			err = w.eval.Add(out, ct, out)
		case -1:
			err = w.eval.Sub(out, ct, out)
		default:
			return nil, fmt.Errorf("sign %d is not ±1", signs[i])
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MulAccumulate is the last party's step: acc += ct ⊙ pt, without
// rescaling (acc is allocated when nil). Summing the products of all
// blocks at the incoming level and rescaling once (RescaleOnce) saves a
// rescale per block and output; the noise stays far below the modulus.
func (w *Worker) MulAccumulate(acc, ct *rlwe.Ciphertext, pt *rlwe.Plaintext) (*rlwe.Ciphertext, error) {
	if ct.Level() < 1 {
		return nil, fmt.Errorf("block at level 0 cannot be multiplied further")
	}
	if pt.Level() != ct.Level() {
		return nil, fmt.Errorf("plaintext at level %d for a block at level %d", pt.Level(), ct.Level())
	}
	if acc == nil {
		acc = bgv.NewCiphertext(w.p.BGV, 1, ct.Level())
		acc.IsNTT = true
		acc.Scale = ct.Scale.Mul(pt.Scale)
	}
	if err := w.eval.MulThenAdd(ct, pt, acc); err != nil {
		return nil, fmt.Errorf("multiplying block: %w", err)
	}
	return acc, nil
}

// RescaleOnce drops ct by one level.
func (w *Worker) RescaleOnce(ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	if ct.Level() < 1 {
		return nil, fmt.Errorf("ciphertext at level 0 cannot be rescaled")
	}
	out := bgv.NewCiphertext(w.p.BGV, 1, ct.Level()-1)
	if err := w.eval.Rescale(ct, out); err != nil {
		return nil, fmt.Errorf("rescaling: %w", err)
	}
	return out, nil
}
