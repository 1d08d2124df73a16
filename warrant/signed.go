package warrant

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mpcq/mpcq/pki"
)

// PEM block types of a signed warrant file.
const (
	BlockWarrant          = "MPCQ WARRANT"
	BlockWarrantSignature = "MPCQ WARRANT SIGNATURE"
	BlockCertificate      = "CERTIFICATE"
)

// Signed is a warrant as its authorizer signed it: the file an analyst
// keeps and attaches to queries.
type Signed struct {
	// Warrant is the warrant's canonical encoding (Warrant.Encode).
	Warrant []byte
	// Signature is the authorizer's Ed25519 signature over Warrant.
	Signature []byte
	// Certificate is the authorizer's certificate, DER encoded.
	Certificate []byte
}

// Sign encodes w and signs it with key, the private key of the
// authorizer's certificate certPEM. It refuses an invalid warrant
// (ErrMalformed), a certificate that is not an authorizer's or does not
// hold key's public key, and a warrant that would outlive the certificate
// (ErrCertificate): a warrant verifies only while its certificate does.
func Sign(w Warrant, key ed25519.PrivateKey, certPEM []byte) (Signed, error) {
	enc, err := w.Encode()
	if err != nil {
		return Signed{}, err
	}
	cert, err := signerCertificate(key, certPEM)
	if err != nil {
		return Signed{}, fmt.Errorf("%w: signing %s: %w", ErrCertificate, w.label(), err)
	}
	if exp := time.Unix(w.Expiry, 0); exp.After(cert.NotAfter) {
		return Signed{}, fmt.Errorf("%w: %s would expire at %s, after the authorizer's certificate (valid until %s); shorten the warrant or renew the certificate",
			ErrCertificate, w.label(), unixString(w.Expiry), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return Signed{Warrant: enc, Signature: ed25519.Sign(key, enc), Certificate: cert.Raw}, nil
}

// signerCertificate parses an authorizer's certificate and checks that it
// holds key's public key.
func signerCertificate(key ed25519.PrivateKey, certPEM []byte) (*x509.Certificate, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("private key of %d bytes is not an Ed25519 key", len(key))
	}
	cert, err := pki.ParseCertificate(certPEM)
	if err != nil {
		return nil, err
	}
	id, err := pki.IdentityOf(cert)
	if err != nil {
		return nil, err
	}
	if id.Role != pki.RoleAuthorizer {
		return nil, fmt.Errorf("the certificate is %s's, not an authorizer's", id)
	}
	if !id.PublicKey.Equal(key.Public()) {
		return nil, fmt.Errorf("the private key does not belong to the certificate of %s", id)
	}
	return cert, nil
}

// Marshal returns the file format: three PEM blocks, MPCQ WARRANT (the
// encoding), MPCQ WARRANT SIGNATURE (64 bytes) and CERTIFICATE (the
// authorizer's), in that order, without headers.
func (s Signed) Marshal() []byte {
	return marshalBlocks([3]string{BlockWarrant, BlockWarrantSignature, BlockCertificate},
		[3][]byte{s.Warrant, s.Signature, s.Certificate})
}

// ParseSigned parses a signed warrant file. It accepts exactly what
// Marshal produces for a well-formed warrant (so Marshal(ParseSigned(b))
// == b): the three blocks, nothing before, between or after them, a
// warrant that Parse accepts, a 64-byte signature and a certificate that
// parses. It does not verify anything: use Verify.
func ParseSigned(b []byte) (Signed, error) {
	blocks, err := parseBlocks(b, [3]string{BlockWarrant, BlockWarrantSignature, BlockCertificate}, "signed warrant")
	if err != nil {
		return Signed{}, err
	}
	s := Signed{Warrant: blocks[0], Signature: blocks[1], Certificate: blocks[2]}
	if _, err := Parse(s.Warrant); err != nil {
		return Signed{}, err
	}
	return s, nil
}

func marshalBlocks(types [3]string, data [3][]byte) []byte {
	var out []byte
	for i := range types {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: types[i], Bytes: data[i]})...)
	}
	return out
}

