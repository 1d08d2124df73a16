package policy

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/plan"
)

func loadExample(t *testing.T, party string) *Policy {
	t.Helper()
	p, err := Load(filepath.Join("testdata", party+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	alice = "mpcq://analyst/alice"
	bob   = "mpcq://analyst/bob"
	carol = "mpcq://analyst/carol"
)

func TestCheck(t *testing.T) {
	bank := loadExample(t, "bank")
	utility := loadExample(t, "utility")
	// ok is a Use the bank's fraud-unit rule allows.
	ok := func(edit func(*Use)) Use {
		u := Use{Party: "bank", Analyst: alice, Where: []string{"bank.balance"}, Aggregate: []string{"bank.balance"},
			GroupBy: []string{"bank.district"}, NumGroups: 10, EpsilonMilli: 1000, Collusion: 1}
		if edit != nil {
			edit(&u)
		}
		return u
	}
	warrant := &Warrant{ID: "W-17", Case: "case-9", Exact: true}
	for _, tc := range []struct {
		name string
		p    *Policy
		u    Use
		rule string // refusing rule; "" = allowed
		want string // substring of the refusal
	}{
		{name: "allowed", p: bank, u: ok(nil)},
		{name: "count only, no columns", p: bank, u: ok(func(u *Use) { u.Where, u.Aggregate, u.GroupBy, u.NumGroups = nil, nil, nil, 1 })},
		{name: "where column", p: bank, u: ok(func(u *Use) { u.Where = []string{"bank.balance", "bank.accounts"} }),
			rule: "fraud-unit", want: "column bank.accounts may not be used in WHERE (allowed: balance, cash_deposits_30d, district, transfers_abroad_30d)"},
		{name: "aggregate column", p: bank, u: ok(func(u *Use) { u.Aggregate = []string{"bank.transfers_abroad_30d"} }),
			rule: "fraud-unit", want: "column bank.transfers_abroad_30d may not be used in aggregates"},
		{name: "group by column", p: bank, u: ok(func(u *Use) { u.GroupBy = []string{"bank.accounts"} }),
			rule: "fraud-unit", want: "column bank.accounts may not be used in GROUP BY (allowed: district)"},
		{name: "empty allowed list", p: utility, u: Use{Party: "utility", Analyst: bob, Aggregate: []string{"utility.kwh_30d"}, EpsilonMilli: 100},
			rule: "everyone-counts", want: "may not be used in aggregates (SUM, AVG, VARIANCE, STDDEV) (allowed: none)"},
		{name: "wildcard columns", p: loadExample(t, "telecom"), u: Use{Party: "telecom", Analyst: bob, Groups: []string{"cybercrime"},
			Where: []string{"telecom.phone_lines", "telecom.calls_30d"}, EpsilonMilli: 2000, Collusion: 1}},
		{name: "qualified allowed column", p: utility, u: Use{Party: "utility", Analyst: carol, Where: []string{"utility.meter_tamper"}, Collusion: 1}},
		{name: "max groups", p: bank, u: ok(func(u *Use) { u.NumGroups = 11 }), rule: "fraud-unit", want: "the query forms 11 groups, more than max_groups 10"},
		{name: "max epsilon", p: bank, u: ok(func(u *Use) { u.EpsilonMilli = 1001 }), rule: "fraud-unit", want: "ε 1.001 is above max_epsilon 1"},
		{name: "epsilon at max", p: bank, u: ok(func(u *Use) { u.EpsilonMilli = 1000 })},
		{name: "min collusion", p: bank, u: ok(func(u *Use) { u.Analyst, u.Where, u.Aggregate, u.GroupBy, u.EpsilonMilli = bob, nil, nil, nil, 500 }),
			rule: "statistics", want: "collusion tolerance k=1 is below min_collusion 2"},
		{name: "no rule", p: utility, u: Use{Party: "utility", Analyst: "", EpsilonMilli: 100},
			rule: RuleNone, want: "no rule of policy version 2 applies to analyst  (groups: none)"},
		{name: "no rule, groups named", p: loadExample(t, "telecom"), u: Use{Party: "telecom", Analyst: alice, Groups: []string{"traffic"}},
			rule: RuleNone, want: "party telecom refused: no rule of policy version 1 applies to analyst mpcq://analyst/alice (groups: traffic)"},
		{name: "other party", p: bank, u: ok(func(u *Use) { u.Party = "telecom" }), rule: RuleNone, want: "not party telecom's"},

		// First match: bob falls through fraud-unit to statistics, which
		// does not allow balance even though fraud-unit would.
		{name: "first match: fall through", p: bank, u: ok(func(u *Use) { u.Analyst = bob; u.Collusion = 2 }),
			rule: "statistics", want: "column bank.balance may not be used in WHERE (allowed: accounts, district)"},
		// Alice matches fraud-unit first, so statistics' lower ε cap does
		// not apply to her.
		{name: "first match: earlier rule wins", p: bank, u: ok(func(u *Use) { u.EpsilonMilli = 900 })},
		// A group alone matches the rule.
		{name: "group match", p: bank, u: ok(func(u *Use) { u.Analyst = bob; u.Groups = []string{"audit", "fraud"} })},
		{name: "group mismatch falls through", p: bank, u: ok(func(u *Use) { u.Analyst = bob; u.Groups = []string{"Fraud"}; u.Collusion = 2 }),
			rule: "statistics"},

		// Exact modes.
		{name: "exact never", p: bank, u: ok(func(u *Use) { u.Analyst, u.Where, u.Aggregate, u.EpsilonMilli, u.Collusion = bob, nil, nil, 0, 2 }),
			rule: "statistics", want: "exact answers are not allowed; ask with ε ≤ 0.5"},
		{name: "exact warrant without warrant", p: bank, u: ok(func(u *Use) { u.EpsilonMilli = 0 }),
			rule: "fraud-unit", want: "an exact answer needs a warrant whose scope allows exact answers"},
		{name: "exact warrant, warrant without exact scope", p: bank, u: ok(func(u *Use) { u.EpsilonMilli = 0; u.Warrant = &Warrant{ID: "W-3", Case: "c"} }),
			rule: "fraud-unit", want: "warrant W-3 does not allow exact answers"},
		{name: "exact warrant for another case", p: bank, u: ok(func(u *Use) { u.EpsilonMilli = 0; u.Warrant = warrant; u.Case = "case-10" }),
			rule: "fraud-unit", want: `warrant W-17 is for case "case-9", not the query's case "case-10"`},
		{name: "exact warrant", p: bank, u: ok(func(u *Use) { u.EpsilonMilli = 0; u.Warrant = warrant; u.Case = "case-9" })},
		{name: "exact always", p: utility, u: Use{Party: "utility", Analyst: carol, Where: []string{"utility.kwh_30d"}, Collusion: 1}},
		{name: "noisy without ε cap", p: utility, u: Use{Party: "utility", Analyst: carol, EpsilonMilli: 50_000, Collusion: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Check(tc.u)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var r *Refusal
			if !errors.As(err, &r) || !errors.Is(err, ErrRefused) {
				t.Fatalf("error %v is not a *Refusal wrapping ErrRefused", err)
			}
			if r.Rule != tc.rule || r.Party != tc.p.Party {
				t.Errorf("refused by party %q rule %q, want %q %q", r.Party, r.Rule, tc.p.Party, tc.rule)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

func TestRefusalText(t *testing.T) {
	for _, tc := range []struct {
		r    Refusal
		want string
	}{
		{Refusal{Party: "bank", Rule: "fraud-unit", Reason: "column bank.balance may not be used in WHERE (allowed: district)"},
			`party bank refused by rule "fraud-unit": column bank.balance may not be used in WHERE (allowed: district)`},
		{Refusal{Party: "bank", Rule: RuleNone, Reason: "x"}, "party bank refused: x"},
		{Refusal{Party: "bank", Rule: RuleBudget, Reason: "x"}, "party bank refused by its ε budget: x"},
	} {
		if got := tc.r.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestUseOf(t *testing.T) {
	cs := gen.Consortium()
	for _, tc := range []struct {
		sql                      string
		tables                   []string
		where, aggregate, groupB []string
		groups                   int
	}{
		{sql: "SELECT COUNT(*) FROM bank", tables: []string{"bank"}, groups: 1},
		{sql: "SELECT SUM(bank.balance) FROM bank WHERE bank.accounts > 2 AND bank.accounts + bank.transfers_abroad_30d * 2 < 9",
			tables: []string{"bank"}, where: []string{"bank.accounts", "bank.transfers_abroad_30d"}, aggregate: []string{"bank.balance"}, groups: 1},
		{sql: "SELECT bank.district, AVG(bank.balance), STDDEV(telecom.calls_30d) FROM bank JOIN telecom USING (person_id) " +
			"WHERE (telecom.flagged_calls_30d > 3 OR bank.cash_deposits_30d > 10000) AND NOT telecom.district IN ('D01', 'D02') GROUP BY bank.district",
			tables: []string{"bank"}, where: []string{"bank.cash_deposits_30d"}, aggregate: []string{"bank.balance"}, groupB: []string{"bank.district"}, groups: 10},
		{sql: "SELECT bank.district, AVG(bank.balance), STDDEV(telecom.calls_30d) FROM bank JOIN telecom USING (person_id) " +
			"WHERE (telecom.flagged_calls_30d > 3 OR bank.cash_deposits_30d > 10000) AND NOT telecom.district IN ('D01', 'D02') GROUP BY bank.district",
			tables: []string{"telecom"}, where: []string{"telecom.district", "telecom.flagged_calls_30d"}, aggregate: []string{"telecom.calls_30d"}, groups: 10},
		{sql: "SELECT COUNT(*) FROM bank WHERE NOT (bank.accounts > 2 AND bank.balance < 5 * bank.cash_deposits_30d) OR bank.district = 'D03'",
			tables: []string{"bank"}, where: []string{"bank.accounts", "bank.balance", "bank.cash_deposits_30d", "bank.district"}, groups: 1},
		{sql: "SELECT COUNT(*) FROM telecom LEFT JOIN utility USING (person_id) WHERE utility.person_id IS NULL",
			tables: []string{"utility"}, groups: 1},
		{sql: "SELECT utility.district, telecom.district, COUNT(*) FROM telecom JOIN utility USING (person_id) WHERE utility.meter_tamper = 1 GROUP BY utility.district, telecom.district",
			tables: []string{"utility", "telecom"}, where: []string{"utility.meter_tamper"}, groupB: []string{"telecom.district", "utility.district"}, groups: 100},
	} {
		t.Run(tc.sql, func(t *testing.T) {
			p, err := plan.Parse(tc.sql, cs)
			if err != nil {
				t.Fatal(err)
			}
			u := UseOf(p, tc.tables)
			for _, c := range []struct {
				name      string
				got, want []string
			}{{"where", u.Where, tc.where}, {"aggregate", u.Aggregate, tc.aggregate}, {"group by", u.GroupBy, tc.groupB}} {
				if !slices.Equal(c.got, c.want) && len(c.got)+len(c.want) > 0 {
					t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
				}
			}
			if u.NumGroups != tc.groups {
				t.Errorf("groups %d, want %d", u.NumGroups, tc.groups)
			}
		})
	}
}
