package pki

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"
)

func TestRoles(t *testing.T) {
	want := []Role{RoleParty, RoleCoordinator, RoleAnalyst, RoleAuditor, RoleAuthorizer}
	if !slices.Equal(Roles(), want) {
		t.Fatalf("Roles() = %v, want %v", Roles(), want)
	}
	for _, r := range want {
		if !r.Valid() {
			t.Errorf("%q not valid", r)
		}
		if role, name, err := ParseIdentityURI("mpcq://" + string(r) + "/x1"); err != nil || role != r || name != "x1" {
			t.Errorf("ParseIdentityURI of role %s: %v %v %v", r, role, name, err)
		}
	}
	for _, r := range []Role{"", "judge", "Authorizer", "authorizer "} {
		if r.Valid() {
			t.Errorf("%q valid", r)
		}
	}
}

func TestIssueGroups(t *testing.T) {
	ca := newTestCA(t)
	cases := []struct {
		name   string
		role   Role
		groups []string
		want   []string
		err    bool
	}{
		{"none", RoleAnalyst, nil, nil, false},
		{"one", RoleAnalyst, []string{"fraud"}, []string{"fraud"}, false},
		{"sorted", RoleAnalyst, []string{"team-b", "fraud", "a.1"}, []string{"a.1", "fraud", "team-b"}, false},
		{"role-named group", RoleAnalyst, []string{"analyst"}, []string{"analyst"}, false},
		{"duplicate", RoleAnalyst, []string{"fraud", "fraud"}, nil, true},
		{"upper case", RoleAnalyst, []string{"Fraud"}, nil, true},
		{"empty", RoleAnalyst, []string{""}, nil, true},
		{"colon", RoleAnalyst, []string{"group:x"}, nil, true},
		{"too many", RoleAnalyst, manyGroups(MaxGroups + 1), nil, true},
		{"max", RoleAnalyst, manyGroups(MaxGroups), manyGroups(MaxGroups), false},
		{"party", RoleParty, []string{"fraud"}, nil, true},
		{"authorizer", RoleAuthorizer, []string{"fraud"}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, _, err := ca.Issue(tc.role, "member-1", nil, time.Now(), time.Hour, WithGroups(tc.groups...))
			if tc.err {
				if !errors.Is(err, ErrBadRequest) {
					t.Fatalf("Issue with groups %q: err %v, want ErrBadRequest", tc.groups, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			id, err := VerifyCertificate(certPEM, ca.CertPEM(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(id.Groups, tc.want) || (tc.want == nil) != (id.Groups == nil) {
				t.Fatalf("groups %q, want %q", id.Groups, tc.want)
			}
			if id.Role != tc.role || id.Name != "member-1" {
				t.Fatalf("identity %s", id)
			}
		})
	}
}

func manyGroups(n int) []string {
	var g []string
	for i := range n {
		g = append(g, "g"+string(rune('a'+i/26))+string(rune('a'+i%26)))
	}
	return g
}

// TestIdentityOfRefusesBadGroups builds certificates the CA would not
// issue and checks IdentityOf refuses their groups.
func TestIdentityOfRefusesBadGroups(t *testing.T) {
	ca := newTestCA(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		uri  string
		ous  []string
	}{
		{"invalid name", "mpcq://analyst/alice", []string{"analyst", "group:Bad Name"}},
		{"duplicate", "mpcq://analyst/alice", []string{"analyst", "group:x", "group:x"}},
		{"party with groups", "mpcq://party/bank", []string{"party", "group:x"}},
		{"empty group", "mpcq://analyst/alice", []string{"analyst", "group:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			certPEM := issueCustom(t, ca, func(c *x509.Certificate) {
				c.Subject = pkix.Name{CommonName: "x", OrganizationalUnit: tc.ous}
				c.URIs = []*url.URL{mustURL(t, tc.uri)}
			}, pub)
			if _, err := VerifyCertificate(certPEM, ca.CertPEM(), time.Now()); !errors.Is(err, ErrBadIdentity) {
				t.Fatalf("err %v, want ErrBadIdentity", err)
			}
		})
	}
	// Unprefixed OU values other than the role are not groups.
	certPEM := issueCustom(t, ca, func(c *x509.Certificate) {
		c.Subject = pkix.Name{CommonName: "x", OrganizationalUnit: []string{"analyst", "other"}}
		c.URIs = []*url.URL{mustURL(t, "mpcq://analyst/alice")}
	}, pub)
	id, err := VerifyCertificate(certPEM, ca.CertPEM(), time.Now())
	if err != nil || id.Groups != nil {
		t.Fatalf("identity %v groups %q err %v", id, id.Groups, err)
	}
}
