package e2e

import (
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/policy"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/warrant"
)

// TestInstitutionsDecide plays a curious analyst and an institution that
// changes its mind, against real daemons: a query that isolates one
// person gets a noisy answer without a warrant, the budget runs out and
// says so, a warrant's faults are refused, a revoked warrant stops
// working, a policy change takes effect from its ledger index, and the
// auditor's budget is the parties' own accounting.
func TestInstitutionsDecide(t *testing.T) {
	l, cl := startCluster(t, testPeople)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	exact, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	noisy, err := analyst.Load(l.AnalystDPDir())
	if err != nil {
		t.Fatal(err)
	}
	dpConn, dpClient, err := noisy.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer dpConn.Close()

	// One person's record through aggregates: a WHERE that matches one
	// telecom row, five SUMs over the joined record.
	calls, intl := firstTelecomRow(t, l)
	isolate := fmt.Sprintf("SELECT COUNT(*), SUM(bank.balance), SUM(bank.cash_deposits_30d), SUM(bank.accounts), SUM(utility.kwh_30d), SUM(telecom.phone_lines) "+
		"FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) WHERE telecom.calls_30d = %s AND telecom.intl_minutes_30d = %s", calls, intl)
	truth, err := exact.Query(ctx, client, analyst.Request{SQL: isolate}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if truth.Noisy() {
		t.Fatalf("the warrant profile's query ran noisy (ε %d)", truth.EpsilonMilli)
	}
	got, err := noisy.Query(ctx, dpClient, analyst.Request{SQL: isolate}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Noisy() || got.EpsilonMilli != 1000 || got.Collusion != len(l.Parties)-1 {
		t.Fatalf("without a warrant: ε %d k %d, want a noisy answer at ε 1, k %d", got.EpsilonMilli, got.Collusion, len(l.Parties)-1)
	}
	if slices.Equal(got.Rows[0], truth.Rows[0]) {
		t.Fatalf("the noisy answer %v equals the exact record %v", got.Rows[0], truth.Rows[0])
	}
	t.Logf("exact %v, noisy %v", truth.Rows[0], got.Rows[0])

	// A clipping bound the query states sets the noise: scale 1000 for
	// SUM(LEAST(bank.balance, 1000)) at ε 1, where the declared maximum
	// would give 2·10^7.
	out, err := runTool(t, "mpcq", "--profile", l.AnalystDPDir(), "explain", "SELECT SUM(LEAST(bank.balance, 1000)) FROM bank")
	if err != nil || !strings.Contains(out, "noise of SUM(LEAST(bank.balance, 1000)): discrete Laplace, scale 1000 per noisy party") {
		t.Errorf("mpcq explain of a clipped sum (%v):\n%s", err, out)
	}
	// EXPLAIN says, before anything runs, what the next one costs.
	out, err = runTool(t, "mpcq", "--profile", l.AnalystDPDir(), "explain", isolate)
	if err != nil {
		t.Fatalf("mpcq explain: %v\n%s", err, out)
	}
	for _, want := range []string{"ε 1 per query, collusion tolerance k=2", "noise of SUM(bank.balance): discrete Laplace", `bank: allowed by rule "demo" (policy version 1); ε left: 9 for you`} {
		if !strings.Contains(out, want) {
			t.Errorf("mpcq explain does not say %q:\n%s", want, out)
		}
	}

	t.Run("the budget runs out and says so", func(t *testing.T) {
		limit, err := policy.ParseEpsilon(demo.DemoDailyBudget)
		if err != nil {
			t.Fatal(err)
		}
		for spent := uint64(1000); spent < limit; spent += 1000 {
			if _, err := noisy.Query(ctx, dpClient, analyst.Request{SQL: "SELECT COUNT(*) FROM bank"}, nil); err != nil {
				t.Fatalf("query with ε %d of %d spent: %v", spent, limit, err)
			}
		}
		_, err = noisy.Query(ctx, dpClient, analyst.Request{SQL: isolate}, nil)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "ε budget") {
			t.Fatalf("the query past the budget: got %v, want PermissionDenied naming the ε budget", err)
		}
		// Every party's own account, and the auditor's from the log.
		who := "mpcq://analyst/analyst-dp"
		for _, name := range l.Parties {
			b, err := os.ReadFile(l.Path("parties", name, "state", "budget.json"))
			if err != nil {
				t.Fatal(err)
			}
			book, err := policy.DecodeBook(name, b)
			if err != nil {
				t.Fatal(err)
			}
			var sum uint64
			for _, c := range book.Charges() {
				if c.Analyst == who {
					sum += c.EpsilonMilli
				}
			}
			if sum != limit {
				t.Errorf("party %s charged %s ε %d, want %d", name, who, sum, limit)
			}
		}
		out, err := runTool(t, "mpcaudit", "--profile", l.AuditorDir(), "budget", "--analyst", who, "-o", "json")
		if err != nil {
			t.Fatalf("mpcaudit budget: %v\n%s", err, out)
		}
		var rep auditor.BudgetReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("mpcaudit budget -o json: %v\n%s", err, out)
		}
		if len(rep.Parties) != len(l.Parties) {
			t.Fatalf("mpcaudit budget reports %d parties, want %d", len(rep.Parties), len(l.Parties))
		}
		for _, p := range rep.Parties {
			var spent uint64
			for _, a := range p.Analysts {
				if a.Who == who {
					spent = a.SpentMilli
				}
			}
			if spent != limit {
				t.Errorf("mpcaudit budget: %s spent ε %d at %s, the parties charged %d", who, spent, p.Party, limit)
			}
		}
	})

	t.Run("an exact answer needs a warrant", func(t *testing.T) {
		_, err := noisy.Query(ctx, dpClient, analyst.Request{SQL: "SELECT COUNT(*) FROM bank", Epsilon: "0"}, nil)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `rule "demo"`) {
			t.Fatalf("an exact query without a warrant: got %v, want PermissionDenied by rule \"demo\"", err)
		}
	})

	t.Run("faulty warrants are refused", func(t *testing.T) {
		now := time.Now()
		issue := func(analysts []string, tables []string, nb, exp time.Time) []byte {
			return issueWarrant(t, l, analysts, tables, nb, exp)
		}
		self := []string{"mpcq://analyst/analyst-demo"}
		forged := issue(self, l.Parties, now.Add(-time.Minute), now.Add(time.Hour))
		sw, _ := warrant.ParseSigned(forged)
		sw.Warrant = append([]byte(nil), sw.Warrant...)
		sw.Warrant[len(sw.Warrant)-1] ^= 1 // a later expiry than signed
		for _, c := range []struct {
			name, say string
			w         []byte
		}{
			{"expired", "expired", issue(self, l.Parties, now.Add(-2*time.Hour), now.Add(-time.Hour))},
			{"not yet valid", "valid from", issue(self, l.Parties, now.Add(time.Hour), now.Add(2*time.Hour))},
			{"for another analyst", "does not name analyst", issue([]string{"mpcq://analyst/someone-else"}, l.Parties, now.Add(-time.Minute), now.Add(time.Hour))},
			{"out of scope", "not among", issue(self, []string{"telecom"}, now.Add(-time.Minute), now.Add(time.Hour))},
			{"forged", "signature", sw.Marshal()},
		} {
			_, err := exact.Query(ctx, client, analyst.Request{SQL: "SELECT SUM(bank.balance) FROM bank", Warrant: c.w}, nil)
			if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), c.say) {
				t.Errorf("%s warrant: got %v, want PermissionDenied saying %q", c.name, err, c.say)
			}
		}
	})

	t.Run("a policy change takes effect from its ledger index", func(t *testing.T) {
		before, err := exact.Query(ctx, client, analyst.Request{SQL: "SELECT SUM(bank.balance) FROM bank"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		v2 := strings.Replace(string(demo.Policy("bank")), `"version": 1`, `"version": 2`, 1)
		v2 = strings.Replace(v2, `"name": "demo"`, `"name": "no-balances"`, 1)
		v2 = strings.Replace(v2, `"aggregate": ["*"]`, `"aggregate": ["accounts"]`, 1)
		if err := os.WriteFile(l.Path("parties", "bank", "policy.json"), []byte(v2), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := cl.Kill("bank"); err != nil {
			t.Fatal(err)
		}
		if err := cl.StartParty("bank"); err != nil {
			t.Fatal(err)
		}
		waitReady(t, l)
		// Version 2 is in force once its POLICY entry is on the ledger
		// (the coordinator publishes it when it sees the bank again).
		var vs []auditor.PolicyVersion
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
			out, err := runTool(t, "mpcaudit", "--profile", l.AuditorDir(), "policies", "--party", "bank", "-o", "json")
			if err != nil {
				t.Fatalf("mpcaudit policies: %v\n%s", err, out)
			}
			if err := json.Unmarshal([]byte(out), &vs); err != nil {
				t.Fatalf("mpcaudit policies -o json: %v\n%s", err, out)
			}
			if len(vs) == 2 || time.Now().After(deadline) {
				break
			}
		}
		if len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 2 || vs[1].Index <= before.LedgerIndex {
			t.Fatalf("bank's policy history %+v: want versions 1 and 2, version 2 logged after the query at index %d", vs, before.LedgerIndex)
		}
		var refusedID string
		_, err = exact.Query(ctx, client, analyst.Request{SQL: "SELECT SUM(bank.balance) FROM bank"}, queryIDOf(&refusedID, nil))
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `party bank refused by rule "no-balances"`) ||
			!strings.Contains(err.Error(), "bank.balance") {
			t.Fatalf("SUM(bank.balance) after the bank forbade it: got %v", err)
		}
		// The ledger tells it: a FAILURE naming the party and the rule.
		row := ledgerRow(t, l, refusedID, func(r auditor.QueryRow) bool { return r.Status == "failed" })
		if !slices.Equal(row.Parties, []string{"bank"}) || !strings.Contains(row.Reason, `rule "no-balances"`) {
			t.Fatalf("FAILURE of the refused query: parties %v, reason %q; want bank and the rule", row.Parties, row.Reason)
		}
		if _, err := exact.Query(ctx, client, analyst.Request{SQL: "SELECT SUM(bank.accounts) FROM bank"}, nil); err != nil {
			t.Fatalf("an allowed aggregate after the change: %v", err)
		}
	})

	// Queries committed now, asked of every party directly afterwards (as
	// a hostile coordinator would): one under a warrant that expires in
	// seconds, one under the demo warrant (revoked below).
	shortExpiry := time.Now().Add(15 * time.Second)
	short := issueWarrant(t, l, []string{"mpcq://analyst/analyst-demo"}, l.Parties, time.Now().Add(-time.Minute), shortExpiry)
	const sumSQL = "SELECT COUNT(*), SUM(bank.accounts) FROM telecom JOIN bank USING (person_id)"
	underShort := commitRequest(ctx, t, l, exact, client, analyst.Request{SQL: sumSQL, Warrant: short})
	underDemo := commitGenuine(ctx, t, l, exact, client, sumSQL)

	t.Run("a revoked warrant stops working at every party", func(t *testing.T) {
		wb, err := os.ReadFile(l.Path("analyst", demo.WarrantFile))
		if err != nil {
			t.Fatal(err)
		}
		sw, err := warrant.ParseSigned(wb)
		if err != nil {
			t.Fatal(err)
		}
		judgeCert, priv := judge(t, l)
		rev, err := warrant.SignRevocation(warrant.Revocation{WarrantHash: warrant.Hash(sw), Time: time.Now().Unix(), Reason: "case closed"}, priv, judgeCert)
		if err != nil {
			t.Fatal(err)
		}
		// An analyst cannot revoke; the authorizer can.
		if _, err := client.Revoke(ctx, &pb.RevokeRequest{Warrant: wb, Revocation: rev.Marshal()}); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("an analyst's revocation: got %v, want PermissionDenied", err)
		}
		reply, err := coordinatorAs(t, l, l.AuthorizerDir()).Revoke(ctx, &pb.RevokeRequest{Warrant: wb, Revocation: rev.Marshal()})
		if err != nil {
			t.Fatal(err)
		}
		if len(reply.Parties) != len(l.Parties) {
			t.Fatalf("revocation recorded by %v, want every party", reply.Parties)
		}
		_, err = exact.Query(ctx, client, analyst.Request{SQL: "SELECT COUNT(*) FROM telecom"}, nil)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("a query under the revoked warrant: got %v, want PermissionDenied saying revoked", err)
		}
	})
	t.Run("a revocation the operator drops in the bank's directory", func(t *testing.T) {
		w2 := issueWarrant(t, l, []string{"mpcq://analyst/analyst-demo"}, l.Parties, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
		if _, err := exact.Query(ctx, client, analyst.Request{SQL: sumSQL, Warrant: w2}, nil); err != nil {
			t.Fatalf("a query under a fresh warrant: %v", err)
		}
		sw, err := warrant.ParseSigned(w2)
		if err != nil {
			t.Fatal(err)
		}
		cert, priv := judge(t, l)
		rev, err := warrant.SignRevocation(warrant.Revocation{WarrantHash: warrant.Hash(sw), Time: time.Now().Unix(), Reason: "out of band"}, priv, cert)
		if err != nil {
			t.Fatal(err)
		}
		// Not sent to the coordinator: only the bank's operator has it.
		if err := os.WriteFile(l.Path("parties", "bank", "revocations", "w2.pem"), rev.Marshal(), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = exact.Query(ctx, client, analyst.Request{SQL: sumSQL, Warrant: w2}, nil)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "revocations directory") || !strings.Contains(err.Error(), "bank") {
			t.Fatalf("a query under a warrant revoked in the bank's directory: got %v", err)
		}
	})

	t.Run("every party refuses a committed query's faulty warrant", func(t *testing.T) {
		apk, err := os.ReadFile(l.Path("analyst", analyst.PublicKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		params, err := mpc.NewParams(mpc.DefaultSetName)
		if err != nil {
			t.Fatal(err)
		}
		other := issueWarrant(t, l, []string{"mpcq://analyst/someone-else"}, l.Parties, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
		time.Sleep(time.Until(shortExpiry) + time.Second) // the short warrant has expired
		for _, c := range []struct {
			name, say string
			q         committed
			w         []byte
		}{
			{"missing", "comes without it", underDemo, nil},
			{"another warrant than committed", "not the one committed", underDemo, other},
			{"revoked", "revoked", underDemo, underDemo.warrant},
			{"expired", "expired", underShort, underShort.warrant},
		} {
			for _, name := range l.Parties {
				pc := asCoordinator(t, l, name)
				st, err := pc.Status(ctx, &pb.PartyStatusRequest{})
				if err != nil {
					t.Fatal(err)
				}
				reply, err := pc.DecryptShare(ctx, &pb.DecryptShareRequest{QueryId: c.q.id, Plan: c.q.plan, ChainLen: uint32(len(c.q.chain)), Chain: c.q.chain,
					AnalystPublicKey: apk, Ciphertexts: [][]byte{make([]byte, params.CiphertextSize(mpc.DecryptLevel))}, CeremonyId: st.CeremonyId,
					LedgerEntry: c.q.entry, LedgerIndex: c.q.index, InclusionProof: c.q.proof, Checkpoint: c.q.cp, Request: c.q.request, Warrant: c.w})
				if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), c.say) || reply != nil {
					t.Errorf("%s warrant at %s: got %v, want PermissionDenied saying %q", c.name, name, err, c.say)
				}
			}
		}
	})

	// The whole story verifies: four POLICY entries (three parties, then
	// the bank's version 2), one REVOCATION, every warrant archived.
	out, err = runTool(t, "mpcaudit", "--profile", l.AuditorDir(), "verify")
	if err != nil {
		t.Fatalf("mpcaudit verify: %v\n%s", err, out)
	}
	for _, want := range []string{"POLICY     4", "REVOCATION 1"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("mpcaudit verify does not report %q:\n%s", want, out)
		}
	}
}

