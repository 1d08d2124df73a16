package plan

import (
	"errors"
	"reflect"
	"testing"

	"github.com/mpcq/mpcq/schema"
)

func TestParseValid(t *testing.T) {
	cs := testConsortium()
	count := Aggregate{Kind: AggCount, Name: "COUNT(*)"}
	sum := func(table, col, name string) Aggregate {
		return Aggregate{Kind: AggSum, Table: table, Column: col, Name: name}
	}
	tests := []struct {
		name      string
		sql       string
		tables    []string
		aggs      []Aggregate
		canonical string
	}{
		{
			name:      "count one table",
			sql:       "SELECT COUNT(*) FROM bank",
			tables:    []string{"bank"},
			aggs:      []Aggregate{count},
			canonical: "SELECT COUNT(*) FROM bank",
		},
		{
			name:      "design example three tables",
			sql:       "SELECT COUNT(*), SUM(bank.cash_deposits_30d) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) WHERE telecom.flagged_calls_30d > 5 AND utility.kwh_30d > 3000",
			tables:    []string{"telecom", "bank", "utility"},
			aggs:      []Aggregate{count, sum("bank", "cash_deposits_30d", "SUM(bank.cash_deposits_30d)")},
			canonical: "SELECT COUNT(*), SUM(bank.cash_deposits_30d) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) WHERE telecom.flagged_calls_30d > 5 AND utility.kwh_30d > 3000",
		},
		{
			name:      "two tables with aliases for outputs",
			sql:       `SELECT COUNT(*) AS people, SUM(telecom.calls_30d) AS "Calls" FROM bank JOIN telecom USING (person_id)`,
			tables:    []string{"bank", "telecom"},
			aggs:      []Aggregate{{Kind: AggCount, Name: "people"}, sum("telecom", "calls_30d", "Calls")},
			canonical: `SELECT COUNT(*) AS "people", SUM(telecom.calls_30d) AS "Calls" FROM bank JOIN telecom USING (person_id)`,
		},
		{
			name:      "every operator",
			sql:       "SELECT COUNT(*) FROM utility WHERE utility.kwh_30d = 1 AND utility.kwh_30d != 2 AND utility.kwh_30d <> 3 AND utility.kwh_30d < 4 AND utility.kwh_30d <= 5 AND utility.kwh_30d > 6 AND utility.kwh_30d >= 7",
			tables:    []string{"utility"},
			aggs:      []Aggregate{count},
			canonical: "SELECT COUNT(*) FROM utility WHERE utility.kwh_30d = 1 AND utility.kwh_30d != 2 AND utility.kwh_30d != 3 AND utility.kwh_30d < 4 AND utility.kwh_30d <= 5 AND utility.kwh_30d > 6 AND utility.kwh_30d >= 7",
		},
		{
			name:      "category equality and inequality",
			sql:       "SELECT COUNT(*) FROM telecom WHERE telecom.district = 'D01' AND telecom.district <> 'D10'",
			tables:    []string{"telecom"},
			aggs:      []Aggregate{count},
			canonical: "SELECT COUNT(*) FROM telecom WHERE telecom.district = 'D01' AND telecom.district != 'D10'",
		},
		{
			name:      "negative literal",
			sql:       "SELECT SUM(bank.balance) FROM bank WHERE bank.balance > -5",
			tables:    []string{"bank"},
			aggs:      []Aggregate{sum("bank", "balance", "SUM(bank.balance)")},
			canonical: "SELECT SUM(bank.balance) FROM bank WHERE bank.balance > -5",
		},
		{
			name:      "64-bit, hex, octal, binary and underscore literals",
			sql:       "SELECT COUNT(*) FROM bank WHERE bank.balance >= 5000000000 AND bank.balance <= 0x7FFF_FFFF_FFFF AND bank.balance != 0o17 AND bank.balance != 0b101 AND bank.balance != 1_000 AND bank.balance > -9223372036854775808",
			tables:    []string{"bank"},
			aggs:      []Aggregate{count},
			canonical: "SELECT COUNT(*) FROM bank WHERE bank.balance != 5 AND bank.balance != 15 AND bank.balance != 1000 AND bank.balance <= 140737488355327 AND bank.balance > -9223372036854775808 AND bank.balance >= 5000000000",
		},
		{
			name:      "constant on the left is flipped",
			sql:       "SELECT COUNT(*) FROM bank WHERE 100 <= bank.balance",
			tables:    []string{"bank"},
			aggs:      []Aggregate{count},
			canonical: "SELECT COUNT(*) FROM bank WHERE bank.balance >= 100",
		},
		{
			name:      "unary plus",
			sql:       "SELECT COUNT(*) FROM bank WHERE bank.balance > +7",
			tables:    []string{"bank"},
			aggs:      []Aggregate{count},
			canonical: "SELECT COUNT(*) FROM bank WHERE bank.balance > 7",
		},
		{
			name:      "table aliases and lower case",
			sql:       "select sum(b.balance), count(*) from bank as b join utility u using (person_id) where u.meter_tamper = 1 and b.district = 'D07'",
			tables:    []string{"bank", "utility"},
			aggs:      []Aggregate{sum("bank", "balance", "SUM(bank.balance)"), count},
			canonical: "SELECT SUM(bank.balance), COUNT(*) FROM bank JOIN utility USING (person_id) WHERE bank.district = 'D07' AND utility.meter_tamper = 1",
		},
		{
			name:      "parenthesised conjunction, duplicates dropped",
			sql:       "SELECT COUNT(*) FROM bank WHERE (bank.balance > 1 AND (bank.balance > 1)) AND bank.balance < 9",
			tables:    []string{"bank"},
			aggs:      []Aggregate{count},
			canonical: "SELECT COUNT(*) FROM bank WHERE bank.balance < 9 AND bank.balance > 1",
		},
		{
			name:      "right-nested join",
			sql:       "SELECT COUNT(*) FROM telecom JOIN (bank JOIN utility USING (person_id)) USING (person_id)",
			tables:    []string{"telecom", "bank", "utility"},
			aggs:      []Aggregate{count},
			canonical: "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id)",
		},
		{
			name:      "quoted identifiers, comments, trailing semicolon, newlines",
			sql:       "-- weekly check\nSELECT /* all */ COUNT(*)\n  FROM \"bank\"\n  INNER JOIN telecom USING (\"person_id\")\n WHERE \"bank\".\"balance\" > 10;",
			tables:    []string{"bank", "telecom"},
			aggs:      []Aggregate{count},
			canonical: "SELECT COUNT(*) FROM bank JOIN telecom USING (person_id) WHERE bank.balance > 10",
		},
		{
			name:      "same aggregate twice under different names",
			sql:       "SELECT SUM(bank.balance) AS a, SUM(bank.balance) AS b FROM bank",
			tables:    []string{"bank"},
			aggs:      []Aggregate{sum("bank", "balance", "a"), sum("bank", "balance", "b")},
			canonical: `SELECT SUM(bank.balance) AS "a", SUM(bank.balance) AS "b" FROM bank`,
		},
		{
			name:      "output name with a quote",
			sql:       `SELECT COUNT(*) AS "say ""hi""" FROM bank`,
			tables:    []string{"bank"},
			aggs:      []Aggregate{{Kind: AggCount, Name: `say "hi"`}},
			canonical: `SELECT COUNT(*) AS "say ""hi""" FROM bank`,
		},
		{
			name:      "alias equal to the default name is no alias",
			sql:       `SELECT SUM(bank.balance) AS "SUM(bank.balance)" FROM bank`,
			tables:    []string{"bank"},
			aggs:      []Aggregate{sum("bank", "balance", "SUM(bank.balance)")},
			canonical: "SELECT SUM(bank.balance) FROM bank",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.sql, cs)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(p.Tables, tt.tables) {
				t.Errorf("Tables = %v, want %v", p.Tables, tt.tables)
			}
			if !reflect.DeepEqual(p.Aggregates, tt.aggs) {
				t.Errorf("Aggregates = %+v, want %+v", p.Aggregates, tt.aggs)
			}
			if p.Canonical != tt.canonical {
				t.Errorf("Canonical =\n  %s\nwant\n  %s", p.Canonical, tt.canonical)
			}
			again, err := Parse(p.Canonical, cs)
			if err != nil {
				t.Fatalf("Parse(Canonical): %v", err)
			}
			if !reflect.DeepEqual(again, p) {
				t.Errorf("Parse(Canonical) = %+v, want %+v", again, p)
			}
		})
	}
}

