package coordinator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/mpc/align"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// unionSlots is a lineage's union: the pseudonym of every slot, in slot
// order, and (built on first use) the slot of every pseudonym.
type unionSlots struct {
	elems [][align.ElementSize]byte
	index map[[align.ElementSize]byte]uint32
}

// unionFromRanks lays the pseudonyms of a full alignment out in slot order.
func unionFromRanks(size int, sets map[string][][]byte, ranks map[string][]uint32) *unionSlots {
	u := &unionSlots{elems: make([][align.ElementSize]byte, size)}
	for p, r := range ranks {
		for i, slot := range r {
			u.elems[slot] = [align.ElementSize]byte(sets[p][i])
		}
	}
	return u
}

func (u *unionSlots) lookup(k [align.ElementSize]byte) (uint32, bool) {
	if u.index == nil {
		u.index = make(map[[align.ElementSize]byte]uint32, len(u.elems))
		for i, e := range u.elems {
			u.index[e] = uint32(i)
		}
	}
	slot, ok := u.index[k]
	return slot, ok
}

func (u *unionSlots) extend(added [][align.ElementSize]byte) {
	for _, k := range added {
		if u.index != nil {
			u.index[k] = uint32(len(u.elems))
		}
		u.elems = append(u.elems, k)
	}
}

// forget removes pseudonyms extend added from the index (their slots
// stay in elems, beyond the length of the union that shares the index).
func (u *unionSlots) forget(added [][align.ElementSize]byte) {
	for _, k := range added {
		delete(u.index, k)
	}
}

func (u *unionSlots) bytes() []byte {
	b := make([]byte, 0, len(u.elems)*align.ElementSize)
	for _, e := range u.elems {
		b = append(b, e[:]...)
	}
	return b
}

// saveEpoch writes the lineage's union, then the epoch naming its hash,
// and makes the epoch current.
func (s *Server) saveEpoch(es *epochState, u *unionSlots) error {
	b := u.bytes()
	h := sha256.Sum256(b)
	es.UnionFileHash = h[:]
	if err := pki.WritePrivate(s.path(unionFile), b); err != nil {
		return err
	}
	if err := s.writeJSON(epochFile, es); err != nil {
		return err
	}
	s.mu.Lock()
	s.epoch, s.union = es, u
	s.mu.Unlock()
	return nil
}

// loadUnion returns the union of the epoch's lineage, reading union.bin
// when it is not in memory; nil when the state has none that matches.
func (s *Server) loadUnion(es *epochState) (*unionSlots, error) {
	s.mu.Lock()
	u := s.union
	s.mu.Unlock()
	if u != nil && uint64(len(u.elems)) == es.Entities {
		return u, nil
	}
	if es.UnionFileHash == nil {
		return nil, nil
	}
	b, err := os.ReadFile(s.path(unionFile))
	if err != nil {
		return nil, err
	}
	if h := sha256.Sum256(b); !bytes.Equal(h[:], es.UnionFileHash) || uint64(len(b)) != es.Entities*align.ElementSize {
		return nil, fmt.Errorf("%s does not match %s (interrupted write?)", unionFile, epochFile)
	}
	u = &unionSlots{elems: make([][align.ElementSize]byte, es.Entities)}
	for i := range u.elems {
		u.elems[i] = [align.ElementSize]byte(b[i*align.ElementSize:])
	}
	s.mu.Lock()
	s.union = u
	s.mu.Unlock()
	return u, nil
}

// Epoch changes the set-up loop can decide on.
const (
	epochKeep        = iota // nothing changed
	epochIncremental        // parties added or removed people: extend the lineage
	epochFull               // no epoch, a mismatch, or compaction: realign everyone
)

// epochChange decides, from the parties' statuses, what the current epoch
// e needs. Pure but for the compaction request it reads.
func (s *Server) epochChange(sts map[string]*pb.PartyStatus, e *epochState) int {
	if e == nil {
		return epochFull
	}
	pending := false
	lineage := e.Lineage != "" && e.UnionFileHash != nil
	for _, st := range sts {
		if st.EpochId != e.ID || st.Entities != e.Entities {
			return epochFull
		}
		pending = pending || st.PendingAdded+st.PendingRemoved > 0
		lineage = lineage && st.Lineage
	}
	if s.compact.Load() {
		return epochFull
	}
	if !pending {
		return epochKeep
	}
	if !lineage || s.incrementalFailures >= maxIncrementalFailures ||
		float64(e.Removed) > s.cfg.CompactEmptyFraction*float64(e.Entities) {
		return epochFull
	}
	return epochIncremental
}

