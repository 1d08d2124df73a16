package party

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mpcq/mpcq/dp"
	"github.com/mpcq/mpcq/internal/atomicfile"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/request"
	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/policy"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
	"github.com/mpcq/mpcq/warrant"
)

// What a party decides on its own: its policy (package policy), published
// on the ledger as POLICY entries and in force from their index; the
// warrants analysts attach (package warrant) and their revocations; the ε
// budgets, charged when the party gives a decryption share; and the noise
// it adds inside that share (package dp).

// Files of the party's governance state in its data directory.
const (
	policiesFile    = "policies.json"    // the published policy versions
	budgetFile      = "budget.json"      // the charges (policy.Book)
	revocationsFile = "revocations.json" // the revoked warrants
	warrantUseFile  = "warrants.json"    // queries and ε spent under each warrant
)

// warrantUse is what was spent under one warrant at this party: the
// queries it gave a decryption share for, and their ε.
type warrantUse struct {
	Queries      uint32 `json:"queries"`
	EpsilonMilli uint64 `json:"epsilon_milli"`
}

// ErrWarrant is wrapped when a query's warrant is missing, malformed,
// forged, expired, revoked, for another analyst or out of scope.
var ErrWarrant = errors.New("warrant refused")

// publishedVersion is one entry of policies.json.
type publishedVersion struct {
	LedgerIndex uint64          `json:"ledger_index"`
	Content     json.RawMessage `json:"content"`
}

// governance is the party's policy state. Its methods are safe for
// concurrent use.
type governance struct {
	party   string
	st      store
	current *policy.Policy // the policy file, validated against the table

	mu        sync.Mutex
	history   policy.History
	published []publishedVersion
	book      *policy.Book
	revoked   map[[32]byte]string   // warrant hash → who revoked it, when
	used      map[string]warrantUse // hex warrant hash → spent under it
	// revDir is the operator's revocations directory ("" for none).
	revDir string
}

// revokedInDir checks the revocations directory for a revocation of w
// signed by w's authorizer: a channel the coordinator cannot block. Every
// file is read at each warranted query (a few small files; names starting
// with a dot are skipped); a valid revocation of w refuses it, and so
// does a file that is not a signed revocation (fail closed).
func (g *governance) revokedInDir(w warrant.Verified, caPEM []byte, now time.Time) error {
	if g.revDir == "" {
		return nil
	}
	// Fail closed: a directory or a file the party cannot read or parse
	// refuses warranted queries until the operator fixes it, so that a
	// truncated revocation is never taken for none.
	entries, err := os.ReadDir(g.revDir)
	if err != nil {
		return fmt.Errorf("this party cannot read its revocations directory; its operator must fix it")
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(g.revDir, e.Name()))
		if err != nil {
			return fmt.Errorf("this party cannot read the file %s of its revocations directory; its operator must fix or remove it", e.Name())
		}
		sr, err := warrant.ParseSignedRevocation(b)
		if err != nil {
			return fmt.Errorf("the file %s of this party's revocations directory is not a signed revocation (%v); its operator must fix or remove it", e.Name(), err)
		}
		r, err := warrant.VerifyRevocation(sr, caPEM, w, now)
		if err != nil {
			continue // another warrant's, or not its authorizer's: not a revocation of w
		}
		return fmt.Errorf("%w: %s revoked it at %s (file %s in the revocations directory): %s", warrant.ErrRevoked, r.Authorizer,
			time.Unix(r.Revocation.Time, 0).UTC().Format(time.RFC3339), e.Name(), r.Revocation.Reason)
	}
	return nil
}

