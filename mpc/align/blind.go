package align

import (
	"context"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/cloudflare/circl/dh/x25519"
	"github.com/mpcq/mpcq/internal/pool"
)

// ElementSize is the length in bytes of an element: the little-endian
// u-coordinate of a point on Curve25519 (RFC 7748), the form in which hashed
// ids, blinded ids and pseudonyms travel.
const ElementSize = 32

// hashDomain separates this package's hash-to-curve from every other use of
// SHA-512 over person ids. It is followed by a 0x00 byte and the id. v1 was
// the ristretto255 blinding; v2 maps to Curve25519's u-coordinate and blinds
// with X25519, so a v1 pseudonym never equals a v2 one.
const hashDomain = "mpcq/align/v2"

// blockSize is how many elements a worker takes at a time; the context is
// checked between blocks.
const blockSize = 256

// ErrBadElement is wrapped when an element to blind is not a canonical
// 32-byte u-coordinate (below p = 2^255-19), or is a low-order point whose
// blinding is all zeros.
var ErrBadElement = errors.New("align: bad element")

// ErrBadKey is wrapped when a blinding key is nil or erased, when an encoded
// key has the wrong length or version (ErrOldKey), or when a signing key has
// the wrong length.
var ErrBadKey = errors.New("align: bad key")

// ErrOldKey is wrapped (with ErrBadKey) when DecodeKey is given a key written
// by the ristretto255 blinding (mpcq/align/v1): it cannot blind v2 elements,
// and the lineage it belongs to must be realigned in full.
var ErrOldKey = errors.New("align: blinding key from the ristretto255 (v1) alignment")

// Key is a party's secret X25519 blinding scalar for one epoch. Draw a fresh
// one per epoch with NewKey and Erase it when the epoch's lists are blinded.
// A Key never prints its value: every fmt verb renders it as
// "align.Key(redacted)".
//
// X25519 clamps the 32 bytes (RFC 7748 section 5): bit 254 set, the low three
// bits clear. Clamped scalars are multiples of the cofactor 8, so the
// blinding sends every point to the prime-order subgroup (of the curve, or of
// its twist for a hostile twist u) and removes any small-order component.
type Key struct {
	s [32]byte
}

// NewKey draws 32 uniformly random bytes from random (crypto/rand when
// random is nil).
func NewKey(random io.Reader) (*Key, error) {
	if random == nil {
		random = rand.Reader
	}
	k := &Key{}
	if _, err := io.ReadFull(random, k.s[:]); err != nil {
		k.Erase()
		return nil, fmt.Errorf("align: reading 32 random bytes for a blinding key: %w", err)
	}
	if !k.valid() {
		return nil, fmt.Errorf("%w: the random source produced 32 zero bytes; check the random source", ErrBadKey)
	}
	return k, nil
}

// valid reports whether k is usable: non-nil and not zero (erased).
func (k *Key) valid() bool {
	return k != nil && k.s != [32]byte{}
}

// Erase overwrites the key with zero; an erased key is refused by BlindIDs
// and Blind. (The copies a blinding call makes for its workers are
// overwritten when the call returns.)
func (k *Key) Erase() {
	if k != nil {
		clear(k.s[:])
	}
}

// String returns "align.Key(redacted)", never the key.
func (Key) String() string { return "align.Key(redacted)" }

// GoString returns "align.Key(redacted)", never the key.
func (Key) GoString() string { return "align.Key(redacted)" }

// Format renders the key as "align.Key(redacted)" for every fmt verb, so that
// no verb (%d, %x, %+v, ...) can print the scalar.
func (Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "align.Key(redacted)") }

// private returns a copy of k for one worker of one blinding call; the
// caller clears it when the call ends.
func (k *Key) private() *x25519.Key {
	var c x25519.Key
	copy(c[:], k.s[:])
	return &c
}

// HashID maps a person id to its element H(id), the u-coordinate of a point
// on Curve25519: RFC 9496's hash-to-group (section 4.3.4, ristretto255's
// FromUniformBytes) of SHA-512("mpcq/align/v2" || 0x00 || id), computed on
// an edwards25519 representative and taken to Montgomery form (hashMap). It
// is exported for tests and audits; parties use BlindIDs, which never
// exposes H(id). The panic is unreachable: the map's points are on the
// curve by construction, which SetExtendedCoordinates checks.
func HashID(id string) []byte {
	out := make([]byte, ElementSize)
	var sum [64]byte
	if err := newHashMap().hashToU(out, hashID(sha512.New(), id, sum[:0])); err != nil {
		panic("align: the ristretto255 map left the curve: " + err.Error())
	}
	return out
}

