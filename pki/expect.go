package pki

import (
	"errors"
	"fmt"
)

// ErrWrongIdentity is wrapped when a peer's certificate is valid under the
// consortium CA but names another member than the one expected: a client
// that dialled the coordinator reached a party, or the coordinator dialled
// party bank and reached party telecom.
var ErrWrongIdentity = errors.New("pki: wrong peer identity")

// Expect is the identity a client requires of the server it dials: a role
// and, when Name is not empty, exactly that member name. Every client says
// whom it means to reach (ClientConfig refuses a zero Expect), so a valid
// certificate of the wrong member is refused in the TLS handshake, before
// the client has shown its own certificate or sent a byte of a request.
type Expect struct {
	Role Role
	// Name, if not empty, is the one member name accepted.
	Name string
}

// ExpectRole accepts any member of role.
func ExpectRole(role Role) Expect { return Expect{Role: role} }

// ExpectMember accepts only the member mpcq://<role>/<name>.
func ExpectMember(role Role, name string) Expect { return Expect{Role: role, Name: name} }

// Validate reports whether e names a known role and, if any, a valid name.
func (e Expect) Validate() error {
	if !e.Role.Valid() {
		return fmt.Errorf("%w: expected server role %q is not one of %v", ErrBadRequest, e.Role, Roles())
	}
	if e.Name != "" && !ValidName(e.Name) {
		return fmt.Errorf("%w: expected server name %q is not a valid member name", ErrBadRequest, e.Name)
	}
	return nil
}

// String describes the expectation for error messages, e.g. "the
// coordinator (mpcq://coordinator/...)" or "party bank (mpcq://party/bank)".
func (e Expect) String() string {
	if e.Name != "" {
		return fmt.Sprintf("%s %s (%s)", e.Role, e.Name, identityURI(e.Role, e.Name))
	}
	article := "a "
	switch e.Role {
	case RoleCoordinator:
		article = "the "
	case RoleAnalyst, RoleAuditor:
		article = "an "
	}
	return fmt.Sprintf("%s%s (%s://%s/...)", article, e.Role, IdentityScheme, e.Role)
}

// Check returns nil if id is what e expects, and otherwise an error
// wrapping ErrWrongIdentity that names both, e.g. "peer presented
// mpcq://party/bank, expected the coordinator (mpcq://coordinator/...)".
func (e Expect) Check(id Identity) error { return e.check("peer", id) }

func (e Expect) check(peer string, id Identity) error {
	if id.Role == e.Role && (e.Name == "" || id.Name == e.Name) {
		return nil
	}
	return fmt.Errorf("%w: %s presented %s, expected %s", ErrWrongIdentity, peer, id, e)
}
