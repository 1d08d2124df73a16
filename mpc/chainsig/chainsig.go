// Package chainsig signs and verifies the ciphertext messages of a query's
// party chain. Each message a party produces carries its Ed25519 signature
// over a domain-separated, length-prefixed statement: the query id, the
// plan hash, the producer's chain position, the block index, the
// message's offset and the block's total of ciphertexts, and the BLAKE3
// hash of the message's ciphertexts (blockHash; about 1 MiB a block, and
// each is hashed by its producer and its receiver, so the hash is most of
// the chain's signing cost: BLAKE3 is 2–3 times faster than SHA-256 here). A receiver accepts only its predecessor's
// signatures, so the coordinator (which holds the collective public key)
// can neither inject ciphertexts it encrypted itself, nor replay blocks of
// another query, nor move a block to another index. It is pure: keys in,
// errors out. Completeness (each block once, every block) is the inbox's.
package chainsig

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"github.com/zeebo/blake3"
)

// Domain separates chain signatures from every other signature made with a
// party's key (alignment provenance, TLS).
// (v2: the ciphertexts' hash is BLAKE3, blockHash; v1 was SHA-256.)
const Domain = "mpcq/chain-block/v2\x00"

// ErrBadSignature is wrapped when a message's signature does not verify
// under the key of the party that must have produced it: the message was
// forged, altered, moved or replayed (by whoever relays the chain).
var ErrBadSignature = errors.New("chain: block signature does not verify for the previous party")

// Binding is what every signature of one party's output in one query is
// bound to.
type Binding struct {
	QueryID  string
	PlanHash [32]byte
	Position uint32 // the producing party's position in the chain
}

// Ref locates one message of a block.
type Ref struct {
	Block  uint32
	Offset uint32
	Total  uint32
}

// CiphertextsHash is the SHA-256 of a list of ciphertexts, each as a
// uint64 length and its bytes: the packed totals' hash in a RESULT ledger
// entry (chain blocks are bound by blockHash).
func CiphertextsHash(cts [][]byte) [32]byte { return lengthPrefixedSum(sha256.New(), cts) }

// blockHash is the BLAKE3-256 of a chain message's ciphertexts, each as a
// uint64 length and its bytes: what a chain block's signature binds.
func blockHash(cts [][]byte) [32]byte { return lengthPrefixedSum(blake3.New(), cts) }

// lengthPrefixedSum hashes cts with h (a 32-byte hash), each as a uint64
// length and its bytes.
func lengthPrefixedSum(h hash.Hash, cts [][]byte) [32]byte {
	var n [8]byte
	for _, c := range cts {
		binary.BigEndian.PutUint64(n[:], uint64(len(c)))
		_, _ = h.Write(n[:])
		_, _ = h.Write(c)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// statement is the signed bytes.
func statement(b Binding, r Ref, count int, ctHash [32]byte) []byte {
	out := make([]byte, 0, len(Domain)+4+len(b.QueryID)+32+4*4+32)
	out = append(out, Domain...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(b.QueryID)))
	out = append(out, b.QueryID...)
	out = append(out, b.PlanHash[:]...)
	out = binary.BigEndian.AppendUint32(out, b.Position)
	out = binary.BigEndian.AppendUint32(out, r.Block)
	out = binary.BigEndian.AppendUint32(out, r.Offset)
	out = binary.BigEndian.AppendUint32(out, r.Total)
	out = binary.BigEndian.AppendUint32(out, uint32(count))
	return append(out, ctHash[:]...)
}

// Sign signs one message's ciphertexts.
func Sign(priv ed25519.PrivateKey, b Binding, r Ref, cts [][]byte) []byte {
	return ed25519.Sign(priv, statement(b, r, len(cts), blockHash(cts)))
}

// Verify checks a message's signature under the producing party's key.
func Verify(pub ed25519.PublicKey, b Binding, r Ref, cts [][]byte, sig []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: no key for the party at position %d", ErrBadSignature, b.Position)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, statement(b, r, len(cts), blockHash(cts)), sig) {
		return fmt.Errorf("%w: query %s, position %d, block %d, ciphertexts %d.. of %d", ErrBadSignature, b.QueryID, b.Position, r.Block, r.Offset, r.Total)
	}
	return nil
}

// PackedDomain separates the last party's signatures of the packed output
// from its chain-block signatures.
const PackedDomain = "mpcq/packed-output/v1\x00"

// ErrNotPackedOutput is wrapped when a ciphertext a party is asked to
// decrypt is not one the query's last party signed as the committed
// circuit's packed output (for this query, plan, chain position and
// packed index): it is an unpacked sum, another query's output, a
// ciphertext of the coordinator's own, or its signature is wrong or absent.
var ErrNotPackedOutput = errors.New("chain: ciphertext is not the packed output the query's last party signed")

// packedStatement is the signed bytes of packed ciphertext index of total.
func packedStatement(b Binding, index, total uint32, ctHash [32]byte) []byte {
	out := make([]byte, 0, len(PackedDomain)+4+len(b.QueryID)+32+3*4+32)
	out = append(out, PackedDomain...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(b.QueryID)))
	out = append(out, b.QueryID...)
	out = append(out, b.PlanHash[:]...)
	out = binary.BigEndian.AppendUint32(out, b.Position)
	out = binary.BigEndian.AppendUint32(out, index)
	out = binary.BigEndian.AppendUint32(out, total)
	return append(out, ctHash[:]...)
}

// SignPacked is the last party's signature of packed ciphertext index of
// total, the committed circuit's output it computed (b.Position is its
// position, the chain's last).
func SignPacked(priv ed25519.PrivateKey, b Binding, index, total uint32, ct []byte) []byte {
	return ed25519.Sign(priv, packedStatement(b, index, total, sha256.Sum256(ct)))
}

// VerifyPacked checks, before a decryption share, that ct is packed
// ciphertext index of total that the last party (key pub, position
// b.Position) signed for the query and plan of b.
func VerifyPacked(pub ed25519.PublicKey, b Binding, index, total uint32, ct, sig []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: no key for the last party (position %d)", ErrNotPackedOutput, b.Position)
	}
	if index >= total {
		return fmt.Errorf("%w: packed index %d of %d", ErrNotPackedOutput, index, total)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, packedStatement(b, index, total, sha256.Sum256(ct)), sig) {
		return fmt.Errorf("%w: query %s, position %d, packed ciphertext %d of %d", ErrNotPackedOutput, b.QueryID, b.Position, index, total)
	}
	return nil
}
