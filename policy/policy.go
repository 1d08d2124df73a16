// Package policy is an institution's data-use policy and its enforcement
// logic: which analysts (by identity URI or certificate group) may use
// which of the institution's columns in WHERE, in aggregates and in
// GROUP BY, how many groups a query may form, whether exact (noise-free)
// answers are allowed (never, under a warrant, or always), the largest ε
// per query, the smallest collusion tolerance, and the ε budget each
// analyst and each case may spend over a rolling period.
//
// The institution's data protection officer edits the policy as a JSON
// file (see docs/policy.md); Load and Parse read it strictly (an unknown
// field is an error naming the file, line and column) and Validate checks
// its columns against the party's tables. Canonical is the deterministic
// encoding the ledger stores, Hash its SHA-256. Check decides one query
// (a Use, built from the plan by UseOf plus what the party knows of the
// analyst, the warrant and the query's ε and collusion tolerance);
// CheckBudget and Remaining decide against the charges of earlier
// queries, which a Book keeps. History answers which policy version was in
// force for a query at a given ledger index.
//
// ε is an integer number of thousandths everywhere (EpsilonMilli, ε =
// m/1000): the file's decimals are parsed exactly, more than three
// decimals are refused, and no arithmetic uses floating point.
//
// Package policy is pure: apart from Load it does no I/O, it reads no
// clock (times are passed in), holds no package-level state and imports no
// network, ledger or warrant code. It does not persist the Book (the party
// does, with its atomic file writer), verify warrants or certificates (the
// party maps a verified warrant into a Warrant and the certificate's
// groups into Use.Groups), nor add noise.
package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mpcq/mpcq/internal/config"
)

// ErrInvalid is wrapped by every error about a policy file's content
// (Parse, Load, Validate) other than the strict decoder's own errors
// (unknown fields, wrong types, syntax), which come from internal/config.
var ErrInvalid = errors.New("invalid policy")

// Wildcard is the list entry meaning "every": every analyst in Analysts,
// every column of the party's tables in Where, Aggregate and GroupBy.
const Wildcard = "*"

// Rule names reserved for refusals that no rule of the file made (see
// Refusal.Rule); a policy may not name a rule so.
const (
	// RuleNone is Refusal.Rule when no rule matches the analyst.
	RuleNone = "no-rule"
	// RuleBudget is Refusal.Rule when the ε budget refuses the query.
	RuleBudget = "budget"
)

// MaxEpsilonMilli is the largest ε (in thousandths) a policy may name:
// ε = 1,000,000. It keeps every sum of ε values far from overflow.
const MaxEpsilonMilli = 1_000_000_000

// Exact says when a rule allows exact (noise-free, ε = 0) answers.
type Exact string

// The exact modes.
const (
	// ExactNever refuses exact answers: every query must be noisy. It is
	// the default.
	ExactNever Exact = "never"
	// ExactWarrant allows an exact answer only under a verified warrant
	// whose scope allows exact answers (Warrant.Exact) for the query's case.
	ExactWarrant Exact = "warrant"
	// ExactAlways allows exact answers to every query the rule matches.
	ExactAlways Exact = "always"
)

func (e Exact) valid() bool {
	return e == ExactNever || e == ExactWarrant || e == ExactAlways
}

// Policy is one version of a party's policy: rules tried in order, the
// first whose analysts or groups match the analyst applies, and the ε
// budget. A Policy from Parse or Load is structurally valid; Validate
// checks its columns against the party's tables. A Policy is not modified
// by any method and is safe for concurrent use.
type Policy struct {
	// Version is the edit number, > 0, increasing with each edit.
	Version int64
	// Party is the party (institution) name the policy belongs to.
	Party string
	// Rules are tried in order; no matching rule means refused.
	Rules []Rule
	// Budget limits the ε spent per analyst and per case.
	Budget Budget

	// source names where the policy came from (the file), for errors.
	source string
}

