package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpcq/mpcq/ledger"
	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/checkpoint"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/internal/ledgertest"
	"github.com/mpcq/mpcq/ledger/internal/testlog"
	"github.com/mpcq/mpcq/ledger/witness"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestAppendVerifyRoundTrip(t *testing.T) {
	d := testlog.New(t, 3)
	ctx := timeout(t, 30*time.Second)
	const n = 6
	var cps []ledger.Checkpoint
	var lat []time.Duration
	for i := range n {
		start := time.Now()
		idx, cp, err := d.Log.Append(ctx, testlog.Entry(t, i))
		lat = append(lat, time.Since(start))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		if idx != uint64(i) || cp.Size <= idx {
			t.Fatalf("Append %d = index %d in checkpoint size %d", i, idx, cp.Size)
		}
		// The returned checkpoint carries the log signature and every cosignature.
		if _, err := checkpoint.Parse(cp.Raw, testlog.Origin, d.Keys.Log.Verifier, d.Keys.Verifiers()...); err != nil {
			t.Fatalf("Append %d returned a checkpoint that is not fully cosigned: %v", i, err)
		}
		cps = append(cps, cp)
	}
	slices.Sort(lat)
	t.Logf("sequential Append latency: min %v, median %v, max %v", lat[0], lat[len(lat)/2], lat[len(lat)-1])
	if lat[len(lat)/2] > time.Second {
		t.Errorf("median Append latency %v; the target is 0.5 s", lat[len(lat)/2])
	}

	final, err := d.Log.Checkpoint(ctx)
	if err != nil || final.Size != n {
		t.Fatalf("Checkpoint = size %d, %v; want %d", final.Size, err, n)
	}
	for i := range n {
		got, err := d.Log.ReadEntry(ctx, uint64(i))
		if err != nil || !bytes.Equal(got, testlog.Entry(t, i)) {
			t.Fatalf("ReadEntry(%d) = %x, %v", i, got, err)
		}
		p, err := d.Log.InclusionProof(ctx, uint64(i), final.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), final.Size, rfc6962.DefaultHasher.HashLeaf(got), p, final.Root); err != nil {
			t.Fatalf("inclusion proof for %d: %v", i, err)
		}
	}
	for _, cp := range cps {
		p, err := d.Log.ConsistencyProof(ctx, cp.Size, final.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, cp.Size, final.Size, p, cp.Root, final.Root); err != nil {
			t.Fatalf("consistency %d→%d: %v", cp.Size, final.Size, err)
		}
	}
	if _, err := d.Log.ReadEntry(ctx, n); !errors.Is(err, ledger.ErrBeyondCheckpoint) {
		t.Fatalf("ReadEntry beyond size: %v", err)
	}
	if _, err := d.Log.InclusionProof(ctx, 0, n+1); !errors.Is(err, ledger.ErrBeyondCheckpoint) {
		t.Fatalf("InclusionProof beyond size: %v", err)
	}

	// Every party's witness state is the final checkpoint.
	for _, w := range d.Witnesses {
		if st := w.State(); st.Size != final.Size || !bytes.Equal(st.Root, final.Root) {
			t.Fatalf("witness %s at size %d, log at %d", w.Name(), st.Size, final.Size)
		}
	}

	// A receipt for the QUERY at index 2 verifies offline and names it.
	r, err := d.Log.Receipt(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := audit.CheckReceipt(r, d.Keys.Log.Verifier, d.Keys.Verifiers())
	if err != nil {
		t.Fatalf("CheckReceipt: %v", err)
	}
	if q, ok := got.Entry.(entry.Query); !ok || q.QueryID != "q-2" || got.Index != 2 {
		t.Fatalf("receipt proves %#v at %d", got.Entry, got.Index)
	}

	rep, err := audit.Verify(ctx, audit.DirFetcher(d.Dir), d.Keys.Log.Verifier, d.Keys.Verifiers(), testlog.Origin)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	if rep.Size != n || rep.Counts[entry.TypeQuery] != 2 || rep.Counts[entry.TypeResult] != 2 || len(rep.OpenQueries) != 0 ||
		len(rep.Cosignatures) != 3 || len(rep.Warnings) != 0 {
		t.Fatalf("audit report = %+v", rep)
	}
}

