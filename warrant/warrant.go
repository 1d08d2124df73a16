// Package warrant is the consortium's signed warrant: the legal basis of a
// query as something a party can check. An authorizer (a judge or
// supervising prosecutor, pki.RoleAuthorizer) signs a Warrant naming a
// case, the analysts it covers, a Scope (tables, columns, whether exact
// results are allowed, a query count and a privacy budget) and a validity
// window; the analyst keeps the Signed file and attaches it to queries; a
// party verifies it against the consortium CA (Verify) and checks each
// query against it (Verified.Check, Verified.CheckUsage). An authorizer
// can revoke a warrant it signed (SignRevocation, VerifyRevocation).
//
// Every signed value has one canonical, domain-separated, length-prefixed
// encoding, and the parsers accept nothing else, so that a hash (Hash)
// names exactly one warrant: that hash is what the ledger commits.
//
// The package is pure: no I/O, no clock (the time is passed in), no
// logging. It is not a store: counting a warrant's queries and spent
// privacy budget, and keeping the set of revoked warrants, is the caller's
// business (parties read both from the ledger). It does not parse SQL:
// the caller names the tables and columns a query reads.
package warrant

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mpcq/mpcq/pki"
)

// Domain separates a warrant's encoding from every other signed message
// of the consortium.
const Domain = "mpcq/warrant/v1\x00"

// Limits of a warrant's fields.
const (
	IDLen       = 16  // bytes of a warrant id (32 hex characters)
	MaxCase     = 256 // bytes of the case reference
	MaxAnalysts = 64
	MaxTables   = 64
	MaxColumns  = 1024
	// MaxValidity is the longest window [NotBefore, Expiry] a warrant may
	// have; renew a warrant rather than sign one for longer.
	MaxValidity = 2 * 366 * 24 * time.Hour
)

// Sentinel errors. Every error of this package wraps one of them and names
// the warrant (its id and case) when it is known.
var (
	// ErrMalformed is wrapped when bytes are not a canonical encoding, or
	// a value cannot be encoded (an invalid field).
	ErrMalformed = errors.New("warrant: malformed")
	// ErrBadSignature is wrapped when a signature does not verify with
	// its certificate's key.
	ErrBadSignature = errors.New("warrant: bad signature")
	// ErrCertificate is wrapped when the signing certificate does not
	// chain to the consortium CA, is not an authorizer's, or (for a
	// revocation) is not the warrant's authorizer's.
	ErrCertificate = errors.New("warrant: certificate is not a consortium authorizer's")
	// ErrExpired is wrapped when the warrant's Expiry has passed.
	ErrExpired = errors.New("warrant: expired")
	// ErrNotYetValid is wrapped when the warrant's NotBefore (or a
	// revocation's time) is still ahead.
	ErrNotYetValid = errors.New("warrant: not yet valid")
	// ErrRevoked is wrapped when the warrant has been revoked.
	ErrRevoked = errors.New("warrant: revoked")
	// ErrScope is wrapped when a query reads a table or column outside
	// the warrant's scope, or asks for exact results it does not allow.
	ErrScope = errors.New("warrant: outside the warrant's scope")
	// ErrNotCovered is wrapped when the analyst is not one the warrant
	// names.
	ErrNotCovered = errors.New("warrant: analyst not covered")
	// ErrExhausted is wrapped when a query would exceed the warrant's
	// number of queries or privacy budget.
	ErrExhausted = errors.New("warrant: warrant's queries or privacy budget exhausted")
	// ErrWrongWarrant is wrapped when a revocation is of another warrant
	// than the one it is checked against.
	ErrWrongWarrant = errors.New("warrant: revocation is of another warrant")
)

