// Package pki is the consortium's public-key infrastructure: a small
// certificate authority whose Ed25519 certificates carry a member's role and
// name, mutual-TLS configurations built on them, the gRPC helpers that tell a
// handler who is calling, and careful reading and writing of key files.
//
// A member's identity is the URI SAN mpcq://<role>/<name> of its
// certificate (for example mpcq://party/telecom or
// mpcq://analyst/analyst-alice); the certificate's Ed25519 key is also the
// key the member signs protocol messages with (see PrivateKey).
//
// Both ends of a connection check identities: a server admits callers by
// role (RequireRole), and a client names the server it expects (Expect, a
// role and optionally a name), which ClientConfig enforces in the TLS
// handshake.
//
// It is not a general-purpose CA: there is no revocation list, no
// intermediate CA, no key type but Ed25519 and no TLS version below 1.3. It
// does not log. Deciding which role may do what is the caller's business;
// RequireRole and Expect only enforce the roles they are given.
package pki

import (
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Role is what a consortium member is allowed to be.
type Role string

// The consortium's roles.
const (
	// RoleParty is a data-holding institution's party daemon.
	RoleParty Role = "party"
	// RoleCoordinator is the coordinator daemon.
	RoleCoordinator Role = "coordinator"
	// RoleAnalyst is a police analyst who submits queries.
	RoleAnalyst Role = "analyst"
	// RoleAuditor is an auditor who reads the ledger and query archive.
	RoleAuditor Role = "auditor"
	// RoleAuthorizer is a judge or supervising prosecutor who signs
	// warrants: the legal basis that lets analysts query.
	RoleAuthorizer Role = "authorizer"
)

// Roles lists every role, in a fixed order.
func Roles() []Role {
	return []Role{RoleParty, RoleCoordinator, RoleAnalyst, RoleAuditor, RoleAuthorizer}
}

// Valid reports whether r is one of the consortium's roles.
func (r Role) Valid() bool {
	switch r {
	case RoleParty, RoleCoordinator, RoleAnalyst, RoleAuditor, RoleAuthorizer:
		return true
	}
	return false
}

// IdentityScheme is the URI scheme of identity SANs.
const IdentityScheme = "mpcq"

// ErrNoIdentity is wrapped when a certificate carries no mpcq:// identity.
var ErrNoIdentity = errors.New("pki: certificate carries no mpcq:// identity")

// ErrBadIdentity is wrapped when a certificate's identity is malformed: an
// unknown role, an invalid name, several identities, or a key that is not
// Ed25519.
var ErrBadIdentity = errors.New("pki: bad certificate identity")

// nameRE is what a member name may look like: lower case letters, digits,
// '-', '_' and '.', starting with a letter or digit, at most 64 characters.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidName reports whether name may be a member's name.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// GroupPrefix marks the certificate Subject's OrganizationalUnit values
// that carry an analyst's groups ("group:<name>"); the one OU without it is
// the role.
const GroupPrefix = "group:"

// MaxGroups is the most groups a certificate may carry.
const MaxGroups = 32

// ValidGroup reports whether name may be a group's name; group names
// follow the rules of member names.
func ValidGroup(name string) bool { return nameRE.MatchString(name) }

// Identity is who a certificate names: the member's role and name, the
// groups an analyst belongs to, and its Ed25519 public key.
type Identity struct {
	Role Role
	Name string
	// Groups are the analyst's groups (teams, units) from the certificate,
	// sorted and unique; nil when it carries none. Only analysts have
	// groups.
	Groups    []string
	PublicKey ed25519.PublicKey
}

// String returns the identity's URI, mpcq://<role>/<name>.
func (id Identity) String() string { return identityURI(id.Role, id.Name).String() }

func identityURI(role Role, name string) *url.URL {
	return &url.URL{Scheme: IdentityScheme, Host: string(role), Path: "/" + name}
}

// ParseIdentityURI parses mpcq://<role>/<name>, accepting only the
// canonical form: a known role, a valid name, nothing else (no port, user,
// query or fragment).
func ParseIdentityURI(s string) (Role, string, error) {
	rest, ok := strings.CutPrefix(s, IdentityScheme+"://")
	if !ok {
		return "", "", fmt.Errorf("%w: %q does not start with %s://", ErrBadIdentity, s, IdentityScheme)
	}
	roleStr, name, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", fmt.Errorf("%w: %q has no name; want %s://<role>/<name>", ErrBadIdentity, s, IdentityScheme)
	}
	role := Role(roleStr)
	if !role.Valid() {
		return "", "", fmt.Errorf("%w: %q names unknown role %q; roles are %v", ErrBadIdentity, s, roleStr, Roles())
	}
	if !ValidName(name) {
		return "", "", fmt.Errorf("%w: %q has invalid name %q; use 1-64 of a-z, 0-9, '.', '_', '-'", ErrBadIdentity, s, name)
	}
	return role, name, nil
}

