package e2e

import (
	"context"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/plan"
)

// stddevSQL's sum of squares, 20,000 × 100,000² = 2·10^14, is above the
// 45-bit plaintext modulus: whole, it was refused at 20,000 people.
const stddevSQL = "SELECT STDDEV(utility.kwh_30d), VARIANCE(utility.kwh_30d) FROM utility JOIN bank USING (person_id) WHERE bank.district IN ('D04')"

// TestDigitsStddevMatchesSQLite runs the STDDEV/VARIANCE query at 20,000
// people through the real daemons: the planner splits the sum of squares
// into digits (EXPLAIN says so), every party recompiles that split, and
// the analyst's recombined answer equals SQLite's on the pooled CSVs and
// the exact big-rational answer computed here from the CSVs. A noisy run
// of the same query (each digit with its own noise) is answered, not
// exactly, near the exact answer.
func TestDigitsStddevMatchesSQLite(t *testing.T) {
	l, _ := startCluster(t, 20_000)
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	e, err := p.Explain(ctx, client, stddevSQL)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Splits) != 1 || !strings.Contains(e.Splits[0], "the sum of squares of utility.kwh_30d in 2 digits") || e.Layout.Sums != 4 {
		t.Fatalf("EXPLAIN at 20,000 people: splits %q, %d sums; want the sum of squares in 2 digits\n%s", e.Splits, e.Layout.Sums, e)
	}

	res, err := p.Query(ctx, client, analyst.Request{SQL: stddevSQL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 2 {
		t.Fatalf("rows %v", res.Rows)
	}
	got := res.Rows[0]

	// SQLite on the pooled CSVs, as the corpus compares.
	db, err := demo.LoadDB(l)
	if err != nil {
		t.Fatal(err)
	}
	oracle := loadSQLite(t, db)
	defer oracle.Close()
	var sd, v any
	if err := oracle.QueryRowContext(ctx, stddevSQL).Scan(&sd, &v); err != nil {
		t.Fatal(err)
	}
	if !cellMatches(got[0], sd) || !cellMatches(got[1], v) {
		t.Fatalf("encrypted STDDEV %s, VARIANCE %s; SQLite %v, %v", got[0], got[1], sd, v)
	}

	// The exact answer from the CSVs, with big integers (SQLite's is a
	// float): the recombination must lose nothing.
	n, s, q := new(big.Int), new(big.Int), new(big.Int)
	for id, u := range db.Tables["utility"] {
		b, ok := db.Tables["bank"][id]
		if !ok || b["district"] != "D04" {
			continue
		}
		x := big.NewInt(u.Int("kwh_30d"))
		n.Add(n, big.NewInt(1))
		s.Add(s, x)
		q.Add(q, new(big.Int).Mul(x, x))
	}
	if n.Cmp(big.NewInt(2)) < 0 {
		t.Fatalf("only %s people in D04", n)
	}
	num := new(big.Int).Sub(new(big.Int).Mul(n, q), new(big.Int).Mul(s, s))
	den := new(big.Int).Mul(n, new(big.Int).Sub(n, big.NewInt(1)))
	if want := new(big.Rat).SetFrac(num, den).FloatString(plan.ResultDecimals); got[1] != want {
		t.Fatalf("VARIANCE %s, exact %s", got[1], want)
	}
	t.Logf("%s people in D04: STDDEV %s, VARIANCE %s, sum of squares %s", n, got[0], got[1], q)

	// Noisy, through the real daemons: each digit of the sum of squares
	// carries noise of its own (dp.SumScales), so the answer is not the
	// exact one, and it lies well within its interval's reach of it (five
	// interval widths: a miss has probability far below 10^-6).
	exactVar, _ := new(big.Rat).SetString(got[1])
	for run := range 2 {
		nr, err := p.Query(ctx, client, analyst.Request{SQL: stddevSQL, Epsilon: "1", NoWarrant: true}, nil)
		if err != nil {
			t.Fatalf("noisy query over a split sum, run %d: %v", run, err)
		}
		if len(nr.Intervals) != 1 || len(nr.Intervals[0]) != 2 || nr.Intervals[0][1].IsZero() {
			t.Fatalf("noisy run %d: intervals %v", run, nr.Intervals)
		}
		iv := nr.Intervals[0][1]
		lo, ok1 := new(big.Rat).SetString(iv.Low)
		hi, ok2 := new(big.Rat).SetString(iv.High)
		if !ok1 || !ok2 || lo.Cmp(hi) >= 0 {
			t.Fatalf("noisy run %d: VARIANCE interval %+v", run, iv)
		}
		if nr.Rows[0][1] == got[1] {
			t.Fatalf("noisy run %d: VARIANCE %s is the exact answer", run, got[1])
		}
		width := new(big.Rat).Sub(hi, lo)
		reach := new(big.Rat).Mul(width, big.NewRat(5, 1))
		if exactVar.Cmp(new(big.Rat).Sub(lo, reach)) < 0 || exactVar.Cmp(new(big.Rat).Add(hi, reach)) > 0 {
			t.Fatalf("noisy run %d: exact VARIANCE %s is far outside [%s, %s]", run, got[1], iv.Low, iv.High)
		}
		t.Logf("noisy run %d (ε 1): VARIANCE %s in [%s, %s]; exact %s", run, nr.Rows[0][1], iv.Low, iv.High, got[1])
	}

	// What the split costs, logged (measured, not asserted): the median of
	// 5 runs of the query with its sum of squares in 2 digits, and of the
	// same shape over telecom.calls_30d (20,000 × 5,000² fits whole).
	const wholeSQL = "SELECT STDDEV(telecom.calls_30d), VARIANCE(telecom.calls_30d) FROM telecom JOIN bank USING (person_id) WHERE bank.district IN ('D04')"
	for _, sql := range []string{stddevSQL, wholeSQL} {
		var times []float64
		for range 5 {
			r, err := p.Query(ctx, client, analyst.Request{SQL: sql}, nil)
			if err != nil {
				t.Fatal(err)
			}
			times = append(times, r.Elapsed)
		}
		slices.Sort(times)
		t.Logf("median of 5: %.3f s  %s", times[2], sql)
	}
}
