package party

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/request"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/policy"
	"github.com/mpcq/mpcq/schema"
	"github.com/mpcq/mpcq/warrant"
)

const testPolicy = `{
  "version": 1,
  "party": "bank",
  "rules": [
    {"name": "demo", "analysts": ["*"], "where": ["*"], "aggregate": ["*"], "group_by": ["*"],
     "exact": "warrant", "max_epsilon": 1, "min_collusion": 1}
  ],
  "budget": {"period": "24h", "per_analyst": 2}
}`

type governFixture struct {
	g       *governance
	caPEM   []byte
	wp      *wire.WirePlan
	analyst pki.Identity
	judge   func(w warrant.Warrant) []byte
	revoke  func(t testing.TB, signed []byte) []byte
	now     time.Time
}

func newGovernFixture(t testing.TB) *governFixture {
	t.Helper()
	now := time.Now()
	ca, err := pki.NewCA("test CA", now.Add(-time.Hour), 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	jcert, jkey, err := ca.Issue(pki.RoleAuthorizer, "judge", nil, now.Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := pki.PrivateKey(jkey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(file, []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	bank, _ := gen.Consortium().Table("bank")
	g, err := openGovernance("bank", file, bank, store{dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.history.Add(policy.Version{Policy: g.current, LedgerIndex: 10}); err != nil {
		t.Fatal(err)
	}
	p, err := plan.Parse("SELECT COUNT(*), SUM(bank.balance) FROM telecom JOIN bank USING (person_id) WHERE bank.accounts > 2", gen.Consortium())
	if err != nil {
		t.Fatal(err)
	}
	pp, err := wire.PlanToProto(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.DeclareBounds(pp, gen.Consortium()); err != nil {
		t.Fatal(err)
	}
	wp, err := wire.PlanFromProto(pp)
	if err != nil {
		t.Fatal(err)
	}
	return &governFixture{g: g, caPEM: ca.CertPEM(), wp: wp, analyst: pki.Identity{Role: pki.RoleAnalyst, Name: "alice"}, now: now,
		judge: func(w warrant.Warrant) []byte {
			sw, err := warrant.Sign(w, priv, jcert)
			if err != nil {
				t.Fatal(err)
			}
			return sw.Marshal()
		},
		revoke: func(t testing.TB, signed []byte) []byte {
			r, err := warrant.SignRevocation(warrant.Revocation{WarrantHash: hashOf(t, signed), Time: now.Unix(), Reason: "test"}, priv, jcert)
			if err != nil {
				t.Fatal(err)
			}
			return r.Marshal()
		}}
}

func (f *governFixture) warrant(t testing.TB, analysts, tables []string, exact bool, nb, exp time.Time) []byte {
	t.Helper()
	w, err := warrant.New("CASE-1", analysts, warrant.Scope{Tables: tables, Exact: exact}, nb, exp)
	if err != nil {
		t.Fatal(err)
	}
	return f.judge(w)
}

func hashOf(t testing.TB, b []byte) entry.Hash {
	t.Helper()
	sw, err := warrant.ParseSigned(b)
	if err != nil {
		t.Fatal(err)
	}
	return warrant.Hash(sw)
}

// TestDecide plays the analyst and the coordinator against one party's
// decision: every fault of a warrant, of the privacy or of the budget is
// refused by the party itself, whatever the coordinator checked before.
func TestDecide(t *testing.T) {
	f := newGovernFixture(t)
	alice := []string{"mpcq://analyst/alice"}
	both := []string{"bank", "telecom"}
	hour := time.Hour
	good := f.warrant(t, alice, both, true, f.now.Add(-hour), f.now.Add(hour))
	// A forged warrant: the signed bytes altered (a later expiry).
	forgedSigned, err := warrant.ParseSigned(good)
	if err != nil {
		t.Fatal(err)
	}
	forgedSigned.Warrant = append([]byte(nil), forgedSigned.Warrant...)
	forgedSigned.Warrant[len(forgedSigned.Warrant)-1] ^= 1
	forged := forgedSigned.Marshal()
	tests := []struct {
		name    string
		eps     uint64
		k       uint16
		w       []byte // sent with the query
		signedW []byte // whose hash the analyst signed (default w)
		index   uint64
		is      error
		say     string
	}{
		{name: "exact under a valid warrant", w: good},
		{name: "noisy without a warrant", eps: 1000, k: 2},
		{name: "exact without a warrant", is: policy.ErrRefused, say: `rule "demo"`},
		{name: "ε above the rule's", eps: 2000, k: 2, is: policy.ErrRefused, say: "ε"},
		{name: "collusion below the rule's", eps: 1000, k: 0, is: policy.ErrRefused, say: "collusion"},
		{name: "collusion beyond the parties", eps: 1000, k: 3, is: ErrBadRequest, say: "only 3 parties"},
		{name: "warrant signed but not sent", signedW: good, is: ErrWarrant, say: "comes without it"},
		{name: "another warrant than signed", w: f.warrant(t, alice, both, true, f.now.Add(-hour), f.now.Add(hour)), signedW: good, is: ErrWarrant, say: "not the one committed"},
		{name: "expired", w: f.warrant(t, alice, both, true, f.now.Add(-2*hour), f.now.Add(-hour)), is: ErrWarrant, say: "expired"},
		{name: "for another analyst", w: f.warrant(t, []string{"mpcq://analyst/bob"}, both, true, f.now.Add(-hour), f.now.Add(hour)), is: ErrWarrant, say: "does not name analyst"},
		{name: "out of scope", w: f.warrant(t, alice, []string{"telecom"}, true, f.now.Add(-hour), f.now.Add(hour)), is: ErrWarrant, say: "not among"},
		{name: "exact not in scope", w: f.warrant(t, alice, both, false, f.now.Add(-hour), f.now.Add(hour)), is: ErrWarrant, say: "exact"},
		{name: "forged", w: forged, is: ErrWarrant, say: "signature"},
		{name: "before any policy is on the ledger", w: good, index: 5, is: policy.ErrRefused, say: "no policy of party bank"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signedW := tc.signedW
			if signedW == nil {
				signedW = tc.w
			}
			var wh entry.Hash
			if signedW != nil {
				if sw, err := warrant.ParseSigned(signedW); err == nil {
					wh = warrant.Hash(sw)
				} else {
					wh = entry.Hash{1} // a forged file hashes to whatever the analyst signed
				}
			}
			index := tc.index
			if index == 0 {
				index = 20
			}
			q := entry.Query{QueryID: "q-" + tc.name, EpsilonMilli: tc.eps, Collusion: tc.k, WarrantHash: wh}
			v := request.Verified{Request: request.Request{Privacy: request.Privacy{EpsilonMilli: tc.eps, Collusion: tc.k, WarrantHash: wh}}, Analyst: f.analyst}
			if tc.name == "forged" {
				// The analyst signed the forged file's own hash: only the
				// authorizer's signature can refuse it.
				sw, err := warrant.ParseSigned(forged)
				if err != nil {
					t.Fatal(err)
				}
				q.WarrantHash, v.Privacy.WarrantHash = warrant.Hash(sw), warrant.Hash(sw)
			}
			_, err := f.g.decide(q, index, v, f.wp, mustTable(t), tc.w, f.caPEM, 3, f.now)
			if tc.is == nil {
				if err != nil {
					t.Fatalf("decide: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.say) {
				t.Fatalf("decide: got %v, want %v saying %q", err, tc.is, tc.say)
			}
		})
	}

	t.Run("a stricter policy not yet on the ledger applies at once", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "policy.json")
		v2 := strings.Replace(strings.Replace(testPolicy, `"version": 1`, `"version": 2`, 1), `"aggregate": ["*"]`, `"aggregate": ["accounts"]`, 1)
		if err := os.WriteFile(file, []byte(v2), 0o600); err != nil {
			t.Fatal(err)
		}
		g, err := openGovernance("bank", file, mustTable(t), store{dir})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.history.Add(policy.Version{Policy: f.g.current, LedgerIndex: 10}); err != nil { // version 1 is in force
			t.Fatal(err)
		}
		v := request.Verified{Request: request.Request{Privacy: request.Privacy{EpsilonMilli: 1000, Collusion: 2}}, Analyst: f.analyst}
		_, err = g.decide(entry.Query{QueryID: "q-pending", EpsilonMilli: 1000, Collusion: 2}, 20, v, f.wp, mustTable(t), nil, f.caPEM, 3, f.now)
		if !errors.Is(err, policy.ErrRefused) || !strings.Contains(err.Error(), "bank.balance") {
			t.Fatalf("SUM(bank.balance) under a pending stricter policy: got %v", err)
		}
		// Once version 2 is on the ledger (index 30), a query committed
		// before it (index 20) but decided now is held to it too.
		if err := g.publish(entry.Policy{Version: 2, PolicyHash: g.current.Hash()}, 30); err != nil {
			t.Fatal(err)
		}
		_, err = g.decide(entry.Query{QueryID: "q-earlier", EpsilonMilli: 1000, Collusion: 2}, 20, v, f.wp, mustTable(t), nil, f.caPEM, 3, f.now)
		if !errors.Is(err, policy.ErrRefused) || !strings.Contains(err.Error(), "bank.balance") {
			t.Fatalf("a query committed before the tightening: got %v", err)
		}
		// Published again at another index (a retry): the first stays.
		if err := g.publish(entry.Policy{Version: 2, PolicyHash: g.current.Hash()}, 40); err != nil {
			t.Fatalf("re-publication of the same version: %v", err)
		}
		if vs := g.history.Versions(); vs[len(vs)-1].LedgerIndex != 30 {
			t.Fatalf("version 2 in force from %d, want 30", vs[len(vs)-1].LedgerIndex)
		}
	})

	t.Run("privacy differs from the committed", func(t *testing.T) {
		q := entry.Query{QueryID: "q-p", EpsilonMilli: 1000, Collusion: 2}
		v := request.Verified{Request: request.Request{Privacy: request.Privacy{EpsilonMilli: 500, Collusion: 2}}, Analyst: f.analyst}
		if _, err := f.g.decide(q, 20, v, f.wp, mustTable(t), nil, f.caPEM, 3, f.now); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("got %v, want ErrUnauthorized", err)
		}
	})

	t.Run("revoked", func(t *testing.T) {
		w := f.warrant(t, alice, both, true, f.now.Add(-hour), f.now.Add(hour))
		h := hashOf(t, w)
		if err := f.g.revoke(h, "test"); err != nil {
			t.Fatal(err)
		}
		q := entry.Query{QueryID: "q-r", WarrantHash: h}
		v := request.Verified{Request: request.Request{Privacy: request.Privacy{WarrantHash: h}}, Analyst: f.analyst}
		if _, err := f.g.decide(q, 20, v, f.wp, mustTable(t), w, f.caPEM, 3, f.now); !errors.Is(err, ErrWarrant) || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("got %v, want ErrWarrant saying revoked", err)
		}
		// The revocation survives a restart.
		g2, err := openGovernance("bank", f.g.current.Source(), mustTable(t), f.g.st)
		if err != nil {
			t.Fatal(err)
		}
		if !g2.isRevoked(h) {
			t.Fatal("the revocation was lost on reopening")
		}
	})

	t.Run("revoked in the operator's directory", func(t *testing.T) {
		w := f.warrant(t, alice, both, true, f.now.Add(-hour), f.now.Add(hour))
		h := hashOf(t, w)
		v := request.Verified{Request: request.Request{Privacy: request.Privacy{WarrantHash: h}}, Analyst: f.analyst}
		q := entry.Query{QueryID: "q-dir", WarrantHash: h}
		dir := t.TempDir()
		f.g.revDir = dir
		defer func() { f.g.revDir = "" }()
		if _, err := f.g.decide(q, 20, v, f.wp, mustTable(t), w, f.caPEM, 3, f.now); err != nil {
			t.Fatalf("before the revocation: %v", err)
		}
		// Another warrant's revocation does not revoke this one.
		other := f.warrant(t, alice, both, true, f.now.Add(-hour), f.now.Add(hour))
		if err := os.WriteFile(filepath.Join(dir, "other.pem"), f.revoke(t, other), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := f.g.decide(q, 20, v, f.wp, mustTable(t), w, f.caPEM, 3, f.now); err != nil {
			t.Fatalf("with another warrant's revocation: %v", err)
		}
		// A file that is not a revocation refuses (fail closed), naming it.
		if err := os.WriteFile(filepath.Join(dir, "junk.txt"), []byte("not a revocation"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := f.g.decide(q, 20, v, f.wp, mustTable(t), w, f.caPEM, 3, f.now); !errors.Is(err, ErrWarrant) || !strings.Contains(err.Error(), "junk.txt") {
			t.Fatalf("a junk file in the directory: got %v, want a refusal naming it", err)
		}
		if err := os.Remove(filepath.Join(dir, "junk.txt")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "r.pem"), f.revoke(t, w), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := f.g.decide(q, 20, v, f.wp, mustTable(t), w, f.caPEM, 3, f.now); !errors.Is(err, warrant.ErrRevoked) || !strings.Contains(err.Error(), "r.pem") {
			t.Fatalf("after the revocation: got %v, want ErrRevoked naming the file", err)
		}
	})

	t.Run("a warrant's query limit", func(t *testing.T) {
		w, err := warrant.New("CASE-2", alice, warrant.Scope{Tables: both, Exact: true, MaxQueries: 1}, f.now.Add(-hour), f.now.Add(hour))
		if err != nil {
			t.Fatal(err)
		}
		wb := f.judge(w)
		h := hashOf(t, wb)
		v := request.Verified{Request: request.Request{Privacy: request.Privacy{WarrantHash: h}}, Analyst: f.analyst}
		q1 := entry.Query{QueryID: "q-limit-1", WarrantHash: h}
		d, err := f.g.decide(q1, 20, v, f.wp, mustTable(t), wb, f.caPEM, 3, f.now)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.g.charge(d, q1); err != nil {
			t.Fatal(err)
		}
		// Asked again for the same query (its decryption after its step): allowed.
		if _, err := f.g.decide(q1, 20, v, f.wp, mustTable(t), wb, f.caPEM, 3, f.now); err != nil {
			t.Fatalf("the same query again: %v", err)
		}
		q2 := entry.Query{QueryID: "q-limit-2", WarrantHash: h}
		if _, err := f.g.decide(q2, 20, v, f.wp, mustTable(t), wb, f.caPEM, 3, f.now); !errors.Is(err, warrant.ErrExhausted) {
			t.Fatalf("a second query under a one-query warrant: got %v, want ErrExhausted", err)
		}
	})

	t.Run("the budget is charged durably and then refuses", func(t *testing.T) {
		v := request.Verified{Request: request.Request{Privacy: request.Privacy{EpsilonMilli: 1000, Collusion: 2}}, Analyst: f.analyst}
		for i, want := range []bool{true, true, false} {
			q := entry.Query{QueryID: "q-budget-" + string(rune('a'+i)), EpsilonMilli: 1000, Collusion: 2}
			d, err := f.g.decide(q, 20, v, f.wp, mustTable(t), nil, f.caPEM, 3, f.now)
			if want != (err == nil) {
				t.Fatalf("query %d: decide %v, want allowed=%v", i, err, want)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "ε budget") {
					t.Fatalf("refusal %v does not name the budget", err)
				}
				break
			}
			if err := f.g.charge(d, q); err != nil {
				t.Fatal(err)
			}
		}
		g2, err := openGovernance("bank", f.g.current.Source(), mustTable(t), f.g.st)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range g2.book.Charges() {
			if strings.HasPrefix(c.QueryID, "q-budget-") {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d budget charges after reopening, want 2", n)
		}
	})
}

func mustTable(t testing.TB) schema.Table {
	t.Helper()
	bank, ok := gen.Consortium().Table("bank")
	if !ok {
		t.Fatal("no bank table")
	}
	return bank
}

// BenchmarkDecide is a party's whole policy decision on an exact query
// under a warrant (the warrant's signature and certificate chain, the
// rules, the budget): what governance adds to each step and each
// decryption share. go test ./party -run '^$' -bench Decide
func BenchmarkDecide(b *testing.B) {
	f := newGovernFixture(b)
	w := f.warrant(b, []string{"mpcq://analyst/alice"}, []string{"bank", "telecom"}, true, f.now.Add(-time.Hour), f.now.Add(time.Hour))
	h := hashOf(b, w)
	q := entry.Query{QueryID: "q-bench", WarrantHash: h}
	v := request.Verified{Request: request.Request{Privacy: request.Privacy{WarrantHash: h}}, Analyst: f.analyst}
	table := mustTable(b)
	for b.Loop() {
		if _, err := f.g.decide(q, 20, v, f.wp, table, w, f.caPEM, 3, f.now); err != nil {
			b.Fatal(err)
		}
	}
}
