package pgsource_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/pgserver"
	"github.com/mpcq/mpcq/internal/pgsource"
	"github.com/mpcq/mpcq/internal/pgsql"
	"github.com/mpcq/mpcq/internal/pgtest"
	"github.com/mpcq/mpcq/internal/source"
	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

var bank = schema.Table{Name: "bank", Key: "person_id", Columns: []schema.Column{
	{Name: "district", Kind: schema.KindCategory, Categories: []string{"D01", "O'Hare; --", "D03"}},
	{Name: "balance", Kind: schema.KindInt, Min: 0, Max: 1000},
}}

// setup makes a server with table accounts (person key id) holding rows
// p0..p9 and a read-only role reader with SELECT on it and nothing else,
// and opens a source as that role.
func setup(t *testing.T, rel string) (*pgserver.Server, *source.Keys, *pgsource.Source, func(string, ...any)) {
	t.Helper()
	srv := pgtest.Start(t)
	c := pgtest.Conn(t, srv)
	exec := func(sql string, args ...any) { t.Helper(); pgtest.Exec(t, c, sql, args...) }
	exec(`CREATE TABLE accounts (id text PRIMARY KEY, district text NOT NULL, balance integer NOT NULL, secret text)`)
	for i := range 10 {
		exec(`INSERT INTO accounts VALUES ($1, $2, $3, 'not for the party')`, fmt.Sprintf("p%d", i), bank.Columns[0].Categories[i%3], i*100)
	}
	exec(`CREATE VIEW slow AS SELECT a.* FROM accounts a, (SELECT pg_sleep(3)) s`)
	exec(`CREATE ROLE reader LOGIN`)
	exec(`GRANT SELECT ON accounts, slow TO reader`)
	conn := strings.Replace(srv.ConnString("postgres"), "user="+pgserver.Role, "user=reader", 1)
	src, err := pgsource.Open(context.Background(), conn, bank, pgsql.Relation{Name: rel, Key: "id"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	keys, err := src.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return srv, keys, src, exec
}

var richer = plan.Cmp{Table: "bank", Left: plan.ACol{Column: "balance"}, Op: plan.OpGe, Right: plan.AConst{V: 500}}

func read(t *testing.T, src *pgsource.Source, keys *source.Keys) *source.Rows {
	t.Helper()
	rows, err := src.Read(context.Background(), keys, source.Request{Locals: []plan.Expr{richer, nil}, Columns: []string{"balance", "district"}})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestReadLiveValues: an UPDATE is visible to the next read with the same
// keys snapshot, a deleted key reads as false and zeros, a new key is
// ignored; the read-only role suffices.
func TestReadLiveValues(t *testing.T) {
	_, keys, src, exec := setup(t, "public.accounts")
	if !slices.Equal(keys.IDs, []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"}) {
		t.Fatalf("keys %v", keys.IDs)
	}
	rows := read(t, src, keys)
	if want := []bool{false, false, false, false, false, true, true, true, true, true}; !slices.Equal(rows.Masks[0], want) {
		t.Fatalf("balance >= 500: %v, want %v", rows.Masks[0], want)
	}
	if rows.Cols["district"][1] != 1 || rows.Cols["balance"][3] != 300 {
		t.Fatalf("values %v", rows.Cols)
	}
	exec(`UPDATE accounts SET balance = 900, district = 'D03' WHERE id = 'p1'`)
	exec(`DELETE FROM accounts WHERE id = 'p9'`)
	exec(`INSERT INTO accounts VALUES ('new', 'D01', 1000, '')`)
	rows = read(t, src, keys)
	if want := []bool{false, true, false, false, false, true, true, true, true, false}; !slices.Equal(rows.Masks[0], want) {
		t.Fatalf("after UPDATE and DELETE: %v, want %v", rows.Masks[0], want)
	}
	if !rows.Masks[1][8] || rows.Masks[1][9] {
		t.Fatalf("the true condition must hold for present keys only: %v", rows.Masks[1])
	}
	if rows.Cols["balance"][1] != 900 || rows.Cols["district"][1] != 2 || rows.Cols["balance"][9] != 0 {
		t.Fatalf("values after UPDATE and DELETE: %v", rows.Cols)
	}
}

// TestReadRefusesRowsOutsideSchema: the error names the row's key position
// and the column, never the key.
func TestReadRefusesRowsOutsideSchema(t *testing.T) {
	for name, update := range map[string]string{
		"above max":     `UPDATE accounts SET balance = 1001 WHERE id = 'secret-person-7'`,
		"negative":      `UPDATE accounts SET balance = -1 WHERE id = 'secret-person-7'`,
		"not in domain": `UPDATE accounts SET district = 'D99' WHERE id = 'secret-person-7'`,
	} {
		t.Run(name, func(t *testing.T) {
			_, keys, src, exec := setup(t, "accounts")
			exec(`UPDATE accounts SET id = 'secret-person-7' WHERE id = 'p7'`)
			keys, err := src.Keys(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			exec(update)
			_, err = src.Read(context.Background(), keys, source.Request{Locals: []plan.Expr{richer}})
			if !errors.Is(err, source.ErrRow) {
				t.Fatalf("%v, want ErrRow", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "row 9 (key position, not the id)") || strings.Contains(msg, "secret-person") {
				t.Fatalf("error %q must name row 9 by position and not the key", msg)
			}
		})
	}
	t.Run("duplicate and null keys", func(t *testing.T) {
		_, _, src, exec := setup(t, "accounts")
		exec(`ALTER TABLE accounts DROP CONSTRAINT accounts_pkey`)
		exec(`INSERT INTO accounts VALUES ('p3', 'D01', 1, '')`)
		if _, err := src.Keys(context.Background()); !errors.Is(err, source.ErrRow) || strings.Contains(err.Error(), "p3") {
			t.Fatalf("duplicate key: %v", err)
		}
		exec(`DELETE FROM accounts WHERE id = 'p3' AND balance = 1`)
		exec(`ALTER TABLE accounts ALTER COLUMN id DROP NOT NULL`)
		exec(`INSERT INTO accounts VALUES (NULL, 'D01', 1, '')`)
		if _, err := src.Keys(context.Background()); !errors.Is(err, source.ErrRow) || !strings.Contains(err.Error(), "NULL") {
			t.Fatalf("NULL key: %v", err)
		}
	})
}

// TestOpenChecksTypes: a relation lacking a column, or with a numeric
// column where the schema says int, is refused at startup.
func TestOpenChecksTypes(t *testing.T) {
	srv, _, _, exec := setup(t, "accounts")
	exec(`CREATE TABLE floats (id text, district text, balance numeric)`)
	for rel, want := range map[string]string{"floats": "column balance", "missing": "missing"} {
		_, err := pgsource.Open(context.Background(), srv.ConnString("postgres"), bank, pgsql.Relation{Name: rel, Key: "id"})
		if !errors.Is(err, source.ErrDatabase) || !strings.Contains(err.Error(), want) {
			t.Errorf("relation %s: %v, want ErrDatabase mentioning %q", rel, err, want)
		}
	}
}

// TestConnectionLossMidRead terminates the source's backend while it
// reads (a view that sleeps), then stops and restarts the server: the
// reads in between fail with ErrDatabase, the next one works.
func TestConnectionLossMidRead(t *testing.T) {
	srv, keys, src, _ := setup(t, "slow")
	admin := pgtest.Conn(t, srv)
	errc := make(chan error, 1)
	go func() {
		_, err := src.Read(context.Background(), keys, source.Request{Locals: []plan.Expr{richer}})
		errc <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := admin.QueryRow(context.Background(),
			`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'reader' AND state = 'active'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := <-errc; !errors.Is(err, source.ErrDatabase) || !strings.Contains(err.Error(), "database") {
		t.Fatalf("read during pg_terminate_backend: %v, want ErrDatabase", err)
	}
	if _, err := src.Read(context.Background(), keys, source.Request{Locals: []plan.Expr{richer}}); err != nil {
		t.Fatalf("read after the backend was terminated: %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err := src.Read(ctx, keys, source.Request{})
	cancel()
	if !errors.Is(err, source.ErrDatabase) {
		t.Fatalf("read with the server stopped: %v, want ErrDatabase", err)
	}
	if err := srv.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rows, err := src.Read(context.Background(), keys, source.Request{Locals: []plan.Expr{richer}}); err != nil || !rows.Masks[0][9] {
		t.Fatalf("read after restart: %v", err)
	}
}
