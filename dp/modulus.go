package dp

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

// TailFactor bounds one noise share: P(|DLap(t)| > TailFactor·t) ≤
// e^{−TailFactor}, about 2^-58 at 40.
const TailFactor = 40

// ErrNoiseTooWide is wrapped when a noisy total could wrap around the
// plaintext modulus.
var ErrNoiseTooWide = errors.New("the noise could wrap around the plaintext modulus")

// NoiseBound is B, the bound on the total noise of a sum with scale t
// from k+1 parties: TailFactor·(k+1)·t rounded up.
func NoiseBound(t *big.Rat, k int) *big.Int {
	b := new(big.Rat).Mul(t, big.NewRat(int64(TailFactor)*int64(k+1), 1))
	q, r := new(big.Int).QuoRem(b.Num(), b.Denom(), new(big.Int))
	if r.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// Decode turns a noisy total decrypted mod T into a signed value, given
// its noise bound B: the true total is in [0, worst] and the noise in
// [−B, B], so the noisy total is in [−B, T−B) when FitsModulus holds:
// values at or above T−B stand for negative totals.
func Decode(v, T uint64, B *big.Int) int64 {
	if B.IsUint64() && B.Uint64() < T && v >= T-B.Uint64() {
		return int64(v) - int64(T)
	}
	return int64(v)
}

// FitsModulus checks that every noisy total of a plan stays decodable:
// its largest possible value (entities × the sum's sensitivity, a
// digit's own for a digit of a split sum) plus twice the noise bound of
// k+1 parties (NoiseBound of its scale, SumScales) must stay below T, or
// Decode could not tell a large total from a negative one. The error
// names the sum and says how to fix it.
func FitsModulus(p *plan.Plan, cs schema.Consortium, entities, T, epsilonMilli uint64, k int) error {
	if epsilonMilli == 0 {
		return nil
	}
	scales, err := Scales(p, cs, epsilonMilli, Room{Modulus: T, Collusion: k})
	if err != nil {
		return err
	}
	mod := new(big.Int).SetUint64(T)
	for i, s := range p.Sums() {
		d, err := Sensitivity(s, cs)
		if err != nil {
			return err
		}
		worst := new(big.Int).Mul(d, new(big.Int).SetUint64(entities))
		b := NoiseBound(scales[i], k)
		if new(big.Int).Add(worst, new(big.Int).Lsh(b, 1)).Cmp(mod) >= 0 {
			return fmt.Errorf("%w: %s at ε %s carries noise up to %s from %d parties, which with its largest possible total %s does not fit below the plaintext modulus %d; ask with a larger ε, or fewer sums",
				ErrNoiseTooWide, s.Label(), formatMilli(epsilonMilli), b, k+1, worst, T)
		}
	}
	return nil
}

func formatMilli(m uint64) string {
	return new(big.Rat).SetFrac(new(big.Int).SetUint64(m), big.NewInt(1000)).FloatString(3)
}