// firstTelecomRow returns calls_30d and intl_minutes_30d of the first row
// of the telecom table: a combination that is rare, usually one person.
func firstTelecomRow(t *testing.T, l *demo.Layout) (string, string) {
	t.Helper()
	f, err := os.Open(l.DataCSV("telecom"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("telecom CSV: %v", err)
	}
	col := func(name string) string {
		i := slices.Index(rows[0], name)
		if i < 0 {
			t.Fatalf("telecom CSV has no column %s", name)
		}
		return rows[1][i]
	}
	return col("calls_30d"), col("intl_minutes_30d")
}

// judge is the demo authorizer's certificate and key.
func judge(t *testing.T, l *demo.Layout) ([]byte, ed25519.PrivateKey) {
	t.Helper()
	cert, key, err := pki.LoadKeyPair(l.Path("authorizer", "cert.pem"), l.Path("authorizer", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := pki.PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert, priv
}

// issueWarrant is a signed warrant of the demo judge for the demo case,
// allowing exact answers on the given tables.
func issueWarrant(t *testing.T, l *demo.Layout, analysts, tables []string, notBefore, expiry time.Time) []byte {
	t.Helper()
	cert, priv := judge(t, l)
	w, err := warrant.New(demo.DemoCase, analysts, warrant.Scope{Tables: tables, Exact: true}, notBefore, expiry)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := warrant.Sign(w, priv, cert)
	if err != nil {
		t.Fatal(err)
	}
	return sw.Marshal()
}
