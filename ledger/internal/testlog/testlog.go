// Package testlog opens real ledgers with in-process party witnesses for
// the ledger packages' tests and benchmarks. It is not for production use.
package testlog

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mpcq/mpcq/ledger"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/internal/ledgertest"
	"github.com/mpcq/mpcq/ledger/witness"
	"golang.org/x/mod/sumdb/note"
)

// Origin is the test log's origin (and key name).
const Origin = "mpcq.test/ledger"

// Keys are the log and party keys of a test deployment; reuse them to
// reopen the same log.
type Keys struct {
	Log     ledgertest.LogKey
	Parties []ledgertest.CosignerKey
}

// NewKeys makes a log key and n party keys.
func NewKeys(t testing.TB, n int) Keys {
	k := Keys{Log: ledgertest.NewLogKey(t, Origin)}
	for i := range n {
		k.Parties = append(k.Parties, ledgertest.NewCosignerKey(t, fmt.Sprintf("party-%d", i)))
	}
	return k
}

// Strings returns the key strings (log skey, log vkey, then each party's
// skey and vkey), to hand the keys to another process.
func (k Keys) Strings() []string {
	out := []string{k.Log.SKey, k.Log.VKey}
	for _, p := range k.Parties {
		out = append(out, p.SKey, p.VKey)
	}
	return out
}

// KeysFrom is the inverse of Keys.Strings.
func KeysFrom(t testing.TB, s []string) Keys {
	if len(s) < 2 || len(s)%2 != 0 {
		t.Fatalf("key strings: %d values", len(s))
	}
	k := Keys{Log: ledgertest.LogKeyFrom(t, s[0], s[1])}
	for i := 2; i < len(s); i += 2 {
		k.Parties = append(k.Parties, ledgertest.CosignerKeyFrom(t, s[i], s[i+1]))
	}
	return k
}

// Verifiers returns the party verifiers.
func (k Keys) Verifiers() []note.Verifier {
	var vs []note.Verifier
	for _, p := range k.Parties {
		vs = append(vs, p.Verifier)
	}
	return vs
}

// Deployment is an open log and its party witnesses.
type Deployment struct {
	Keys      Keys
	Dir       string
	StateDir  string
	Log       *ledger.Log
	Shutdown  func(context.Context) error
	Witnesses []*witness.Witness
}

// Witnesses opens the parties' witnesses with FileStores in stateDir.
func Witnesses(t testing.TB, k Keys, stateDir string) []*witness.Witness {
	var ws []*witness.Witness
	for i, p := range k.Parties {
		w, err := witness.New(witness.Config{
			Origin: Origin, LogVerifier: k.Log.Verifier, Signer: p.Signer,
			Store: witness.NewFileStore(filepath.Join(stateDir, fmt.Sprintf("witness-%d.json", i))),
		})
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	return ws
}

// Config returns a ledger config for dir with the given cosigners.
func Config(k Keys, dir string, cosigners []ledger.Cosigner) ledger.Config {
	return ledger.Config{Dir: dir, Origin: Origin, Signer: k.Log.Signer, Verifier: k.Log.Verifier, Cosigners: cosigners}
}

// Open opens the log in dir with witnesses whose state lives in stateDir,
// and registers its shutdown as a test cleanup (harmless if already shut).
func Open(t testing.TB, k Keys, dir, stateDir string) *Deployment {
	t.Helper()
	ws := Witnesses(t, k, stateDir)
	var cs []ledger.Cosigner
	for _, w := range ws {
		cs = append(cs, ledger.LocalCosigner(w))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, shutdown, err := ledger.Open(ctx, Config(k, dir, cs))
	if err != nil {
		t.Fatal(err)
	}
	d := &Deployment{Keys: k, Dir: dir, StateDir: stateDir, Log: l, Witnesses: ws}
	done := false
	d.Shutdown = func(ctx context.Context) error {
		if done {
			return nil
		}
		done = true
		return shutdown(ctx)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return d
}

// New opens a fresh log with n parties in temporary directories.
func New(t testing.TB, n int) *Deployment {
	return Open(t, NewKeys(t, n), filepath.Join(t.TempDir(), "log"), t.TempDir())
}

func h(s string) entry.Hash { return sha256.Sum256([]byte(s)) }

// Entry returns a valid, distinct entry for sequence number i, cycling
// through the entry types in a valid order: a CEREMONY and an EPOCH first,
// then QUERY/RESULT pairs.
func Entry(t testing.TB, i int) []byte {
	var e entry.Entry
	switch {
	case i == 0:
		e = entry.Ceremony{ParamSet: "test-params", PublicKeyHash: h("pk"), RelinKeyHash: h("rlk"), GaloisKeysHash: h("gk")}
	case i == 1:
		e = entry.Epoch{EpochID: 1, UnionSize: 10, UnionHash: h("u"), SetSizes: []entry.PartySize{{Party: "party-0", Size: 5}}}
	case i%2 == 0:
		return QueryEntry(t, i)
	default:
		e = entry.Result{QueryID: fmt.Sprintf("q-%d", i-1), CiphertextHash: h(fmt.Sprint("ct", i)), Parties: []string{"party-0"}}
	}
	b, err := entry.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Query returns a QUERY entry with ID "q-<i>" on epoch 1 and "test-params".
func Query(i int) entry.Query {
	return entry.Query{QueryID: fmt.Sprintf("q-%d", i), QueryCommitment: h(fmt.Sprint("text", i)), Analyst: "CN=analyst",
		PurposeCommitment: h(fmt.Sprint("purpose", i)), AnalystKeyHash: h("ak"), PlanHash: h("plan"), EpochID: 1,
		ParamSet: "test-params", Time: int64(1_700_000_000 + i)}
}

// QueryEntry is the encoding of Query(i); any order of distinct QueryEntry
// values is a valid ledger, so concurrent appenders can use them.
func QueryEntry(t testing.TB, i int) []byte {
	b, err := entry.Marshal(Query(i))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
