package align

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Domain separators of the hashes and signatures of this file.
const (
	elemsDomain = "mpcq/align/elems/v1\x00"
	chainDomain = "mpcq/align/chain/v1\x00"
)

// ErrBadSignature is wrapped when a hop's signature does not verify, or when
// the list does not match the hash its last hop signed (it was altered).
var ErrBadSignature = errors.New("align: bad signature")

// ErrUnknownSigner is wrapped when a provenance's origin or a hop's signer is not
// one of the consortium's parties, or has no usable public key.
var ErrUnknownSigner = errors.New("align: unknown signer")

// ErrBadProvenance is wrapped when a provenance is malformed: no hops, a first hop not
// signed by the origin, a party signing twice, or a list whose length differs
// from the size the origin signed.
var ErrBadProvenance = errors.New("align: bad provenance")

// ErrIncomplete is wrapped by Complete when some party has not blinded a list.
var ErrIncomplete = errors.New("align: list not blinded by every party")

// Hop is one signature of a list's provenance: Signer's signature over the list it
// output (hop 0: the origin's first blinding; later hops: each blinder's
// output), bound to the provenance's epoch, origin, size, the hop's index and the
// previous hop's signature.
type Hop struct {
	Signer    string
	ElemsHash [32]byte
	Sig       []byte
}

// Provenance is the signature trail a list carries on its way through the
// parties. Origin is the party whose records the list holds and Size the
// number of elements the origin signed.
type Provenance struct {
	Epoch  string
	Origin string
	Size   uint32
	Hops   []Hop
}

// HasSigner reports whether party has signed a hop of c. A party must not
// blind a list it has already signed.
func (c Provenance) HasSigner(party string) bool {
	return slices.ContainsFunc(c.Hops, func(h Hop) bool { return h.Signer == party })
}

// ElemsHash is the SHA-256 of an unambiguous encoding of a list:
// "mpcq/align/elems/v1" || 0x00 || uint64 count || for each element a uint64
// length then the bytes (all integers big-endian).
func ElemsHash(elems [][]byte) [32]byte {
	h := sha256.New()
	buf := make([]byte, 0, 8192)
	buf = append(buf, elemsDomain...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(elems)))
	for _, e := range elems {
		if len(buf)+8+len(e) > cap(buf) {
			_, _ = h.Write(buf)
			buf = buf[:0]
		}
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(e)))
		if len(e) > cap(buf) {
			_, _ = h.Write(buf)
			_, _ = h.Write(e)
			buf = buf[:0]
			continue
		}
		buf = append(buf, e...)
	}
	_, _ = h.Write(buf)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// hopMessage is what the signer of hop index signs: the domain separator,
// the provenance's epoch, origin and size, the hop index, the signer, the hash of
// the hop's output list and the SHA-256 of the previous hop's signature
// (zeros for hop 0). Strings are prefixed with their uint64 length and all
// integers are big-endian.
func hopMessage(c *Provenance, index int, signer string, elemsHash [32]byte, prevSig []byte) []byte {
	m := make([]byte, 0, len(chainDomain)+3*8+len(c.Epoch)+len(c.Origin)+len(signer)+2*4+2*32)
	m = append(m, chainDomain...)
	m = appendString(m, c.Epoch)
	m = appendString(m, c.Origin)
	m = binary.BigEndian.AppendUint32(m, c.Size)
	m = binary.BigEndian.AppendUint32(m, uint32(index))
	m = appendString(m, signer)
	m = append(m, elemsHash[:]...)
	var prev [32]byte
	if index > 0 {
		prev = sha256.Sum256(prevSig)
	}
	return append(m, prev[:]...)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// Sign appends to provenance a hop by signer over elems, the list signer is
// sending on: for the origin (first hop) its BlindIDs output, for every other
// party its Blind output. The first hop must be signed by prov.Origin, a
// party may sign only once, and len(elems) must equal prov.Size. Sign never
// writes into the backing array of the provenance's previous Hops slice.
func Sign(prov *Provenance, signer string, priv ed25519.PrivateKey, elems [][]byte) error {
	if prov == nil {
		return fmt.Errorf("%w: Sign was given a nil provenance", ErrBadProvenance)
	}
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: ed25519 private key of %q has %d bytes, want %d", ErrBadKey, signer, len(priv), ed25519.PrivateKeySize)
	}
	if signer == "" {
		return fmt.Errorf("%w: empty signer name", ErrBadProvenance)
	}
	if len(prov.Hops) == 0 && signer != prov.Origin {
		return fmt.Errorf("%w: the first hop of a list from %q must be signed by %q, not %q", ErrBadProvenance, prov.Origin, prov.Origin, signer)
	}
	if prov.HasSigner(signer) {
		return fmt.Errorf("%w: %q has already signed the list of %q in epoch %q; a party blinds a list only once",
			ErrBadProvenance, signer, prov.Origin, prov.Epoch)
	}
	if len(elems) != int(prov.Size) {
		return fmt.Errorf("%w: list of %q has %d elements but its provenance declares %d", ErrBadProvenance, prov.Origin, len(elems), prov.Size)
	}
	if uint64(len(prov.Hops)) >= math.MaxUint32 {
		return fmt.Errorf("%w: provenance has too many hops", ErrBadProvenance)
	}
	var prevSig []byte
	if n := len(prov.Hops); n > 0 {
		prevSig = prov.Hops[n-1].Sig
	}
	eh := ElemsHash(elems)
	sig := ed25519.Sign(priv, hopMessage(prov, len(prov.Hops), signer, eh, prevSig))
	prov.Hops = append(slices.Clip(prov.Hops), Hop{Signer: signer, ElemsHash: eh, Sig: sig})
	return nil
}

