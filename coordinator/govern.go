package coordinator

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/ledger"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/warrant"
)

// publishPolicies appends a POLICY entry for every party whose current
// policy is not on the ledger yet and hands the party the proof, from
// which index its version is in force. A party's policy is signed by the
// party; the coordinator checks the signature and the certificate before
// it appends, so that the ledger holds only policies their party signed.
func (s *Server) publishPolicies(ctx context.Context, sts map[string]*pb.PartyStatus) error {
	for _, p := range s.parties {
		st := sts[p.name]
		if st == nil || st.PolicyPublished {
			continue
		}
		if err := s.publishPolicy(ctx, p); err != nil {
			return fmt.Errorf("%w: party %s: publishing its policy: %w", ErrParty, p.name, err)
		}
	}
	return nil
}

func (s *Server) publishPolicy(ctx context.Context, p *partyConn) error {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout())
	sp, err := p.client.Policy(cctx, &pb.PolicyRequest{})
	cancel()
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(s.cfg.TLS.CA)
	if err != nil {
		return fmt.Errorf("CA certificate: %w", err)
	}
	e := entry.Policy{Party: sp.Party, Version: sp.Version, PolicyHash: sha256.Sum256(sp.Content), Content: sp.Content,
		Signature: sp.Signature, Certificate: sp.Certificate}
	if err := checkPolicyEntry(e, p.name, caPEM, time.Now()); err != nil {
		return err
	}
	l, _, err := s.ledgerLog()
	if err != nil {
		return err
	}
	// A version already appended (the party did not get the proof last
	// time) is not appended again: its entry's proof is sent again.
	s.mu.Lock()
	prev, again := s.published[p.name]
	s.mu.Unlock()
	var idx uint64
	var cp ledger.Checkpoint
	var raw []byte
	if again && prev.version == e.Version && prev.hash == e.PolicyHash {
		idx, raw = prev.index, prev.raw
		if cp, err = l.Checkpoint(ctx); err != nil {
			return fmt.Errorf("%w: checkpoint: %w", ErrLedger, err)
		}
	} else {
		if idx, cp, raw, err = s.appendEntry(ctx, e); err != nil {
			return err
		}
		s.mu.Lock()
		s.published[p.name] = publishedPolicy{version: e.Version, hash: e.PolicyHash, index: idx, raw: raw}
		s.mu.Unlock()
	}
	proof, err := l.InclusionProof(ctx, idx, cp.Size)
	if err != nil {
		return fmt.Errorf("%w: inclusion proof: %w", ErrLedger, err)
	}
	cctx, cancel = context.WithTimeout(ctx, s.cfg.CallTimeout())
	defer cancel()
	if _, err := p.client.PolicyPublished(cctx, &pb.PolicyPublishedRequest{Version: sp.Version, LedgerEntry: raw, LedgerIndex: idx,
		InclusionProof: proof, Checkpoint: cp.Raw}); err != nil {
		return err
	}
	s.log.Info().Str("party", p.name).Uint64("version", sp.Version).Uint64("ledger_index", idx).Msg("policy published")
	return nil
}

// publishedPolicy is a POLICY entry the coordinator appended.
type publishedPolicy struct {
	version uint64
	hash    [32]byte
	index   uint64
	raw     []byte
}

// checkPolicyEntry checks a party's signed policy before it goes on the
// ledger: its certificate chains to the consortium CA and is the party's,
// and the signature over entry.PolicySigned verifies. Pure.
func checkPolicyEntry(e entry.Policy, party string, caPEM []byte, now time.Time) error {
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.Certificate})
	if _, err := x509.ParseCertificate(e.Certificate); err != nil {
		return fmt.Errorf("%w: policy certificate: %v", ErrBadQuery, err)
	}
	id, err := pki.VerifyCertificate(certPEM, caPEM, now)
	if err != nil {
		return fmt.Errorf("%w: policy certificate: %v", ErrBadQuery, err)
	}
	if id.Role != pki.RoleParty || id.Name != party || e.Party != party {
		return fmt.Errorf("%w: policy of party %q signed by %s, expected party %s", ErrBadQuery, e.Party, id, party)
	}
	if !ed25519.Verify(id.PublicKey, entry.PolicySigned(e.Party, e.Version, e.PolicyHash), e.Signature) {
		return fmt.Errorf("%w: party %s's policy signature does not verify", ErrBadQuery, party)
	}
	return nil
}

