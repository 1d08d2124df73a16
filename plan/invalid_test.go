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
	{"explain", "EXPLAIN SELECT COUNT(*) FROM bank", ErrUnsupported},
	// Clauses.
	{"union", "SELECT COUNT(*) FROM bank UNION SELECT COUNT(*) FROM telecom", ErrUnsupported},
	{"with", "WITH x AS (SELECT 1) SELECT COUNT(*) FROM bank", ErrUnsupported},
	{"distinct", "SELECT DISTINCT COUNT(*) FROM bank", ErrUnsupported},
	{"group_by", "SELECT COUNT(*) FROM bank GROUP BY bank.district", ErrUnsupported},
	{"group_by_reported_before_order_by", "SELECT COUNT(*) FROM bank\nGROUP BY bank.district ORDER BY 1 LIMIT 3", ErrUnsupported},
	{"having", "SELECT COUNT(*) FROM bank HAVING COUNT(*) > 1", ErrUnsupported},
	{"order_by", "SELECT COUNT(*) FROM bank ORDER BY 1", ErrUnsupported},
	{"limit", "SELECT COUNT(*) FROM bank LIMIT 10", ErrUnsupported},
	{"fetch_first", "SELECT COUNT(*) FROM bank FETCH FIRST 3 ROWS ONLY", ErrUnsupported},
	{"offset", "SELECT COUNT(*) FROM bank OFFSET 4", ErrUnsupported},
	{"for_update", "SELECT COUNT(*) FROM bank FOR UPDATE", ErrUnsupported},
	{"select_into", "SELECT COUNT(*) INTO t FROM bank", ErrUnsupported},
	{"window_clause", "SELECT COUNT(*) FROM bank WINDOW w AS ()", ErrUnsupported},
	// FROM.
	{"missing_from", "SELECT COUNT(*)", ErrInvalid},
	{"unknown_table", "SELECT COUNT(*) FROM bnak", ErrUnknownName},
	{"unknown_table_no_suggestion", "SELECT COUNT(*) FROM police", ErrUnknownName},
	{"comma_join", "SELECT COUNT(*) FROM bank, telecom", ErrUnsupported},
	{"left_join", "SELECT COUNT(*) FROM bank LEFT JOIN telecom USING (person_id)", ErrUnsupported},
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
	{"avg", "SELECT AVG(bank.balance) FROM bank", ErrUnsupported},
	{"variance", "SELECT COUNT(*), VARIANCE(bank.balance) FROM bank", ErrUnsupported},
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
	{"or", "SELECT COUNT(*) FROM bank b WHERE b.balance > 5 OR b.balance < 2", ErrUnsupported},
	{"or_in_parentheses", "SELECT COUNT(*) FROM bank WHERE bank.balance > 5 AND (bank.district = 'D01' OR bank.district = 'D02')", ErrUnsupported},
	{"not", "SELECT COUNT(*) FROM bank WHERE NOT bank.balance > 5", ErrUnsupported},
	{"in", "SELECT COUNT(*) FROM bank WHERE bank.balance IN (1, 2)", ErrUnsupported},
	{"not_in", "SELECT COUNT(*) FROM bank WHERE bank.district NOT IN ('D01')", ErrUnsupported},
	{"between", "SELECT COUNT(*) FROM bank WHERE bank.balance BETWEEN 1 AND 2", ErrUnsupported},
	{"is_null", "SELECT COUNT(*) FROM bank WHERE bank.balance IS NULL", ErrUnsupported},
	{"like", "SELECT COUNT(*) FROM bank WHERE bank.district LIKE 'D%'", ErrUnsupported},
	{"subquery_in_where", "SELECT COUNT(*) FROM bank WHERE bank.balance > (SELECT 1)", ErrUnsupported},
	{"exists", "SELECT COUNT(*) FROM bank WHERE EXISTS (SELECT 1)", ErrUnsupported},
	{"two_columns", "SELECT COUNT(*) FROM bank WHERE bank.balance > bank.cash_deposits_30d", ErrUnsupported},
	{"two_constants", "SELECT COUNT(*) FROM bank WHERE 1 = 1", ErrUnsupported},
	{"arithmetic", "SELECT COUNT(*) FROM bank WHERE bank.balance + 1 > 5", ErrUnsupported},
	{"type_cast", "SELECT COUNT(*) FROM bank WHERE bank.balance > '5'::int", ErrUnsupported},
	{"other_operator", "SELECT COUNT(*) FROM bank WHERE bank.district ~ 'D'", ErrUnsupported},
	{"aggregate_in_where", "SELECT COUNT(*) FROM bank WHERE COUNT(*) > 5", ErrInvalid},
	{"constant_condition", "SELECT COUNT(*) FROM bank WHERE true", ErrUnsupported},
	{"parameter", "SELECT COUNT(*) FROM bank WHERE bank.balance > $1", ErrUnsupported},
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
		{"SELECT COUNT(*) AS \"日本\" FROM bank b WHERE b.balance > 5 OR b.balance < 2", "", "OR"},
		{"SELECT COUNT(*) FROM bank WHERE bank.balance > 5 AND NOT bank.balance < 2", "", "NOT"},
		{"SELECT COUNT(*) FROM bank WHERE bank.district = 'D99'", "", "'D99'"},
		{"SELECT COUNT(*) FROM bank WHERE bank.district >= 'D01'", "", ">="},
		{"SELECT COUNT(*) FROM bank\n  LEFT JOIN telecom USING (person_id)", "", "LEFT"},
		{"SELECT COUNT(*) FROM bank JOIN telecom\n ON bank.person_id = telecom.person_id", "", "ON"},
		{"SELECT COUNT(*) FROM bank JOIN telecom USING (id)", "", "id"},
		{"SELECT COUNT(*) FROM telecom JOIN (bank JOIN utility USING (person_id)) USING (pid)", "", "pid"},
		{"SELECT COUNT(*) FROM bank\n-- group them\nGROUP BY bank.district", "\n", "GROUP"},
		{"SELECT COUNT(*) FROM bank HAVING COUNT(*) > 1", "", "HAVING"},
		{"SELECT COUNT(*) FROM bank ORDER BY 1 DESC", "", "ORDER"},
		{"SELECT COUNT(*) FROM bank LIMIT 5", "", "LIMIT"},
		{"SELECT COUNT(*) FROM bank, telecom", "", ","},
		{"SELECT COUNT(*), SUM(x.y) FROM bank", "", "x.y"},
		{"SELECT COUNT(*) FROM bank WHERE bank.balance > 5; SELECT 1", "", "SELECT 1"},
		{"SELECT COUNT(*) FROM bank WHERE bank.balance IN (1, 2)", "", "IN"},
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