// parseBlocks decodes exactly the three PEM blocks types (the last a
// certificate) in canonical form, and checks the signature's length and
// that the certificate parses.
func parseBlocks(b []byte, types [3]string, what string) ([3][]byte, error) {
	var out [3][]byte
	rest := b
	for i, typ := range types {
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return out, fmt.Errorf("%w: not a %s file: want a %s PEM block at byte %d", ErrMalformed, what, typ, len(b)-len(rest))
		}
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil || block.Type != typ || len(block.Headers) != 0 {
			return out, fmt.Errorf("%w: not a %s file: want a %s PEM block without headers as block %d", ErrMalformed, what, typ, i+1)
		}
		out[i] = block.Bytes
	}
	if len(rest) != 0 {
		return out, fmt.Errorf("%w: %d bytes after the %s's last PEM block", ErrMalformed, len(rest), what)
	}
	if !bytes.Equal(marshalBlocks(types, out), b) {
		return out, fmt.Errorf("%w: the %s file is not in canonical PEM form (line lengths, white space); use the file as written", ErrMalformed, what)
	}
	if len(out[1]) != ed25519.SignatureSize {
		return out, fmt.Errorf("%w: %s signature of %d bytes, want %d", ErrMalformed, what, len(out[1]), ed25519.SignatureSize)
	}
	if _, err := x509.ParseCertificate(out[2]); err != nil {
		return out, fmt.Errorf("%w: %s certificate: %w", ErrMalformed, what, err)
	}
	return out, nil
}

// Hash is what the ledger commits for a signed warrant: the SHA-256 of
// its file (Marshal), which also covers the signature and certificate.
// sha256sum of the file gives the same.
func Hash(s Signed) [32]byte { return sha256.Sum256(s.Marshal()) }

// Verified is a signed warrant whose certificate and signature verified.
type Verified struct {
	Warrant Warrant
	// Authorizer is who signed it.
	Authorizer pki.Identity
	// Hash is Hash of the signed warrant.
	Hash [32]byte
}

// Verify checks a signed warrant at now: it is well formed, its
// certificate chains to the consortium CA (caPEM) and is an authorizer's,
// the signature verifies, and now is within [NotBefore, Expiry]. A
// warrant verifies only while its authorizer's certificate is valid. It
// does not know about revocations or queries: see Verified.Check.
func Verify(s Signed, caPEM []byte, now time.Time) (Verified, error) {
	v, err := VerifySignature(s, caPEM, now)
	if err != nil {
		return Verified{}, err
	}
	if err := v.checkWindow(now); err != nil {
		return Verified{}, err
	}
	return v, nil
}

// VerifySignature is Verify without the warrant's validity window: for
// showing or revoking a warrant that is not yet, or no longer, valid. The
// certificate is still checked at now.
func VerifySignature(s Signed, caPEM []byte, now time.Time) (Verified, error) {
	w, err := Parse(s.Warrant)
	if err != nil {
		return Verified{}, err
	}
	id, err := verifySigner(s.Warrant, s.Signature, s.Certificate, caPEM, now)
	if err != nil {
		return Verified{}, fmt.Errorf("%s: %w", w.label(), err)
	}
	return Verified{Warrant: w, Authorizer: id, Hash: Hash(s)}, nil
}

