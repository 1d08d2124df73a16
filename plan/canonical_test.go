package plan

import (
	"reflect"
	"testing"
)

// TestCanonical checks that spellings of one query share a canonical text
// and that different queries do not.
func TestCanonical(t *testing.T) {
	groups := []struct {
		name      string
		spellings []string
	}{
		{"count bank", []string{
			"SELECT COUNT(*) FROM bank",
			"select count(*) from bank",
			"  SELECT\n\tCOUNT ( * )\nFROM   bank ;",
			"SELECT COUNT(*) AS \"COUNT(*)\" FROM bank -- trailing comment",
			"SELECT /* c */ COUNT(*) FROM bank AS b",
			"SELECT COUNT(*) FROM \"bank\"",
		}},
		{"count bank named", []string{
			"SELECT COUNT(*) AS n FROM bank",
			"SELECT COUNT(*) n FROM bank",
			"SELECT COUNT(*) AS N FROM bank",
			`SELECT count(*) AS "n" FROM bank`,
		}},
		{"count bank named upper", []string{
			`SELECT COUNT(*) AS "N" FROM bank`,
		}},
		{"filtered join", []string{
			"SELECT COUNT(*), SUM(bank.balance) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 5 AND bank.district <> 'D02'",
			"SELECT COUNT(*), SUM(b.balance) FROM telecom t JOIN bank b USING (person_id) WHERE b.district != 'D02' AND 5 < t.flagged_calls_30d",
			"select count(*), sum(B.BALANCE) from TELECOM as T inner join BANK as B using (PERSON_ID) where (t.flagged_calls_30d > 5) and (b.district <> 'D02') and t.flagged_calls_30d > 5",
			"SELECT COUNT(*), SUM(bank.balance) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > +5 AND bank.district <> 'D02'",
		}},
		{"filtered join other threshold", []string{
			"SELECT COUNT(*), SUM(bank.balance) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 6 AND bank.district <> 'D02'",
		}},
		{"filtered join >=", []string{
			"SELECT COUNT(*), SUM(bank.balance) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d >= 5 AND bank.district <> 'D02'",
		}},
		{"filtered join other category", []string{
			"SELECT COUNT(*), SUM(bank.balance) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 5 AND bank.district <> 'D03'",
		}},
		{"filtered join other order of outputs", []string{
			"SELECT SUM(bank.balance), COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 5 AND bank.district <> 'D02'",
		}},
		{"filtered join other table order", []string{
			"SELECT COUNT(*), SUM(bank.balance) FROM bank JOIN telecom USING (person_id) WHERE telecom.flagged_calls_30d > 5 AND bank.district <> 'D02'",
		}},
		{"three tables", []string{
			"SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id)",
			"SELECT COUNT(*) FROM telecom JOIN (bank JOIN utility USING (person_id)) USING (person_id)",
		}},
		{"sum kwh", []string{
			"SELECT SUM(utility.kwh_30d) FROM utility WHERE utility.kwh_30d > -1",
			"SELECT SUM(utility.kwh_30d) FROM utility WHERE -1 < utility.kwh_30d",
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

// TestCanonicalQuotesCategory checks that category values needing quoting
// survive the canonical round trip.
func TestCanonicalQuotesCategory(t *testing.T) {
	cs := testConsortium()
	cs.Tables[0].Columns[0].Categories = []string{"O'Neil", `back\slash`, "naïve", "two  spaces"}
	for i, v := range cs.Tables[0].Columns[0].Categories {
		t.Run(v, func(t *testing.T) {
			p, err := Parse("SELECT COUNT(*) FROM telecom WHERE telecom.district = "+sqlString(v), cs)
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := p.Terms[0].Locals[0].Expr.(Cmp); !ok || c.Right != (AConst{V: int64(i)}) {
				t.Fatalf("condition %+v, want district = %d", p.Terms[0].Locals[0].Expr, i)
			}
			again, err := Parse(p.Canonical, cs)
			if err != nil {
				t.Fatalf("Parse(%q): %v", p.Canonical, err)
			}
			if again.Canonical != p.Canonical || !reflect.DeepEqual(again.Terms, p.Terms) {
				t.Errorf("round trip of %q gave %q %+v", p.Canonical, again.Canonical, again.Terms)
			}
		})
	}
}
