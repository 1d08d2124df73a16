// Package checkpoint parses and checks the ledger's checkpoints: C2SP
// tlog-checkpoint signed notes carrying the log's signature and the
// cosignatures (C2SP tlog-cosignature, cosignature/v1) of the parties.
//
// It is a strict wrapper over golang.org/x/mod/sumdb/note and
// github.com/transparency-dev/formats/log used by the log, the witnesses,
// the decryption gate and the auditor, so all of them accept exactly the
// same checkpoints. It does no I/O and makes no signatures.
package checkpoint

import (
	"bytes"
	"errors"
	"fmt"

	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// MaxSize bounds the size of a checkpoint note accepted by Parse.
const MaxSize = 64 << 10

var (
	// ErrMalformed means the bytes are not a well-formed checkpoint note.
	ErrMalformed = errors.New("malformed checkpoint")
	// ErrLogSignature means the log's signature is missing or invalid.
	ErrLogSignature = errors.New("checkpoint not validly signed by the log")
	// ErrOrigin means the checkpoint is for another log.
	ErrOrigin = errors.New("checkpoint for another log origin")
	// ErrCosignature means a required cosignature is missing or invalid.
	ErrCosignature = errors.New("checkpoint lacks a valid required cosignature")
)

// Checkpoint is a parsed, verified checkpoint.
type Checkpoint struct {
	// Origin identifies the log (first line of the note).
	Origin string
	// Size is the number of entries committed to.
	Size uint64
	// Root is the RFC 6962 Merkle tree hash of the first Size entries.
	Root []byte
	// Raw is the note exactly as parsed, signatures included.
	Raw []byte
	// Note is the opened note; Note.Sigs lists the verified signatures.
	Note *note.Note
}

// Parse verifies raw as a checkpoint of the log origin signed by
// logVerifier and cosigned by every verifier in cosigners, and returns it.
//
// Signatures from keys not in cosigners are ignored (they are listed in
// Note.UnverifiedSigs); an invalid signature from a known key is an error.
// Checkpoints with extension lines are refused: this log never writes them.
func Parse(raw []byte, origin string, logVerifier note.Verifier, cosigners ...note.Verifier) (Checkpoint, error) {
	if len(raw) > MaxSize {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(raw), MaxSize)
	}
	if logVerifier == nil {
		return Checkpoint{}, fmt.Errorf("%w: no log verifier given", ErrLogSignature)
	}
	vs := make([]note.Verifier, 0, len(cosigners)+1)
	vs = append(vs, logVerifier)
	for _, c := range cosigners {
		if c == nil {
			return Checkpoint{}, fmt.Errorf("%w: nil cosigner verifier given", ErrCosignature)
		}
		if c.Name() == logVerifier.Name() && c.KeyHash() == logVerifier.KeyHash() {
			return Checkpoint{}, fmt.Errorf("%w: cosigner %q has the log's own key", ErrCosignature, c.Name())
		}
		vs = append(vs, c)
	}
	n, err := note.Open(raw, note.VerifierList(vs...))
	if err != nil {
		var invalid *note.InvalidSignatureError
		var unverified *note.UnverifiedNoteError
		switch {
		case errors.As(err, &invalid):
			if invalid.Name == logVerifier.Name() && invalid.Hash == logVerifier.KeyHash() {
				return Checkpoint{}, fmt.Errorf("%w: %v", ErrLogSignature, err)
			}
			return Checkpoint{}, fmt.Errorf("%w: %v", ErrCosignature, err)
		case errors.As(err, &unverified):
			return Checkpoint{}, fmt.Errorf("%w: no signature by %q", ErrLogSignature, logVerifier.Name())
		default:
			return Checkpoint{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	if !hasSig(n, logVerifier) {
		return Checkpoint{}, fmt.Errorf("%w: no signature by %q", ErrLogSignature, logVerifier.Name())
	}
	var cp flog.Checkpoint
	rest, err := cp.Unmarshal([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes of extension lines", ErrMalformed, len(rest))
	}
	// Refuse non-canonical text (leading zeros, "+1", padding variants...):
	// the text must be exactly what the log would have written.
	if !bytes.Equal(cp.Marshal(), []byte(n.Text)) {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint text is not in canonical form", ErrMalformed)
	}
	if cp.Origin != origin {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint is for %q, want %q", ErrOrigin, cp.Origin, origin)
	}
	if len(cp.Hash) != rfc6962.DefaultHasher.Size() {
		return Checkpoint{}, fmt.Errorf("%w: root hash is %d bytes, want %d", ErrMalformed, len(cp.Hash), rfc6962.DefaultHasher.Size())
	}
	if cp.Size == 0 && !bytes.Equal(cp.Hash, rfc6962.DefaultHasher.EmptyRoot()) {
		return Checkpoint{}, fmt.Errorf("%w: empty tree with a root other than SHA-256(\"\")", ErrMalformed)
	}
	for _, c := range cosigners {
		if !hasSig(n, c) {
			return Checkpoint{}, fmt.Errorf("%w: no cosignature by %q at size %d", ErrCosignature, c.Name(), cp.Size)
		}
	}
	return Checkpoint{Origin: cp.Origin, Size: cp.Size, Root: cp.Hash, Raw: bytes.Clone(raw), Note: n}, nil
}

// HasSignature reports whether the verified signatures of c include one by v.
func (c Checkpoint) HasSignature(v note.Verifier) bool {
	return c.Note != nil && hasSig(c.Note, v)
}

func hasSig(n *note.Note, v note.Verifier) bool {
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			return true
		}
	}
	return false
}
