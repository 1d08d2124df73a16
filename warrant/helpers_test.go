package warrant

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/mpcq/mpcq/pki"
)

// member is a test certificate and its key.
type member struct {
	certPEM []byte
	key     ed25519.PrivateKey
	uri     string
}

// consortium is a test CA with an authorizer, a second authorizer, an
// analyst and a party, and an authorizer of another CA.
type consortium struct {
	now                         time.Time
	caPEM                       []byte
	judge, judge2, alice, party member
	foreignJudge                member
}

func newMember(t testing.TB, ca *pki.CA, role pki.Role, name string, now time.Time) member {
	t.Helper()
	c, k, err := ca.Issue(role, name, nil, now, 12*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return member{certPEM: c, key: key, uri: pki.Identity{Role: role, Name: name}.String()}
}

func newConsortium(t testing.TB) *consortium {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	ca, err := pki.NewCA("mpcq test CA", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("mpcq test CA", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &consortium{
		now:          now,
		caPEM:        ca.CertPEM(),
		judge:        newMember(t, ca, pki.RoleAuthorizer, "judge-a", now),
		judge2:       newMember(t, ca, pki.RoleAuthorizer, "judge-b", now),
		alice:        newMember(t, ca, pki.RoleAnalyst, "alice", now),
		party:        newMember(t, ca, pki.RoleParty, "bank", now),
		foreignJudge: newMember(t, other, pki.RoleAuthorizer, "judge-a", now),
	}
}

// warrant returns a valid warrant for alice and bob over bank and
// telecom, valid from a minute ago for an hour.
func (c *consortium) warrant(t testing.TB) Warrant {
	t.Helper()
	w, err := New("CASE-2026/042 fraud ring", []string{"mpcq://analyst/bob", c.alice.uri, c.alice.uri},
		Scope{Tables: []string{"telecom", "bank"}, Columns: []string{"telecom.flagged_calls_30d", "bank.balance"}, MaxQueries: 10, EpsilonMilli: 2500},
		c.now.Add(-time.Minute), c.now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (c *consortium) sign(t testing.TB, w Warrant) Signed {
	t.Helper()
	s, err := Sign(w, c.judge.key, c.judge.certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signAs signs w with any member's key and certificate, bypassing Sign's
// checks, to build warrants Sign refuses to make.
func signAs(t testing.TB, w Warrant, m member) Signed {
	t.Helper()
	enc, err := w.Encode()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertificate(m.certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return Signed{Warrant: enc, Signature: ed25519.Sign(m.key, enc), Certificate: cert.Raw}
}
