package pgsql_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mpcq/mpcq/internal/pgsql"
	"github.com/mpcq/mpcq/internal/pgtest"
	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

// hostile are category values that would break SQL built by
// concatenation: quotes, comments, statement separators, backslashes.
var hostile = []string{"D01", "O'Brien", `x'); DROP TABLE people; --`, `\'`, "$1", `"quoted"`, "a;b", "é\u0000"[:2]}

func testTable() schema.Table {
	return schema.Table{Name: "people", Key: "person_id", Columns: []schema.Column{
		{Name: "district", Kind: schema.KindCategory, Categories: hostile},
		{Name: "balance", Kind: schema.KindInt, Min: 0, Max: 1 << 40},
		{Name: "age", Kind: schema.KindInt, Min: 0, Max: 120},
		{Name: "huge", Kind: schema.KindInt, Min: 0, Max: 1<<63 - 1},
	}}
}

type row struct {
	id                 string
	district           int
	balance, age, huge int64
}

var rows = []row{
	{"a", 0, 0, 0, 0}, {"b", 1, 1000, 30, 1 << 62}, {"c", 2, 1 << 40, 120, 1<<63 - 1}, {"d'); --", 3, 77, 18, 5},
	{"e", 4, 5, 65, 9}, {"f", 5, 123456, 45, 3}, {"g", 6, 42, 17, 1 << 33}, {"h", 7, 999, 99, 7},
}

func col(c string) plan.Arith { return plan.ACol{Column: c} }
func cst(v int64) plan.Arith  { return plan.AConst{V: v} }
func bin(op byte, l, r plan.Arith) plan.Arith {
	return plan.ABin{Op: op, L: l, R: r}
}
func cmp(l plan.Arith, op plan.Op, r plan.Arith) plan.Expr {
	return plan.Cmp{Table: "people", Left: l, Op: op, Right: r}
}

// TestTranslateMatchesEval evaluates each condition with plan.Eval on the
// rows and with PostgreSQL on the same rows (built by Build), and
// compares: ints as bigint, categories as their index in the declared
// domain (stored as text, hostile strings included).
func TestTranslateMatchesEval(t *testing.T) {
	srv := pgtest.Start(t)
	c := pgtest.Conn(t, srv)
	pgtest.Exec(t, c, `CREATE TABLE people (person_id text PRIMARY KEY, district text, balance bigint, age smallint, huge bigint)`)
	tb := testTable()
	for _, r := range rows {
		pgtest.Exec(t, c, `INSERT INTO people VALUES ($1, $2, $3, $4, $5)`, r.id, hostile[r.district], r.balance, r.age, r.huge)
	}
	tests := []struct {
		name string
		e    plan.Expr
	}{
		{"true", nil},
		{"eq", cmp(col("age"), plan.OpEq, cst(30))},
		{"ne", cmp(col("age"), plan.OpNe, cst(30))},
		{"lt", cmp(col("balance"), plan.OpLt, cst(1000))},
		{"le", cmp(col("balance"), plan.OpLe, cst(1000))},
		{"gt", cmp(col("age"), plan.OpGt, cst(17))},
		{"ge", cmp(col("age"), plan.OpGe, cst(18))},
		{"negative constant", cmp(col("balance"), plan.OpGt, cst(-1))},
		{"category eq quote", cmp(col("district"), plan.OpEq, cst(1))},
		{"category ne injection", cmp(col("district"), plan.OpNe, cst(2))},
		{"category in", plan.In{Table: "people", Arg: col("district"), Values: []int64{2, 3, 4, 7}}},
		{"category not in", plan.In{Table: "people", Arg: col("district"), Values: []int64{0, 5}, Negated: true}},
		{"in empty", plan.In{Table: "people", Arg: col("age"), Values: nil}},
		{"not in empty", plan.In{Table: "people", Arg: col("age"), Values: nil, Negated: true}},
		{"arith", cmp(bin('+', col("balance"), bin('*', col("age"), cst(100))), plan.OpGt, cst(5000))},
		{"arith minus negative", cmp(bin('-', col("age"), col("balance")), plan.OpLt, cst(-50))},
		{"arith both sides", cmp(bin('*', col("age"), cst(2)), plan.OpLe, bin('-', col("balance"), cst(3)))},
		{"and or not", plan.Or{Terms: []plan.Expr{
			plan.And{Terms: []plan.Expr{cmp(col("age"), plan.OpGe, cst(18)), plan.Not{Term: cmp(col("district"), plan.OpEq, cst(3))}}},
			plan.In{Table: "people", Arg: bin('+', col("age"), cst(1)), Values: []int64{18, 100}},
		}}},
		{"int64 edge", cmp(col("huge"), plan.OpEq, cst(1<<63-1))},
		{"int64 min constant", cmp(col("huge"), plan.OpGt, cst(-1<<63))},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := pgsql.Build(tb, pgsql.Relation{Name: "people", Key: "person_id"}, []plan.Expr{tc.e}, []string{"district", "age"})
			if err != nil {
				t.Fatal(err)
			}
			if !q.Pushed[0] {
				t.Fatalf("condition not pushed down")
			}
			checkPlaceholders(t, q.SQL, tb)
			got := map[string]bool{}
			rs, err := c.Query(ctx, q.SQL, q.Args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, q.SQL)
			}
			for rs.Next() {
				var id string
				var bad *string
				var m bool
				var d, a int64
				if err := rs.Scan(&id, &bad, &m, &d, &a); err != nil {
					t.Fatal(err)
				}
				if bad != nil {
					t.Fatalf("row flagged out of schema at column %s", *bad)
				}
				got[id] = m
			}
			if err := rs.Err(); err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				want, err := plan.Eval(tc.e, func(c string) int64 {
					switch c {
					case "district":
						return int64(r.district)
					case "balance":
						return r.balance
					case "age":
						return r.age
					}
					return r.huge
				})
				if err != nil {
					t.Fatal(err)
				}
				if got[r.id] != want {
					t.Errorf("row %q: PostgreSQL %v, plan.Eval %v\n%s", r.id, got[r.id], want, q.SQL)
				}
			}
		})
	}
	t.Run("out of schema", func(t *testing.T) {
		pgtest.Exec(t, c, `INSERT INTO people VALUES ('z', 'nowhere', 1, 200, 1)`)
		defer pgtest.Exec(t, c, `DELETE FROM people WHERE person_id = 'z'`)
		q, err := pgsql.Build(tb, pgsql.Relation{Name: "people", Key: "person_id"}, nil, []string{"age", "district"})
		if err != nil {
			t.Fatal(err)
		}
		var bad *string
		if err := c.QueryRow(ctx, q.SQL+" WHERE person_id = 'z'", q.Args...).Scan(new(string), &bad, new(int64), new(int64)); err != nil {
			t.Fatal(err)
		}
		if bad == nil || *bad != "age" {
			t.Fatalf("bad column %v, want age (the first checked)", bad)
		}
	})
	t.Run("bigint overflow errors in PostgreSQL too", func(t *testing.T) {
		// Refused by Build (ErrMayOverflow) and evaluated by the caller;
		// had it been sent, PostgreSQL would have failed as plan.Eval does.
		e := cmp(bin('*', col("huge"), cst(2)), plan.OpGt, cst(0))
		s, args, err := pgsql.Expr(tb, e)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Exec(ctx, "SELECT count(*) FROM people WHERE "+s, args...)
		if err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Fatalf("PostgreSQL error %v, want bigint out of range", err)
		}
	})
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM people").Scan(&n); err != nil || n != len(rows) {
		t.Fatalf("table people has %d rows (%v): a hostile value changed it", n, err)
	}
}

