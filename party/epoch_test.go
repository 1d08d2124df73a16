package party

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/metrics"
	"github.com/mpcq/mpcq/internal/source"
	"github.com/mpcq/mpcq/internal/table"
	"github.com/mpcq/mpcq/mpc/align"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
)

func TestDiffKeys(t *testing.T) {
	for _, c := range []struct {
		name    string
		old     []string
		ranks   []uint32
		cur     []string
		added   []int
		removed int
		merged  []uint32 // with the added rows given 100, 101, ...
	}{
		{"unchanged", []string{"a", "b"}, []uint32{4, 1}, []string{"a", "b"}, nil, 0, []uint32{4, 1}},
		{"reordered", []string{"a", "b"}, []uint32{4, 1}, []string{"b", "a"}, nil, 0, []uint32{1, 4}},
		{"added and removed", []string{"a", "b", "c"}, []uint32{4, 1, 7}, []string{"c", "x", "a", "y"}, []int{1, 3}, 1, []uint32{7, 100, 4, 101}},
		{"all removed", []string{"a"}, []uint32{0}, nil, nil, 1, []uint32{}},
		{"all new", nil, nil, []string{"x"}, []int{0}, 0, []uint32{100}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := diffKeys(source.NewKeys(c.old), c.ranks, source.NewKeys(c.cur))
			if !slices.Equal(d.added, c.added) || d.removed != c.removed {
				t.Fatalf("added %v removed %d, want %v %d", d.added, d.removed, c.added, c.removed)
			}
			var extra []uint32
			for i := range d.added {
				extra = append(extra, uint32(100+i))
			}
			if got := d.merge(extra); !slices.Equal(got, c.merged) {
				t.Fatalf("merged %v, want %v", got, c.merged)
			}
			if len(d.keptRanks()) != len(c.cur)-len(c.added) {
				t.Fatalf("kept ranks %v", d.keptRanks())
			}
		})
	}
}

// ranksStream is the receiving end of an AlignRanks call.
type ranksStream struct {
	grpc.ServerStream
	msgs  []*pb.RanksChunk
	reply *pb.AlignRanksReply
	atEOF func() // if set, runs once when the messages run out
}

func (r *ranksStream) Recv() (*pb.RanksChunk, error) {
	if len(r.msgs) == 0 {
		if r.atEOF != nil {
			r.atEOF()
			r.atEOF = nil
		}
		return nil, io.EOF
	}
	m := r.msgs[0]
	r.msgs = r.msgs[1:]
	return m, nil
}

func (r *ranksStream) SendAndClose(m *pb.AlignRanksReply) error { r.reply = m; return nil }
func (r *ranksStream) Context() context.Context                 { return context.Background() }

// incrementalParty is a party aligned in epoch e-1 (keys a b c at slots
// 0 2 5 of 6) whose source now holds b c x y, in an incremental epoch
// e-2 on e-1: it kept slots 2 and 5 and waits for the slots of x and y.
func incrementalParty(t *testing.T) *Server {
	t.Helper()
	key, err := align.NewKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{log: zerolog.Nop(), store: store{t.TempDir()}, name: "bank", lineage: key}
	s.aligned = &alignment{state: epochState{ID: "e-1", Entities: 6, Lineage: "e-1"}, ranks: []uint32{0, 2, 5}, keys: source.NewKeys([]string{"a", "b", "c"})}
	cur := source.NewKeys([]string{"b", "c", "x", "y"})
	s.rows = cur
	d := diffKeys(s.aligned.keys, s.aligned.ranks, cur)
	s.aligning = &alignSession{epoch: "e-2", key: key.Clone(), keys: cur, prev: s.aligned, diff: &d, blinded: map[string]bool{}}
	return s
}

