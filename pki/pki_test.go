package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"
)

func newTestCA(t testing.TB) *CA {
	t.Helper()
	ca, err := NewCA("mpcq test CA", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issue(t testing.TB, ca *CA, role Role, name string, hosts ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	c, k, err := ca.Issue(role, name, hosts, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

// issueCustom signs an arbitrary template with the CA, to build
// certificates the CA would refuse to issue.
func issueCustom(t testing.TB, ca *CA, mutate func(*x509.Certificate), pub any) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "custom"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{"localhost"},
	}
	mutate(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestIssueIdentityRoundTrip(t *testing.T) {
	ca := newTestCA(t)
	cases := []struct {
		role  Role
		name  string
		hosts []string
	}{
		{RoleParty, "telecom", []string{"localhost", "127.0.0.1", "::1", "party-1.example.org"}},
		{RoleCoordinator, "coordinator", []string{"coordinator.internal"}},
		{RoleAnalyst, "analyst-alice", nil},
		{RoleAuditor, "auditor.bob_2", nil},
		{RoleAuthorizer, "judge-dredd", nil},
	}
	for _, tc := range cases {
		t.Run(string(tc.role)+"/"+tc.name, func(t *testing.T) {
			certPEM, keyPEM := issue(t, ca, tc.role, tc.name, tc.hosts...)
			cert, err := ParseCertificate(certPEM)
			if err != nil {
				t.Fatal(err)
			}
			id, err := IdentityOf(cert)
			if err != nil {
				t.Fatal(err)
			}
			if id.Role != tc.role || id.Name != tc.name {
				t.Fatalf("identity %s, want %s/%s", id, tc.role, tc.name)
			}
			if want := fmt.Sprintf("mpcq://%s/%s", tc.role, tc.name); id.String() != want || cert.URIs[0].String() != want {
				t.Fatalf("URI %s / %s, want %s", id, cert.URIs[0], want)
			}
			priv, err := PrivateKey(keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !id.PublicKey.Equal(priv.Public()) {
				t.Fatal("certificate key is not the issued private key's")
			}
			// The identity key signs protocol messages that verify under the
			// certificate's key.
			msg := []byte("hop 0")
			if !ed25519.Verify(id.PublicKey, msg, ed25519.Sign(priv, msg)) {
				t.Fatal("signature with the identity key does not verify")
			}
			if len(cert.DNSNames)+len(cert.IPAddresses) != len(tc.hosts) {
				t.Fatalf("SANs %v %v, want %v", cert.DNSNames, cert.IPAddresses, tc.hosts)
			}
			vid, err := VerifyCertificate(certPEM, ca.CertPEM(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if vid.Role != id.Role || vid.Name != id.Name || !vid.PublicKey.Equal(id.PublicKey) {
				t.Fatalf("VerifyCertificate gave %s, want %s", vid, id)
			}
		})
	}
}

func TestIssueRefuses(t *testing.T) {
	ca := newTestCA(t)
	cases := []struct {
		name     string
		role     Role
		member   string
		hosts    []string
		validity time.Duration
	}{
		{"unknown role", Role("admin"), "x", nil, time.Hour},
		{"empty role", Role(""), "x", nil, time.Hour},
		{"empty name", RoleParty, "", nil, time.Hour},
		{"upper case name", RoleParty, "Telecom", nil, time.Hour},
		{"slash in name", RoleParty, "tele/com", nil, time.Hour},
		{"name too long", RoleParty, strings.Repeat("a", 65), nil, time.Hour},
		{"bad host", RoleParty, "telecom", []string{"local host"}, time.Hour},
		{"empty host", RoleParty, "telecom", []string{""}, time.Hour},
		{"zero validity", RoleParty, "telecom", nil, 0},
		{"outlives the CA", RoleParty, "telecom", nil, 48 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ca.Issue(tc.role, tc.member, tc.hosts, time.Now(), tc.validity)
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("err = %v, want ErrBadRequest", err)
			}
		})
	}
}

func TestIdentityOfRejects(t *testing.T) {
	ca := newTestCA(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		mutate func(*x509.Certificate)
		pub    any
		want   error
	}{
		{"no URI SAN (role missing)", func(*x509.Certificate) {}, pub, ErrNoIdentity},
		{"other URI scheme only", func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL(t, "spiffe://party/telecom")} }, pub, ErrNoIdentity},
		{"unknown role", func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL(t, "mpcq://admin/root")} }, pub, ErrBadIdentity},
		{"no name", func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL(t, "mpcq://party")} }, pub, ErrBadIdentity},
		{"nested path", func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL(t, "mpcq://party/telecom/x")} }, pub, ErrBadIdentity},
		{"query", func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL(t, "mpcq://party/telecom?role=coordinator")} }, pub, ErrBadIdentity},
		{"port", func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL(t, "mpcq://party:1/telecom")} }, pub, ErrBadIdentity},
		{"user info", func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL(t, "mpcq://coordinator@party/telecom")} }, pub, ErrBadIdentity},
		{"two identities", func(c *x509.Certificate) {
			c.URIs = []*url.URL{mustURL(t, "mpcq://party/telecom"), mustURL(t, "mpcq://coordinator/coordinator")}
		}, pub, ErrBadIdentity},
		{"upper-case scheme still counts", func(c *x509.Certificate) {
			c.URIs = []*url.URL{mustURL(t, "mpcq://party/telecom"), mustURL(t, "MPCQ://coordinator/coordinator")}
		}, pub, ErrBadIdentity},
		{"ECDSA key", func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL(t, "mpcq://party/telecom")} }, &ecKey.PublicKey, ErrBadIdentity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cert, err := ParseCertificate(issueCustom(t, ca, tc.mutate, tc.pub))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := IdentityOf(cert); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("nil certificate", func(t *testing.T) {
		if _, err := IdentityOf(nil); !errors.Is(err, ErrNoIdentity) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestParseIdentityURI(t *testing.T) {
	cases := []struct {
		in   string
		role Role
		name string
		ok   bool
	}{
		{"mpcq://party/telecom", RoleParty, "telecom", true},
		{"mpcq://analyst/analyst-alice", RoleAnalyst, "analyst-alice", true},
		{"mpcq://auditor/a.b_c-1", RoleAuditor, "a.b_c-1", true},
		{"mpcq://party/", "", "", false},
		{"mpcq://party", "", "", false},
		{"mpcq:/party/telecom", "", "", false},
		{"http://party/telecom", "", "", false},
		{"mpcq://Party/telecom", "", "", false},
		{"mpcq://party/tele%63om", "", "", false},
		{"mpcq://party/telecom#x", "", "", false},
		{"mpcq://party/-telecom", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			role, name, err := ParseIdentityURI(tc.in)
			if tc.ok != (err == nil) || role != tc.role || name != tc.name {
				t.Fatalf("ParseIdentityURI(%q) = %q, %q, %v", tc.in, role, name, err)
			}
			if err != nil && !errors.Is(err, ErrBadIdentity) {
				t.Fatalf("err = %v, want ErrBadIdentity", err)
			}
		})
	}
}

func TestLoadCA(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	leafPEM, leafKey := issue(t, ca, RoleParty, "bank")
	t.Run("round trip", func(t *testing.T) {
		loaded, err := LoadCA(ca.CertPEM(), ca.KeyPEM())
		if err != nil {
			t.Fatal(err)
		}
		certPEM, _, err := loaded.Issue(RoleParty, "utility", nil, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		// A certificate from the reloaded CA verifies under the original.
		if _, err := VerifyCertificate(certPEM, ca.CertPEM(), time.Now()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(loaded.CertPEM(), ca.CertPEM()) {
			t.Fatal("CertPEM changed by a round trip")
		}
	})
	cases := []struct {
		name         string
		certPEM, key []byte
		want         error
	}{
		{"key of another CA", ca.CertPEM(), other.KeyPEM(), ErrBadPEM},
		{"leaf as CA", leafPEM, leafKey, ErrNotCA},
		{"garbage certificate", []byte("not pem"), ca.KeyPEM(), ErrBadPEM},
		{"garbage key", ca.CertPEM(), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), ErrBadPEM},
		{"certificate as key", ca.CertPEM(), ca.CertPEM(), ErrBadPEM},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadCA(tc.certPEM, tc.key); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCANeverPrintsKey(t *testing.T) {
	ca := newTestCA(t)
	seed := fmt.Sprint(ca.key.Seed()[:4])
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		got := fmt.Sprintf(verb, ca)
		if strings.Contains(got, seed) || !strings.Contains(got, "redacted") {
			t.Fatalf("%s printed %q", verb, got)
		}
	}
}

func TestVerifyCertificateRejects(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	foreign, _ := issue(t, other, RoleParty, "telecom")
	good, _ := issue(t, ca, RoleParty, "telecom")
	cases := []struct {
		name string
		cert []byte
		now  time.Time
	}{
		{"other CA", foreign, time.Now()},
		{"expired", good, time.Now().Add(2 * time.Hour)},
		{"not yet valid", good, time.Now().Add(-time.Hour)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := VerifyCertificate(tc.cert, ca.CertPEM(), tc.now); err == nil {
				t.Fatal("verified")
			}
		})
	}
}

func TestPrivateKeyRejects(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":      nil,
		"not PEM":    []byte("hello"),
		"ECDSA":      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"SEC1 block": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := PrivateKey(in); !errors.Is(err, ErrBadPEM) {
				t.Fatalf("err = %v, want ErrBadPEM", err)
			}
		})
	}
}

