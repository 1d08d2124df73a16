// Package entry is the canonical, versioned binary encoding of the records
// kept in the traceability ledger: CEREMONY, EPOCH, QUERY, RESULT and
// FAILURE, POLICY and REVOCATION, plus the salted commitments a QUERY
// carries.
//
// It is pure encoding and validation. It is not the log (package ledger),
// it does not hash keys or ciphertexts for the caller (callers put SHA-256
// digests of their own serialisations in the hash fields), and it keeps no
// plaintext of committed data (package ledger/archive keeps the openings).
//
// # Encoding (version 1)
//
// Every entry is
//
//	uint8  version (= 1)
//	uint8  type    (1 CEREMONY, 2 EPOCH, 3 QUERY, 4 RESULT, 5 FAILURE,
//	                6 POLICY, 7 REVOCATION)
//	fields in the fixed order documented on each type
//
// with integers as big-endian uint64, hashes and commitments as 32 raw
// bytes, strings as a uint16 big-endian byte length followed by UTF-8 bytes,
// and lists as a uint16 big-endian element count followed by the elements.
// Every field is fixed-width or length-prefixed and lists must be strictly
// sorted, so each value has exactly one encoding: Parse rejects an unknown
// version or type, a truncated field, trailing bytes, invalid UTF-8, an
// empty required string, an unsorted or duplicated list, and anything that
// Marshal would refuse to produce. Marshal(Parse(b)) == b for every b that
// Parse accepts. An entry is at most MaxSize bytes (the tlog-tiles limit).
//
// A new field or entry type means a new version or type number; old
// entries keep their meaning forever.
package entry

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// Version is the encoding version written by Marshal and the only one Parse
// accepts.
const Version = 1

// MaxSize is the largest encoded entry, the tlog-tiles entry size limit.
const MaxSize = 1<<16 - 1

// Length limits on string fields, in bytes.
const (
	// MaxIDLen bounds identifiers: query IDs, party names, parameter set names.
	MaxIDLen = 256
	// MaxTextLen bounds free text: analyst identity, failure reason.
	MaxTextLen = 4096
	// MaxParties bounds the party lists of EPOCH and RESULT.
	MaxParties = 256
)

// HashSize is the size of every hash and commitment field.
const HashSize = 32

// Hash is a SHA-256 digest or a commitment (see Commit).
type Hash = [HashSize]byte

// Type identifies the kind of an entry; its value is the type byte on the wire.
type Type uint8

// Entry types. The numbers are part of the encoding and never reused.
const (
	TypeCeremony Type = 1
	TypeEpoch    Type = 2
	TypeQuery    Type = 3
	TypeResult   Type = 4
	TypeFailure  Type = 5
	// TypePolicy is a party's policy version (see Policy).
	TypePolicy Type = 6
	// TypeRevocation is an authorizer's revocation of a warrant.
	TypeRevocation Type = 7
)

// Types lists every entry type in type-byte order.
func Types() []Type {
	return []Type{TypeCeremony, TypeEpoch, TypeQuery, TypeResult, TypeFailure, TypePolicy, TypeRevocation}
}

// String returns the upper-case name used in the design (CEREMONY, ...).
func (t Type) String() string {
	switch t {
	case TypeCeremony:
		return "CEREMONY"
	case TypeEpoch:
		return "EPOCH"
	case TypeQuery:
		return "QUERY"
	case TypeResult:
		return "RESULT"
	case TypeFailure:
		return "FAILURE"
	case TypePolicy:
		return "POLICY"
	case TypeRevocation:
		return "REVOCATION"
	default:
		return fmt.Sprintf("Type(%d)", uint8(t))
	}
}

