package plan

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite testdata/invalid.golden from the current error messages")

// invalidCases are queries Parse must reject, with the error class. Their
// exact messages (with positions) live in testdata/invalid.golden.
var invalidCases = []struct {
	name string
	sql  string
	err  error
}{
	// Syntax and statement level.
	{"syntax_typo", "SELECT COUNT(*) FORM bank", ErrSyntax},
	{"syntax_end_of_input", "SELECT COUNT(*) FROM bank WHERE", ErrSyntax},
	{"syntax_after_multibyte", "SELECT COUNT(*) AS \"été\" FORM bank", ErrSyntax},
	{"syntax_unterminated_string", "SELECT COUNT(*) FROM bank\nWHERE bank.district = 'D01", ErrSyntax},
	{"syntax_invalid_utf8", "SELECT COUNT(*) FROM bank WHERE bank.district = '\xff'", ErrSyntax},
	{"syntax_nul", "SELECT COUNT(*) FROM bank\x00", ErrSyntax},
	{"empty", "  -- nothing\n", ErrSyntax},
	{"two_statements", "SELECT COUNT(*) FROM bank; SELECT COUNT(*) FROM telecom", ErrUnsupported},
	{"not_select", "DELETE FROM bank", ErrUnsupported},
	// Clauses.
	{"union", "SELECT COUNT(*) FROM bank UNION SELECT COUNT(*) FROM telecom", ErrUnsupported},
	{"with", "WITH x AS (SELECT 1) SELECT COUNT(*) FROM bank", ErrUnsupported},
	{"distinct", "SELECT DISTINCT COUNT(*) FROM bank", ErrUnsupported},
	{"having", "SELECT COUNT(*) FROM bank HAVING COUNT(*) > 1", ErrUnsupported},
	{"order_by", "SELECT COUNT(*) FROM bank ORDER BY 1", ErrUnsupported},
	{"limit", "SELECT COUNT(*) FROM bank LIMIT 10", ErrUnsupported},
	{"fetch_first", "SELECT COUNT(*) FROM bank FETCH FIRST 3 ROWS ONLY", ErrUnsupported},
	{"offset", "SELECT COUNT(*) FROM bank OFFSET 4", ErrUnsupported},
	{"for_update", "SELECT COUNT(*) FROM bank FOR UPDATE", ErrUnsupported},
	{"least_zero_bound", "SELECT SUM(LEAST(bank.balance, 0)) FROM bank", ErrInvalid},
	{"greatest", "SELECT SUM(GREATEST(bank.balance, 5)) FROM bank", ErrUnsupported},
	{"least_fraction", "SELECT AVG(LEAST(bank.balance, 1.5)) FROM bank", ErrType},
	{"least_column_bound", "SELECT SUM(LEAST(bank.balance, bank.accounts)) FROM bank", ErrUnsupported},
	{"least_three", "SELECT SUM(LEAST(bank.balance, 5, 6)) FROM bank", ErrUnsupported},
	{"select_into", "SELECT COUNT(*) INTO t FROM bank", ErrUnsupported},
	{"window_clause", "SELECT COUNT(*) FROM bank WINDOW w AS ()", ErrUnsupported},
	// FROM.
	{"missing_from", "SELECT COUNT(*)", ErrInvalid},
	{"unknown_table", "SELECT COUNT(*) FROM bnak", ErrUnknownName},
	{"unknown_table_no_suggestion", "SELECT COUNT(*) FROM police", ErrUnknownName},
	{"comma_join", "SELECT COUNT(*) FROM bank, telecom", ErrUnsupported},
	{"full_join", "SELECT COUNT(*) FROM bank FULL OUTER JOIN telecom USING (person_id)", ErrUnsupported},
	{"join_on", "SELECT COUNT(*) FROM bank JOIN telecom ON bank.person_id = telecom.person_id", ErrUnsupported},
	{"cross_join", "SELECT COUNT(*) FROM bank CROSS JOIN telecom", ErrUnsupported},
	{"natural_join", "SELECT COUNT(*) FROM bank NATURAL JOIN telecom", ErrUnsupported},
	{"using_not_key", "SELECT COUNT(*) FROM bank JOIN telecom USING (district)", ErrInvalid},
	{"using_two_columns", "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id, district)", ErrInvalid},
	{"using_nested_wrong", "SELECT COUNT(*) FROM telecom JOIN (bank JOIN utility USING (person_id)) USING (pid)", ErrInvalid},
	{"table_twice", "SELECT COUNT(*) FROM bank JOIN bank USING (person_id)", ErrInvalid},
	{"alias_twice", "SELECT COUNT(*) FROM bank x JOIN telecom x USING (person_id)", ErrInvalid},
	{"subquery_in_from", "SELECT COUNT(*) FROM (SELECT 1) x", ErrUnsupported},
	{"schema_qualified_table", "SELECT COUNT(*) FROM public.bank", ErrUnsupported},
	{"only", "SELECT COUNT(*) FROM ONLY bank", ErrUnsupported},
	{"table_column_aliases", "SELECT COUNT(*) FROM bank AS b(x, y)", ErrUnsupported},
	// SELECT list.
	{"empty_select_list", "SELECT FROM bank", ErrInvalid},
	{"select_star", "SELECT * FROM bank", ErrUnsupported},
	{"bare_column", "SELECT bank.balance FROM bank", ErrUnsupported},
	{"constant_item", "SELECT 1 FROM bank", ErrUnsupported},
	{"unknown_function", "SELECT summ(bank.balance) FROM bank", ErrUnknownName},
	{"unknown_function_no_suggestion", "SELECT abs(bank.balance) FROM bank", ErrUnknownName},
	{"coalesce_item", "SELECT coalesce(bank.balance) FROM bank", ErrUnsupported},
	{"sum_category", "SELECT SUM(bank.district) FROM bank", ErrType},
	{"sum_star", "SELECT SUM(*) FROM bank", ErrInvalid},
	{"sum_expression", "SELECT SUM(bank.balance + 1) FROM bank", ErrUnsupported},
	{"count_column", "SELECT COUNT(bank.balance) FROM bank", ErrUnsupported},
	{"count_distinct", "SELECT COUNT(DISTINCT bank.balance) FROM bank", ErrUnsupported},
	{"aggregate_filter", "SELECT SUM(bank.balance) FILTER (WHERE bank.balance > 1) FROM bank", ErrUnsupported},
	{"window_function", "SELECT COUNT(*) OVER () FROM bank", ErrUnsupported},
	{"duplicate_output_name", "SELECT COUNT(*), SUM(bank.balance) AS \"COUNT(*)\" FROM bank", ErrInvalid},
	{"unknown_column_in_sum", "SELECT SUM(bank.cash) FROM bank", ErrUnknownName},
	{"sum_of_table_not_in_from", "SELECT SUM(utility.kwh_30d) FROM bank", ErrInvalid},
	// WHERE: names.
	{"unknown_column", "SELECT COUNT(*) FROM bank WHERE bank.cash > 5", ErrUnknownName},
	{"unknown_column_multiline", "SELECT COUNT(*)\nFROM bank\nWHERE bank.balnce > 5", ErrUnknownName},
	{"unknown_column_other_table", "SELECT COUNT(*) FROM bank WHERE bank.kwh > 5", ErrUnknownName},
	{"unknown_column_list", "SELECT COUNT(*) FROM bank WHERE bank.x > 5", ErrUnknownName},
	{"unknown_qualifier", "SELECT COUNT(*) FROM bank WHERE foo.balance > 5", ErrUnknownName},
	{"table_not_in_from", "SELECT COUNT(*) FROM bank WHERE utility.kwh_30d > 5", ErrInvalid},
	{"unqualified_column", "SELECT COUNT(*) FROM bank WHERE balance > 5", ErrInvalid},
	{"unqualified_ambiguous", "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE district = 'D01'", ErrInvalid},
	{"unqualified_unknown", "SELECT COUNT(*) FROM bank WHERE kwh > 5", ErrUnknownName},
	{"aliased_table_by_name", "SELECT COUNT(*) FROM bank b WHERE bank.balance > 5", ErrInvalid},
	{"person_key", "SELECT COUNT(*) FROM bank WHERE bank.person_id = 5", ErrInvalid},
	{"after_multibyte", "SELECT COUNT(*) AS \"naïve\" FROM bank WHERE bank.district = 'D01' AND bank.balanse > 5", ErrUnknownName},
	// WHERE: types.
	{"int_vs_string", "SELECT COUNT(*) FROM bank WHERE bank.balance > 'x'", ErrType},
	{"int_vs_decimal", "SELECT COUNT(*) FROM bank WHERE bank.balance > 1.5", ErrType},
	{"int_out_of_range", "SELECT COUNT(*) FROM bank WHERE bank.balance > 99999999999999999999", ErrType},
	{"int_vs_null", "SELECT COUNT(*) FROM bank WHERE bank.balance > NULL", ErrType},
	{"int_vs_bool", "SELECT COUNT(*) FROM bank WHERE bank.balance = true", ErrType},
	{"category_vs_int", "SELECT COUNT(*) FROM bank WHERE bank.district = 3", ErrType},
	{"category_order", "SELECT COUNT(*) FROM bank WHERE bank.district > 'D01'", ErrType},
	{"category_unknown_value", "SELECT COUNT(*) FROM bank WHERE bank.district = 'D11'", ErrType},
	{"bare_column_condition", "SELECT COUNT(*) FROM utility WHERE utility.meter_tamper", ErrType},
	// WHERE: constructs.
	{"is_null", "SELECT COUNT(*) FROM bank WHERE bank.balance IS NULL", ErrUnsupported},
	{"like", "SELECT COUNT(*) FROM bank WHERE bank.district LIKE 'D%'", ErrUnsupported},
	{"subquery_in_where", "SELECT COUNT(*) FROM bank WHERE bank.balance > (SELECT 1)", ErrUnsupported},
	{"exists", "SELECT COUNT(*) FROM bank WHERE EXISTS (SELECT 1)", ErrUnsupported},
	{"two_constants", "SELECT COUNT(*) FROM bank WHERE 1 = 1", ErrUnsupported},
	{"type_cast", "SELECT COUNT(*) FROM bank WHERE bank.balance > '5'::int", ErrUnsupported},
	{"other_operator", "SELECT COUNT(*) FROM bank WHERE bank.district ~ 'D'", ErrUnsupported},
	{"aggregate_in_where", "SELECT COUNT(*) FROM bank WHERE COUNT(*) > 5", ErrInvalid},
	{"constant_condition", "SELECT COUNT(*) FROM bank WHERE true", ErrUnsupported},
	{"parameter", "SELECT COUNT(*) FROM bank WHERE bank.balance > $1", ErrUnsupported},
	// EXPLAIN.
	{"explain_analyze", "EXPLAIN ANALYZE SELECT COUNT(*) FROM bank", ErrUnsupported},
	{"explain_options", "EXPLAIN (VERBOSE, COSTS) SELECT COUNT(*) FROM bank", ErrUnsupported},
	{"explain_delete", "EXPLAIN DELETE FROM bank", ErrUnsupported},
	{"explain_unknown_column", "EXPLAIN\nSELECT COUNT(*) FROM bank WHERE bank.cash > 5", ErrUnknownName},
	{"explain_missing_from", "EXPLAIN SELECT COUNT(*)", ErrInvalid},
	// GROUP BY and HAVING.
	{"having_with_group_by", "SELECT bank.district, COUNT(*) FROM bank GROUP BY bank.district HAVING COUNT(*) > 10", ErrUnsupported},
	{"order_by_with_group_by", "SELECT COUNT(*) FROM bank\nGROUP BY bank.district ORDER BY 1 LIMIT 3", ErrUnsupported},
	{"group_by_int_column", "SELECT COUNT(*) FROM bank GROUP BY bank.balance", ErrType},
	{"group_by_position", "SELECT bank.district, COUNT(*) FROM bank GROUP BY 1", ErrUnsupported},
	{"group_by_three_columns", "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) GROUP BY telecom.district, bank.district, utility.district", ErrUnsupported},
	{"group_by_too_many_groups", "SELECT COUNT(*) FROM bank JOIN utility USING (person_id) GROUP BY bank.district, utility.tariff", ErrUnsupported},
	{"group_by_twice", "SELECT COUNT(*) FROM bank b GROUP BY b.district, bank.district", ErrInvalid},
	{"group_by_same_column_twice", "SELECT COUNT(*) FROM bank GROUP BY bank.district, bank.district", ErrInvalid},
	{"group_by_unknown_column", "SELECT COUNT(*) FROM bank GROUP BY bank.distrct", ErrUnknownName},
	{"group_by_left_joined", "SELECT COUNT(*) FROM bank LEFT JOIN telecom USING (person_id) GROUP BY telecom.district", ErrUnsupported},
	{"group_by_expression", "SELECT COUNT(*) FROM bank GROUP BY bank.balance / 1000", ErrUnsupported},
	{"group_by_rollup", "SELECT COUNT(*) FROM bank GROUP BY ROLLUP (bank.district)", ErrUnsupported},
	{"group_by_distinct", "SELECT COUNT(*) FROM bank GROUP BY DISTINCT bank.district", ErrUnsupported},
	{"group_by_person_key", "SELECT COUNT(*) FROM bank GROUP BY bank.person_id", ErrInvalid},
	{"select_column_not_grouped", "SELECT bank.balance, COUNT(*) FROM bank GROUP BY bank.district", ErrUnsupported},
	{"select_group_after_aggregate", "SELECT COUNT(*), bank.district FROM bank GROUP BY bank.district", ErrInvalid},
	{"select_groups_wrong_order", "SELECT bank.district, telecom.district, COUNT(*) FROM telecom JOIN bank USING (person_id) GROUP BY telecom.district, bank.district", ErrInvalid},
	{"select_some_groups", "SELECT bank.district, COUNT(*) FROM telecom JOIN bank USING (person_id) GROUP BY bank.district, telecom.district", ErrInvalid},
	{"select_only_group_column", "SELECT bank.district FROM bank GROUP BY bank.district", ErrInvalid},
	{"group_name_clash", "SELECT COUNT(*) AS \"bank.district\" FROM bank GROUP BY bank.district", ErrInvalid},
	// Aggregates.
	{"min", "SELECT MIN(bank.balance) FROM bank", ErrUnsupported},
	{"var_pop", "SELECT COUNT(*), VAR_POP(bank.balance) FROM bank", ErrUnsupported},
	{"avg_category", "SELECT AVG(bank.district) FROM bank", ErrType},
	{"stddev_star", "SELECT STDDEV(*) FROM bank", ErrInvalid},
	{"avg_two_arguments", "SELECT AVG(bank.balance, bank.cash_deposits_30d) FROM bank", ErrInvalid},
	{"variance_expression", "SELECT VARIANCE(bank.balance * 2) FROM bank", ErrUnsupported},
	{"avg_typo", "SELECT avgg(bank.balance) FROM bank", ErrUnknownName},
	{"sum_left_joined", "SELECT SUM(telecom.calls_30d) FROM bank LEFT JOIN telecom USING (person_id)", ErrUnsupported},
	{"avg_unknown_column", "SELECT AVG(utility.kwh) FROM utility", ErrUnknownName},
	// Joins and presence.
	{"right_join", "SELECT COUNT(*) FROM bank RIGHT JOIN telecom USING (person_id)", ErrUnsupported},
	{"left_join_nested", "SELECT COUNT(*) FROM bank LEFT JOIN (telecom JOIN utility USING (person_id)) USING (person_id)", ErrUnsupported},
	{"left_join_on", "SELECT COUNT(*) FROM bank LEFT JOIN telecom ON bank.person_id = telecom.person_id", ErrUnsupported},
	{"left_join_condition", "SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id) WHERE telecom.calls_30d > 1 AND bank.balance > 5", ErrUnsupported},
	{"left_join_in", "SELECT COUNT(*) FROM telecom LEFT JOIN bank b USING (person_id) WHERE b.district IN ('D01')", ErrUnsupported},
	{"is_null_under_or", "SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id) WHERE bank.person_id IS NULL OR telecom.calls_30d > 5", ErrUnsupported},
	{"is_null_under_not", "SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id) WHERE NOT (bank.person_id IS NOT NULL)", ErrUnsupported},
	{"is_null_and_not_null", "SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id) WHERE bank.person_id IS NULL AND bank.person_id IS NOT NULL", ErrInvalid},
	{"is_null_inner_joined", "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE bank.person_id IS NULL", ErrInvalid},
	{"is_not_null_inner_joined", "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE bank.person_id IS NOT NULL", ErrInvalid},
	{"is_null_column_of_left_joined", "SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id) WHERE bank.balance IS NULL", ErrUnsupported},
	{"is_null_unqualified_key", "SELECT COUNT(*) FROM telecom LEFT JOIN bank b USING (person_id) WHERE person_id IS NULL", ErrInvalid},
	{"is_null_expression", "SELECT COUNT(*) FROM bank WHERE (bank.balance + 1) IS NULL", ErrUnsupported},
	// WHERE: expressions.
	{"cross_institution_comparison", "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d > bank.balance", ErrUnsupported},
	{"cross_institution_arithmetic", "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d + bank.balance > 5", ErrUnsupported},
	{"cross_institution_categories", "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.district = bank.district", ErrUnsupported},
	{"division", "SELECT COUNT(*) FROM bank WHERE bank.balance / 2 > bank.cash_deposits_30d", ErrUnsupported},
	{"modulo", "SELECT COUNT(*) FROM bank WHERE bank.balance % 2 = 0", ErrUnsupported},
	{"category_arithmetic", "SELECT COUNT(*) FROM bank WHERE bank.district + 1 > 2", ErrType},
	{"category_vs_int_column", "SELECT COUNT(*) FROM bank WHERE bank.district = bank.balance", ErrType},
	{"two_category_columns", "SELECT COUNT(*) FROM utility WHERE utility.district = utility.tariff", ErrUnsupported},
	{"arithmetic_overflow", "SELECT COUNT(*) FROM bank WHERE bank.balance * bank.balance * bank.balance > 5", ErrInvalid},
	{"constant_overflow", "SELECT COUNT(*) FROM bank WHERE bank.balance > 9223372036854775807 + 1", ErrInvalid},
	{"constant_arithmetic_both_sides", "SELECT COUNT(*) FROM bank WHERE 2 * 3 = 6", ErrUnsupported},
	{"arithmetic_with_null", "SELECT COUNT(*) FROM bank WHERE bank.balance + NULL > 5", ErrType},
	{"arithmetic_with_decimal", "SELECT COUNT(*) FROM utility WHERE utility.kwh_30d > 1.5 * utility.kwh_avg_12m", ErrType},
	{"expression_vs_string", "SELECT COUNT(*) FROM bank WHERE bank.balance - bank.cash_deposits_30d > 'x'", ErrType},
	{"in_category_integers", "SELECT COUNT(*) FROM bank WHERE bank.district IN (1, 2)", ErrType},
	{"in_unknown_category", "SELECT COUNT(*) FROM bank WHERE bank.district IN ('D01', 'D1')", ErrType},
	{"in_column_item", "SELECT COUNT(*) FROM bank WHERE bank.balance IN (1, bank.cash_deposits_30d)", ErrUnsupported},
	{"in_null_item", "SELECT COUNT(*) FROM bank WHERE bank.balance NOT IN (1, NULL)", ErrType},
	{"in_string_item", "SELECT COUNT(*) FROM bank WHERE bank.balance IN (1, 'x')", ErrType},
	{"in_constant_argument", "SELECT COUNT(*) FROM bank WHERE 5 IN (1, 2)", ErrUnsupported},
	{"in_subquery", "SELECT COUNT(*) FROM bank WHERE bank.balance IN (SELECT 1)", ErrUnsupported},
	{"between_category", "SELECT COUNT(*) FROM bank WHERE bank.district BETWEEN 'D01' AND 'D03'", ErrType},
	{"between_string", "SELECT COUNT(*) FROM bank WHERE bank.balance BETWEEN 'a' AND 5", ErrType},
	{"between_unknown_column", "SELECT COUNT(*) FROM bank WHERE bank.balnce BETWEEN 1 AND 5", ErrUnknownName},
	{"too_many_terms", "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id)\nWHERE (telecom.calls_30d > 1 OR bank.balance > 1) AND (telecom.flagged_calls_30d > 1 OR utility.kwh_30d > 1) AND (bank.cash_deposits_30d > 1 OR utility.meter_tamper = 1)", ErrUnsupported},
	{"never_true", "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE (bank.balance > 5 OR telecom.calls_30d > 5) AND NOT (bank.balance > 5 OR telecom.calls_30d > 5)", ErrInvalid},
	{"aggregate_in_arithmetic", "SELECT COUNT(*) FROM bank WHERE bank.balance > 2 * SUM(bank.balance)", ErrInvalid},
}

