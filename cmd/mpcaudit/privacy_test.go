package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/testledger"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/policy"
)

// writeLedger logs entries in a fresh cosigned ledger and returns the log
// directory and an auditor profile whose ca.pem is caPEM.
func writeLedger(t *testing.T, caPEM []byte, entries []entry.Entry) (logDir, profile string) {
	t.Helper()
	dir := t.TempDir()
	lg := testledger.Write(t, dir, "mpcq.test/privacy", entries)
	profile = filepath.Join(dir, "profile")
	cfg := auditor.ProfileConfig{Coordinator: "127.0.0.1:1", Ledger: auditor.LedgerInfo{URL: "https://127.0.0.1:1/", PublicKey: lg.PublicKey,
		Witnesses: lg.Witnesses}}
	if err := auditor.WriteProfile(profile, cfg, caPEM, []byte("cert"), []byte("key")); err != nil {
		t.Fatal(err)
	}
	return lg.Dir, profile
}

// policyLedger writes a ledger with a signed POLICY of the bank (rule
// name with an escape sequence, a 24h budget of 2 per analyst), an
// answered query q-1 (ε 0.5) by alice a minute before now and an open
// one q-2 (ε 0.25); it returns the log directory and the profile.
func policyLedger(t *testing.T, now time.Time) (logDir, profile string) {
	t.Helper()
	ca, err := pki.NewCA("test CA", now.Add(-time.Hour), 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue(pki.RoleParty, "bank", nil, now.Add(-time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.PrivateKey(keyPEM)
	cert, _ := pki.ParseCertificate(certPEM)
	p, err := policy.Parse("bank.json", []byte(`{"version": 1, "party": "bank", "rules": [{"name": "r\u001b[2J", "analysts": ["*"], "max_epsilon": 1}],
		"budget": {"period": "24h", "per_analyst": 2, "per_case": 3}}`))
	if err != nil {
		t.Fatal(err)
	}
	content := p.Canonical()
	h := sha256.Sum256(content)
	pol := entry.Policy{Party: "bank", Version: 1, PolicyHash: h, Content: content,
		Signature: ed25519.Sign(key, entry.PolicySigned("bank", 1, h)), Certificate: cert.Raw}
	q := func(id string, eps uint64) entry.Query {
		return entry.Query{QueryID: id, Analyst: "mpcq://analyst/alice", ParamSet: "test", Time: now.Add(-time.Minute).Unix(), EpsilonMilli: eps, Collusion: 1}
	}
	return writeLedger(t, ca.CertPEM(), []entry.Entry{
		entry.Ceremony{ParamSet: "test"}, pol, q("q-1", 500), entry.Result{QueryID: "q-1", Parties: []string{"bank"}}, q("q-2", 250),
	})
}

// A signed POLICY, an answered noisy query and an open one: verify
// accepts them, policies lists the version, budget counts the ε.
func TestPoliciesAndBudget(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	logDir, profile := policyLedger(t, now)
	cmd := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		args = append([]string{"--profile", profile}, append(args, "--log-dir", logDir, "--no-archive")...)
		if code := run(t.Context(), args, &out, &errb); code != 0 {
			t.Fatalf("mpcaudit %v: exit %d\n%s", args, code, errb.String())
		}
		return out.String()
	}
	if out := cmd("verify"); !strings.Contains(out, "POLICY   1") {
		t.Fatalf("verify:\n%s", out)
	}
	out := cmd("policies", "--show")
	if !strings.Contains(out, "bank") || !strings.Contains(out, `r\\u001b[2J`) || strings.Contains(out, "\x1b") {
		t.Fatalf("policies --show:\n%q", out)
	}
	if out := cmd("show"); !strings.Contains(out, "entry 1: POLICY of party bank, version 1") || !strings.Contains(out, "0.5") {
		t.Fatalf("show:\n%s", out)
	}
	var rep auditor.BudgetReport
	if err := json.Unmarshal([]byte(cmd("budget", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Parties) != 1 || len(rep.Parties[0].Analysts) != 1 {
		t.Fatalf("budget: %+v", rep)
	}
	if a := rep.Parties[0].Analysts[0]; a.SpentMilli != 500 || a.RemainingMilli != 1500 || a.PossiblyMilli != 250 {
		t.Fatalf("budget of alice: %+v", a)
	}
	if out := cmd("budget", "--at", now.Add(-time.Hour).Format(time.RFC3339)); !strings.Contains(out, "party bank") || strings.Contains(out, "q-1") {
		t.Fatalf("budget --at an hour ago:\n%s", out)
	}
}
