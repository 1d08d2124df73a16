// Package witness is the party side of the ledger: a C2SP tlog-witness
// style state machine that cosigns a log checkpoint only after checking
// that it extends, append-only, the last checkpoint this party cosigned;
// and the decryption gate (VerifyIncluded) a party runs before it
// contributes a decryption share.
//
// The witness is transport-free. AddCheckpoint takes exactly the fields of
// a tlog-witness add-checkpoint request (old size, consistency proof,
// checkpoint) and returns the cosignature line of the response body, or an
// error wrapping one of the sentinels below; the caller maps them to its
// transport (tlog-witness HTTP: ErrConflict → 409 with the size from
// ConflictError, ErrBadProof → 422, ErrUnknownOrigin → 404,
// ErrBadSignature → 403, ErrRollback → 400, ErrFork → 409).
// State lives behind the Store interface; FileStore persists it atomically
// and the witness saves before it returns a cosignature, so after a crash
// it never cosigns anything inconsistent with what it already signed.
//
// Cosignatures attest append-only consistency only. They do not approve a
// query's content: approvals belong inside ledger entries.
package witness

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/mpcq/mpcq/ledger/checkpoint"
	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

var (
	// ErrConflict means the request's old size is not the size this witness
	// last cosigned (tlog-witness 409). The error is a *ConflictError
	// carrying the stored size; retry with that old size and a proof from it.
	ErrConflict = errors.New("old size does not match the witness's cosigned size")
	// ErrBadProof means the consistency proof does not prove that the new
	// checkpoint extends the stored one (tlog-witness 422).
	ErrBadProof = errors.New("consistency proof does not verify")
	// ErrRollback means the checkpoint is smaller than the one already
	// cosigned: the log would be going backwards.
	ErrRollback = errors.New("checkpoint rolls the log back")
	// ErrFork means the checkpoint has the size of the cosigned one but a
	// different root: the log presents two histories.
	ErrFork = errors.New("checkpoint forks the log")
	// ErrUnknownOrigin means the checkpoint is for a log this witness does
	// not follow (tlog-witness 404).
	ErrUnknownOrigin = errors.New("checkpoint origin unknown to this witness")
	// ErrBadSignature means the checkpoint is malformed or not validly
	// signed by the log (tlog-witness 403).
	ErrBadSignature = errors.New("checkpoint not validly signed by the log")
	// ErrStore means the witness state could not be loaded or saved; no
	// cosignature was produced.
	ErrStore = errors.New("witness state store failed")
)

// ConflictError is returned (wrapped) when the request's old size differs
// from the stored size. errors.Is(err, ErrConflict) is true for it.
type ConflictError struct {
	// Size is the size of the checkpoint the witness last cosigned.
	Size uint64
	// Got is the old size the request claimed.
	Got uint64
}

// Error implements error.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("%v: request says old size %d, witness cosigned size %d; resend with old size %d",
		ErrConflict, e.Got, e.Size, e.Size)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// State is what a witness remembers about the log.
type State struct {
	// Size and Root are those of the last cosigned checkpoint; zero and nil
	// before the first one.
	Size uint64
	Root []byte
	// Checkpoint is the last cosigned checkpoint note: the log's signature
	// followed by this witness's cosignature.
	Checkpoint []byte
}

// Store persists a witness's State. Save must be atomic and durable when it
// returns nil: after a crash Load returns either the old or the new state.
type Store interface {
	Load() (State, error)
	Save(State) error
}

// Config configures a Witness.
type Config struct {
	// Origin is the origin line of the log followed. It must equal
	// LogVerifier.Name(): the ledger names its key after its origin.
	Origin string
	// LogVerifier verifies the log's checkpoint signatures.
	LogVerifier note.Verifier
	// Signer makes this party's cosignature/v1 signatures; build it with
	// formats/note.NewSignerForCosignatureV1 from the party's Ed25519 key.
	Signer *fnote.Signer
	// Store holds the state.
	Store Store
}

// Validate reports a missing or inconsistent field.
func (c Config) Validate() error {
	switch {
	case c.Origin == "":
		return errors.New("witness config: Origin is empty; set it to the log's origin line")
	case c.LogVerifier == nil:
		return errors.New("witness config: LogVerifier is nil; set it from the log's public key")
	case c.Signer == nil:
		return errors.New("witness config: Signer is nil; build it with formats/note.NewSignerForCosignatureV1")
	case c.Store == nil:
		return errors.New("witness config: Store is nil; use NewFileStore")
	case c.Origin != c.LogVerifier.Name():
		return fmt.Errorf("witness config: Origin %q differs from the log key name %q; the ledger's origin is its key name", c.Origin, c.LogVerifier.Name())
	case c.Signer.Name() == c.LogVerifier.Name():
		return fmt.Errorf("witness config: cosigner name %q equals the log's key name; give the party its own key name", c.Signer.Name())
	}
	return nil
}

// Witness cosigns checkpoints of one log. It is safe for concurrent use.
type Witness struct {
	cfg      Config
	verifier note.Verifier

	mu    sync.Mutex
	state State
}

