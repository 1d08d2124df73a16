// Package request is an analyst's signed query request: its canonical,
// domain-separated, length-prefixed encoding, the analyst's Ed25519
// signature over it with the key of its consortium certificate, and the
// verification every party (and the coordinator, and an auditor) runs.
// It is pure: no I/O, the time comes from the caller. It does not parse
// SQL or check a plan; callers compare Canonical with their plan's.
package request

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/mpcq/mpcq/pki"
)

// Domain separates a request's encoding from every other signed message
// of the consortium.
const Domain = "mpcq/analyst-request/v1\x00"

// Limits of a request's fields and of the window in which a party accepts
// its time.
const (
	MaxText  = 64 << 10 // bytes of the canonical SQL
	MaxField = 4 << 10  // bytes of the purpose and of the legal basis
	NonceLen = 16
	// MaxAge is how long after the analyst signed a party still works on
	// (or decrypts) the request: a query's steps and its decryption must
	// be done by then.
	MaxAge = 30 * time.Minute
	// MaxSkew is how far in the future a request's time may be (clocks
	// differ).
	MaxSkew = 2 * time.Minute
)

// Sentinel errors.
var (
	// ErrMalformed is wrapped when the bytes are not a request's encoding.
	ErrMalformed = errors.New("request: malformed")
	// ErrBadSignature is wrapped when the signature does not verify with
	// the certificate's key.
	ErrBadSignature = errors.New("request: bad analyst signature")
	// ErrCertificate is wrapped when the certificate does not chain to the
	// consortium CA or is not an analyst's.
	ErrCertificate = errors.New("request: certificate is not a consortium analyst's")
	// ErrStale is wrapped when the request's time is outside the window.
	ErrStale = errors.New("request: time outside the accepted window")
)

// Request is what an analyst signs.
type Request struct {
	Canonical  string   // the canonical SQL text of the query (plan.Plan.Canonical)
	Purpose    string   // as sent
	LegalBasis string   // as sent
	KeyHash    [32]byte // SHA-256 of the analyst's RLWE public key bytes
	Time       int64    // Unix seconds when signed
	Nonce      [NonceLen]byte
	// Privacy is what the query may reveal: its ε, collusion tolerance
	// and warrant; the zero value is an exact query without a warrant.
	Privacy Privacy
}

// Privacy is the part of a request that bounds what it reveals, signed so
// that the coordinator can neither strip a warrant nor change the noise.
type Privacy struct {
	// EpsilonMilli is the ε the analyst spends, in thousandths; 0 asks
	// for an exact result (which needs a warrant and a policy allowing it).
	EpsilonMilli uint64
	// Collusion is the collusion tolerance k: the noise must protect
	// against the analyst colluding with up to k parties.
	Collusion uint16
	// WarrantHash is the hash of the signed warrant attached (zero: none).
	WarrantHash [32]byte
}

// MaxEpsilonMilli is the largest ε a request may ask (in thousandths):
// 1,000,000, far beyond any useful privacy and far from overflow.
const MaxEpsilonMilli = 1_000_000_000

// IsZero reports an exact query without a warrant.
func (p Privacy) IsZero() bool { return p == Privacy{} }

// privacyLen is the encoded size of a non-zero Privacy.
const privacyLen = 8 + 2 + 32

// KeyHash is the hash a request carries of an analyst public key's bytes.
func KeyHash(publicKey []byte) [32]byte { return sha256.Sum256(publicKey) }

// New returns a request for the given fields, the current time and a
// fresh nonce.
func New(canonical, purpose, legalBasis string, publicKey []byte, now time.Time) (Request, error) {
	r := Request{Canonical: canonical, Purpose: purpose, LegalBasis: legalBasis, KeyHash: KeyHash(publicKey), Time: now.Unix()}
	if _, err := io.ReadFull(rand.Reader, r.Nonce[:]); err != nil {
		return Request{}, err
	}
	return r, r.check()
}

func (r Request) check() error {
	switch {
	case r.Canonical == "" || len(r.Canonical) > MaxText:
		return fmt.Errorf("%w: canonical SQL of %d bytes (1..%d)", ErrMalformed, len(r.Canonical), MaxText)
	case len(r.Purpose) > MaxField || len(r.LegalBasis) > MaxField:
		return fmt.Errorf("%w: purpose or legal basis longer than %d bytes", ErrMalformed, MaxField)
	case !utf8.ValidString(r.Canonical) || !utf8.ValidString(r.Purpose) || !utf8.ValidString(r.LegalBasis):
		return fmt.Errorf("%w: text is not valid UTF-8", ErrMalformed)
	case r.Time <= 0:
		return fmt.Errorf("%w: time %d", ErrMalformed, r.Time)
	case r.Privacy.EpsilonMilli > MaxEpsilonMilli:
		return fmt.Errorf("%w: ε of %d thousandths, at most %d", ErrMalformed, r.Privacy.EpsilonMilli, MaxEpsilonMilli)
	case r.Privacy.EpsilonMilli == 0 && r.Privacy.Collusion != 0:
		return fmt.Errorf("%w: collusion tolerance %d on an exact query", ErrMalformed, r.Privacy.Collusion)
	}
	return nil
}

