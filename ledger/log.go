package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/checkpoint"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// Defaults applied by Open to zero Config fields.
const (
	DefaultBatchMaxAge        = 10 * time.Millisecond
	DefaultBatchMaxSize       = 256
	DefaultCheckpointInterval = 100 * time.Millisecond
	DefaultWitnessTimeout     = 5 * time.Second
	DefaultPollInterval       = 10 * time.Millisecond

	// MinCheckpointInterval is the smallest interval tessera's POSIX driver accepts.
	MinCheckpointInterval = 100 * time.Millisecond
)

var (
	// ErrInvalidEntry means Append was given bytes that are not a valid
	// ledger entry (see package ledger/entry); nothing was appended.
	ErrInvalidEntry = errors.New("not a valid ledger entry")
	// ErrNotPublished means the entry was durably sequenced but no
	// checkpoint cosigned by every party covered it before the context
	// ended. It will be published once every party cosigns; the index
	// returned alongside is valid.
	ErrNotPublished = errors.New("entry sequenced but not yet published in a cosigned checkpoint")
	// ErrBeyondCheckpoint means a read or proof asked for an index or size
	// beyond the latest published (cosigned) checkpoint.
	ErrBeyondCheckpoint = errors.New("beyond the latest published checkpoint")
	// ErrNoCheckpoint means no checkpoint has been published yet.
	ErrNoCheckpoint = errors.New("no checkpoint published")
	// ErrCorrupt means data read back from the log directory fails
	// verification against the published checkpoint.
	ErrCorrupt = errors.New("log data does not verify")
	// ErrClosed means the log has been shut down.
	ErrClosed = errors.New("ledger log shut down")
)

// Checkpoint is a verified checkpoint: Size, Root, and Raw, the note with
// the log's signature and every party's cosignature.
type Checkpoint = checkpoint.Checkpoint

// Config configures a Log. Zero durations and sizes take the defaults above.
type Config struct {
	// Dir holds the log in the C2SP tlog-tiles layout (plus tessera's
	// private ".state" directory). It is created if missing.
	Dir string
	// Origin is the log's origin line; it must equal Signer.Name().
	Origin string
	// Signer signs checkpoints; Verifier is its public half.
	Signer   note.Signer
	Verifier note.Verifier
	// Cosigners are the parties; every one must cosign each checkpoint.
	Cosigners []Cosigner

	BatchMaxAge        time.Duration
	BatchMaxSize       uint
	CheckpointInterval time.Duration
	// WitnessTimeout bounds one cosigning round.
	WitnessTimeout time.Duration
	// PollInterval is how often Append looks for a new checkpoint.
	PollInterval time.Duration
	// Log receives a warning when a cosigner starts or stops refusing and
	// a periodic summary while it refuses (never one per retry). The zero
	// Logger discards.
	Log zerolog.Logger
}

