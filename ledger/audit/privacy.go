package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/policy"
	"github.com/mpcq/mpcq/warrant"
)

var (
	// ErrPolicy means a POLICY entry does not verify: its certificate is
	// not a consortium party's of the entry's name, its signature or
	// content is wrong, or its version does not increase on the party's
	// previous one.
	ErrPolicy = errors.New("policy entry does not verify")
	// ErrRevocation means a REVOCATION entry does not verify: its signed
	// revocation does not parse, names another warrant, or is not signed
	// by the warrant's authorizer (or, the warrant unknown, by an
	// authorizer).
	ErrRevocation = errors.New("revocation entry does not verify")
	// ErrWarrant means the archived warrant of a QUERY does not match the
	// entry's warrant hash or its signature does not verify.
	ErrWarrant = errors.New("query warrant does not verify")
)

// WithCA gives Verify the consortium CA certificate (PEM) that POLICY
// certificates, warrants and revocations must chain to. Without it those
// signatures are still checked against the certificates' own keys, but
// the certificates are not, and the Report says so in a warning.
func WithCA(caPEM []byte) Option {
	return func(opts *options) { opts.caPEM = bytes.Clone(caPEM) }
}

// privacyState is what the privacy checks remember along the log.
type privacyState struct {
	// lastPolicy is each party's last POLICY version and its index.
	lastPolicy map[string]policySeen
	// warrants maps a warrant hash to the archived signed warrant of a
	// QUERY that ran under it and that query's time.
	warrants map[entry.Hash]knownWarrant
	// revoked maps a warrant hash to the index of its REVOCATION.
	revoked map[entry.Hash]uint64
	// lastQueryTime is the time of the latest QUERY seen (0 before any).
	lastQueryTime int64
	noCAWarned    bool
}

type policySeen struct {
	version uint64
	index   uint64
	hash    entry.Hash
}

type knownWarrant struct {
	signed warrant.Signed
	time   int64
}

func newPrivacyState() privacyState {
	return privacyState{lastPolicy: map[string]policySeen{}, warrants: map[entry.Hash]knownWarrant{}, revoked: map[entry.Hash]uint64{}}
}

// noCA records, once, that certificates could not be checked.
func (r *rules) noCA() {
	if r.caPEM == nil && !r.priv.noCAWarned {
		r.priv.noCAWarned = true
		r.warnings = append(r.warnings, "no consortium CA given: the certificates of POLICY entries, warrants and revocations were not checked against it (their signatures were)")
	}
}

// signer returns the identity of certDER, checked against the CA at t when
// one is given, and verifies that its key signed msg.
func (r *rules) signer(certDER, msg, sig []byte, t time.Time) (pki.Identity, error) {
	var id pki.Identity
	if r.caPEM != nil {
		var err error
		id, err = pki.VerifyCertificate(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), r.caPEM, t)
		if err != nil {
			return pki.Identity{}, err
		}
	} else {
		r.noCA()
		cert, err := x509.ParseCertificate(certDER)
		if err != nil {
			return pki.Identity{}, fmt.Errorf("certificate does not parse: %w", err)
		}
		if id, err = pki.IdentityOf(cert); err != nil {
			return pki.Identity{}, err
		}
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(id.PublicKey, msg, sig) {
		return pki.Identity{}, fmt.Errorf("the signature is not %s's", id)
	}
	return id, nil
}

// policyTime is when a POLICY's certificate must be valid: the entry has no
// time, but it was logged after the previous QUERY, so the certificate must
// still be valid then (or, issued later, at its NotBefore).
func (r *rules) policyTime(certDER []byte) time.Time {
	t := time.Unix(r.priv.lastQueryTime, 0)
	if cert, err := x509.ParseCertificate(certDER); err == nil && cert.NotBefore.After(t) {
		t = cert.NotBefore
	}
	return t
}

// checkPolicy verifies a POLICY entry.
func (r *rules) checkPolicy(index uint64, path string, v entry.Policy) {
	bad := func(format string, args ...any) {
		r.err = failAt(index, path, fmt.Errorf("%w: POLICY of party %q version %d: %s", ErrPolicy, v.Party, v.Version, fmt.Sprintf(format, args...)))
	}
	id, err := r.signer(v.Certificate, entry.PolicySigned(v.Party, v.Version, v.PolicyHash), v.Signature, r.policyTime(v.Certificate))
	if err != nil {
		bad("%v", err)
		return
	}
	if id.Role != pki.RoleParty || id.Name != v.Party {
		bad("signed by %s, not by party %q", id, v.Party)
		return
	}
	p, err := policy.Parse(fmt.Sprintf("POLICY entry %d", index), v.Content)
	if err != nil {
		bad("content does not parse: %v", err)
		return
	}
	switch {
	case !bytes.Equal(p.Canonical(), v.Content):
		bad("content is not the policy's canonical form")
		return
	case p.Party != v.Party:
		bad("content is party %q's policy", p.Party)
		return
	case p.Version <= 0 || uint64(p.Version) != v.Version:
		bad("content is version %d", p.Version)
		return
	}
	if prev, ok := r.priv.lastPolicy[v.Party]; ok && v.Version <= prev.version {
		if v.Version == prev.version && v.PolicyHash == prev.hash {
			// The same version published again (the coordinator retried):
			// it stays in force from its first entry.
			r.warnings = append(r.warnings, fmt.Sprintf("entry %d: POLICY of party %s version %d repeats the entry at index %d", index, v.Party, v.Version, prev.index))
			return
		}
		bad("version does not increase on version %d at index %d", prev.version, prev.index)
		return
	}
	r.priv.lastPolicy[v.Party] = policySeen{version: v.Version, index: index, hash: v.PolicyHash}
}

