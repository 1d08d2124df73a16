package coordinator

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestEpochChange: what the set-up loop runs for the parties' statuses.
func TestEpochChange(t *testing.T) {
	e := &epochState{ID: "e-1", Entities: 100, Lineage: "e-1", UnionFileHash: []byte{1}}
	st := func(epoch string, entities, added, removed uint64, lineage bool) *pb.PartyStatus {
		return &pb.PartyStatus{EpochId: epoch, Entities: entities, PendingAdded: added, PendingRemoved: removed, Lineage: lineage}
	}
	steady := map[string]*pb.PartyStatus{"bank": st("e-1", 100, 0, 0, true), "telecom": st("e-1", 100, 0, 0, true)}
	changed := map[string]*pb.PartyStatus{"bank": st("e-1", 100, 3, 1, true), "telecom": st("e-1", 100, 0, 0, true)}
	for _, c := range []struct {
		name     string
		sts      map[string]*pb.PartyStatus
		epoch    *epochState
		compact  bool
		failures int
		want     int
	}{
		{"no epoch yet", steady, nil, false, 0, epochFull},
		{"steady", steady, e, false, 0, epochKeep},
		{"a party in another epoch", map[string]*pb.PartyStatus{"bank": st("e-2", 100, 0, 0, true)}, e, false, 0, epochFull},
		{"a party with another union size", map[string]*pb.PartyStatus{"bank": st("e-1", 99, 0, 0, true)}, e, false, 0, epochFull},
		{"people changed", changed, e, false, 0, epochIncremental},
		{"a party without its lineage key", map[string]*pb.PartyStatus{"bank": st("e-1", 100, 3, 1, true), "telecom": st("e-1", 100, 0, 0, false)}, e, false, 0, epochFull},
		{"state without a union file", changed, &epochState{ID: "e-1", Entities: 100, Lineage: "e-1"}, false, 0, epochFull},
		{"removals beyond the compaction fraction", changed, &epochState{ID: "e-1", Entities: 100, Lineage: "e-1", UnionFileHash: []byte{1}, Removed: 21}, false, 0, epochFull},
		{"removals within it", changed, &epochState{ID: "e-1", Entities: 100, Lineage: "e-1", UnionFileHash: []byte{1}, Removed: 20}, false, 0, epochIncremental},
		{"compaction requested", steady, e, true, 0, epochFull},
		{"incremental epochs keep failing", changed, e, false, maxIncrementalFailures, epochFull},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &Server{cfg: &Config{CompactEmptyFraction: 0.2}, log: zerolog.Nop(), incrementalFailures: c.failures}
			if c.compact {
				s.RequestCompaction()
			}
			if got := s.epochChange(c.sts, c.epoch); got != c.want {
				t.Fatalf("epochChange = %d, want %d", got, c.want)
			}
		})
	}
}

// TestUnionSlots: a full alignment's union in slot order, looked up and
// extended.
func TestUnionSlots(t *testing.T) {
	p := func(b byte) []byte { e := make([]byte, 32); e[0] = b; return e }
	sets := map[string][][]byte{"bank": {p(9), p(2)}, "telecom": {p(2), p(5)}}
	ranks := map[string][]uint32{"bank": {2, 0}, "telecom": {0, 1}}
	u := unionFromRanks(3, sets, ranks)
	for slot, b := range []byte{2, 5, 9} {
		if got, ok := u.lookup([32]byte(p(b))); !ok || got != uint32(slot) {
			t.Fatalf("pseudonym %d at slot %d (%v), want %d", b, got, ok, slot)
		}
	}
	// An extension whose epoch could not be saved is taken back from the
	// shared index: the union in use keeps its pseudonyms, and the new one
	// names no slot beyond it.
	next := &unionSlots{elems: u.elems, index: u.index}
	next.extend([][32]byte{[32]byte(p(7))})
	next.forget([][32]byte{[32]byte(p(7))})
	if _, ok := u.lookup([32]byte(p(7))); ok {
		t.Fatal("a forgotten pseudonym is still in the union's index")
	}
	if got, ok := u.lookup([32]byte(p(5))); !ok || got != 1 {
		t.Fatalf("forget took a kept pseudonym: slot %d %v", got, ok)
	}
	u.extend([][32]byte{[32]byte(p(1))})
	if got, ok := u.lookup([32]byte(p(1))); !ok || got != 3 || len(u.bytes()) != 4*32 {
		t.Fatalf("extended: slot %d %v, %d bytes", got, ok, len(u.bytes()))
	}
}

// TestUnionFile: the union is saved with the epoch and read back by a
// restarted coordinator; a union.bin that does not match its epoch is
// refused.
func TestUnionFile(t *testing.T) {
	dir := t.TempDir()
	s := &Server{cfg: &Config{DataDir: dir}, log: zerolog.Nop()}
	u := &unionSlots{elems: [][32]byte{{1}, {2}, {3}}}
	es := &epochState{ID: "e-1", Entities: 3, Lineage: "e-1"}
	if err := s.saveEpoch(es, u); err != nil {
		t.Fatal(err)
	}
	restarted := &Server{cfg: &Config{DataDir: dir}, log: zerolog.Nop()}
	got, err := restarted.loadUnion(es)
	if err != nil || got == nil || len(got.elems) != 3 || got.elems[2] != [32]byte{3} {
		t.Fatalf("reloaded union %v: %v", got, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, unionFile))
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 1
	if err := os.WriteFile(filepath.Join(dir, unionFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	again := &Server{cfg: &Config{DataDir: dir}, log: zerolog.Nop()}
	if _, err := again.loadUnion(es); err == nil {
		t.Fatal("a union.bin that does not match its epoch was read")
	}
}
