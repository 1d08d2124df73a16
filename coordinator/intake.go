package coordinator

import (
	"fmt"
	"strings"
	"time"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/request"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
	"github.com/mpcq/mpcq/warrant"
)

// queryEnv is the consortium state a query runs against: the keys of the
// last ceremony, the epoch of the last alignment and the parties' schemas.
type queryEnv struct {
	keys   *keySet
	epoch  *epochState
	schema schema.Consortium
	limits memoryLimits // zero: no memory check
}

// readyEnv returns the state a query needs, or ErrNotReady while the
// set-up (ceremony, alignment) is not done, naming the parties that are
// down, if any (from the last poll). Pure.
func readyEnv(phase string, down []string, keys *keySet, epoch *epochState, cs schema.Consortium) (queryEnv, error) {
	if keys == nil || epoch == nil || phase != "ready" {
		why := ""
		switch len(down) {
		case 0:
		case 1:
			why = fmt.Sprintf(" (party %s is down)", down[0])
		default:
			why = fmt.Sprintf(" (parties %s are down)", strings.Join(down, ", "))
		}
		return queryEnv{}, fmt.Errorf("%w: phase %q%s; wait until `mpcq status` reports ready", ErrNotReady, phase, why)
	}
	return queryEnv{keys: keys, epoch: epoch, schema: cs}, nil
}

// plannedQuery is a request that passed intake: its plan, the order of the
// tables in the party chain, the layout of the chain's outputs and the
// plan as it goes on the wire.
type plannedQuery struct {
	plan   *plan.Plan
	tables []string
	layout chain.Layout
	planPB *pb.Plan
}

// intake checks an analyst's request against the consortium and plans it:
// a purpose and a legal basis, a public key the parameters can decode, SQL
// that parses against the schema, can be true, is not an EXPLAIN, and
// whose sums stay under the plaintext modulus, and whose planned memory at
// every process stays under env.limits (ErrTooLarge). It is pure: the role check
// and the readiness check (readyEnv) come before it, the choice of parties
// after. Its errors are ErrBadQuery or the planner's (*plan.Error,
// plan.ErrOverflow), all InvalidArgument at the boundary.
func intake(req *pb.QueryRequest, env queryEnv) (*plannedQuery, error) {
	if req.Purpose == "" || req.LegalBasis == "" {
		return nil, fmt.Errorf("%w: a purpose and a legal basis (warrant or case reference) are required", ErrBadQuery)
	}
	if err := checkPurpose(req.Purpose, req.LegalBasis); err != nil {
		return nil, err
	}
	if _, err := env.keys.params.UnmarshalPublicKey(req.AnalystPublicKey); err != nil {
		return nil, fmt.Errorf("%w: analyst public key: %w", ErrBadQuery, err)
	}
	return planQuery(req.Sql, env)
}

// planQuery plans a query's SQL as intake does, without a request: the
// plan, its bounds and memory checks, and the plan message with the
// columns' declared maxima (what EXPLAIN's policy check sends).
func planQuery(sql string, env queryEnv) (*plannedQuery, error) {
	params := env.keys.params
	p, err := plan.Parse(sql, env.schema)
	if err != nil {
		return nil, err
	}
	if len(p.Terms) == 0 {
		return nil, fmt.Errorf("%w: the WHERE clause can never be true", ErrBadQuery)
	}
	if p.Explain {
		return nil, fmt.Errorf("%w: EXPLAIN runs nothing and is answered by mpcq itself (mpcq query --dry-run); nothing was recorded", ErrBadQuery)
	}
	limits := plan.Limits{Modulus: params.T(), Entities: env.epoch.Entities}
	if err := p.Fit(limits, env.schema); err != nil {
		return nil, err
	}
	if env.limits.maxBytes > 0 {
		e, err := chain.Explain(p, env.schema, chain.ParamsOf(params, env.limits.workers), env.epoch.Entities)
		if err != nil {
			return nil, err
		}
		if err := checkMemory(e, env.limits.maxBytes); err != nil {
			return nil, err
		}
	}
	// The plan message is compiled from the canonical text, as every party
	// recompiles it (wire.Recompiled).
	_, planPB, err := wire.Compile(p.Canonical, env.schema, limits)
	if err != nil {
		return nil, err
	}
	return &plannedQuery{plan: p, tables: chain.Order(p), layout: chain.LayoutOf(p), planPB: planPB}, nil
}

