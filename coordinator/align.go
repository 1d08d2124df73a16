package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mpcq/mpcq/internal/transport"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/mpc/align"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// blindAt sends a list to a party for blinding and returns its output.
func blindAt(ctx context.Context, p *partyConn, chain align.Provenance, elems [][]byte) (align.Provenance, [][]byte, error) {
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
	return transport.RecvList(st)
}

// runAlignment runs one epoch of private record alignment: every party
// blinds its own list, every list passes through every other party, and
// the ranks of the sorted union go back to each party.
func (s *Server) runAlignment(ctx context.Context) error {
	start := time.Now()
	epoch := newID("e-")
	names := s.cfg.PartyNames()
	s.log.Info().Str("epoch", epoch).Msg("record alignment started")
	n := len(s.parties)
	chains := make([]align.Provenance, n)
	lists := make([][][]byte, n)
	// Each list then travels through the others in rotated order, so that
	// in each round every party blinds exactly one list.
	err := s.forEachParty(ctx, func(ctx context.Context, p *partyConn) error {
		i := s.partyIndex(p.name)
		st, err := p.client.AlignOwn(ctx, &pb.AlignOwnRequest{EpochId: epoch, Parties: names})
		if err != nil {
			return err
		}
		c, l, err := transport.RecvList(st)
		if err != nil {
			return err
		}
		chains[i], lists[i] = c, l
		return nil
	})
	if err != nil {
		return err
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
				c, l, err := blindAt(ctx, blinder, chains[i], lists[i])
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
		return err
	}
	sets := map[string][][]byte{}
	sizes := map[string]uint64{}
	for i, p := range s.parties {
		if err := align.Complete(chains[i], names); err != nil {
			return fmt.Errorf("%w: list of %s: %w", ErrParty, p.name, err)
		}
		sets[p.name] = lists[i]
		sizes[p.name] = uint64(len(lists[i]))
	}
	ranks, union, unionHash, err := align.Ranks(sets)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrParty, err)
	}
	err = s.forEachParty(ctx, func(ctx context.Context, p *partyConn) error {
		st, err := p.client.AlignRanks(ctx)
		if err != nil {
			return err
		}
		r := ranks[p.name]
		for lo := 0; lo < len(r) || lo == 0; lo += transport.RanksChunk {
			m := &pb.RanksChunk{Ranks: r[lo:min(lo+transport.RanksChunk, len(r))]}
			if lo == 0 {
				m.EpochId, m.Entities, m.UnionHash = epoch, uint64(union), unionHash[:]
			}
			if err := st.Send(m); err != nil {
				return err
			}
			if lo+transport.RanksChunk >= len(r) {
				break
			}
		}
		_, err = st.CloseAndRecv()
		return err
	})
	if err != nil {
		return err
	}
	epochNum, err := wire.EpochNumber(epoch)
	if err != nil {
		return err
	}
	if _, _, _, err := s.appendEntry(ctx, entry.Epoch{EpochID: epochNum, UnionSize: uint64(union), UnionHash: unionHash, SetSizes: sortedSizes(sizes)}); err != nil {
		return err
	}
	es := &epochState{ID: epoch, Entities: uint64(union), UnionHash: unionHash[:], Sizes: sizes}
	if err := s.writeJSON(epochFile, es); err != nil {
		return err
	}
	s.mu.Lock()
	s.epoch = es
	s.mu.Unlock()
	s.log.Info().Str("epoch", epoch).Int("entities", union).Float64("elapsed_s", time.Since(start).Seconds()).Msg("record alignment finished")
	return nil
}

func (s *Server) partyIndex(name string) int {
	for i, p := range s.parties {
		if p.name == name {
			return i
		}
	}
	return -1
}
