package admin

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/pki"
)

var testNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func newCA(t *testing.T) (string, *pki.CA) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := InitCA(dir, "test consortium", testNow, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return dir, ca
}

// member makes a member's key and request in its own directory, has the
// CA sign it and puts cert.pem and ca.pem beside the key.
func member(t *testing.T, caDir string, ca *pki.CA, r Request) Member {
	t.Helper()
	dir := filepath.Join(t.TempDir(), string(r.Role)+"-"+r.Name)
	csr, err := NewCSR(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := Sign(ca, csr, testNow, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m := Member{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, CertFile), Key: filepath.Join(dir, KeyFile)}
	if err := pki.WritePublic(m.Cert, cert); err != nil {
		t.Fatal(err)
	}
	if err := pki.WritePublic(m.CA, ca.CertPEM()); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInitCA(t *testing.T) {
	dir, _ := newCA(t)
	fi, err := os.Stat(filepath.Join(dir, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := LoadCA(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := InitCA(dir, "again", testNow, time.Hour); !errors.Is(err, ErrExists) {
		t.Fatalf("a second ca init in the same directory: %v, want ErrExists", err)
	}
}

// TestCSRRoundTrip: a request made where the key lives becomes a
// certificate with the requested identity, groups and hosts and the
// request's key; the key never changes hands and is 0600.
func TestCSRRoundTrip(t *testing.T) {
	caDir, ca := newCA(t)
	for _, r := range []Request{
		{Role: pki.RoleParty, Name: "bank", Hosts: []string{"bank.example.net", "127.0.0.1"}},
		{Role: pki.RoleCoordinator, Name: "coordinator", Hosts: []string{"localhost"}},
		{Role: pki.RoleAnalyst, Name: "alice", Groups: []string{"fraud", "cyber"}},
		{Role: pki.RoleAuditor, Name: "dpa"},
		{Role: pki.RoleAuthorizer, Name: "judge-x"},
	} {
		t.Run(string(r.Role), func(t *testing.T) {
			m := member(t, caDir, ca, r)
			id, _, certPEM, _, err := m.Check(r.Role, r.Name, testNow)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Sorted(slices.Values(r.Groups))
			if len(want) == 0 {
				want = nil
			}
			if !slices.Equal(id.Groups, want) {
				t.Errorf("groups %v, want %v", id.Groups, want)
			}
			cert, err := pki.ParseCertificate(certPEM)
			if err != nil {
				t.Fatal(err)
			}
			var hosts []string
			hosts = append(hosts, cert.DNSNames...)
			for _, ip := range cert.IPAddresses {
				hosts = append(hosts, ip.String())
			}
			if !slices.Equal(slices.Sorted(slices.Values(hosts)), slices.Sorted(slices.Values(r.Hosts))) {
				t.Errorf("hosts %v, want %v", hosts, r.Hosts)
			}
			fi, err := os.Stat(m.Key)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
			}
		})
	}
}

func TestCSRNeverOverwritesAKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewCSR(dir, Request{Role: pki.RoleAnalyst, Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	if _, err := NewCSR(dir, Request{Role: pki.RoleAnalyst, Name: "alice"}); !errors.Is(err, ErrExists) {
		t.Fatalf("a second csr in the same directory: %v, want ErrExists", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	if string(before) != string(after) {
		t.Fatal("the key changed")
	}
}

// handCSR makes a request by hand, as a careless or hostile tool might.
func handCSR(t *testing.T, uris []string, ous []string) []byte {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x", OrganizationalUnit: ous}}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// TestSignRefuses: the CA admin's sign refuses requests it must not
// certify, and mpcadm csr refuses to make them in the first place.
func TestSignRefuses(t *testing.T) {
	caDir, ca := newCA(t)
	_ = caDir
	good := func(t *testing.T) []byte {
		dir := t.TempDir()
		p, err := NewCSR(dir, Request{Role: pki.RoleParty, Name: "bank", Hosts: []string{"localhost"}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	derOf := func(t *testing.T, b []byte) []byte {
		blk, _ := pem.Decode(b)
		return blk.Bytes
	}
	reencode := func(der []byte) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}
	for _, tc := range []struct {
		name string
		csr  func(t *testing.T) []byte
		want string
	}{
		{"unknown role", func(t *testing.T) []byte { return handCSR(t, []string{"mpcq://janitor/x"}, []string{"janitor"}) }, "unknown role"},
		{"groups on a party", func(t *testing.T) []byte {
			return handCSR(t, []string{"mpcq://party/x"}, []string{"party", "group:fraud"})
		}, "only analysts"},
		{"no identity", func(t *testing.T) []byte { return handCSR(t, nil, nil) }, "0 mpcq://"},
		{"two identities", func(t *testing.T) []byte {
			return handCSR(t, []string{"mpcq://analyst/x", "mpcq://party/x"}, []string{"analyst"})
		}, "2 mpcq://"},
		{"a role OU other than the URI's", func(t *testing.T) []byte { return handCSR(t, []string{"mpcq://analyst/x"}, []string{"coordinator"}) }, "neither the role"},
		{"tampered signature", func(t *testing.T) []byte {
			der := derOf(t, good(t))
			der[len(der)-1] ^= 1 // the signature is last
			return reencode(der)
		}, "signature does not verify"},
		{"tampered identity", func(t *testing.T) []byte {
			der := derOf(t, good(t))
			i := strings.Index(string(der), "mpcq://party/bank")
			copy(der[i:], "mpcq://party/bonk")
			return reencode(der)
		}, "signature does not verify"},
		{"another public key", func(t *testing.T) []byte {
			der := derOf(t, good(t))
			req, err := x509.ParseCertificateRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			other, _, _ := ed25519.GenerateKey(rand.Reader)
			i := strings.Index(string(der), string(req.PublicKey.(ed25519.PublicKey)))
			copy(der[i:], other)
			return reencode(der)
		}, "signature does not verify"},
		{"a certificate, not a request", func(t *testing.T) []byte { return ca.CertPEM() }, "want \"CERTIFICATE REQUEST\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "x.csr")
			if err := os.WriteFile(f, tc.csr(t), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := Sign(ca, f, testNow, time.Hour)
			if !errors.Is(err, pki.ErrBadCSR) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("sign: %v, want ErrBadCSR saying %q", err, tc.want)
			}
		})
	}

	t.Run("csr refuses too", func(t *testing.T) {
		for _, r := range []Request{
			{Role: "janitor", Name: "x"},
			{Role: pki.RoleParty, Name: "bank", Groups: []string{"fraud"}},
			{Role: pki.RoleAnalyst, Name: "Alice"},
			{Role: pki.RoleParty, Name: "bank", Hosts: []string{"not a host"}},
		} {
			dir := t.TempDir()
			if _, err := NewCSR(dir, r); !errors.Is(err, pki.ErrBadCSR) {
				t.Errorf("csr %+v: %v, want ErrBadCSR", r, err)
			}
			if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
				t.Errorf("csr %+v: refused, but left a key behind", r)
			}
		}
	})
}

// TestKeyOfAnotherRequest: a certificate signed from one request does not
// go with the key of another; configs and profiles refuse the pair.
func TestKeyOfAnotherRequest(t *testing.T) {
	caDir, ca := newCA(t)
	a := member(t, caDir, ca, Request{Role: pki.RoleAnalyst, Name: "alice"})
	b := member(t, caDir, ca, Request{Role: pki.RoleAnalyst, Name: "bob"})
	mixed := Member{CA: a.CA, Cert: a.Cert, Key: b.Key}
	if _, _, _, _, err := mixed.Check(pki.RoleAnalyst, "", testNow); !errors.Is(err, ErrMismatch) {
		t.Fatalf("alice's certificate with bob's key: %v, want ErrMismatch", err)
	}
	if _, err := WriteAnalystProfile(t.TempDir(), Consortium{Coordinator: "localhost:1", ParamSet: "insecure-test-n12"}, mixed, AnalystOptions{}, testNow); !errors.Is(err, ErrMismatch) {
		t.Fatalf("profile of a mixed pair: %v, want ErrMismatch", err)
	}
	// The right pair, checked for the wrong role or name.
	if _, _, _, _, err := a.Check(pki.RoleAuditor, "", testNow); !errors.Is(err, ErrMismatch) {
		t.Fatalf("an analyst's certificate as an auditor's: %v, want ErrMismatch", err)
	}
	if _, _, _, _, err := a.Check(pki.RoleAnalyst, "bob", testNow); !errors.Is(err, ErrMismatch) {
		t.Fatalf("alice's certificate as bob's: %v, want ErrMismatch", err)
	}
	// A certificate of another CA.
	_, other := newCA(t)
	cert, _, err := other.Issue(pki.RoleAnalyst, "alice", nil, testNow, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(t.TempDir(), "cert.pem")
	if err := pki.WritePublic(foreign, cert); err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := (Member{CA: a.CA, Cert: foreign, Key: a.Key}).Check(pki.RoleAnalyst, "", testNow); !errors.Is(err, ErrMismatch) {
		t.Fatalf("a certificate of another CA: %v, want ErrMismatch", err)
	}
}

func TestNoteKeys(t *testing.T) {
	dir := t.TempDir()
	vkey, err := NewLedgerKey(dir, "test-ledger")
	if err != nil {
		t.Fatal(err)
	}
	skey, err := pki.ReadPrivate(filepath.Join(dir, LedgerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	derived, err := verifierOfSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	if derived != vkey {
		t.Fatalf("verifier derived from the key %q, generated %q", derived, vkey)
	}
	if got, err := VerifierKey(filepath.Join(dir, LedgerPubFile)); err != nil || got != vkey {
		t.Fatalf("VerifierKey(file) = %q, %v; want %q", got, err, vkey)
	}
	if got, err := VerifierKey(vkey); err != nil || got != vkey {
		t.Fatalf("VerifierKey(key) = %q, %v", got, err)
	}
	if _, err := NewLedgerKey(dir, "test-ledger"); !errors.Is(err, ErrExists) {
		t.Fatalf("a second ledger key: %v, want ErrExists", err)
	}
	if _, err := NewWitnessKey(t.TempDir(), "Bank+"); !errors.Is(err, ErrInput) {
		t.Fatalf("witness key of an invalid party name: %v, want ErrInput", err)
	}
}

func TestPolicyTemplates(t *testing.T) {
	for _, tpl := range PolicyTemplates() {
		if _, err := PolicyTemplate(tpl, "bank"); err != nil {
			t.Errorf("%s: %v", tpl, err)
		}
	}
	if _, err := PolicyTemplate("open", "bank"); !errors.Is(err, ErrInput) {
		t.Errorf("unknown template: %v, want ErrInput", err)
	}
}

// TestPartyConfigChecksPeers: a party's peers are the other parties'
// certificates, each once.
func TestPartyConfigChecksPeers(t *testing.T) {
	caDir, ca := newCA(t)
	bank := member(t, caDir, ca, Request{Role: pki.RoleParty, Name: "bank", Hosts: []string{"localhost"}})
	telecom := member(t, caDir, ca, Request{Role: pki.RoleParty, Name: "telecom", Hosts: []string{"localhost"}})
	analyst := member(t, caDir, ca, Request{Role: pki.RoleAnalyst, Name: "alice"})
	dir := filepath.Dir(bank.Key)
	if _, err := NewWitnessKey(dir, "bank"); err != nil {
		t.Fatal(err)
	}
	ledger, err := NewLedgerKey(t.TempDir(), "test-ledger")
	if err != nil {
		t.Fatal(err)
	}
	opts := func(peers ...string) PartyOptions {
		return PartyOptions{Name: "bank", Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "state"), CSV: "bank.csv", Schema: "bank.schema.json",
			TLS: bank, Peers: peers, WitnessKey: filepath.Join(dir, WitnessKeyFile), LedgerPublicKey: ledger, Policy: filepath.Join(dir, "policy.json")}
	}
	c, wrote, err := PartyConfig(opts(telecom.Cert), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !wrote || !filepath.IsAbs(c.CSV) || c.LedgerPublicKey != ledger {
		t.Errorf("config: policy written %v, csv %s, ledger key %q", wrote, c.CSV, c.LedgerPublicKey)
	}
	for name, peers := range map[string][]string{
		"own certificate": {bank.Cert},
		"an analyst":      {analyst.Cert},
		"the same twice":  {telecom.Cert, telecom.Cert},
		"a missing file":  {filepath.Join(dir, "nope.pem")},
	} {
		if _, _, err := PartyConfig(opts(peers...), testNow); err == nil {
			t.Errorf("peers %s: accepted", name)
		}
	}
}

// TestCoordinatorConfig: the consortium file carries the address clients
// dial, which must be in the coordinator's certificate, and every party
// needs its witness key.
func TestCoordinatorConfig(t *testing.T) {
	caDir, ca := newCA(t)
	coord := member(t, caDir, ca, Request{Role: pki.RoleCoordinator, Name: "coordinator", Hosts: []string{"mpcq.example.net"}})
	dir := filepath.Dir(coord.Key)
	vkey, err := NewLedgerKey(dir, "test-ledger")
	if err != nil {
		t.Fatal(err)
	}
	wdir := t.TempDir()
	wkey, err := NewWitnessKey(wdir, "bank")
	if err != nil {
		t.Fatal(err)
	}
	opts := func() CoordinatorOptions {
		return CoordinatorOptions{Consortium: "test", Listen: "0.0.0.0:7000", PublicAddr: "mpcq.example.net:7000", LedgerListen: "0.0.0.0:7443",
			DataDir: filepath.Join(dir, "state"), TLS: coord, LedgerKey: filepath.Join(dir, LedgerKeyFile),
			Parties: map[string]string{"bank": "bank.example.net:7101"}, Witnesses: map[string]string{"bank": filepath.Join(wdir, WitnessPubFile)}}
	}
	c, cons, err := CoordinatorConfig(opts(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if c.LedgerPublicKey != vkey || cons.Ledger.PublicKey != vkey || cons.Ledger.Witnesses["bank"] != wkey {
		t.Errorf("keys: config %q, consortium %q, witness %q", c.LedgerPublicKey, cons.Ledger.PublicKey, cons.Ledger.Witnesses["bank"])
	}
	if cons.Coordinator != "mpcq.example.net:7000" || cons.Ledger.URL != "https://mpcq.example.net:7443/" || cons.ParamSet == "" {
		t.Errorf("consortium file %+v", cons)
	}
	for name, change := range map[string]func(*CoordinatorOptions){
		"a public host not in the certificate": func(o *CoordinatorOptions) { o.PublicAddr = "other.example.net:7000" },
		"no public address":                    func(o *CoordinatorOptions) { o.PublicAddr = "" },
		"a party without a witness key":        func(o *CoordinatorOptions) { o.Parties["telecom"] = "telecom.example.net:7101" },
		"a witness key of no party":            func(o *CoordinatorOptions) { o.Witnesses["telecom"] = wkey },
		"an unknown parameter set":             func(o *CoordinatorOptions) { o.ParamSet = "bgv-n99" },
		"the insecure set, not allowed":        func(o *CoordinatorOptions) { o.ParamSet = "insecure-test-n12" },
	} {
		o := opts()
		change(&o)
		_, _, err := CoordinatorConfig(o, testNow)
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
		t.Logf("%s: %v", name, err)
	}
}