// Rule is one rule of a policy: who it applies to and what it allows.
// Column lists hold "column" (that column in any of the party's tables),
// "table.column", or the single entry Wildcard.
type Rule struct {
	// Name identifies the rule in refusals; unique, non-empty.
	Name string
	// Analysts are identity URIs (or Wildcard) the rule applies to.
	Analysts []string
	// Groups are analyst groups (the certificate's OU) the rule applies
	// to. A rule matches an analyst in Analysts or in any of Groups.
	Groups []string
	// Where are the columns allowed in WHERE conditions.
	Where []string
	// Aggregate are the columns allowed in SUM, AVG, VARIANCE and STDDEV.
	Aggregate []string
	// GroupBy are the columns allowed in GROUP BY.
	GroupBy []string
	// MaxGroups is the most groups a query may form; 0 means no limit
	// beyond the planner's own (plan.MaxGroups).
	MaxGroups int
	// Exact says when exact answers are allowed.
	Exact Exact
	// MaxEpsilonMilli is the largest ε per noisy query in thousandths;
	// 0 means no per-query limit (the budget still applies).
	MaxEpsilonMilli uint64
	// MinCollusion is the smallest collusion tolerance k a query may
	// have; 0 means any.
	MinCollusion int
}

// Budget is the ε a single analyst and a single case may spend over a
// rolling period, in thousandths; a zero limit is unlimited.
type Budget struct {
	// Period is the length of the rolling window; set iff a limit is.
	Period time.Duration
	// PerAnalystMilli is the ε one analyst may spend per period.
	PerAnalystMilli uint64
	// PerCaseMilli is the ε spent on one case (by any analyst) per period.
	PerCaseMilli uint64
}

// Limited reports whether the budget limits anything.
func (b Budget) Limited() bool { return b.PerAnalystMilli != 0 || b.PerCaseMilli != 0 }

// fileRule is a rule as written in the file.
type fileRule struct {
	Name         string      `json:"name"`
	Analysts     []string    `json:"analysts"`
	Groups       []string    `json:"groups"`
	Where        []string    `json:"where"`
	Aggregate    []string    `json:"aggregate"`
	GroupBy      []string    `json:"group_by"`
	MaxGroups    int         `json:"max_groups"`
	Exact        Exact       `json:"exact"`
	MaxEpsilon   json.Number `json:"max_epsilon"`
	MinCollusion int         `json:"min_collusion"`
}

// fileBudget is the budget as written in the file.
type fileBudget struct {
	Period     string      `json:"period"`
	PerAnalyst json.Number `json:"per_analyst"`
	PerCase    json.Number `json:"per_case"`
}

// file is the policy file. Field order is the canonical encoding's.
type file struct {
	Version int64      `json:"version"`
	Party   string     `json:"party"`
	Rules   []fileRule `json:"rules"`
	Budget  fileBudget `json:"budget"`
}

// Load reads and parses the policy file at path (see Parse).
func Load(path string) (*Policy, error) {
	var f file
	if err := config.Load(path, &f); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return fromFile(path, f)
}

// Parse parses a policy file's bytes; name (the file name) is used in
// errors. The decoding is strict (unknown fields, wrong types and
// trailing data are errors with line and column, from internal/config);
// the content must be structurally valid (errors wrap ErrInvalid):
// version > 0, a party, at least one rule, rule names non-empty, unique
// and not reserved (RuleNone, RuleBudget), every rule naming analysts or
// groups, Wildcard alone in its list and only in analysts and column
// lists, column names well formed, a known exact mode, max_groups and
// min_collusion not negative, ε values non-negative decimals with at
// most three decimals and at most MaxEpsilonMilli/1000, and a positive
// budget period iff a budget limit is set. Columns are checked against
// the party's tables by Validate.
func Parse(name string, b []byte) (*Policy, error) {
	var f file
	if err := config.Decode(name, b, &f); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return fromFile(name, f)
}

