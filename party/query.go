package party

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/internal/transport"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/mpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// stepJob is one block to process: its index and, after the first party,
// the incoming ciphertexts.
type stepJob struct {
	block int
	in    []*rlwe.Ciphertext
}

// QueryStep runs this party's step of a query's chain. The first party
// encrypts its vectors block by block; a later party multiplies each
// incoming block by its own plaintext vectors; the last party also sums
// all blocks and sends only the sums. Blocks are processed by one lattigo
// worker per core.
func (s *Server) QueryStep(stream pb.Party_QueryStepServer) error {
	ctx, cancel := context.WithTimeout(stream.Context(), s.cfg.QueryTimeout())
	defer cancel()
	err := s.queryStep(ctx, stream)
	return rpc.ToStatus(err, codeMap...)
}

func (s *Server) queryStep(ctx context.Context, stream pb.Party_QueryStepServer) error {
	start := time.Now()
	k, a := s.snapshot()
	if k == nil || a == nil {
		return fmt.Errorf("%w: keys or alignment missing; wait for the ceremony and alignment", ErrNotReady)
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	h := first.Header
	if h == nil {
		return fmt.Errorf("%w: the first message of a query step must be its header", ErrBadRequest)
	}
	switch {
	case h.CeremonyId != k.state.ID:
		return fmt.Errorf("%w: query for ceremony %q, this party holds keys of %q", ErrBadRequest, h.CeremonyId, k.state.ID)
	case h.EpochId != a.state.ID || h.Entities != a.state.Entities:
		return fmt.Errorf("%w: query for epoch %q (%d entities), this party is aligned in %q (%d)", ErrBadRequest, h.EpochId, h.Entities, a.state.ID, a.state.Entities)
	case len(h.Chain) < 1 || len(h.Chain) > mpc.MaxChain || int(h.Position) >= len(h.Chain) || h.Chain[h.Position] != s.name:
		return fmt.Errorf("%w: chain %v position %d does not name this party", ErrBadRequest, h.Chain, h.Position)
	}
	wp, err := wire.PlanFromProto(h.Plan)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPlan, err)
	}
	if len(wp.Tables) != len(h.Chain) {
		return fmt.Errorf("%w: chain of %d parties for %d tables", ErrPlan, len(h.Chain), len(wp.Tables))
	}
	params := k.params
	chainLen, pos := len(h.Chain), int(h.Position)
	isFirst, isLast := pos == 0, pos == chainLen-1
	inCount := 0
	for _, m := range h.InMap {
		inCount = max(inCount, int(m)+1)
	}
	sp, err := newStepPlan(wp, s.data, a.ranks, int(a.state.Entities))
	if err != nil {
		return err
	}
	if inCount > sp.layout.N() {
		return fmt.Errorf("%w: input map names %d ciphertexts for %d outputs", ErrBadRequest, inCount, sp.layout.N())
	}
	outs, specs, outMap, err := sp.stepOutputs(h.InMap, isFirst, inCount)
	if err != nil {
		return err
	}
	// Distinct vectors: each is encoded once per block and multiplies
	// every output that uses it (usersOf lists them).
	var vecs [][]uint64
	var usersOf [][]int
	vecIdx := map[string]int{}
	for i := range outs {
		j, ok := vecIdx[outs[i].vec]
		if !ok {
			v, err := sp.vector(specs[i], outs[i].vec)
			if err != nil {
				return err
			}
			j = len(vecs)
			vecIdx[outs[i].vec] = j
			vecs = append(vecs, v)
			usersOf = append(usersOf, nil)
		}
		usersOf[j] = append(usersOf[j], i)
	}
	if err := stream.Send(&pb.BlockMessage{OutMap: outMap}); err != nil {
		return err
	}
	log := s.log.With().Str("query", h.QueryId).Int("position", pos).Int("chain", chainLen).Logger()
	log.Info().Int("outputs", len(outs)).Msg("query step started")

	blocks := params.Blocks(int(a.state.Entities))
	fresh, err := params.FreshLevel(chainLen)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	inLevel := fresh - pos + 1
	inScale := params.ScaleAt(fresh, inLevel)
	slots := params.Slots()
	entities := int(a.state.Entities)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan stepJob)
	results := make(chan *pb.BlockMessage, s.workers)
	var (
		wg      sync.WaitGroup
		errMu   sync.Mutex
		stepErr error
	)
	fail := func(err error) {
		errMu.Lock()
		if stepErr == nil {
			stepErr = err
		}
		errMu.Unlock()
		cancel()
	}
	failed := func() error {
		errMu.Lock()
		defer errMu.Unlock()
		return stepErr
	}
	base := params.NewWorker(k.pk, nil)
	sums := make([][]*rlwe.Ciphertext, s.workers) // per worker, per output (last party)
	for wi := 0; wi < s.workers; wi++ {
		w := base.Copy()
		wg.Add(1)
		go func(wi int) {
			defer wg.Done()
			var pt *rlwe.Plaintext // one encoding buffer, reused
			for j := range jobs {
				lo, hi := j.block*slots, min((j.block+1)*slots, entities)
				if isLast && !isFirst && sums[wi] == nil {
					sums[wi] = make([]*rlwe.Ciphertext, len(outs))
				}
				cts := make([]*rlwe.Ciphertext, len(outs))
				for vi, users := range usersOf {
					if isFirst {
						for _, oi := range users {
							var err error
							if cts[oi], err = w.EncryptBlock(vecs[vi][lo:hi], chainLen); err != nil {
								fail(fmt.Errorf("block %d: %w", j.block, err))
								return
							}
						}
						continue
					}
					var err error
					if pt, err = w.Encode(vecs[vi][lo:hi], inLevel, pt); err != nil {
						fail(fmt.Errorf("block %d: %w", j.block, err))
						return
					}
					for _, oi := range users {
						in := j.in[outs[oi].in]
						if isLast {
							// Multiply and accumulate at the incoming
							// level; one rescale per output at the end.
							sums[wi][oi], err = w.MulAccumulate(sums[wi][oi], in, pt)
						} else {
							cts[oi], err = w.MulBlock(in, pt)
						}
						if err != nil {
							fail(fmt.Errorf("block %d: %w", j.block, err))
							return
						}
					}
				}
				if isLast && !isFirst {
					continue
				}
				if isLast {
					if sums[wi] == nil {
						sums[wi] = cts
						continue
					}
					for oi := range cts {
						if err := w.AddInto(sums[wi][oi], cts[oi]); err != nil {
							fail(err)
							return
						}
					}
					continue
				}
				raws := make([][]byte, len(cts))
				for i, ct := range cts {
					var err error
					if raws[i], err = params.MarshalCiphertext(ct); err != nil {
						fail(err)
						return
					}
				}
				for _, r := range transport.Batches(len(raws), len(raws[0])) {
					msg := &pb.BlockMessage{Block: uint32(j.block), Offset: uint32(r[0]), Total: uint32(len(raws)), Ciphertexts: raws[r[0]:r[1]]}
					select {
					case results <- msg:
					case <-ctx.Done():
						return
					}
				}
			}
		}(wi)
	}
	// Feed jobs: generated by the first party, received by the others.
	go func() {
		defer close(jobs)
		if isFirst {
			for b := 0; b < blocks; b++ {
				select {
				case jobs <- stepJob{block: b}:
				case <-ctx.Done():
					return
				}
			}
			return
		}
		seen := make([]bool, blocks)
		got := 0
		asm := transport.NewAssembler()
		for {
			m, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				fail(err)
				return
			}
			if int(m.Block) >= blocks || seen[m.Block] {
				fail(fmt.Errorf("%w: block %d is out of range 0..%d or repeated", ErrBadRequest, m.Block, blocks-1))
				return
			}
			raws, complete, err := asm.Add(m.Block, m.Offset, m.Total, m.Ciphertexts, inCount)
			if err != nil {
				fail(fmt.Errorf("%w: %v", ErrBadRequest, err))
				return
			}
			if !complete {
				continue
			}
			in := make([]*rlwe.Ciphertext, inCount)
			for i, b := range raws {
				if in[i], err = params.UnmarshalCiphertext(b, inLevel, inScale); err != nil {
					fail(fmt.Errorf("block %d ciphertext %d: %w", m.Block, i, err))
					return
				}
			}
			seen[m.Block] = true
			got++
			select {
			case jobs <- stepJob{block: int(m.Block), in: in}:
			case <-ctx.Done():
				return
			}
		}
		if got != blocks {
			fail(fmt.Errorf("%w: received %d of %d blocks", ErrBadRequest, got, blocks))
		}
	}()
	go func() { wg.Wait(); close(results) }()
	sent := 0
