package plan

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/schema"
)

// corpusSeeds returns the corpus queries without a *testing.T (for fuzz
// seeds).
func corpusSeeds(f *testing.F) []string {
	data, err := os.ReadFile(filepath.Join("testdata", "corpus.sql"))
	if err != nil {
		f.Fatal(err)
	}
	var out []string
	for _, block := range strings.Split(string(data), "\n\n") {
		lines := strings.Split(strings.Trim(block, "\n"), "\n")
		if strings.HasPrefix(lines[0], "-- name: ") {
			out = append(out, strings.Join(lines[1:], "\n"))
		}
	}
	return out
}

// FuzzParse checks that Parse never panics, that every error is an *Error
// of exactly one class pointing inside the text, and that every accepted
// query's canonical text parses back to the same plan, whose terms are
// within MaxTerms and whose locals are normalized and accepted by their parties. It parses
// against both the test consortium and the synthetic one.
func FuzzParse(f *testing.F) {
	for _, tc := range invalidCases {
		f.Add(tc.sql)
	}
	for _, q := range corpusSeeds(f) {
		f.Add(q)
	}
	for _, q := range []string{
		"SELECT COUNT(*) FROM bank",
		"SELECT COUNT(*), SUM(bank.cash_deposits_30d) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) WHERE telecom.flagged_calls_30d > 5 AND utility.kwh_30d > 3000",
		"select sum(b.balance) from bank b join utility u using (person_id) where u.meter_tamper = 1 and b.district = 'D07' and -5 < b.balance",
		"SELECT COUNT(*) AS \"x\"\"y\" FROM bank WHERE bank.balance <= 0x7FFF_FFFF_FFFF",
		"SELECT COUNT(*) FROM telecom JOIN (bank JOIN utility USING (person_id)) USING (person_id)",
		"SELECT COUNT(*) FROM bank WHERE bank.balance BETWEEN SYMMETRIC bank.cash_deposits_30d AND 5",
		"SELECT COUNT(*) FROM bank WHERE bank.balance NOT BETWEEN SYMMETRIC 9 AND 2 OR NOT (bank.district = 'D01' AND NOT bank.balance IN (1, 2))",
		"SELECT utility.tariff AS t, COUNT(*) FROM utility JOIN telecom USING (person_id) WHERE (utility.kwh_30d - -3) * 2 > utility.kwh_avg_12m OR telecom.calls_30d < 3 GROUP BY utility.tariff",
	} {
		f.Add(q)
	}
	consortia := []schema.Consortium{testConsortium(), gen.Consortium()}
	sentinels := []error{ErrSyntax, ErrUnsupported, ErrUnknownName, ErrType, ErrInvalid}
	f.Fuzz(func(t *testing.T, sql string) {
		for _, cs := range consortia {
			p, err := Parse(sql, cs)
			if err != nil {
				if p != nil {
					t.Fatalf("both a plan and an error: %v", err)
				}
				var pe *Error
				if !errors.As(err, &pe) {
					t.Fatalf("error %v is %T, want *Error", err, err)
				}
				n := 0
				for _, s := range sentinels {
					if errors.Is(err, s) {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("error %v matches %d sentinels, want 1", err, n)
				}
				lines := strings.Split(sql, "\n")
				if pe.Line < 1 || pe.Line > len(lines) || pe.Column < 1 || pe.Column > utf8.RuneCountInString(lines[pe.Line-1])+1 {
					t.Fatalf("error %v points outside the text", err)
				}
				continue
			}
			if len(p.Tables) == 0 || len(p.Aggregates) == 0 || p.Canonical == "" || len(p.Terms) == 0 || len(p.Terms) > MaxTerms {
				t.Fatalf("incomplete plan %+v", p)
			}
			again, err := Parse(p.Canonical, cs)
			if err != nil {
				t.Fatalf("canonical %q of %q does not parse: %v", p.Canonical, sql, err)
			}
			if !reflect.DeepEqual(again, p) {
				t.Fatalf("canonical %q parses to %+v, want %+v", p.Canonical, again, p)
			}
			checkLocals(t, p, cs)
		}
	})
}