var (
	// ErrVersion means the first byte is not an encoding version this code knows.
	ErrVersion = errors.New("unknown ledger entry version")
	// ErrType means the type byte is not a known entry type.
	ErrType = errors.New("unknown ledger entry type")
	// ErrMalformed means the bytes are truncated, have trailing data or a
	// field that cannot be decoded.
	ErrMalformed = errors.New("malformed ledger entry")
	// ErrInvalid means a field violates its constraint (empty, too long,
	// invalid UTF-8, unsorted or duplicated list, negative time).
	ErrInvalid = errors.New("invalid ledger entry")
	// ErrTooLarge means the encoded entry would exceed MaxSize.
	ErrTooLarge = errors.New("ledger entry too large")
)

// Entry is one ledger record: Ceremony, Epoch, Query, Result or Failure.
// The interface is sealed; use a type switch on the value Parse returns.
type Entry interface {
	// Type returns the entry's type byte.
	Type() Type
	validate() error
	encode(b *cryptobyte.Builder)
}

// decoder is implemented by pointers to the entry types.
type decoder interface {
	Entry
	decode(s *cryptobyte.String) bool
}

// Marshal validates e and returns its canonical encoding.
func Marshal(e Entry) ([]byte, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: nil entry", ErrInvalid)
	}
	if err := e.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", e.Type(), err)
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, 256))
	b.AddUint8(Version)
	b.AddUint8(uint8(e.Type()))
	e.encode(b)
	out, err := b.Bytes()
	if err != nil {
		// Only a length prefix overflow gets here, and validate bounds those.
		return nil, fmt.Errorf("%w: %s: %v", ErrTooLarge, e.Type(), err)
	}
	if len(out) > MaxSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, e.Type(), len(out), MaxSize)
	}
	return out, nil
}

// Parse decodes one entry, rejecting anything but the canonical encoding of
// a valid entry of a known version and type.
func Parse(data []byte) (Entry, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxSize)
	}
	s := cryptobyte.String(data)
	var version, typ uint8
	if !s.ReadUint8(&version) || !s.ReadUint8(&typ) {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the 2-byte header", ErrMalformed, len(data))
	}
	if version != Version {
		return nil, fmt.Errorf("%w: version %d, this build reads version %d", ErrVersion, version, Version)
	}
	var e decoder
	switch Type(typ) {
	case TypeCeremony:
		e = &Ceremony{}
	case TypeEpoch:
		e = &Epoch{}
	case TypeQuery:
		e = &Query{}
	case TypeResult:
		e = &Result{}
	case TypeFailure:
		e = &Failure{}
	case TypePolicy:
		e = &Policy{}
	case TypeRevocation:
		e = &Revocation{}
	default:
		return nil, fmt.Errorf("%w: type byte %d", ErrType, typ)
	}
	if !e.decode(&s) {
		return nil, fmt.Errorf("%w: %s truncated or has a bad length prefix", ErrMalformed, e.Type())
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: %s has %d trailing bytes", ErrMalformed, e.Type(), len(s))
	}
	if err := e.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", e.Type(), err)
	}
	// Return values, not pointers, so callers switch on entry.Query etc.
	switch v := e.(type) {
	case *Ceremony:
		return *v, nil
	case *Epoch:
		return *v, nil
	case *Query:
		return *v, nil
	case *Result:
		return *v, nil
	case *Policy:
		return *v, nil
	case *Revocation:
		return *v, nil
	default:
		return *e.(*Failure), nil
	}
}

// Ceremony records the outcome of the distributed key generation.
// Wire order: ParamSet, PublicKeyHash, RelinKeyHash, GaloisKeysHash.
type Ceremony struct {
	// ParamSet names the HE parameter set (non-empty, at most MaxIDLen bytes).
	ParamSet string
	// PublicKeyHash is the SHA-256 of the collective public key.
	PublicKeyHash Hash
	// RelinKeyHash is the SHA-256 of the relinearisation key.
	RelinKeyHash Hash
	// GaloisKeysHash is the SHA-256 of the Galois key set.
	GaloisKeysHash Hash
}

// Type implements Entry.
func (Ceremony) Type() Type { return TypeCeremony }

