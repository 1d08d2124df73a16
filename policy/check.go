package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

// ErrRefused is wrapped by every *Refusal: the policy does not allow the
// query.
var ErrRefused = errors.New("refused by policy")

// Refusal is a policy's refusal of a query, for the analyst: which party,
// which rule (RuleNone when no rule matches the analyst, RuleBudget when
// the ε budget is spent) and why. It wraps ErrRefused.
type Refusal struct {
	Party  string
	Rule   string
	Reason string
	// RetryAt is, for a budget refusal, the earliest time at which the
	// same query would fit the budget; zero when waiting does not help.
	RetryAt time.Time
}

// Error renders the refusal, e.g.
//
//	party bank refused by rule "fraud-unit": column bank.balance may not be used in WHERE (allowed: district)
func (r *Refusal) Error() string {
	switch r.Rule {
	case RuleNone, "":
		return fmt.Sprintf("party %s refused: %s", r.Party, r.Reason)
	case RuleBudget:
		return fmt.Sprintf("party %s refused by its ε budget: %s", r.Party, r.Reason)
	}
	return fmt.Sprintf("party %s refused by rule %q: %s", r.Party, r.Rule, r.Reason)
}

// Unwrap returns ErrRefused.
func (r *Refusal) Unwrap() error { return ErrRefused }

// Warrant is what the policy needs of a verified warrant: the party
// verifies the warrant and maps it into this (package policy does not
// verify warrants).
type Warrant struct {
	// ID identifies the warrant in refusals.
	ID string
	// Case is the case the warrant was issued for.
	Case string
	// Exact is whether the warrant's scope allows exact answers.
	Exact bool
}

// Use is everything a policy decides one query on, as seen by one party.
// Column sets hold this party's columns as "table.column".
type Use struct {
	// Party is the party deciding (it must be the policy's party).
	Party string
	// Analyst is the analyst's identity URI (from the certificate).
	Analyst string
	// Groups are the analyst's groups (the certificate's OU values).
	Groups []string
	// Where, Aggregate and GroupBy are the columns the query uses in
	// WHERE, in SUM/AVG/VARIANCE/STDDEV and in GROUP BY (see UseOf).
	Where, Aggregate, GroupBy []string
	// NumGroups is the number of groups the query forms.
	NumGroups int
	// EpsilonMilli is the query's ε in thousandths; 0 means exact.
	EpsilonMilli uint64
	// Collusion is the query's collusion tolerance k.
	Collusion int
	// Warrant is the query's verified warrant, nil if none.
	Warrant *Warrant
	// Case is the case the query is for ("" if none).
	Case string
	// Time is when the query is decided (the budget's window ends here).
	Time time.Time
	// QueryID identifies the query; CheckBudget does not count a charge
	// already recorded under it. "" if not yet known.
	QueryID string
}

// UseOf fills a Use's column sets and group count from a plan, for the
// party holding the given tables: Where are the columns of those tables
// in the plan's local conditions (every term), Aggregate the columns of
// SUM, AVG, VARIANCE and STDDEV aggregates over them (COUNT(*) uses no
// column), GroupBy their GROUP BY columns, each sorted without repeats;
// NumGroups is len(p.Groups()). Any column the plan reads
// (plan.ColumnsFor) that none of these walks found is counted as a WHERE
// use, so a condition node this package does not know is never a way
// around the policy. The caller sets the other fields.
func UseOf(p *plan.Plan, tables []string) Use {
	var u Use
	where, agg, group := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, table := range tables {
		for _, l := range p.LocalsFor(table) {
			exprColumns(l.Expr, where)
		}
		for _, a := range p.Aggregates {
			if a.Table == table && a.Column != "" {
				agg[table+"."+a.Column] = true
			}
		}
		for _, g := range p.GroupBy {
			if g.Table == table {
				group[table+"."+g.Column] = true
			}
		}
		for _, c := range p.ColumnsFor(table) {
			q := table + "." + c
			if !where[q] && !agg[q] && !group[q] {
				where[q] = true
			}
		}
	}
	u.Where, u.Aggregate, u.GroupBy = keys(where), keys(agg), keys(group)
	u.NumGroups = len(p.Groups())
	return u
}

