// Package audit verifies a copy of the ledger offline and issues and
// checks per-entry receipts.
//
// Verify reads the C2SP tlog-tiles layout through a Fetcher (a directory
// copy or HTTP), checks the checkpoint's log signature and every required
// cosignature, recomputes the whole Merkle tree from every entry with
// github.com/transparency-dev/merkle's compact range (no hashing of its
// own), compares every stored tile with the recomputed hashes, parses
// every entry, checks the order rules (a RESULT follows its QUERY, no
// query ID is reused) and, given the archive, opens every QUERY's
// commitments and, given the consortium CA (WithRequestCA), checks who
// asked: each archived analyst's signed request. Given the consortium CA
// (WithCA), it also verifies every POLICY entry (a party's signed policy:
// certificate, signature, canonical content, increasing versions), every
// REVOCATION (signed by the revoked warrant's authorizer) and, given the
// archive, every QUERY's archived warrant (its hash and signature). The
// first problem is returned as an *Error naming the file
// and entry index at fault.
//
// Receipt and CheckReceipt produce and verify C2SP tlog-proof receipts
// (github.com/transparency-dev/formats/proof) that carry the entry itself,
// so one file proves offline that an entry is in a cosigned checkpoint.
//
// The package only reads. It is not the log writer (package ledger) and
// does not contact parties.
package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/checkpoint"
	"github.com/mpcq/mpcq/ledger/entry"
	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"
)

var (
	// ErrCheckpoint means the checkpoint is missing, malformed, not signed
	// by the log, for another origin, or lacks a valid required cosignature.
	ErrCheckpoint = errors.New("checkpoint does not verify")
	// ErrMissing means a tile or entry bundle the checkpoint implies is absent.
	ErrMissing = errors.New("log resource missing")
	// ErrCorrupt means stored data disagrees with the signed checkpoint: an
	// entry bundle or tile is unreadable, has the wrong number of items, or
	// its contents do not hash to the checkpoint's root.
	ErrCorrupt = errors.New("log data corrupt")
	// ErrEntry means an entry does not parse as a ledger entry.
	ErrEntry = errors.New("invalid ledger entry")
	// ErrOrder means the entries break a ledger rule: a RESULT without an
	// earlier QUERY, a second RESULT for a query, or a reused query ID.
	ErrOrder = errors.New("ledger order rule violated")
	// ErrOpening means an archived opening is missing or does not open the
	// QUERY's commitments.
	ErrOpening = errors.New("query commitment not opened")
	// ErrRequest means an archived analyst's signed request does not verify
	// under the consortium CA or does not sign what the QUERY entry commits
	// (archive.Record.CheckRequest): another analyst, key, text or purpose.
	ErrRequest = errors.New("archived signed request does not verify")
)