// Scope is what a warrant allows its analysts to query.
type Scope struct {
	// Tables are the tables queries may read: sorted, unique, at least
	// one.
	Tables []string
	// Columns are the columns queries may read, as "table.column" of a
	// table in Tables: sorted, unique. Empty (nil) allows every column of
	// Tables; otherwise only the columns listed.
	Columns []string
	// Exact allows exact (noise-free) results.
	Exact bool
	// MaxQueries is how many queries the warrant allows; 0 is unlimited.
	MaxQueries uint32
	// EpsilonMilli is the total privacy budget ε×1000 the warrant's
	// queries may spend; 0 is unlimited.
	EpsilonMilli uint64
}

// Warrant is what an authorizer signs.
type Warrant struct {
	// ID is 32 lower-case hex characters, drawn at random (NewID).
	ID string
	// Case is the case reference: free text, no control characters.
	Case string
	// Analysts are the identity URIs mpcq://analyst/<name> the warrant
	// covers: sorted, unique, at least one.
	Analysts []string
	Scope    Scope
	// NotBefore and Expiry (Unix seconds) bound when the warrant is valid,
	// both included.
	NotBefore, Expiry int64
}

// NewID draws a fresh random warrant id.
func NewID() (string, error) {
	var b [IDLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("warrant: drawing an id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// New returns a warrant with a fresh id for the given fields, its lists
// sorted and duplicates dropped, or an error wrapping ErrMalformed saying
// which field is invalid.
func New(caseRef string, analysts []string, scope Scope, notBefore, expiry time.Time) (Warrant, error) {
	id, err := NewID()
	if err != nil {
		return Warrant{}, err
	}
	scope.Tables = sortedUnique(scope.Tables)
	scope.Columns = sortedUnique(scope.Columns)
	w := Warrant{ID: id, Case: caseRef, Analysts: sortedUnique(analysts), Scope: scope,
		NotBefore: notBefore.Unix(), Expiry: expiry.Unix()}
	return w, w.Validate()
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// identRE is a table or column name, as the schema allows them.
var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

var idRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// label names the warrant in error messages.
func (w Warrant) label() string {
	return fmt.Sprintf("warrant %s (case %q)", w.ID, w.Case)
}

// Validate reports whether w may be encoded: every field valid and every
// list sorted and unique. Its error wraps ErrMalformed and names the field.
func (w Warrant) Validate() error {
	if err := w.validate(); err != nil {
		return fmt.Errorf("%w: %s: %s", ErrMalformed, w.label(), err)
	}
	return nil
}

func (w Warrant) validate() error {
	if !idRE.MatchString(w.ID) {
		return fmt.Errorf("id %q is not %d lower-case hex characters", w.ID, 2*IDLen)
	}
	if err := checkText(w.Case, MaxCase, "case reference"); err != nil {
		return err
	}
	if len(w.Analysts) == 0 || len(w.Analysts) > MaxAnalysts {
		return fmt.Errorf("%d analysts, want 1..%d", len(w.Analysts), MaxAnalysts)
	}
	for _, a := range w.Analysts {
		role, name, err := pki.ParseIdentityURI(a)
		if err != nil {
			return fmt.Errorf("analyst %q: %v", a, err)
		}
		if role != pki.RoleAnalyst {
			return fmt.Errorf("analyst %q is a %s, not an analyst", a, role)
		}
		if canon := (pki.Identity{Role: role, Name: name}).String(); canon != a {
			return fmt.Errorf("analyst %q is not in canonical form %q", a, canon)
		}
	}
	if err := strictlySorted(w.Analysts, "analysts"); err != nil {
		return err
	}
	s := w.Scope
	if len(s.Tables) == 0 || len(s.Tables) > MaxTables {
		return fmt.Errorf("%d tables, want 1..%d", len(s.Tables), MaxTables)
	}
	for _, t := range s.Tables {
		if !identRE.MatchString(t) {
			return fmt.Errorf("table %q is not a table name (a-z, 0-9, '_', starting with a letter)", t)
		}
	}
	if err := strictlySorted(s.Tables, "tables"); err != nil {
		return err
	}
	if len(s.Columns) > MaxColumns {
		return fmt.Errorf("%d columns, at most %d", len(s.Columns), MaxColumns)
	}
	for _, c := range s.Columns {
		t, col, ok := strings.Cut(c, ".")
		if !ok || !identRE.MatchString(t) || !identRE.MatchString(col) {
			return fmt.Errorf("column %q is not table.column", c)
		}
		if _, found := slices.BinarySearch(s.Tables, t); !found {
			return fmt.Errorf("column %q is of table %q, which is not among the tables %v", c, t, s.Tables)
		}
	}
	if err := strictlySorted(s.Columns, "columns"); err != nil {
		return err
	}
	if w.NotBefore <= 0 {
		return fmt.Errorf("not-before %d is not a positive Unix time", w.NotBefore)
	}
	if w.Expiry <= w.NotBefore {
		return fmt.Errorf("expiry %s is not after not-before %s", unixString(w.Expiry), unixString(w.NotBefore))
	}
	if uint64(w.Expiry-w.NotBefore) > uint64(MaxValidity/time.Second) {
		return fmt.Errorf("valid from %s to %s, longer than %s", unixString(w.NotBefore), unixString(w.Expiry), MaxValidity)
	}
	return nil
}

func strictlySorted(s []string, what string) error {
	for i := 1; i < len(s); i++ {
		if s[i] <= s[i-1] {
			return fmt.Errorf("%s are not sorted and unique: %q after %q", what, s[i], s[i-1])
		}
	}
	return nil
}

func unixString(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }

// Encode is the signed encoding: Domain; the 16-byte id; the case; the
// analysts, tables and columns each as a uint32 count of uint32
// length-prefixed strings; exact as one byte 0 or 1; the uint32 query
// limit, the uint64 budget, and the int64 NotBefore and Expiry (all
// integers big-endian). It refuses an invalid warrant (Validate).
func (w Warrant) Encode() ([]byte, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	id, _ := hex.DecodeString(w.ID)
	var e encoder
	e.raw([]byte(Domain))
	e.raw(id)
	e.str(w.Case)
	e.strs(w.Analysts)
	e.strs(w.Scope.Tables)
	e.strs(w.Scope.Columns)
	if w.Scope.Exact {
		e.u8(1)
	} else {
		e.u8(0)
	}
	e.u32(w.Scope.MaxQueries)
	e.u64(w.Scope.EpsilonMilli)
	e.i64(w.NotBefore)
	e.i64(w.Expiry)
	return e.b, nil
}

// Parse decodes an untrusted encoding; it accepts exactly what Encode
// produces (so Encode(Parse(b)) == b).
func Parse(b []byte) (Warrant, error) {
	rest, ok := strings.CutPrefix(string(b), Domain)
	if !ok {
		return Warrant{}, fmt.Errorf("%w: not a warrant: missing domain %q", ErrMalformed, strings.TrimSuffix(Domain, "\x00"))
	}
	d := decoder{b: []byte(rest)}
	var w Warrant
	w.ID = hex.EncodeToString(d.take(IDLen, "id"))
	w.Case = d.str(MaxCase, "case reference")
	w.Analysts = d.strs(MaxAnalysts, 128, "analysts")
	w.Scope.Tables = d.strs(MaxTables, 63, "tables")
	w.Scope.Columns = d.strs(MaxColumns, 127, "columns")
	switch exact := d.u8("exact"); exact {
	case 0:
	case 1:
		w.Scope.Exact = true
	default:
		d.fail("exact flag %d, want 0 or 1", exact)
	}
	w.Scope.MaxQueries = d.u32("query limit")
	w.Scope.EpsilonMilli = d.u64("privacy budget")
	w.NotBefore = d.i64("not-before")
	w.Expiry = d.i64("expiry")
	d.end()
	if d.err != nil {
		return Warrant{}, d.err
	}
	if err := w.Validate(); err != nil {
		return Warrant{}, err
	}
	return w, nil
}