// verifySigner checks that certDER chains to the CA at now, is an
// authorizer's, and that sig is its signature over msg.
func verifySigner(msg, sig, certDER, caPEM []byte, now time.Time) (pki.Identity, error) {
	certPEM := pem.EncodeToMemory(&pem.Block{Type: BlockCertificate, Bytes: certDER})
	id, err := pki.VerifyCertificate(certPEM, caPEM, now)
	if err != nil {
		return pki.Identity{}, fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	if id.Role != pki.RoleAuthorizer {
		return pki.Identity{}, fmt.Errorf("%w: signed by %s, which is not an authorizer", ErrCertificate, id)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(id.PublicKey, msg, sig) {
		return pki.Identity{}, fmt.Errorf("%w: the signature is not %s's", ErrBadSignature, id)
	}
	return id, nil
}

func (v Verified) checkWindow(now time.Time) error {
	w := v.Warrant
	if now.Before(time.Unix(w.NotBefore, 0)) {
		return fmt.Errorf("%w: %s is valid from %s, now is %s", ErrNotYetValid, w.label(),
			unixString(w.NotBefore), now.UTC().Format(time.RFC3339))
	}
	if now.After(time.Unix(w.Expiry, 0)) {
		return fmt.Errorf("%w: %s expired at %s, now is %s", ErrExpired, w.label(),
			unixString(w.Expiry), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// Check reports whether the warrant covers a query: analyst (an identity
// URI mpcq://analyst/<name>) is one it names, now is within [NotBefore,
// Expiry], revoked (the caller's set of revoked warrant hashes; nil when
// none is known) does not hold its hash, every table is in scope, every
// column ("table.column") is of a table in scope and, when the scope lists
// columns, listed, and exact results are asked only if the scope allows
// them. Which columns a query reads (join keys included or not) is the
// caller's decision. The error wraps ErrExpired, ErrNotYetValid,
// ErrRevoked, ErrNotCovered or ErrScope.
func (v Verified) Check(analyst string, tables, columns []string, exact bool, now time.Time, revoked func([32]byte) bool) error {
	w := v.Warrant
	if err := v.checkWindow(now); err != nil {
		return err
	}
	if revoked != nil && revoked(v.Hash) {
		return fmt.Errorf("%w: %s has been revoked", ErrRevoked, w.label())
	}
	if _, found := slices.BinarySearch(w.Analysts, analyst); !found {
		return fmt.Errorf("%w: %s does not name analyst %q (it names %d analysts)", ErrNotCovered, w.label(), analyst, len(w.Analysts))
	}
	var outTables, outColumns []string
	for _, t := range tables {
		if _, found := slices.BinarySearch(w.Scope.Tables, t); !found {
			outTables = append(outTables, t)
		}
	}
	for _, c := range columns {
		t, _, ok := strings.Cut(c, ".")
		_, tableIn := slices.BinarySearch(w.Scope.Tables, t)
		_, colIn := slices.BinarySearch(w.Scope.Columns, c)
		if !ok || !tableIn || (len(w.Scope.Columns) > 0 && !colIn) {
			outColumns = append(outColumns, c)
		}
	}
	var why []string
	if len(outTables) > 0 {
		why = append(why, fmt.Sprintf("tables %q are not among %q", outTables, w.Scope.Tables))
	}
	if len(outColumns) > 0 {
		allowed := "every column of " + fmt.Sprintf("%q", w.Scope.Tables)
		if len(w.Scope.Columns) > 0 {
			allowed = fmt.Sprintf("%q", w.Scope.Columns)
		}
		why = append(why, fmt.Sprintf("columns %q are not among %s", outColumns, allowed))
	}
	if exact && !w.Scope.Exact {
		why = append(why, "exact (noise-free) results are not allowed")
	}
	if len(why) > 0 {
		return fmt.Errorf("%w: %s: %s", ErrScope, w.label(), strings.Join(why, "; "))
	}
	return nil
}

// CheckUsage reports whether one more query, spending thisEpsilonMilli
// (ε×1000) of privacy budget, fits the warrant after queriesSoFar queries
// that spent epsilonSoFarMilli. The caller counts both (from the ledger).
// The error wraps ErrExhausted.
func (v Verified) CheckUsage(queriesSoFar uint32, epsilonSoFarMilli, thisEpsilonMilli uint64) error {
	w := v.Warrant
	if m := w.Scope.MaxQueries; m != 0 && queriesSoFar >= m {
		return fmt.Errorf("%w: %s allows %d queries and %d have been run", ErrExhausted, w.label(), m, queriesSoFar)
	}
	if b := w.Scope.EpsilonMilli; b != 0 {
		total := epsilonSoFarMilli + thisEpsilonMilli
		if total < epsilonSoFarMilli || total > b {
			return fmt.Errorf("%w: %s allows ε %s in total; %s spent, this query asks %s", ErrExhausted, w.label(),
				FormatEpsilon(b), FormatEpsilon(epsilonSoFarMilli), FormatEpsilon(thisEpsilonMilli))
		}
	}
	return nil
}