// IdentityOf returns the identity cert carries. It does not verify the
// certificate: use it on verified chains (as PeerIdentity does) or after
// VerifyCertificate.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	if cert == nil {
		return Identity{}, fmt.Errorf("%w: no certificate", ErrNoIdentity)
	}
	var found []*url.URL
	for _, u := range cert.URIs {
		if u != nil && strings.EqualFold(u.Scheme, IdentityScheme) {
			found = append(found, u)
		}
	}
	subject := cert.Subject.CommonName
	switch len(found) {
	case 0:
		return Identity{}, fmt.Errorf("%w: certificate %q (serial %s) has no %s://<role>/<name> URI SAN; reissue it with the consortium CA",
			ErrNoIdentity, subject, cert.SerialNumber, IdentityScheme)
	case 1:
	default:
		return Identity{}, fmt.Errorf("%w: certificate %q carries %d identities; it must carry exactly one", ErrBadIdentity, subject, len(found))
	}
	role, name, err := ParseIdentityURI(found[0].String())
	if err != nil {
		return Identity{}, fmt.Errorf("certificate %q: %w", subject, err)
	}
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return Identity{}, fmt.Errorf("%w: certificate of %s://%s/%s has a %T key; consortium keys are Ed25519",
			ErrBadIdentity, IdentityScheme, role, name, cert.PublicKey)
	}
	groups, err := groupsOf(cert.Subject.OrganizationalUnit, role)
	if err != nil {
		return Identity{}, fmt.Errorf("certificate of %s://%s/%s: %w", IdentityScheme, role, name, err)
	}
	return Identity{Role: role, Name: name, Groups: groups, PublicKey: pub}, nil
}

// groupsOf reads the groups from a certificate's OrganizationalUnit values:
// valid names, unique, at most MaxGroups, and only for an analyst. It
// returns them sorted, nil if there are none.
func groupsOf(ous []string, role Role) ([]string, error) {
	var groups []string
	for _, ou := range ous {
		g, ok := strings.CutPrefix(ou, GroupPrefix)
		if !ok {
			continue
		}
		if !ValidGroup(g) {
			return nil, fmt.Errorf("%w: invalid group name %q; use 1-64 of a-z, 0-9, '.', '_', '-'", ErrBadIdentity, g)
		}
		groups = append(groups, g)
	}
	if len(groups) == 0 {
		return nil, nil
	}
	if role != RoleAnalyst {
		return nil, fmt.Errorf("%w: a %s certificate carries groups %v; only analysts have groups", ErrBadIdentity, role, groups)
	}
	if len(groups) > MaxGroups {
		return nil, fmt.Errorf("%w: %d groups, at most %d", ErrBadIdentity, len(groups), MaxGroups)
	}
	slices.Sort(groups)
	for i := 1; i < len(groups); i++ {
		if groups[i] == groups[i-1] {
			return nil, fmt.Errorf("%w: group %q appears twice", ErrBadIdentity, groups[i])
		}
	}
	return groups, nil
}