// fromFile validates a decoded file and builds the Policy.
func fromFile(name string, f file) (*Policy, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", name, ErrInvalid, fmt.Sprintf(format, args...))
	}
	if f.Version <= 0 {
		return nil, bad("version must be an integer > 0, got %d", f.Version)
	}
	if f.Party == "" {
		return nil, bad(`"party" is missing`)
	}
	if len(f.Rules) == 0 {
		return nil, bad("no rules: a policy without rules refuses every query; write at least one rule")
	}
	p := &Policy{Version: f.Version, Party: f.Party, source: name}
	names := map[string]int{}
	for i, fr := range f.Rules {
		where := fmt.Sprintf("rule %d", i+1)
		if fr.Name != "" {
			where = fmt.Sprintf("rule %d %q", i+1, fr.Name)
		}
		r, err := ruleFromFile(fr)
		if err != nil {
			return nil, bad("%s: %s", where, err)
		}
		if j, dup := names[r.Name]; dup {
			return nil, bad("%s: name already used by rule %d", where, j)
		}
		names[r.Name] = i + 1
		p.Rules = append(p.Rules, r)
	}
	bud, err := budgetFromFile(f.Budget)
	if err != nil {
		return nil, bad("budget: %s", err)
	}
	p.Budget = bud
	return p, nil
}

// ruleFromFile checks one rule; errors are plain messages.
func ruleFromFile(fr fileRule) (Rule, error) {
	r := Rule{
		Name:         fr.Name,
		MaxGroups:    fr.MaxGroups,
		Exact:        fr.Exact,
		MinCollusion: fr.MinCollusion,
	}
	switch r.Name {
	case "":
		return r, errors.New(`"name" is missing`)
	case RuleNone, RuleBudget:
		return r, fmt.Errorf("name %q is reserved for refusals no rule made", r.Name)
	}
	if r.Exact == "" {
		r.Exact = ExactNever
	}
	if !r.Exact.valid() {
		return r, fmt.Errorf("exact %q is not %q, %q or %q", fr.Exact, ExactNever, ExactWarrant, ExactAlways)
	}
	if r.MaxGroups < 0 {
		return r, fmt.Errorf("max_groups %d is negative", r.MaxGroups)
	}
	if r.MinCollusion < 0 {
		return r, fmt.Errorf("min_collusion %d is negative", r.MinCollusion)
	}
	var err error
	if r.MaxEpsilonMilli, err = parseEpsilon(fr.MaxEpsilon); err != nil {
		return r, fmt.Errorf("max_epsilon: %w", err)
	}
	if len(fr.Analysts) == 0 && len(fr.Groups) == 0 {
		return r, errors.New(`names neither "analysts" nor "groups": it would match no one`)
	}
	lists := []struct {
		key      string
		in       []string
		out      *[]string
		wildcard bool
		column   bool
	}{
		{"analysts", fr.Analysts, &r.Analysts, true, false},
		{"groups", fr.Groups, &r.Groups, false, false},
		{"where", fr.Where, &r.Where, true, true},
		{"aggregate", fr.Aggregate, &r.Aggregate, true, true},
		{"group_by", fr.GroupBy, &r.GroupBy, true, true},
	}
	for _, l := range lists {
		out, err := normList(l.in, l.wildcard, l.column)
		if err != nil {
			return r, fmt.Errorf("%s: %w", l.key, err)
		}
		*l.out = out
	}
	if r.MaxEpsilonMilli == 0 && r.Exact != ExactAlways {
		// A noisy answer at a huge ε is an exact answer: without a cap,
		// "exact": "never" or "warrant" would not hold.
		return r, fmt.Errorf(`max_epsilon is required (a positive ε) unless "exact" is "always": a query with a huge ε gets an exact answer`)
	}
	return r, nil
}

// normList checks a list and returns it sorted and without repeats.
func normList(in []string, wildcard, column bool) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		switch {
		case s == "":
			return nil, errors.New("empty entry")
		case s == Wildcard:
			if !wildcard {
				return nil, fmt.Errorf("%q is not allowed here", Wildcard)
			}
			if len(in) != 1 {
				return nil, fmt.Errorf("%q must be the list's only entry", Wildcard)
			}
		case column:
			if err := checkColumnName(s); err != nil {
				return nil, err
			}
		case strings.TrimSpace(s) != s:
			return nil, fmt.Errorf("entry %q has leading or trailing space", s)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// checkColumnName checks "column" or "table.column" for identifier shape.
func checkColumnName(s string) error {
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return fmt.Errorf("column %q is not \"column\" or \"table.column\"", s)
	}
	for _, p := range parts {
		if !isIdent(p) {
			return fmt.Errorf("column %q is not \"column\" or \"table.column\" of lower-case identifiers", s)
		}
	}
	return nil
}

