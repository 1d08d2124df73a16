package auditor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"

	"github.com/mpcq/mpcq/internal/atomicfile"
	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/checkpoint"
)

// StateFile, in the profile directory, remembers the last checkpoint this
// profile verified online, as a witness does.
const StateFile = "ledger-state.json"

var (
	// ErrRollback means the log now serves a smaller checkpoint than one
	// this profile verified before.
	ErrRollback = errors.New("the ledger was rolled back")
	// ErrFork means the log's checkpoint does not extend the one this
	// profile verified before: a different root at the same size, or no
	// valid consistency proof between them.
	ErrFork = errors.New("the ledger forked")
	// ErrState means the remembered state is unreadable or not a
	// checkpoint of this ledger.
	ErrState = errors.New("remembered ledger state invalid")
)

// State is the last checkpoint a profile verified.
type State struct {
	Size uint64 `json:"size"`
	Root []byte `json:"root"`
	// Checkpoint is the verified checkpoint note, signatures included.
	Checkpoint []byte `json:"checkpoint"`
	// VerifiedAt is when it was verified.
	VerifiedAt time.Time `json:"verified_at"`
}

func (s State) String() string {
	return fmt.Sprintf("size %d root %x (verified %s)", s.Size, s.Root, s.VerifiedAt.UTC().Format(time.RFC3339))
}

// CheckConsistency checks that cur extends prev: not smaller (rollback),
// not another root at the same size (fork), and consistencyProof proves
// prev's tree is a prefix of cur's. Pure; errors name both checkpoints.
func CheckConsistency(prev, cur State, consistencyProof [][]byte) error {
	switch {
	case cur.Size < prev.Size:
		return fmt.Errorf("%w: this profile verified %s; the log now serves size %d root %x, %d entries fewer",
			ErrRollback, prev, cur.Size, cur.Root, prev.Size-cur.Size)
	case cur.Size == prev.Size && !bytes.Equal(cur.Root, prev.Root):
		return fmt.Errorf("%w: this profile verified %s; the log now serves the same size with root %x",
			ErrFork, prev, cur.Root)
	}
	prevRoot := prev.Root
	if prev.Size == 0 {
		prevRoot = rfc6962.DefaultHasher.EmptyRoot()
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, prev.Size, cur.Size, consistencyProof, prevRoot, cur.Root); err != nil {
		return fmt.Errorf("%w: this profile verified %s; the log now serves size %d root %x, which does not extend it: %v",
			ErrFork, prev, cur.Size, cur.Root, err)
	}
	return nil
}

func (p *Profile) statePath() string { return filepath.Join(p.Dir, StateFile) }

// LoadState returns the remembered state, or nil if the profile has
// verified nothing online yet. The stored checkpoint must verify with the
// profile's keys and agree with the stored size and root.
func (p *Profile) LoadState() (*State, error) {
	b, err := os.ReadFile(p.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrState, p.statePath(), err)
	}
	cp, err := checkpoint.Parse(st.Checkpoint, p.LogV.Name(), p.LogV, p.Cosigners...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrState, p.statePath(), err)
	}
	if cp.Size != st.Size || !bytes.Equal(cp.Root, st.Root) {
		return nil, fmt.Errorf("%w: %s: size and root disagree with the stored checkpoint", ErrState, p.statePath())
	}
	return &st, nil
}

// SaveState remembers st (atomically, 0600).
func (p *Profile) SaveState(st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(p.statePath(), append(b, '\n'), 0o600)
}

// Remember checks the checkpoint of a successful audit (rep) against the
// remembered state, with a consistency proof read through fetch, and then
// remembers it. On any error the remembered state is left as it was. It
// returns the previous state (nil on the first run).
func (p *Profile) Remember(ctx context.Context, fetch audit.Fetcher, rep audit.Report, now time.Time) (*State, error) {
	prev, err := p.LoadState()
	if err != nil {
		return nil, err
	}
	cur := State{Size: rep.Size, Root: rep.Root, Checkpoint: rep.Checkpoint, VerifiedAt: now}
	if prev != nil {
		var cproof [][]byte
		if prev.Size > 0 && prev.Size < cur.Size {
			pb, err := client.NewProofBuilder(ctx, cur.Size, tileFetcher(fetch))
			if err != nil {
				return prev, fmt.Errorf("consistency proof from size %d to %d: %w", prev.Size, cur.Size, err)
			}
			if cproof, err = pb.ConsistencyProof(ctx, prev.Size, cur.Size); err != nil {
				return prev, fmt.Errorf("consistency proof from size %d to %d: %w", prev.Size, cur.Size, err)
			}
		}
		if err := CheckConsistency(*prev, cur, cproof); err != nil {
			return prev, err
		}
		if cur.Size == prev.Size {
			return prev, nil // nothing new; keep the first verification time
		}
	}
	if err := p.SaveState(cur); err != nil {
		return prev, fmt.Errorf("remembering the verified checkpoint: %w", err)
	}
	return prev, nil
}

// tileFetcher reads tiles through fetch, falling back from a partial tile
// to the full one as tlog-tiles clients do.
func tileFetcher(fetch audit.Fetcher) client.TileFetcherFunc {
	return func(_ context.Context, level, index uint64, w uint8) ([]byte, error) {
		b, err := fetch(layout.TilePath(level, index, w))
		if w > 0 && errors.Is(err, fs.ErrNotExist) {
			return fetch(layout.TilePath(level, index, 0))
		}
		return b, err
	}
}
