package mpc

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// testSet is the fast insecure set: same modulus chain and T as the
// default, smaller ring, "for the sole purpose of fast testing".
const testSet = "insecure-test-n12"

func mustParams(t testing.TB, name string) *Params {
	t.Helper()
	p, err := NewParams(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParamSetsSecurityAndShape(t *testing.T) {
	for _, s := range Sets() {
		t.Run(s.Name, func(t *testing.T) {
			p, err := s.Build()
			if err != nil {
				t.Fatal(err)
			}
			limit := HEStandardMaxLogQP(s.LogN)
			if !s.Insecure {
				if limit == 0 || p.LogQP() > float64(limit) {
					t.Fatalf("logQP %.1f exceeds the 128-bit bound %d for logN %d", p.LogQP(), limit, s.LogN)
				}
				if s.FloodSigma < 1<<30 {
					t.Fatalf("noise flooding sigma %.0f below 2^30", s.FloodSigma)
				}
			}
			T := p.T()
			if !new(big.Int).SetUint64(T).ProbablyPrime(40) {
				t.Fatalf("T=%d is not prime", T)
			}
			if (T-1)%uint64(2*p.Slots()) != 0 {
				t.Fatalf("T=%d is not 1 mod 2N: slots would not be fully batched", T)
			}
			for i, q := range p.BGV.RingQ().ModuliChain() {
				if q <= T || q%T == 0 {
					t.Fatalf("q%d=%d must exceed and not be a multiple of T", i, q)
				}
			}
			if p.MaxLevel() != MaxChain {
				t.Fatalf("max level %d, want %d (one per chain step plus aggregation)", p.MaxLevel(), MaxChain)
			}
		})
	}
}

func TestLookupUnknownSet(t *testing.T) {
	if _, err := NewParams("nope"); !errors.Is(err, ErrUnknownParamSet) {
		t.Fatalf("got %v, want ErrUnknownParamSet", err)
	}
}

func TestTranscriptSeed(t *testing.T) {
	nonce := func(b byte) []byte { n := make([]byte, NonceSize); n[0] = b; return n }
	base := Transcript{Consortium: "c", ID: "1", ParamSet: testSet, Parties: []string{"a", "b"},
		Nonces: map[string][]byte{"a": nonce(1), "b": nonce(2)}}
	s1, err := base.Seed()
	if err != nil {
		t.Fatal(err)
	}
	changed := base
	changed.Nonces = map[string][]byte{"a": nonce(1), "b": nonce(3)}
	s2, err := changed.Seed()
	if err != nil {
		t.Fatal(err)
	}
	if s1 == s2 {
		t.Fatal("a different nonce must give a different seed")
	}
	bad := []struct {
		name string
		tr   Transcript
	}{
		{"unsorted", Transcript{Consortium: "c", ID: "1", ParamSet: "x", Parties: []string{"b", "a"}, Nonces: base.Nonces}},
		{"missing nonce", Transcript{Consortium: "c", ID: "1", ParamSet: "x", Parties: []string{"a", "b"}, Nonces: map[string][]byte{"a": nonce(1)}}},
		{"short nonce", Transcript{Consortium: "c", ID: "1", ParamSet: "x", Parties: []string{"a"}, Nonces: map[string][]byte{"a": {1}}}},
		{"extra nonce", Transcript{Consortium: "c", ID: "1", ParamSet: "x", Parties: []string{"a"}, Nonces: base.Nonces}},
		{"duplicate", Transcript{Consortium: "c", ID: "1", ParamSet: "x", Parties: []string{"a", "a"}, Nonces: map[string][]byte{"a": nonce(1)}}},
		{"no id", Transcript{Consortium: "c", ParamSet: "x", Parties: []string{"a"}, Nonces: map[string][]byte{"a": nonce(1)}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.tr.Seed(); !errors.Is(err, ErrTranscript) {
				t.Fatalf("got %v, want ErrTranscript", err)
			}
		})
	}
}

// consortium runs the whole key ceremony in memory.
type consortium struct {
	p     *Params
	sks   map[string]*rlwe.SecretKey
	pk    *rlwe.PublicKey
	evk   *rlwe.MemEvaluationKeySet
	ideal *rlwe.SecretKey // sum of the shares: only tests ever build it
}

func newConsortium(t testing.TB, p *Params, parties ...string) *consortium {
	t.Helper()
	tr := Transcript{Consortium: "test", ID: "c1", ParamSet: p.Set.Name, Parties: parties, Nonces: map[string][]byte{}}
	c := &consortium{p: p, sks: map[string]*rlwe.SecretKey{}, ideal: rlwe.NewSecretKey(p.BGV)}
	for _, name := range parties {
		n := make([]byte, NonceSize)
		_, _ = rand.Read(n)
		tr.Nonces[name] = n
		c.sks[name] = p.NewSecretKey()
		p.BGV.RingQP().Add(c.ideal.Value, c.sks[name].Value, c.ideal.Value)
	}
	seed, err := tr.Seed()
	if err != nil {
		t.Fatal(err)
	}
	shares := map[string][]byte{}
	for name, sk := range c.sks {
		if shares[name], err = p.GenPublicKeyShare(sk, seed); err != nil {
			t.Fatal(err)
		}
	}
	if c.pk, err = p.AggregatePublicKey(seed, shares); err != nil {
		t.Fatal(err)
	}
	var gks []*rlwe.GaloisKey
	for _, el := range p.GaloisElements() {
		gshares := map[string][]byte{}
		for name, sk := range c.sks {
			if gshares[name], err = p.GenGaloisKeyShare(sk, seed, el); err != nil {
				t.Fatal(err)
			}
		}
		gk, err := p.AggregateGaloisKey(seed, el, gshares)
		if err != nil {
			t.Fatal(err)
		}
		gks = append(gks, gk)
	}
	c.evk = rlwe.NewMemEvaluationKeySet(nil, gks...)
	return c
}

// noiseLog2 returns log2 of the largest noise coefficient of ct under the
// ideal key.
func (c *consortium) noiseLog2(t testing.TB, ct *rlwe.Ciphertext) float64 {
	t.Helper()
	_, max := c.noiseStats(t, ct)
	return max
}

// noiseStats returns log2 of the Euclidean norm of ct's noise (its N
// coefficients, centred) and of its largest coefficient, under the ideal
// key.
func (c *consortium) noiseStats(t testing.TB, ct *rlwe.Ciphertext) (l2, max float64) {
	t.Helper()
	dec := bgv.NewDecryptor(c.p.BGV, c.ideal)
	ecd := bgv.NewEncoder(c.p.BGV)
	pt := dec.DecryptNew(ct)
	vals := make([]uint64, c.p.Slots())
	if err := ecd.Encode(vals, pt); err != nil {
		t.Fatal(err)
	}
	if err := ecd.Decode(dec.DecryptNew(ct), vals); err != nil {
		t.Fatal(err)
	}
	pt = bgv.NewPlaintext(c.p.BGV, ct.Level())
	pt.Scale = ct.Scale
	if err := ecd.Encode(vals, pt); err != nil {
		t.Fatal(err)
	}
	diff, err := bgv.NewEvaluator(c.p.BGV, nil).SubNew(ct, pt)
	if err != nil {
		t.Fatal(err)
	}
	_, _, max = rlwe.Norm(diff, dec)
	e := rlwe.NewPlaintext(c.p.BGV, diff.Level())
	dec.Decrypt(diff, e)
	ringQ := c.p.BGV.RingQ().AtLevel(diff.Level())
	if e.IsNTT {
		ringQ.INTT(e.Value, e.Value)
	}
	coeffs := make([]*big.Int, c.p.BGV.N())
	for i := range coeffs {
		coeffs[i] = new(big.Int)
	}
	ringQ.PolyToBigintCentered(e.Value, 1, coeffs)
	sq := new(big.Int)
	for _, x := range coeffs {
		sq.Add(sq, new(big.Int).Mul(x, x))
	}
	f, _ := new(big.Float).SetInt(sq).Float64()
	return 0.5 * math.Log2(f), max
}

// runChain computes the circuit for per-party slot vectors (already
// multiplied by values where a SUM applies) and returns the aggregate.
func (c *consortium) runChain(t testing.TB, vectors [][]uint64) (*rlwe.Ciphertext, []float64) {
	return c.runChainMode(t, vectors, false)
}

// runChainMode runs the chain; with accumulate the last party multiplies
// without rescaling, sums, and rescales once (as the party daemon does).
func (c *consortium) runChainMode(t testing.TB, vectors [][]uint64, accumulate bool) (*rlwe.Ciphertext, []float64) {
	t.Helper()
	k := len(vectors)
	n := c.p.Slots()
	w := c.p.NewWorker(c.pk, c.evk)
	blocks := c.p.Blocks(len(vectors[0]))
	var acc *rlwe.Ciphertext
	var noise []float64
	for b := 0; b < blocks; b++ {
		hi := min((b+1)*n, len(vectors[0]))
		ct, err := w.EncryptBlock(vectors[0][b*n:hi], k)
		if err != nil {
			t.Fatal(err)
		}
		if b == 0 {
			noise = append(noise, c.noiseLog2(t, ct))
		}
		last := k
		if accumulate && k > 1 {
			last = k - 1
		}
		for i := 1; i < last; i++ {
			pt, err := w.Encode(vectors[i][b*n:hi], ct.Level(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if ct, err = w.MulBlock(ct, pt); err != nil {
				t.Fatal(err)
			}
			if b == 0 {
				noise = append(noise, c.noiseLog2(t, ct))
			}
		}
		if last < k {
			pt, err := w.Encode(vectors[k-1][b*n:hi], ct.Level(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if acc, err = w.MulAccumulate(acc, ct, pt); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if acc == nil {
			acc = ct
		} else if err := w.AddInto(acc, ct); err != nil {
			t.Fatal(err)
		}
	}
	if accumulate && k > 1 {
		var err error
		if acc, err = w.RescaleOnce(acc); err != nil {
			t.Fatal(err)
		}
	}
	noise = append(noise, c.noiseLog2(t, acc))
	total, err := w.Pack([]*rlwe.Ciphertext{acc})
	if err != nil {
		t.Fatal(err)
	}
	noise = append(noise, c.noiseLog2(t, total))
	if total.Level() != DecryptLevel {
		t.Fatalf("aggregate at level %d, want %d", total.Level(), DecryptLevel)
	}
	return total, noise
}

func (c *consortium) decryptForAnalyst(t testing.TB, total *rlwe.Ciphertext) uint64 {
	t.Helper()
	return c.decryptPackedForAnalyst(t, total, 1)[0]
}

// decryptPackedForAnalyst runs the decryption protocol on a packed
// ciphertext of k totals, the shares and the result crossing the wire.
func (c *consortium) decryptPackedForAnalyst(t testing.TB, total *rlwe.Ciphertext, k int) []uint64 {
	t.Helper()
	p := c.p
	ask := p.NewSecretKey()
	apk := rlwe.NewKeyGenerator(p.BGV).GenPublicKeyNew(ask)
	// The analyst's key travels as bytes: round-trip it like the daemons do.
	apk, err := p.UnmarshalPublicKey(p.MarshalPublicKey(apk))
	if err != nil {
		t.Fatal(err)
	}
	shares := map[string][]byte{}
	for name, sk := range c.sks {
		if shares[name], err = p.DecryptShare(sk, apk, total, nil); err != nil {
			t.Fatal(err)
		}
	}
	out, err := p.CombineShares(total, shares)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalCiphertext(out)
	if err != nil {
		t.Fatal(err)
	}
	out, err = p.UnmarshalCiphertext(b, DecryptLevel, total.Scale)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.DecryptPacked(ask, out, k)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestCircuitMatchesPlaintext(t *testing.T) {
	p := mustParams(t, testSet)
	c := newConsortium(t, p, "bank", "telecom", "utility")
	rng := mrand.New(mrand.NewPCG(1, 2))
	entities := 2*p.Slots() + 123 // three blocks, the last partial
	for k := 1; k <= MaxChain; k++ {
		for _, mode := range []struct{ sum, acc bool }{{false, false}, {true, false}, {true, true}} {
			withSum := mode.sum
			t.Run(fmt.Sprintf("chain%d/sum=%v/accumulate=%v", k, withSum, mode.acc), func(t *testing.T) {
				vecs := make([][]uint64, k)
				for i := range vecs {
					vecs[i] = make([]uint64, entities)
					for j := range vecs[i] {
						vecs[i][j] = uint64(rng.IntN(2)) // indicator
					}
				}
				if withSum { // the middle (or only) party carries values
					i := k / 2
					for j := range vecs[i] {
						vecs[i][j] *= uint64(rng.IntN(20_000_001))
					}
				}
				var want uint64
				for j := 0; j < entities; j++ {
					v := uint64(1)
					for i := range vecs {
						v *= vecs[i][j]
					}
					want += v
				}
				total, noise := c.runChainMode(t, vecs, mode.acc)
				checkNoise(t, p, noise)
				if got := c.decryptForAnalyst(t, total); got != want {
					t.Fatalf("encrypted total %d, plaintext %d", got, want)
				}
			})
		}
	}
}

// TestWorstCaseExact runs the secure default set at its declared worst case:
// a three-party chain over a million entities whose total is just below T.
func TestWorstCaseExact(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: secure parameters over a million entities")
	}
	p := mustParams(t, DefaultSetName)
	c := newConsortium(t, p, "bank", "telecom", "utility")
	entities := 1_000_000
	maxVal := (p.T() - 1) / uint64(entities)
	ones := make([]uint64, entities)
	vals := make([]uint64, entities)
	for i := range ones {
		ones[i], vals[i] = 1, maxVal
	}
	total, noise := c.runChainMode(t, [][]uint64{ones, vals, ones}, true)
	checkNoise(t, p, noise)
	want := maxVal * uint64(entities)
	if want >= p.T() {
		t.Fatal("test setup: worst case must stay below T")
	}
	if got := c.decryptForAnalyst(t, total); got != want {
		t.Fatalf("worst case: encrypted total %d, plaintext %d", got, want)
	}
	requireFloodingMargin(t, c, total)
}

// MinFloodingBits is the statistical distance, in bits, that one honest
// party's flooding must keep between what the analyst decrypts and a
// distribution that does not depend on the packed totals' noise.
const MinFloodingBits = 40

// floodingBits bounds the statistical distance between D and D + e, D one
// party's flooding (a discrete Gaussian of sigma FloodSigmaTotal on each of
// the N coefficients, above smoothing) and e the noise of the packed
// totals, of Euclidean norm 2^l2Log2: by Pinsker over the Gaussians' KL
// divergence ||e||²/(2σ²), SD ≤ ||e||₂/(2σ). It returns -log2 of that
// bound.
func floodingBits(p *Params, l2Log2 float64) float64 {
	return math.Log2(2*p.Set.FloodSigmaTotal()) - l2Log2
}

// requireFloodingMargin states, for a secure set, the statistical distance
// of one party's flooding from the packed totals' noise and requires at
// least MinFloodingBits.
func requireFloodingMargin(t *testing.T, c *consortium, packed *rlwe.Ciphertext) {
	t.Helper()
	p := c.p
	l2, max := c.noiseStats(t, packed)
	bits := floodingBits(p, l2)
	t.Logf("%s: packed totals' noise of norm 2^%.1f (largest coefficient 2^%.1f); one party's flooding sigma 2^%.1f: statistical distance ≤ 2^-%.1f",
		p.Set.Name, l2, max, math.Log2(p.Set.FloodSigmaTotal()), bits)
	if !p.Set.Insecure && bits < MinFloodingBits {
		t.Fatalf("%s: flooding hides the packed totals' noise only to 2^-%.1f, want 2^-%d", p.Set.Name, bits, MinFloodingBits)
	}
}

// TestFloodingMarginArithmetic checks the bound's arithmetic on round
// figures, so that the statement above cannot silently drift.
func TestFloodingMarginArithmetic(t *testing.T) {
	p := &Params{Set: ParamSet{LogN: 14, FloodSigma: 1 << 56, FloodWideScale: 1 << 50, FloodWideSigma: 1 << 14}}
	// sigma = sqrt(2^112 + 2^128) ≈ 2^64; ||e|| = 2^25.
	if got := floodingBits(p, 25); got < 39.99 || got > 40.01 {
		t.Fatalf("bits = %.3f, want 40", got)
	}
	p.Set.FloodWideScale = 0
	if got := floodingBits(p, 25); got < 31.99 || got > 32.01 {
		t.Fatalf("without widening bits = %.3f, want 32", got)
	}
}

// checkNoise asserts the noise bounds of a chain: every step's noise and the
// aggregate's stay at least 20 bits below the flooding that hides them, and
// flooding from every party still fits the decryption budget.
func checkNoise(t testing.TB, p *Params, noise []float64) {
	t.Helper()
	flood := math.Log2(p.Set.FloodSigmaTotal())
	t.Logf("noise log2 per step %v; flooding 2^%.1f", noise, flood)
	for i, n := range noise {
		if n > flood-20 {
			t.Fatalf("step %d noise 2^%.1f is within 20 bits of the flooding 2^%.0f", i, n, flood)
		}
	}
}

func TestDecryptionBudget(t *testing.T) {
	for _, s := range Sets() {
		p, err := s.Build()
		if err != nil {
			t.Fatal(err)
		}
		logQ := 0.0
		for _, q := range p.BGV.RingQ().ModuliChain()[:DecryptLevel+1] {
			logQ += math.Log2(float64(q))
		}
		// Decryption is exact while |e|·T < Q/2, e = the aggregate's noise
		// (< flooding/2^20, checkNoise) plus MaxChain parties' flooding,
		// whose bound is exact (every sampler is truncated at 6 sigma).
		budget := logQ - 1 - math.Log2(float64(p.T()))
		used := math.Log2(float64(MaxChain)*s.FloodBound()) + 0.01
		t.Logf("%s: flooding bound 2^%.1f of a 2^%.1f budget", s.Name, used, budget)
		if used > budget-4 {
			t.Fatalf("%s: flooding uses 2^%.1f of a 2^%.1f budget: less than 4 bits of margin", s.Name, used, budget)
		}
		if 6*s.FloodSigma >= float64(p.BGV.RingQ().ModuliChain()[0]) {
			t.Fatalf("%s: flooding bound exceeds q0; lattigo's sampler would wrap", s.Name)
		}
		// x + c·y is close to one Gaussian when sigma_x/c is far above the
		// smoothing parameter of Z (about 4.7 for 2^-100): ask for 8.
		if s.FloodWideScale != 0 && s.FloodSigma < 8*float64(s.FloodWideScale) {
			t.Fatalf("%s: FloodSigma 2^%.1f is not 8 times FloodWideScale 2^%.1f", s.Name, math.Log2(s.FloodSigma), math.Log2(float64(s.FloodWideScale)))
		}
	}
}