// openGovernance loads the policy file and the saved state. A policy file
// whose version is below the last published one, or equal to it with
// other content, is refused: each edit needs a new version number.
func openGovernance(party, file string, t schema.Table, st store) (*governance, error) {
	cur, err := policy.Load(file)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if cur.Party != party {
		return nil, fmt.Errorf("%w: policy %s is party %q's, this is party %s", ErrConfig, file, cur.Party, party)
	}
	if err := cur.Validate([]schema.Table{t}); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	g := &governance{party: party, st: st, current: cur, book: &policy.Book{}, revoked: map[[32]byte]string{}, used: map[string]warrantUse{}}
	var pubs []publishedVersion
	if _, err := st.readJSON(policiesFile, &pubs); err != nil {
		return nil, fmt.Errorf("%s: %w", policiesFile, err)
	}
	for i, v := range pubs {
		p, err := policy.Parse(fmt.Sprintf("%s version %d", policiesFile, i), v.Content)
		if err != nil {
			return nil, err
		}
		if err := g.history.Add(policy.Version{Policy: p, LedgerIndex: v.LedgerIndex}); err != nil {
			return nil, fmt.Errorf("%s: %w", policiesFile, err)
		}
	}
	g.published = pubs
	if last, ok := g.history.Latest(); ok {
		switch {
		case cur.Version < last.Version:
			return nil, fmt.Errorf("%w: policy %s is version %d, version %d is already on the ledger; give the file a version above %d",
				ErrConfig, file, cur.Version, last.Version, last.Version)
		case cur.Version == last.Version && cur.Hash() != last.Hash():
			return nil, fmt.Errorf("%w: policy %s changed but kept version %d, which is already on the ledger with other content; increase its version",
				ErrConfig, file, cur.Version)
		}
	}
	switch b, err := os.ReadFile(st.path(budgetFile)); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if g.book, err = policy.DecodeBook(st.path(budgetFile), b); err != nil {
			return nil, err
		}
	}
	if _, err := st.readJSON(warrantUseFile, &g.used); err != nil {
		return nil, fmt.Errorf("%s: %w", warrantUseFile, err)
	}
	if g.used == nil {
		g.used = map[string]warrantUse{}
	}
	var rev map[string]string
	if _, err := st.readJSON(revocationsFile, &rev); err != nil {
		return nil, fmt.Errorf("%s: %w", revocationsFile, err)
	}
	for h, why := range rev {
		var k [32]byte
		if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
			return nil, fmt.Errorf("%s: bad warrant hash %q", revocationsFile, h)
		} else {
			copy(k[:], b)
		}
		g.revoked[k] = why
	}
	return g, nil
}

// isPublished reports whether the current policy file's version is on the
// ledger.
func (g *governance) isPublished() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	last, ok := g.history.Latest()
	return ok && last.Version == g.current.Version
}

// signed returns the current policy signed by the party's certificate key.
func (g *governance) signed(priv ed25519.PrivateKey, certPEM []byte) (*pb.SignedPolicy, error) {
	content := g.current.Canonical()
	h := g.current.Hash()
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		return nil, fmt.Errorf("own certificate is not PEM")
	}
	sig := ed25519.Sign(priv, entry.PolicySigned(g.party, uint64(g.current.Version), h))
	return &pb.SignedPolicy{Party: g.party, Version: uint64(g.current.Version), Content: content, Signature: sig, Certificate: blk.Bytes}, nil
}

// publish records that the current policy's POLICY entry is at index
// (checked by the caller: included in a checkpoint this party cosigned,
// its content and signature this party's). Publishing the same version
// again at the same index is a no-op.
func (g *governance) publish(e entry.Policy, index uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if last, ok := g.history.Latest(); ok && last.Version == g.current.Version {
		// Published again (the coordinator retried after a failure): the
		// first entry stays the one from which the version is in force.
		if e.Version == uint64(last.Version) && e.PolicyHash == last.Hash() {
			return nil
		}
		return fmt.Errorf("%w: the POLICY entry at index %d is version %d, this party's version %d is already on the ledger", ErrBadRequest, index, e.Version, last.Version)
	}
	if e.Version != uint64(g.current.Version) || e.PolicyHash != g.current.Hash() {
		return fmt.Errorf("%w: the POLICY entry at index %d is version %d, this party's policy is version %d with another hash", ErrBadRequest, index, e.Version, g.current.Version)
	}
	if err := g.history.Add(policy.Version{Policy: g.current, LedgerIndex: index}); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	pubs := append(append([]publishedVersion(nil), g.published...), publishedVersion{LedgerIndex: index, Content: g.current.Canonical()})
	if err := g.st.writeJSON(policiesFile, pubs); err != nil {
		return fmt.Errorf("saving %s: %w", policiesFile, err)
	}
	g.published = pubs
	return nil
}

// revoke records a verified revocation durably.
func (g *governance) revoke(h [32]byte, why string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.revoked[h]; ok {
		return nil
	}
	out := map[string]string{hex.EncodeToString(h[:]): why}
	for k, v := range g.revoked {
		out[hex.EncodeToString(k[:])] = v
	}
	if err := g.st.writeJSON(revocationsFile, out); err != nil {
		return fmt.Errorf("saving %s: %w", revocationsFile, err)
	}
	g.revoked[h] = why
	return nil
}

