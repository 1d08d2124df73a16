package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/request"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// gateProof is what a party's decryption gate needs.
type gateProof struct {
	LedgerEntry    []byte
	LedgerIndex    uint64
	InclusionProof [][]byte
	Checkpoint     []byte
	CheckpointSize uint64
}

// commitQuery archives the openings, appends the QUERY entry and returns
// its inclusion proof against the cosigned checkpoint that holds it.
func (s *Server) commitQuery(ctx context.Context, queryID, analyst, canonical string, req *pb.QueryRequest, planPB *pb.Plan, env queryEnv, pr request.Privacy) (*gateProof, error) {
	l, a, err := s.ledgerLog()
	if err != nil {
		return nil, err
	}
	qOpen, err := newOpening([]byte(canonical))
	if err != nil {
		return nil, err
	}
	purpose, err := entry.PurposeData(req.Purpose, req.LegalBasis)
	if err != nil {
		return nil, fmt.Errorf("%w: purpose or legal basis: %v", ErrBadQuery, err)
	}
	pOpen, err := newOpening(purpose)
	if err != nil {
		return nil, err
	}
	planHash, err := wire.PlanHash(planPB)
	if err != nil {
		return nil, err
	}
	epochNum, err := wire.EpochNumber(env.epoch.ID)
	if err != nil {
		return nil, err
	}
	qe := entry.Query{QueryID: queryID, QueryCommitment: qOpen.Commitment(), Analyst: analyst, PurposeCommitment: pOpen.Commitment(),
		AnalystKeyHash: hash(req.AnalystPublicKey), PlanHash: planHash, EpochID: epochNum, ParamSet: env.keys.params.Set.Name, Time: time.Now().Unix(),
		EpsilonMilli: pr.EpsilonMilli, Collusion: pr.Collusion, WarrantHash: pr.WarrantHash}
	var signed archive.SignedRequest
	if sr := req.GetSigned(); sr != nil {
		signed = archive.SignedRequest{Request: sr.Request, Signature: sr.Signature, Certificate: sr.Certificate}
	}
	if err := a.Put(queryID, archive.Record{QueryID: queryID, QueryText: qOpen, Purpose: pOpen, Signed: signed, Warrant: req.Warrant}); err != nil {
		return nil, fmt.Errorf("%w: archive: %w", ErrLedger, err)
	}
	idx, cp, raw, err := s.appendEntry(ctx, qe)
	if err != nil {
		return nil, err
	}
	proof, err := l.InclusionProof(ctx, idx, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("%w: inclusion proof: %w", ErrLedger, err)
	}
	return &gateProof{LedgerEntry: raw, LedgerIndex: idx, InclusionProof: proof, Checkpoint: cp.Raw, CheckpointSize: cp.Size}, nil
}
