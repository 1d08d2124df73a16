// Package testledger writes a small, real ledger for tests of the tools
// that read one (mpcaudit, the auditor): a tessera log in a directory,
// signed by a fresh log key and cosigned by one witness named "bank". It
// is test support: it fails the test on any error.
package testledger

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/mpcq/mpcq/ledger"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/witness"
)

// Witness is the name of the one cosigner.
const Witness = "bank"

// Log is a written ledger: its directory and the verifier keys an auditor
// profile needs.
type Log struct {
	Dir       string
	PublicKey string            // the log's note verifier key
	Witnesses map[string]string // cosigner name → verifier key
}

// Write logs entries, in order, in a fresh ledger under dir/ledger with
// the given origin, each cosigned by the witness, and closes it.
func Write(t testing.TB, dir, origin string, entries []entry.Entry) Log {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	wskey, wvkey, err := note.GenerateKey(rand.Reader, Witness)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := fnote.NewSignerForCosignatureV1(wskey)
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(witness.Config{Origin: origin, LogVerifier: verifier, Signer: ws,
		Store: witness.NewFileStore(filepath.Join(dir, "witness.json"))})
	if err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(dir, "ledger")
	l, shutdown, err := ledger.Open(ctx, ledger.Config{Dir: logDir, Origin: origin, Signer: signer, Verifier: verifier,
		Cosigners: []ledger.Cosigner{ledger.LocalCosigner(w)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := entry.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return Log{Dir: logDir, PublicKey: vkey, Witnesses: map[string]string{Witness: wvkey}}
}