func (g *governance) isRevoked(h [32]byte) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.revoked[h]
	return ok
}

// decision is a query admitted under the party's policy.
type decision struct {
	use    policy.Use
	policy *policy.Policy
	// warrant is the hex hash of the query's warrant, "" for none, and
	// verified the warrant itself.
	warrant  string
	verified *warrant.Verified
}

// decide checks a query against the warrant it names and the policy in
// force at its ledger index, with the budget spent so far. The privacy
// the analyst signed must be the one committed on the ledger.
func (g *governance) decide(q entry.Query, index uint64, v request.Verified, wp *wire.WirePlan, own schema.Table,
	warrantBytes, caPEM []byte, parties int, now time.Time) (*decision, error) {
	if got := (request.Privacy{EpsilonMilli: q.EpsilonMilli, Collusion: q.Collusion, WarrantHash: q.WarrantHash}); v.Privacy != got {
		return nil, fmt.Errorf("%w: query %s: the ε, collusion tolerance or warrant the analyst signed differ from the ones committed on the ledger", ErrUnauthorized, q.QueryID)
	}
	if q.EpsilonMilli > 0 && int(q.Collusion) > parties-1 {
		return nil, fmt.Errorf("%w: query %s: collusion tolerance %d, but there are only %d parties (at most %d)", ErrBadRequest, q.QueryID, q.Collusion, parties, parties-1)
	}
	u, err := useOf(wp, own)
	if err != nil {
		return nil, err
	}
	u.Party, u.Analyst, u.Groups = g.party, v.Analyst.String(), v.Analyst.Groups
	u.EpsilonMilli, u.Collusion, u.Time, u.QueryID = q.EpsilonMilli, int(q.Collusion), now, q.QueryID
	var wv *warrant.Verified
	if q.WarrantHash != (entry.Hash{}) {
		w, err := g.checkWarrant(q, wp, u, warrantBytes, caPEM, now)
		if err != nil {
			return nil, err
		}
		u.Warrant = &policy.Warrant{ID: w.Warrant.ID, Case: w.Warrant.Case, Exact: w.Warrant.Scope.Exact}
		u.Case = w.Warrant.Case
		wv = &w
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	d := &decision{use: u, verified: wv}
	if wv != nil {
		d.warrant = hex.EncodeToString(wv.Hash[:])
		if _, charged := g.book.Get(q.QueryID); !charged {
			spent := g.used[d.warrant]
			if err := wv.CheckUsage(spent.Queries, spent.EpsilonMilli, q.EpsilonMilli); err != nil {
				return nil, fmt.Errorf("%w: query %s: %w", ErrWarrant, q.QueryID, err)
			}
		}
	}
	pol, ok := g.history.At(index)
	if !ok {
		return nil, &policy.Refusal{Party: g.party, Rule: policy.RuleNone,
			Reason: fmt.Sprintf("no policy of party %s is on the ledger before index %d (query %s); the coordinator publishes it when the party starts", g.party, index, q.QueryID)}
	}
	d.policy = pol
	for _, p := range g.inForce(pol) {
		if err := p.Check(u); err != nil {
			return nil, err
		}
		if err := p.CheckBudget(g.book.Charges(), u); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// inForce lists the policies a query must satisfy: the version in force
// at its ledger index (at), the latest version on the ledger (a query
// committed before a tightening but decided after it is held to it), and
// the policy file when its version is not on the ledger yet (a tightening
// takes effect at once; a loosening only once published). Each once.
// The caller holds g.mu.
func (g *governance) inForce(at *policy.Policy) []*policy.Policy {
	out := []*policy.Policy{at}
	latest, ok := g.history.Latest()
	if ok && latest != at {
		out = append(out, latest)
	}
	if !ok || latest.Version < g.current.Version {
		out = append(out, g.current)
	}
	return out
}

// checkWarrant verifies the warrant a query names: its bytes hash to the
// committed hash, it is signed by a consortium authorizer, valid now, not
// revoked, names the analyst, and covers the query's tables, this party's
// columns and the exactness asked.
func (g *governance) checkWarrant(q entry.Query, wp *wire.WirePlan, u policy.Use, b, caPEM []byte, now time.Time) (warrant.Verified, error) {
	if len(b) == 0 {
		return warrant.Verified{}, fmt.Errorf("%w: query %s names a warrant but comes without it", ErrWarrant, q.QueryID)
	}
	sw, err := warrant.ParseSigned(b)
	if err != nil {
		return warrant.Verified{}, fmt.Errorf("%w: query %s: %w", ErrWarrant, q.QueryID, err)
	}
	if warrant.Hash(sw) != q.WarrantHash {
		return warrant.Verified{}, fmt.Errorf("%w: query %s: the warrant sent is not the one committed on the ledger", ErrWarrant, q.QueryID)
	}
	w, err := warrant.Verify(sw, caPEM, now)
	if err != nil {
		return warrant.Verified{}, fmt.Errorf("%w: query %s: %w", ErrWarrant, q.QueryID, err)
	}
	if err := g.revokedInDir(w, caPEM, now); err != nil {
		return warrant.Verified{}, fmt.Errorf("%w: query %s: %w", ErrWarrant, q.QueryID, err)
	}
	cols := append(append(append([]string(nil), u.Where...), u.Aggregate...), u.GroupBy...)
	sort.Strings(cols)
	cols = compactStrings(cols)
	if err := w.Check(u.Analyst, wp.Tables, cols, q.EpsilonMilli == 0, now, g.isRevoked); err != nil {
		return warrant.Verified{}, fmt.Errorf("%w: query %s: %w", ErrWarrant, q.QueryID, err)
	}
	return w, nil
}

// charge records, durably, what a query costs before its decryption share
// leaves: a party's own account of the budget (an exact query costs no ε
// but is recorded too).
func (g *governance) charge(d *decision, q entry.Query) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := policy.Charge{QueryID: q.QueryID, Analyst: d.use.Analyst, Case: d.use.Case, EpsilonMilli: q.EpsilonMilli, Time: d.use.Time.Unix()}
	_, already := g.book.Get(q.QueryID)
	if !already {
		// Checked again under the lock that records the charge: two
		// queries decided at once cannot both spend the last of a budget.
		for _, p := range g.inForce(d.policy) {
			if err := p.CheckBudget(g.book.Charges(), d.use); err != nil {
				return err
			}
		}
		if d.verified != nil {
			spent := g.used[d.warrant]
			if err := d.verified.CheckUsage(spent.Queries, spent.EpsilonMilli, q.EpsilonMilli); err != nil {
				return fmt.Errorf("%w: query %s: %w", ErrWarrant, q.QueryID, err)
			}
		}
	}
	if err := g.book.Add(c); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if d.warrant != "" && !already {
		used := maps.Clone(g.used)
		u := used[d.warrant]
		u.Queries++
		u.EpsilonMilli += q.EpsilonMilli
		used[d.warrant] = u
		if err := g.st.writeJSON(warrantUseFile, used); err != nil {
			return fmt.Errorf("saving %s: %w", warrantUseFile, err)
		}
		g.used = used
	}
	// Charges are kept for the longest budget period of any version, the
	// policy file's included, and at least as long as a request is valid
	// (so a query decrypted in several batches is charged once).
	keep := max(g.history.LongestPeriod(), g.current.Budget.Period, request.MaxAge+request.MaxSkew)
	g.book.Prune(d.use.Time, keep)
	if err := atomicfile.Write(g.st.path(budgetFile), g.book.Encode(), 0o600); err != nil {
		return fmt.Errorf("saving %s: %w", budgetFile, err)
	}
	return nil
}

// remaining is the budget left for an analyst and a case under the
// current policy.
func (g *governance) remaining(analyst, caseRef string, now time.Time) (policy.Left, *policy.Policy) {
	g.mu.Lock()
	defer g.mu.Unlock()
	pol := g.current
	if p, ok := g.history.Latest(); ok {
		pol = p
	}
	return pol.Remaining(g.book.Charges(), analyst, caseRef, now), pol
}

// useOf is policy.UseOf on a plan received from the network: only this
// party's local conditions are decoded (against its own schema), and the
// sums stand for the aggregates over its columns.
func useOf(wp *wire.WirePlan, own schema.Table) (policy.Use, error) {
	p := plan.Plan{Tables: wp.Tables, GroupBy: wp.GroupBy}
	j := wp.TableIndex(own.Name)
	for i, t := range wp.Terms {
		if j < 0 {
			break
		}
		l, err := wire.LocalFromProto(t.Locals[j], own)
		if err != nil {
			return policy.Use{}, fmt.Errorf("%w: term %d: %v", ErrPlan, i, err)
		}
		p.Terms = append(p.Terms, plan.Term{Sign: t.Sign, Locals: []plan.Local{l}})
	}
	for _, s := range wp.Sums {
		if s.Kind != plan.SumCount {
			p.Aggregates = append(p.Aggregates, plan.Aggregate{Kind: plan.AggSum, Table: s.Table, Column: s.Column})
		}
	}
	return policy.UseOf(&p, []string{own.Name}), nil
}

// noiseFor returns the noise this party adds to each of a query's totals
// (packed order), nil when it adds none (an exact query, or a rank above
// the collusion tolerance). Scales come from the plan's declared maxima,
// which the parties holding the columns checked at their steps, and the
// plaintext modulus T that the noise of a split sum's digits must fit.
func noiseFor(q entry.Query, wp *wire.WirePlan, T uint64, self string, parties []string) ([]*big.Int, error) {
	if q.EpsilonMilli == 0 {
		return nil, nil
	}
	rank := sort.SearchStrings(parties, self)
	if !dp.Noisy(rank, int(q.Collusion)) {
		return nil, nil
	}
	scales, err := planScales(wp, q.EpsilonMilli, dp.Room{Modulus: T, Collusion: int(q.Collusion)})
	if err != nil {
		return nil, err
	}
	all, err := dp.Shares(rand.Reader, scales, wp.Groups())
	if err != nil {
		return nil, fmt.Errorf("noise: %w", err)
	}
	return all, nil
}

// planScales is dp.Scales from a wire plan: a consortium schema built
// from the plan's declared maxima stands for the columns.
func planScales(wp *wire.WirePlan, epsilonMilli uint64, room dp.Room) ([]*big.Rat, error) {
	var cs schema.Consortium
	tables := map[string]*schema.Table{}
	for i, s := range wp.Sums {
		if s.Kind == plan.SumCount {
			continue
		}
		if wp.SumMax[i] <= 0 {
			return nil, fmt.Errorf("%w: the plan declares no maximum for %s.%s, so no noise can be calibrated", ErrPlan, s.Table, s.Column)
		}
		t := tables[s.Table]
		if t == nil {
			t = &schema.Table{Name: s.Table}
			tables[s.Table] = t
		}
		t.Columns = append(t.Columns, schema.Column{Name: s.Column, Kind: schema.KindInt, Max: wp.SumMax[i]})
	}
	for _, t := range tables {
		cs.Tables = append(cs.Tables, *t)
	}
	scales, err := dp.SumScales(wp.Sums, cs, epsilonMilli, room)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPlan, err)
	}
	return scales, nil
}