loop:
	for {
		select {
		case msg, ok := <-results:
			if !ok {
				break loop
			}
			if failed() != nil {
				continue
			}
			if err := stream.Send(msg); err != nil {
				fail(err)
				continue
			}
			sent++
		case <-ctx.Done():
			// Returning ends the stream, which unblocks the feeder's Recv;
			// workers stop at their next send.
			if err := failed(); err != nil {
				return err
			}
			return ctx.Err()
		}
	}
	if err := failed(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if isLast {
		var total []*rlwe.Ciphertext
		w := base.Copy()
		for _, part := range sums {
			if part == nil {
				continue
			}
			if total == nil {
				total = part
				continue
			}
			for oi := range part {
				if err := w.AddInto(total[oi], part[oi]); err != nil {
					return err
				}
			}
		}
		if len(total) == 0 {
			return fmt.Errorf("%w: no blocks to sum (no aligned people)", ErrBadRequest)
		}
		var raws [][]byte
		for _, ct := range total {
			if !isFirst {
				var err error
				if ct, err = w.RescaleOnce(ct); err != nil {
					return err
				}
			}
			b, err := params.MarshalCiphertext(ct)
			if err != nil {
				return err
			}
			raws = append(raws, b)
		}
		for _, r := range transport.Batches(len(raws), len(raws[0])) {
			if err := stream.Send(&pb.BlockMessage{Offset: uint32(r[0]), Total: uint32(len(raws)), Ciphertexts: raws[r[0]:r[1]]}); err != nil {
				return err
			}
		}
	}
	log.Info().Int("blocks", blocks).Int("sent", sent).Float64("elapsed_s", since(start)).Msg("query step done")
	return nil
}