// TestAlignRanksIncremental: a coordinator's ranks for the added rows are
// stored with the kept slots; ranks that collide with a kept slot, fall
// outside the union, are for another epoch, extend another epoch or come
// as a full alignment's are refused and change nothing.
func TestAlignRanksIncremental(t *testing.T) {
	first := func(epoch, prev string, entities uint64, ranks ...uint32) []*pb.RanksChunk {
		return []*pb.RanksChunk{{EpochId: epoch, Entities: entities, UnionHash: make([]byte, 32), PreviousEpoch: prev, Ranks: ranks}}
	}
	for _, c := range []struct {
		name string
		msgs []*pb.RanksChunk
	}{
		{"collides with a kept slot", first("e-2", "e-1", 7, 5, 6)},
		{"out of range", first("e-2", "e-1", 7, 6, 7)},
		{"two rows one slot", first("e-2", "e-1", 7, 6, 6)},
		{"union shrank", first("e-2", "e-1", 5, 1, 3)},
		{"unknown epoch", first("e-3", "e-1", 8, 6, 7)},
		{"extends another epoch", first("e-2", "e-9", 8, 6, 7)},
		{"as a full alignment", first("e-2", "", 8, 6, 7)},
		{"ranks for every row", first("e-2", "e-1", 8, 2, 5, 6, 7)},
		{"too few ranks", first("e-2", "e-1", 8, 6)},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := incrementalParty(t)
			old := s.aligned
			err := s.AlignRanks(&ranksStream{msgs: c.msgs})
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("AlignRanks = %v, want InvalidArgument", err)
			}
			if s.aligned != old || s.aligning == nil {
				t.Fatal("a refused epoch changed the party's alignment")
			}
		})
	}
	s := incrementalParty(t)
	st := &ranksStream{msgs: first("e-2", "e-1", 8, 1, 7)} // x is known elsewhere at slot 1, y is new
	if err := s.AlignRanks(st); err != nil {
		t.Fatal(err)
	}
	if got := s.aligned.ranks; !slices.Equal(got, []uint32{2, 5, 1, 7}) || s.aligned.state.ID != "e-2" || s.aligned.state.Previous != "e-1" {
		t.Fatalf("stored %v in %+v", got, s.aligned.state)
	}
	if st.reply.Rows != 4 || st.reply.Added != 2 || st.reply.Removed != 1 {
		t.Fatalf("reply %+v", st.reply)
	}
	if s.alignmentFor("e-1") == nil || s.alignmentFor("e-1").state.ID != "e-1" {
		t.Fatal("the previous alignment is gone: queries in flight on it would fail")
	}
	// The stored state reloads with its keys and lineage.
	es, ranks, ok, err := s.store.loadAlignment()
	if err != nil || !ok || !slices.Equal(ranks, []uint32{2, 5, 1, 7}) {
		t.Fatalf("reload: %v %v %v", ok, err, ranks)
	}
	ids, err := s.store.readIDs(es.IDsHash)
	if err != nil || !slices.Equal(ids, []string{"b", "c", "x", "y"}) {
		t.Fatalf("aligned ids %v: %v", ids, err)
	}
}

// TestAlignRanksReplacedSession: ranks that finish arriving after another
// epoch replaced the session (a coordinator racing two epochs) are refused
// and change nothing: the alignment, and the previous one that queries in
// flight use, stay.
func TestAlignRanksReplacedSession(t *testing.T) {
	s := incrementalParty(t)
	old := s.aligned
	st := &ranksStream{msgs: []*pb.RanksChunk{{EpochId: "e-2", Entities: 8, UnionHash: make([]byte, 32), PreviousEpoch: "e-1", Ranks: []uint32{1, 7}}}}
	st.atEOF = func() {
		s.mu.Lock()
		s.aligning = &alignSession{epoch: "e-3", keys: s.aligning.keys, blinded: map[string]bool{}}
		s.mu.Unlock()
	}
	err := s.AlignRanks(st)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "replaced") {
		t.Fatalf("AlignRanks for a replaced session = %v, want InvalidArgument saying so", err)
	}
	if s.aligned != old {
		t.Fatal("ranks for a replaced session changed the alignment")
	}
}

