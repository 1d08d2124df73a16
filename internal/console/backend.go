package console

import (
	"context"
	"fmt"
	"time"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/audit"
)

// Backend is where the console's data comes from: a verified Snapshot,
// receipts and inclusion proofs. ProfileBackend is the real one; tests
// use fakes.
type Backend interface {
	// Verify fetches and verifies the whole log; it returns an error
	// (an *audit.Error where the log is at fault) if anything fails.
	Verify(ctx context.Context) (*Snapshot, error)
	// Receipt returns the receipt of a query's QUERY entry, the bytes
	// mpcaudit prove writes.
	Receipt(ctx context.Context, queryID string) ([]byte, error)
	// Inclusion returns the inclusion proof of the entry at index in the
	// current checkpoint (size), checked.
	Inclusion(ctx context.Context, index uint64) (proof [][]byte, size uint64, err error)
}

// ProfileBackend reads the log with an auditor profile, as mpcaudit
// verify does: from the coordinator (then the log must extend the
// checkpoint the profile verified last, which it then remembers), or from
// a directory copy (LogDir).
type ProfileBackend struct {
	Profile *auditor.Profile
	// LogDir is a copy of the log directory to read instead of the
	// coordinator's log.
	LogDir string
	// ArchivePath is a copy of the query archive (archive.db) to read
	// instead of the coordinator's; NoArchive reads none (no SQL, purpose
	// or case is shown, and no opening is checked).
	ArchivePath string
	NoArchive   bool
	Thresholds  Thresholds
	// Timeout bounds one verification; zero means a minute.
	Timeout time.Duration
}

func (b *ProfileBackend) fetcher(ctx context.Context) (audit.Fetcher, error) {
	return b.Profile.Fetcher(ctx, b.LogDir)
}

// Verify implements Backend.
func (b *ProfileBackend) Verify(ctx context.Context) (*Snapshot, error) {
	fetch, err := b.fetcher(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the log: %w", err)
	}
	var openings audit.Openings
	switch {
	case b.ArchivePath != "":
		a, err := archive.Open(b.ArchivePath, 5*time.Second)
		if err != nil {
			return nil, fmt.Errorf("query archive %s: %w", b.ArchivePath, err)
		}
		defer a.Close()
		openings = a
	case !b.NoArchive:
		if openings, err = b.Profile.Archive(ctx); err != nil {
			return nil, fmt.Errorf("query archive: %w", err)
		}
	}
	rep, rows, all, err := b.Profile.VerifyEntries(ctx, fetch, openings)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	if b.LogDir == "" {
		if _, err := b.Profile.Remember(ctx, fetch, rep, now); err != nil {
			return nil, fmt.Errorf("the log does not extend the checkpoint this profile verified before (%s): %w", auditor.StateFile, err)
		}
	}
	return Build(rep, rows, all, b.Thresholds, now, b.LogDir != ""), nil
}

// Receipt implements Backend with auditor.Profile.Prove.
func (b *ProfileBackend) Receipt(ctx context.Context, queryID string) ([]byte, error) {
	fetch, err := b.fetcher(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the log: %w", err)
	}
	return b.Profile.Prove(ctx, fetch, queryID)
}

// Inclusion implements Backend: it builds the receipt of the entry and
// checks it, which checks the proof.
func (b *ProfileBackend) Inclusion(ctx context.Context, index uint64) ([][]byte, uint64, error) {
	fetch, err := b.fetcher(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the log: %w", err)
	}
	raw, err := audit.Receipt(ctx, fetch, b.Profile.LogV, b.Profile.Cosigners, b.Profile.LogV.Name(), index)
	if err != nil {
		return nil, 0, fmt.Errorf("inclusion proof of entry %d: %w", index, err)
	}
	r, err := b.Profile.CheckReceipt(raw)
	if err != nil {
		return nil, 0, fmt.Errorf("inclusion proof of entry %d: %w", index, err)
	}
	return r.Proof, r.Checkpoint.Size, nil
}