// Policy returns the party's current policy, signed, for the coordinator
// to publish.
func (s *Server) Policy(ctx context.Context, _ *pb.PolicyRequest) (*pb.SignedPolicy, error) {
	sp, err := s.gov.signed(s.priv, s.certPEM)
	return sp, rpc.ToStatus(err, codeMap...)
}

// PolicyPublished records the index of the current policy's POLICY entry,
// after checking the entry is in a checkpoint this party cosigned and is
// its own current policy.
func (s *Server) PolicyPublished(ctx context.Context, req *pb.PolicyPublishedRequest) (*pb.PolicyPublishedReply, error) {
	err := s.policyPublished(req)
	if err != nil {
		s.log.Warn().Err(err).Uint64("ledger_index", req.LedgerIndex).Msg("policy publication refused")
	} else {
		s.log.Info().Uint64("version", req.Version).Uint64("ledger_index", req.LedgerIndex).Msg("policy in force on the ledger")
	}
	return &pb.PolicyPublishedReply{}, rpc.ToStatus(err, append(ledgerCodes, codeMap...)...)
}

func (s *Server) policyPublished(req *pb.PolicyPublishedRequest) error {
	if err := s.witness.VerifyIncluded(req.LedgerEntry, req.LedgerIndex, req.InclusionProof, req.Checkpoint); err != nil {
		return fmt.Errorf("%w: POLICY entry %d: %w", ErrGate, req.LedgerIndex, err)
	}
	e, err := entry.Parse(req.LedgerEntry)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	pe, ok := e.(entry.Policy)
	if !ok || pe.Party != s.name {
		return fmt.Errorf("%w: ledger entry %d is not a POLICY of party %s", ErrBadRequest, req.LedgerIndex, s.name)
	}
	if !ed25519.Verify(s.priv.Public().(ed25519.PublicKey), entry.PolicySigned(pe.Party, pe.Version, pe.PolicyHash), pe.Signature) {
		return fmt.Errorf("%w: the POLICY entry at %d is not signed by this party", ErrBadRequest, req.LedgerIndex)
	}
	if _, err := x509.ParseCertificate(pe.Certificate); err != nil {
		return fmt.Errorf("%w: the POLICY entry's certificate: %v", ErrBadRequest, err)
	}
	return s.gov.publish(pe, req.LedgerIndex)
}

