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

// AlignOwn starts an epoch. A full alignment (no previous epoch) draws a
// fresh blinding key, which starts a lineage, and blinds every id; an
// incremental epoch blinds, with the lineage's key, only the ids the
// source added since the previous epoch. The list is signed as the first
// hop of its chain.
func (s *Server) AlignOwn(req *pb.AlignOwnRequest, stream pb.Party_AlignOwnServer) error {
	if _, err := wire.EpochNumber(req.EpochId); err != nil {
		return rpc.ToStatus(fmt.Errorf("%w: %v", ErrBadRequest, err), codeMap...)
	}
	if err := s.checkParties(req.Parties); err != nil {
		return rpc.ToStatus(err, codeMap...)
	}
	keys, err := s.src.Keys(stream.Context())
	if err != nil {
		s.log.Error().Err(err).Str("epoch", req.EpochId).Msg("cannot read the table's keys")
		return rpc.ToStatus(fmt.Errorf("party %s: %w", s.name, err), codeMap...)
	}
	sess := &alignSession{epoch: req.EpochId, parties: req.Parties, blinded: map[string]bool{}, keys: keys}
	ids := keys.IDs
	if req.PreviousEpoch == "" {
		if sess.key, err = align.NewKey(rand.Reader); err != nil {
			return rpc.ToStatus(err)
		}
	} else {
		// The lineage key is cloned under the lock: a full alignment
		// finishing meanwhile erases it (a torn copy would blind the added
		// ids to pseudonyms that match nothing).
		s.mu.Lock()
		a, lk := s.aligned, s.lineage
		var key *align.Key
		if lk != nil {
			key = lk.Clone()
		}
		s.mu.Unlock()
		switch {
		case a == nil || a.state.ID != req.PreviousEpoch:
			return rpc.ToStatus(fmt.Errorf("%w: incremental epoch on %q, but this party's epoch is not that; a full alignment is needed", ErrNotReady, req.PreviousEpoch), codeMap...)
		case key == nil:
			return rpc.ToStatus(fmt.Errorf("%w: incremental epoch on %q, but this party keeps no lineage key for it; a full alignment is needed", ErrNotReady, req.PreviousEpoch), codeMap...)
		}
		sess.prev, sess.key = a, key
		d := diffKeys(a.keys, a.ranks, keys)
		sess.diff = &d
		ids = make([]string, len(d.added))
		for k, i := range d.added {
			ids[k] = keys.IDs[i]
		}
	}
	s.mu.Lock()
	if old := s.aligning; old != nil {
		old.retire()
	}
	s.aligning = sess
	sess.inUse.Add(1)
	s.mu.Unlock()
	elems, err := align.BlindIDs(stream.Context(), sess.key, ids, s.workers)
	sess.inUse.Done()
	if err != nil {
		return rpc.ToStatus(err, codeMap...)
	}
	chain := align.Provenance{Epoch: req.EpochId, Origin: s.name, Size: uint32(len(elems))}
	if err := align.Sign(&chain, s.name, s.priv, elems); err != nil {
		return rpc.ToStatus(err, codeMap...)
	}
	s.metrics.AlignBlinded.Add(float64(len(elems)))
	ev := s.log.Info().Str("epoch", req.EpochId).Int("elements", len(elems))
	if sess.diff != nil {
		ev = ev.Str("previous", req.PreviousEpoch).Int("removed", sess.diff.removed)
	}
	ev.Msg("own list blinded")
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
// order; for an incremental epoch, of each record it added, in the order
// of its list), checks them and stores the epoch.
func (s *Server) AlignRanks(stream pb.Party_AlignRanksServer) error {
	var st epochState
	var ranks []uint32
	var prevEpoch string
	s.mu.Lock()
	sess := s.aligning
	s.mu.Unlock()
	if sess == nil {
		return rpc.ToStatus(fmt.Errorf("%w: ranks, but this party is not aligning", ErrBadRequest), codeMap...)
	}
	rows := sess.keys.Len()
	want := rows
	if sess.diff != nil {
		want = len(sess.diff.added)
	}
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
			prevEpoch = m.PreviousEpoch
			ranks = make([]uint32, 0, want)
		}
		if len(ranks)+len(m.Ranks) > want {
			return rpc.ToStatus(fmt.Errorf("%w: more ranks than the %d rows this party aligns", ErrBadRequest, want), codeMap...)
		}
		ranks = append(ranks, m.Ranks...)
	}
	if _, err := wire.EpochNumber(st.ID); err != nil {
		return rpc.ToStatus(fmt.Errorf("%w: %v", ErrBadRequest, err), codeMap...)
	}
	if sess.epoch != st.ID {
		return rpc.ToStatus(fmt.Errorf("%w: ranks for epoch %q, which this party is not aligning", ErrBadRequest, st.ID), codeMap...)
	}
	if len(ranks) != want {
		return rpc.ToStatus(fmt.Errorf("%w: %d ranks for %d rows", ErrBadRequest, len(ranks), want), codeMap...)
	}
	var key *align.Key // the new lineage's key, for a full alignment
	var added, removed int
	if sess.diff == nil {
		if prevEpoch != "" {
			return rpc.ToStatus(fmt.Errorf("%w: ranks extend epoch %q, but this party is running a full alignment", ErrBadRequest, prevEpoch), codeMap...)
		}
		if err := checkRanks(ranks, st.Entities); err != nil {
			return rpc.ToStatus(fmt.Errorf("%w: %v", ErrBadRequest, err), codeMap...)
		}
		key, st.Lineage, added = sess.key.Clone(), st.ID, rows
	} else {
		if prevEpoch != sess.prev.state.ID {
			return rpc.ToStatus(fmt.Errorf("%w: ranks extend epoch %q, but this party's incremental epoch extends %q", ErrBadRequest, prevEpoch, sess.prev.state.ID), codeMap...)
		}
		if err := align.CheckAddedRanks(ranks, sess.diff.keptRanks(), sess.prev.state.Entities, st.Entities); err != nil {
			return rpc.ToStatus(fmt.Errorf("%w: %v", ErrBadRequest, err), codeMap...)
		}
		ranks = sess.diff.merge(ranks)
		st.Lineage, st.Previous, st.LineageKeyHash = sess.prev.state.Lineage, prevEpoch, sess.prev.state.LineageKeyHash
		added, removed = len(sess.diff.added), sess.diff.removed
	}
	// One commit per session, and only while it is the current one: a
	// second stream of ranks, or ranks for a session another epoch
	// replaced, would overwrite the alignment (and drop the previous one
	// that queries in flight use).
	s.mu.Lock()
	stale := s.aligning != sess || sess.ranked
	sess.ranked = true
	s.mu.Unlock()
	if stale {
		return rpc.ToStatus(fmt.Errorf("%w: ranks for epoch %s, whose alignment session was replaced or already received its ranks", ErrBadRequest, st.ID), codeMap...)
	}
	if err := s.store.saveAlignment(&st, ranks, sess.keys.IDs, key); err != nil {
		return rpc.ToStatus(err)
	}
	s.mu.Lock()
	s.previous, s.aligned = s.aligned, &alignment{state: st, ranks: ranks, keys: sess.keys}
	if key != nil {
		if s.lineage != nil {
			s.lineage.Erase()
		}
		s.lineage = key
	}
	cur := s.rows
	s.pendingAdded, s.pendingRemoved = 0, 0
	s.syncHealthLocked()
	if s.aligning == sess {
		sess.retire()
		s.aligning = nil
	}
	s.mu.Unlock()
	if cur != sess.keys {
		// The source changed while aligning: count what the next epoch takes.
		if _, _, err := s.checkKeys(stream.Context()); err != nil {
			s.log.Warn().Err(err).Msg("cannot read the table's keys after the epoch")
		}
	}
	s.log.Info().Str("epoch", st.ID).Str("previous", st.Previous).Uint64("entities", st.Entities).Int("added", added).Int("removed", removed).Msg("records aligned")
	return stream.SendAndClose(&pb.AlignRanksReply{Rows: uint64(rows), Added: uint64(added), Removed: uint64(removed)})
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

// retire erases the session's key (its own copy for an incremental epoch
// and for the lineage a full alignment starts) once no blinding uses it
// any more.
func (a *alignSession) retire() {
	go func() {
		a.inUse.Wait()
		a.key.Erase()
	}()
}