func (c Ceremony) validate() error {
	return checkString("param set", c.ParamSet, MaxIDLen, true)
}

func (c Ceremony) encode(b *cryptobyte.Builder) {
	addString(b, c.ParamSet)
	b.AddBytes(c.PublicKeyHash[:])
	b.AddBytes(c.RelinKeyHash[:])
	b.AddBytes(c.GaloisKeysHash[:])
}

func (c *Ceremony) decode(s *cryptobyte.String) bool {
	return readString(s, &c.ParamSet) &&
		s.CopyBytes(c.PublicKeyHash[:]) &&
		s.CopyBytes(c.RelinKeyHash[:]) &&
		s.CopyBytes(c.GaloisKeysHash[:])
}

// PartySize is one party's input set size in an EPOCH.
type PartySize struct {
	Party string
	Size  uint64
}

// PartyChange is one party's change in an incremental EPOCH: the rows it
// added (new slots or slots known at other parties) and removed (their
// slots are empty at this party from this epoch on).
type PartyChange struct {
	Party   string
	Added   uint64
	Removed uint64
}

// Epoch records a private set alignment: the size and hash of the union of
// the parties' person keys, and each party's set size.
// Wire order: EpochID, UnionSize, UnionHash, SetSizes (count, then Party,
// Size each), then, for an incremental epoch only, Previous and Changes
// (count, then Party, Added, Removed each). A full alignment, and every
// EPOCH written before incremental epochs existed, ends at SetSizes
// (canonical: a present block has Previous != 0).
type Epoch struct {
	EpochID   uint64
	UnionSize uint64
	// UnionHash commits to the aligned union (its computation is the
	// alignment protocol's business; an incremental epoch chains the
	// previous epoch's hash with the pseudonyms it added).
	UnionHash Hash
	// SetSizes lists every party once, sorted by Party name (byte order).
	SetSizes []PartySize
	// Previous is the epoch an incremental epoch extends; 0 for a full
	// alignment, which starts a lineage.
	Previous uint64
	// Changes lists, for an incremental epoch, every party of SetSizes
	// once in the same order, with its added and removed rows.
	Changes []PartyChange
}

// Type implements Entry.
func (Epoch) Type() Type { return TypeEpoch }

func (e Epoch) validate() error {
	if len(e.SetSizes) > MaxParties {
		return fmt.Errorf("%w: %d party set sizes, limit %d", ErrInvalid, len(e.SetSizes), MaxParties)
	}
	for i, p := range e.SetSizes {
		if err := checkString("party", p.Party, MaxIDLen, true); err != nil {
			return fmt.Errorf("set size %d: %w", i, err)
		}
		if i > 0 && e.SetSizes[i-1].Party >= p.Party {
			return fmt.Errorf("%w: set sizes must be sorted by party with no duplicate: %q then %q",
				ErrInvalid, e.SetSizes[i-1].Party, p.Party)
		}
	}
	if e.Previous == 0 {
		if len(e.Changes) > 0 {
			return fmt.Errorf("%w: %d party changes in an epoch with no previous epoch", ErrInvalid, len(e.Changes))
		}
		return nil
	}
	if e.Previous == e.EpochID {
		return fmt.Errorf("%w: epoch %d names itself as its previous epoch", ErrInvalid, e.EpochID)
	}
	if len(e.Changes) != len(e.SetSizes) {
		return fmt.Errorf("%w: %d party changes for %d set sizes", ErrInvalid, len(e.Changes), len(e.SetSizes))
	}
	for i, c := range e.Changes {
		if c.Party != e.SetSizes[i].Party {
			return fmt.Errorf("%w: change %d is for party %q, set size %d for %q", ErrInvalid, i, c.Party, i, e.SetSizes[i].Party)
		}
		if c.Added > e.SetSizes[i].Size {
			return fmt.Errorf("%w: party %q added %d rows but holds %d", ErrInvalid, c.Party, c.Added, e.SetSizes[i].Size)
		}
	}
	return nil
}

