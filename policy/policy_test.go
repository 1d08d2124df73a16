package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/config"
	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/schema"
)

// examples are the demo parties' policies of docs/policy.md.
var examples = []string{"bank", "telecom", "utility"}

// tableOf returns the demo schema's table of a party.
func tableOf(t *testing.T, party string) []schema.Table {
	t.Helper()
	for _, tb := range gen.Schemas() {
		if tb.Name == party {
			return []schema.Table{tb}
		}
	}
	t.Fatalf("no demo table %q", party)
	return nil
}

func TestExamples(t *testing.T) {
	for _, party := range examples {
		t.Run(party, func(t *testing.T) {
			p, err := Load(filepath.Join("testdata", party+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if p.Party != party {
				t.Errorf("party %q", p.Party)
			}
			if err := p.Validate(tableOf(t, party)); err != nil {
				t.Fatal(err)
			}
			// The example in docs/policy.md is the same file.
			doc, err := os.ReadFile(filepath.Join("..", "docs", "policy.md"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join("testdata", party+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(doc), strings.TrimSpace(string(b))) {
				t.Errorf("docs/policy.md does not show testdata/%s.json verbatim", party)
			}
		})
	}
}

func TestParseBank(t *testing.T) {
	p, err := Load(filepath.Join("testdata", "bank.json"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 3 || len(p.Rules) != 2 {
		t.Fatalf("version %d, %d rules", p.Version, len(p.Rules))
	}
	r := p.Rules[0]
	if r.Name != "fraud-unit" || r.Exact != ExactWarrant || r.MaxEpsilonMilli != 1000 || r.MaxGroups != 10 || r.MinCollusion != 1 {
		t.Errorf("rule 1: %+v", r)
	}
	if got := strings.Join(r.Where, ","); got != "balance,cash_deposits_30d,district,transfers_abroad_30d" {
		t.Errorf("where sorted: %s", got)
	}
	if p.Rules[1].MaxEpsilonMilli != 500 {
		t.Errorf("rule 2 ε %d", p.Rules[1].MaxEpsilonMilli)
	}
	want := Budget{Period: 24 * time.Hour, PerAnalystMilli: 10_000, PerCaseMilli: 30_000}
	if p.Budget != want {
		t.Errorf("budget %+v, want %+v", p.Budget, want)
	}
}

// minimal is a valid policy's text with one rule; "@R" is replaced by
// rule fields and "@B" by top-level fields.
const minimal = `{"version": 1, "party": "bank", "rules": [{"name": "r", "analysts": ["*"], "max_epsilon": 1@R}]@B}`

func policyText(rule, top string) string {
	return strings.NewReplacer("@R", rule, "@B", top).Replace(minimal)
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		is   error
		want []string // substrings of the error
	}{
		{name: "unknown field with line", in: "{\n  \"version\": 1,\n  \"party\": \"bank\",\n  \"rules\": [{\"name\": \"r\", \"analysts\": [\"*\"],\n    \"agregate\": [\"balance\"]}]\n}",
			is: config.ErrUnknownField, want: []string{"bank.json:5:5:", `"agregate"`}},
		{name: "unknown top field", in: policyText("", `, "budgets": {}`), is: config.ErrUnknownField, want: []string{`"budgets"`}},
		{name: "wrong type", in: policyText(`, "max_groups": "ten"`, ""), want: []string{"bank.json:1:", "max_groups"}},
		{name: "trailing", in: policyText("", "") + " {}", is: config.ErrTrailingData},
		{name: "version zero", in: `{"party": "bank", "rules": [{"name": "r", "analysts": ["*"], "max_epsilon": 1}]}`, is: ErrInvalid, want: []string{"version must be an integer > 0"}},
		{name: "version fraction", in: `{"version": 1.5, "party": "bank", "rules": []}`, want: []string{`"version"`}},
		{name: "no party", in: `{"version": 1, "rules": [{"name": "r", "analysts": ["*"], "max_epsilon": 1}]}`, is: ErrInvalid, want: []string{`"party" is missing`}},
		{name: "no rules", in: `{"version": 1, "party": "bank"}`, is: ErrInvalid, want: []string{"no rules"}},
		{name: "rule without name", in: `{"version": 1, "party": "bank", "rules": [{"analysts": ["*"]}]}`, is: ErrInvalid, want: []string{"rule 1", `"name" is missing`}},
		{name: "no max_epsilon where exact is not always", in: `{"version": 1, "party": "bank", "rules": [{"name": "r", "analysts": ["*"], "exact": "warrant"}]}`,
			is: ErrInvalid, want: []string{"max_epsilon is required"}},
		{name: "duplicate rule names", in: `{"version": 1, "party": "bank", "rules": [{"name": "r", "analysts": ["*"], "max_epsilon": 1}, {"name": "r", "groups": ["g"], "max_epsilon": 1}]}`,
			is: ErrInvalid, want: []string{`rule 2 "r": name already used by rule 1`}},
		{name: "reserved name", in: `{"version": 1, "party": "bank", "rules": [{"name": "budget", "analysts": ["*"]}]}`, is: ErrInvalid, want: []string{"reserved"}},
		{name: "matches no one", in: `{"version": 1, "party": "bank", "rules": [{"name": "r", "where": ["*"]}]}`, is: ErrInvalid, want: []string{"match no one"}},
		{name: "bad exact", in: policyText(`, "exact": "sometimes"`, ""), is: ErrInvalid, want: []string{`exact "sometimes"`}},
		{name: "negative max_groups", in: policyText(`, "max_groups": -1`, ""), is: ErrInvalid, want: []string{"max_groups -1"}},
		{name: "negative min_collusion", in: policyText(`, "min_collusion": -2`, ""), is: ErrInvalid, want: []string{"min_collusion -2"}},
		{name: "ε four decimals", in: policyText(`, "max_epsilon": 0.0001`, ""), is: ErrInvalid, want: []string{"max_epsilon", "more than 3 decimals"}},
		{name: "ε exponent", in: policyText(`, "max_epsilon": 1e-3`, ""), is: ErrInvalid, want: []string{"exponent"}},
		{name: "ε negative", in: policyText(`, "max_epsilon": -1`, ""), is: ErrInvalid, want: []string{"negative"}},
		{name: "ε too large", in: policyText(`, "max_epsilon": 10000000`, ""), is: ErrInvalid, want: []string{"above the largest"}},
		{name: "ε not a number", in: policyText(`, "max_epsilon": "one"`, ""), want: []string{"bank.json:1:", "number"}},
		{name: "budget ε decimals", in: policyText("", `, "budget": {"period": "24h", "per_case": 1.2345}`), is: ErrInvalid, want: []string{"per_case", "more than 3 decimals"}},
		{name: "limit without period", in: policyText("", `, "budget": {"per_analyst": 10}`), is: ErrInvalid, want: []string{`needs a "period"`}},
		{name: "bad period", in: policyText("", `, "budget": {"period": "a day", "per_analyst": 10}`), is: ErrInvalid, want: []string{`"a day"`}},
		{name: "negative period", in: policyText("", `, "budget": {"period": "-1h", "per_analyst": 10}`), is: ErrInvalid, want: []string{"not positive"}},
		{name: "zero days", in: policyText("", `, "budget": {"period": "0d", "per_analyst": 10}`), is: ErrInvalid, want: []string{"days"}},
		{name: "wildcard not alone", in: policyText(`, "where": ["*", "balance"]`, ""), is: ErrInvalid, want: []string{"where", "only entry"}},
		{name: "wildcard group", in: `{"version": 1, "party": "bank", "rules": [{"name": "r", "groups": ["*"]}]}`, is: ErrInvalid, want: []string{"groups", "not allowed"}},
		{name: "bad column name", in: policyText(`, "aggregate": ["Balance"]`, ""), is: ErrInvalid, want: []string{"aggregate", `"Balance"`}},
		{name: "three-part column", in: policyText(`, "group_by": ["a.b.c"]`, ""), is: ErrInvalid, want: []string{"group_by"}},
		{name: "empty analyst", in: `{"version": 1, "party": "bank", "rules": [{"name": "r", "analysts": [""]}]}`, is: ErrInvalid, want: []string{"empty entry"}},
		{name: "empty file", in: ``, want: []string{"empty file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("bank.json", []byte(tc.in))
			if err == nil {
				t.Fatalf("no error; parsed %s", p.Canonical())
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("%v does not wrap %v", err, tc.is)
			}
			for _, w := range append(tc.want, "bank.json") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	bank := tableOf(t, "bank")
	two := append(tableOf(t, "bank"), tableOf(t, "utility")...)
	for _, tc := range []struct {
		name   string
		rule   string
		tables []schema.Table
		want   string // "" = valid
	}{
		{name: "bare column", rule: `, "where": ["balance"]`, tables: bank},
		{name: "qualified column", rule: `, "aggregate": ["bank.balance"]`, tables: bank},
		{name: "wildcard", rule: `, "group_by": ["*"]`, tables: bank},
		{name: "unknown column", rule: `, "where": ["blance"]`, tables: bank, want: `rule 1 "r": where: no table of this party has a data column "blance" (columns: bank.accounts, bank.balance`},
		{name: "unknown qualified column", rule: `, "aggregate": ["bank.kwh_30d"]`, tables: bank, want: `aggregate: table bank has no data column "kwh_30d"`},
		{name: "key column is no data column", rule: `, "where": ["person_id"]`, tables: bank, want: `"person_id"`},
		{name: "another party's table", rule: `, "group_by": ["utility.district"]`, tables: bank, want: `table "utility" is not this party's (tables: bank)`},
		{name: "two tables, bare", rule: `, "where": ["kwh_30d", "balance"]`, tables: two},
		{name: "two tables, qualified", rule: `, "where": ["utility.meter_tamper"]`, tables: two},
		{name: "no tables", rule: "", tables: nil, want: "no tables"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("bank.json", []byte(policyText(tc.rule, "")))
			if err != nil {
				t.Fatal(err)
			}
			err = p.Validate(tc.tables)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "bank.json: ") {
				t.Fatalf("error %v, want ErrInvalid naming bank.json and containing %q", err, tc.want)
			}
		})
	}
}

func TestEpsilon(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  bool
	}{
		{"0", 0, false}, {"1", 1000, false}, {"1.0", 1000, false}, {"0.5", 500, false},
		{"0.125", 125, false}, {"0.001", 1, false}, {"12.34", 12340, false}, {"007", 7000, false},
		{"1000000", MaxEpsilonMilli, false}, {"1000000.001", 0, true}, {"99999999", 0, true},
		{"0.0001", 0, true}, {"1.2500", 0, true}, {"1e3", 0, true}, {"-0.5", 0, true},
		{".5", 0, true}, {"1.", 0, true}, {"1.a", 0, true}, {"+1", 0, true}, {" 1", 0, true},
	} {
		got, err := ParseEpsilon(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseEpsilon(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil {
			if back, _ := ParseEpsilon(FormatEpsilon(got)); back != got {
				t.Errorf("FormatEpsilon(%d) = %q does not parse back", got, FormatEpsilon(got))
			}
		}
	}
	for m, want := range map[uint64]string{0: "0", 1: "0.001", 10: "0.01", 500: "0.5", 1000: "1", 1250: "1.25", 30000: "30"} {
		if got := FormatEpsilon(m); got != want {
			t.Errorf("FormatEpsilon(%d) = %q, want %q", m, got, want)
		}
	}
}

func TestCanonical(t *testing.T) {
	a := `{"version": 3, "party": "bank",
	  "rules": [{"name": "r", "analysts": ["mpcq://analyst/b", "mpcq://analyst/a"], "where": ["district", "balance"],
	             "max_epsilon": 1.0, "exact": "never"}],
	  "budget": {"period": "24h", "per_analyst": 10}}`
	// The same policy: keys reordered, lists reordered and repeated,
	// defaults spelled out or left out, ε and period written differently.
	b := `{"budget": {"per_case": 0, "per_analyst": 10.000, "period": "1d"},
	  "rules": [{"max_epsilon": 1, "where": ["balance", "district", "balance"], "analysts": ["mpcq://analyst/a", "mpcq://analyst/b"],
	             "name": "r", "groups": [], "max_groups": 0, "min_collusion": 0}],
	  "party": "bank", "version": 3}`
	pa, err := Parse("a.json", []byte(a))
	if err != nil {
		t.Fatal(err)
	}
	pb, err := Parse("b.json", []byte(b))
	if err != nil {
		t.Fatal(err)
	}
	if string(pa.Canonical()) != string(pb.Canonical()) || pa.Hash() != pb.Hash() {
		t.Fatalf("same policy, different canonical forms:\n%s\n%s", pa.Canonical(), pb.Canonical())
	}
	const want = `{"version":3,"party":"bank","rules":[{"name":"r","analysts":["mpcq://analyst/a","mpcq://analyst/b"],"groups":[],"where":["balance","district"],"aggregate":[],"group_by":[],"max_groups":0,"exact":"never","max_epsilon":1,"min_collusion":0}],"budget":{"period":"24h0m0s","per_analyst":10,"per_case":0}}`
	if got := string(pa.Canonical()); got != want {
		t.Errorf("canonical\n got %s\nwant %s", got, want)
	}
	// Any change of meaning changes the hash.
	for _, change := range []string{
		strings.Replace(a, `"version": 3`, `"version": 4`, 1),
		strings.Replace(a, `"max_epsilon": 1.0`, `"max_epsilon": 1.001`, 1),
		strings.Replace(a, `"per_analyst": 10`, `"per_analyst": 11`, 1),
		strings.Replace(a, `"24h"`, `"25h"`, 1),
		strings.Replace(a, `"exact": "never"`, `"exact": "always"`, 1),
		strings.Replace(a, `"district", "balance"`, `"district"`, 1),
	} {
		pc, err := Parse("c.json", []byte(change))
		if err != nil {
			t.Fatal(err)
		}
		if pc.Hash() == pa.Hash() {
			t.Errorf("changed policy has the same hash: %s", pc.Canonical())
		}
	}
	// Round trip of every example.
	for _, party := range examples {
		p, err := Load(filepath.Join("testdata", party+".json"))
		if err != nil {
			t.Fatal(err)
		}
		q, err := Parse("canonical", p.Canonical())
		if err != nil {
			t.Fatalf("%s: canonical form does not parse: %v\n%s", party, err, p.Canonical())
		}
		if q.Hash() != p.Hash() {
			t.Errorf("%s: canonical round trip changes the hash", party)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.json"))
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.json") {
		t.Fatalf("error %v", err)
	}
}