// TestReloadCSV: a reload with a bad file names the file and the line,
// keeps the rows in use and logs no person key; a good file replaces
// them and counts the keys added and removed since the epoch.
func TestReloadCSV(t *testing.T) {
	tb := schema.Table{Name: "bank", Key: "person_id", Columns: []schema.Column{{Name: "balance", Kind: schema.KindInt, Min: 0, Max: 100}}}
	path := filepath.Join(t.TempDir(), "bank.csv")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("person_id,balance\nalice-secret,10\nbob-secret,20\n")
	d, err := table.LoadFile(path, tb)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	src := source.FromData(d)
	s := &Server{cfg: &Config{CSV: path}, log: zerolog.New(&logs), table: tb, src: src, name: "bank", store: store{t.TempDir()}}
	s.rows, _ = src.Keys(context.Background())
	s.aligned = &alignment{state: epochState{ID: "e-1", Entities: 2}, ranks: []uint32{0, 1}, keys: s.rows}

	write("person_id,balance\ncarol-secret,10\nalice-secret,1000\n")
	err = s.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("bad file: %v, want an error naming %s and line 3", err, path)
	}
	if k, _ := src.Keys(context.Background()); !slices.Equal(k.IDs, []string{"alice-secret", "bob-secret"}) {
		t.Fatalf("a bad file replaced the rows: %v", k.IDs)
	}
	write("person_id,balance\ncarol-secret,10\nalice-secret,11\ndave-secret,12\n")
	if err := s.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.pendingAdded != 2 || s.pendingRemoved != 1 {
		t.Fatalf("pending %d added, %d removed; want 2 and 1", s.pendingAdded, s.pendingRemoved)
	}
	if strings.Contains(logs.String(), "secret") {
		t.Fatalf("a person key in the log:\n%s", logs.String())
	}
}