func (e Epoch) encode(b *cryptobyte.Builder) {
	b.AddUint64(e.EpochID)
	b.AddUint64(e.UnionSize)
	b.AddBytes(e.UnionHash[:])
	b.AddUint16(uint16(len(e.SetSizes)))
	for _, p := range e.SetSizes {
		addString(b, p.Party)
		b.AddUint64(p.Size)
	}
	if e.Previous == 0 {
		return
	}
	b.AddUint64(e.Previous)
	b.AddUint16(uint16(len(e.Changes)))
	for _, c := range e.Changes {
		addString(b, c.Party)
		b.AddUint64(c.Added)
		b.AddUint64(c.Removed)
	}
}

func (e *Epoch) decode(s *cryptobyte.String) bool {
	var n uint16
	if !s.ReadUint64(&e.EpochID) || !s.ReadUint64(&e.UnionSize) ||
		!s.CopyBytes(e.UnionHash[:]) || !s.ReadUint16(&n) {
		return false
	}
	// Each element is at least 10 bytes; refuse counts the input cannot hold
	// before allocating.
	if int(n)*10 > len(*s) {
		return false
	}
	if n > 0 {
		e.SetSizes = make([]PartySize, n)
	}
	for i := range e.SetSizes {
		if !readString(s, &e.SetSizes[i].Party) || !s.ReadUint64(&e.SetSizes[i].Size) {
			return false
		}
	}
	if s.Empty() {
		return true
	}
	if !s.ReadUint64(&e.Previous) || e.Previous == 0 || !s.ReadUint16(&n) {
		return false // a present block names a previous epoch (canonical)
	}
	// Each change is at least 18 bytes.
	if int(n)*18 > len(*s) {
		return false
	}
	if n > 0 {
		e.Changes = make([]PartyChange, n)
	}
	for i := range e.Changes {
		c := &e.Changes[i]
		if !readString(s, &c.Party) || !s.ReadUint64(&c.Added) || !s.ReadUint64(&c.Removed) {
			return false
		}
	}
	return true
}

// Query records an analyst's query before any party contributes to it.
// Wire order: QueryID, QueryCommitment, Analyst, PurposeCommitment,
// AnalystKeyHash, PlanHash, EpochID, ParamSet, Time, then the privacy
// block (EpsilonMilli, Collusion as uint16, WarrantHash) only when one of
// its fields is set: an exact query without a warrant, and every QUERY
// written before the block existed, ends at Time (canonical: a present
// block is never all zero).
type Query struct {
	// QueryID is unique in the ledger (non-empty, at most MaxIDLen bytes).
	QueryID string
	// QueryCommitment is Commit(salt, canonical query text).
	QueryCommitment Hash
	// Analyst is the identity from the analyst's certificate (non-empty,
	// at most MaxTextLen bytes).
	Analyst string
	// PurposeCommitment is Commit(salt, PurposeData(purpose, legal basis)).
	PurposeCommitment Hash
	// AnalystKeyHash is the SHA-256 of the analyst's public key.
	AnalystKeyHash Hash
	// PlanHash is the SHA-256 of the execution plan.
	PlanHash Hash
	// EpochID is the alignment epoch the query runs on.
	EpochID uint64
	// ParamSet names the HE parameter set (non-empty, at most MaxIDLen bytes).
	ParamSet string
	// Time is the submission time in Unix seconds (not negative).
	Time int64
	// EpsilonMilli is the privacy cost ε of the query in thousandths
	// (ε = EpsilonMilli/1000); 0 for an exact (noise-free) query.
	EpsilonMilli uint64
	// Collusion is the collusion tolerance k the noise is calibrated for:
	// the guarantee holds against the analyst colluding with up to k
	// parties (k+1 parties add noise). 0 for an exact query.
	Collusion uint16
	// WarrantHash is the hash of the signed warrant the query runs under
	// (warrant.Hash), zero for none.
	WarrantHash Hash
}