// hashID returns SHA-512(domain || 0 || id), reusing h and the 64-byte
// scratch buffer sum.
func hashID(h hash.Hash, id string, sum []byte) []byte {
	h.Reset()
	_, _ = io.WriteString(h, hashDomain)
	_, _ = h.Write([]byte{0})
	_, _ = io.WriteString(h, id)
	return h.Sum(sum[:0])
}

// BlindIDs hashes every id to the curve (HashID) and blinds it with k
// (X25519), returning the 32-byte u-coordinates in the order of ids. The
// work is spread over workers goroutines (runtime.GOMAXPROCS(0) when
// workers < 1) and stops early, with ctx's error, when ctx is cancelled.
func BlindIDs(ctx context.Context, k *Key, ids []string, workers int) ([][]byte, error) {
	if !k.valid() {
		return nil, fmt.Errorf("%w: BlindIDs needs a key from NewKey that has not been erased", ErrBadKey)
	}
	out, buf := newOutput(len(ids))
	var privs privates
	defer privs.clear()
	err := parallel(ctx, len(ids), workers, func() func(int) error {
		priv := privs.add(k)
		h := sha512.New()
		var sum [64]byte
		m := newHashMap()
		var u [ElementSize]byte
		return func(i int) error {
			if err := m.hashToU(u[:], hashID(h, ids[i], sum[:0])); err != nil {
				return fmt.Errorf("align: id %d: hash-to-curve: %w", i, err)
			}
			return blindOne(priv, u[:], buf, out, i)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Blind blinds every element with k (X25519) and returns the results in the
// same order. An element that is not a canonical 32-byte u-coordinate, or
// that is a low-order point (its blinding is all zeros), makes Blind fail
// with an error wrapping ErrBadElement that names its index. Work is spread
// over workers goroutines as in BlindIDs, and honours ctx cancellation.
func Blind(ctx context.Context, k *Key, elems [][]byte, workers int) ([][]byte, error) {
	if !k.valid() {
		return nil, fmt.Errorf("%w: Blind needs a key from NewKey that has not been erased", ErrBadKey)
	}
	out, buf := newOutput(len(elems))
	var privs privates
	defer privs.clear()
	err := parallel(ctx, len(elems), workers, func() func(int) error {
		priv := privs.add(k)
		return func(i int) error {
			if err := checkElement(elems[i]); err != nil {
				return fmt.Errorf("%w: element %d (%d bytes) %w; the list is corrupt or was not produced by BlindIDs/Blind",
					ErrBadElement, i, len(elems[i]), err)
			}
			return blindOne(priv, elems[i], buf, out, i)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// privates are the per-worker copies of a key in one blinding call.
type privates struct {
	mu   sync.Mutex
	keys []*x25519.Key
}

// add returns a new copy of k, kept for clear.
func (p *privates) add(k *Key) *x25519.Key {
	c := k.private()
	p.mu.Lock()
	p.keys = append(p.keys, c)
	p.mu.Unlock()
	return c
}

// clear overwrites every copy with zeros.
func (p *privates) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.keys {
		clear(c[:])
	}
}

// blindOne sets out[i] (in buf) to X25519(priv, u), u canonical: the
// RFC 7748 function (clamped scalar, constant-time Montgomery ladder) of
// cloudflare/circl's dh/x25519, which refuses a low-order u (an all-zero
// result).
func blindOne(priv *x25519.Key, u, buf []byte, out [][]byte, i int) error {
	var pub, r x25519.Key
	copy(pub[:], u)
	if !x25519.Shared(&r, priv, &pub) {
		return fmt.Errorf("%w: element %d is a low-order point (its blinding is zero); the list was tampered with", ErrBadElement, i)
	}
	out[i] = append(buf[i*ElementSize:i*ElementSize:(i+1)*ElementSize], r[:]...)
	clear(r[:])
	return nil
}

// errNotCanonical and errWrongLength say why checkElement refused.
var (
	errWrongLength  = errors.New("is not 32 bytes")
	errNotCanonical = errors.New("is not a canonical u-coordinate (it is not below 2^255-19)")
)

// checkElement refuses anything but a canonical u-coordinate: 32 bytes,
// little-endian, below p = 2^255-19 (so the top bit is clear). X25519 itself
// would mask the top bit and reduce mod p, giving several encodings of one
// point; refusing them keeps pseudonyms unique. The value is public, so the
// check need not be constant time.
func checkElement(b []byte) error {
	if len(b) != ElementSize {
		return errWrongLength
	}
	if b[31] < 0x7f {
		return nil
	}
	if b[31] > 0x7f {
		return errNotCanonical
	}
	for i := 30; i >= 1; i-- {
		if b[i] != 0xff {
			return nil
		}
	}
	if b[0] >= 0xed {
		return errNotCanonical
	}
	return nil
}

// newOutput allocates n element slices backed by one array; each slice has
// capacity ElementSize so that appending to one never overwrites another.
func newOutput(n int) ([][]byte, []byte) {
	return make([][]byte, n), make([]byte, n*ElementSize)
}

// parallel runs do(i) for every i in [0, n), handing out blocks of blockSize
// indices to up to workers goroutines (internal/pool); newWorker is called
// once per goroutine to build its do function with private scratch state. It
// returns the error with the smallest index among those seen (work stops at
// the first error) or ctx's error if ctx is cancelled.
func parallel(ctx context.Context, n, workers int, newWorker func() func(int) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("align: blinding not started: %w", err)
	}
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	blocks := (n + blockSize - 1) / blockSize
	workers = min(workers, blocks)
	type failure struct {
		index int
		err   error
	}
	var (
		dos   = make([]func(int) error, workers)
		fails = make([]failure, workers)
		done  = make([]bool, blocks)
	)
	err := pool.Run(ctx, workers, blocks, func(_ context.Context, w, b int) error {
		if dos[w] == nil {
			dos[w] = newWorker()
		}
		start := b * blockSize
		for i := start; i < min(start+blockSize, n); i++ {
			if err := dos[w](i); err != nil {
				fails[w] = failure{i, err}
				return err
			}
		}
		done[b] = true
		return nil
	})
	var first *failure
	for i := range fails {
		if fails[i].err != nil && (first == nil || fails[i].index < first.index) {
			first = &fails[i]
		}
	}
	if first != nil {
		return first.err
	}
	if b := slices.Index(done, false); err != nil && b >= 0 {
		// Cancelled: name the first element not blinded.
		return fmt.Errorf("align: blinding stopped at element %d of %d: %w", b*blockSize, n, err)
	}
	return nil
}

// keyVersion is the first byte of an encoded Key: 2 for the X25519
// blinding of mpcq/align/v2. The ristretto255 keys of v1 were 32 bytes
// with no version, so their length alone tells them apart.
const keyVersion = 2

// KeySize is the length of an encoded Key: the version byte and 32 bytes.
const KeySize = 1 + 32

// oldKeySize is the length of a v1 (ristretto255 scalar) encoded key.
const oldKeySize = 32

// Encode returns the key's 33-byte encoding (version 2, then the 32 bytes),
// for a party that keeps its lineage's key durably (0600) between
// incremental epochs. The caller must clear the returned bytes once written.
func (k *Key) Encode() ([]byte, error) {
	if !k.valid() {
		return nil, fmt.Errorf("%w: Encode needs a key that has not been erased", ErrBadKey)
	}
	return append([]byte{keyVersion}, k.s[:]...), nil
}

// DecodeKey reads a key Encode wrote. It refuses a v1 (ristretto255) key
// with an error wrapping ErrOldKey and ErrBadKey, and any other length,
// version or a zero key with ErrBadKey.
func DecodeKey(b []byte) (*Key, error) {
	switch {
	case len(b) == oldKeySize:
		return nil, fmt.Errorf("%w: %w: encoded key has %d bytes, a ristretto255 scalar; this version blinds with X25519 (%d-byte keys), so its lineage needs a full alignment",
			ErrBadKey, ErrOldKey, len(b), KeySize)
	case len(b) != KeySize:
		return nil, fmt.Errorf("%w: encoded key has %d bytes, want %d", ErrBadKey, len(b), KeySize)
	case b[0] != keyVersion:
		return nil, fmt.Errorf("%w: encoded key has version %d, want %d", ErrBadKey, b[0], keyVersion)
	}
	k := &Key{}
	copy(k.s[:], b[1:])
	if !k.valid() {
		return nil, fmt.Errorf("%w: encoded key is zero", ErrBadKey)
	}
	return k, nil
}

// Clone returns a copy of k that can be erased independently.
func (k *Key) Clone() *Key {
	c := &Key{}
	if k != nil {
		c.s = k.s
	}
	return c
}