// DecryptShare returns this party's PCKS shares that switch each packed
// aggregate (one per query at logN 14) to the analyst's public key, with
// noise flooding.
func (s *Server) DecryptShare(ctx context.Context, req *pb.DecryptShareRequest) (*pb.DecryptShareReply, error) {
	reply, err := s.decryptShare(ctx, req)
	if errors.Is(err, ErrGate) {
		s.log.Warn().Str("query", req.QueryId).Err(err).Msg("decryption share refused")
	}
	return reply, rpc.ToStatus(err, append(ledgerCodes, codeMap...)...)
}

func (s *Server) decryptShare(ctx context.Context, req *pb.DecryptShareRequest) (*pb.DecryptShareReply, error) {
	k, a := s.snapshot()
	if k == nil || a == nil {
		return nil, fmt.Errorf("%w: no keys or alignment yet", ErrNotReady)
	}
	if req.CeremonyId != k.state.ID {
		return nil, fmt.Errorf("%w: decryption for ceremony %q, this party holds keys of %q", ErrBadRequest, req.CeremonyId, k.state.ID)
	}
	wp, err := wire.PlanFromProto(req.Plan)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPlan, err)
	}
	params := k.params
	if want := params.PackedCount(wp.Groups() * len(wp.Sums)); len(req.Ciphertexts) == 0 || int(req.Offset)+len(req.Ciphertexts) > want {
		return nil, fmt.Errorf("%w: packed ciphertexts %d..%d of %d (%d groups × %d sums)", ErrBadRequest, req.Offset, int(req.Offset)+len(req.Ciphertexts)-1, want, wp.Groups(), len(wp.Sums))
	}
	if req.ChainLen < 1 || req.ChainLen > mpc.MaxChain || int(req.ChainLen) != len(wp.Tables) {
		return nil, fmt.Errorf("%w: chain length %d for %d tables", ErrBadRequest, req.ChainLen, len(wp.Tables))
	}
	// Decode (and so validate) every untrusted value first, then the gate.
	apk, err := params.UnmarshalPublicKey(req.AnalystPublicKey)
	if err != nil {
		return nil, fmt.Errorf("analyst public key: %w", err)
	}
	fresh, _ := params.FreshLevel(int(req.ChainLen))
	scale := params.ScaleAt(fresh, mpc.DecryptLevel)
	cts := make([]*rlwe.Ciphertext, len(req.Ciphertexts))
	for i, b := range req.Ciphertexts {
		if cts[i], err = params.UnmarshalCiphertext(b, mpc.DecryptLevel, scale); err != nil {
			return nil, fmt.Errorf("packed ciphertext %d: %w", i, err)
		}
	}
	if err := s.gate(req, a.state.ID); err != nil {
		return nil, err
	}
	if strings.ContainsAny(req.QueryId, " \n\t") || req.QueryId == "" {
		return nil, fmt.Errorf("%w: query id %q", ErrBadRequest, req.QueryId)
	}
	if err := s.decrypted.claim(req.QueryId, req.Offset, uint32(len(cts))); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrGate, err)
	}
	reply := &pb.DecryptShareReply{Shares: make([][]byte, len(cts))}
	errs := make([]error, len(cts))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(s.workers, len(cts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if errs[i] = ctx.Err(); errs[i] != nil {
					continue
				}
				reply.Shares[i], errs[i] = params.DecryptShare(k.sk, apk, cts[i])
				if errs[i] != nil {
					errs[i] = fmt.Errorf("packed ciphertext %d: %w", i, errs[i])
				}
			}
		}()
	}
	for i := range cts {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.log.Info().Str("query", req.QueryId).Uint64("ledger_index", req.LedgerIndex).Int("shares", len(reply.Shares)).Msg("decryption shares given")
	return reply, nil
}