var placeholderRE = regexp.MustCompile(`\$[0-9]+`)

// checkPlaceholders checks that the SQL text holds no value: without its
// $n placeholders, quoted identifiers of the schema and the fixed SQL
// words, nothing (no digit, no quote, no category string) remains.
func checkPlaceholders(t *testing.T, sql string, tb schema.Table) {
	t.Helper()
	rest := placeholderRE.ReplaceAllString(sql, "")
	for _, name := range append(tb.ColumnNames(), tb.Key, tb.Name) {
		rest = strings.ReplaceAll(rest, pgx.Identifier{name}.Sanitize(), "")
	}
	rest = strings.ReplaceAll(rest, `"C"`, "")
	if strings.ContainsAny(rest, `'"0123456789;\`) && !onlyFixedDigits(rest) {
		t.Fatalf("SQL holds something besides placeholders and identifiers: %s", rest)
	}
	for _, h := range hostile[1:] {
		if strings.Contains(sql, h) && !placeholderRE.MatchString(h) {
			t.Fatalf("SQL holds category value %q: %s", h, sql)
		}
	}
}

// onlyFixedDigits allows the digits of fixed SQL text: "- 1" in the
// category index and the 0 of a missing value.
func onlyFixedDigits(s string) bool {
	s = strings.ReplaceAll(s, "- 1)", "")
	s = strings.ReplaceAll(s, ", 0)", "")
	return !strings.ContainsAny(s, `'"0123456789;\`)
}

func TestBuildRefusesPossibleOverflow(t *testing.T) {
	tb := testTable()
	safe := cmp(bin('*', col("balance"), col("age")), plan.OpGt, cst(1))
	risky := cmp(bin('+', col("huge"), cst(1)), plan.OpGt, cst(1))
	if err := pgsql.CheckOverflow(tb, safe); err != nil {
		t.Fatalf("balance*age within bounds: %v", err)
	}
	if err := pgsql.CheckOverflow(tb, risky); !errors.Is(err, pgsql.ErrMayOverflow) {
		t.Fatalf("huge+1: %v, want ErrMayOverflow", err)
	}
	q, err := pgsql.Build(tb, pgsql.Relation{Name: "people", Key: "person_id"}, []plan.Expr{safe, risky}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Pushed[0] || q.Pushed[1] || len(q.Extra) != 1 || q.Extra[0] != "huge" {
		t.Fatalf("pushed %v extra %v, want the risky condition evaluated by the caller on column huge", q.Pushed, q.Extra)
	}
}

func TestBuildRefusesMalformed(t *testing.T) {
	tb := testTable()
	for name, e := range map[string]plan.Expr{
		"empty and":      plan.And{},
		"unknown column": cmp(col("nope"), plan.OpEq, cst(1)),
		"unknown op":     plan.Cmp{Table: "people", Left: col("age"), Op: "~", Right: cst(1)},
	} {
		if _, err := pgsql.Build(tb, pgsql.Relation{Name: "people", Key: "person_id"}, []plan.Expr{e}, nil); !errors.Is(err, pgsql.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
}
