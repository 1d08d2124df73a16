package pki

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestCSRRoundTrip: a request's identity, groups, hosts and key become the
// certificate's.
func TestCSRRoundTrip(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("csr test CA", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := CreateCSR(key, RoleAnalyst, "alice", []string{"alice.example.net", "10.0.0.1"}, WithGroups("fraud", "cyber"))
	if err != nil {
		t.Fatal(err)
	}
	certPEM, c, err := ca.IssueCSR(csr, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Hosts, []string{"alice.example.net", "10.0.0.1"}) {
		t.Errorf("hosts %v", c.Hosts)
	}
	id, err := VerifyCertificate(certPEM, ca.CertPEM(), now)
	if err != nil {
		t.Fatal(err)
	}
	if id.String() != "mpcq://analyst/alice" || !slices.Equal(id.Groups, []string{"cyber", "fraud"}) || !id.PublicKey.Equal(pub) {
		t.Fatalf("certificate identity %v groups %v key equal %v", id, id.Groups, id.PublicKey.Equal(pub))
	}
}

func TestIssueForKeyRefuses(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("csr test CA", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	for name, f := range map[string]func() error{
		"short key": func() error { _, err := ca.IssueForKey(RoleParty, "bank", pub[:16], nil, now, time.Hour); return err },
		"groups": func() error {
			_, err := ca.IssueForKey(RoleParty, "bank", pub, nil, now, time.Hour, WithGroups("x"))
			return err
		},
		"outlives the CA": func() error { _, err := ca.IssueForKey(RoleParty, "bank", pub, nil, now, 48*time.Hour); return err },
		"bad host": func() error {
			_, err := ca.IssueForKey(RoleParty, "bank", pub, []string{"a b"}, now, time.Hour)
			return err
		},
	} {
		if err := f(); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v, want ErrBadRequest", name, err)
		}
	}
}

// FuzzParseCSR: a request is untrusted input to the CA admin; parsing
// never panics, and what it accepts names a valid identity.
func FuzzParseCSR(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	if csr, err := CreateCSR(key, RoleParty, "bank", []string{"localhost"}); err == nil {
		f.Add(csr)
	}
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCSR(b)
		if err != nil {
			return
		}
		if !c.Role.Valid() || !ValidName(c.Name) || len(c.PublicKey) != ed25519.PublicKeySize {
			t.Fatalf("accepted %+v", c)
		}
	})
}
