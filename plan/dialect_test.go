package plan

import (
	"reflect"
	"testing"
)

func TestParseTerms(t *testing.T) {
	cs := testConsortium()
	calls := Cmp{Table: "telecom", Left: ACol{Column: "calls_30d"}, Right: AConst{V: 5}, Op: OpGt}
	bal := Cmp{Table: "bank", Left: ACol{Column: "balance"}, Right: AConst{V: 7}, Op: OpGt}
	req := func(table string, e Expr) Local { return Local{Table: table, Presence: PresenceRequired, Expr: e} }
	tests := []struct {
		name      string
		sql       string
		joins     []JoinKind
		terms     []Term
		canonical string
	}{
		{
			name:  "or across institutions is x + y - xy",
			sql:   "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d > 5 OR bank.balance > 7",
			joins: []JoinKind{JoinInner, JoinInner},
			terms: []Term{
				{Sign: 1, Locals: []Local{req("telecom", nil), req("bank", bal)}},
				{Sign: -1, Locals: []Local{req("telecom", calls), req("bank", bal)}},
				{Sign: 1, Locals: []Local{req("telecom", calls), req("bank", nil)}},
			},
			canonical: "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE bank.balance > 7 OR telecom.calls_30d > 5",
		},
		{
			name:  "not across institutions is 1 - x",
			sql:   "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE NOT (telecom.calls_30d > 5 AND bank.balance > 7)",
			joins: []JoinKind{JoinInner, JoinInner},
			terms: []Term{
				{Sign: 1, Locals: []Local{req("telecom", nil), req("bank", nil)}},
				{Sign: -1, Locals: []Local{req("telecom", calls), req("bank", bal)}},
			},
			canonical: "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE NOT (bank.balance > 7 AND telecom.calls_30d > 5)",
		},
		{
			name:  "exclusive or across institutions has a coefficient of -2, written as two terms",
			sql:   "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE (telecom.calls_30d > 5 AND NOT (telecom.calls_30d > 5 AND bank.balance > 7)) OR (bank.balance > 7 AND NOT (bank.balance > 7 AND telecom.calls_30d > 5))",
			joins: []JoinKind{JoinInner, JoinInner},
			terms: []Term{
				{Sign: 1, Locals: []Local{req("telecom", nil), req("bank", bal)}},
				{Sign: -1, Locals: []Local{req("telecom", calls), req("bank", bal)}},
				{Sign: -1, Locals: []Local{req("telecom", calls), req("bank", bal)}},
				{Sign: 1, Locals: []Local{req("telecom", calls), req("bank", nil)}},
			},
			canonical: "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE (bank.balance > 7 AND NOT (bank.balance > 7 AND telecom.calls_30d > 5)) OR (telecom.calls_30d > 5 AND NOT (bank.balance > 7 AND telecom.calls_30d > 5))",
		},
		{
			name:  "conditions on one institution stay one local formula",
			sql:   "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE (bank.balance > 7 OR bank.district IN ('D02', 'D01')) AND NOT (telecom.calls_30d > 5 AND telecom.flagged_calls_30d * 2 >= telecom.calls_30d)",
			joins: []JoinKind{JoinInner, JoinInner},
			terms: []Term{{Sign: 1, Locals: []Local{
				req("telecom", Not{Term: And{Terms: []Expr{
					calls,
					Cmp{Table: "telecom", Left: ABin{Op: '*', L: ACol{Column: "flagged_calls_30d"}, R: AConst{V: 2}}, Right: ACol{Column: "calls_30d"}, Op: OpGe},
				}}}),
				req("bank", Or{Terms: []Expr{bal, In{Table: "bank", Arg: ACol{Column: "district"}, Values: []int64{0, 1}}}}),
			}}},
			canonical: "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE (bank.balance > 7 OR bank.district IN ('D01', 'D02')) AND NOT (telecom.calls_30d > 5 AND telecom.flagged_calls_30d * 2 >= telecom.calls_30d)",
		},
		{
			name:      "left join absence",
			sql:       "SELECT COUNT(*) FROM telecom t LEFT OUTER JOIN bank b USING (person_id) WHERE b.person_id IS NULL AND t.calls_30d > 5",
			joins:     []JoinKind{JoinInner, JoinLeft},
			terms:     []Term{{Sign: 1, Locals: []Local{req("telecom", calls), {Table: "bank", Presence: PresenceAbsent}}}},
			canonical: "SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id) WHERE telecom.calls_30d > 5 AND bank.person_id IS NULL",
		},
		{
			name:      "is not null on an inner-joined table is refused",
			sql:       "SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id) JOIN utility USING (person_id) WHERE utility.person_id IS NOT NULL AND bank.person_id IS NOT NULL AND bank.person_id IS NOT NULL",
			joins:     []JoinKind{JoinInner, JoinLeft, JoinInner},
			terms:     nil, // checked below: utility IS NOT NULL is refused
			canonical: "",
		},
		{
			name:      "left join is not null",
			sql:       "SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id) LEFT JOIN utility USING (person_id) WHERE bank.person_id IS NOT NULL",
			joins:     []JoinKind{JoinInner, JoinLeft, JoinLeft},
			terms:     []Term{{Sign: 1, Locals: []Local{req("telecom", nil), req("bank", nil), {Table: "utility", Presence: PresenceAny}}}},
			canonical: "SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id) LEFT JOIN utility USING (person_id) WHERE bank.person_id IS NOT NULL",
		},
		{
			name:      "between and not of a comparison stay in the first subset",
			sql:       "SELECT COUNT(*) FROM bank WHERE bank.balance BETWEEN 1 AND 5 AND NOT bank.district = 'D03'",
			joins:     []JoinKind{JoinInner},
			terms:     []Term{{Sign: 1, Locals: []Local{req("bank", And{Terms: []Expr{Cmp{Table: "bank", Left: ACol{Column: "balance"}, Right: AConst{V: 5}, Op: OpLe}, Cmp{Table: "bank", Left: ACol{Column: "balance"}, Right: AConst{V: 1}, Op: OpGe}, Cmp{Table: "bank", Left: ACol{Column: "district"}, Right: AConst{V: 2}, Op: OpNe}}})}}},
			canonical: "SELECT COUNT(*) FROM bank WHERE bank.balance <= 5 AND bank.balance >= 1 AND bank.district != 'D03'",
		},
		{
			name:      "constant arithmetic is folded and the constant moves right",
			sql:       "SELECT COUNT(*) FROM utility WHERE 2 * 3 + 1 < utility.kwh_30d - utility.kwh_avg_12m",
			joins:     []JoinKind{JoinInner},
			terms:     []Term{{Sign: 1, Locals: []Local{req("utility", Cmp{Table: "utility", Left: ABin{Op: '-', L: ACol{Column: "kwh_30d"}, R: ACol{Column: "kwh_avg_12m"}}, Right: AConst{V: 7}, Op: OpGt})}}},
			canonical: "SELECT COUNT(*) FROM utility WHERE utility.kwh_30d - utility.kwh_avg_12m > 7",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.sql, cs)
			if tt.terms == nil {
				if err == nil {
					t.Fatalf("accepted: %+v", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Joins, tt.joins) {
				t.Errorf("Joins = %v, want %v", p.Joins, tt.joins)
			}
			if !reflect.DeepEqual(p.Terms, tt.terms) {
				t.Errorf("Terms =\n  %+v\nwant\n  %+v", p.Terms, tt.terms)
			}
			if p.Canonical != tt.canonical {
				t.Errorf("Canonical =\n  %s\nwant\n  %s", p.Canonical, tt.canonical)
			}
		})
	}
}