// exprColumns adds the columns a condition reads to out, as
// "table.column".
func exprColumns(e plan.Expr, out map[string]bool) {
	plan.WalkAtoms(e, func(table string, operands ...plan.Arith) {
		for _, a := range operands {
			plan.WalkColumns(a, func(c string) { out[table+"."+c] = true })
		}
	})
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Validate checks every column the policy names against the party's
// tables: "table.column" must be a data column of one of tables,
// "column" a data column of at least one. Errors wrap ErrInvalid and name
// the file, the rule and the list.
func (p *Policy) Validate(tables []schema.Table) error {
	if len(tables) == 0 {
		return fmt.Errorf("%s: %w: no tables to check the columns against", p.source, ErrInvalid)
	}
	for i, r := range p.Rules {
		for _, l := range []struct {
			key  string
			cols []string
		}{{"where", r.Where}, {"aggregate", r.Aggregate}, {"group_by", r.GroupBy}} {
			for _, c := range l.cols {
				if err := columnExists(c, tables); err != nil {
					return fmt.Errorf("%s: %w: rule %d %q: %s: %s", p.source, ErrInvalid, i+1, r.Name, l.key, err)
				}
			}
		}
	}
	return nil
}

// columnExists checks one column entry against the tables.
func columnExists(c string, tables []schema.Table) error {
	if c == Wildcard {
		return nil
	}
	if tname, col, ok := strings.Cut(c, "."); ok {
		for _, t := range tables {
			if t.Name != tname {
				continue
			}
			if _, ok := t.Column(col); ok {
				return nil
			}
			return fmt.Errorf("table %s has no data column %q (columns: %s)", tname, col, strings.Join(t.ColumnNames(), ", "))
		}
		names := make([]string, len(tables))
		for i, t := range tables {
			names[i] = t.Name
		}
		return fmt.Errorf("column %q: table %q is not this party's (tables: %s)", c, tname, strings.Join(names, ", "))
	}
	var all []string
	for _, t := range tables {
		if _, ok := t.Column(c); ok {
			return nil
		}
		for _, n := range t.ColumnNames() {
			all = append(all, t.Name+"."+n)
		}
	}
	return fmt.Errorf("no table of this party has a data column %q (columns: %s)", c, strings.Join(all, ", "))
}

// Match returns the first rule that applies to the analyst (by identity
// URI, Wildcard, or one of the analyst's groups), or false. No rule
// applies to an empty analyst.
func (p *Policy) Match(analyst string, groups []string) (*Rule, bool) {
	for i := range p.Rules {
		if p.Rules[i].matches(analyst, groups) {
			return &p.Rules[i], true
		}
	}
	return nil, false
}

func (r *Rule) matches(analyst string, groups []string) bool {
	if analyst == "" {
		return false // no identity: not even "*" applies
	}
	for _, a := range r.Analysts {
		if a == Wildcard || a == analyst {
			return true
		}
	}
	for _, g := range groups {
		if g != "" && slices.Contains(r.Groups, g) {
			return true
		}
	}
	return false
}

// Check decides a query under the policy (not its budget: see
// CheckBudget). The first rule matching the analyst applies; the query is
// refused (a *Refusal wrapping ErrRefused) when no rule matches, when the
// Use is for another party, or when, under the rule, a column is used in
// WHERE, in an aggregate or in GROUP BY that the rule's list does not
// allow, the query forms more than max_groups groups, an exact answer
// (ε = 0) is asked for and the rule's exact mode does not allow it (for
// "warrant": a warrant whose scope allows exact answers and, if the query
// names a case, is for that case), ε is above max_epsilon, or the
// collusion tolerance is below min_collusion. The first failing check,
// in that order, is reported.
func (p *Policy) Check(u Use) error {
	refuse := func(rule, format string, args ...any) error {
		return &Refusal{Party: p.Party, Rule: rule, Reason: fmt.Sprintf(format, args...)}
	}
	if u.Party != p.Party {
		return refuse(RuleNone, "the policy in force is party %s's, not party %s's", p.Party, u.Party)
	}
	r, ok := p.Match(u.Analyst, u.Groups)
	if !ok {
		groups := "none"
		if len(u.Groups) > 0 {
			groups = strings.Join(u.Groups, ", ")
		}
		return refuse(RuleNone, "no rule of policy version %d applies to analyst %s (groups: %s)", p.Version, u.Analyst, groups)
	}
	for _, l := range []struct {
		where   string
		allowed []string
		used    []string
	}{
		{"in WHERE", r.Where, u.Where},
		{"in aggregates (SUM, AVG, VARIANCE, STDDEV)", r.Aggregate, u.Aggregate},
		{"in GROUP BY", r.GroupBy, u.GroupBy},
	} {
		for _, c := range l.used {
			if !allows(l.allowed, c) {
				return refuse(r.Name, "column %s may not be used %s (allowed: %s)", c, l.where, listText(l.allowed))
			}
		}
	}
	if r.MaxGroups > 0 && u.NumGroups > r.MaxGroups {
		return refuse(r.Name, "the query forms %d groups, more than max_groups %d", u.NumGroups, r.MaxGroups)
	}
	if u.EpsilonMilli == 0 {
		switch r.Exact {
		case ExactAlways:
		case ExactWarrant:
			w := u.Warrant
			switch {
			case w == nil:
				return refuse(r.Name, "an exact answer needs a warrant whose scope allows exact answers; give one, or ask with ε%s", epsilonHint(r))
			case !w.Exact:
				return refuse(r.Name, "warrant %s does not allow exact answers; ask with ε%s", w.ID, epsilonHint(r))
			case u.Case != "" && w.Case != u.Case:
				return refuse(r.Name, "warrant %s is for case %q, not the query's case %q", w.ID, w.Case, u.Case)
			}
		default:
			return refuse(r.Name, "exact answers are not allowed; ask with ε%s", epsilonHint(r))
		}
	} else if r.MaxEpsilonMilli > 0 && u.EpsilonMilli > r.MaxEpsilonMilli {
		return refuse(r.Name, "ε %s is above max_epsilon %s", FormatEpsilon(u.EpsilonMilli), FormatEpsilon(r.MaxEpsilonMilli))
	}
	if u.EpsilonMilli > 0 && u.Collusion < r.MinCollusion {
		// An exact answer has no noise for colluders to remove: the
		// tolerance is a property of noisy answers only.
		return refuse(r.Name, "collusion tolerance k=%d is below min_collusion %d", u.Collusion, r.MinCollusion)
	}
	return nil
}

// epsilonHint is " ≤ max" for a rule with max_epsilon, else "".
func epsilonHint(r *Rule) string {
	if r.MaxEpsilonMilli == 0 {
		return " > 0"
	}
	return " ≤ " + FormatEpsilon(r.MaxEpsilonMilli)
}

// allows reports whether a column list allows the qualified column c
// ("table.column"): Wildcard, the same "table.column", or its bare name.
func allows(list []string, c string) bool {
	_, bare, ok := strings.Cut(c, ".")
	for _, a := range list {
		if a == Wildcard || a == c || ok && a == bare {
			return true
		}
	}
	return false
}

func listText(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}
