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

	"github.com/gtank/ristretto255"

	"github.com/mpcq/mpcq/internal/pool"
)

// ElementSize is the length in bytes of an encoded ristretto255 element, the
// form in which blinded ids and pseudonyms travel.
const ElementSize = 32

// hashDomain separates this package's hash-to-group from every other use of
// SHA-512 over person ids. It is followed by a 0x00 byte and the id.
const hashDomain = "mpcq/align/v1"

// blockSize is how many elements a worker takes at a time; the context is
// checked between blocks.
const blockSize = 256

// ErrBadElement is wrapped when an element to blind is not the canonical
// 32-byte encoding of a ristretto255 element, or is the identity element.
var ErrBadElement = errors.New("align: bad element")

// ErrBadKey is wrapped when a blinding key is nil or erased, or when a signing
// key has the wrong length.
var ErrBadKey = errors.New("align: bad key")

// Key is a party's secret blinding scalar for one epoch. Draw a fresh one per
// epoch with NewKey and Erase it when the epoch's lists are blinded. A Key
// never prints its value: every fmt verb renders it as "align.Key(redacted)".
type Key struct {
	s ristretto255.Scalar
}

// NewKey draws a uniformly random non-zero scalar from random (crypto/rand
// when random is nil).
func NewKey(random io.Reader) (*Key, error) {
	if random == nil {
		random = rand.Reader
	}
	var b [64]byte
	defer clear(b[:])
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return nil, fmt.Errorf("align: reading 64 random bytes for a blinding key: %w", err)
	}
	k := &Key{}
	k.s.FromUniformBytes(b[:])
	if !k.valid() {
		return nil, fmt.Errorf("%w: the random source produced the zero scalar; check the random source", ErrBadKey)
	}
	return k, nil
}

// valid reports whether k is usable: non-nil and not zero (erased).
func (k *Key) valid() bool {
	return k != nil && k.s.Equal(ristretto255.NewScalar()) == 0
}

// Erase overwrites the key with zero; an erased key is refused by BlindIDs
// and Blind.
func (k *Key) Erase() {
	if k != nil {
		k.s.Zero()
	}
}

// String returns "align.Key(redacted)", never the key.
func (Key) String() string { return "align.Key(redacted)" }

// GoString returns "align.Key(redacted)", never the key.
func (Key) GoString() string { return "align.Key(redacted)" }

// Format renders the key as "align.Key(redacted)" for every fmt verb, so that
// no verb (%d, %x, %+v, ...) can print the scalar.
func (Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "align.Key(redacted)") }

// HashID maps a person id to its ristretto255 element H(id), encoded:
// FromUniformBytes(SHA-512("mpcq/align/v1" || 0x00 || id)). It is exported for
// tests and audits; parties use BlindIDs, which never exposes H(id).
func HashID(id string) []byte {
	var e ristretto255.Element
	h := sha512.New()
	var sum [64]byte
	hashID(h, &e, id, sum[:0])
	return e.Encode(make([]byte, 0, ElementSize))
}

// hashID sets e = H(id), reusing h and the 64-byte scratch buffer sum.
func hashID(h hash.Hash, e *ristretto255.Element, id string, sum []byte) {
	h.Reset()
	_, _ = io.WriteString(h, hashDomain)
	_, _ = h.Write([]byte{0})
	_, _ = io.WriteString(h, id)
	e.FromUniformBytes(h.Sum(sum[:0]))
}

// BlindIDs hashes every id to the group and multiplies it by k, returning the
// 32-byte encodings in the order of ids. The work is spread over workers
// goroutines (runtime.GOMAXPROCS(0) when workers < 1) and stops early, with
// ctx's error, when ctx is cancelled.
func BlindIDs(ctx context.Context, k *Key, ids []string, workers int) ([][]byte, error) {
	if !k.valid() {
		return nil, fmt.Errorf("%w: BlindIDs needs a key from NewKey that has not been erased", ErrBadKey)
	}
	out, buf := newOutput(len(ids))
	err := parallel(ctx, len(ids), workers, func() func(int) error {
		h := sha512.New()
		var sum [64]byte
		var e ristretto255.Element
		return func(i int) error {
			hashID(h, &e, ids[i], sum[:0])
			e.ScalarMult(&k.s, &e)
			out[i] = e.Encode(buf[i*ElementSize : i*ElementSize : (i+1)*ElementSize])
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Blind multiplies every encoded element by k and returns the re-encoded
// results in the same order. An element that is not a canonical 32-byte
// ristretto255 encoding, or is the identity element, makes Blind fail with an
// error wrapping ErrBadElement that names its index. Work is spread over
// workers goroutines as in BlindIDs, and honours ctx cancellation.
func Blind(ctx context.Context, k *Key, elems [][]byte, workers int) ([][]byte, error) {
	if !k.valid() {
		return nil, fmt.Errorf("%w: Blind needs a key from NewKey that has not been erased", ErrBadKey)
	}
	out, buf := newOutput(len(elems))
	identity := ristretto255.NewElement()
	err := parallel(ctx, len(elems), workers, func() func(int) error {
		var e ristretto255.Element
		return func(i int) error {
			if err := e.Decode(elems[i]); err != nil {
				return fmt.Errorf("%w: element %d (%d bytes) is not a canonical ristretto255 encoding; the list is corrupt or was not produced by BlindIDs/Blind",
					ErrBadElement, i, len(elems[i]))
			}
			if e.Equal(identity) == 1 {
				return fmt.Errorf("%w: element %d is the identity element, which no id hashes to; the list was tampered with", ErrBadElement, i)
			}
			e.ScalarMult(&k.s, &e)
			out[i] = e.Encode(buf[i*ElementSize : i*ElementSize : (i+1)*ElementSize])
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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

// KeySize is the length of an encoded Key.
const KeySize = 32

// Encode returns the key's canonical 32-byte encoding, for a party that
// keeps its lineage's key durably (0600) between incremental epochs. The
// caller must clear the returned bytes once written.
func (k *Key) Encode() ([]byte, error) {
	if !k.valid() {
		return nil, fmt.Errorf("%w: Encode needs a key that has not been erased", ErrBadKey)
	}
	return k.s.Encode(make([]byte, 0, KeySize)), nil
}

// DecodeKey reads a key Encode wrote, refusing a non-canonical or zero
// scalar.
func DecodeKey(b []byte) (*Key, error) {
	k := &Key{}
	if len(b) != KeySize {
		return nil, fmt.Errorf("%w: encoded key has %d bytes, want %d", ErrBadKey, len(b), KeySize)
	}
	if err := k.s.Decode(b); err != nil {
		return nil, fmt.Errorf("%w: encoded key is not a canonical scalar", ErrBadKey)
	}
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