// Revoke records an authorizer's revocation of a warrant, forwarded by
// the coordinator (or by an institution's operator): the revocation must
// be signed by the warrant's authorizer.
func (s *Server) Revoke(ctx context.Context, req *pb.RevokeRequest) (*pb.RevokeReply, error) {
	h, err := s.revoke(req, time.Now())
	if err != nil {
		s.log.Warn().Err(err).Msg("revocation refused")
		return nil, rpc.ToStatus(err, codeMap...)
	}
	s.log.Info().Str("warrant", hex.EncodeToString(h[:8])).Msg("warrant revoked")
	return &pb.RevokeReply{Parties: []string{s.name}}, nil
}

func (s *Server) revoke(req *pb.RevokeRequest, now time.Time) ([32]byte, error) {
	w, r, err := warrant.VerifyRevocationFiles(req.Warrant, req.Revocation, s.caPEM, now)
	if err != nil {
		return [32]byte{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	why := fmt.Sprintf("revoked by %s at %s: %s", r.Authorizer, time.Unix(r.Revocation.Time, 0).UTC().Format(time.RFC3339), r.Revocation.Reason)
	return w.Hash, s.gov.revoke(w.Hash, why)
}

// CheckPolicy is EXPLAIN's dry run: which rule would apply to a plan for
// an analyst, and the budget left. Nothing is charged; the analyst's
// identity is the coordinator's word (the real check is at the step, on
// the analyst's signature).
func (s *Server) CheckPolicy(ctx context.Context, req *pb.PolicyCheckRequest) (*pb.PolicyCheckReply, error) {
	wp, err := wire.PlanFromProto(req.Plan)
	if err != nil {
		return nil, rpc.ToStatus(fmt.Errorf("%w: %v", ErrPlan, err), codeMap...)
	}
	u, err := useOf(wp, s.table)
	if err != nil {
		return nil, rpc.ToStatus(err, codeMap...)
	}
	now := time.Now()
	u.Party, u.Analyst, u.Groups, u.EpsilonMilli, u.Collusion, u.Time = s.name, req.Analyst, req.Groups, req.EpsilonMilli, int(req.Collusion), now
	if len(req.Warrant) > 0 {
		if sw, err := warrant.ParseSigned(req.Warrant); err == nil {
			if w, err := warrant.Verify(sw, s.caPEM, now); err == nil {
				u.Warrant = &policy.Warrant{ID: w.Warrant.ID, Case: w.Warrant.Case, Exact: w.Warrant.Scope.Exact}
				u.Case = w.Warrant.Case
			}
		}
	}
	left, pol := s.gov.remaining(u.Analyst, u.Case, now)
	reply := &pb.PolicyCheckReply{PolicyVersion: uint64(pol.Version), BudgetLimited: left.AnalystLimited || left.CaseLimited,
		AnalystLeftMilli: left.Analyst, CaseLeftMilli: left.Case, AnalystLimited: left.AnalystLimited, CaseLimited: left.CaseLimited}
	if r, ok := pol.Match(u.Analyst, u.Groups); ok {
		reply.Rule, reply.MaxEpsilonMilli = r.Name, r.MaxEpsilonMilli
	}
	err = s.gov.dryRun(pol, u)
	reply.Allowed = err == nil
	if err != nil {
		var r *policy.Refusal
		if errors.As(err, &r) {
			reply.Rule = r.Rule
		}
		reply.Reason = err.Error()
	}
	return reply, nil
}

// dryRun checks a Use against every policy a query committed now would
// have to satisfy (inForce), as EXPLAIN's answer.
func (g *governance) dryRun(at *policy.Policy, u policy.Use) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.inForce(at) {
		if err := p.Check(u); err != nil {
			return err
		}
		if err := p.CheckBudget(g.book.Charges(), u); err != nil {
			return err
		}
	}
	return nil
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// partyNames lists every party of the consortium, sorted: this party and
// its peers.
func (s *Server) partyNames() []string {
	out := make([]string, 0, len(s.peers))
	for name := range s.peers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
