package party

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc/codes"

	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/witness"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// ErrGate is wrapped when a query step or a decryption share is refused
// because the query is not traceably committed on the ledger.
var ErrGate = errors.New("decryption refused by the ledger gate")

const witnessStateFile = "witness.json"

var ledgerCodes = []rpc.Mapping{
	{Err: ErrGate, Code: codes.PermissionDenied},
	{Err: witness.ErrRollback, Code: codes.FailedPrecondition},
	{Err: witness.ErrFork, Code: codes.FailedPrecondition},
	{Err: witness.ErrBadProof, Code: codes.InvalidArgument},
	{Err: witness.ErrBadSignature, Code: codes.InvalidArgument},
	{Err: witness.ErrUnknownOrigin, Code: codes.InvalidArgument},
	{Err: witness.ErrStore, Code: codes.Internal},
}

// newWitness builds the party's ledger witness from its config: its own
// cosigning key (a note signer key file, 0600) and the log's public key.
func newWitness(cfg *Config) (*witness.Witness, note.Verifier, error) {
	skey, err := pki.ReadPrivate(cfg.WitnessKey)
	if err != nil {
		return nil, nil, fmt.Errorf("witness key: %w", err)
	}
	signer, err := fnote.NewSignerForCosignatureV1(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, nil, fmt.Errorf("witness key %s: %w", cfg.WitnessKey, err)
	}
	logV, err := note.NewVerifier(strings.TrimSpace(cfg.LedgerPublicKey))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: ledger_public_key: %v", ErrConfig, err)
	}
	w, err := witness.New(witness.Config{Origin: logV.Name(), LogVerifier: logV, Signer: signer,
		Store: witness.NewFileStore(store{cfg.DataDir}.path(witnessStateFile))})
	if err != nil {
		return nil, nil, err
	}
	return w, logV, nil
}

// Cosign is the witness step: cosign a checkpoint consistent with the
// last one this party cosigned; refuse a rollback or a fork.
func (s *Server) Cosign(ctx context.Context, req *pb.CosignRequest) (*pb.CosignReply, error) {
	sig, err := s.witness.AddCheckpoint(req.OldSize, req.ConsistencyProof, req.Checkpoint)
	var conflict *witness.ConflictError
	if errors.As(err, &conflict) {
		return &pb.CosignReply{Conflict: true, CosignedSize: conflict.Size}, nil
	}
	if err != nil {
		s.log.Warn().Err(err).Uint64("old_size", req.OldSize).Msg("refused to cosign a checkpoint")
		return nil, rpc.ToStatus(err, ledgerCodes...)
	}
	return &pb.CosignReply{Cosignature: sig}, nil
}

// gateProof is what the gate checks, from a query step's header or a
// decryption request: the query, the plan the party is asked to run, and
// the QUERY entry with its inclusion proof and cosigned checkpoint.
type gateProof struct {
	queryID    string
	plan       *pb.Plan
	entry      []byte
	index      uint64
	proof      [][]byte
	checkpoint []byte
}

func stepGate(h *pb.QueryHeader) gateProof {
	return gateProof{h.QueryId, h.Plan, h.LedgerEntry, h.LedgerIndex, h.InclusionProof, h.Checkpoint}
}

func shareGate(r *pb.DecryptShareRequest) gateProof {
	return gateProof{r.QueryId, r.Plan, r.LedgerEntry, r.LedgerIndex, r.InclusionProof, r.Checkpoint}
}

// gate checks that a query (to work on or to decrypt) is a QUERY entry
// included in a checkpoint this party cosigned, and that the entry's
// query id, plan and epoch are the request's. It returns the entry. No
// traceability, no work and no answer.
func (s *Server) gate(g gateProof, epochID string) (entry.Query, error) {
	if len(g.entry) == 0 {
		return entry.Query{}, fmt.Errorf("%w: query %s comes without its ledger entry", ErrGate, g.queryID)
	}
	if err := s.witness.VerifyIncluded(g.entry, g.index, g.proof, g.checkpoint); err != nil {
		return entry.Query{}, fmt.Errorf("%w: query %s: %w", ErrGate, g.queryID, err)
	}
	e, err := entry.Parse(g.entry)
	if err != nil {
		return entry.Query{}, fmt.Errorf("%w: query %s: %w", ErrGate, g.queryID, err)
	}
	q, ok := e.(entry.Query)
	if !ok {
		return entry.Query{}, fmt.Errorf("%w: ledger entry %d is a %s, not a QUERY", ErrGate, g.index, e.Type())
	}
	planHash, err := wire.PlanHash(g.plan)
	if err != nil {
		return entry.Query{}, fmt.Errorf("%w: %v", ErrGate, err)
	}
	switch {
	case q.QueryID != g.queryID:
		return entry.Query{}, fmt.Errorf("%w: ledger entry %d is query %s, the request is for %s", ErrGate, g.index, q.QueryID, g.queryID)
	case !bytes.Equal(q.PlanHash[:], planHash[:]):
		return entry.Query{}, fmt.Errorf("%w: query %s: the plan differs from the one committed on the ledger", ErrGate, g.queryID)
	}
	n, err := wire.EpochNumber(epochID)
	if err != nil {
		return entry.Query{}, fmt.Errorf("%w: this party's epoch: %v", ErrGate, err)
	}
	if q.EpochID != n {
		return entry.Query{}, fmt.Errorf("%w: query %s was committed for epoch %d, this party is in epoch %d", ErrGate, g.queryID, q.EpochID, n)
	}
	return q, nil
}
