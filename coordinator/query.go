package coordinator

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/internal/transport"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
)

// Query plans an analyst's SQL, runs it through the parties and returns
// its totals, packed and encrypted to the analyst's public key, with progress
// events on the way.
func (s *Server) Query(req *pb.QueryRequest, stream pb.Coordinator_QueryServer) error {
	ctx, cancel := context.WithTimeout(stream.Context(), s.cfg.QueryTimeout())
	defer cancel()
	err := s.query(ctx, req, stream)
	return rpc.ToStatus(err, codeMap...)
}

type queryEnv struct {
	keys   *keySet
	epoch  *epochState
	schema schema.Consortium
}

func (s *Server) env() (queryEnv, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil || s.epoch == nil || s.phase != "ready" {
		return queryEnv{}, fmt.Errorf("%w: phase %q; wait until `mpcq status` reports ready", ErrNotReady, s.phase)
	}
	return queryEnv{keys: s.keys, epoch: s.epoch, schema: s.schema}, nil
}

func (s *Server) query(ctx context.Context, req *pb.QueryRequest, stream pb.Coordinator_QueryServer) error {
	start := time.Now()
	analyst, err := pki.RequireRole(ctx, pki.RoleAnalyst)
	if err != nil {
		return err
	}
	progress := func(stage, detail string) {
		_ = stream.Send(&pb.QueryEvent{Event: &pb.QueryEvent_Progress{Progress: &pb.Progress{Stage: stage, Detail: detail, ElapsedS: time.Since(start).Seconds()}}})
	}
	env, err := s.env()
	if err != nil {
		return err
	}
	if req.Purpose == "" || req.LegalBasis == "" {
		return fmt.Errorf("%w: a purpose and a legal basis (warrant or case reference) are required", ErrBadQuery)
	}
	params := env.keys.params
	if _, err := params.UnmarshalPublicKey(req.AnalystPublicKey); err != nil {
		return fmt.Errorf("%w: analyst public key: %w", ErrBadQuery, err)
	}
	p, err := plan.Parse(req.Sql, env.schema)
	if err != nil {
		return err
	}
	if len(p.Terms) == 0 {
		return fmt.Errorf("%w: the WHERE clause can never be true", ErrBadQuery)
	}
	if p.Explain {
		return fmt.Errorf("%w: EXPLAIN runs nothing and is answered by mpcq itself (mpcq query --dry-run); nothing was recorded", ErrBadQuery)
	}
	if err := p.CheckBounds(plan.Limits{Modulus: params.T(), Entities: env.epoch.Entities}, env.schema); err != nil {
		return err
	}
	queryID := newID("q-")
	tables := chain.Order(p)
	layout := chain.LayoutOf(p)
	var parties []*partyConn
	var names []string
	for _, t := range tables {
		pc, err := s.partyOfTable(t)
		if err != nil {
			return err
		}
		parties = append(parties, pc)
		names = append(names, pc.name)
	}
	log := s.log.With().Str("query", queryID).Str("analyst", analyst.Name).Logger()
	log.Info().Strs("chain", names).Int("aggregates", len(p.Aggregates)).Msg("query planned")
	progress("planned", fmt.Sprintf("query %s: chain %v, %d blocks of %d slots, %d term(s) × %d group(s) × %d sum(s)",
		queryID, names, params.Blocks(int(env.epoch.Entities)), params.Slots(), layout.Terms, layout.Groups, layout.Sums))
	planPB, err := wire.PlanToProto(p)
	if err != nil {
		return err
	}
	header := &pb.QueryHeader{QueryId: queryID, Plan: planPB, Chain: names, EpochId: env.epoch.ID,
		Entities: env.epoch.Entities, CeremonyId: env.keys.state.ID}

	// Commit the query on the ledger before any party works on it.
	gate, err := s.commitQuery(ctx, queryID, analyst.String(), p.Canonical, req, header.Plan, env)
	if err != nil {
		log.Warn().Err(err).Msg("query not committed on the ledger; not run")
		return err
	}
	progress("committed", fmt.Sprintf("ledger entry %d in checkpoint %d, cosigned by every party", gate.LedgerIndex, gate.CheckpointSize))
	fail := func(err error) error {
		party := ""
		var pe *PartyError
		var se *mpc.PartyValueError
		if errors.As(err, &pe) {
			party = pe.Party
		} else if errors.As(err, &se) {
			party = se.Party
		}
		s.recordFailure(queryID, party, err)
		return err
	}
	finals, outMap, sent, err := s.runChain(ctx, params, header, parties, layout.N(), progress)
	if err != nil {
		log.Warn().Err(err).Msg("query failed in the chain")
		return fail(err)
	}
	progress("aggregating", fmt.Sprintf("%d ciphertexts into %d total(s), packed", len(finals), layout.Groups*layout.Sums))
	totals, err := s.aggregate(ctx, params.NewWorker(nil, env.keys.evk), params, layout, p.Terms, finals, outMap)
	if err != nil {
		return fail(err)
	}
	progress("decrypting", "collecting every party's decryption share")
	raw := make([][]byte, len(totals))
	for i, ct := range totals {
		if raw[i], err = params.MarshalCiphertext(ct); err != nil {
			return fail(err)
		}
	}
	shares := make([]map[string][]byte, len(totals))
	for i := range shares {
		shares[i] = map[string][]byte{}
	}
	var mu sync.Mutex
	err = s.forEachParty(ctx, func(ctx context.Context, pc *partyConn) error {
		for _, b := range transport.Batches(len(raw), len(raw[0])) {
			r, err := pc.client.DecryptShare(ctx, &pb.DecryptShareRequest{QueryId: queryID, Plan: header.Plan, ChainLen: uint32(len(parties)),
				AnalystPublicKey: req.AnalystPublicKey, Ciphertexts: raw[b[0]:b[1]], Offset: uint32(b[0]), CeremonyId: env.keys.state.ID,
				LedgerEntry: gate.LedgerEntry, LedgerIndex: gate.LedgerIndex, InclusionProof: gate.InclusionProof, Checkpoint: gate.Checkpoint})
			if err != nil {
				return err
			}
			if len(r.Shares) != b[1]-b[0] {
				return fmt.Errorf("%d decryption shares for %d packed ciphertexts", len(r.Shares), b[1]-b[0])
			}
			mu.Lock()
			for i, sh := range r.Shares {
				shares[b[0]+i][pc.name] = sh
				sent[pc.name] += uint64(len(sh))
			}
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		log.Warn().Err(err).Msg("query failed collecting decryption shares")
		return fail(err)
	}
	result := &pb.QueryResult{QueryId: queryID, ChainLen: uint32(len(parties)), ParamSet: params.Set.Name, Chain: names,
		Sums: planPB.Sums, Groups: uint32(layout.Groups)}
	switched := make([][]byte, len(totals))
	cerrs := make([]error, len(totals))
	var cwg sync.WaitGroup
	next := make(chan int)
	for range min(s.workers, len(totals)) {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for i := range next {
				out, err := params.CombineShares(totals[i], shares[i])
				if err != nil {
					cerrs[i] = fmt.Errorf("%w: %w", ErrParty, err)
					continue
				}
				switched[i], cerrs[i] = params.MarshalCiphertext(out)
			}
		}()
	}
	for i := range totals {
		next <- i
	}
	close(next)
	cwg.Wait()
	if err := errors.Join(cerrs...); err != nil {
		return fail(err)
	}
	result.SumCiphertexts = switched
	for _, n := range names {
		result.BytesPerParty = append(result.BytesPerParty, sent[n])
	}
	ctHash := sha256.New()
	for _, b := range switched {
		ctHash.Write(b)
	}
	var re entry.Result
	re.QueryID, re.Parties = queryID, s.cfg.PartyNames()
	copy(re.CiphertextHash[:], ctHash.Sum(nil))
	if _, _, _, err := s.appendEntry(ctx, re); err != nil {
		log.Warn().Err(err).Msg("RESULT not recorded; result withheld")
		return fail(err)
	}
	result.LedgerIndex = gate.LedgerIndex
	log.Info().Float64("elapsed_s", time.Since(start).Seconds()).Msg("query answered")
	all := result.SumCiphertexts
	for _, b := range transport.Batches(len(all), len(all[0])) {
		part := proto.Clone(result).(*pb.QueryResult)
		part.SumCiphertexts, part.Offset, part.Total = all[b[0]:b[1]], uint32(b[0]), uint32(len(all))
		if err := stream.Send(&pb.QueryEvent{Event: &pb.QueryEvent_Result{Result: part}}); err != nil {
			return err
		}
	}
	return nil
}

// runChain drives the chain of party steps, forwarding each party's blocks
// to the next as they arrive. It returns the last party's sums (at the
// decryption level), the output → sum index map, and the bytes each
// party sent.
func (s *Server) runChain(ctx context.Context, params *mpc.Params, header *pb.QueryHeader, chain []*partyConn, outputs int, progress func(string, string)) ([]*rlwe.Ciphertext, []uint32, map[string]uint64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	partyErr := func(pc *partyConn, err error) error {
		return &PartyError{Party: pc.name, Err: err}
	}
	streams := make([]pb.Party_QueryStepClient, len(chain))
	var inMap []uint32
	for i, pc := range chain {
		st, err := pc.client.QueryStep(ctx)
		if err != nil {
			return nil, nil, nil, partyErr(pc, err)
		}
		h := proto.Clone(header).(*pb.QueryHeader)
		h.Position = uint32(i)
		h.InMap = inMap
		if err := st.Send(&pb.BlockMessage{Header: h}); err != nil {
			_, rerr := st.Recv()
			return nil, nil, nil, partyErr(pc, errors.Join(err, rerr))
		}
		if i == 0 {
			if err := st.CloseSend(); err != nil {
				return nil, nil, nil, partyErr(pc, err)
			}
		}
		m, err := st.Recv()
		if err != nil {
			return nil, nil, nil, partyErr(pc, err)
		}
		inMap = m.OutMap
		if err := checkOutMap(inMap, outputs); err != nil {
			return nil, nil, nil, partyErr(pc, err)
		}
		streams[i] = st
	}
	sent := map[string]uint64{}
	var sentMu sync.Mutex
	count := func(name string, m *pb.BlockMessage) {
		n := 0
		for _, b := range m.Ciphertexts {
			n += len(b)
		}
		sentMu.Lock()
		sent[name] += uint64(n)
		sentMu.Unlock()
	}
	var wg sync.WaitGroup
	errs := make([]error, len(chain))
	for i := 0; i < len(chain)-1; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from, to := streams[i], streams[i+1]
			blocks := 0
			for {
				m, err := from.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					errs[i] = partyErr(chain[i], err)
					cancel()
					return
				}
				count(chain[i].name, m)
				if err := to.Send(m); err != nil {
					// The stream's own reader reports why; a failed send
					// only means the next party stopped listening.
					errs[i] = partyErr(chain[i+1], fmt.Errorf("stopped receiving blocks: %w", err))
					cancel()
					return
				}
				blocks++
				if i == 0 && blocks%16 == 0 {
					progress("chain", fmt.Sprintf("%d blocks from %s", blocks, chain[i].name))
				}
			}
			if err := to.CloseSend(); err != nil {
				errs[i] = partyErr(chain[i+1], err)
				cancel()
			}
		}()
	}
	last := chain[len(chain)-1]
	distinct := 0
	for _, m := range inMap {
		distinct = max(distinct, int(m)+1)
	}
	var final [][]byte
	var lastErr error
	asm := transport.NewAssembler()
	for {
		m, err := streams[len(chain)-1].Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			lastErr = partyErr(last, err)
			cancel()
			break
		}
		count(last.name, m)
		if final != nil {
			lastErr = partyErr(last, fmt.Errorf("sums sent twice"))
			cancel()
			break
		}
		raws, complete, err := asm.Add(0, m.Offset, m.Total, m.Ciphertexts, distinct)
		if err != nil {
			lastErr = partyErr(last, err)
			cancel()
			break
		}
		if complete {
			final = raws
		}
	}
	wg.Wait()
	// Report a real failure, not the cancellations it caused elsewhere.
	if err := firstCause(append(errs, lastErr)...); err != nil {
		return nil, nil, nil, err
	}
	if final == nil {
		return nil, nil, nil, partyErr(last, fmt.Errorf("no result"))
	}
	params, err := mpc.NewParams(s.cfg.ParamSet)
	if err != nil {
		return nil, nil, nil, err
	}

	fresh, err := params.FreshLevel(len(chain))
	if err != nil {
		return nil, nil, nil, err
	}
	scale := params.ScaleAt(fresh, mpc.DecryptLevel)
	cts := make([]*rlwe.Ciphertext, len(final))
	for i, b := range final {
		if cts[i], err = params.UnmarshalCiphertext(b, mpc.DecryptLevel, scale); err != nil {
			return nil, nil, nil, partyErr(last, err)
		}
	}
	return cts, inMap, sent, nil
}

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
func (s *Server) commitQuery(ctx context.Context, queryID, analyst, canonical string, req *pb.QueryRequest, planPB *pb.Plan, env queryEnv) (*gateProof, error) {
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
		AnalystKeyHash: hash(req.AnalystPublicKey), PlanHash: planHash, EpochID: epochNum, ParamSet: env.keys.params.Set.Name, Time: time.Now().Unix()}
	if err := a.Put(queryID, archive.Record{QueryID: queryID, QueryText: qOpen, Purpose: pOpen}); err != nil {
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

// aggregate combines the chain's outputs into one ciphertext per (group,
// sum) — Σ over the WHERE's terms of sign × product — then sums each one's
// slots and packs the totals into as few ciphertexts as the parameters
// allow (one for every plan at logN 14), one core per packed ciphertext.
func (s *Server) aggregate(ctx context.Context, base *mpc.Worker, params *mpc.Params, layout chain.Layout, terms []plan.Term, finals []*rlwe.Ciphertext, outMap []uint32) ([]*rlwe.Ciphertext, error) {
	n := layout.Groups * layout.Sums
	combined := make([]*rlwe.Ciphertext, n)
	for j := range n {
		g, sm := j/layout.Sums, j%layout.Sums
		cts := make([]*rlwe.Ciphertext, layout.Terms)
		signs := make([]int, layout.Terms)
		for k := range layout.Terms {
			cts[k] = finals[outMap[layout.Index(k, g, sm)]]
			signs[k] = 1
			if k < len(terms) {
				signs[k] = terms[k].Sign
			}
		}
		var err error
		if combined[j], err = base.Combine(cts, signs); err != nil {
			return nil, err
		}
	}
	packed := make([]*rlwe.Ciphertext, params.PackedCount(n))
	errs := make([]error, len(packed))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(s.workers, len(packed)) {
		w := base.Copy()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				lo, hi := params.PackedChunk(n, i)
				packed[i], errs[i] = w.Pack(combined[lo:hi])
			}
		}()
	}
	for i := range packed {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return packed, errors.Join(errs...)
}

// checkOutMap checks a party's output map: one entry per output, naming
// exactly the ciphertexts 0..d-1 for some d ≤ outputs.
func checkOutMap(m []uint32, outputs int) error {
	if len(m) != outputs {
		return fmt.Errorf("output map of %d entries for %d outputs", len(m), outputs)
	}
	seen := make([]bool, outputs)
	distinct := 0
	for _, v := range m {
		if int(v) >= outputs {
			return fmt.Errorf("output map names ciphertext %d of at most %d", v, outputs)
		}
		if !seen[v] {
			seen[v] = true
			distinct++
		}
	}
	for i := 0; i < distinct; i++ {
		if !seen[i] {
			return fmt.Errorf("output map skips ciphertext %d", i)
		}
	}
	return nil
}

// isEcho reports whether err is only the cancellation another failure caused.
func isEcho(err error) bool {
	return errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled || status.Code(errors.Unwrap(err)) == codes.Canceled
}

// firstCause returns the first error that is not a cancellation echo, else
// the first error.
func firstCause(errs ...error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		var pe *PartyError
		if errors.As(err, &pe) && isEcho(pe.Err) {
			continue
		}
		if !isEcho(err) {
			return err
		}
	}
	return first
}