func TestParseGroupsAndAggregates(t *testing.T) {
	p := mustParse(t, `EXPLAIN SELECT b.district AS "where", u.district, AVG(b.balance), var_samp(b.balance), STDDEV(b.balance) AS sd
		FROM bank b JOIN utility u USING (person_id) GROUP BY b.district, u.district`)
	if !p.Explain {
		t.Error("Explain not set")
	}
	if len(p.GroupBy) != 2 || p.GroupBy[0].Name != "where" || p.GroupBy[1].Name != "utility.district" ||
		p.GroupBy[0].Table != "bank" || p.GroupBy[1].Table != "utility" || len(p.GroupBy[1].Categories) != 10 {
		t.Errorf("GroupBy = %+v", p.GroupBy)
	}
	want := []Aggregate{
		{Kind: AggAvg, Table: "bank", Column: "balance", Name: "AVG(bank.balance)"},
		{Kind: AggVariance, Table: "bank", Column: "balance", Name: "VAR_SAMP(bank.balance)"},
		{Kind: AggStddev, Table: "bank", Column: "balance", Name: "sd"},
	}
	if !reflect.DeepEqual(p.Aggregates, want) {
		t.Errorf("Aggregates = %+v", p.Aggregates)
	}
	wantCanon := `EXPLAIN SELECT bank.district AS "where", utility.district, AVG(bank.balance), VARIANCE(bank.balance) AS "VAR_SAMP(bank.balance)", STDDEV(bank.balance) AS "sd" FROM bank JOIN utility USING (person_id) GROUP BY bank.district, utility.district`
	if p.Canonical != wantCanon {
		t.Errorf("Canonical =\n  %s\nwant\n  %s", p.Canonical, wantCanon)
	}
	if cols := p.Columns(); !reflect.DeepEqual(cols, []string{"where", "utility.district", "AVG(bank.balance)", "VAR_SAMP(bank.balance)", "sd"}) {
		t.Errorf("Columns = %v", cols)
	}
	if got := len(p.Groups()); got != 100 {
		t.Errorf("%d groups", got)
	}
}