// FuzzReadIDs: aligned.ids, whatever its bytes, reads back to keys that
// encode to the same bytes, or fails cleanly.
func FuzzReadIDs(f *testing.F) {
	f.Add(idsBytes([]string{"a", "bb", ""}))
	f.Add([]byte{0, 0, 0, 9, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		st := store{t.TempDir()}
		if err := os.WriteFile(st.path(idsFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		ids, err := st.readIDs(h[:])
		if err != nil {
			return
		}
		if !bytes.Equal(idsBytes(ids), b) {
			t.Fatalf("%x read as %q", b, ids)
		}
	})
}

// ownStream is the sending end of an AlignOwn call.
type ownStream struct {
	grpc.ServerStream
	sent []*pb.AlignChunk
}

func (o *ownStream) Send(m *pb.AlignChunk) error { o.sent = append(o.sent, m); return nil }
func (o *ownStream) Context() context.Context    { return context.Background() }

// TestAlignOwnIncremental: an incremental epoch on an epoch the party is
// not in, or without its lineage key, is refused (a full alignment is
// needed); on its epoch, the party blinds only the ids it added.
func TestAlignOwnIncremental(t *testing.T) {
	s := incrementalParty(t)
	s.aligning = nil
	pub, priv, _ := ed25519.GenerateKey(nil)
	s.priv, s.peers = priv, map[string]ed25519.PublicKey{"bank": pub}
	d, err := table.Load(strings.NewReader("person_id,balance\nb,1\nc,2\nx,3\ny,4\n"), schema.Table{Name: "bank", Key: "person_id", Columns: []schema.Column{{Name: "balance", Kind: schema.KindInt, Min: 0, Max: 9}}})
	if err != nil {
		t.Fatal(err)
	}
	s.src = source.FromData(d)
	if s.metrics, err = metrics.NewParty(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	for name, prev := range map[string]string{"another epoch": "e-9"} {
		err := s.AlignOwn(&pb.AlignOwnRequest{EpochId: "e-2", Parties: []string{"bank"}, PreviousEpoch: prev}, &ownStream{})
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("%s: %v, want FailedPrecondition", name, err)
		}
	}
	lk := s.lineage
	s.lineage = nil
	if err := s.AlignOwn(&pb.AlignOwnRequest{EpochId: "e-2", Parties: []string{"bank"}, PreviousEpoch: "e-1"}, &ownStream{}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("no lineage key: %v, want FailedPrecondition", err)
	}
	s.lineage = lk
	st := &ownStream{}
	if err := s.AlignOwn(&pb.AlignOwnRequest{EpochId: "e-2", Parties: []string{"bank"}, PreviousEpoch: "e-1"}, st); err != nil {
		t.Fatal(err)
	}
	// x and y, blinded with the lineage key.
	want, _ := align.BlindIDs(context.Background(), lk, []string{"x", "y"}, 1)
	if len(st.sent) != 1 || !bytes.Equal(st.sent[0].Elems, append(slices.Clone(want[0]), want[1]...)) {
		t.Fatalf("sent %d chunks, not the added ids blinded with the lineage key", len(st.sent))
	}
}

// TestOldLineageKeyFallsBack: a lineage key that the X25519 blinding cannot
// use (a 32-byte ristretto255 scalar written before it) does not stop the
// party: the alignment loads for queries, the party has no lineage key (its
// status says so, and the coordinator's next epoch is a full alignment), and
// an incremental epoch is refused. A current key on the same state loads.
func TestOldLineageKeyFallsBack(t *testing.T) {
	ids := []string{"a", "b", "c"}
	ranks := []uint32{0, 2, 5}
	setup := func(t *testing.T, kb []byte) (*Server, *bytes.Buffer, epochState) {
		t.Helper()
		var logs bytes.Buffer
		s := &Server{log: zerolog.New(&logs), store: store{t.TempDir()}, name: "bank", rows: source.NewKeys(ids)}
		es := epochState{ID: "e-1", Entities: 6, Rows: len(ids), Lineage: "e-1"}
		if err := s.store.saveAlignment(&es, ranks, ids, nil); err != nil {
			t.Fatal(err)
		}
		if err := pki.WritePrivate(s.store.path(lineageKeyFile), kb); err != nil {
			t.Fatal(err)
		}
		es.LineageKeyHash = lineageKeyHash(kb)
		if err := s.store.writeJSON(epochFile, es); err != nil {
			t.Fatal(err)
		}
		loaded, lranks, ok, err := s.store.loadAlignment()
		if err != nil || !ok || !slices.Equal(lranks, ranks) {
			t.Fatalf("loadAlignment: %v %v", ok, err)
		}
		return s, &logs, loaded
	}

	old := bytes.Repeat([]byte{0x11}, 32) // a canonical ristretto255 scalar
	s, logs, es := setup(t, old)
	ok, err := s.loadLineage(es, ranks)
	if !ok || err != nil {
		t.Fatalf("loadLineage with a v1 key = %v, %v; want the alignment loaded", ok, err)
	}
	if s.lineage != nil || s.aligned == nil || s.aligned.state.ID != "e-1" {
		t.Fatalf("lineage %v, aligned %v: want the alignment without a lineage key", s.lineage, s.aligned)
	}
	if !strings.Contains(logs.String(), "full alignment") || strings.Contains(logs.String(), fmt.Sprintf("%x", old)) {
		t.Fatalf("log does not say a full alignment follows, or prints the key:\n%s", logs.String())
	}
	if _, err := s.store.readLineageKey(es.LineageKeyHash); !errors.Is(err, align.ErrOldKey) {
		t.Fatalf("readLineageKey err = %v, want ErrOldKey", err)
	}

	k, err := align.NewKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := k.Encode()
	if err != nil {
		t.Fatal(err)
	}
	s, _, es = setup(t, kb)
	if ok, err := s.loadLineage(es, ranks); !ok || err != nil || s.lineage == nil {
		t.Fatalf("current key: %v, %v, lineage %v", ok, err, s.lineage)
	}
}