func (c Config) withDefaults() Config {
	if c.BatchMaxAge == 0 {
		c.BatchMaxAge = DefaultBatchMaxAge
	}
	if c.BatchMaxSize == 0 {
		c.BatchMaxSize = DefaultBatchMaxSize
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.WitnessTimeout == 0 {
		c.WitnessTimeout = DefaultWitnessTimeout
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	return c
}

// Validate reports the first missing or inconsistent field.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("ledger config: Dir is empty; set the log directory")
	case c.Signer == nil || c.Verifier == nil:
		return errors.New("ledger config: Signer and Verifier are required (note.NewSigner / note.NewVerifier of the log key)")
	case c.Origin != c.Signer.Name():
		return fmt.Errorf("ledger config: Origin %q differs from the log key name %q; name the key after the origin", c.Origin, c.Signer.Name())
	case c.Verifier.Name() != c.Signer.Name() || c.Verifier.KeyHash() != c.Signer.KeyHash():
		return fmt.Errorf("ledger config: Verifier %q/%08x does not match Signer %q/%08x",
			c.Verifier.Name(), c.Verifier.KeyHash(), c.Signer.Name(), c.Signer.KeyHash())
	case len(c.Cosigners) == 0:
		return errors.New("ledger config: no Cosigners; every party must cosign, configure at least one")
	case c.BatchMaxAge < 0, c.WitnessTimeout < 0, c.PollInterval < 0:
		return errors.New("ledger config: negative duration")
	case c.CheckpointInterval != 0 && c.CheckpointInterval < MinCheckpointInterval:
		return fmt.Errorf("ledger config: CheckpointInterval %v is below tessera's minimum %v", c.CheckpointInterval, MinCheckpointInterval)
	}
	probe, err := note.Sign(&note.Note{Text: "mpcq ledger key check\n"}, c.Signer)
	if err != nil {
		return fmt.Errorf("ledger config: Signer cannot sign: %w", err)
	}
	if _, err := note.Open(probe, note.VerifierList(c.Verifier)); err != nil {
		return fmt.Errorf("ledger config: Verifier does not verify Signer's signatures: %w", err)
	}
	type key struct {
		name string
		hash uint32
	}
	names := make(map[string]bool)
	keys := make(map[key]bool)
	for i, cs := range c.Cosigners {
		if cs == nil || cs.Verifier() == nil {
			return fmt.Errorf("ledger config: cosigner %d is nil or has no verifier", i)
		}
		v := cs.Verifier()
		k := key{v.Name(), v.KeyHash()}
		switch {
		case names[cs.Name()]:
			return fmt.Errorf("ledger config: two cosigners named %q", cs.Name())
		case keys[k]:
			return fmt.Errorf("ledger config: cosigners %q share key %s/%08x", cs.Name(), k.name, k.hash)
		case v.Name() == c.Signer.Name():
			return fmt.Errorf("ledger config: cosigner %q uses the log's key name %q", cs.Name(), v.Name())
		}
		names[cs.Name()] = true
		keys[k] = true
	}
	return nil
}

// Log is an open ledger. Its methods are safe for concurrent use.
type Log struct {
	cfg       Config
	bg        context.Context // ends at shutdown
	verifiers []note.Verifier
	appender  *tessera.Appender
	reader    tessera.LogReader
	awaiter   *tessera.PublicationAwaiter
	transport *cosignTransport

	// lastCP caches the last verified checkpoint: concurrent Appends
	// released by the same publication verify its signatures once.
	lastCP atomic.Pointer[Checkpoint]

	// proofs caches a proof builder (and the tiles it has read) for the
	// latest size proofs were asked for.
	proofMu   sync.Mutex
	proofSize uint64
	proofs    *client.ProofBuilder
}