func goldenPath() string { return filepath.Join("testdata", "invalid.golden") }

// renderInvalid runs every invalid case and renders the golden text.
func renderInvalid(t *testing.T) string {
	t.Helper()
	cs := testConsortium()
	var sb strings.Builder
	sb.WriteString("# Expected Parse errors for invalidCases in invalid_test.go.\n# Regenerate: go test ./plan -run TestParseInvalid -update\n")
	for _, tc := range invalidCases {
		_, err := Parse(tc.sql, cs)
		msg := "<no error>"
		if err != nil {
			msg = err.Error()
		}
		fmt.Fprintf(&sb, "\n== %s\n%s\n-> %s\n", tc.name, strings.ReplaceAll(tc.sql, "\x00", `\x00`), msg)
	}
	return sb.String()
}

// readGolden maps case names to their expected error lines.
func readGolden(text string) map[string]string {
	out := map[string]string{}
	name := ""
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "== "):
			name = strings.TrimPrefix(line, "== ")
		case strings.HasPrefix(line, "-> ") && name != "":
			out[name] = strings.TrimPrefix(line, "-> ")
		}
	}
	return out
}

func TestParseInvalid(t *testing.T) {
	got := renderInvalid(t)
	if *update {
		if err := os.WriteFile(goldenPath(), []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(goldenPath())
	if err != nil {
		t.Fatalf("%v (run go test ./plan -update to create it)", err)
	}
	want := readGolden(string(data))
	cs := testConsortium()
	seen := map[string]bool{}
	for _, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			if seen[tc.name] {
				t.Fatalf("duplicate case name")
			}
			seen[tc.name] = true
			p, err := Parse(tc.sql, cs)
			if err == nil {
				t.Fatalf("Parse accepted the query: %+v", p)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *Error", err, err)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("error %q does not wrap %v (it wraps %v)", err, tc.err, pe.Err)
			}
			w, ok := want[tc.name]
			if !ok {
				t.Fatalf("no golden entry; run go test ./plan -update")
			}
			if err.Error() != w {
				t.Errorf("error\n  %s\nwant (golden)\n  %s", err, w)
			}
		})
	}
	if len(want) != len(invalidCases) {
		t.Errorf("golden has %d entries, cases %d; run go test ./plan -update", len(want), len(invalidCases))
	}
}