// Type implements Entry.
func (Query) Type() Type { return TypeQuery }

// privacy reports whether the privacy block is encoded.
func (q Query) privacy() bool {
	return q.EpsilonMilli != 0 || q.Collusion != 0 || q.WarrantHash != (Hash{})
}

func (q Query) validate() error {
	if err := checkString("query ID", q.QueryID, MaxIDLen, true); err != nil {
		return err
	}
	if err := checkString("analyst", q.Analyst, MaxTextLen, true); err != nil {
		return err
	}
	if err := checkString("param set", q.ParamSet, MaxIDLen, true); err != nil {
		return err
	}
	if q.Time < 0 {
		return fmt.Errorf("%w: time %d is before 1970", ErrInvalid, q.Time)
	}
	if q.EpsilonMilli == 0 && q.Collusion != 0 {
		return fmt.Errorf("%w: collusion tolerance %d on an exact query (ε 0)", ErrInvalid, q.Collusion)
	}
	return nil
}

func (q Query) encode(b *cryptobyte.Builder) {
	addString(b, q.QueryID)
	b.AddBytes(q.QueryCommitment[:])
	addString(b, q.Analyst)
	b.AddBytes(q.PurposeCommitment[:])
	b.AddBytes(q.AnalystKeyHash[:])
	b.AddBytes(q.PlanHash[:])
	b.AddUint64(q.EpochID)
	addString(b, q.ParamSet)
	b.AddUint64(uint64(q.Time))
	if q.privacy() {
		b.AddUint64(q.EpsilonMilli)
		b.AddUint16(q.Collusion)
		b.AddBytes(q.WarrantHash[:])
	}
}

func (q *Query) decode(s *cryptobyte.String) bool {
	var t uint64
	ok := readString(s, &q.QueryID) &&
		s.CopyBytes(q.QueryCommitment[:]) &&
		readString(s, &q.Analyst) &&
		s.CopyBytes(q.PurposeCommitment[:]) &&
		s.CopyBytes(q.AnalystKeyHash[:]) &&
		s.CopyBytes(q.PlanHash[:]) &&
		s.ReadUint64(&q.EpochID) &&
		readString(s, &q.ParamSet) &&
		s.ReadUint64(&t)
	if !ok || t > math.MaxInt64 {
		return false
	}
	q.Time = int64(t)
	if len(*s) == 0 {
		return true
	}
	// The optional privacy block: never all zero when present.
	return s.ReadUint64(&q.EpsilonMilli) && s.ReadUint16(&q.Collusion) &&
		s.CopyBytes(q.WarrantHash[:]) && q.privacy()
}

// Result records the outcome of a query.
// Wire order: QueryID, CiphertextHash, Parties (count, then each name),
// then PackedHash only when it is set: a RESULT written before it existed
// parses unchanged, and a zero PackedHash is never encoded (canonical).
type Result struct {
	QueryID string
	// CiphertextHash is the SHA-256 of the final ciphertext.
	CiphertextHash Hash
	// Parties lists the parties that contributed decryption shares, sorted
	// (byte order), no duplicate, at least one.
	Parties []string
	// PackedHash is the SHA-256 of the packed ciphertexts every party
	// partially decrypted (the last party's signed output, each as a
	// uint64 length and its bytes: chainsig.CiphertextsHash); zero in
	// entries written before it was recorded.
	PackedHash Hash
}

// Type implements Entry.
func (Result) Type() Type { return TypeResult }

func (r Result) validate() error {
	if err := checkString("query ID", r.QueryID, MaxIDLen, true); err != nil {
		return err
	}
	if len(r.Parties) == 0 || len(r.Parties) > MaxParties {
		return fmt.Errorf("%w: %d decrypting parties, want 1..%d", ErrInvalid, len(r.Parties), MaxParties)
	}
	for i, p := range r.Parties {
		if err := checkString("party", p, MaxIDLen, true); err != nil {
			return fmt.Errorf("party %d: %w", i, err)
		}
		if i > 0 && r.Parties[i-1] >= p {
			return fmt.Errorf("%w: parties must be sorted with no duplicate: %q then %q", ErrInvalid, r.Parties[i-1], p)
		}
	}
	return nil
}