// Error locates an audit failure. errors.Is(err, ErrCorrupt) etc. work
// through Unwrap.
type Error struct {
	// Path is the resource at fault ("checkpoint", "tile/entries/000", ...),
	// or "" when the problem is not in one file.
	Path string
	// Index is the entry index at fault when HasIndex is set.
	Index    uint64
	HasIndex bool
	// Err wraps one of the package's sentinel errors.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b bytes.Buffer
	b.WriteString("ledger audit: ")
	if e.HasIndex {
		fmt.Fprintf(&b, "entry %d: ", e.Index)
	}
	if e.Path != "" {
		fmt.Fprintf(&b, "%s: ", e.Path)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

func fail(path string, err error) *Error { return &Error{Path: path, Err: err} }

func failAt(index uint64, path string, err error) *Error {
	return &Error{Path: path, Index: index, HasIndex: true, Err: err}
}

// Openings gives the archived opening of a query; *archive.Archive
// implements it. Get must wrap archive.ErrNotFound for an unknown ID.
type Openings interface {
	Get(queryID string) (archive.Record, error)
}

// Option adjusts Verify.
type Option func(*options)

type options struct {
	openings Openings
	visit    func(index uint64, e entry.Entry)
	// caPEM is the consortium CA (WithCA or WithRequestCA).
	caPEM []byte
}

// WithVisitor calls visit for every entry that parses, in index order, as
// Verify reads them (mpcaudit show lists queries this way). Whether the
// log verifies is known only when Verify returns.
func WithVisitor(visit func(index uint64, e entry.Entry)) Option {
	return func(opts *options) { opts.visit = visit }
}

// WithOpenings makes Verify open every QUERY's commitments from o.
func WithOpenings(o Openings) Option { return func(opts *options) { opts.openings = o } }

// WithRequestCA makes Verify, with WithOpenings, check every opened
// QUERY's archived signed request against the consortium CA certificate
// caPEM (archive.Record.CheckRequest): one that does not verify, or signs
// for another analyst, key, text or purpose, fails the audit at the
// QUERY's index. A record without a signed request (from before analysts
// signed, or stripped) is a warning.
func WithRequestCA(caPEM []byte) Option { return WithCA(caPEM) }

// Cosignature is one verified cosignature on the audited checkpoint.
type Cosignature struct {
	Name string
	// Time is the timestamp the cosigner put in its cosignature/v1 signature.
	Time time.Time
}

// Report summarises a successful audit.
type Report struct {
	Origin string
	Size   uint64
	Root   []byte
	// Checkpoint is the audited checkpoint note.
	Checkpoint   []byte
	Cosignatures []Cosignature
	// Counts is the number of entries of each type.
	Counts map[entry.Type]uint64
	// OpenQueries lists QUERY IDs with neither a RESULT nor a FAILURE yet.
	OpenQueries []string
	// OpeningsChecked counts QUERY entries whose commitments were opened.
	OpeningsChecked int
	// WarrantsChecked counts QUERY entries whose archived warrant was
	// checked against the entry's warrant hash and verified.
	WarrantsChecked int
	// Warnings lists findings that are not violations: a QUERY on an epoch
	// or parameter set not logged before it, a FAILURE naming an unlogged query.
	Warnings []string
}

// Verify audits the log readable through fetch against the checkpoint at
// "checkpoint", which must be signed by logVerifier for origin and carry a
// valid cosignature by every verifier in cosigners. See the package
// comment for what is checked; the first failure is returned as an *Error.
func Verify(ctx context.Context, fetch Fetcher, logVerifier note.Verifier, cosigners []note.Verifier, origin string, opts ...Option) (Report, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cp, err := fetchCheckpoint(fetch, logVerifier, cosigners, origin)
	if err != nil {
		return Report{}, err
	}
	rep := Report{
		Origin: cp.Origin, Size: cp.Size, Root: cp.Root, Checkpoint: cp.Raw,
		Counts: make(map[entry.Type]uint64),
	}
	for _, c := range cosigners {
		for _, s := range cp.Note.Sigs {
			if s.Name == c.Name() && s.Hash == c.KeyHash() {
				ts, err := fnote.CoSigV1Timestamp(s)
				if err != nil {
					return Report{}, fail(layout.CheckpointPath, fmt.Errorf("%w: cosignature by %q has no timestamp: %v", ErrCheckpoint, c.Name(), err))
				}
				rep.Cosignatures = append(rep.Cosignatures, Cosignature{Name: c.Name(), Time: ts})
			}
		}
	}

	t := newTreeCheck(fetch, cp.Size)
	rules := newRules(o.openings)
	rules.caPEM = o.caPEM
	for ri := range layout.Range(0, cp.Size, cp.Size) {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		path, entries, err := fetchBundle(fetch, ri.Index, ri.Partial)
		if err != nil {
			return Report{}, err
		}
		for i, e := range entries {
			index := ri.Index*layout.EntryBundleWidth + uint64(i)
			if err := t.add(index, path, e); err != nil {
				return Report{}, err
			}
			rules.check(index, path, e)
			if o.visit != nil {
				if parsed, err := entry.Parse(e); err == nil {
					o.visit(index, parsed)
				}
			}
		}
	}
	if err := t.finish(cp.Root); err != nil {
		return Report{}, err
	}
	if rules.err != nil {
		return Report{}, rules.err
	}
	rep.Counts = rules.counts
	rep.OpeningsChecked = rules.opened
	rep.WarrantsChecked = rules.warrantsChecked
	rep.Warnings = rules.warnings
	for id, st := range rules.queries {
		if !st.done {
			rep.OpenQueries = append(rep.OpenQueries, id)
		}
	}
	sort.Strings(rep.OpenQueries)
	return rep, nil
}

func fetchCheckpoint(fetch Fetcher, logVerifier note.Verifier, cosigners []note.Verifier, origin string) (checkpoint.Checkpoint, error) {
	raw, err := fetch(layout.CheckpointPath)
	if err != nil {
		if notExist(err) {
			return checkpoint.Checkpoint{}, fail(layout.CheckpointPath, fmt.Errorf("%w: %w: %v", ErrCheckpoint, ErrMissing, err))
		}
		return checkpoint.Checkpoint{}, fail(layout.CheckpointPath, fmt.Errorf("%w: reading: %v", ErrCheckpoint, err))
	}
	cp, err := checkpoint.Parse(raw, origin, logVerifier, cosigners...)
	if err != nil {
		return checkpoint.Checkpoint{}, fail(layout.CheckpointPath, fmt.Errorf("%w: %w", ErrCheckpoint, err))
	}
	return cp, nil
}

// fetchPartial reads path; a missing partial resource (partial > 0) falls
// back to the full one at full. It returns the path actually read.
func fetchPartial(fetch Fetcher, path, full string, partial uint8, what string) (string, []byte, error) {
	raw, err := fetch(path)
	if partial > 0 && notExist(err) {
		if raw, err = fetch(full); err == nil {
			path = full
		} else if notExist(err) {
			return path, nil, fail(path, fmt.Errorf("%w: neither %s nor %s exists", ErrMissing, path, full))
		}
	}
	if err != nil {
		if notExist(err) {
			return path, nil, fail(path, fmt.Errorf("%w: %s: %v", ErrMissing, what, err))
		}
		return path, nil, fail(path, fmt.Errorf("reading %s: %w", what, err))
	}
	return path, raw, nil
}

// fetchBundle returns the path read and the entries of bundle index, which
// holds partial entries (0 = a full bundle of 256). A missing partial
// bundle falls back to the full one, of which the first partial entries
// are used, as tlog-tiles clients do.
func fetchBundle(fetch Fetcher, index uint64, partial uint8) (string, [][]byte, error) {
	path, raw, err := fetchPartial(fetch, layout.EntriesPath(index, partial), layout.EntriesPath(index, 0), partial, "entry bundle")
	if err != nil {
		return path, nil, err
	}
	want := int(partial)
	var b api.EntryBundle
	if err := b.UnmarshalText(raw); err != nil {
		return path, nil, fail(path, fmt.Errorf("%w: entry bundle does not parse: %v", ErrCorrupt, err))
	}
	full := path == layout.EntriesPath(index, 0)
	if full {
		if len(b.Entries) != layout.EntryBundleWidth {
			return path, nil, fail(path, fmt.Errorf("%w: full entry bundle holds %d entries, want %d", ErrCorrupt, len(b.Entries), layout.EntryBundleWidth))
		}
		if want == 0 {
			want = layout.EntryBundleWidth
		}
	} else if len(b.Entries) != want {
		return path, nil, fail(path, fmt.Errorf("%w: partial entry bundle holds %d entries, want %d", ErrCorrupt, len(b.Entries), want))
	}
	return path, b.Entries[:want], nil
}

// fetchTile returns the path read and the hashes of tile (level, index)
// holding partial hashes (0 = full), with the same fallback as fetchBundle.
func fetchTile(fetch Fetcher, level, index uint64, partial uint8) (string, [][]byte, error) {
	path, raw, err := fetchPartial(fetch, layout.TilePath(level, index, partial), layout.TilePath(level, index, 0), partial, "tile")
	if err != nil {
		return path, nil, err
	}
	var t api.HashTile
	if err := t.UnmarshalText(raw); err != nil {
		return path, nil, fail(path, fmt.Errorf("%w: tile does not parse: %v", ErrCorrupt, err))
	}
	want := int(partial)
	if path == layout.TilePath(level, index, 0) {
		if len(t.Nodes) != layout.TileWidth {
			return path, nil, fail(path, fmt.Errorf("%w: full tile holds %d hashes, want %d", ErrCorrupt, len(t.Nodes), layout.TileWidth))
		}
		if want == 0 {
			want = layout.TileWidth
		}
	} else if len(t.Nodes) != want {
		return path, nil, fail(path, fmt.Errorf("%w: partial tile holds %d hashes, want %d", ErrCorrupt, len(t.Nodes), want))
	}
	return path, t.Nodes[:want], nil
}

// treeCheck recomputes the tree from the entries with a compact range and
// compares every stored tile hash (the perfect-subtree nodes at tree
// levels 0, 8, 16, ...) with the recomputed one, one tile at a time.
type treeCheck struct {
	fetch Fetcher
	size  uint64
	rng   *compact.Range
	// pending holds the recomputed hashes of the tile being filled at each
	// tile level, and where they came from.
	pending map[uint64]*pendingTile
	// first disagreement between a stored tile and the entries.
	mismatch *Error
	fetchErr error
}

type pendingTile struct {
	index  uint64 // tile index
	hashes [][]byte
	// firstEntry is the index of the first entry covered by the tile and
	// bundlePath the bundle it was read from, for error messages.
	firstEntry uint64
	bundlePath string
}

func newTreeCheck(fetch Fetcher, size uint64) *treeCheck {
	f := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	return &treeCheck{fetch: fetch, size: size, rng: f.NewEmptyRange(0), pending: make(map[uint64]*pendingTile)}
}

func (t *treeCheck) add(index uint64, bundlePath string, e []byte) error {
	leaf := rfc6962.DefaultHasher.HashLeaf(e)
	err := t.rng.Append(leaf, func(id compact.NodeID, hash []byte) {
		if id.Level%layout.TileHeight != 0 {
			return
		}
		level := uint64(id.Level / layout.TileHeight)
		p := t.pending[level]
		if p == nil {
			p = &pendingTile{index: id.Index / layout.TileWidth}
			t.pending[level] = p
		}
		if len(p.hashes) == 0 {
			p.firstEntry, p.bundlePath = index, bundlePath
		}
		p.hashes = append(p.hashes, hash)
		if len(p.hashes) == layout.TileWidth {
			t.compare(level, p, 0)
			t.pending[level] = &pendingTile{index: p.index + 1}
		}
	})
	if err != nil {
		return failAt(index, bundlePath, fmt.Errorf("recomputing tree: %w", err))
	}
	return t.fetchErr
}

// compare checks the stored tile against p's recomputed hashes, keeping
// the first mismatch; fetch and parse failures are returned at once.
func (t *treeCheck) compare(level uint64, p *pendingTile, partial uint8) {
	if t.fetchErr != nil {
		return
	}
	path, stored, err := fetchTile(t.fetch, level, p.index, partial)
	if err != nil {
		t.fetchErr = err
		return
	}
	if t.mismatch != nil {
		return
	}
	for i, h := range p.hashes {
		if !bytes.Equal(stored[i], h) {
			nodeIndex := p.index*layout.TileWidth + uint64(i)
			span := uint64(1) << (level * layout.TileHeight)
			first := nodeIndex * span
			t.mismatch = failAt(first, path, fmt.Errorf(
				"%w: stored hash %d (tree level %d, covering entries %d..%d) differs from the hash recomputed from the entries",
				ErrCorrupt, i, level*layout.TileHeight, first, first+span-1))
			return
		}
	}
}

// finish checks the partial tiles on the right edge and the root.
func (t *treeCheck) finish(wantRoot []byte) error {
	if t.fetchErr != nil {
		return t.fetchErr
	}
	levels := make([]uint64, 0, len(t.pending))
	for l := range t.pending {
		levels = append(levels, l)
	}
	sort.Slice(levels, func(i, j int) bool { return levels[i] < levels[j] })
	for _, l := range levels {
		p := t.pending[l]
		if len(p.hashes) == 0 {
			continue
		}
		w := layout.PartialTileSize(l, p.index, t.size)
		if int(w) != len(p.hashes) {
			return fail(layout.TilePath(l, p.index, w), fmt.Errorf("%w: internal error: %d hashes recomputed for a tile of width %d", ErrCorrupt, len(p.hashes), w))
		}
		t.compare(l, p, w)
		if t.fetchErr != nil {
			return t.fetchErr
		}
	}
	root, err := t.rng.GetRootHash(nil)
	if err != nil {
		return fail("", fmt.Errorf("%w: computing root: %v", ErrCorrupt, err))
	}
	if t.size == 0 {
		root = rfc6962.DefaultHasher.EmptyRoot()
	}
	if !bytes.Equal(root, wantRoot) {
		e := &Error{Err: fmt.Errorf("%w: the %d entries hash to root %x, the checkpoint says %x", ErrCorrupt, t.size, root, wantRoot)}
		if m := t.mismatch; m != nil {
			// The entries are wrong; the first tile disagreeing with them
			// points at them. Name the bundle holding the first entry covered.
			bundle := layout.EntriesPathForLogIndex(m.Index, t.size)
			e = failAt(m.Index, bundle, fmt.Errorf("%w: entries do not hash to the checkpoint root; first disagreement with the stored tiles is in %s at entry %d",
				ErrCorrupt, m.Path, m.Index))
		}
		return e
	}
	if t.mismatch != nil {
		// The entries match the signed root, so the tile is what is corrupt.
		return t.mismatch
	}
	return nil
}

// queryState tracks one query ID through the log.
type queryState struct {
	index  uint64
	result bool
	done   bool
}

// rules applies the ledger's order rules and opening checks, keeping the
// first violation.
type rules struct {
	openings Openings
	counts   map[entry.Type]uint64
	queries  map[string]*queryState
	epochs   map[uint64]bool
	// epochInfo holds every EPOCH seen, for checking incremental ones
	// against the epoch they extend.
	epochInfo map[uint64]entry.Epoch
	params    map[string]bool
	opened    int
	warnings  []string
	err       error

	// caPEM is the consortium CA (nil: certificates are not chained, and
	// archived signed requests are not checked).
	caPEM           []byte
	priv            privacyState
	warrantsChecked int
}

func newRules(o Openings) *rules {
	return &rules{openings: o, counts: make(map[entry.Type]uint64), queries: make(map[string]*queryState),
		epochs: make(map[uint64]bool), epochInfo: make(map[uint64]entry.Epoch), params: make(map[string]bool), priv: newPrivacyState()}
}

func (r *rules) check(index uint64, path string, raw []byte) {
	if r.err != nil {
		return
	}
	e, err := entry.Parse(raw)
	if err != nil {
		r.err = failAt(index, path, fmt.Errorf("%w: %w", ErrEntry, err))
		return
	}
	r.counts[e.Type()]++
	switch v := e.(type) {
	case entry.Ceremony:
		r.params[v.ParamSet] = true
	case entry.Epoch:
		if err := r.checkEpoch(v); err != nil {
			r.err = failAt(index, path, err)
			return
		}
		r.epochs[v.EpochID] = true
		r.epochInfo[v.EpochID] = v
	case entry.Query:
		if prev, ok := r.queries[v.QueryID]; ok {
			r.err = failAt(index, path, fmt.Errorf("%w: QUERY %q reuses the ID of the QUERY at index %d", ErrOrder, v.QueryID, prev.index))
			return
		}
		r.queries[v.QueryID] = &queryState{index: index}
		if !r.epochs[v.EpochID] {
			r.warnings = append(r.warnings, fmt.Sprintf("entry %d: QUERY %q uses epoch %d, not logged before it", index, v.QueryID, v.EpochID))
		}
		if !r.params[v.ParamSet] {
			r.warnings = append(r.warnings, fmt.Sprintf("entry %d: QUERY %q uses parameter set %q, no CEREMONY for it logged before", index, v.QueryID, v.ParamSet))
		}
		var archived *archive.Record
		if r.openings != nil {
			rec, err := r.openings.Get(v.QueryID)
			if err == nil {
				err = rec.Check(v)
			}
			if err != nil {
				r.err = failAt(index, path, fmt.Errorf("%w: QUERY %q: %w", ErrOpening, v.QueryID, err))
				return
			}
			r.opened++
			if r.caPEM != nil {
				if len(rec.Signed.Request) == 0 {
					r.warnings = append(r.warnings, fmt.Sprintf("entry %d: QUERY %q has no signed request archived: who asked is not proven", index, v.QueryID))
				} else if err := rec.CheckRequest(v, r.caPEM); err != nil {
					r.err = failAt(index, path, fmt.Errorf("%w: QUERY %q: %w", ErrRequest, v.QueryID, err))
					return
				}
			}
			archived = &rec
		}
		r.checkQueryWarrant(index, path, v, archived)
	case entry.Result:
		q, ok := r.queries[v.QueryID]
		switch {
		case !ok:
			r.err = failAt(index, path, fmt.Errorf("%w: RESULT for query %q, which no earlier QUERY entry declares", ErrOrder, v.QueryID))
			return
		case q.result:
			r.err = failAt(index, path, fmt.Errorf("%w: second RESULT for query %q (QUERY at index %d)", ErrOrder, v.QueryID, q.index))
			return
		}
		q.result, q.done = true, true
	case entry.Failure:
		if v.QueryID == "" {
			break
		}
		if q, ok := r.queries[v.QueryID]; ok {
			q.done = true
		} else {
			r.warnings = append(r.warnings, fmt.Sprintf("entry %d: FAILURE names query %q, not logged before it", index, v.QueryID))
		}
	case entry.Policy:
		r.checkPolicy(index, path, v)
	case entry.Revocation:
		r.checkRevocation(index, path, v)
	}
}

// checkEpoch checks an incremental EPOCH against the epoch it extends,
// which must be logged before it: the same parties, each party's set size
// its previous size plus its added rows minus its removed ones, and a
// union that grew by at most the rows added (new people get new slots,
// kept people keep theirs, removed people's slots stay).
func (r *rules) checkEpoch(e entry.Epoch) error {
	if e.Previous == 0 {
		return nil
	}
	prev, ok := r.epochInfo[e.Previous]
	if !ok {
		return fmt.Errorf("%w: incremental EPOCH %d extends epoch %d, not logged before it", ErrOrder, e.EpochID, e.Previous)
	}
	if len(prev.SetSizes) != len(e.SetSizes) {
		return fmt.Errorf("%w: EPOCH %d has %d parties, the epoch %d it extends %d", ErrOrder, e.EpochID, len(e.SetSizes), e.Previous, len(prev.SetSizes))
	}
	var added uint64
	for i, c := range e.Changes {
		p := prev.SetSizes[i]
		if p.Party != c.Party {
			return fmt.Errorf("%w: EPOCH %d lists party %q where epoch %d lists %q", ErrOrder, e.EpochID, c.Party, e.Previous, p.Party)
		}
		if c.Removed > p.Size || p.Size-c.Removed+c.Added != e.SetSizes[i].Size {
			return fmt.Errorf("%w: EPOCH %d: party %q held %d rows, added %d and removed %d, but holds %d",
				ErrOrder, e.EpochID, c.Party, p.Size, c.Added, c.Removed, e.SetSizes[i].Size)
		}
		added += c.Added
	}
	if e.UnionSize < prev.UnionSize || e.UnionSize-prev.UnionSize > added {
		return fmt.Errorf("%w: EPOCH %d: union of %d slots after %d, with %d rows added in all",
			ErrOrder, e.EpochID, e.UnionSize, prev.UnionSize, added)
	}
	return nil
}
