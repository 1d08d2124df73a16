package warrant

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/mpcq/mpcq/pki"
)

// RevocationDomain separates a revocation's encoding from every other
// signed message of the consortium.
const RevocationDomain = "mpcq/warrant-revocation/v1\x00"

// Limits of a revocation.
const (
	MaxReason = 1024 // bytes of a revocation's reason
	// MaxSkew is how far ahead of a verifier's clock a revocation's time
	// may be (clocks differ).
	MaxSkew = 2 * time.Minute
)

// PEM block types of a signed revocation file (the third block is a
// CERTIFICATE).
const (
	BlockRevocation          = "MPCQ WARRANT REVOCATION"
	BlockRevocationSignature = "MPCQ WARRANT REVOCATION SIGNATURE"
)

// Revocation withdraws a warrant, from Time on. Only the warrant's
// authorizer may sign it.
type Revocation struct {
	// WarrantHash is Hash of the signed warrant revoked.
	WarrantHash [32]byte
	// Time is when the authorizer revoked it, Unix seconds.
	Time int64
	// Reason is free text, no control characters.
	Reason string
}

func (r Revocation) label() string {
	return fmt.Sprintf("revocation of warrant hash %s", hex.EncodeToString(r.WarrantHash[:]))
}

// Validate reports whether r may be encoded; its error wraps ErrMalformed.
func (r Revocation) Validate() error {
	if r.Time <= 0 {
		return fmt.Errorf("%w: %s: time %d is not a positive Unix time", ErrMalformed, r.label(), r.Time)
	}
	if err := checkText(r.Reason, MaxReason, "reason"); err != nil {
		return fmt.Errorf("%w: %s: %s", ErrMalformed, r.label(), err)
	}
	return nil
}

// Encode is the signed encoding: RevocationDomain, the 32-byte warrant
// hash, the int64 time (big-endian) and the reason as a uint32 length and
// its bytes.
func (r Revocation) Encode() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var e encoder
	e.raw([]byte(RevocationDomain))
	e.raw(r.WarrantHash[:])
	e.i64(r.Time)
	e.str(r.Reason)
	return e.b, nil
}

// ParseRevocation decodes an untrusted encoding; it accepts exactly what
// Encode produces.
func ParseRevocation(b []byte) (Revocation, error) {
	rest, ok := strings.CutPrefix(string(b), RevocationDomain)
	if !ok {
		return Revocation{}, fmt.Errorf("%w: not a warrant revocation: missing domain %q", ErrMalformed, strings.TrimSuffix(RevocationDomain, "\x00"))
	}
	d := decoder{b: []byte(rest)}
	var r Revocation
	copy(r.WarrantHash[:], d.take(32, "warrant hash"))
	r.Time = d.i64("time")
	r.Reason = d.str(MaxReason, "reason")
	d.end()
	if d.err != nil {
		return Revocation{}, d.err
	}
	if err := r.Validate(); err != nil {
		return Revocation{}, err
	}
	return r, nil
}

// SignedRevocation is a revocation as its authorizer signed it.
type SignedRevocation struct {
	// Revocation is the revocation's canonical encoding.
	Revocation []byte
	// Signature is the authorizer's Ed25519 signature over Revocation.
	Signature []byte
	// Certificate is the authorizer's certificate, DER encoded.
	Certificate []byte
}

// SignRevocation encodes r and signs it with key, the private key of the
// authorizer's certificate certPEM.
func SignRevocation(r Revocation, key ed25519.PrivateKey, certPEM []byte) (SignedRevocation, error) {
	enc, err := r.Encode()
	if err != nil {
		return SignedRevocation{}, err
	}
	cert, err := signerCertificate(key, certPEM)
	if err != nil {
		return SignedRevocation{}, fmt.Errorf("%w: signing %s: %w", ErrCertificate, r.label(), err)
	}
	return SignedRevocation{Revocation: enc, Signature: ed25519.Sign(key, enc), Certificate: cert.Raw}, nil
}

// Marshal returns the file format: PEM blocks MPCQ WARRANT REVOCATION,
// MPCQ WARRANT REVOCATION SIGNATURE and CERTIFICATE, in that order,
// without headers.
func (s SignedRevocation) Marshal() []byte {
	return marshalBlocks([3]string{BlockRevocation, BlockRevocationSignature, BlockCertificate},
		[3][]byte{s.Revocation, s.Signature, s.Certificate})
}