func TestAppendConcurrent(t *testing.T) {
	d := testlog.New(t, 3)
	ctx := timeout(t, 30*time.Second)
	const n = 300
	idx := make([]uint64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { idx[i], _, errs[i] = d.Log.Append(ctx, testlog.QueryEntry(t, i)) })
	}
	wg.Wait()
	seen := make(map[uint64]int)
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Append %d: %v", i, errs[i])
		}
		if j, dup := seen[idx[i]]; dup {
			t.Fatalf("entries %d and %d both at index %d", i, j, idx[i])
		}
		seen[idx[i]] = i
		got, err := d.Log.ReadEntry(ctx, idx[i])
		if err != nil || !bytes.Equal(got, testlog.QueryEntry(t, i)) {
			t.Fatalf("entry %d at index %d reads back %x, %v", i, idx[i], got, err)
		}
	}
	rep, err := audit.Verify(ctx, audit.DirFetcher(d.Dir), d.Keys.Log.Verifier, d.Keys.Verifiers(), testlog.Origin)
	if err != nil || rep.Size != n || len(rep.OpenQueries) != n {
		t.Fatalf("audit = %+v, %v", rep, err)
	}
}

func TestAppendRejectsInvalidEntry(t *testing.T) {
	d := testlog.New(t, 1)
	ctx := timeout(t, 10*time.Second)
	for _, bad := range [][]byte{nil, []byte("hello"), append(testlog.Entry(t, 0), 0)} {
		if _, _, err := d.Log.Append(ctx, bad); !errors.Is(err, ledger.ErrInvalidEntry) {
			t.Fatalf("Append(%q) = %v, want ErrInvalidEntry", bad, err)
		}
	}
	cp, err := d.Log.Checkpoint(ctx)
	if err != nil || cp.Size != 0 {
		t.Fatalf("log grew on invalid entries: %d, %v", cp.Size, err)
	}
}

// gated is a cosigner that refuses while closed is set.
type gated struct {
	ledger.Cosigner
	closed atomic.Bool
}

func (g *gated) AddCheckpoint(ctx context.Context, old uint64, p [][]byte, cp []byte) ([]byte, error) {
	if g.closed.Load() {
		return nil, errors.New("party offline for maintenance")
	}
	return g.Cosigner.AddCheckpoint(ctx, old, p, cp)
}

func TestPublicationNeedsEveryCosignature(t *testing.T) {
	keys := testlog.NewKeys(t, 3)
	dir, stateDir := filepath.Join(t.TempDir(), "log"), t.TempDir()
	ws := testlog.Witnesses(t, keys, stateDir)
	g := &gated{Cosigner: ledger.LocalCosigner(ws[2])}
	cs := []ledger.Cosigner{ledger.LocalCosigner(ws[0]), ledger.LocalCosigner(ws[1]), g}
	l, shutdown, err := ledger.Open(timeout(t, 10*time.Second), testlog.Config(keys, dir, cs))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = shutdown(timeout(t, 30*time.Second)) }()

	ctx := timeout(t, 30*time.Second)
	if _, _, err := l.Append(ctx, testlog.Entry(t, 0)); err != nil {
		t.Fatal(err)
	}
	g.closed.Store(true)
	short, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	idx, _, err := l.Append(short, testlog.Entry(t, 1))
	if !errors.Is(err, ledger.ErrNotPublished) || !strings.Contains(err.Error(), "party-2") ||
		!strings.Contains(err.Error(), "offline for maintenance") {
		t.Fatalf("Append with a refusing party = %v; want ErrNotPublished naming party-2 and its reason", err)
	}
	if idx != 1 {
		t.Fatalf("sequenced index = %d, want 1", idx)
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil || cp.Size != 1 {
		t.Fatalf("published size = %d, %v; want 1 (nothing published without party-2)", cp.Size, err)
	}
	// The other parties may have cosigned the larger checkpoint: that is
	// harmless, and the log recovers via their 409 answers.
	g.closed.Store(false)
	idx2, cp, err := l.Append(ctx, testlog.Entry(t, 2))
	if err != nil || idx2 != 2 || cp.Size != 3 {
		t.Fatalf("Append after party returns = %d, size %d, %v", idx2, cp.Size, err)
	}
}