func (r Result) encode(b *cryptobyte.Builder) {
	addString(b, r.QueryID)
	b.AddBytes(r.CiphertextHash[:])
	b.AddUint16(uint16(len(r.Parties)))
	for _, p := range r.Parties {
		addString(b, p)
	}
	if r.PackedHash != (Hash{}) {
		b.AddBytes(r.PackedHash[:])
	}
}

func (r *Result) decode(s *cryptobyte.String) bool {
	var n uint16
	if !readString(s, &r.QueryID) || !s.CopyBytes(r.CiphertextHash[:]) || !s.ReadUint16(&n) {
		return false
	}
	if int(n)*2 > len(*s) {
		return false
	}
	if n > 0 {
		r.Parties = make([]string, n)
	}
	for i := range r.Parties {
		if !readString(s, &r.Parties[i]) {
			return false
		}
	}
	if len(*s) == 0 {
		return true
	}
	// The optional PackedHash: exactly 32 bytes, never zero (a zero hash
	// is encoded as its absence).
	return s.CopyBytes(r.PackedHash[:]) && r.PackedHash != (Hash{})
}

// Failure records that a step failed.
// Wire order: QueryID, Reason, Party.
type Failure struct {
	// QueryID is the query that failed, or empty for a failure outside a
	// query (for example a ceremony).
	QueryID string
	// Reason is a non-empty, human-readable cause (at most MaxTextLen bytes).
	// It must not contain secrets or person identifiers.
	Reason string
	// Party is the party at fault or reporting, or empty for the coordinator.
	Party string
}

// Type implements Entry.
func (Failure) Type() Type { return TypeFailure }

func (f Failure) validate() error {
	if err := checkString("query ID", f.QueryID, MaxIDLen, false); err != nil {
		return err
	}
	if err := checkString("reason", f.Reason, MaxTextLen, true); err != nil {
		return err
	}
	return checkString("party", f.Party, MaxIDLen, false)
}

func (f Failure) encode(b *cryptobyte.Builder) {
	addString(b, f.QueryID)
	addString(b, f.Reason)
	addString(b, f.Party)
}

func (f *Failure) decode(s *cryptobyte.String) bool {
	return readString(s, &f.QueryID) && readString(s, &f.Reason) && readString(s, &f.Party)
}

// MaxPolicyLen bounds a POLICY entry's content, MaxBlobLen its
// certificate and a REVOCATION's signed revocation, in bytes.
const (
	MaxPolicyLen = 48 << 10
	MaxBlobLen   = 4 << 10
)

// Policy records a version of a party's policy, signed by the party: the
// policy in force for a query is the party's latest POLICY entry before
// the query's QUERY entry.
// Wire order: Party, Version, PolicyHash, Content (uint16 length),
// Signature (uint16 length), Certificate (uint16 length).
type Policy struct {
	// Party is the party's name (non-empty, at most MaxIDLen bytes).
	Party string
	// Version is the policy's version number (at least 1).
	Version uint64
	// PolicyHash is the SHA-256 of Content.
	PolicyHash Hash
	// Content is the policy's canonical encoding (at most MaxPolicyLen).
	Content []byte
	// Signature is the party's Ed25519 signature over PolicySigned.
	Signature []byte
	// Certificate is the party's certificate (DER) whose key signed.
	Certificate []byte
}

// PolicyDomain separates a policy signature from every other signed
// message of the consortium.
const PolicyDomain = "mpcq/policy/v1\x00"

// PolicySigned is what a party signs for a POLICY entry: PolicyDomain, the
// party name (uint16 length and bytes), the version and the policy hash.
func PolicySigned(party string, version uint64, hash Hash) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddBytes([]byte(PolicyDomain))
	addString(b, party)
	b.AddUint64(version)
	b.AddBytes(hash[:])
	return b.BytesOrPanic()
}