// Open opens (creating if needed) the log in cfg.Dir and starts tessera's
// sequencing and publishing in the background. A new log publishes its
// empty checkpoint during Open, so every cosigner must answer.
//
// Background work outlives ctx (ctx only bounds Open itself); call the
// returned shutdown to publish everything appended so far and stop.
func Open(ctx context.Context, cfg Config) (*Log, func(context.Context) error, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	cfg = cfg.withDefaults()
	cfg.Cosigners = append([]Cosigner(nil), cfg.Cosigners...)
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("creating log directory: %w", err)
	}

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	transport, group := newCosignTransport(cfg.Cosigners, cfg.Log)
	driver, err := posix.New(bg, posix.Config{Path: cfg.Dir, HTTPClient: &http.Client{Transport: transport}})
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("opening tessera POSIX storage in %s: %w", cfg.Dir, err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(cfg.Signer).
		WithBatching(cfg.BatchMaxSize, cfg.BatchMaxAge).
		WithCheckpointInterval(cfg.CheckpointInterval).
		WithWitnesses(group, &tessera.WitnessOptions{Timeout: cfg.WitnessTimeout, FailOpen: false})

	type result struct {
		a        *tessera.Appender
		shutdown func(context.Context) error
		r        tessera.LogReader
		err      error
	}
	done := make(chan result, 1)
	go func() {
		a, sd, r, err := tessera.NewAppender(bg, driver, opts)
		done <- result{a, sd, r, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		cancel()
		return nil, nil, fmt.Errorf("opening log in %s: %w (cosigners: %s)", cfg.Dir, ctx.Err(), transport.refusals())
	}
	if res.err != nil {
		cancel()
		msg := transport.refusals()
		if msg == "" {
			msg = "none recorded"
		}
		return nil, nil, fmt.Errorf("opening log in %s: %w (cosigner refusals: %s)", cfg.Dir, res.err, msg)
	}

	l := &Log{
		cfg:       cfg,
		bg:        bg,
		appender:  res.a,
		reader:    res.r,
		awaiter:   tessera.NewPublicationAwaiter(bg, res.r.ReadCheckpoint, cfg.PollInterval),
		transport: transport,
	}
	for _, c := range cfg.Cosigners {
		l.verifiers = append(l.verifiers, c.Verifier())
	}
	shutdown := func(ctx context.Context) error {
		defer cancel()
		if err := res.shutdown(ctx); err != nil {
			return fmt.Errorf("shutting down log in %s: %w (cosigners: %s)", cfg.Dir, err, transport.refusals())
		}
		return nil
	}
	return l, shutdown, nil
}

// CosignerVerifiers returns the verifiers of the configured cosigners.
func (l *Log) CosignerVerifiers() []note.Verifier {
	return append([]note.Verifier(nil), l.verifiers...)
}

// Append validates data as a ledger entry, appends it, and returns once it
// is durable and covered by a published checkpoint cosigned by every
// party, with its index and that checkpoint (verified, including an
// inclusion proof of data at index).
//
// If ctx ends after the entry was sequenced but before publication, the
// error wraps ErrNotPublished and the index is valid: the entry is in the
// log and will be published when every party cosigns.
func (l *Log) Append(ctx context.Context, data []byte) (uint64, Checkpoint, error) {
	if _, err := entry.Parse(data); err != nil {
		return 0, Checkpoint{}, fmt.Errorf("%w: %w", ErrInvalidEntry, err)
	}
	if l.bg.Err() != nil {
		return 0, Checkpoint{}, fmt.Errorf("%w: appending to %s", ErrClosed, l.cfg.Dir)
	}
	l.transport.refs.nudge()
	future := l.appender.Add(ctx, tessera.NewEntry(data))
	idx, err := future() // durable once it resolves; memoized, so Await reuses it
	if err != nil {
		return 0, Checkpoint{}, fmt.Errorf("appending to log %s: %w", l.cfg.Dir, err)
	}
	var raw []byte
	for {
		_, raw, err = l.awaiter.Await(ctx, future)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return idx.Index, Checkpoint{}, l.notPublished(idx.Index, err)
		}
		if l.bg.Err() != nil {
			return idx.Index, Checkpoint{}, fmt.Errorf("%w while waiting to publish index %d: %w", ErrClosed, idx.Index, ErrNotPublished)
		}
		// A failed checkpoint read releases every waiter; wait for the next poll.
		select {
		case <-ctx.Done():
			return idx.Index, Checkpoint{}, l.notPublished(idx.Index, ctx.Err())
		case <-l.bg.Done():
		case <-time.After(l.cfg.PollInterval):
		}
	}
	cp, err := l.parse(raw)
	if err != nil {
		return idx.Index, Checkpoint{}, err
	}
	p, err := l.inclusionProof(ctx, idx.Index, cp.Size)
	if err != nil {
		return idx.Index, Checkpoint{}, err
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx.Index, cp.Size, rfc6962.DefaultHasher.HashLeaf(data), p, cp.Root); err != nil {
		return idx.Index, Checkpoint{}, fmt.Errorf("%w: entry at index %d not provable in checkpoint size %d: %v", ErrCorrupt, idx.Index, cp.Size, err)
	}
	return idx.Index, cp, nil
}

func (l *Log) notPublished(index uint64, err error) error {
	who := l.transport.refusals()
	if who == "" {
		who = "no cosigner refusal recorded"
	}
	return fmt.Errorf("%w: index %d: %w (%s)", ErrNotPublished, index, err, who)
}

func (l *Log) parse(raw []byte) (Checkpoint, error) {
	if last := l.lastCP.Load(); last != nil && bytes.Equal(last.Raw, raw) {
		return *last, nil
	}
	cp, err := checkpoint.Parse(raw, l.cfg.Origin, l.cfg.Verifier, l.verifiers...)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: published checkpoint in %s: %w", ErrCorrupt, l.cfg.Dir, err)
	}
	l.lastCP.Store(&cp)
	return cp, nil
}

