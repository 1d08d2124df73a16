package analyst

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"

	"github.com/mpcq/mpcq/dp"
	"github.com/mpcq/mpcq/ledger/request"
	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
	"github.com/mpcq/mpcq/warrant"
)

// DefaultEpsilon is the ε of a query when neither the analyst, nor the
// profile's warrant (allowing exact results), nor the profile's
// default_epsilon says otherwise.
const DefaultEpsilon = "1"

// ErrPrivacy is wrapped by errors about a query's ε, collusion tolerance
// or warrant found before anything is sent.
var ErrPrivacy = errors.New("query privacy")

// Privacy is what a query runs with, resolved from the request, the
// profile and the consortium (ResolvePrivacy).
type Privacy struct {
	// EpsilonMilli is ε×1000; 0 asks for exact totals.
	EpsilonMilli uint64
	// Collusion is the collusion tolerance k (0 for an exact query): the
	// noise protects against the analyst colluding with up to k parties,
	// k+1 parties add noise.
	Collusion int
	// Warrant is the signed warrant file attached (nil: none), and
	// WarrantHash its warrant.Hash (zero: none).
	Warrant     []byte
	WarrantHash [32]byte
	// Scope is the attached warrant's scope (zero without a warrant).
	Scope warrant.Scope
}

// Signed is the part of the signed request that commits this privacy.
func (p Privacy) Signed() request.Privacy {
	return request.Privacy{EpsilonMilli: p.EpsilonMilli, Collusion: uint16(p.Collusion), WarrantHash: p.WarrantHash}
}

// Epsilon is ε as a decimal ("0" for exact).
func (p Privacy) Epsilon() string { return warrant.FormatEpsilon(p.EpsilonMilli) }

// checkConfig checks the profile's privacy defaults (not the warrant
// file, read when a query needs it).
func (c ProfileConfig) checkConfig() error {
	if c.DefaultEpsilon != "" {
		if _, err := warrant.ParseEpsilon(c.DefaultEpsilon); err != nil {
			return fmt.Errorf("%s: default_epsilon: %w", ProfileFile, err)
		}
	}
	if c.Collusion != nil && *c.Collusion < 0 {
		return fmt.Errorf("%s: collusion %d is negative", ProfileFile, *c.Collusion)
	}
	if c.Warrant != "" && !filepath.IsLocal(c.Warrant) {
		return fmt.Errorf("%s: warrant %q must name a file inside the profile directory", ProfileFile, c.Warrant)
	}
	return nil
}

// warrantFile returns the signed warrant a request attaches: none with
// NoWarrant, else the request's own, else the profile's (if it has one).
func (p *Profile) warrantFile(req Request) ([]byte, string, error) {
	switch {
	case req.NoWarrant && req.Warrant != nil:
		return nil, "", fmt.Errorf("%w: a warrant is given and --no-warrant asks for none", ErrPrivacy)
	case req.NoWarrant:
		return nil, "", nil
	case req.Warrant != nil:
		return req.Warrant, "the warrant given", nil
	case p.Config.Warrant == "":
		return nil, "", nil
	}
	path := filepath.Join(p.Dir, p.Config.Warrant)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("%w: the profile's warrant: %w", ErrProfile, err)
	}
	return b, path, nil
}

// ResolvePrivacy decides what a query runs with, for a consortium of
// parties parties (N):
//
//   - The warrant: none with req.NoWarrant, else req.Warrant, else the
//     profile's (the file its "warrant" names in the profile directory).
//     It must parse (warrant.ParseSigned); its signature, validity and
//     scope are checked by the parties, not here.
//   - ε: req.Epsilon if given ("0" asks for exact totals); else exact if
//     the warrant's scope allows exact results; else the profile's
//     default_epsilon; else DefaultEpsilon.
//   - k: 0 for an exact query (a collusion tolerance given with it is an
//     error); else req.Collusion, else the profile's collusion, else N−1,
//     the strongest. k > N−1 is refused: there are not k+1 parties to add
//     noise.
//
// Errors wrap ErrPrivacy or, for the profile's files, ErrProfile.
func (p *Profile) ResolvePrivacy(req Request, parties int) (Privacy, error) {
	return p.resolvePrivacy(req, func() (int, error) { return parties, nil })
}

