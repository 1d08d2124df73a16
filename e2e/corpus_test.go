package e2e

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/gen"
)

// corpusQuery is one query of plan/testdata/corpus.sql.
type corpusQuery struct{ name, sql string }

func readCorpus(t *testing.T) []corpusQuery {
	t.Helper()
	b, err := os.ReadFile("../plan/testdata/corpus.sql")
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusQuery
	for _, block := range strings.Split(string(b), "\n\n") {
		block = strings.TrimSpace(block)
		if !strings.HasPrefix(block, "-- name:") {
			continue
		}
		first, rest, _ := strings.Cut(block, "\n")
		out = append(out, corpusQuery{name: strings.TrimSpace(strings.TrimPrefix(first, "-- name:")), sql: strings.TrimSpace(rest)})
	}
	return out
}

// sampleStats is the sample variance or standard deviation, registered in
// SQLite (which lacks them) so the oracle engine can run the corpus as is.
type sampleStats struct {
	n        float64
	mean, m2 float64
	stddev   bool
}

func (s *sampleStats) Step(_ *sqlite.FunctionContext, args []driver.Value) error {
	var x float64
	switch v := args[0].(type) {
	case nil:
		return nil
	case int64:
		x = float64(v)
	case float64:
		x = v
	default:
		return fmt.Errorf("variance of %T", v)
	}
	s.n++
	d := x - s.mean
	s.mean += d / s.n
	s.m2 += d * (x - s.mean)
	return nil
}
func (s *sampleStats) WindowInverse(*sqlite.FunctionContext, []driver.Value) error {
	return fmt.Errorf("not a window function")
}
func (s *sampleStats) WindowValue(*sqlite.FunctionContext) (driver.Value, error) {
	if s.n < 2 {
		return nil, nil
	}
	v := s.m2 / (s.n - 1)
	if s.stddev {
		return math.Sqrt(v), nil
	}
	return v, nil
}
func (s *sampleStats) Final(*sqlite.FunctionContext) {}

func registerStats() {
	for name, sd := range map[string]bool{"variance": false, "var_samp": false, "stddev": true, "stddev_samp": true} {
		sd := sd
		_ = sqlite.RegisterFunction(name, &sqlite.FunctionImpl{NArgs: 1, Deterministic: true,
			MakeAggregate: func(sqlite.FunctionContext) (sqlite.AggregateFunction, error) { return &sampleStats{stddev: sd}, nil }})
	}
	// PostgreSQL's LEAST of two integers (SQLite has none by that name).
	_ = sqlite.RegisterFunction("least", &sqlite.FunctionImpl{NArgs: 2, Deterministic: true,
		Scalar: func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			a, ok1 := args[0].(int64)
			b, ok2 := args[1].(int64)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("least of %T and %T", args[0], args[1])
			}
			return min(a, b), nil
		}})
}

