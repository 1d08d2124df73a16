package audit

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/internal/ledgertest"
	"github.com/transparency-dev/formats/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

func TestRulesRejectInvalidEntry(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
	}{
		{"not an entry", []byte("junk")},
		{"unknown version", []byte{9, 1}},
		{"empty", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRules(nil)
			r.check(7, "tile/entries/000.p/8", tc.raw)
			var ae *Error
			if !errors.Is(r.err, ErrEntry) || !errors.As(r.err, &ae) || ae.Index != 7 || ae.Path != "tile/entries/000.p/8" {
				t.Fatalf("rules error = %v", r.err)
			}
		})
	}
}

// receiptSeed returns a valid receipt over a reference tree, its log key
// and cosigner key.
func receiptSeed(t testing.TB) ([]byte, ledgertest.LogKey, ledgertest.CosignerKey) {
	log := ledgertest.NewLogKey(t, "mpcq.test/ledger")
	party := ledgertest.NewCosignerKey(t, "party-0")
	tree := testonly.New(rfc6962.DefaultHasher)
	var entries [][]byte
	for i := range 5 {
		b, err := entry.Marshal(entry.Failure{Reason: fmt.Sprintf("reason %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, b)
		tree.AppendData(b)
	}
	cp := ledgertest.Sign(t, log, 5, tree.Hash(), party.Signer)
	p, err := tree.InclusionProof(3, 5)
	if err != nil {
		t.Fatal(err)
	}
	r := proof.TLogProof{Index: 3, Checkpoint: cp, ExtraData: entries[3]}
	for _, h := range p {
		r.Hashes = append(r.Hashes, [sha256.Size]byte(h))
	}
	return r.Marshal(), log, party
}

func TestCheckReceiptReference(t *testing.T) {
	raw, log, party := receiptSeed(t)
	got, err := CheckReceipt(raw, log.Verifier, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := got.Entry.(entry.Failure); !ok || f.Reason != "reason 3" || got.Index != 3 {
		t.Fatalf("receipt proves %+v", got)
	}
	if _, err := CheckReceipt(raw, log.Verifier, nil); err != nil {
		t.Fatal(err)
	}
	other := ledgertest.NewCosignerKey(t, "party-1")
	if _, err := CheckReceipt(raw, log.Verifier, []note.Verifier{party.Verifier, other.Verifier}); !errors.Is(err, ErrReceipt) {
		t.Fatalf("receipt without party-1's cosignature accepted: %v", err)
	}
}

func FuzzCheckReceipt(f *testing.F) {
	raw, log, party := receiptSeed(f)
	f.Add(raw)
	f.Add([]byte("c2sp.org/tlog-proof@v1\nindex 0\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := CheckReceipt(data, log.Verifier, []note.Verifier{party.Verifier})
		if err != nil {
			if !errors.Is(err, ErrReceipt) {
				t.Fatalf("error %v does not wrap ErrReceipt", err)
			}
			return
		}
		if got.Index >= got.Checkpoint.Size || got.Entry == nil {
			t.Fatalf("accepted receipt violates invariants: %+v", got)
		}
	})
}
