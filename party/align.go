package party

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/internal/transport"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/mpc/align"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// AlignOwn starts an epoch: a fresh blinding key, the party's own ids
// hashed to the group and blinded, signed as the first hop of the chain.
func (s *Server) AlignOwn(req *pb.AlignOwnRequest, stream pb.Party_AlignOwnServer) error {
	if _, err := wire.EpochNumber(req.EpochId); err != nil {
		return rpc.ToStatus(fmt.Errorf("%w: %v", ErrBadRequest, err), codeMap...)
	}
	if err := s.checkParties(req.Parties); err != nil {
		return rpc.ToStatus(err, codeMap...)
	}
	key, err := align.NewKey(rand.Reader)
	if err != nil {
		return rpc.ToStatus(err)
	}
	keys, err := s.src.Keys(stream.Context())
	if err != nil {
		s.log.Error().Err(err).Str("epoch", req.EpochId).Msg("cannot read the table's keys")
		return rpc.ToStatus(fmt.Errorf("party %s: %w", s.name, err), codeMap...)
	}
	sess := &alignSession{epoch: req.EpochId, parties: req.Parties, key: key, blinded: map[string]bool{}, keys: keys}
	s.mu.Lock()
	if old := s.aligning; old != nil {
		old.retire()
	}
	s.aligning = sess
	sess.inUse.Add(1)
	s.mu.Unlock()
	elems, err := align.BlindIDs(stream.Context(), key, keys.IDs, s.workers)
	sess.inUse.Done()
	if err != nil {
		return rpc.ToStatus(err, codeMap...)
	}
	chain := align.Provenance{Epoch: req.EpochId, Origin: s.name, Size: uint32(len(elems))}
	if err := align.Sign(&chain, s.name, s.priv, elems); err != nil {
		return rpc.ToStatus(err, codeMap...)
	}
	s.metrics.AlignBlinded.Add(float64(len(elems)))
	s.log.Info().Str("epoch", req.EpochId).Int("elements", len(elems)).Msg("own list blinded")
	return transport.SendList(stream, chain, elems)
}

// AlignBlind blinds another party's list with this party's epoch key, once
// per origin per epoch, and only when its provenance verifies.
func (s *Server) AlignBlind(stream pb.Party_AlignBlindServer) error {
	chain, elems, err := transport.RecvList(stream)
	if err != nil {
		return rpc.ToStatus(err, codeMap...)
	}
	s.mu.Lock()
	sess := s.aligning
	var refuse error
	switch {
	case sess == nil || sess.epoch != chain.Epoch:
		refuse = fmt.Errorf("%w: list for epoch %q, but this party's alignment epoch is not that", ErrBadRequest, chain.Epoch)
	case chain.Origin == s.name || chain.HasSigner(s.name):
		refuse = fmt.Errorf("%w: this party already blinded the list from %s", ErrBadRequest, chain.Origin)
	case sess.blinded[chain.Origin]:
		refuse = fmt.Errorf("%w: a list from %s was already blinded in epoch %s", ErrBadRequest, chain.Origin, chain.Epoch)
	}
	if refuse == nil {
		if err := align.Verify(chain, elems, s.peers, sess.parties); err != nil {
			refuse = err
		} else {
			sess.blinded[chain.Origin] = true
			sess.inUse.Add(1)
		}
	}
	s.mu.Unlock()
	if refuse != nil {
		s.log.Warn().Str("origin", chain.Origin).Str("epoch", chain.Epoch).Err(refuse).Msg("refused to blind a list")
		return rpc.ToStatus(refuse, codeMap...)
	}
	out, err := align.Blind(stream.Context(), sess.key, elems, s.workers)
	sess.inUse.Done()
	if err != nil {
		return rpc.ToStatus(err, codeMap...)
	}
	if err := align.Sign(&chain, s.name, s.priv, out); err != nil {
		return rpc.ToStatus(err, codeMap...)
	}
	s.metrics.AlignBlinded.Add(float64(len(out)))
	s.log.Info().Str("origin", chain.Origin).Int("elements", len(out)).Msg("list blinded")
	return transport.SendList(stream, chain, out)
}

// AlignRanks receives the slot of each of this party's records (in its own
// order), checks them and stores the epoch.
func (s *Server) AlignRanks(stream pb.Party_AlignRanksServer) error {
	var st epochState
	var ranks []uint32
	s.mu.Lock()
	sess := s.aligning
	s.mu.Unlock()
	if sess == nil {
		return rpc.ToStatus(fmt.Errorf("%w: ranks, but this party is not aligning", ErrBadRequest), codeMap...)
	}
	rows := sess.keys.Len()
	for i := 0; ; i++ {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if i == 0 {
			st = epochState{ID: m.EpochId, Entities: m.Entities, UnionHash: m.UnionHash, Rows: rows, KeysHash: sess.keys.Hash()}
			ranks = make([]uint32, 0, rows)
		}
		if len(ranks)+len(m.Ranks) > rows {
			return rpc.ToStatus(fmt.Errorf("%w: more ranks than the %d rows of this party", ErrBadRequest, rows), codeMap...)
		}
		ranks = append(ranks, m.Ranks...)
	}
	if _, err := wire.EpochNumber(st.ID); err != nil {
		return rpc.ToStatus(fmt.Errorf("%w: %v", ErrBadRequest, err), codeMap...)
	}
	if sess.epoch != st.ID {
		return rpc.ToStatus(fmt.Errorf("%w: ranks for epoch %q, which this party is not aligning", ErrBadRequest, st.ID), codeMap...)
	}
	if len(ranks) != rows {
		return rpc.ToStatus(fmt.Errorf("%w: %d ranks for %d rows", ErrBadRequest, len(ranks), rows), codeMap...)
	}
	if err := checkRanks(ranks, st.Entities); err != nil {
		return rpc.ToStatus(fmt.Errorf("%w: %v", ErrBadRequest, err), codeMap...)
	}
	if err := s.store.saveAlignment(st, ranks); err != nil {
		return rpc.ToStatus(err)
	}
	s.mu.Lock()
	s.aligned = &alignment{state: st, ranks: ranks, keys: sess.keys}
	s.syncHealthLocked()
	if s.aligning == sess {
		sess.retire()
		s.aligning = nil
	}
	s.mu.Unlock()
	s.log.Info().Str("epoch", st.ID).Uint64("entities", st.Entities).Msg("records aligned")
	return stream.SendAndClose(&pb.AlignRanksReply{Rows: uint64(rows)})
}

// checkRanks checks that every rank is below the union size and distinct,
// without allocating by the (untrusted) union size.
func checkRanks(ranks []uint32, entities uint64) error {
	if entities < uint64(len(ranks)) || entities > 1<<32 {
		return fmt.Errorf("union size %d is impossible for %d rows", entities, len(ranks))
	}
	sorted := slices.Clone(ranks)
	slices.Sort(sorted)
	for i, r := range sorted {
		if uint64(r) >= entities {
			return fmt.Errorf("rank %d is not below the union size %d", r, entities)
		}
		if i > 0 && sorted[i-1] == r {
			return fmt.Errorf("rank %d is given to two rows", r)
		}
	}
	return nil
}

// retire erases the session's key once no blinding uses it any more.
func (a *alignSession) retire() {
	go func() {
		a.inUse.Wait()
		a.key.Erase()
	}()
}
