package coordinator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/dp"
	"github.com/mpcq/mpcq/internal/metrics"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/ledger/request"
	"github.com/mpcq/mpcq/mpc/chainsig"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// Query plans an analyst's SQL, runs it through the parties and returns
// its totals, packed and encrypted to the analyst's public key, with progress
// events on the way.
func (s *Server) Query(req *pb.QueryRequest, stream pb.Coordinator_QueryServer) error {
	ctx, cancel := context.WithTimeout(stream.Context(), s.cfg.QueryTimeout())
	defer cancel()
	err := s.query(ctx, req, stream)
	outcome, reason := queryOutcome(err, s.stopping.Load(), stream.Context().Err() != nil)
	s.metrics.Queries.WithLabelValues(outcome, reason).Inc()
	if errors.Is(err, ErrBusy) {
		return busyStatus(err)
	}
	return rpc.ToStatus(err, codeMap...)
}

// env returns the consortium state a query runs against, once ready.
func (s *Server) env() (queryEnv, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var down []string
	for _, p := range s.parties {
		if st := s.status[p.name]; st != nil && !st.Up {
			down = append(down, p.name)
		}
	}
	env, err := readyEnv(s.phase, down, s.keys, s.epoch, s.schema)
	env.limits = memoryLimits{maxBytes: s.cfg.MaxQueryMemory(), workers: s.workers}
	return env, err
}

// queryRun is one query on its way through the drivers.
type queryRun struct {
	id      string
	analyst string // the caller's identity, as recorded on the ledger
	req     *pb.QueryRequest
	env     queryEnv
	pq      *plannedQuery
	parties []*partyConn
	names   []string
	header  *pb.QueryHeader
	log     zerolog.Logger
	// privacy is what the analyst signed: ε, collusion tolerance, warrant.
	privacy request.Privacy
	// timings are the query's phases so far, returned with the result.
	timings timings
}