// checkSigned checks the analyst's signature on a request that passed
// intake: the certificate chains to the consortium CA (caPEM) and is the
// calling analyst's, the signature verifies, its time is in the window,
// and it signs exactly the query's canonical text, the purpose and legal
// basis sent and the hash of the public key sent. The parties check it
// again; the coordinator checks first so as not to commit a request no
// party will run. Pure; errors wrap ErrUnsigned (PermissionDenied).
func checkSigned(req *pb.QueryRequest, canonical string, caPEM []byte, caller pki.Identity, now time.Time) (request.Verified, error) {
	sr := req.GetSigned()
	if sr == nil {
		return request.Verified{}, fmt.Errorf("%w: the request carries no analyst signature (mpcq signs every request; update it)", ErrUnsigned)
	}
	v, err := request.Verify(sr.Request, sr.Signature, sr.Certificate, caPEM, now)
	if err != nil {
		return request.Verified{}, fmt.Errorf("%w: %w", ErrUnsigned, err)
	}
	switch {
	case v.Analyst.Role != caller.Role || v.Analyst.Name != caller.Name:
		return request.Verified{}, fmt.Errorf("%w: signed by %s, sent by %s", ErrUnsigned, v.Analyst, caller)
	case v.Canonical != canonical:
		return request.Verified{}, fmt.Errorf("%w: the signed query is %q, the request's SQL plans as %q", ErrUnsigned, v.Canonical, canonical)
	case v.Purpose != req.Purpose || v.LegalBasis != req.LegalBasis:
		return request.Verified{}, fmt.Errorf("%w: the purpose or legal basis differs from the signed one", ErrUnsigned)
	case v.KeyHash != request.KeyHash(req.AnalystPublicKey):
		return request.Verified{}, fmt.Errorf("%w: the analyst public key differs from the signed one", ErrUnsigned)
	}
	return v, nil
}

// checkPrivacy checks what a signed request asks to reveal before it is
// committed: the collusion tolerance fits the consortium (at most N−1 of
// N parties), and a warrant named by its hash is sent, is that warrant,
// verifies against the consortium CA, names the analyst and covers the
// query's tables and columns (and exactness). Every party checks again,
// with its own policy; the coordinator checks first so that a query no
// party would run is not committed. Pure; errors wrap ErrUnsigned or
// ErrWarrant (PermissionDenied) or ErrBadQuery.
func checkPrivacy(v request.Verified, warrantBytes []byte, p *plan.Plan, caPEM []byte, parties int, now time.Time) error {
	pr := v.Privacy
	if pr.EpsilonMilli > 0 && int(pr.Collusion) > parties-1 {
		return fmt.Errorf("%w: collusion tolerance %d, but the consortium has %d parties (at most %d)", ErrBadQuery, pr.Collusion, parties, parties-1)
	}
	if pr.WarrantHash == ([32]byte{}) {
		if len(warrantBytes) > 0 {
			return fmt.Errorf("%w: a warrant is attached but the signed request names none", ErrUnsigned)
		}
		return nil
	}
	if len(warrantBytes) == 0 {
		return fmt.Errorf("%w: the signed request names a warrant, none is attached", ErrWarrant)
	}
	sw, err := warrant.ParseSigned(warrantBytes)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWarrant, err)
	}
	if warrant.Hash(sw) != pr.WarrantHash {
		return fmt.Errorf("%w: the attached warrant is not the one the analyst signed for", ErrUnsigned)
	}
	w, err := warrant.Verify(sw, caPEM, now)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWarrant, err)
	}
	var cols []string
	for _, t := range p.Tables {
		for _, c := range p.ColumnsFor(t) {
			cols = append(cols, t+"."+c)
		}
	}
	if err := w.Check(v.Analyst.String(), p.Tables, cols, pr.EpsilonMilli == 0, now, nil); err != nil {
		return fmt.Errorf("%w: %w", ErrWarrant, err)
	}
	return nil
}
