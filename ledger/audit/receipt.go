package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/mpcq/mpcq/ledger/checkpoint"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/transparency-dev/formats/proof"
	mproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// MaxReceiptSize bounds a receipt accepted by CheckReceipt.
const MaxReceiptSize = 128 << 10

// ErrReceipt means a receipt is malformed, its checkpoint does not verify,
// or its inclusion proof does not prove its entry.
var ErrReceipt = errors.New("receipt does not verify")

// Receipt builds a C2SP tlog-proof receipt for the entry at index: the
// inclusion proof in the current checkpoint (verified with its
// cosignatures), that checkpoint, and the entry bytes as the proof's extra
// data. The receipt is checked before it is returned.
func Receipt(ctx context.Context, fetch Fetcher, logVerifier note.Verifier, cosigners []note.Verifier, origin string, index uint64) ([]byte, error) {
	cp, err := fetchCheckpoint(fetch, logVerifier, cosigners, origin)
	if err != nil {
		return nil, err
	}
	if index >= cp.Size {
		return nil, fmt.Errorf("receipt: entry %d is not below the checkpoint size %d", index, cp.Size)
	}
	ri := index / layout.EntryBundleWidth
	path, entries, err := fetchBundle(fetch, ri, layout.PartialTileSize(0, ri, cp.Size))
	if err != nil {
		return nil, err
	}
	e := entries[index%layout.EntryBundleWidth]
	// The receipt parser reads lines of at most bufio.MaxScanTokenSize.
	if base64.StdEncoding.EncodedLen(len(e))+len("extra ") >= bufio.MaxScanTokenSize {
		return nil, fmt.Errorf("receipt: entry %d is %d bytes, too large to carry in a tlog-proof extra line", index, len(e))
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, tileFetcher(fetch))
	if err != nil {
		return nil, err
	}
	hashes, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return nil, failAt(index, path, fmt.Errorf("building inclusion proof: %w", err))
	}
	p := proof.TLogProof{Index: index, Checkpoint: cp.Raw, ExtraData: e}
	for _, h := range hashes {
		if len(h) != sha256.Size {
			return nil, failAt(index, "", fmt.Errorf("%w: proof hash of %d bytes", ErrCorrupt, len(h)))
		}
		p.Hashes = append(p.Hashes, [sha256.Size]byte(h))
	}
	raw := p.Marshal()
	if _, err := CheckReceipt(raw, logVerifier, cosigners); err != nil {
		return nil, failAt(index, path, fmt.Errorf("%w: the log's own data does not prove entry %d: %w", ErrCorrupt, index, err))
	}
	return raw, nil
}

// tileFetcher adapts a Fetcher to tessera's client.TileFetcherFunc,
// falling back from a missing partial tile to the full one.
func tileFetcher(fetch Fetcher) client.TileFetcherFunc {
	return func(_ context.Context, level, index uint64, p uint8) ([]byte, error) {
		raw, err := fetch(layout.TilePath(level, index, p))
		if p > 0 && notExist(err) {
			raw, err = fetch(layout.TilePath(level, index, 0))
		}
		return raw, err
	}
}

// Receipted is what a verified receipt proves.
type Receipted struct {
	// Index is the entry's position in the log.
	Index uint64
	// Raw is the entry's bytes and Entry its parsed form.
	Raw   []byte
	Entry entry.Entry
	// Checkpoint is the cosigned checkpoint the entry is proven in.
	Checkpoint checkpoint.Checkpoint
	// Proof is the RFC 6962 inclusion proof of the entry in Checkpoint.
	Proof [][]byte
}

// CheckReceipt verifies a receipt offline: it must be a canonical C2SP
// tlog-proof whose checkpoint is signed by logVerifier (origin
// logVerifier.Name()) and cosigned by every verifier in cosigners, whose
// extra data is a valid ledger entry, and whose inclusion proof proves that
// entry at its index.
func CheckReceipt(receipt []byte, logVerifier note.Verifier, cosigners []note.Verifier) (Receipted, error) {
	if logVerifier == nil {
		return Receipted{}, fmt.Errorf("%w: no log verifier given", ErrReceipt)
	}
	if len(receipt) > MaxReceiptSize {
		return Receipted{}, fmt.Errorf("%w: %d bytes, limit %d", ErrReceipt, len(receipt), MaxReceiptSize)
	}
	var p proof.TLogProof
	if err := p.Unmarshal(receipt); err != nil {
		return Receipted{}, fmt.Errorf("%w: %v", ErrReceipt, err)
	}
	if !bytes.Equal(p.Marshal(), receipt) {
		return Receipted{}, fmt.Errorf("%w: not in canonical tlog-proof form", ErrReceipt)
	}
	if p.ExtraData == nil {
		return Receipted{}, fmt.Errorf("%w: no entry in the extra line", ErrReceipt)
	}
	e, err := entry.Parse(p.ExtraData)
	if err != nil {
		return Receipted{}, fmt.Errorf("%w: entry: %w", ErrReceipt, err)
	}
	cp, err := checkpoint.Parse(p.Checkpoint, logVerifier.Name(), logVerifier, cosigners...)
	if err != nil {
		return Receipted{}, fmt.Errorf("%w: %w", ErrReceipt, err)
	}
	hashes := make([][]byte, len(p.Hashes))
	for i := range p.Hashes {
		hashes[i] = p.Hashes[i][:]
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(p.ExtraData)
	if err := mproof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, cp.Size, leaf, hashes, cp.Root); err != nil {
		return Receipted{}, fmt.Errorf("%w: entry %d not proven in checkpoint size %d: %v", ErrReceipt, p.Index, cp.Size, err)
	}
	return Receipted{Index: p.Index, Raw: p.ExtraData, Entry: e, Checkpoint: cp, Proof: hashes}, nil
}
