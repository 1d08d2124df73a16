package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/demo"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// progressKill calls kill once, when the query reports that it is planned.
func progressKill(killed *bool, kill func()) func(*pb.Progress) {
	return func(pr *pb.Progress) {
		if !*killed && pr.Stage == "planned" {
			*killed = true
			kill()
		}
	}
}

// TestConsortium runs every sample query against the plaintext oracle,
// then hostile input and a party killed mid-query, on one cluster.
func TestConsortium(t *testing.T) {
	l, cl := startCluster(t, testPeople)
	db, err := demo.LoadDB(l)
	if err != nil {
		t.Fatal(err)
	}
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	ctx := context.Background()

	t.Run("queries match the plaintext oracle", func(t *testing.T) {
		samples := demo.Samples()
		if len(samples) < 10 {
			t.Fatalf("only %d sample queries", len(samples))
		}
		sawZero, sawAll := false, false
		for _, s := range samples {
			t.Run(s.Name, func(t *testing.T) {
				res, err := p.Query(ctx, client, analyst.Request{SQL: s.SQL}, nil)
				if err != nil {
					t.Fatal(err)
				}
				want := demo.Strings(s.Expected(db))
				if !slices.Equal(res.Rows[0], want) {
					t.Fatalf("encrypted %v, plaintext %v (columns %v)", res.Rows[0], want, res.Columns)
				}
				if want[0] == "0" {
					sawZero = true
				}
				if len(s.Tables) == 1 && s.Where != nil && fmt.Sprint(len(db.Tables[s.Tables[0]])) == want[0] {
					sawAll = true
				}
			})
		}
		if !sawZero || !sawAll {
			t.Fatalf("the corpus must include a zero-match query (%v) and an everyone-matches query (%v)", sawZero, sawAll)
		}
	})

	t.Run("secret key shares are private files", func(t *testing.T) {
		for _, name := range l.Parties {
			fi, err := os.Stat(l.Path("parties", name, "state", "secret.key"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s secret key share has mode %v, want 0600", name, fi.Mode().Perm())
			}
		}
	})

	t.Run("mpcq command line", func(t *testing.T) {
		mpcq := filepath.Join(binDir, "mpcq")
		out, err := exec.Command(mpcq, "--profile", l.AnalystDir(), "status").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ready") {
			t.Fatalf("mpcq status: %v\n%s", err, out)
		}
		s := demo.Samples()[1]
		cmd := exec.Command(mpcq, "--profile", l.AnalystDir(), "query", "--json", "--purpose", "e2e", "--legal-basis", "TEST-2", s.SQL)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err = cmd.Output()
		if err != nil {
			t.Fatalf("mpcq query: %v\n%s", err, stderr.String())
		}
		var res struct {
			QueryID string     `json:"query_id"`
			Columns []string   `json:"columns"`
			Rows    [][]uint64 `json:"rows"` // numbers, as JSON numbers
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("mpcq --json output %q: %v", out, err)
		}
		if res.QueryID == "" || len(res.Rows) != 1 || !slices.Equal(res.Rows[0], s.Expected(db)) {
			t.Fatalf("mpcq --json gave %+v, plaintext %v", res, s.Expected(db))
		}
		if !strings.Contains(stderr.String(), "planned") {
			t.Fatalf("no progress on stderr: %q", stderr.String())
		}
		cmd = exec.Command(mpcq, "--profile", l.AnalystDir(), "query", "SELECT COUNT(*) FROM bank WHERE bank.cash > 1")
		out, err = cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "did you mean bank.cash_deposits_30d") {
			t.Fatalf("mpcq with bad SQL: %v\n%s", err, out)
		}
	})

	t.Run("bad SQL is refused before any cryptography", func(t *testing.T) {
		cases := []struct{ sql, want string }{
			{"SELECT COUNT(*) FROM bank WHERE bank.cash > 5", "unknown column bank.cash"},
			{"SELECT COUNT(*) FROM nosuch", "unknown table"},
			{"SELEC COUNT(*) FROM bank", "line 1, column 1"},
			{"SELECT SUM(bank.district) FROM bank", "district"},
		}
		apk, err := os.ReadFile(l.Path("analyst", analyst.PublicKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			// mpcq plans locally and stops at once...
			if _, err := p.Query(ctx, client, analyst.Request{SQL: c.sql}, nil); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%q locally: got %v, want an error mentioning %q", c.sql, err, c.want)
			}
			// ...and the coordinator refuses it too, before any cryptography.
			stream, err := client.Query(ctx, &pb.QueryRequest{Sql: c.sql, Purpose: "test", LegalBasis: "TEST-3", AnalystPublicKey: apk})
			if err == nil {
				_, err = stream.Recv()
			}
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%q at the coordinator: got %v, want InvalidArgument mentioning %q", c.sql, err, c.want)
			}
		}
	})

	t.Run("hostile bytes", func(t *testing.T) { hostileBytes(t, l) })

	t.Run("ledger gate refuses untraceable decryption", func(t *testing.T) { ledgerGate(t, l) })

	t.Run("hostile coordinator", func(t *testing.T) { hostileCoordinator(t, l) })

	t.Run("auditor verifies the ledger", func(t *testing.T) { auditLedger(t, l) })

	t.Run("party killed mid-query", func(t *testing.T) {
		const victim = "utility"
		sql := demo.Samples()[0].SQL // three parties
		qctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		killed := false
		start := time.Now()
		_, err := p.Query(qctx, client, analyst.Request{SQL: sql}, progressKill(&killed, func() {
			if err := cl.Kill(victim); err != nil {
				t.Error(err)
			}
		}))
		elapsed := time.Since(start)
		if !killed {
			t.Fatal("the query never reported progress")
		}
		if err == nil {
			t.Fatal("query succeeded although a party was killed")
		}
		if !strings.Contains(err.Error(), victim) {
			t.Fatalf("error does not name the party %s: %v", victim, err)
		}
		if elapsed > 60*time.Second {
			t.Fatalf("failure took %v", elapsed)
		}
		t.Logf("failed after %v: %v", elapsed, err)
		// The coordinator and the other parties keep serving.
		st := coordinatorStatus(t, client)
		for _, ps := range st.Parties {
			if ps.Name == victim && ps.Up {
				t.Fatalf("status says %s is up", victim)
			}
			if ps.Name != victim && !ps.Up {
				t.Fatalf("party %s went down with %s: %s", ps.Name, victim, ps.Error)
			}
		}
		if err := cl.StartParty(victim); err != nil {
			t.Fatal(err)
		}
		waitReady(t, l)
		s := demo.Samples()[0]
		res, err := p.Query(ctx, client, analyst.Request{SQL: s.SQL}, nil)
		if err != nil {
			t.Fatalf("after restart: %v", err)
		}
		if want := demo.Strings(s.Expected(db)); !slices.Equal(res.Rows[0], want) {
			t.Fatalf("after restart: encrypted %v, plaintext %v", res.Rows[0], want)
		}
	})
}