func TestWitnessesRefuseResetLog(t *testing.T) {
	keys := testlog.NewKeys(t, 2)
	stateDir := t.TempDir()
	d := testlog.Open(t, keys, filepath.Join(t.TempDir(), "log"), stateDir)
	ctx := timeout(t, 30*time.Second)
	for i := range 3 {
		if _, _, err := d.Log.Append(ctx, testlog.Entry(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The coordinator starts over in an empty directory with the same key:
	// the parties refuse the empty checkpoint as a rollback.
	var cs []ledger.Cosigner
	for _, w := range testlog.Witnesses(t, keys, stateDir) {
		cs = append(cs, ledger.LocalCosigner(w))
	}
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	cfg := testlog.Config(keys, filepath.Join(t.TempDir(), "fresh"), cs)
	cfg.WitnessTimeout = time.Second
	_, shutdown, err := ledger.Open(short, cfg)
	if err == nil {
		_ = shutdown(ctx)
		t.Fatal("a reset log was cosigned")
	}
	if !strings.Contains(err.Error(), witness.ErrRollback.Error()) {
		t.Fatalf("Open error %v does not report the rollback", err)
	}
}

func TestReopenContinues(t *testing.T) {
	keys := testlog.NewKeys(t, 2)
	dir, stateDir := filepath.Join(t.TempDir(), "log"), t.TempDir()
	ctx := timeout(t, 30*time.Second)
	d := testlog.Open(t, keys, dir, stateDir)
	_, first, err := d.Log.Append(ctx, testlog.Entry(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Log.Append(ctx, testlog.Entry(t, 1)); !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("Append after shutdown = %v, want ErrClosed", err)
	}
	d = testlog.Open(t, keys, dir, stateDir)
	idx, cp, err := d.Log.Append(ctx, testlog.Entry(t, 1))
	if err != nil || idx != 1 {
		t.Fatalf("Append after reopen = %d, %v", idx, err)
	}
	p, err := d.Log.ConsistencyProof(ctx, first.Size, cp.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, first.Size, cp.Size, p, first.Root, cp.Root); err != nil {
		t.Fatalf("history before and after reopen inconsistent: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	keys := testlog.NewKeys(t, 2)
	other := ledgertest.NewLogKey(t, testlog.Origin)
	ws := testlog.Witnesses(t, keys, t.TempDir())
	c0, c1 := ledger.LocalCosigner(ws[0]), ledger.LocalCosigner(ws[1])
	logNamed := ledgertest.NewCosignerKey(t, testlog.Origin)
	base := func() ledger.Config { return testlog.Config(keys, t.TempDir(), []ledger.Cosigner{c0, c1}) }
	tests := []struct {
		name string
		mut  func(*ledger.Config)
	}{
		{"no dir", func(c *ledger.Config) { c.Dir = "" }},
		{"origin not key name", func(c *ledger.Config) { c.Origin = "other" }},
		{"no signer", func(c *ledger.Config) { c.Signer = nil }},
		{"verifier of another key", func(c *ledger.Config) { c.Verifier = other.Verifier }},
		{"no cosigners", func(c *ledger.Config) { c.Cosigners = nil }},
		{"duplicate cosigner", func(c *ledger.Config) { c.Cosigners = []ledger.Cosigner{c0, c0} }},
		{"cosigner with log key name", func(c *ledger.Config) {
			c.Cosigners = []ledger.Cosigner{fakeCosigner{name: "x", v: logNamed.Verifier}}
		}},
		{"checkpoint interval too small", func(c *ledger.Config) { c.CheckpointInterval = 10 * time.Millisecond }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mut(&c)
			if err := c.Validate(); err == nil {
				t.Fatal("Validate accepted an invalid config")
			}
		})
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
}

type fakeCosigner struct {
	name string
	v    note.Verifier
}

func (f fakeCosigner) Name() string            { return f.name }
func (f fakeCosigner) Verifier() note.Verifier { return f.v }
func (f fakeCosigner) AddCheckpoint(context.Context, uint64, [][]byte, []byte) ([]byte, error) {
	return nil, errors.New("fake")
}

// TestLatencyFigures logs single-appender latency percentiles (the target
// is 0.5 s); the figures in the package report come from BenchmarkAppend.
func TestLatencyFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("latency sampling takes a few seconds")
	}
	d := testlog.New(t, 3)
	ctx := timeout(t, 60*time.Second)
	var lat []time.Duration
	for i := range 20 {
		start := time.Now()
		if _, _, err := d.Log.Append(ctx, testlog.QueryEntry(t, i)); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("Append latency over %d sequential appends, 3 parties: p50 %v p90 %v max %v",
		len(lat), lat[len(lat)/2], lat[len(lat)*9/10], lat[len(lat)-1])
	if p90 := lat[len(lat)*9/10]; p90 > 500*time.Millisecond {
		t.Errorf("p90 latency %v above 0.5 s", p90)
	}
}