// ParseSignedRevocation parses a signed revocation file, accepting exactly
// what Marshal produces for a well-formed revocation. It verifies nothing:
// use VerifyRevocation.
func ParseSignedRevocation(b []byte) (SignedRevocation, error) {
	blocks, err := parseBlocks(b, [3]string{BlockRevocation, BlockRevocationSignature, BlockCertificate}, "signed revocation")
	if err != nil {
		return SignedRevocation{}, err
	}
	s := SignedRevocation{Revocation: blocks[0], Signature: blocks[1], Certificate: blocks[2]}
	if _, err := ParseRevocation(s.Revocation); err != nil {
		return SignedRevocation{}, err
	}
	return s, nil
}

// RevocationHash is the SHA-256 of a signed revocation's file (Marshal),
// for a ledger that records revocations.
func RevocationHash(s SignedRevocation) [32]byte { return sha256.Sum256(s.Marshal()) }

// VerifiedRevocation is a signed revocation that verified against its
// warrant.
type VerifiedRevocation struct {
	Revocation Revocation
	// Authorizer is who signed it: the warrant's authorizer.
	Authorizer pki.Identity
}

// VerifyRevocation checks a signed revocation of warrant (from Verify or
// VerifySignature) at now: it is well formed, names warrant's hash
// (ErrWrongWarrant), its certificate chains to the consortium CA (caPEM)
// and is the authorizer's who signed the warrant (same name, possibly a
// renewed certificate; ErrCertificate), the signature verifies, and its
// time is not after now+MaxSkew (ErrNotYetValid).
func VerifyRevocation(s SignedRevocation, caPEM []byte, warrant Verified, now time.Time) (VerifiedRevocation, error) {
	r, err := ParseRevocation(s.Revocation)
	if err != nil {
		return VerifiedRevocation{}, err
	}
	w := warrant.Warrant
	if r.WarrantHash != warrant.Hash {
		return VerifiedRevocation{}, fmt.Errorf("%w: %s does not revoke %s (hash %s)", ErrWrongWarrant, r.label(), w.label(), hex.EncodeToString(warrant.Hash[:]))
	}
	id, err := verifySigner(s.Revocation, s.Signature, s.Certificate, caPEM, now)
	if err != nil {
		return VerifiedRevocation{}, fmt.Errorf("revocation of %s: %w", w.label(), err)
	}
	if id.Role != warrant.Authorizer.Role || id.Name != warrant.Authorizer.Name {
		return VerifiedRevocation{}, fmt.Errorf("%w: revocation of %s is signed by %s, but only its authorizer %s may revoke it",
			ErrCertificate, w.label(), id, warrant.Authorizer)
	}
	if t := time.Unix(r.Time, 0); t.After(now.Add(MaxSkew)) {
		return VerifiedRevocation{}, fmt.Errorf("%w: revocation of %s is dated %s, after now %s", ErrNotYetValid, w.label(),
			unixString(r.Time), now.UTC().Format(time.RFC3339))
	}
	return VerifiedRevocation{Revocation: r, Authorizer: id}, nil
}

// VerifyRevocationFiles verifies a revocation from the two files an
// authorizer sends: the signed warrant (its signature, at any time of its
// validity window: an expired warrant can still be revoked) and the
// signed revocation of it, which the warrant's authorizer must have
// signed (VerifyRevocation).
func VerifyRevocationFiles(warrantFile, revocationFile, caPEM []byte, now time.Time) (Verified, VerifiedRevocation, error) {
	sw, err := ParseSigned(warrantFile)
	if err != nil {
		return Verified{}, VerifiedRevocation{}, err
	}
	w, err := VerifySignature(sw, caPEM, now)
	if err != nil {
		return Verified{}, VerifiedRevocation{}, err
	}
	sr, err := ParseSignedRevocation(revocationFile)
	if err != nil {
		return Verified{}, VerifiedRevocation{}, err
	}
	r, err := VerifyRevocation(sr, caPEM, w, now)
	if err != nil {
		return Verified{}, VerifiedRevocation{}, err
	}
	return w, r, nil
}
