package witness

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/mpcq/mpcq/ledger/checkpoint"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

var (
	// ErrNotCosigned means the checkpoint does not carry this party's valid
	// cosignature, or is larger than anything this party has cosigned.
	ErrNotCosigned = errors.New("checkpoint not cosigned by this party")
	// ErrNotIncluded means the inclusion proof does not prove the entry is
	// in the checkpoint's tree at the given index.
	ErrNotIncluded = errors.New("entry not proven included in the checkpoint")
)

// VerifyIncluded is the decryption gate: a party contributes a decryption
// share for an entry only if it returns nil.
//
// The rule: cosignedCheckpoint must be signed by the log (origin
// logVerifier.Name()) and carry a valid cosignature by own; its size must
// not exceed the size in witnessState (the last checkpoint this party
// cosigned), and at equal size its root must equal the stored root.
// Because this party only ever cosigns checkpoints consistent with
// everything it cosigned before, a checkpoint bearing its own cosignature
// at or below its stored size is a prefix of the history it has vouched
// for; a larger one means its state was lost or rolled back and is refused.
// Finally the RFC 6962 inclusion proof must prove entry (the raw entry
// bytes) at index in that checkpoint's tree.
//
// Other parties' cosignatures are not required here: each party checks its
// own. Errors wrap ErrNotCosigned, ErrFork, ErrBadSignature or ErrNotIncluded.
func VerifyIncluded(entry []byte, index uint64, inclusionProof [][]byte, cosignedCheckpoint []byte,
	logVerifier, own note.Verifier, witnessState State) error {
	if logVerifier == nil || own == nil {
		return fmt.Errorf("%w: log and own verifiers are required", ErrNotCosigned)
	}
	cp, err := checkpoint.Parse(cosignedCheckpoint, logVerifier.Name(), logVerifier, own)
	switch {
	case errors.Is(err, checkpoint.ErrCosignature):
		return fmt.Errorf("%w: %q: %w", ErrNotCosigned, own.Name(), err)
	case err != nil:
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if cp.Size > witnessState.Size {
		return fmt.Errorf("%w: checkpoint size %d is beyond the size %d this party has on record as cosigned; "+
			"its witness state may have been rolled back", ErrNotCosigned, cp.Size, witnessState.Size)
	}
	if cp.Size == witnessState.Size && !bytes.Equal(cp.Root, witnessState.Root) {
		return fmt.Errorf("%w: checkpoint size %d has root %x, this party cosigned root %x",
			ErrFork, cp.Size, cp.Root, witnessState.Root)
	}
	if index >= cp.Size {
		return fmt.Errorf("%w: index %d is not below checkpoint size %d", ErrNotIncluded, index, cp.Size)
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(entry)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, leaf, inclusionProof, cp.Root); err != nil {
		return fmt.Errorf("%w: index %d, size %d: %v", ErrNotIncluded, index, cp.Size, err)
	}
	return nil
}
