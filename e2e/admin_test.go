package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/gen"
)

// TestAdminOnboarding builds a consortium with the mpcadm binary alone, as
// docs/operations.md tells the institutions to: the CA admin makes the
// CA; every member makes its key and request in its own directory; the CA
// admin signs each request and sends back the certificate and ca.pem; the
// parties make their witness keys and the coordinator's operator the
// ledger key; each party writes its config (the warrant policy template)
// from its peers' certificates and the ledger's public key; the
// coordinator's operator writes its config and the consortium file from
// the parties' addresses and witness keys; analysts, auditors and the
// authorizer write their profiles. No internal/demo set-up: the data come
// from internal/gen, the demo Layout only points the process helpers at
// these files. The daemons start from the written configs; the analyst
// gets an exact answer under a warrant the authorizer issued with
// mpcwarrant from its profile (checked against the plaintext oracle) and a
// noisy one without; the auditor verifies the ledger.
func TestAdminOnboarding(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a key ceremony, an alignment and queries")
	}
	dir := t.TempDir()
	adm := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, filepath.Join(binDir, "mpcadm"), args...).CombinedOutput()
		if err != nil {
			t.Fatalf("mpcadm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	copyFile := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	parties := []string{gen.Bank, gen.Telecom, gen.Utility}
	l := &demo.Layout{Dir: dir, Parties: parties, PartyAddrs: map[string]string{}}
	caDir := l.Path("ca")
	coordDir := l.Path("coordinator")
	partyDir := func(name string) string { return l.Path("parties", name) }

	// The CA admin.
	adm("ca", "init", "--dir", caDir, "--name", "e2e admin consortium", "--validity", "48h")

	// Every member, in its own directory: a key and a request.
	type member struct{ dir, role, name string }
	members := []member{{coordDir, "coordinator", "coordinator"}, {l.AnalystDir(), "analyst", "alice"},
		{l.AuditorDir(), "auditor", "dpa"}, {l.AuthorizerDir(), "authorizer", "judge"}}
	for _, p := range parties {
		members = append(members, member{partyDir(p), "party", p})
	}
	for _, m := range members {
		args := []string{"csr", "--role", m.role, "--name", m.name, "--out", m.dir}
		switch m.role {
		case "party", "coordinator":
			args = append(args, "--host", "localhost,127.0.0.1")
		case "analyst":
			args = append(args, "--group", "fraud")
		}
		adm(args...)
	}
	for _, p := range parties {
		adm("witness-key", "--party", p, "--out", partyDir(p))
	}
	adm("ledger-key", "--name", "e2e-admin-ledger", "--out", coordDir)

	// The CA admin signs each request; certificate and ca.pem go back.
	for _, m := range members {
		csr := filepath.Join(m.dir, m.role+"-"+m.name+".csr")
		signed := filepath.Join(caDir, "issued", m.name+".pem")
		out := adm("sign", "--ca", caDir, "--csr", csr, "--validity", "24h", "-o", signed)
		if !strings.Contains(out, "mpcq://"+m.role+"/"+m.name) {
			t.Fatalf("sign says %q, not the identity mpcq://%s/%s", out, m.role, m.name)
		}
		copyFile(signed, filepath.Join(m.dir, "cert.pem"))
		copyFile(filepath.Join(caDir, "ca.pem"), filepath.Join(m.dir, "ca.pem"))
	}
	// Each member's key stayed in its directory, 0600; only requests and
	// certificates moved.
	for _, m := range members {
		if fi, err := os.Stat(filepath.Join(m.dir, "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s's key: %v %v", m.name, fi, err)
		}
	}

	// The synthetic tables, one per party.
	if _, err := gen.WriteDir(l.Path("data"), 1500, 13); err != nil {
		t.Fatal(err)
	}

	// Each party: its config from its peers' certificates and the
	// ledger's public key (sent by the coordinator's operator).
	for _, p := range parties {
		l.PartyAddrs[p] = freeAddr(t)
		copyFile(filepath.Join(coordDir, "ledger.pub"), filepath.Join(partyDir(p), "ledger.pub"))
		args := []string{"config", "party", "--name", p, "--dir", partyDir(p), "--listen", l.PartyAddrs[p],
			"--csv", l.DataCSV(p), "--schema", l.Path("data", p+".schema.json"),
			"--ledger-public-key", filepath.Join(partyDir(p), "ledger.pub"), "--policy-template", "warrant",
			"--workers", "2", "--allow-insecure-params"}
		for _, other := range parties {
			if other != p {
				peer := filepath.Join(partyDir(p), "peers", other+".pem")
				copyFile(filepath.Join(partyDir(other), "cert.pem"), peer)
				args = append(args, "--peer", peer)
			}
		}
		out := adm(args...)
		if !strings.Contains(out, "warrant template") {
			t.Errorf("config party %s: %s", p, out)
		}
	}

	// The coordinator's operator: its config and the consortium file,
	// from the parties' addresses and witness keys.
	l.CoordinatorAddr, l.LedgerAddr = freeAddr(t), freeAddr(t)
	args := []string{"config", "coordinator", "--consortium", "e2e-admin", "--dir", coordDir,
		"--listen", l.CoordinatorAddr, "--ledger-listen", l.LedgerAddr,
		"--param-set", "insecure-test-n12", "--allow-insecure-params", "--workers", "2"}
	for _, p := range parties {
		copyFile(filepath.Join(partyDir(p), "witness.pub"), filepath.Join(coordDir, "witnesses", p+".pub"))
		args = append(args, "--party", p+"="+l.PartyAddrs[p], "--witness", p+"="+filepath.Join(coordDir, "witnesses", p+".pub"))
	}
	adm(args...)
	consortium := filepath.Join(coordDir, "consortium.json")

	// The authorizer's profile, and a warrant for alice's case.
	adm("profile", "authorizer", "--out", l.AuthorizerDir())
	warrantFile := filepath.Join(l.AuthorizerDir(), "alice.warrant")
	if out, err := runTool(t, "mpcwarrant", "issue", "--profile", l.AuthorizerDir(), "--case", "CASE-ADMIN-1",
		"--analyst", "mpcq://analyst/alice", "--tables", strings.Join(parties, ","), "--exact", "--expires", "12h", "-o", warrantFile); err != nil {
		t.Fatalf("mpcwarrant issue: %v\n%s", err, out)
	}
	// The analyst's profile (its RLWE keys made here) with the warrant
	// attached, and the auditor's.
	copyFile(warrantFile, filepath.Join(dir, "alice-received.warrant"))
	adm("profile", "analyst", "--consortium", consortium, "--out", l.AnalystDir(), "--warrant", filepath.Join(dir, "alice-received.warrant"),
		"--purpose", "e2e onboarding", "--legal-basis", "CASE-ADMIN-1")
	adm("profile", "auditor", "--consortium", consortium, "--out", l.AuditorDir())

	cl := newCluster(t, l)
	if err := cl.StartAll(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, l)

	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Exact, under the warrant, equal to the plaintext oracle.
	db, err := demo.LoadDB(l)
	if err != nil {
		t.Fatal(err)
	}
	s := demo.Samples()[0]
	res, err := p.Query(ctx, client, analyst.Request{SQL: s.SQL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := demo.Strings(s.Expected(db)); res.Noisy() || !slices.Equal(res.Rows[0], want) {
		t.Fatalf("under the warrant: %v (noisy %v), plaintext %v", res.Rows[0], res.Noisy(), want)
	}

	// Noisy, without the warrant, at the policy's largest ε.
	res, err = p.Query(ctx, client, analyst.Request{SQL: "SELECT COUNT(*) FROM bank", Epsilon: "1", NoWarrant: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Noisy() || res.EpsilonMilli != 1000 || len(res.Rows) != 1 {
		t.Fatalf("without the warrant: ε %d, rows %v; want a noisy answer at ε 1", res.EpsilonMilli, res.Rows)
	}
	t.Logf("noisy count of bank: %v (%d rows)", res.Rows[0], len(db.Tables[gen.Bank]))

	// The auditor's profile verifies the ledger: both queries, every
	// party's policy, every cosignature.
	if out, err := runTool(t, "mpcaudit", "--profile", l.AuditorDir(), "verify"); err != nil {
		t.Fatalf("mpcaudit verify: %v\n%s", err, out)
	}
}