// Type implements Entry.
func (Policy) Type() Type { return TypePolicy }

func (p Policy) validate() error {
	if err := checkString("party", p.Party, MaxIDLen, true); err != nil {
		return err
	}
	switch {
	case p.Version == 0:
		return fmt.Errorf("%w: policy version 0 (versions start at 1)", ErrInvalid)
	case len(p.Content) == 0 || len(p.Content) > MaxPolicyLen:
		return fmt.Errorf("%w: policy content of %d bytes (1..%d)", ErrInvalid, len(p.Content), MaxPolicyLen)
	case sha256.Sum256(p.Content) != p.PolicyHash:
		return fmt.Errorf("%w: policy hash is not the SHA-256 of the content", ErrInvalid)
	case len(p.Signature) != ed25519.SignatureSize:
		return fmt.Errorf("%w: policy signature of %d bytes, want %d", ErrInvalid, len(p.Signature), ed25519.SignatureSize)
	case len(p.Certificate) == 0 || len(p.Certificate) > MaxBlobLen:
		return fmt.Errorf("%w: certificate of %d bytes (1..%d)", ErrInvalid, len(p.Certificate), MaxBlobLen)
	}
	return nil
}

func (p Policy) encode(b *cryptobyte.Builder) {
	addString(b, p.Party)
	b.AddUint64(p.Version)
	b.AddBytes(p.PolicyHash[:])
	addBytes(b, p.Content)
	addBytes(b, p.Signature)
	addBytes(b, p.Certificate)
}

func (p *Policy) decode(s *cryptobyte.String) bool {
	return readString(s, &p.Party) && s.ReadUint64(&p.Version) && s.CopyBytes(p.PolicyHash[:]) &&
		readBytes(s, &p.Content) && readBytes(s, &p.Signature) && readBytes(s, &p.Certificate)
}

// Revocation records that an authorizer revoked a warrant.
// Wire order: WarrantHash, Signed (uint16 length).
type Revocation struct {
	// WarrantHash is the revoked warrant's hash (warrant.Hash).
	WarrantHash Hash
	// Signed is the authorizer's signed revocation (its file encoding,
	// at most MaxBlobLen bytes), which names the same warrant hash.
	Signed []byte
}

// Type implements Entry.
func (Revocation) Type() Type { return TypeRevocation }

func (r Revocation) validate() error {
	if r.WarrantHash == (Hash{}) {
		return fmt.Errorf("%w: revocation of a zero warrant hash", ErrInvalid)
	}
	if len(r.Signed) == 0 || len(r.Signed) > MaxBlobLen*2 {
		return fmt.Errorf("%w: signed revocation of %d bytes (1..%d)", ErrInvalid, len(r.Signed), MaxBlobLen*2)
	}
	return nil
}

func (r Revocation) encode(b *cryptobyte.Builder) {
	b.AddBytes(r.WarrantHash[:])
	addBytes(b, r.Signed)
}

func (r *Revocation) decode(s *cryptobyte.String) bool {
	return s.CopyBytes(r.WarrantHash[:]) && readBytes(s, &r.Signed)
}

func addBytes(b *cryptobyte.Builder, v []byte) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
}

func readBytes(s *cryptobyte.String, out *[]byte) bool {
	var v cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&v) {
		return false
	}
	*out = append([]byte(nil), v...)
	return true
}

func checkString(what, v string, maxLen int, required bool) error {
	switch {
	case required && v == "":
		return fmt.Errorf("%w: %s is empty", ErrInvalid, what)
	case len(v) > maxLen:
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrInvalid, what, len(v), maxLen)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	return nil
}

func addString(b *cryptobyte.Builder, v string) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(v)) })
}

func readString(s *cryptobyte.String, out *string) bool {
	var v cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&v) {
		return false
	}
	*out = string(v)
	return true
}
