package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/mpc"
)

// startPostgresCluster sets up a consortium whose given parties read their
// tables from the demo's PostgreSQL (in the layout's directory), starts
// it and waits until it is ready; all is stopped at the end of the test.
func startPostgresCluster(t *testing.T, people int, parties ...string) (*demo.Layout, *demo.Cluster, *demo.Postgres) {
	t.Helper()
	l, err := demo.Setup(t.TempDir(), demo.Options{People: people, Seed: 7, ParamSet: mpc.DefaultSetName, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pg, err := demo.StartPostgres(ctx, l, parties)
	if err != nil {
		t.Fatalf("PostgreSQL for the test (on Debian: apt-get install -y postgresql): %v", err)
	}
	cl := newCluster(t, l)
	cl.AtStop(func() { _ = pg.Stop() })
	if err := cl.StartAll(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, l)
	return l, cl, pg
}

// TestCorpusMatchesSQLitePostgres runs the corpus with the bank, then all
// three parties, reading from PostgreSQL (conditions pushed down as one
// parameterized query per step) against SQLite on the pooled CSVs.
func TestCorpusMatchesSQLitePostgres(t *testing.T) {
	for _, tc := range []struct {
		name    string
		parties []string
	}{
		{"bank", []string{"bank"}},
		{"all", []string{"bank", "telecom", "utility"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _, _ := startPostgresCluster(t, 2500, tc.parties...)
			runCorpus(t, l)
		})
	}
}

// TestPostgresLiveValues: with the bank on PostgreSQL, an UPDATE and a
// DELETE are visible to the next query without a new epoch; with the
// server stopped a query touching the bank fails naming the bank and the
// database while the party keeps serving; once restarted, the next query
// works.
func TestPostgresLiveValues(t *testing.T) {
	l, _, pg := startPostgresCluster(t, 1500, "bank")
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db, err := pgx.Connect(ctx, pg.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	const q = `SELECT COUNT(*), SUM(bank.cash_deposits_30d) FROM bank WHERE bank.cash_deposits_30d > 50000`
	check := func(when string) {
		t.Helper()
		var n, sum int64
		if err := db.QueryRow(ctx, `SELECT count(*), coalesce(sum(cash_deposits_30d), 0) FROM bank WHERE cash_deposits_30d > 50000`).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		res, err := p.Query(ctx, client, analyst.Request{SQL: q}, nil)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if got := res.Rows[0]; got[0] != itoa(n) || got[1] != itoa(sum) {
			t.Fatalf("%s: encrypted %v, PostgreSQL %d %d", when, got, n, sum)
		}
		t.Logf("%s: %d people, sum %d", when, n, sum)
	}
	epoch := coordinatorStatus(t, client).EpochId
	check("before")
	var id string
	if err := db.QueryRow(ctx, `SELECT person_id FROM bank WHERE cash_deposits_30d <= 50000 ORDER BY person_id LIMIT 1`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `UPDATE bank SET cash_deposits_30d = 99999 WHERE person_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	check("after an UPDATE")
	if e := coordinatorStatus(t, client).EpochId; e != epoch {
		t.Fatalf("an UPDATE changed the epoch from %s to %s", epoch, e)
	}
	if _, err := db.Exec(ctx, `DELETE FROM bank WHERE person_id = (SELECT person_id FROM bank WHERE cash_deposits_30d > 50000 ORDER BY person_id DESC LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	check("after a DELETE") // before or after the incremental epoch it starts

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err = p.Query(ctx, client, analyst.Request{SQL: q}, nil)
	if err == nil || !strings.Contains(err.Error(), "bank") || !strings.Contains(err.Error(), "database") {
		t.Fatalf("query with the database stopped: %v, want an error naming the bank and the database", err)
	}
	t.Logf("with the database stopped: %v", err)
	if _, err := p.Query(ctx, client, analyst.Request{SQL: `SELECT COUNT(*) FROM telecom JOIN utility USING (person_id)`}, nil); err != nil {
		t.Fatalf("a query without the bank while its database is down: %v", err)
	}
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	db2, err := pgx.Connect(ctx, pg.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close(context.Background())
	db = db2
	check("after the database restarted")
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