func FuzzParseIdentityURI(f *testing.F) {
	for _, s := range []string{"mpcq://party/telecom", "mpcq://analyst/analyst-alice", "mpcq://x/y/z", "mpcq://party/%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		role, name, err := ParseIdentityURI(s)
		if err != nil {
			return
		}
		// Whatever parses is canonical: it round-trips through url.URL.
		if got := identityURI(role, name).String(); got != s {
			t.Fatalf("%q parsed to %s/%s which prints as %q", s, role, name, got)
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("%q accepted but url.Parse fails: %v", s, err)
		}
		if r2, n2, err := ParseIdentityURI(u.String()); err != nil || r2 != role || n2 != name {
			t.Fatalf("%q: reparse gives %q %q %v", s, r2, n2, err)
		}
	})
}

func FuzzCertificateIdentity(f *testing.F) {
	ca := newTestCA(f)
	good, key := issue(f, ca, RoleParty, "telecom", "localhost")
	f.Add(good)
	f.Add(key)
	f.Add(ca.CertPEM())
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if cert, err := ParseCertificate(data); err == nil {
			_, _ = IdentityOf(cert)
		}
		_, _ = PrivateKey(data)
		_, _ = VerifyCertificate(data, ca.CertPEM(), time.Now())
		_, _ = LoadCA(data, data)
	})
}