// New loads the stored state, checks it is a checkpoint this witness
// cosigned, and returns the witness.
func New(cfg Config) (*Witness, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := cfg.Store.Load()
	if err != nil {
		return nil, fmt.Errorf("%w: loading: %w", ErrStore, err)
	}
	w := &Witness{cfg: cfg, verifier: cfg.Signer.Verifier()}
	if err := w.checkState(st); err != nil {
		return nil, fmt.Errorf("%w: stored state is not valid, refusing to start (restore it from backup; "+
			"do not delete it, a witness that forgets can be made to cosign a fork): %w", ErrStore, err)
	}
	w.state = st
	return w, nil
}

func (w *Witness) checkState(st State) error {
	if st.Checkpoint == nil {
		if st.Size != 0 || st.Root != nil {
			return fmt.Errorf("size %d without a checkpoint", st.Size)
		}
		return nil
	}
	cp, err := checkpoint.Parse(st.Checkpoint, w.cfg.Origin, w.cfg.LogVerifier, w.verifier)
	if err != nil {
		return err
	}
	if cp.Size != st.Size || !bytes.Equal(cp.Root, st.Root) {
		return fmt.Errorf("checkpoint (size %d) disagrees with stored size %d and root", cp.Size, st.Size)
	}
	return nil
}

// Name returns the cosigner's key name.
func (w *Witness) Name() string { return w.cfg.Signer.Name() }

// Verifier returns the verifier for this witness's cosignatures.
func (w *Witness) Verifier() note.Verifier { return w.verifier }

// State returns a copy of the current state.
func (w *Witness) State() State {
	w.mu.Lock()
	defer w.mu.Unlock()
	return State{Size: w.state.Size, Root: bytes.Clone(w.state.Root), Checkpoint: bytes.Clone(w.state.Checkpoint)}
}

// AddCheckpoint handles a tlog-witness add-checkpoint request: it checks
// that checkpointRaw is signed by the log, that oldSize is the stored size,
// that the checkpoint neither rolls back nor forks the stored one and that
// consistencyProof proves it extends the stored one; then it persists the
// new state and returns the cosignature line ("— <name> <base64>\n").
//
// Resending the stored checkpoint (same size and root, empty proof) is
// accepted and re-cosigned with a fresh timestamp.
func (w *Witness) AddCheckpoint(oldSize uint64, consistencyProof [][]byte, checkpointRaw []byte) ([]byte, error) {
	cp, err := checkpoint.Parse(checkpointRaw, w.cfg.Origin, w.cfg.LogVerifier)
	if err != nil {
		if errors.Is(err, checkpoint.ErrOrigin) {
			return nil, fmt.Errorf("%w: %w", ErrUnknownOrigin, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.state

	if cp.Size < st.Size {
		return nil, fmt.Errorf("%w: offered size %d, already cosigned size %d", ErrRollback, cp.Size, st.Size)
	}
	if oldSize != st.Size {
		return nil, &ConflictError{Size: st.Size, Got: oldSize}
	}
	if st.Checkpoint != nil && cp.Size == st.Size && !bytes.Equal(cp.Root, st.Root) {
		return nil, fmt.Errorf("%w: size %d already cosigned with root %x, offered root %x", ErrFork, st.Size, st.Root, cp.Root)
	}
	oldRoot := st.Root
	if st.Checkpoint == nil {
		oldRoot = rfc6962.DefaultHasher.EmptyRoot()
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, st.Size, cp.Size, consistencyProof, oldRoot, cp.Root); err != nil {
		return nil, fmt.Errorf("%w: from size %d to %d: %v", ErrBadProof, st.Size, cp.Size, err)
	}

	// Sign the note carrying only the log's verified signature, so the
	// stored checkpoint is log signature + our cosignature.
	signed, err := note.Sign(&note.Note{Text: cp.Note.Text, Sigs: cp.Note.Sigs}, w.cfg.Signer)
	if err != nil {
		return nil, fmt.Errorf("cosigning checkpoint size %d: %w", cp.Size, err)
	}
	cosig := lastLine(signed)
	next := State{Size: cp.Size, Root: bytes.Clone(cp.Root), Checkpoint: signed}
	if err := w.cfg.Store.Save(next); err != nil {
		return nil, fmt.Errorf("%w: saving size %d: %w", ErrStore, cp.Size, err)
	}
	w.state = next
	return bytes.Clone(cosig), nil
}

// lastLine returns the final newline-terminated line of b.
func lastLine(b []byte) []byte {
	i := bytes.LastIndexByte(b[:len(b)-1], '\n')
	return b[i+1:]
}

// VerifyIncluded is a convenience for the package-level VerifyIncluded with
// this witness's log verifier, own verifier and current state.
func (w *Witness) VerifyIncluded(entry []byte, index uint64, inclusionProof [][]byte, cosignedCheckpoint []byte) error {
	return VerifyIncluded(entry, index, inclusionProof, cosignedCheckpoint, w.cfg.LogVerifier, w.verifier, w.State())
}