// TestErrorPointsAtToken checks positions against an independent
// computation: the error must point at the first occurrence of the marked
// token (after the given prefix).
func TestErrorPointsAtToken(t *testing.T) {
	tests := []struct {
		sql, after, token string
	}{
		{"SELECT COUNT(*) FROM bank WHERE bank.cash > 5", "", "bank.cash"},
		{"SELECT COUNT(*)\n  FROM bank\n  WHERE bank.balance > 1\n    AND bank.cash > 5", "", "bank.cash"},
		{"SELECT COUNT(*) AS \"ééé\" FROM bank WHERE bank.cash > 5", "", "bank.cash"},
		{"SELECT COUNT(*) AS \"ééé\"\nFROM bank WHERE bank.cash > 5", "", "bank.cash"},
		{"SELECT COUNT(*) AS \"ééé\" FORM bank", "", "FORM"},
		{"SELECT COUNT(*) AS \"日本\" FROM bank b WHERE b.balance > 5 OR b.balance / 2 < 2", "", "/"},
		{"SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id)\n WHERE telecom.calls_30d > 1 AND bank.balance > 5", "AND", "bank.balance"},
		{"SELECT COUNT(*) FROM telecom LEFT JOIN bank USING (person_id)\n WHERE telecom.calls_30d > 1 OR bank.person_id IS NULL", "", "IS NULL"},
		{"SELECT COUNT(*) FROM bank WHERE bank.district IN ('D01', 'D99')", "", "'D99'"},
		{"SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d + bank.balance > 5", "", "+"},
		{"SELECT COUNT(*) FROM bank WHERE bank.balance BETWEEN 'a' AND 5", "", "'a'"},
		{"SELECT COUNT(*) FROM bank WHERE bank.district = 'D99'", "", "'D99'"},
		{"SELECT COUNT(*) FROM bank WHERE bank.district >= 'D01'", "", ">="},
		{"SELECT COUNT(*) FROM bank\n  RIGHT JOIN telecom USING (person_id)", "", "RIGHT"},
		{"SELECT COUNT(*) FROM bank\n  LEFT JOIN (telecom JOIN utility USING (person_id)) USING (person_id)", "", "LEFT"},
		{"SELECT COUNT(*) FROM bank JOIN telecom\n ON bank.person_id = telecom.person_id", "", "ON"},
		{"SELECT COUNT(*) FROM bank JOIN telecom USING (id)", "", "id"},
		{"SELECT COUNT(*) FROM telecom JOIN (bank JOIN utility USING (person_id)) USING (pid)", "", "pid"},
		{"SELECT COUNT(*) FROM bank\n-- group them\nGROUP BY bank.balance", "\n", "bank.balance"},
		{"SELECT COUNT(*) FROM bank JOIN utility USING (person_id)\n GROUP BY bank.district, utility.tariff", "", "GROUP"},
		{"EXPLAIN SELECT COUNT(*) FROM bank GROUP BY bank.district HAVING COUNT(*) > 1", "", "HAVING"},
		{"EXPLAIN SELECT FROM bank", "", "SELECT"},
		{"SELECT COUNT(*) FROM bank HAVING COUNT(*) > 1", "", "HAVING"},
		{"SELECT COUNT(*) FROM bank ORDER BY 1 DESC", "", "ORDER"},
		{"SELECT COUNT(*) FROM bank LIMIT 5", "", "LIMIT"},
		{"SELECT COUNT(*) FROM bank, telecom", "", ","},
		{"SELECT COUNT(*), SUM(x.y) FROM bank", "", "x.y"},
		{"SELECT COUNT(*) FROM bank WHERE bank.balance > 5; SELECT 1", "", "SELECT 1"},
		{"SELECT COUNT(*) FROM bank WHERE bank.balance IN (1, 'x')", "", "'x'"},
	}
	cs := testConsortium()
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, err := Parse(tt.sql, cs)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *Error", err)
			}
			start := strings.Index(tt.sql, tt.after) + len(tt.after)
			off := start + strings.Index(tt.sql[start:], tt.token)
			before := tt.sql[:off]
			wantLine := strings.Count(before, "\n") + 1
			wantCol := utf8.RuneCountInString(before[strings.LastIndex(before, "\n")+1:]) + 1
			if pe.Line != wantLine || pe.Column != wantCol {
				t.Errorf("error %q at line %d, column %d; want line %d, column %d (token %q)", err, pe.Line, pe.Column, wantLine, wantCol, tt.token)
			}
		})
	}
}
