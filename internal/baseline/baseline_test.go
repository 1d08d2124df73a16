package baseline_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/baseline"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/schema"
)

// pooled generates people synthetic people into a demo layout's data
// directory and returns the layout.
func pooled(t testing.TB, people int) *demo.Layout {
	t.Helper()
	l := &demo.Layout{Dir: t.TempDir(), Parties: []string{gen.Bank, gen.Telecom, gen.Utility}}
	if _, err := gen.WriteDir(l.Path("data"), people, 7); err != nil {
		t.Fatal(err)
	}
	return l
}

// load loads a layout's CSVs into a fresh engine.
func load(t testing.TB, l *demo.Layout) *baseline.Engine {
	t.Helper()
	ctx := context.Background()
	e, err := baseline.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	for _, tbl := range gen.Schemas() {
		if err := e.LoadCSV(ctx, tbl, l.DataCSV(tbl.Name)); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// TestVersion: the engine names itself and its version.
func TestVersion(t *testing.T) {
	e, err := baseline.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	v, err := e.Version(context.Background())
	if err != nil || !strings.HasPrefix(v, "duckdb v1.") {
		t.Fatalf("version %q, %v; want duckdb v1.x", v, err)
	}
}

// TestLoadsEveryRow: every CSV row is a table row.
func TestLoadsEveryRow(t *testing.T) {
	l := pooled(t, 2000)
	e := load(t, l)
	db, err := demo.LoadDB(l)
	if err != nil {
		t.Fatal(err)
	}
	for name, rows := range db.Tables {
		n, err := e.Rows(context.Background(), name)
		if err != nil || n != int64(len(rows)) {
			t.Errorf("table %s: %d rows, %v; the CSV has %d", name, n, err, len(rows))
		}
	}
}

// TestSamplesMatchOracle: DuckDB answers every sample query, as written,
// as the demo's oracle (a map join over the CSV text, no SQL) does.
func TestSamplesMatchOracle(t *testing.T) {
	l := pooled(t, 3000)
	e := load(t, l)
	db, err := demo.LoadDB(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range demo.Samples() {
		t.Run(s.Name, func(t *testing.T) {
			got, _, err := e.Query(context.Background(), s.SQL)
			if err != nil {
				t.Fatal(err)
			}
			want := [][]string{demo.Strings(s.Expected(db))}
			if err := baseline.Compare(want, got, 0); err != nil {
				t.Errorf("DuckDB %v, oracle %v: %v", got, want, err)
			}
		})
	}
}

// TestBenchQueriesMatchOracle: the benchmark's own queries, the GROUP BY
// checked district by district against the oracle.
func TestBenchQueriesMatchOracle(t *testing.T) {
	l := pooled(t, 10000)
	e := load(t, l)
	db, err := demo.LoadDB(l)
	if err != nil {
		t.Fatal(err)
	}
	spine := func(j demo.Joined) bool {
		return j["telecom"].Int("flagged_calls_30d") > 0 && j["bank"].Int("cash_deposits_30d") > 10000 && j["utility"].Int("kwh_30d") > 1000
	}
	three := []string{"telecom", "bank", "utility"}
	outs := []func(demo.Joined) int64{demo.Count, demo.Sum("bank", "cash_deposits_30d")}
	want := map[string][][]string{
		"spine": {demo.Strings(db.Aggregate(three, spine, outs))},
		"or": {demo.Strings(db.Aggregate([]string{"telecom", "bank"}, func(j demo.Joined) bool {
			return j["telecom"].Int("flagged_calls_30d") > 20 || j["bank"].Int("transfers_abroad_30d") > 5
		}, []func(demo.Joined) int64{demo.Count}))},
	}
	nonEmpty := 0
	for _, d := range gen.Districts() {
		vals := db.Aggregate(three, func(j demo.Joined) bool { return spine(j) && j["utility"]["district"] == d }, outs)
		if vals[0] > 0 {
			nonEmpty++
		}
		want["group"] = append(want["group"], append([]string{d}, demo.Strings(vals)...))
	}
	// Planted patterns put most matches in a few districts: the GROUP BY
	// then has rows in SQL and empty groups SQL omits.
	if nonEmpty < 2 || nonEmpty == len(gen.Districts()) {
		t.Fatalf("%d of %d districts match: the data does not exercise the GROUP BY", nonEmpty, len(gen.Districts()))
	}
	if want["spine"][0][0] == "0" || want["or"][0][0] == "0" {
		t.Fatalf("the data matches nobody: %v", want)
	}
	for _, q := range baseline.Queries() {
		t.Run(q.Name, func(t *testing.T) {
			got, _, err := e.Query(context.Background(), q.SQL)
			if err != nil {
				t.Fatal(err)
			}
			if err := baseline.Compare(want[q.Name], got, q.Groups); err != nil {
				t.Errorf("DuckDB %v, oracle %v: %v", got, want[q.Name], err)
			}
		})
	}
}

// TestCompare plays a wrong encrypted answer against DuckDB's: every
// difference is found, in any row order; only SQL's missing empty groups
// and NULL sums over nobody are not differences.
func TestCompare(t *testing.T) {
	duck := [][]string{{"D02", "5", "700"}, {"D01", "3", "100"}}
	for _, tc := range []struct {
		name      string
		encrypted [][]string
		groups    int
		duck      [][]string
		want      string // "" when equal
	}{
		{"equal, other order", [][]string{{"D01", "3", "100"}, {"D02", "5", "700"}}, 1, duck, ""},
		{"empty group SQL omits", [][]string{{"D01", "3", "100"}, {"D02", "5", "700"}, {"D03", "0", "0"}}, 1, duck, ""},
		{"a sum differs", [][]string{{"D01", "3", "101"}, {"D02", "5", "700"}}, 1, duck, "column 3: encrypted 101, DuckDB 100"},
		{"a count differs", [][]string{{"D01", "3", "100"}, {"D02", "4", "700"}}, 1, duck, "column 2: encrypted 4, DuckDB 5"},
		{"a group missing", [][]string{{"D01", "3", "100"}}, 1, duck, "missing from the encrypted answer"},
		{"a group SQL has not", [][]string{{"D01", "3", "100"}, {"D02", "5", "700"}, {"D09", "1", "5"}}, 1, duck, `group "D09"`},
		{"a cell missing", [][]string{{"D01", "3"}, {"D02", "5", "700"}}, 1, duck, "has 2 cells"},
		{"SUM over nobody", [][]string{{"0", "0"}}, 0, [][]string{{"0", "NULL"}}, ""},
		{"NULL is not a number", [][]string{{"0", "5"}}, 0, [][]string{{"0", "NULL"}}, "encrypted 5, DuckDB NULL"},
		{"no group, differs", [][]string{{"12"}}, 0, [][]string{{"13"}}, "encrypted 12, DuckDB 13"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := baseline.Compare(tc.encrypted, tc.duck, tc.groups)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want equal", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestLoadRefusesBadFiles: a file that does not fit its table fails,
// naming the table and the file, and leaves no half-loaded table.
func TestLoadRefusesBadFiles(t *testing.T) {
	tbl := schema.Table{Name: "bank", Key: "person_id", Columns: []schema.Column{
		{Name: "district", Kind: schema.KindCategory, Categories: []string{"D01"}},
		{Name: "balance", Kind: schema.KindInt, Max: 100},
	}}
	for _, tc := range []struct {
		name, csv, want string
	}{
		{"not a number", "person_id,district,balance\np1,D01,12\np2,D01,abc\n", "abc"},
		{"missing column", "person_id,district\np1,D01\n", "balance"},
		{"extra column", "person_id,district,balance,secret\np1,D01,1,x\n", "secret"},
		{"duplicate key", "person_id,district,balance\np1,D01,1\np1,D01,2\n", "p1"},
		{"empty value", "person_id,district,balance\np1,D01,\n", "balance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bank.csv")
			if err := os.WriteFile(path, []byte(tc.csv), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			e, err := baseline.Open(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			err = e.LoadCSV(ctx, tbl, path)
			if err == nil {
				t.Fatalf("loaded %q", tc.csv)
			}
			for _, w := range []string{"table bank", path, tc.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if _, err := e.Rows(ctx, "bank"); err == nil {
				t.Errorf("a failed load left table bank behind")
			}
		})
	}
	ctx := context.Background()
	e, err := baseline.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	missing := filepath.Join(t.TempDir(), "none.csv")
	if err := e.LoadCSV(ctx, tbl, missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("a missing file: %v", err)
	}
	if _, _, err := e.Query(ctx, "SELECT COUNT(*) FROM nowhere"); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("a query on a missing table: %v", err)
	}
}

// BenchmarkQueries times DuckDB on the benchmark's queries at 100,000
// people (loading not timed): go test ./internal/baseline -bench Queries.
func BenchmarkQueries(b *testing.B) {
	e := load(b, pooled(b, 100_000))
	for _, q := range baseline.Queries() {
		b.Run(q.Name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := e.Query(context.Background(), q.SQL); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