func TestOpHolds(t *testing.T) {
	tests := []struct {
		op     Op
		v, c   int64
		want   bool
		wantOK bool
	}{
		{OpEq, 5, 5, true, true}, {OpEq, 4, 5, false, true},
		{OpNe, 5, 5, false, true}, {OpNe, 4, 5, true, true},
		{OpLt, 4, 5, true, true}, {OpLt, 5, 5, false, true},
		{OpLe, 5, 5, true, true}, {OpLe, 6, 5, false, true},
		{OpGt, 6, 5, true, true}, {OpGt, 5, 5, false, true},
		{OpGe, 5, 5, true, true}, {OpGe, 4, 5, false, true},
		{OpGt, 0, -5, true, true}, {OpLt, -6, -5, true, true},
		{Op("~"), 5, 5, false, false},
	}
	for _, tt := range tests {
		if got, ok := tt.op.holds(tt.v, tt.c); got != tt.want || ok != tt.wantOK || tt.op.Valid() != tt.wantOK {
			t.Errorf("%d %s %d = %v, %v; want %v, %v", tt.v, tt.op, tt.c, got, ok, tt.want, tt.wantOK)
		}
	}
}

// TestEvalMatchesSQL checks that a parsed comparison evaluates like the
// SQL it came from, over values around the constant.
func TestEvalMatchesSQL(t *testing.T) {
	cs := testConsortium()
	ops := map[string]func(a, b int64) bool{
		"=": func(a, b int64) bool { return a == b }, "<>": func(a, b int64) bool { return a != b },
		"<": func(a, b int64) bool { return a < b }, "<=": func(a, b int64) bool { return a <= b },
		">": func(a, b int64) bool { return a > b }, ">=": func(a, b int64) bool { return a >= b },
	}
	for sqlOp, f := range ops {
		for _, constLeft := range []bool{false, true} {
			q := "SELECT COUNT(*) FROM bank WHERE bank.balance " + sqlOp + " 10"
			if constLeft {
				q = "SELECT COUNT(*) FROM bank WHERE 10 " + sqlOp + " bank.balance"
			}
			t.Run(q, func(t *testing.T) {
				p, err := Parse(q, cs)
				if err != nil {
					t.Fatal(err)
				}
				c := p.Terms[0].Locals[0].Expr
				for v := int64(8); v <= 12; v++ {
					want := f(v, 10)
					if constLeft {
						want = f(10, v)
					}
					if got, err := Eval(c, func(string) int64 { return v }); err != nil || got != want {
						t.Errorf("v=%d: Eval = %v, %v, want %v", v, got, err, want)
					}
				}
			})
		}
	}
}