// Checkpoint returns the latest published checkpoint, verified to carry the
// log's signature and every cosignature.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	raw, err := l.reader.ReadCheckpoint(ctx)
	if errors.Is(err, os.ErrNotExist) {
		return Checkpoint{}, fmt.Errorf("%w in %s", ErrNoCheckpoint, l.cfg.Dir)
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("reading checkpoint of %s: %w", l.cfg.Dir, err)
	}
	return l.parse(raw)
}

// InclusionProof returns the RFC 6962 inclusion proof of the entry at
// index in the tree of the given size (at most the published size).
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	if err := l.checkSize(ctx, size); err != nil {
		return nil, err
	}
	if index >= size {
		return nil, fmt.Errorf("inclusion proof: index %d is not below size %d", index, size)
	}
	return l.inclusionProof(ctx, index, size)
}

func (l *Log) inclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	l.proofMu.Lock()
	defer l.proofMu.Unlock()
	if l.proofs == nil || l.proofSize != size {
		pb, err := client.NewProofBuilder(ctx, size, l.reader.ReadTile)
		if err != nil {
			return nil, fmt.Errorf("inclusion proof for %d in %d: %w", index, size, err)
		}
		l.proofs, l.proofSize = pb, size
	}
	p, err := l.proofs.InclusionProof(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof for %d in %d: %w", index, size, err)
	}
	return p, nil
}

// ConsistencyProof returns the RFC 6962 consistency proof from tree size
// oldSize to newSize (newSize at most the published size).
func (l *Log) ConsistencyProof(ctx context.Context, oldSize, newSize uint64) ([][]byte, error) {
	if oldSize > newSize {
		return nil, fmt.Errorf("consistency proof: old size %d above new size %d", oldSize, newSize)
	}
	if err := l.checkSize(ctx, newSize); err != nil {
		return nil, err
	}
	pb, err := client.NewProofBuilder(ctx, newSize, l.reader.ReadTile)
	if err != nil {
		return nil, fmt.Errorf("consistency proof %d→%d: %w", oldSize, newSize, err)
	}
	p, err := pb.ConsistencyProof(ctx, oldSize, newSize)
	if err != nil {
		return nil, fmt.Errorf("consistency proof %d→%d: %w", oldSize, newSize, err)
	}
	return p, nil
}

// ReadEntry returns the raw entry at index, which must be below the
// published size. The caller verifies it against a checkpoint with
// InclusionProof if it does not trust the log directory.
func (l *Log) ReadEntry(ctx context.Context, index uint64) ([]byte, error) {
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	if index >= cp.Size {
		return nil, fmt.Errorf("%w: entry %d, published size %d", ErrBeyondCheckpoint, index, cp.Size)
	}
	bundleIndex := index / layout.EntryBundleWidth
	b, err := client.GetEntryBundle(ctx, l.reader.ReadEntryBundle, bundleIndex, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("reading entry %d: %w", index, err)
	}
	i := index % layout.EntryBundleWidth
	if i >= uint64(len(b.Entries)) {
		return nil, fmt.Errorf("%w: bundle %s holds %d entries, entry %d missing",
			ErrCorrupt, layout.EntriesPathForLogIndex(index, cp.Size), len(b.Entries), index)
	}
	return b.Entries[i], nil
}

func (l *Log) checkSize(ctx context.Context, size uint64) error {
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return err
	}
	if size > cp.Size {
		return fmt.Errorf("%w: size %d, published size %d", ErrBeyondCheckpoint, size, cp.Size)
	}
	return nil
}

// Receipt returns a C2SP tlog-proof receipt for the entry at index in the
// latest published checkpoint; see audit.Receipt and audit.CheckReceipt.
func (l *Log) Receipt(ctx context.Context, index uint64) ([]byte, error) {
	return audit.Receipt(ctx, audit.DirFetcher(l.cfg.Dir), l.cfg.Verifier, l.verifiers, l.cfg.Origin, index)
}
