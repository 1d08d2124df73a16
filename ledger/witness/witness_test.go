package witness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mpcq/mpcq/ledger/checkpoint"
	"github.com/mpcq/mpcq/ledger/internal/ledgertest"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

const origin = "ledger.test/log"

// fixture is a log key, a party key and a reference tree to make
// checkpoints and proofs from.
type fixture struct {
	log   ledgertest.LogKey
	party ledgertest.CosignerKey
	tree  *testonly.Tree
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{
		log:   ledgertest.NewLogKey(t, origin),
		party: ledgertest.NewCosignerKey(t, "party-a"),
		tree:  testonly.New(rfc6962.DefaultHasher),
	}
	for i := range 20 {
		f.tree.AppendData(fmt.Appendf(nil, "entry %d", i))
	}
	return f
}

// cp returns the log-signed checkpoint of the first size entries.
func (f *fixture) cp(t testing.TB, size uint64) []byte {
	return ledgertest.Sign(t, f.log, size, f.tree.HashAt(size))
}

func (f *fixture) proof(t testing.TB, from, to uint64) [][]byte {
	if from == 0 {
		return nil
	}
	p, err := f.tree.ConsistencyProof(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) witness(t testing.TB, store Store) *Witness {
	w, err := New(Config{Origin: origin, LogVerifier: f.log.Verifier, Signer: f.party.Signer, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// add sends (old, proof old→size, checkpoint size) and checks a returned
// cosignature verifies on the checkpoint.
func (f *fixture) add(t testing.TB, w *Witness, old, size uint64) error {
	t.Helper()
	raw := f.cp(t, size)
	sig, err := w.AddCheckpoint(old, f.proof(t, old, size), raw)
	if err != nil {
		return err
	}
	cosigned := append(bytes.Clone(raw), sig...)
	if _, err := checkpoint.Parse(cosigned, origin, f.log.Verifier, w.Verifier()); err != nil {
		t.Fatalf("returned cosignature does not verify: %v", err)
	}
	if st := w.State(); st.Size != size || !bytes.Equal(st.Root, f.tree.HashAt(size)) {
		t.Fatalf("state after add = size %d, want %d", st.Size, size)
	}
	return nil
}

func TestAddCheckpointSequence(t *testing.T) {
	f := newFixture(t)
	w := f.witness(t, &MemoryStore{})
	steps := []struct{ old, size uint64 }{
		{0, 0}, {0, 0}, {0, 1}, {1, 5}, {5, 8}, {8, 8}, {8, 16}, {16, 20},
	}
	for _, s := range steps {
		if err := f.add(t, w, s.old, s.size); err != nil {
			t.Fatalf("add(old %d, size %d): %v", s.old, s.size, err)
		}
	}
	// First checkpoint of a fresh witness may be non-empty.
	w2 := f.witness(t, &MemoryStore{})
	if err := f.add(t, w2, 0, 13); err != nil {
		t.Fatalf("first checkpoint at size 13: %v", err)
	}
}

func TestAddCheckpointRefuses(t *testing.T) {
	f := newFixture(t)
	forkTree := testonly.New(rfc6962.DefaultHasher)
	for i := range 20 {
		forkTree.AppendData(fmt.Appendf(nil, "forked entry %d", i))
	}
	other := ledgertest.NewLogKey(t, "other.test/log")
	impostor := ledgertest.NewLogKey(t, origin)

	type req struct {
		old   uint64
		proof [][]byte
		raw   []byte
	}
	tests := []struct {
		name string
		req  func() req
		want error
	}{
		{"rollback", func() req { return req{8, nil, f.cp(t, 5)} }, ErrRollback},
		{"rollback claiming its own size", func() req { return req{5, nil, f.cp(t, 5)} }, ErrRollback},
		{"stale old size", func() req { return req{5, f.proof(t, 5, 12), f.cp(t, 12)} }, ErrConflict},
		{"old size ahead", func() req { return req{10, f.proof(t, 10, 12), f.cp(t, 12)} }, ErrConflict},
		{"fork at same size", func() req { return req{8, nil, ledgertest.Sign(t, f.log, 8, forkTree.HashAt(8))} }, ErrFork},
		{"fork at larger size", func() req {
			p, _ := forkTree.ConsistencyProof(8, 12)
			return req{8, p, ledgertest.Sign(t, f.log, 12, forkTree.HashAt(12))}
		}, ErrBadProof},
		{"missing proof", func() req { return req{8, nil, f.cp(t, 12)} }, ErrBadProof},
		{"truncated proof", func() req { return req{8, f.proof(t, 8, 12)[1:], f.cp(t, 12)} }, ErrBadProof},
		{"proof with same size", func() req { return req{8, f.proof(t, 5, 8), f.cp(t, 8)} }, ErrBadProof},
		{"other origin", func() req { return req{8, f.proof(t, 8, 12), ledgertest.Sign(t, other, 12, f.tree.HashAt(12))} }, ErrBadSignature},
		{"forged log key", func() req { return req{8, f.proof(t, 8, 12), ledgertest.Sign(t, impostor, 12, f.tree.HashAt(12))} }, ErrBadSignature},
		{"garbage", func() req { return req{8, nil, []byte("not a checkpoint")} }, ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := f.witness(t, &MemoryStore{})
			if err := f.add(t, w, 0, 8); err != nil {
				t.Fatal(err)
			}
			before := w.State()
			r := tc.req()
			sig, err := w.AddCheckpoint(r.old, r.proof, r.raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("AddCheckpoint error = %v, want %v", err, tc.want)
			}
			if sig != nil {
				t.Fatal("cosignature returned with an error")
			}
			if after := w.State(); after.Size != before.Size || !bytes.Equal(after.Checkpoint, before.Checkpoint) {
				t.Fatal("state changed on a refused checkpoint")
			}
		})
	}

	t.Run("conflict carries the stored size", func(t *testing.T) {
		w := f.witness(t, &MemoryStore{})
		if err := f.add(t, w, 0, 8); err != nil {
			t.Fatal(err)
		}
		_, err := w.AddCheckpoint(3, nil, f.cp(t, 12))
		var ce *ConflictError
		if !errors.As(err, &ce) || ce.Size != 8 || ce.Got != 3 {
			t.Fatalf("error = %v, want *ConflictError{Size: 8, Got: 3}", err)
		}
		// Retrying as tlog-witness clients do succeeds.
		if err := f.add(t, w, ce.Size, 12); err != nil {
			t.Fatalf("retry with stored size: %v", err)
		}
	})
}

func TestFileStoreSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "witness.json")
	w := f.witness(t, NewFileStore(path))
	if err := f.add(t, w, 0, 8); err != nil {
		t.Fatal(err)
	}
	w2 := f.witness(t, NewFileStore(path))
	if st := w2.State(); st.Size != 8 || !bytes.Equal(st.Root, f.tree.HashAt(8)) {
		t.Fatalf("reopened state = %+v", st)
	}
	// The restarted witness remembers: rollback and stale old size refused,
	// consistent growth accepted.
	if _, err := w2.AddCheckpoint(0, nil, f.cp(t, 5)); !errors.Is(err, ErrRollback) {
		t.Fatalf("rollback after restart: %v", err)
	}
	if _, err := w2.AddCheckpoint(0, nil, f.cp(t, 12)); !errors.Is(err, ErrConflict) {
		t.Fatalf("old size 0 after restart: %v", err)
	}
	if err := f.add(t, w2, 8, 12); err != nil {
		t.Fatalf("growth after restart: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("state directory has %d files, want only the state file (temporary files left behind?)", len(entries))
	}
}

func TestNewRefusesBadState(t *testing.T) {
	f := newFixture(t)
	otherParty := ledgertest.NewCosignerKey(t, "party-b")
	good := &MemoryStore{}
	w := f.witness(t, good)
	if err := f.add(t, w, 0, 8); err != nil {
		t.Fatal(err)
	}
	st, _ := good.Load()
	notOurs := ledgertest.Sign(t, f.log, 8, f.tree.HashAt(8), otherParty.Signer)

	tests := []struct {
		name string
		st   State
	}{
		{"size without checkpoint", State{Size: 3}},
		{"size mismatch", State{Size: 9, Root: st.Root, Checkpoint: st.Checkpoint}},
		{"root mismatch", State{Size: 8, Root: f.tree.HashAt(7), Checkpoint: st.Checkpoint}},
		{"checkpoint cosigned by someone else", State{Size: 8, Root: st.Root, Checkpoint: notOurs}},
		{"garbage checkpoint", State{Size: 8, Root: st.Root, Checkpoint: []byte("x")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &MemoryStore{}
			_ = s.Save(tc.st)
			_, err := New(Config{Origin: origin, LogVerifier: f.log.Verifier, Signer: f.party.Signer, Store: s})
			if !errors.Is(err, ErrStore) {
				t.Fatalf("New error = %v, want ErrStore", err)
			}
		})
	}
}

func TestFileStoreDecode(t *testing.T) {
	tests := []struct {
		name string
		file string
		ok   bool
	}{
		{"valid", `{"version":1,"size":0,"root":null,"checkpoint":""}`, true},
		{"unknown field", `{"version":1,"size":0,"extra":1}`, false},
		{"wrong version", `{"version":2,"size":0}`, false},
		{"trailing", `{"version":1,"size":0} {}`, false},
		{"not json", `size=3`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "w.json")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := NewFileStore(path).Load()
			if tc.ok != (err == nil) {
				t.Fatalf("Load = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

type failingStore struct{ MemoryStore }

func (*failingStore) Save(State) error { return errors.New("disk full") }

func TestSaveFailureMeansNoCosignature(t *testing.T) {
	f := newFixture(t)
	w := f.witness(t, &failingStore{})
	sig, err := w.AddCheckpoint(0, nil, f.cp(t, 4))
	if !errors.Is(err, ErrStore) || sig != nil {
		t.Fatalf("AddCheckpoint = %q, %v; want no signature and ErrStore", sig, err)
	}
	if w.State().Size != 0 {
		t.Fatal("in-memory state advanced although Save failed")
	}
}

func TestConfigValidate(t *testing.T) {
	f := newFixture(t)
	logAsParty := ledgertest.NewCosignerKey(t, origin)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no origin", Config{LogVerifier: f.log.Verifier, Signer: f.party.Signer, Store: &MemoryStore{}}},
		{"origin not key name", Config{Origin: "x", LogVerifier: f.log.Verifier, Signer: f.party.Signer, Store: &MemoryStore{}}},
		{"no verifier", Config{Origin: origin, Signer: f.party.Signer, Store: &MemoryStore{}}},
		{"no signer", Config{Origin: origin, LogVerifier: f.log.Verifier, Store: &MemoryStore{}}},
		{"no store", Config{Origin: origin, LogVerifier: f.log.Verifier, Signer: f.party.Signer}},
		{"party named like log", Config{Origin: origin, LogVerifier: f.log.Verifier, Signer: logAsParty.Signer, Store: &MemoryStore{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestVerifyIncluded(t *testing.T) {
	f := newFixture(t)
	other := ledgertest.NewCosignerKey(t, "party-b")
	w := f.witness(t, &MemoryStore{})
	var cosigned5, cosigned8 []byte
	for _, s := range []struct{ old, size uint64 }{{0, 5}, {5, 8}} {
		raw := f.cp(t, s.size)
		sig, err := w.AddCheckpoint(s.old, f.proof(t, s.old, s.size), raw)
		if err != nil {
			t.Fatal(err)
		}
		c := append(bytes.Clone(raw), sig...)
		if s.size == 5 {
			cosigned5 = c
		} else {
			cosigned8 = c
		}
	}
	entry := func(i int) []byte { return fmt.Appendf(nil, "entry %d", i) }
	incl := func(i, size uint64) [][]byte {
		p, err := f.tree.InclusionProof(i, size)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	notOurs := ledgertest.Sign(t, f.log, 8, f.tree.HashAt(8), other.Signer)
	beyond := ledgertest.Sign(t, f.log, 12, f.tree.HashAt(12), f.party.Signer)
	forkRoot := rfc6962.DefaultHasher.HashLeaf([]byte("fork"))
	forked := ledgertest.Sign(t, f.log, 8, forkRoot, f.party.Signer)

	tests := []struct {
		name  string
		entry []byte
		index uint64
		proof [][]byte
		cp    []byte
		want  error
	}{
		{"included in last cosigned", entry(3), 3, incl(3, 8), cosigned8, nil},
		{"included in earlier cosigned", entry(4), 4, incl(4, 5), cosigned5, nil},
		{"last entry", entry(7), 7, incl(7, 8), cosigned8, nil},
		{"other entry bytes", entry(4), 3, incl(3, 8), cosigned8, ErrNotIncluded},
		{"wrong index", entry(3), 2, incl(3, 8), cosigned8, ErrNotIncluded},
		{"index beyond size", entry(9), 9, incl(3, 8), cosigned8, ErrNotIncluded},
		{"proof for other size", entry(3), 3, incl(3, 5), cosigned8, ErrNotIncluded},
		{"no cosignature by this party", entry(3), 3, incl(3, 8), notOurs, ErrNotCosigned},
		{"log-signed only", entry(3), 3, incl(3, 8), f.cp(t, 8), ErrNotCosigned},
		{"beyond witnessed size", entry(3), 3, incl(3, 12), beyond, ErrNotCosigned},
		{"forked root at witnessed size", entry(3), 3, incl(3, 8), forked, ErrFork},
		{"garbage checkpoint", entry(3), 3, incl(3, 8), []byte("x"), ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := w.VerifyIncluded(tc.entry, tc.index, tc.proof, tc.cp)
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyIncluded = %v, want %v", err, tc.want)
			}
		})
	}
	var nilV note.Verifier
	if err := VerifyIncluded(entry(3), 3, incl(3, 8), cosigned8, f.log.Verifier, nilV, w.State()); err == nil {
		t.Fatal("nil own verifier accepted")
	}
}