func TestColumnsFor(t *testing.T) {
	p, err := Parse("SELECT SUM(bank.cash_deposits_30d), SUM(bank.balance), COUNT(*) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) "+
		"WHERE telecom.flagged_calls_30d > 5 AND bank.balance > 1 AND telecom.district = 'D02'", testConsortium())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		table string
		cols  []string
	}{
		{"telecom", []string{"district", "flagged_calls_30d"}},
		{"bank", []string{"balance", "cash_deposits_30d"}},
		{"utility", []string{}},
		{"nobody", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			if got := p.ColumnsFor(tt.table); !reflect.DeepEqual(got, tt.cols) {
				t.Errorf("ColumnsFor = %v, want %v", got, tt.cols)
			}
		})
	}
}

func TestParseRejectsInvalidSchema(t *testing.T) {
	cs := testConsortium()
	cs.Tables = append(cs.Tables, cs.Tables[0])
	_, err := Parse("SELECT COUNT(*) FROM bank", cs)
	if !errors.Is(err, schema.ErrInvalid) {
		t.Fatalf("err = %v, want schema.ErrInvalid", err)
	}
}

func TestJoinNeedsCommonKey(t *testing.T) {
	cs := testConsortium()
	cs.Tables[2].Key = "customer"
	tests := []struct {
		sql, want string
	}{
		{"SELECT COUNT(*) FROM bank JOIN utility USING (person_id)",
			"line 1, column 47: USING column person_id is not the person key of table utility (its key is customer); the tables have different person keys and cannot be joined"},
		{"SELECT COUNT(*) FROM bank JOIN utility USING (customer)",
			"line 1, column 47: USING column customer is not the person key of table bank (its key is person_id); the tables have different person keys and cannot be joined"},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, err := Parse(tt.sql, cs)
			if err == nil || err.Error() != tt.want || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v\nwant %s", err, tt.want)
			}
		})
	}
	if _, err := Parse("SELECT SUM(utility.kwh_30d) FROM utility", cs); err != nil {
		t.Fatalf("single table with its own key: %v", err)
	}
}

func TestParseConcurrent(t *testing.T) {
	cs := testConsortium()
	queries := []string{
		"SELECT COUNT(*) FROM bank WHERE bank.balance > 5",
		"SELECT SUM(utility.kwh_30d) FROM telecom JOIN utility USING (person_id) WHERE telecom.district = 'D04'",
		"SELECT COUNT(*) FROM bank WHERE bank.cash > 5",
	}
	want := make([]string, len(queries))
	for i, q := range queries {
		p, err := Parse(q, cs)
		if err != nil {
			want[i] = err.Error()
		} else {
			want[i] = p.Canonical
		}
	}
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for n := 0; n < 50; n++ {
				i := (g + n) % len(queries)
				p, err := Parse(queries[i], cs)
				got := ""
				if err != nil {
					got = err.Error()
				} else {
					got = p.Canonical
				}
				if got != want[i] {
					errs <- got
					return
				}
			}
			errs <- ""
		}()
	}
	for g := 0; g < 8; g++ {
		if e := <-errs; e != "" {
			t.Errorf("concurrent Parse gave %q", e)
		}
	}
}
