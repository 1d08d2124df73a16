package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpcq/mpcq/internal/transport"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/mpc/align"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// blindAt sends a list to a party for blinding and returns its output.
func blindAt(ctx context.Context, p *partyConn, chain align.Provenance, elems [][]byte, progress func(int)) (align.Provenance, [][]byte, error) {
	st, err := p.client.AlignBlind(ctx)
	if err != nil {
		return chain, nil, err
	}
	if err := transport.SendList(st, chain, elems); err != nil {
		return chain, nil, err
	}
	if err := st.CloseSend(); err != nil {
		return chain, nil, err
	}
	return transport.RecvListProgress(st, progress)
}

// alignProgress counts the blindings of an alignment (every party blinds
// every list once: rows × parties in all) and reports them, with an
// estimate of the time left, in the log and the status every few seconds.
type alignProgress struct {
	done  atomic.Int64
	total int64
	start time.Time
}

func (a *alignProgress) add(n int) { a.done.Add(int64(n)) }

// text is "45% of 7.35 M blindings, about 80 s left" (no estimate until
// some work is done).
func (a *alignProgress) text(now time.Time) string {
	done := a.done.Load()
	if a.total <= 0 {
		return fmt.Sprintf("%d blindings", done)
	}
	pct := 100 * float64(done) / float64(a.total)
	s := fmt.Sprintf("%.0f%% of %s blindings", pct, humanCount(a.total))
	if el := now.Sub(a.start); done > 0 && el > time.Second && done < a.total {
		left := time.Duration(float64(el) * float64(a.total-done) / float64(done))
		s += fmt.Sprintf(", about %s left", left.Round(time.Second))
	}
	return s
}

func humanCount(n int64) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.2f M", float64(n)/1e6)
	case n >= 1_000:
		return fmt.Sprintf("%.1f k", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// reportAlignment logs and publishes the progress every interval until
// ctx is done.
func (s *Server) reportAlignment(ctx context.Context, epoch string, a *alignProgress, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			text := a.text(now)
			s.mu.Lock()
			if ctx.Err() != nil {
				// The alignment ended (and the phase may have moved on,
				// clearing the detail): leave it.
				s.mu.Unlock()
				return
			}
			s.phaseDetail = text
			s.mu.Unlock()
			s.log.Info().Str("epoch", epoch).Int64("done", a.done.Load()).Int64("total", a.total).Str("progress", text).Msg("record alignment progress")
		}
	}
}

// runAlignment runs one epoch of private record alignment: every party
// blinds its own list, every list passes through every other party, and
// the ranks of the sorted union go back to each party. It starts a
// lineage: the union is kept for the incremental epochs that follow.
func (s *Server) runAlignment(ctx context.Context) error {
	start := time.Now()
	epoch := newID("e-")
	n := len(s.parties)
	prog := &alignProgress{start: start}
	s.mu.Lock()
	for _, ps := range s.status {
		prog.total += int64(ps.Rows) * int64(n)
	}
	s.mu.Unlock()
	s.log.Info().Str("epoch", epoch).Int64("blindings", prog.total).Msg("record alignment started")
	pctx, stopReport := context.WithCancel(ctx)
	defer stopReport()
	go s.reportAlignment(pctx, epoch, prog, 5*time.Second)
	sets, err := s.blindLists(ctx, epoch, "", prog.add)
	if err != nil {
		return err
	}
	sizes := map[string]uint64{}
	for p, l := range sets {
		sizes[p] = uint64(len(l))
	}
	ranks, union, unionHash, err := align.Ranks(sets)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrParty, err)
	}
	if _, err := s.sendRanks(ctx, epoch, "", uint64(union), unionHash, ranks); err != nil {
		return err
	}
	epochNum, err := wire.EpochNumber(epoch)
	if err != nil {
		return err
	}
	if _, _, _, err := s.appendEntry(ctx, entry.Epoch{EpochID: epochNum, UnionSize: uint64(union), UnionHash: unionHash, SetSizes: sortedSizes(sizes)}); err != nil {
		return err
	}
	u := unionFromRanks(union, sets, ranks)
	es := &epochState{ID: epoch, Entities: uint64(union), UnionHash: unionHash[:], Sizes: sizes, Lineage: epoch}
	if err := s.saveEpoch(es, u); err != nil {
		return err
	}
	s.log.Info().Str("epoch", epoch).Int("entities", union).Float64("elapsed_s", time.Since(start).Seconds()).Msg("record alignment finished")
	return nil
}

// blindLists has every party blind its list (all its ids, or for an
// incremental epoch on prev the ids it added) and sends every list
// through every other party; it returns each party's fully blinded
// pseudonyms, their provenance checked complete.
func (s *Server) blindLists(ctx context.Context, epoch, prev string, progress func(int)) (map[string][][]byte, error) {
	names := s.cfg.PartyNames()
	n := len(s.parties)
	chains := make([]align.Provenance, n)
	lists := make([][][]byte, n)
	err := s.forEachParty(ctx, func(ctx context.Context, p *partyConn) error {
		i := s.partyIndex(p.name)
		st, err := p.client.AlignOwn(ctx, &pb.AlignOwnRequest{EpochId: epoch, Parties: names, PreviousEpoch: prev})
		if err != nil {
			return err
		}
		c, l, err := transport.RecvListProgress(st, progress)
		if err != nil {
			return err
		}
		chains[i], lists[i] = c, l
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Every list then travels through the other parties, starting with the
	// next one in order, so that at any time each party is mostly busy with
	// one list; lists do not wait for each other.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for hop := 1; hop < n; hop++ {
				blinder := s.parties[(i+hop)%n]
				c, l, err := blindAt(ctx, blinder, chains[i], lists[i], progress)
				if err != nil {
					errs[i] = partyFailed(blinder.name, fmt.Errorf("blinding the list of %s: %w", s.parties[i].name, err))
					return
				}
				chains[i], lists[i] = c, l
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sets := map[string][][]byte{}
	for i, p := range s.parties {
		if err := align.Complete(chains[i], names); err != nil {
			return nil, fmt.Errorf("%w: list of %s: %w", ErrParty, p.name, err)
		}
		sets[p.name] = lists[i]
	}
	return sets, nil
}

// sendRanks sends every party its ranks (for an incremental epoch on
// prev, those of the rows it added) and returns the parties' replies.
func (s *Server) sendRanks(ctx context.Context, epoch, prev string, union uint64, unionHash [32]byte, ranks map[string][]uint32) (map[string]*pb.AlignRanksReply, error) {
	var mu sync.Mutex
	replies := map[string]*pb.AlignRanksReply{}
	err := s.forEachParty(ctx, func(ctx context.Context, p *partyConn) error {
		st, err := p.client.AlignRanks(ctx)
		if err != nil {
			return err
		}
		r := ranks[p.name]
		for lo := 0; lo < len(r) || lo == 0; lo += transport.RanksChunk {
			m := &pb.RanksChunk{Ranks: r[lo:min(lo+transport.RanksChunk, len(r))]}
			if lo == 0 {
				m.EpochId, m.Entities, m.UnionHash, m.PreviousEpoch = epoch, union, unionHash[:], prev
			}
			if err := st.Send(m); err != nil {
				return err
			}
			if lo+transport.RanksChunk >= len(r) {
				break
			}
		}
		reply, err := st.CloseAndRecv()
		if err != nil {
			return err
		}
		mu.Lock()
		replies[p.name] = reply
		mu.Unlock()
		return nil
	})
	return replies, err
}

func (s *Server) partyIndex(name string) int {
	for i, p := range s.parties {
		if p.name == name {
			return i
		}
	}
	return -1
}