// checkRevocation verifies a REVOCATION entry.
func (r *rules) checkRevocation(index uint64, path string, v entry.Revocation) {
	bad := func(format string, args ...any) {
		r.err = failAt(index, path, fmt.Errorf("%w: REVOCATION of warrant %s: %s", ErrRevocation, hex.EncodeToString(v.WarrantHash[:]), fmt.Sprintf(format, args...)))
	}
	sr, err := warrant.ParseSignedRevocation(v.Signed)
	if err != nil {
		bad("%v", err)
		return
	}
	rv, err := warrant.ParseRevocation(sr.Revocation)
	if err != nil {
		bad("%v", err)
		return
	}
	if rv.WarrantHash != v.WarrantHash {
		bad("the signed revocation is of warrant %s", hex.EncodeToString(rv.WarrantHash[:]))
		return
	}
	at := time.Unix(rv.Time, 0)
	if w, ok := r.priv.warrants[v.WarrantHash]; ok && r.caPEM != nil {
		vw, err := warrant.VerifySignature(w.signed, r.caPEM, time.Unix(w.time, 0))
		if err != nil {
			bad("the revoked warrant (archived with a query) does not verify: %v", err)
			return
		}
		if _, err := warrant.VerifyRevocation(sr, r.caPEM, vw, at); err != nil {
			bad("%v", err)
			return
		}
	} else {
		id, err := r.signer(sr.Certificate, sr.Revocation, sr.Signature, at)
		if err != nil {
			bad("%v", err)
			return
		}
		if id.Role != pki.RoleAuthorizer {
			bad("signed by %s, which is not an authorizer", id)
			return
		}
		if ok {
			// Without a CA, still require the warrant's own authorizer.
			if wid, err := r.signer(w.signed.Certificate, w.signed.Warrant, w.signed.Signature, time.Unix(w.time, 0)); err != nil {
				bad("the revoked warrant (archived with a query) does not verify: %v", err)
				return
			} else if wid.Name != id.Name || wid.Role != id.Role {
				bad("signed by %s, but only the warrant's authorizer %s may revoke it", id, wid)
				return
			}
		}
	}
	if prev, ok := r.priv.revoked[v.WarrantHash]; ok {
		r.warnings = append(r.warnings, fmt.Sprintf("entry %d: warrant %x revoked again (first at entry %d)", index, v.WarrantHash[:8], prev))
	} else {
		r.priv.revoked[v.WarrantHash] = index
	}
}

// checkQueryWarrant verifies the archived warrant of a QUERY entry; rec is
// nil when the archive was not given.
func (r *rules) checkQueryWarrant(index uint64, path string, v entry.Query, rec *archive.Record) {
	r.priv.lastQueryTime = max(r.priv.lastQueryTime, v.Time)
	if v.WarrantHash != (entry.Hash{}) {
		if at, ok := r.priv.revoked[v.WarrantHash]; ok {
			r.warnings = append(r.warnings, fmt.Sprintf("entry %d: QUERY %q runs under warrant %x, revoked at entry %d", index, v.QueryID, v.WarrantHash[:8], at))
		}
	}
	if rec == nil || len(rec.Warrant) == 0 {
		return
	}
	bad := func(format string, args ...any) {
		r.err = failAt(index, path, fmt.Errorf("%w: QUERY %q: %s", ErrWarrant, v.QueryID, fmt.Sprintf(format, args...)))
	}
	if v.WarrantHash == (entry.Hash{}) {
		bad("the archive holds a warrant for a query the ledger records without one")
		return
	}
	s, err := warrant.ParseSigned(rec.Warrant)
	if err != nil {
		bad("archived warrant: %v", err)
		return
	}
	if h := warrant.Hash(s); h != v.WarrantHash {
		bad("archived warrant has hash %s, the entry names %s", hex.EncodeToString(h[:]), hex.EncodeToString(v.WarrantHash[:]))
		return
	}
	t := time.Unix(v.Time, 0)
	if r.caPEM != nil {
		if _, err := warrant.VerifySignature(s, r.caPEM, t); err != nil {
			bad("archived warrant: %v", err)
			return
		}
	} else {
		id, err := r.signer(s.Certificate, s.Warrant, s.Signature, t)
		if err != nil {
			bad("archived warrant: %v", err)
			return
		}
		if id.Role != pki.RoleAuthorizer {
			bad("archived warrant is signed by %s, which is not an authorizer", id)
			return
		}
	}
	if _, ok := r.priv.warrants[v.WarrantHash]; !ok {
		r.priv.warrants[v.WarrantHash] = knownWarrant{signed: s, time: v.Time}
	}
	r.warrantsChecked++
}