// Verify checks that elems is the list provenance vouches for: the origin and
// every signer are among parties and have a key in keys, the first hop is
// the origin's, no party signed twice, len(elems) equals the signed Size,
// every hop's signature verifies (in order, each bound to the previous one),
// and the last hop signed exactly elems. It does not check the epoch (compare
// prov.Epoch with the current one), that Size is what the origin announced,
// or that every party has blinded (see Complete).
func Verify(prov Provenance, elems [][]byte, keys map[string]ed25519.PublicKey, parties []string) error {
	if len(prov.Hops) == 0 {
		return fmt.Errorf("%w: list of %q in epoch %q carries no signature", ErrBadProvenance, prov.Origin, prov.Epoch)
	}
	if uint64(len(prov.Hops)) > math.MaxUint32 {
		return fmt.Errorf("%w: provenance has %d hops", ErrBadProvenance, len(prov.Hops))
	}
	known := make(map[string]bool, len(parties))
	for _, p := range parties {
		known[p] = true
	}
	if !known[prov.Origin] {
		return fmt.Errorf("%w: list origin %q is not a consortium party (parties: %s)", ErrUnknownSigner, prov.Origin, strings.Join(parties, ", "))
	}
	if prov.Hops[0].Signer != prov.Origin {
		return fmt.Errorf("%w: first hop of the list of %q is signed by %q, not by its origin", ErrBadProvenance, prov.Origin, prov.Hops[0].Signer)
	}
	pubs := make([]ed25519.PublicKey, len(prov.Hops))
	seen := make(map[string]int, len(prov.Hops))
	for i, h := range prov.Hops {
		if !known[h.Signer] {
			return fmt.Errorf("%w: hop %d of the list of %q is signed by %q, which is not a consortium party", ErrUnknownSigner, i, prov.Origin, h.Signer)
		}
		pub, ok := keys[h.Signer]
		if !ok || len(pub) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: no valid ed25519 public key for %q (hop %d of the list of %q); load its certificate", ErrUnknownSigner, h.Signer, i, prov.Origin)
		}
		if j, dup := seen[h.Signer]; dup {
			return fmt.Errorf("%w: %q signed the list of %q twice (hops %d and %d)", ErrBadProvenance, h.Signer, prov.Origin, j, i)
		}
		seen[h.Signer] = i
		pubs[i] = pub
	}
	if len(elems) != int(prov.Size) {
		return fmt.Errorf("%w: list of %q has %d elements but its origin signed size %d", ErrBadProvenance, prov.Origin, len(elems), prov.Size)
	}
	var prevSig []byte
	for i, h := range prov.Hops {
		if !ed25519.Verify(pubs[i], hopMessage(&prov, i, h.Signer, h.ElemsHash, prevSig), h.Sig) {
			return fmt.Errorf("%w: hop %d of the list of %q (signer %q, epoch %q) does not verify; the provenance was altered or reordered",
				ErrBadSignature, i, prov.Origin, h.Signer, prov.Epoch)
		}
		prevSig = h.Sig
	}
	last := prov.Hops[len(prov.Hops)-1]
	if ElemsHash(elems) != last.ElemsHash {
		return fmt.Errorf("%w: list of %q differs from the list %q signed in hop %d; it was altered in transit",
			ErrBadSignature, prov.Origin, last.Signer, len(prov.Hops)-1)
	}
	return nil
}

// Complete checks that every one of parties has signed provenance exactly once
// and nobody else has, i.e. that the list now holds final pseudonyms. It
// checks names only: call Verify for the signatures.
func Complete(prov Provenance, parties []string) error {
	want := make(map[string]bool, len(parties))
	for _, p := range parties {
		want[p] = true
	}
	seen := make(map[string]bool, len(prov.Hops))
	for i, h := range prov.Hops {
		if !want[h.Signer] {
			return fmt.Errorf("%w: hop %d of the list of %q is signed by %q, which is not a consortium party", ErrUnknownSigner, i, prov.Origin, h.Signer)
		}
		if seen[h.Signer] {
			return fmt.Errorf("%w: %q signed the list of %q twice", ErrBadProvenance, h.Signer, prov.Origin)
		}
		seen[h.Signer] = true
	}
	var missing []string
	for p := range want {
		if !seen[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("%w: list of %q in epoch %q still needs blinding by %s", ErrIncomplete, prov.Origin, prov.Epoch, strings.Join(missing, ", "))
	}
	return nil
}
