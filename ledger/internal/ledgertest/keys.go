// Package ledgertest holds key and checkpoint helpers shared by the ledger
// packages' tests. It is not for production use.
package ledgertest

import (
	"crypto/rand"
	"testing"

	flog "github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// LogKey is a log signing key pair.
type LogKey struct {
	Signer   note.Signer
	Verifier note.Verifier
	SKey     string
	VKey     string
}

// NewLogKey generates an Ed25519 log key named origin.
func NewLogKey(t testing.TB, origin string) LogKey {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	return LogKeyFrom(t, skey, vkey)
}

// LogKeyFrom rebuilds a log key from its note key strings.
func LogKeyFrom(t testing.TB, skey, vkey string) LogKey {
	t.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return LogKey{Signer: s, Verifier: v, SKey: skey, VKey: vkey}
}

// CosignerKey is a party's cosignature/v1 key pair.
type CosignerKey struct {
	Signer   *fnote.Signer
	Verifier note.Verifier
	SKey     string
	VKey     string
}

// NewCosignerKey generates an Ed25519 cosignature/v1 key named name.
func NewCosignerKey(t testing.TB, name string) CosignerKey {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	return CosignerKeyFrom(t, skey, vkey)
}

// CosignerKeyFrom rebuilds a cosigner key from its note key strings.
func CosignerKeyFrom(t testing.TB, skey, vkey string) CosignerKey {
	t.Helper()
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return CosignerKey{Signer: s, Verifier: v, SKey: skey, VKey: vkey}
}

// Sign returns a checkpoint note for (origin, size, root) signed by the log
// key and then by each cosigner.
func Sign(t testing.TB, log LogKey, size uint64, root []byte, cosigners ...note.Signer) []byte {
	t.Helper()
	text := flog.Checkpoint{Origin: log.Signer.Name(), Size: size, Hash: root}.Marshal()
	signers := append([]note.Signer{log.Signer}, cosigners...)
	raw, err := note.Sign(&note.Note{Text: string(text)}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