// loadSQLite pools the three CSVs into an in-memory SQLite database with
// typed columns: what a central database would hold.
func loadSQLite(t *testing.T, db *demo.DB) *sql.DB {
	t.Helper()
	registerStats()
	s, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	s.SetMaxOpenConns(1)
	for _, tbl := range gen.Schemas() {
		cols := []string{tbl.Key + " TEXT PRIMARY KEY"}
		names := []string{tbl.Key}
		for _, c := range tbl.Columns {
			typ := "INTEGER"
			if c.Kind == "category" {
				typ = "TEXT"
			}
			cols = append(cols, c.Name+" "+typ)
			names = append(names, c.Name)
		}
		if _, err := s.Exec(fmt.Sprintf("CREATE TABLE %s (%s)", tbl.Name, strings.Join(cols, ", "))); err != nil {
			t.Fatal(err)
		}
		tx, _ := s.Begin()
		stmt, err := tx.Prepare(fmt.Sprintf("INSERT INTO %s VALUES (%s)", tbl.Name, strings.TrimSuffix(strings.Repeat("?,", len(names)), ",")))
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range db.Tables[tbl.Name] {
			args := []any{row[tbl.Key]}
			for _, c := range tbl.Columns {
				if c.Kind == "category" {
					args = append(args, row[c.Name])
				} else {
					args = append(args, row.Int(c.Name))
				}
			}
			if _, err := stmt.Exec(args...); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

var groupByRE = regexp.MustCompile(`(?is)^\s*SELECT\s+(.*?)\s+FROM\s+(.*?)\s+GROUP\s+BY\s+(.*?)\s*$`)

// oracleSQL makes the group columns come first in SQLite's output too.
func oracleSQL(q string) string {
	m := groupByRE.FindStringSubmatch(q)
	if m == nil {
		return q
	}
	return "SELECT " + m[3] + ", " + m[1] + " FROM " + m[2] + " GROUP BY " + m[3]
}

func cellMatches(got string, want any) bool {
	switch w := want.(type) {
	case nil:
		return got == "NULL" || got == "0" // SUM over nobody is 0 in mpcq, NULL in SQL
	case int64:
		return got == strconv.FormatInt(w, 10)
	case float64:
		g, err := strconv.ParseFloat(got, 64)
		return err == nil && math.Abs(g-w) <= 1e-6+1e-9*math.Abs(w)
	case string:
		return got == w
	case []byte:
		return got == string(w)
	}
	return false
}

// TestCorpusMatchesSQLite runs the analysts' query corpus encrypted through
// the real daemons and through SQLite on the pooled CSVs, and compares
// every row and column, every declared group included.
func TestCorpusMatchesSQLite(t *testing.T) {
	l, _ := startCluster(t, 2500)
	runCorpus(t, l)
}

// runCorpus runs the corpus on a ready consortium and compares with
// SQLite on its pooled CSVs.
func runCorpus(t *testing.T, l *demo.Layout) {
	db, err := demo.LoadDB(l)
	if err != nil {
		t.Fatal(err)
	}
	oracle := loadSQLite(t, db)
	defer oracle.Close()
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	corpus := readCorpus(t)
	if len(corpus) < 40 {
		t.Fatalf("corpus has %d queries, want at least 40", len(corpus))
	}
	ran := 0
	for _, q := range corpus {
		t.Run(q.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if strings.HasPrefix(strings.ToUpper(q.sql), "EXPLAIN") {
				e, err := p.Explain(ctx, client, q.sql)
				if err != nil {
					t.Fatal(err)
				}
				if s := e.String(); !strings.Contains(s, "nothing was run") || !strings.Contains(s, "worst case") {
					t.Fatalf("explain output:\n%s", s)
				}
				return
			}
			res, err := p.Query(ctx, client, analyst.Request{SQL: q.sql}, nil)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := oracle.QueryContext(ctx, oracleSQL(q.sql))
			if err != nil {
				t.Fatalf("SQLite: %v\n%s", err, oracleSQL(q.sql))
			}
			defer rows.Close()
			cols, _ := rows.Columns()
			g := res.Groups
			k := len(res.Columns) - g
			want := map[string][]any{}
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				key := make([]string, g)
				for i := range key {
					key[i] = fmt.Sprint(vals[i])
				}
				want[strings.Join(key, "\x00")] = vals[len(vals)-k:]
			}
			if g == 0 && len(res.Rows) != 1 {
				t.Fatalf("%d rows without GROUP BY", len(res.Rows))
			}
			for _, row := range res.Rows {
				key := strings.Join(row[:g], "\x00")
				w, ok := want[key]
				for i, cell := range row[g:] {
					if !ok {
						if cell != "0" && cell != "NULL" {
							t.Fatalf("group %q is empty in SQLite but column %s is %s", key, res.Columns[g+i], cell)
						}
						continue
					}
					if !cellMatches(cell, w[i]) {
						t.Fatalf("group %q column %s: encrypted %s, SQLite %v\nSQL: %s", key, res.Columns[g+i], cell, w[i], q.sql)
					}
				}
				delete(want, key)
			}
			if len(want) > 0 {
				t.Fatalf("SQLite has groups the result lacks: %v", want)
			}
			ran++
		})
	}
	if ran < 40 {
		t.Fatalf("only %d corpus queries ran and matched", ran)
	}
}