// isIdent matches schema's identifiers: [a-z][a-z0-9_]{0,62}.
func isIdent(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// budgetFromFile checks the budget; errors are plain messages.
func budgetFromFile(fb fileBudget) (Budget, error) {
	var b Budget
	var err error
	if b.PerAnalystMilli, err = parseEpsilon(fb.PerAnalyst); err != nil {
		return b, fmt.Errorf("per_analyst: %w", err)
	}
	if b.PerCaseMilli, err = parseEpsilon(fb.PerCase); err != nil {
		return b, fmt.Errorf("per_case: %w", err)
	}
	if fb.Period != "" {
		if b.Period, err = parsePeriod(fb.Period); err != nil {
			return b, fmt.Errorf("period: %w", err)
		}
	}
	switch {
	case b.Limited() && b.Period <= 0:
		return b, errors.New(`a limit needs a "period" > 0 (e.g. "24h" or "30d")`)
	case !b.Limited():
		b.Period = 0 // a period without limits limits nothing
	}
	return b, nil
}

// parsePeriod parses a Go duration ("24h", "90m") or a whole number of
// days ("30d").
func parsePeriod(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("%q is not a positive whole number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as \"24h\" or \"30d\"", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not positive", s)
	}
	return d, nil
}

// Source is the name the policy was parsed under (its file), or "".
func (p *Policy) Source() string { return p.source }

// Canonical returns the deterministic JSON encoding of the policy that the
// ledger stores: every field present in a fixed order (defaults written
// out), list entries sorted without repeats, rules in their order, ε as
// exact decimals, the period as a Go duration ("24h0m0s", "" without
// limits), no insignificant whitespace. Policies that differ only in key
// order, spacing, list order or repeats, or spelled-out defaults have the
// same Canonical; Parse(Canonical()) gives a policy with the same
// Canonical.
func (p *Policy) Canonical() []byte {
	f := file{Version: p.Version, Party: p.Party, Rules: make([]fileRule, len(p.Rules))}
	for i, r := range p.Rules {
		exact := r.Exact
		if exact == "" {
			exact = ExactNever
		}
		f.Rules[i] = fileRule{
			Name:         r.Name,
			Analysts:     sortedSet(r.Analysts),
			Groups:       sortedSet(r.Groups),
			Where:        sortedSet(r.Where),
			Aggregate:    sortedSet(r.Aggregate),
			GroupBy:      sortedSet(r.GroupBy),
			MaxGroups:    r.MaxGroups,
			Exact:        exact,
			MaxEpsilon:   json.Number(FormatEpsilon(r.MaxEpsilonMilli)),
			MinCollusion: r.MinCollusion,
		}
	}
	f.Budget = fileBudget{
		PerAnalyst: json.Number(FormatEpsilon(p.Budget.PerAnalystMilli)),
		PerCase:    json.Number(FormatEpsilon(p.Budget.PerCaseMilli)),
	}
	if p.Budget.Limited() {
		f.Budget.Period = p.Budget.Period.String()
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		// Only strings, integers and valid json.Numbers: cannot fail.
		panic(fmt.Sprintf("policy: encoding canonical form: %v", err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// Hash is the SHA-256 of Canonical: the policy's identity in the ledger.
func (p *Policy) Hash() [32]byte { return sha256.Sum256(p.Canonical()) }

// sortedSet returns a sorted copy without repeats, never nil (so the
// canonical form writes [] rather than null).
func sortedSet(in []string) []string {
	out := append([]string{}, in...)
	slices.Sort(out)
	return slices.Compact(out)
}
