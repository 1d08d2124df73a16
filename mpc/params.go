package mpc

import (
	"errors"
	"fmt"
	"math"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// ErrUnknownParamSet is returned for a parameter set name that is not defined.
var ErrUnknownParamSet = errors.New("unknown parameter set")

// DecryptLevel is the level of an aggregate when it is switched to the
// analyst's key. Lattigo's BGV keeps T^-1·m + e, so decryption is exact while
// |e|·T < Q_l/2: at level 1 (119 bits) that leaves about 2^73 for the
// ciphertext noise (about 2^27 after aggregation) plus every party's flooding.
const DecryptLevel = 1

// MaxChain is the largest number of parties in a query's chain. The
// modulus chain has one level per party plus one for the final aggregation.
const MaxChain = 3

// ParamSet is a named, validated BGV parameter set.
type ParamSet struct {
	Name string
	LogN int
	LogQ []int // one prime per level; level 0 first
	LogP []int // key-switching primes
	T    uint64
	// FloodSigma is the standard deviation of the discrete Gaussian noise
	// each party adds to its PCKS decryption share (noise flooding); the
	// bound is 6 sigma, below q0 as lattigo's sampler needs.
	FloodSigma float64
	// FloodWideScale and FloodWideSigma widen the flooding beyond what
	// lattigo's sampler can draw (6 sigma < q0 ≈ 2^60): each party also
	// adds FloodWideScale × y, y drawn from a discrete Gaussian of
	// FloodWideSigma (bound 6 sigma). As FloodSigma is many times
	// FloodWideScale (at least 8: far above the smoothing parameter of
	// the integers), x + FloodWideScale·y is statistically close to one
	// discrete Gaussian of sigma FloodSigmaTotal. Zero scale: no widening.
	FloodWideScale uint64
	FloodWideSigma float64
	// Insecure marks a set below 128-bit security, for fast unit tests only.
	Insecure bool
}

// DefaultSetName is the parameter set the daemons use unless told otherwise.
const DefaultSetName = "bgv-n14-t45"

// Sets returns the defined parameter sets.
func Sets() []ParamSet {
	return []ParamSet{
		{
			// 16,384 slots per ciphertext; T is a 45-bit prime ≡ 1 mod 2^16,
			// so every total below 3.5e13 is exact. logQP = 237+122 = 359,
			// under the HE-standard 438 for logN 14. Flooding: 2^56 drawn by
			// lattigo (bound 6 sigma < q0) plus 2^50 × a Gaussian of 2^14,
			// about 2^64 in all: the packed totals' noise (Euclidean norm
			// about 2^20 at a million entities) is hidden at a statistical
			// distance below 2^-40 (about 2^-45) by one honest party's
			// flooding alone (requireFloodingMargin in the worst-case
			// tests), and three parties' flooding bounds (2^68.2) stay
			// below the 2^73 that DecryptLevel's two primes allow for T
			// (TestDecryptionBudget).
			Name: DefaultSetName, LogN: 14,
			LogQ: []int{60, 59, 59, 59}, LogP: []int{61, 61},
			T: 35184368877569, FloodSigma: 1 << 56, FloodWideScale: 1 << 50, FloodWideSigma: 1 << 14,
		},
		{
			// Same modulus structure at logN 12: NOT secure, unit tests only.
			Name: "insecure-test-n12", LogN: 12,
			LogQ: []int{60, 59, 59, 59}, LogP: []int{61, 61},
			T: 35184368877569, FloodSigma: 1 << 56, FloodWideScale: 1 << 50, FloodWideSigma: 1 << 14, Insecure: true,
		},
	}
}

// LookupSet returns the parameter set with the given name.
func LookupSet(name string) (ParamSet, error) {
	for _, s := range Sets() {
		if s.Name == name {
			return s, nil
		}
	}
	names := []string{}
	for _, s := range Sets() {
		names = append(names, s.Name)
	}
	return ParamSet{}, fmt.Errorf("%w %q (defined: %v)", ErrUnknownParamSet, name, names)
}

// Params is an instantiated parameter set.
type Params struct {
	Set ParamSet
	BGV bgv.Parameters
}

// NewParams instantiates the named set.
func NewParams(name string) (*Params, error) {
	set, err := LookupSet(name)
	if err != nil {
		return nil, err
	}
	return set.Build()
}

// Build instantiates the set with lattigo.
func (s ParamSet) Build() (*Params, error) {
	if len(s.LogQ) != MaxChain+1 {
		return nil, fmt.Errorf("parameter set %s: need %d Q primes (one per chain step plus aggregation), have %d", s.Name, MaxChain+1, len(s.LogQ))
	}
	p, err := bgv.NewParametersFromLiteral(bgv.ParametersLiteral{
		LogN: s.LogN, LogQ: s.LogQ, LogP: s.LogP, PlaintextModulus: s.T,
	})
	if err != nil {
		return nil, fmt.Errorf("parameter set %s: %w", s.Name, err)
	}
	return &Params{Set: s, BGV: p}, nil
}

// Slots is the number of entities one ciphertext holds.
func (p *Params) Slots() int { return p.BGV.N() }

// T is the plaintext modulus: every exact total is below it.
func (p *Params) T() uint64 { return p.BGV.PlaintextModulus() }

// MaxLevel is the top level of the modulus chain.
func (p *Params) MaxLevel() int { return p.BGV.MaxLevel() }

// LogQP is the bit size of the whole key-switching modulus.
func (p *Params) LogQP() float64 { return p.BGV.LogQP() }

// HEStandardMaxLogQP is the largest logQP that the HomomorphicEncryption.org
// standard rates 128-bit secure (ternary secret) for a ring degree, or 0 when
// the degree is not in the table.
func HEStandardMaxLogQP(logN int) int {
	switch logN {
	case 10:
		return 27
	case 11:
		return 54
	case 12:
		return 109
	case 13:
		return 218
	case 14:
		return 438
	case 15:
		return 881
	}
	return 0
}

// GaloisElements lists the Galois elements the packing of totals needs
// keys for, in a fixed order: those of the full trace (X → X^(5^(2^i)) for
// i < log2(N)−1, and X → X^(−1)), of which Pack's are a subset.
func (p *Params) GaloisElements() []uint64 {
	return rlwe.GaloisElementsForTrace(p.BGV, 0)
}

// FreshLevel is the level at which the first party of a chain of the given
// length encrypts: one level per product that follows plus one for the
// coordinator's aggregation.
func (p *Params) FreshLevel(chainLen int) (int, error) {
	if chainLen < 1 || chainLen > MaxChain {
		return 0, fmt.Errorf("chain of %d parties: supported 1 to %d", chainLen, MaxChain)
	}
	return chainLen, nil
}

// ScaleAt returns the scale of a chain ciphertext that was encrypted at
// level fresh and rescaled down to level, as the evaluator tracks it.
func (p *Params) ScaleAt(fresh, level int) rlwe.Scale {
	s := p.BGV.NewScale(1)
	q := p.BGV.RingQ().ModuliChain()
	for l := fresh; l > level; l-- {
		s = s.Div(p.BGV.NewScale(q[l]))
	}
	return s
}

// floodDistribution is the noise-flooding distribution lattigo draws for
// PCKS shares (see ParamSet.FloodWideScale for the rest).
func (p *Params) floodDistribution() ring.DistributionParameters {
	return ring.DiscreteGaussian{Sigma: p.Set.FloodSigma, Bound: 6 * p.Set.FloodSigma}
}

// FloodSigmaTotal is the standard deviation of one party's whole flooding
// noise: sqrt(FloodSigma² + (FloodWideScale·FloodWideSigma)²).
func (s ParamSet) FloodSigmaTotal() float64 {
	wide := float64(s.FloodWideScale) * s.FloodWideSigma
	return math.Sqrt(s.FloodSigma*s.FloodSigma + wide*wide)
}

// FloodBound is the largest absolute value of one party's flooding noise
// per coefficient (every sampler is bounded at 6 sigma).
func (s ParamSet) FloodBound() float64 {
	return 6*s.FloodSigma + float64(s.FloodWideScale)*6*s.FloodWideSigma
}
