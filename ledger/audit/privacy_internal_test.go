package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/policy"
	"github.com/mpcq/mpcq/warrant"
)

// member is a test certificate and its key.
type member struct {
	certPEM []byte
	certDER []byte
	key     ed25519.PrivateKey
}

func issue(t testing.TB, ca *pki.CA, role pki.Role, name string, now time.Time) member {
	t.Helper()
	c, k, err := ca.Issue(role, name, nil, now.Add(-time.Hour), 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertificate(c)
	if err != nil {
		t.Fatal(err)
	}
	return member{certPEM: c, certDER: cert.Raw, key: key}
}

// fixture is a test consortium: a CA, two parties, two authorizers, a
// party of a foreign CA, and a signed warrant by judge-a.
type fixture struct {
	now                                 time.Time
	caPEM                               []byte
	bank, telecom, judge, judge2, alien member
	warrant                             warrant.Signed
	warrantHash                         entry.Hash
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	ca, err := pki.NewCA("mpcq test CA", now.Add(-2*time.Hour), 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("mpcq test CA", now.Add(-2*time.Hour), 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{now: now, caPEM: ca.CertPEM(),
		bank: issue(t, ca, pki.RoleParty, "bank", now), telecom: issue(t, ca, pki.RoleParty, "telecom", now),
		judge: issue(t, ca, pki.RoleAuthorizer, "judge-a", now), judge2: issue(t, ca, pki.RoleAuthorizer, "judge-b", now),
		alien: issue(t, other, pki.RoleParty, "bank", now)}
	w, err := warrant.New("CASE-1", []string{"mpcq://analyst/alice"}, warrant.Scope{Tables: []string{"bank"}, EpsilonMilli: 5000},
		now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if f.warrant, err = warrant.Sign(w, f.judge.key, f.judge.certPEM); err != nil {
		t.Fatal(err)
	}
	f.warrantHash = warrant.Hash(f.warrant)
	return f
}

// policyContent is the canonical policy of party at version.
func policyContent(t testing.TB, party string, version int) []byte {
	t.Helper()
	p, err := policy.Parse("test", fmt.Appendf(nil, `{"version": %d, "party": %q, "rules": [{"name": "r", "analysts": ["*"], "max_epsilon": 1}],
		"budget": {"period": "24h", "per_analyst": 2, "per_case": 3}}`, version, party))
	if err != nil {
		t.Fatal(err)
	}
	return p.Canonical()
}

// signPolicy returns a POLICY entry for content signed by m as party.
func signPolicy(party string, version uint64, content []byte, m member) entry.Policy {
	h := sha256.Sum256(content)
	return entry.Policy{Party: party, Version: version, PolicyHash: h, Content: content,
		Signature: ed25519.Sign(m.key, entry.PolicySigned(party, version, h)), Certificate: m.certDER}
}

func (f *fixture) revocation(t testing.TB, hash entry.Hash, m member) entry.Revocation {
	t.Helper()
	// Signed directly, as SignRevocation refuses a non-authorizer.
	enc, err := warrant.Revocation{WarrantHash: hash, Time: f.now.Unix(), Reason: "case closed"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	sr := warrant.SignedRevocation{Revocation: enc, Signature: ed25519.Sign(m.key, enc), Certificate: m.certDER}
	return entry.Revocation{WarrantHash: hash, Signed: sr.Marshal()}
}

// memOpenings is an in-memory archive.
type memOpenings map[string]archive.Record

func (m memOpenings) Get(id string) (archive.Record, error) {
	r, ok := m[id]
	if !ok {
		return archive.Record{}, fmt.Errorf("query %s: %w", id, archive.ErrNotFound)
	}
	return r, nil
}

// query returns a QUERY entry under hash and its archive record holding
// warrantFile.
func query(t testing.TB, id string, when time.Time, hash entry.Hash, warrantFile []byte) (entry.Query, archive.Record) {
	t.Helper()
	qo, err := entry.NewOpening(rand.Reader, []byte("SELECT COUNT(*) FROM bank"))
	if err != nil {
		t.Fatal(err)
	}
	pd, err := entry.PurposeData("fraud", "art. 6")
	if err != nil {
		t.Fatal(err)
	}
	po, err := entry.NewOpening(rand.Reader, pd)
	if err != nil {
		t.Fatal(err)
	}
	q := entry.Query{QueryID: id, QueryCommitment: qo.Commitment(), Analyst: "mpcq://analyst/alice", PurposeCommitment: po.Commitment(),
		ParamSet: "test", Time: when.Unix(), EpsilonMilli: 500, Collusion: 1, WarrantHash: hash}
	return q, archive.Record{QueryID: id, QueryText: qo, Purpose: po, Warrant: warrantFile}
}

// runRules checks entries in order and returns the rules' state.
func runRules(t *testing.T, ca []byte, o Openings, entries []entry.Entry) *rules {
	t.Helper()
	r := newRules(o)
	r.caPEM = ca
	r.epochs[0], r.params["test"] = true, true // as if CEREMONY and EPOCH were logged
	for i, e := range entries {
		raw, err := entry.Marshal(e)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		r.check(uint64(i), "tile/entries/000.p/9", raw)
	}
	return r
}

func TestPrivacyChecks(t *testing.T) {
	f := newFixture(t)
	bank1 := signPolicy("bank", 1, policyContent(t, "bank", 1), f.bank)
	bank2 := signPolicy("bank", 2, policyContent(t, "bank", 2), f.bank)
	tel1 := signPolicy("telecom", 1, policyContent(t, "telecom", 1), f.telecom)
	qWarrant, recWarrant := query(t, "q-1", f.now, f.warrantHash, f.warrant.Marshal())
	qNoFile, recNoFile := query(t, "q-2", f.now, f.warrantHash, nil)
	otherHash := sha256.Sum256([]byte("another warrant"))
	qWrongHash, recWrongHash := query(t, "q-3", f.now, otherHash, f.warrant.Marshal())
	qNone, recNone := query(t, "q-4", f.now, entry.Hash{}, f.warrant.Marshal())
	badSig := bank1
	badSig.Signature = append([]byte(nil), bank1.Signature...)
	badSig.Signature[0] ^= 1
	forgedWarrant := f.warrant
	forgedWarrant.Signature = ed25519.Sign(f.judge2.key, f.warrant.Warrant)
	qForged, recForged := query(t, "q-5", f.now, warrant.Hash(forgedWarrant), forgedWarrant.Marshal())
	wrongRevocation := f.revocation(t, f.warrantHash, f.judge)
	wrongRevocation.WarrantHash = otherHash
	nonCanonical := []byte(strings.Replace(string(policyContent(t, "bank", 1)), `"version":1`, `"version": 1`, 1))

	arch := memOpenings{"q-1": recWarrant, "q-2": recNoFile, "q-3": recWrongHash, "q-4": recNone, "q-5": recForged}
	for _, tc := range []struct {
		name     string
		entries  []entry.Entry
		noCA     bool
		is       error
		at       uint64
		want     string // substring of the error
		warnings int
	}{
		{name: "policies and a revocation of an archived warrant", entries: []entry.Entry{bank1, tel1, qWarrant, bank2, f.revocation(t, f.warrantHash, f.judge)}},
		{name: "revocation of an unknown warrant by an authorizer", entries: []entry.Entry{f.revocation(t, otherHash, f.judge2)}},
		{name: "query without the warrant file archived", entries: []entry.Entry{qNoFile}},
		{name: "no CA: signatures only, one warning", noCA: true, entries: []entry.Entry{bank1, qWarrant, f.revocation(t, f.warrantHash, f.judge)}, warnings: 1},
		{name: "query under a revoked warrant warns", entries: []entry.Entry{f.revocation(t, f.warrantHash, f.judge), qWarrant}, warnings: 1},

		{name: "policy version published again (a retry) warns", entries: []entry.Entry{bank1, tel1, bank1}, warnings: 1},
		{name: "policy version decreases", entries: []entry.Entry{bank2, bank1}, is: ErrPolicy, at: 1, want: "does not increase"},
		{name: "policy bad signature", entries: []entry.Entry{badSig}, is: ErrPolicy, want: "signature is not"},
		{name: "policy signed by another party", entries: []entry.Entry{signPolicy("bank", 1, policyContent(t, "bank", 1), f.telecom)}, is: ErrPolicy, want: "not by party"},
		{name: "policy signed by an authorizer", entries: []entry.Entry{signPolicy("bank", 1, policyContent(t, "bank", 1), f.judge)}, is: ErrPolicy, want: "not by party"},
		{name: "policy certificate of another CA", entries: []entry.Entry{signPolicy("bank", 1, policyContent(t, "bank", 1), f.alien)}, is: ErrPolicy, want: "not valid under the consortium CA"},
		{name: "policy content of another party", entries: []entry.Entry{signPolicy("bank", 1, policyContent(t, "telecom", 1), f.bank)}, is: ErrPolicy, want: `content is party "telecom"`},
		{name: "policy content of another version", entries: []entry.Entry{signPolicy("bank", 2, policyContent(t, "bank", 1), f.bank)}, is: ErrPolicy, want: "content is version 1"},
		{name: "policy content not canonical", entries: []entry.Entry{signPolicy("bank", 1, nonCanonical, f.bank)}, is: ErrPolicy, want: "canonical"},
		{name: "policy content not a policy", entries: []entry.Entry{signPolicy("bank", 1, []byte(`{"version": 1}`), f.bank)}, is: ErrPolicy, want: "does not parse"},

		{name: "revocation by another authorizer", entries: []entry.Entry{qWarrant, f.revocation(t, f.warrantHash, f.judge2)}, is: ErrRevocation, at: 1, want: "only its authorizer"},
		{name: "revocation by another authorizer, no CA", noCA: true, entries: []entry.Entry{qWarrant, f.revocation(t, f.warrantHash, f.judge2)}, is: ErrRevocation, at: 1, want: "only the warrant's authorizer"},
		{name: "revocation by a party", entries: []entry.Entry{f.revocation(t, otherHash, f.bank)}, is: ErrRevocation, want: "not an authorizer"},
		{name: "revocation names another warrant", entries: []entry.Entry{wrongRevocation}, is: ErrRevocation, want: "the signed revocation is of warrant"},
		{name: "revocation not a revocation file", entries: []entry.Entry{entry.Revocation{WarrantHash: otherHash, Signed: []byte("junk")}}, is: ErrRevocation, want: "malformed"},

		{name: "archived warrant of another hash", entries: []entry.Entry{qWrongHash}, is: ErrWarrant, want: "archived warrant has hash"},
		{name: "archived warrant for a query without one", entries: []entry.Entry{qNone}, is: ErrWarrant, want: "without one"},
		{name: "archived warrant with a forged signature", entries: []entry.Entry{qForged}, is: ErrWarrant, want: "bad signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := f.caPEM
			if tc.noCA {
				ca = nil
			}
			r := runRules(t, ca, arch, tc.entries)
			if tc.is == nil {
				if r.err != nil {
					t.Fatalf("rules: %v", r.err)
				}
				// These records carry no signed request (checked elsewhere).
				var ws []string
				for _, w := range r.warnings {
					if !strings.Contains(w, "no signed request archived") {
						ws = append(ws, w)
					}
				}
				if len(ws) != tc.warnings {
					t.Fatalf("warnings %q, want %d", ws, tc.warnings)
				}
				return
			}
			var ae *Error
			if !errors.Is(r.err, tc.is) || !errors.As(r.err, &ae) || !ae.HasIndex || ae.Index != tc.at || !strings.Contains(r.err.Error(), tc.want) {
				t.Fatalf("rules error = %v; want %v at entry %d containing %q", r.err, tc.is, tc.at, tc.want)
			}
		})
	}
}

// Without the archive, a QUERY's warrant is not checked and a revocation
// needs only an authorizer's signature.
func TestPrivacyChecksWithoutArchive(t *testing.T) {
	f := newFixture(t)
	q, _ := query(t, "q-1", f.now, f.warrantHash, nil)
	r := runRules(t, f.caPEM, nil, []entry.Entry{q, f.revocation(t, f.warrantHash, f.judge2)})
	if r.err != nil || r.warrantsChecked != 0 {
		t.Fatalf("rules: %v, %d warrants checked", r.err, r.warrantsChecked)
	}
}