// resolvePrivacy is ResolvePrivacy asking for the number of parties only
// for a noisy query.
func (p *Profile) resolvePrivacy(req Request, numParties func() (int, error)) (Privacy, error) {
	var out Privacy
	wb, where, err := p.warrantFile(req)
	if err != nil {
		return Privacy{}, err
	}
	if wb != nil {
		s, err := warrant.ParseSigned(wb)
		if err != nil {
			return Privacy{}, fmt.Errorf("%w: %s: %w", ErrPrivacy, where, err)
		}
		w, err := warrant.Parse(s.Warrant)
		if err != nil {
			return Privacy{}, fmt.Errorf("%w: %s: %w", ErrPrivacy, where, err)
		}
		out.Warrant, out.WarrantHash, out.Scope = wb, warrant.Hash(s), w.Scope
	}

	eps, what := req.Epsilon, "the --epsilon given"
	switch {
	case eps != "":
	case out.Warrant != nil && out.Scope.Exact:
		eps, what = "0", "exact (the warrant allows it)"
	case p.Config.DefaultEpsilon != "":
		eps, what = p.Config.DefaultEpsilon, "the profile's default_epsilon"
	default:
		eps, what = DefaultEpsilon, "the default ε"
	}
	if out.EpsilonMilli, err = warrant.ParseEpsilon(eps); err != nil {
		return Privacy{}, fmt.Errorf("%w: ε of %s: %w", ErrPrivacy, what, err)
	}

	if out.EpsilonMilli == 0 {
		if req.Collusion != nil && *req.Collusion != 0 {
			return Privacy{}, fmt.Errorf("%w: collusion tolerance %d given for an exact query (ε 0): it applies to noisy queries only", ErrPrivacy, *req.Collusion)
		}
		return out, nil
	}
	parties, err := numParties()
	if err != nil {
		return Privacy{}, err
	}
	if parties < 1 {
		return Privacy{}, fmt.Errorf("%w: the coordinator lists no parties: cannot choose a collusion tolerance", ErrPrivacy)
	}
	k, from := parties-1, "the default (number of parties − 1)"
	switch {
	case req.Collusion != nil:
		k, from = *req.Collusion, "--collusion"
	case p.Config.Collusion != nil:
		k, from = *p.Config.Collusion, "the profile's collusion"
	}
	if k < 0 {
		return Privacy{}, fmt.Errorf("%w: collusion tolerance %d (from %s) is negative", ErrPrivacy, k, from)
	}
	if k > parties-1 || k > math.MaxUint16 {
		return Privacy{}, fmt.Errorf("%w: collusion tolerance %d (from %s) needs %d parties to add noise, the consortium has %d: use at most %d",
			ErrPrivacy, k, from, k+1, parties, parties-1)
	}
	out.Collusion = k
	return out, nil
}

// finishNoisy decodes noisy totals (values mod T, noise possibly making
// them negative; dp.Decode with each sum's noise bound) and computes the output rows and their 95% intervals:
// each total of sum s carries the sum of k+1 DLap(t_s) noises, t_s from
// dp.Scales for the plan, the consortium and ε.
func finishNoisy(pl *plan.Plan, cs schema.Consortium, sums map[plan.Sum][]uint64, T, epsilonMilli uint64, k int) ([][]string, []string, [][]plan.Interval, error) {
	scales, err := dp.Scales(pl, cs, epsilonMilli, dp.Room{Modulus: T, Collusion: k})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("noise scales of the result: %w", err)
	}
	widths := map[plan.Sum]*big.Int{}
	bounds := map[plan.Sum]*big.Int{}
	for i, s := range pl.Sums() {
		widths[s] = dp.SumHalfWidth95(s, scales[i], k+1)
		bounds[s] = dp.NoiseBound(scales[i], k)
	}
	centered := make(map[plan.Sum][]int64, len(sums))
	for s, vs := range sums {
		b := bounds[s]
		if b == nil {
			return nil, nil, nil, fmt.Errorf("result sum %v is not the query's", s)
		}
		c := make([]int64, len(vs))
		for i, v := range vs {
			// The coordinator checked that total and noise fit (dp.FitsModulus).
			c[i] = dp.Decode(v, T, b)
		}
		centered[s] = c
	}
	return pl.FinishNoisy(centered, widths)
}