// maxIncrementalFailures incremental epochs in a row fail before the
// set-up loop falls back to a full alignment.
const maxIncrementalFailures = 3

// RequestCompaction makes the next set-up round run a full re-alignment
// (a new lineage, the parties' lineage keys replaced), whatever changed.
// coordinatord calls it on SIGUSR1.
func (s *Server) RequestCompaction() {
	s.compact.Store(true)
	s.log.Info().Msg("compaction requested: the next epoch is a full alignment")
}

// runIncremental runs an incremental epoch on prev: every party blinds,
// with its lineage key, the ids it added since prev; the lists pass
// through the other parties as in a full alignment; each new pseudonym
// takes its slot in the lineage's union, or a new slot after it; each
// party stores its added rows' slots and drops its removed rows. The
// coordinator learns the sizes of the change and which new pseudonyms
// are already in the union, no more.
func (s *Server) runIncremental(ctx context.Context, prev *epochState) error {
	start := time.Now()
	u, err := s.loadUnion(prev)
	if err != nil || u == nil {
		return fmt.Errorf("the union of epoch %s: %w", prev.ID, err)
	}
	epoch := newID("e-")
	s.log.Info().Str("epoch", epoch).Str("previous", prev.ID).Msg("incremental epoch started")
	sets, err := s.blindLists(ctx, epoch, prev.ID, nil)
	if err != nil {
		return err
	}
	var prevHash [32]byte
	copy(prevHash[:], prev.UnionHash)
	ranks, added, union, unionHash, err := align.Extend(u.lookup, prev.Entities, prevHash, sets)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrParty, err)
	}
	replies, err := s.sendRanks(ctx, epoch, prev.ID, union, unionHash, ranks)
	if err != nil {
		return err
	}
	sizes := map[string]uint64{}
	var changes []entry.PartyChange
	removed := prev.Removed
	for _, p := range s.cfg.PartyNames() {
		r := replies[p]
		if r == nil || r.Added != uint64(len(sets[p])) || r.Rows+r.Removed != prev.Sizes[p]+r.Added {
			return fmt.Errorf("%w: party %s reports %d rows, %d added and %d removed after %d rows and a list of %d",
				ErrParty, p, r.GetRows(), r.GetAdded(), r.GetRemoved(), prev.Sizes[p], len(sets[p]))
		}
		sizes[p] = r.Rows
		changes = append(changes, entry.PartyChange{Party: p, Added: r.Added, Removed: r.Removed})
		removed += r.Removed
	}
	epochNum, err := wire.EpochNumber(epoch)
	if err != nil {
		return err
	}
	prevNum, err := wire.EpochNumber(prev.ID)
	if err != nil {
		return err
	}
	e := entry.Epoch{EpochID: epochNum, UnionSize: union, UnionHash: unionHash, SetSizes: sortedSizes(sizes), Previous: prevNum, Changes: changes}
	if _, _, _, err := s.appendEntry(ctx, e); err != nil {
		return err
	}
	next := &unionSlots{elems: u.elems, index: u.index}
	next.extend(added)
	es := &epochState{ID: epoch, Entities: union, UnionHash: unionHash[:], Sizes: sizes, Lineage: prev.Lineage, Previous: prev.ID, Removed: removed}
	if err := s.saveEpoch(es, next); err != nil {
		// The index is shared with the union in use: take the new
		// pseudonyms out again, so that it names no slot beyond it.
		next.forget(added)
		return err
	}
	s.log.Info().Str("epoch", epoch).Str("previous", prev.ID).Uint64("entities", union).Int("new_slots", len(added)).
		Float64("elapsed_s", time.Since(start).Seconds()).Msg("incremental epoch finished")
	return nil
}