// Encode is the signed encoding: Domain, then the canonical SQL, purpose
// and legal basis each as a uint32 length and the bytes, then the 32-byte
// key hash, the int64 time and the 16-byte nonce (big-endian integers),
// then, unless it is zero, the privacy block: the uint64 ε in thousandths,
// the uint16 collusion tolerance and the 32-byte warrant hash.
func (r Request) Encode() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(Domain)+12+len(r.Canonical)+len(r.Purpose)+len(r.LegalBasis)+32+8+NonceLen)
	b = append(b, Domain...)
	for _, s := range []string{r.Canonical, r.Purpose, r.LegalBasis} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = append(b, r.KeyHash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time))
	b = append(b, r.Nonce[:]...)
	if !r.Privacy.IsZero() {
		b = binary.BigEndian.AppendUint64(b, r.Privacy.EpsilonMilli)
		b = binary.BigEndian.AppendUint16(b, r.Privacy.Collusion)
		b = append(b, r.Privacy.WarrantHash[:]...)
	}
	return b, nil
}

// Decode parses an untrusted encoding; it accepts exactly what Encode
// produces.
func Decode(b []byte) (Request, error) {
	if !bytes.HasPrefix(b, []byte(Domain)) {
		return Request{}, fmt.Errorf("%w: missing domain separator", ErrMalformed)
	}
	rest := b[len(Domain):]
	var texts [3]string
	for i, max := range []int{MaxText, MaxField, MaxField} {
		if len(rest) < 4 {
			return Request{}, fmt.Errorf("%w: truncated", ErrMalformed)
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(max) || uint64(n) > uint64(len(rest)) {
			return Request{}, fmt.Errorf("%w: field %d of %d bytes", ErrMalformed, i, n)
		}
		texts[i] = string(rest[:n])
		rest = rest[n:]
	}
	const fixed = 32 + 8 + NonceLen
	if len(rest) != fixed && len(rest) != fixed+privacyLen {
		return Request{}, fmt.Errorf("%w: %d trailing bytes, want %d or %d", ErrMalformed, len(rest), fixed, fixed+privacyLen)
	}
	r := Request{Canonical: texts[0], Purpose: texts[1], LegalBasis: texts[2]}
	copy(r.KeyHash[:], rest)
	r.Time = int64(binary.BigEndian.Uint64(rest[32:]))
	copy(r.Nonce[:], rest[40:])
	if p := rest[fixed:]; len(p) > 0 {
		r.Privacy.EpsilonMilli = binary.BigEndian.Uint64(p)
		r.Privacy.Collusion = binary.BigEndian.Uint16(p[8:])
		copy(r.Privacy.WarrantHash[:], p[10:])
		if r.Privacy.IsZero() {
			return Request{}, fmt.Errorf("%w: an all-zero privacy block (not canonical)", ErrMalformed)
		}
	}
	if err := r.check(); err != nil {
		return Request{}, err
	}
	return r, nil
}

// Sign encodes r and signs it with the analyst's certificate key.
func Sign(r Request, priv ed25519.PrivateKey) (encoded, sig []byte, err error) {
	if encoded, err = r.Encode(); err != nil {
		return nil, nil, err
	}
	return encoded, ed25519.Sign(priv, encoded), nil
}

// Verified is a request whose signature verified, and who signed it.
type Verified struct {
	Request
	Analyst pki.Identity
}

// Verify checks a signed request: certPEM chains to the consortium CA
// (caPEM) at now and names an analyst, sig is that key's signature over
// encoded, encoded decodes, and its time is within [now-MaxAge,
// now+MaxSkew].
func Verify(encoded, sig, certPEM, caPEM []byte, now time.Time) (Verified, error) {
	id, err := pki.VerifyCertificate(certPEM, caPEM, now)
	if err != nil {
		return Verified{}, fmt.Errorf("%w: %v", ErrCertificate, err)
	}
	if id.Role != pki.RoleAnalyst {
		return Verified{}, fmt.Errorf("%w: it is %s", ErrCertificate, id)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(id.PublicKey, encoded, sig) {
		return Verified{}, fmt.Errorf("%w: by %s", ErrBadSignature, id)
	}
	r, err := Decode(encoded)
	if err != nil {
		return Verified{}, err
	}
	t := time.Unix(r.Time, 0)
	if t.Before(now.Add(-MaxAge)) || t.After(now.Add(MaxSkew)) {
		return Verified{}, fmt.Errorf("%w: signed at %s, now %s (window %s back, %s ahead)", ErrStale,
			t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), MaxAge, MaxSkew)
	}
	return Verified{Request: r, Analyst: id}, nil
}

// Hash is the SHA-256 of a request's encoding: what identifies it in a
// party's replay memory and in an archive.
func Hash(encoded []byte) [32]byte { return sha256.Sum256(encoded) }