// Revoke is an authorizer's revocation of a warrant: it is checked (the
// warrant's own authorizer signed it), recorded as a REVOCATION entry,
// then forwarded to every party, which checks it again and keeps it.
// Parties that cannot be reached are named in the error; the entry stays,
// and the authorizer can send the revocation again.
func (s *Server) Revoke(ctx context.Context, req *pb.RevokeRequest) (*pb.RevokeReply, error) {
	reply, err := s.revoke(ctx, req)
	return reply, rpc.ToStatus(err, codeMap...)
}

func (s *Server) revoke(ctx context.Context, req *pb.RevokeRequest) (*pb.RevokeReply, error) {
	caller, err := pki.RequireRole(ctx, pki.RoleAuthorizer)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(s.cfg.TLS.CA)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	w, r, err := warrant.VerifyRevocationFiles(req.Warrant, req.Revocation, caPEM, time.Now())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWarrant, err)
	}
	if r.Authorizer.Name != caller.Name {
		return nil, fmt.Errorf("%w: the revocation is %s's, sent by %s", ErrWarrant, r.Authorizer, caller)
	}
	idx, _, _, err := s.appendEntry(ctx, entry.Revocation{WarrantHash: w.Hash, Signed: req.Revocation})
	if err != nil {
		return nil, err
	}
	reply := &pb.RevokeReply{LedgerIndex: idx}
	var failed []string
	for _, p := range s.parties {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout())
		_, err := p.client.Revoke(cctx, req)
		cancel()
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", p.name, err))
			continue
		}
		reply.Parties = append(reply.Parties, p.name)
	}
	s.log.Info().Str("warrant", hex.EncodeToString(w.Hash[:8])).Uint64("ledger_index", idx).Strs("parties", reply.Parties).Msg("warrant revoked")
	if len(failed) > 0 {
		return reply, fmt.Errorf("%w: revocation recorded at ledger index %d, but not delivered to %v; send it again", ErrParty, idx, failed)
	}
	return reply, nil
}

// ExplainPolicy asks every party how its policy would decide a query for
// the calling analyst (EXPLAIN): the rule that applies or refuses, the
// largest ε, the budget left. The parties take the analyst's identity on
// the coordinator's word here, as nothing runs; the real check is at the
// query's steps, on the analyst's signature.
func (s *Server) ExplainPolicy(ctx context.Context, req *pb.ExplainPolicyRequest) (*pb.PolicyReport, error) {
	rep, err := s.explainPolicy(ctx, req)
	return rep, rpc.ToStatus(err, codeMap...)
}

func (s *Server) explainPolicy(ctx context.Context, req *pb.ExplainPolicyRequest) (*pb.PolicyReport, error) {
	caller, err := pki.RequireRole(ctx, pki.RoleAnalyst)
	if err != nil {
		return nil, err
	}
	env, err := s.env()
	if err != nil {
		return nil, err
	}
	pq, err := planQuery(req.Sql, env)
	if err != nil {
		return nil, err
	}
	rep := &pb.PolicyReport{}
	for _, p := range s.parties {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout())
		r, err := p.client.CheckPolicy(cctx, &pb.PolicyCheckRequest{Plan: pq.planPB, Analyst: caller.String(), Groups: caller.Groups,
			EpsilonMilli: req.EpsilonMilli, Collusion: req.Collusion, Warrant: req.Warrant})
		cancel()
		pp := &pb.PartyPolicy{Party: p.name, Check: r}
		if err != nil {
			pp.Error = err.Error()
		}
		rep.Parties = append(rep.Parties, pp)
	}
	return rep, nil
}
