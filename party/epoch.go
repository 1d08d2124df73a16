package party

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mpcq/mpcq/internal/source"
	"github.com/mpcq/mpcq/internal/table"
	"github.com/mpcq/mpcq/mpc/align"
)

// keyDiff is how a source's current keys differ from the keys an epoch
// aligned: kept[i] is the slot of current row i when the epoch aligned
// that key, added lists the current rows it did not, and removed counts
// the aligned keys the source no longer holds.
type keyDiff struct {
	kept    []uint32
	isKept  []bool
	added   []int
	removed int
}

// diffKeys compares cur with the keys an epoch aligned (old, with their
// slots oldRanks). Pure.
func diffKeys(old *source.Keys, oldRanks []uint32, cur *source.Keys) keyDiff {
	d := keyDiff{kept: make([]uint32, cur.Len()), isKept: make([]bool, cur.Len())}
	n := 0
	for i, id := range cur.IDs {
		if j, ok := old.Position(id); ok {
			d.kept[i], d.isKept[i] = oldRanks[j], true
			n++
		} else {
			d.added = append(d.added, i)
		}
	}
	d.removed = old.Len() - n
	return d
}

// keptRanks lists the slots the party keeps.
func (d keyDiff) keptRanks() []uint32 {
	out := make([]uint32, 0, len(d.kept)-len(d.added))
	for i, r := range d.kept {
		if d.isKept[i] {
			out = append(out, r)
		}
	}
	return out
}

// merge returns the ranks of every current row: kept rows' slots and,
// in the order of d.added, the added rows' slots.
func (d keyDiff) merge(added []uint32) []uint32 {
	out := make([]uint32, len(d.kept))
	copy(out, d.kept)
	for k, i := range d.added {
		out[i] = added[k]
	}
	return out
}

// alignmentFor returns the alignment of an epoch: the current one, or the
// one it replaced, which queries started before an epoch change finish on.
func (s *Server) alignmentFor(epoch string) *alignment {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aligned != nil && s.aligned.state.ID == epoch {
		return s.aligned
	}
	if s.previous != nil && s.previous.state.ID == epoch {
		return s.previous
	}
	return s.aligned
}

// Reload re-reads the party's rows: for a CSV source the file, replaced
// atomically (a bad file leaves the old rows in place and the error names
// the file and line); for a database source the current keys. Then it
// counts the keys added and removed since the epoch, which Status
// reports for the coordinator to run an incremental epoch. Values-only
// changes need no epoch: the next query reads them.
func (s *Server) Reload(ctx context.Context) error {
	start := time.Now()
	if mem, ok := s.src.(*source.Memory); ok && s.cfg.CSV != "" {
		d, err := table.LoadFile(s.cfg.CSV, s.table)
		if err != nil {
			s.log.Error().Err(err).Msg("reload refused; the rows loaded before stay in use")
			return err
		}
		if err := mem.Replace(d); err != nil {
			s.log.Error().Err(err).Msg("reload refused; the rows loaded before stay in use")
			return err
		}
	}
	added, removed, err := s.checkKeys(ctx)
	if err != nil {
		s.log.Error().Err(err).Msg("cannot read the table's keys")
		return err
	}
	s.log.Info().Int("pending_added", added).Int("pending_removed", removed).Float64("elapsed_s", since(start)).Msg("table reloaded")
	return nil
}

// checkKeys reads the source's keys and counts how they differ from the
// current epoch's.
func (s *Server) checkKeys(ctx context.Context) (added, removed int, err error) {
	cur, err := s.src.Keys(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("party %s: %w", s.name, err)
	}
	s.mu.Lock()
	a := s.aligned
	s.rows = cur
	s.mu.Unlock()
	if a != nil && a.keys != cur {
		d := diffKeys(a.keys, a.ranks, cur)
		added, removed = len(d.added), d.removed
	}
	s.mu.Lock()
	if s.aligned == a {
		s.pendingAdded, s.pendingRemoved = added, removed
	}
	s.mu.Unlock()
	return added, removed, nil
}

// watchKeys checks a database source's keys every interval until ctx is
// done, so that inserted and deleted people start an incremental epoch.
func (s *Server) watchKeys(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout())
			added, removed, err := s.checkKeys(cctx)
			cancel()
			if err != nil {
				s.log.Warn().Err(err).Msg("keys check failed; retrying at the next interval")
			} else if added+removed > 0 {
				s.log.Info().Int("pending_added", added).Int("pending_removed", removed).Msg("keys changed; waiting for an incremental epoch")
			}
		}
	}
}

// loadLineage restores a saved alignment that keeps its aligned keys
// (aligned.ids) and its lineage key: the alignment stands on those keys
// whatever the source holds now, and the difference is pending for the
// next incremental epoch. It reports false, nil for state written before
// aligned.ids existed (the caller checks it against the source as then).
func (s *Server) loadLineage(es epochState, ranks []uint32) (bool, error) {
	ids, err := s.store.readIDs(es.IDsHash)
	if err != nil {
		s.log.Warn().Err(err).Msg("saved alignment unusable; waiting for a new epoch")
		return true, nil
	}
	if ids == nil {
		return false, nil
	}
	if len(ranks) != len(ids) || es.Rows != len(ids) || checkRanks(ranks, es.Entities) != nil {
		s.log.Warn().Int("ranks", len(ranks)).Int("rows", len(ids)).Msg("saved alignment is inconsistent; waiting for a new epoch")
		return true, nil
	}
	keys := source.NewKeys(ids)
	if es.KeysHash != nil && bytes.Equal(es.KeysHash, s.rows.Hash()) {
		keys = s.rows // the source holds the aligned keys: read it directly
	}
	a := &alignment{state: es, ranks: ranks, keys: keys}
	if es.Lineage != "" {
		s.lineage, err = s.store.readLineageKey(es.LineageKeyHash)
		if errors.Is(err, align.ErrBadKey) {
			// A key this version cannot use (a ristretto255 key from before
			// the X25519 blinding): keep the alignment for queries and report
			// no lineage key, so the coordinator's next epoch is a full one.
			s.log.Warn().Err(err).Msg("lineage key unusable; the next epoch will be a full alignment")
			s.lineage, err = nil, nil
		}
		if err != nil {
			return true, err
		}
	}
	s.aligned = a
	if keys != s.rows {
		d := diffKeys(keys, ranks, s.rows)
		s.pendingAdded, s.pendingRemoved = len(d.added), d.removed
	}
	s.log.Info().Str("epoch", es.ID).Uint64("entities", es.Entities).Bool("lineage", s.lineage != nil).
		Int("pending_added", s.pendingAdded).Int("pending_removed", s.pendingRemoved).Msg("alignment loaded")
	return true, nil
}

// previousEpoch is the epoch the current alignment replaced, "" if none.
func (s *Server) previousEpoch() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.previous == nil {
		return ""
	}
	return s.previous.state.ID
}