func TestLocalsAndColumnsFor(t *testing.T) {
	p := mustParse(t, `SELECT utility.district, SUM(bank.cash_deposits_30d) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id)
		WHERE telecom.flagged_calls_30d > 20 OR bank.balance > 2 * bank.cash_deposits_30d + 1 OR utility.kwh_30d > 3 * utility.kwh_avg_12m
		GROUP BY utility.district`)
	if len(p.Terms) != 7 {
		t.Fatalf("%d terms, want 7 (three institutions OR'ed)", len(p.Terms))
	}
	for _, tt := range []struct {
		table  string
		locals int
		cols   []string
	}{
		{"telecom", 2, []string{"flagged_calls_30d"}},
		{"bank", 2, []string{"balance", "cash_deposits_30d"}},
		{"utility", 2, []string{"district", "kwh_30d", "kwh_avg_12m"}},
	} {
		if got := p.LocalsFor(tt.table); len(got) != tt.locals {
			t.Errorf("LocalsFor(%s) = %+v", tt.table, got)
		}
		if got := p.ColumnsFor(tt.table); !reflect.DeepEqual(got, tt.cols) {
			t.Errorf("ColumnsFor(%s) = %v, want %v", tt.table, got, tt.cols)
		}
	}
}

func TestCanonicalNewConstructs(t *testing.T) {
	groups := []struct {
		name      string
		spellings []string
	}{
		{"or", []string{
			"SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d > 5 OR bank.balance > 7",
			"SELECT COUNT(*) FROM telecom t JOIN bank b USING (person_id) WHERE (b.balance > 7) OR 5 < t.calls_30d",
			"SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE bank.balance > 7 OR telecom.calls_30d > 5 OR bank.balance > 7",
			"SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE NOT bank.balance <= 7 OR NOT NOT telecom.calls_30d > 5",
		}},
		{"or of three", []string{
			"SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d > 5 OR (bank.balance > 7 OR bank.district = 'D01')",
			"SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE bank.district = 'D01' OR telecom.calls_30d > 5 OR bank.balance > 7",
		}},
		{"between", []string{
			"SELECT COUNT(*) FROM bank WHERE bank.balance BETWEEN 1 AND 5",
			"SELECT COUNT(*) FROM bank WHERE bank.balance >= 1 AND bank.balance <= 5",
			"SELECT COUNT(*) FROM bank WHERE bank.balance BETWEEN SYMMETRIC 5 AND 1",
			"SELECT COUNT(*) FROM bank WHERE NOT bank.balance < 1 AND NOT bank.balance > 5",
		}},
		{"not between", []string{
			"SELECT COUNT(*) FROM bank WHERE bank.balance NOT BETWEEN 1 AND 5",
			"SELECT COUNT(*) FROM bank WHERE bank.balance > 5 OR bank.balance < 1",
		}},
		{"in", []string{
			"SELECT COUNT(*) FROM bank WHERE bank.district IN ('D03', 'D01', 'D03')",
			"SELECT COUNT(*) FROM bank WHERE NOT bank.district NOT IN ('D01', 'D03')",
		}},
		{"group by", []string{
			"SELECT COUNT(*) FROM bank GROUP BY bank.district",
			"SELECT b.district, count(*) FROM bank b GROUP BY b.district",
			`SELECT bank.district AS "bank.district", COUNT(*) FROM bank GROUP BY bank.district`,
		}},
		{"group by alias", []string{
			"SELECT bank.district AS d, COUNT(*) FROM bank GROUP BY bank.district",
		}},
		{"explain group by", []string{
			"EXPLAIN SELECT COUNT(*) FROM bank GROUP BY bank.district",
			"explain select bank.district, count(*) from bank group by bank.district",
		}},
		{"left join", []string{
			"SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id) WHERE bank.person_id IS NULL",
			"SELECT COUNT(*) FROM telecom t LEFT OUTER JOIN bank AS b USING (person_id) WHERE b.person_id IS NULL AND b.person_id IS NULL",
		}},
		{"left join any", []string{
			"SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id)",
		}},
		{"variance", []string{
			"SELECT VARIANCE(bank.balance) FROM bank",
			"SELECT variance(b.balance) FROM bank b",
		}},
		{"var_samp", []string{
			"SELECT VAR_SAMP(bank.balance) FROM bank",
		}},
		{"arithmetic", []string{
			"SELECT COUNT(*) FROM utility WHERE utility.kwh_30d > 3 * utility.kwh_avg_12m",
			"SELECT COUNT(*) FROM utility u WHERE (u.kwh_30d) > (3 * u.kwh_avg_12m)",
			"SELECT COUNT(*) FROM utility WHERE NOT utility.kwh_30d <= 3 * utility.kwh_avg_12m",
		}},
	}
	cs := testConsortium()
	owner := map[string]string{}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			var first string
			for i, q := range g.spellings {
				p, err := Parse(q, cs)
				if err != nil {
					t.Fatalf("Parse(%q): %v", q, err)
				}
				if i == 0 {
					first = p.Canonical
					if o, dup := owner[first]; dup {
						t.Errorf("canonical %q of group %q equals that of group %q", first, g.name, o)
					}
					owner[first] = g.name
					continue
				}
				if p.Canonical != first {
					t.Errorf("spelling %q\n  canonical %q\n  want      %q", q, p.Canonical, first)
				}
			}
		})
	}
}