// admit checks the caller's role and the consortium's readiness, runs
// intake and picks the party of every table in chain order.
func (s *Server) admit(ctx context.Context, req *pb.QueryRequest) (*queryRun, error) {
	analyst, err := pki.RequireRole(ctx, pki.RoleAnalyst)
	if err != nil {
		return nil, err
	}
	env, err := s.env()
	if err != nil {
		return nil, err
	}
	pq, err := intake(req, env)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(s.cfg.TLS.CA)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	now := time.Now()
	v, err := checkSigned(req, pq.plan.Canonical, caPEM, analyst, now)
	if err != nil {
		return nil, err
	}
	if err := checkPrivacy(v, req.Warrant, pq.plan, caPEM, len(s.parties), now); err != nil {
		return nil, err
	}
	if err := dp.FitsModulus(pq.plan, env.schema, env.epoch.Entities, env.keys.params.T(), v.Privacy.EpsilonMilli, int(v.Privacy.Collusion)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	q := &queryRun{id: newID("q-"), analyst: analyst.String(), req: req, env: env, pq: pq, privacy: v.Privacy}
	for _, t := range pq.tables {
		pc, err := s.partyOfTable(t)
		if err != nil {
			return nil, err
		}
		q.parties = append(q.parties, pc)
		q.names = append(q.names, pc.name)
	}
	q.header = &pb.QueryHeader{QueryId: q.id, Plan: pq.planPB, Chain: q.names, EpochId: env.epoch.ID,
		Entities: env.epoch.Entities, CeremonyId: env.keys.state.ID, Request: req.Signed, Warrant: req.Warrant}
	q.log = s.log.With().Str("query", q.id).Str("analyst", analyst.Name).Logger()
	return q, nil
}

func (s *Server) query(ctx context.Context, req *pb.QueryRequest, stream pb.Coordinator_QueryServer) error {
	start := time.Now()
	progress := func(stage, detail string) {
		_ = stream.Send(&pb.QueryEvent{Event: &pb.QueryEvent_Progress{Progress: &pb.Progress{Stage: stage, Detail: detail, ElapsedS: time.Since(start).Seconds()}}})
	}
	q, err := s.admit(ctx, req)
	if err != nil {
		return err
	}
	planned := time.Since(start)
	q.timings.add(PhasePlan, planned)
	release, err := s.slots.enter(ctx, func(pos int) {
		progress("queued", fmt.Sprintf("queued: position %d; %d queries run at once", pos, s.cfg.MaxConcurrentQueries))
	})
	if err != nil {
		q.log.Info().Err(err).Msg("query not admitted; not run")
		return err
	}
	defer release()
	committing := time.Now()
	q.timings.add(PhaseQueued, committing.Sub(start)-planned)
	params, layout := q.env.keys.params, q.pq.layout
	q.log.Info().Strs("chain", q.names).Int("aggregates", len(q.pq.plan.Aggregates)).Msg("query planned")
	progress("planned", fmt.Sprintf("query %s: chain %v, %d blocks of %d slots, %d term(s) × %d group(s) × %d sum(s)",
		q.id, q.names, params.Blocks(int(q.env.epoch.Entities)), params.Slots(), layout.Terms, layout.Groups, layout.Sums))

	// Commit the query on the ledger before any party works on it.
	appending := time.Now()
	gate, err := s.commitQuery(ctx, q.id, q.analyst, q.pq.plan.Canonical, req, q.header.Plan, q.env, q.privacy)
	if err != nil {
		q.log.Warn().Err(err).Msg("query not committed on the ledger; not run")
		return err
	}
	q.timings.add(PhaseLedgerQuery, time.Since(appending))
	// Planning and committing, without the wait for a running slot.
	s.metrics.PhaseSeconds.WithLabelValues(metrics.PhaseCommit).Observe((planned + time.Since(committing)).Seconds())
	progress("committed", fmt.Sprintf("ledger entry %d in checkpoint %d, cosigned by every party", gate.LedgerIndex, gate.CheckpointSize))
	// Every party checks the gate before it works, as before it decrypts.
	q.header.LedgerEntry, q.header.LedgerIndex = gate.LedgerEntry, gate.LedgerIndex
	q.header.InclusionProof, q.header.Checkpoint = gate.InclusionProof, gate.Checkpoint
	parts, err := s.execute(ctx, q, gate, progress)
	if err != nil {
		s.recordQueryFailure(stream.Context(), ctx, q.id, err)
		return err
	}
	q.log.Info().Float64("elapsed_s", time.Since(start).Seconds()).Msg("query answered")
	for _, part := range parts {
		if err := stream.Send(&pb.QueryEvent{Event: &pb.QueryEvent_Result{Result: part}}); err != nil {
			return err
		}
	}
	return nil
}

// execute runs a committed query: the party chain, the aggregation, the
// decryption shares and their combination, and the RESULT entry. It
// returns the result's messages; on error the caller records a FAILURE
// entry naming the party the error names, if any.
func (s *Server) execute(ctx context.Context, q *queryRun, gate *gateProof, progress func(string, string)) ([]*pb.QueryResult, error) {
	params, layout := q.env.keys.params, q.pq.layout
	n := layout.Groups * layout.Sums
	chainStart := time.Now()
	cr, err := runChain(ctx, params, q.header, q.parties, layout.N(), params.PackedCount(n), progress)
	if err != nil {
		q.log.Warn().Err(err).Msg("query failed in the chain")
		return nil, err
	}
	decryptStart := time.Now()
	s.metrics.PhaseSeconds.WithLabelValues(metrics.PhaseChain).Observe(decryptStart.Sub(chainStart).Seconds())
	q.timings.addChain(chainStart, cr.opened, cr.first, cr.done, q.names)
	// The last party combined and packed the totals and signed them;
	// every party checks that signature before its decryption share.
	progress("decrypting", fmt.Sprintf("collecting every party's decryption share of %d packed ciphertext(s) holding %d total(s)", len(cr.packed), n))
	dreq := &pb.DecryptShareRequest{QueryId: q.id, Plan: q.header.Plan, ChainLen: uint32(len(q.parties)),
		AnalystPublicKey: q.req.AnalystPublicKey, CeremonyId: q.env.keys.state.ID,
		LedgerEntry: gate.LedgerEntry, LedgerIndex: gate.LedgerIndex, InclusionProof: gate.InclusionProof, Checkpoint: gate.Checkpoint,
		Request: q.req.Signed, Chain: q.names, Warrant: q.req.Warrant}
	totals := cr.packed
	shares, err := s.collectShares(ctx, dreq, cr.raw, cr.sigs, cr.sent)
	if err != nil {
		q.log.Warn().Err(err).Msg("query failed collecting decryption shares")
		return nil, err
	}
	combining := time.Now()
	q.timings.add(PhaseDecryptShares, combining.Sub(decryptStart))
	switched, err := combineShares(ctx, params, s.workers, totals, shares)
	if err != nil {
		return nil, err
	}
	appending := time.Now()
	q.timings.add(PhaseCombine, appending.Sub(combining))
	if _, _, _, err := s.appendEntry(ctx, resultEntry(q.id, s.cfg.PartyNames(), cr.raw, switched)); err != nil {
		q.log.Warn().Err(err).Msg("RESULT not recorded; result withheld")
		return nil, err
	}
	q.timings.add(PhaseLedgerResult, time.Since(appending))
	s.metrics.PhaseSeconds.WithLabelValues(metrics.PhaseDecrypt).Observe(time.Since(decryptStart).Seconds())
	for i, b := range cr.sent.of(q.names) {
		s.metrics.PartyBytes.WithLabelValues(q.names[i]).Add(float64(b))
	}
	result := &pb.QueryResult{QueryId: q.id, ChainLen: uint32(len(q.parties)), ParamSet: params.Set.Name, Chain: q.names,
		Sums: q.pq.planPB.Sums, Groups: uint32(layout.Groups), SumCiphertexts: switched, BytesPerParty: cr.sent.of(q.names),
		LedgerIndex: gate.LedgerIndex, EpsilonMilli: q.privacy.EpsilonMilli, Collusion: uint32(q.privacy.Collusion), Timings: q.timings}
	return resultParts(result), nil
}

// blame names who deviated in a failed query, for its FAILURE entry: the
// party an error names, except when that party refused chain messages its
// predecessor did not sign. Only the relay, i.e. the coordinator, could
// have put them there, so the entry names no party and its reason starts
// with "coordinator:".
func blame(err error) (party string, cause error) {
	p := partyOf(err)
	if p != "" && status.Code(err) == codes.PermissionDenied && strings.Contains(err.Error(), chainsig.ErrBadSignature.Error()) {
		return "", fmt.Errorf("coordinator: party %s received chain messages its predecessor did not sign: %w", p, err)
	}
	return p, err
}
