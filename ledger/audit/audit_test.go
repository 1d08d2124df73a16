package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/internal/testlog"
	"github.com/transparency-dev/tessera/api/layout"
)

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// buildLog writes a 300-entry log (a CEREMONY, an EPOCH, 298 QUERYs), so it
// has a full and a partial entry bundle, level-0 tiles of both kinds and a
// level-1 tile, shuts it down and returns it.
func buildLog(t *testing.T) *testlog.Deployment {
	t.Helper()
	d := testlog.New(t, 3)
	ctx := timeout(t, 60*time.Second)
	for i := range 2 {
		if _, _, err := d.Log.Append(ctx, testlog.Entry(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for i := 2; i < 300; i++ {
		wg.Go(func() {
			if _, _, err := d.Log.Append(ctx, testlog.QueryEntry(t, i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func flip(offset func(size int) int) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[offset(len(b))] ^= 0x01
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	d := buildLog(t)
	ctx := timeout(t, 60*time.Second)
	const size = 300

	rep, err := audit.Verify(ctx, audit.DirFetcher(d.Dir), d.Keys.Log.Verifier, d.Keys.Verifiers(), testlog.Origin)
	if err != nil {
		t.Fatalf("untampered log: %v", err)
	}
	if rep.Size != size || rep.Counts[entry.TypeQuery] != size-2 || len(rep.OpenQueries) != size-2 || len(rep.Cosignatures) != 3 {
		t.Fatalf("report = %+v", rep)
	}
	last := func(n int) int { return n - 1 }
	node := func(i int) func(int) int { return func(int) int { return 32*i + 7 } }

	tests := []struct {
		name     string
		file     string
		tamper   func(t *testing.T, path string)
		want     error
		wantPath string
		wantIdx  int // -1: no index
	}{
		{"entry in full bundle", "tile/entries/000", flip(last), audit.ErrCorrupt, "tile/entries/000", 255},
		{"entry in partial bundle", "tile/entries/001.p/44", flip(last), audit.ErrCorrupt, "tile/entries/001.p/44", 299},
		{"bundle length prefix", "tile/entries/000", flip(func(int) int { return 0 }), audit.ErrCorrupt, "tile/entries/000", -1},
		{"truncated bundle", "tile/entries/001.p/44", truncate, audit.ErrCorrupt, "tile/entries/001.p/44", -1},
		{"full level-0 tile", "tile/0/000", flip(node(5)), audit.ErrCorrupt, "tile/0/000", 5},
		{"partial level-0 tile", "tile/0/001.p/44", flip(node(10)), audit.ErrCorrupt, "tile/0/001.p/44", 266},
		{"level-1 tile", "tile/1/000.p/1", flip(node(0)), audit.ErrCorrupt, "tile/1/000.p/1", 0},
		{"truncated tile", "tile/0/000", truncate, audit.ErrCorrupt, "tile/0/000", -1},
		{"missing tile", "tile/0/001.p/44", remove, audit.ErrMissing, "tile/0/001.p/44", -1},
		{"missing bundle", "tile/entries/000", remove, audit.ErrMissing, "tile/entries/000", -1},
		{"checkpoint root", "checkpoint", flip(func(int) int { return len(testlog.Origin) + 6 }), audit.ErrCheckpoint, "checkpoint", -1},
		{"checkpoint signature", "checkpoint", flip(func(n int) int { return n - 10 }), audit.ErrCheckpoint, "checkpoint", -1},
		{"checkpoint lacks a cosignature", "checkpoint", dropLastLine, audit.ErrCheckpoint, "checkpoint", -1},
		{"checkpoint missing", "checkpoint", remove, audit.ErrCheckpoint, "checkpoint", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, d.Dir)
			tc.tamper(t, filepath.Join(dir, tc.file))
			_, err := audit.Verify(ctx, audit.DirFetcher(dir), d.Keys.Log.Verifier, d.Keys.Verifiers(), testlog.Origin)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			var ae *audit.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *audit.Error", err)
			}
			if ae.Path != tc.wantPath {
				t.Fatalf("error names %q, want %q: %v", ae.Path, tc.wantPath, err)
			}
			if tc.wantIdx >= 0 && (!ae.HasIndex || ae.Index != uint64(tc.wantIdx)) {
				t.Fatalf("error names index %d (has %v), want %d: %v", ae.Index, ae.HasIndex, tc.wantIdx, err)
			}
			if !strings.Contains(err.Error(), tc.wantPath) {
				t.Fatalf("message %q does not name %s", err, tc.wantPath)
			}
			t.Logf("%v", err)
		})
	}

	t.Run("missing cosigner key", func(t *testing.T) {
		extra := testlog.NewKeys(t, 1).Parties[0].Verifier
		_, err := audit.Verify(ctx, audit.DirFetcher(d.Dir), d.Keys.Log.Verifier, append(d.Keys.Verifiers(), extra), testlog.Origin)
		if !errors.Is(err, audit.ErrCheckpoint) || !strings.Contains(err.Error(), extra.Name()) {
			t.Fatalf("Verify requiring an absent cosigner = %v", err)
		}
	})

	t.Run("receipts", func(t *testing.T) {
		for _, i := range []uint64{0, 5, 255, 256, 299} {
			r, err := audit.Receipt(ctx, audit.DirFetcher(d.Dir), d.Keys.Log.Verifier, d.Keys.Verifiers(), testlog.Origin, i)
			if err != nil {
				t.Fatalf("Receipt(%d): %v", i, err)
			}
			got, err := audit.CheckReceipt(r, d.Keys.Log.Verifier, d.Keys.Verifiers())
			if err != nil || got.Index != i || got.Checkpoint.Size != size {
				t.Fatalf("CheckReceipt(%d) = %+v, %v", i, got, err)
			}
		}
		if _, err := audit.Receipt(ctx, audit.DirFetcher(d.Dir), d.Keys.Log.Verifier, d.Keys.Verifiers(), testlog.Origin, size); err == nil {
			t.Fatal("receipt for an index beyond the log")
		}
	})
}

func truncate(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b[:len(b)-1], 0o644); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func dropLastLine(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndexByte(b[:len(b)-1], '\n')
	if err := os.WriteFile(path, b[:i+1], 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReceiptTampering(t *testing.T) {
	d := testlog.New(t, 2)
	ctx := timeout(t, 30*time.Second)
	for i := range 4 {
		if _, _, err := d.Log.Append(ctx, testlog.Entry(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := d.Log.Receipt(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	other, err := d.Log.Receipt(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(r), "\n")
	otherLines := strings.Split(string(other), "\n")
	tests := []struct {
		name string
		raw  string
	}{
		{"other index", strings.Replace(string(r), "\nindex 2\n", "\nindex 1\n", 1)},
		{"entry of another receipt", strings.Join(append([]string{lines[0], otherLines[1]}, lines[2:]...), "\n")},
		{"trailing junk", string(r) + "x\n"},
		{"no extra", strings.Join(append([]string{lines[0]}, lines[2:]...), "\n")},
		{"missing cosignature", string(r[:bytes.LastIndexByte(r[:len(r)-1], '\n')+1])},
		{"garbage", "hello"},
		{"empty", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := audit.CheckReceipt([]byte(tc.raw), d.Keys.Log.Verifier, d.Keys.Verifiers()); !errors.Is(err, audit.ErrReceipt) {
				t.Fatalf("CheckReceipt = %v, want ErrReceipt", err)
			}
		})
	}
	if _, err := audit.CheckReceipt(r, d.Keys.Log.Verifier, d.Keys.Verifiers()); err != nil {
		t.Fatalf("genuine receipt: %v", err)
	}
	if _, err := audit.CheckReceipt(r, testlog.NewKeys(t, 0).Log.Verifier, nil); !errors.Is(err, audit.ErrReceipt) {
		t.Fatalf("receipt accepted under another log key: %v", err)
	}
}

// appendAll appends entries in order and shuts the log down.
func appendAll(t *testing.T, es ...entry.Entry) *testlog.Deployment {
	t.Helper()
	d := testlog.New(t, 1)
	ctx := timeout(t, 30*time.Second)
	for _, e := range es {
		b, err := entry.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.Log.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestVerifyOrderRules(t *testing.T) {
	cer := entry.Ceremony{ParamSet: "test-params"}
	ep := entry.Epoch{EpochID: 1}
	q := testlog.Query(2)
	res := entry.Result{QueryID: q.QueryID, Parties: []string{"party-0"}}
	// An incremental epoch (1, the queries') extends a full one (3): party-0 added 4
	// and removed 1, party-1 added 2 of whom 1 matched party-0's people.
	full := entry.Epoch{EpochID: 3, UnionSize: 100, SetSizes: []entry.PartySize{{Party: "party-0", Size: 60}, {Party: "party-1", Size: 50}}}
	inc := entry.Epoch{EpochID: 1, Previous: 3, UnionSize: 105,
		SetSizes: []entry.PartySize{{Party: "party-0", Size: 63}, {Party: "party-1", Size: 52}},
		Changes:  []entry.PartyChange{{Party: "party-0", Added: 4, Removed: 1}, {Party: "party-1", Added: 2}}}
	badSize := inc
	badSize.SetSizes = []entry.PartySize{{Party: "party-0", Size: 64}, {Party: "party-1", Size: 52}}
	badUnion := inc
	badUnion.UnionSize = 107
	shrunk := inc
	shrunk.UnionSize = 99
	otherParties := inc
	otherParties.SetSizes = []entry.PartySize{{Party: "party-0", Size: 63}, {Party: "party-2", Size: 52}}
	otherParties.Changes = []entry.PartyChange{{Party: "party-0", Added: 4, Removed: 1}, {Party: "party-2", Added: 2}}
	tests := []struct {
		name     string
		entries  []entry.Entry
		want     error
		wantIdx  uint64
		warnings int
		open     int
	}{
		{"valid", []entry.Entry{cer, ep, q, res}, nil, 0, 0, 0},
		{"query still open", []entry.Entry{cer, ep, q}, nil, 0, 0, 1},
		{"failure closes query", []entry.Entry{cer, ep, q, entry.Failure{QueryID: q.QueryID, Reason: "timeout"}}, nil, 0, 0, 0},
		{"result before query", []entry.Entry{cer, ep, res, q}, audit.ErrOrder, 2, 0, 0},
		{"result without query", []entry.Entry{cer, res}, audit.ErrOrder, 1, 0, 0},
		{"second result", []entry.Entry{cer, ep, q, res, res}, audit.ErrOrder, 4, 0, 0},
		{"reused query ID", []entry.Entry{cer, ep, q, q}, audit.ErrOrder, 3, 0, 0},
		{"query without epoch or ceremony", []entry.Entry{q, res}, nil, 0, 2, 0},
		{"failure for unlogged query", []entry.Entry{entry.Failure{QueryID: "nope", Reason: "refused"}}, nil, 0, 1, 0},
		{"incremental epoch", []entry.Entry{cer, full, inc, q, res}, nil, 0, 0, 0},
		{"incremental epoch before its previous", []entry.Entry{cer, inc, full}, audit.ErrOrder, 1, 0, 0},
		{"incremental epoch with sizes that do not add up", []entry.Entry{cer, full, badSize}, audit.ErrOrder, 2, 0, 0},
		{"incremental epoch whose union grew more than added", []entry.Entry{cer, full, badUnion}, audit.ErrOrder, 2, 0, 0},
		{"incremental epoch whose union shrank", []entry.Entry{cer, full, shrunk}, audit.ErrOrder, 2, 0, 0},
		{"incremental epoch with other parties", []entry.Entry{cer, full, otherParties}, audit.ErrOrder, 2, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := appendAll(t, tc.entries...)
			rep, err := audit.Verify(timeout(t, 10*time.Second), audit.DirFetcher(d.Dir), d.Keys.Log.Verifier, d.Keys.Verifiers(), testlog.Origin)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if err != nil {
				var ae *audit.Error
				if !errors.As(err, &ae) || !ae.HasIndex || ae.Index != tc.wantIdx {
					t.Fatalf("error %v does not name index %d", err, tc.wantIdx)
				}
				return
			}
			if len(rep.Warnings) != tc.warnings || len(rep.OpenQueries) != tc.open {
				t.Fatalf("report warnings %q, open %v; want %d warnings, %d open", rep.Warnings, rep.OpenQueries, tc.warnings, tc.open)
			}
		})
	}
}

func TestVerifyOpenings(t *testing.T) {
	type query struct {
		id, text, purpose, basis string
	}
	qs := []query{
		{"q-a", "SELECT count(*) FROM bank WHERE amount > 10000", "fraud ring 2024-17", "Art. 6(1)(e) GDPR"},
		{"q-b", "SELECT sum(minutes) FROM telecom", "missing person 2024-3", "Police Act s.12"},
	}
	records := make(map[string]archive.Record)
	es := []entry.Entry{entry.Ceremony{ParamSet: "p"}, entry.Epoch{EpochID: 1}}
	for i, q := range qs {
		to, err := entry.NewOpening(rand.Reader, []byte(q.text))
		if err != nil {
			t.Fatal(err)
		}
		pd, err := entry.PurposeData(q.purpose, q.basis)
		if err != nil {
			t.Fatal(err)
		}
		po, err := entry.NewOpening(rand.Reader, pd)
		if err != nil {
			t.Fatal(err)
		}
		records[q.id] = archive.Record{QueryID: q.id, QueryText: to, Purpose: po}
		es = append(es, entry.Query{QueryID: q.id, QueryCommitment: to.Commitment(), Analyst: "CN=a", PurposeCommitment: po.Commitment(),
			EpochID: 1, ParamSet: "p", Time: int64(i)})
	}
	d := appendAll(t, es...)
	ctx := timeout(t, 10*time.Second)

	open := func(t *testing.T, recs ...archive.Record) *archive.Archive {
		a, err := archive.Open(filepath.Join(t.TempDir(), "openings.db"), 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close() })
		for _, r := range recs {
			if err := a.Put(r.QueryID, r); err != nil {
				t.Fatal(err)
			}
		}
		return a
	}
	wrongText := records["q-b"]
	wrongText.QueryText.Data = []byte("SELECT sum(minutes) FROM telecom WHERE 1=1")
	wrongPurpose := records["q-b"]
	pd, _ := entry.PurposeData("curiosity", "none")
	wrongPurpose.Purpose.Data = pd

	tests := []struct {
		name    string
		recs    []archive.Record
		wantErr bool
		wantIdx uint64
	}{
		{"all openings", []archive.Record{records["q-a"], records["q-b"]}, false, 0},
		{"missing opening", []archive.Record{records["q-a"]}, true, 3},
		{"wrong query text", []archive.Record{records["q-a"], wrongText}, true, 3},
		{"wrong purpose", []archive.Record{records["q-a"], wrongPurpose}, true, 3},
		{"empty archive", nil, true, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := open(t, tc.recs...)
			rep, err := audit.Verify(ctx, audit.DirFetcher(d.Dir), d.Keys.Log.Verifier, d.Keys.Verifiers(), testlog.Origin, audit.WithOpenings(a))
			if !tc.wantErr {
				if err != nil || rep.OpeningsChecked != 2 {
					t.Fatalf("Verify = %+v, %v", rep, err)
				}
				return
			}
			var ae *audit.Error
			if !errors.Is(err, audit.ErrOpening) || !errors.As(err, &ae) || ae.Index != tc.wantIdx {
				t.Fatalf("Verify = %v; want ErrOpening at entry %d", err, tc.wantIdx)
			}
		})
	}
	// Without an archive, openings are not checked.
	if rep, err := audit.Verify(ctx, audit.DirFetcher(d.Dir), d.Keys.Log.Verifier, d.Keys.Verifiers(), testlog.Origin); err != nil || rep.OpeningsChecked != 0 {
		t.Fatalf("Verify without archive = %+v, %v", rep, err)
	}
}

func TestEmptyLogVerifies(t *testing.T) {
	d := testlog.New(t, 2)
	rep, err := audit.Verify(timeout(t, 10*time.Second), audit.DirFetcher(d.Dir), d.Keys.Log.Verifier, d.Keys.Verifiers(), testlog.Origin)
	if err != nil || rep.Size != 0 {
		t.Fatalf("empty log: %+v, %v", rep, err)
	}
}

func TestDirFetcherStaysInside(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "outside"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fetch := audit.DirFetcher(dir)
	if _, err := fetch("../outside"); err == nil {
		t.Fatal("DirFetcher read outside its directory")
	}
	if _, err := fetch(layout.CheckpointPath); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file error %v does not wrap fs.ErrNotExist", err)
	}
}
