package console

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Patterns worth a look. They are computed from the opened queries alone
// (ledger entries and archived canonical SQL), are pure, and are shown as
// flags for a person to look at, not as verdicts.

// FlagKind names a pattern.
type FlagKind string

// The patterns the console flags.
const (
	// FlagBurst: at least Thresholds.BurstCount queries by one analyst
	// within Thresholds.BurstWindow.
	FlagBurst FlagKind = "burst"
	// FlagDifferencing: two or more queries by one analyst whose canonical
	// SQL is the same except for one WHERE condition (a constant changed,
	// or one condition added or removed): the shape of a differencing
	// attack, whose answers subtract to one group's or one person's value.
	FlagDifferencing FlagKind = "differencing"
	// FlagRare: a WHERE equality of a column with an integer constant
	// other than 0 and 1. Equality on a numeric column (an amount, a count
	// of calls) tends to match very few people; 0 and 1 are left out
	// because they are the values of flag columns. The answered count is
	// encrypted to the analyst, so it is not used.
	FlagRare FlagKind = "rare-value"
	// FlagExactNoWarrant: an exact answer (ε = 0) asked without a warrant.
	FlagExactNoWarrant FlagKind = "exact-without-warrant"
)

// Thresholds tune the patterns.
type Thresholds struct {
	BurstCount  int
	BurstWindow time.Duration
}

// DefaultThresholds flags 5 queries within 10 minutes.
var DefaultThresholds = Thresholds{BurstCount: 5, BurstWindow: 10 * time.Minute}

// Validate checks the thresholds.
func (t Thresholds) Validate() error {
	if t.BurstCount < 2 || t.BurstWindow <= 0 {
		return fmt.Errorf("burst threshold %d queries in %s: want at least 2 queries in a positive window", t.BurstCount, t.BurstWindow)
	}
	return nil
}

// Opened is what the patterns read of one query.
type Opened struct {
	ID      string
	Analyst string
	Time    time.Time
	// SQL is the canonical query text ("" when the archive was not read).
	SQL          string
	EpsilonMilli uint64
	Warrant      bool
}

// Flag is one pattern found in one or more queries.
type Flag struct {
	Kind    FlagKind
	Analyst string
	// Queries are the IDs involved, in input order.
	Queries []string
	// Detail says what was seen, in words.
	Detail string
}

// Patterns computes every flag over qs (in ledger order).
func Patterns(qs []Opened, th Thresholds) []Flag {
	var out []Flag
	out = append(out, Bursts(qs, th.BurstCount, th.BurstWindow)...)
	out = append(out, Differencing(qs)...)
	out = append(out, RareValues(qs)...)
	out = append(out, ExactWithoutWarrant(qs)...)
	return out
}

// Bursts flags, per analyst, each maximal run of queries in which at
// least n fall within window of each other (a sliding window over the
// analyst's queries sorted by time; overlapping windows merge).
func Bursts(qs []Opened, n int, window time.Duration) []Flag {
	if n < 2 {
		return nil
	}
	byAnalyst := map[string][]Opened{}
	var order []string
	for _, q := range qs {
		if _, ok := byAnalyst[q.Analyst]; !ok {
			order = append(order, q.Analyst)
		}
		byAnalyst[q.Analyst] = append(byAnalyst[q.Analyst], q)
	}
	var out []Flag
	for _, a := range order {
		list := slices.Clone(byAnalyst[a])
		slices.SortStableFunc(list, func(x, y Opened) int { return x.Time.Compare(y.Time) })
		in := make([]bool, len(list))
		for i := 0; i+n-1 < len(list); i++ {
			if list[i+n-1].Time.Sub(list[i].Time) <= window {
				for j := i; j < i+n; j++ {
					in[j] = true
				}
			}
		}
		for i := 0; i < len(list); {
			if !in[i] {
				i++
				continue
			}
			j := i
			var ids []string
			for j < len(list) && in[j] {
				ids = append(ids, list[j].ID)
				j++
			}
			out = append(out, Flag{Kind: FlagBurst, Analyst: a, Queries: ids,
				Detail: fmt.Sprintf("%d queries between %s and %s (at least %d within %s)", len(ids),
					list[i].Time.UTC().Format(time.RFC3339), list[j-1].Time.UTC().Format(time.RFC3339), n, window)})
			i = j
		}
	}
	return out
}

// Differencing flags, per analyst, each series of queries linked by
// "same canonical SQL except one WHERE condition" (connected components
// of that relation, of two queries or more).
func Differencing(qs []Opened) []Flag {
	type shaped struct {
		q     Opened
		shape sqlShape
	}
	var list []shaped
	for _, q := range qs {
		if s, ok := shapeOf(q.SQL); ok {
			list = append(list, shaped{q, s})
		}
	}
	parent := make([]int, len(list))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	why := map[int]string{}
	for i := range list {
		for j := i + 1; j < len(list); j++ {
			if list[i].q.Analyst != list[j].q.Analyst {
				continue
			}
			if d, ok := oneConditionApart(list[i].shape, list[j].shape); ok {
				ri, rj := find(i), find(j)
				if ri != rj {
					parent[rj] = ri
				}
				if _, seen := why[i]; !seen {
					why[i] = d
				}
			}
		}
	}
	groups := map[int][]int{}
	var roots []int
	for i := range list {
		r := find(i)
		if _, ok := groups[r]; !ok {
			roots = append(roots, r)
		}
		groups[r] = append(groups[r], i)
	}
	var out []Flag
	for _, r := range roots {
		g := groups[r]
		if len(g) < 2 {
			continue
		}
		var ids []string
		detail := ""
		for _, i := range g {
			ids = append(ids, list[i].q.ID)
			if detail == "" {
				detail = why[i]
			}
		}
		out = append(out, Flag{Kind: FlagDifferencing, Analyst: list[g[0]].q.Analyst, Queries: ids,
			Detail: fmt.Sprintf("%d queries with the same SQL except one WHERE condition (%s)", len(ids), detail)})
	}
	return out
}

// RareValues flags each query whose WHERE has an equality between a
// column and an integer constant other than 0 and 1 (see FlagRare).
func RareValues(qs []Opened) []Flag {
	var out []Flag
	for _, q := range qs {
		s, ok := shapeOf(q.SQL)
		if !ok {
			continue
		}
		var hits []string
		for _, c := range s.conds {
			if col, val, ok := intEquality(c); ok && val != "0" && val != "1" {
				hits = append(hits, col+" = "+val)
			}
		}
		if len(hits) > 0 {
			out = append(out, Flag{Kind: FlagRare, Analyst: q.Analyst, Queries: []string{q.ID},
				Detail: "WHERE narrows to one value: " + strings.Join(hits, ", ")})
		}
	}
	return out
}

// ExactWithoutWarrant flags each query that asked exact totals (ε = 0)
// without a warrant.
func ExactWithoutWarrant(qs []Opened) []Flag {
	var out []Flag
	for _, q := range qs {
		if q.EpsilonMilli == 0 && !q.Warrant {
			out = append(out, Flag{Kind: FlagExactNoWarrant, Analyst: q.Analyst, Queries: []string{q.ID},
				Detail: "exact answer asked without a warrant"})
		}
	}
	return out
}

// sqlShape is a canonical query split at its WHERE: everything else
// (head), and the top-level AND-ed conditions, each a token list joined
// by spaces.
type sqlShape struct {
	head  string
	conds []string
}

// shapeOf splits canonical SQL into its shape; ok is false for SQL that
// is empty or does not tokenize.
func shapeOf(sql string) (sqlShape, bool) {
	toks, ok := tokenize(sql)
	if !ok || len(toks) == 0 {
		return sqlShape{}, false
	}
	var head []string
	var conds []string
	var cur []string
	depth := 0
	inWhere := false
	for _, t := range toks {
		up := strings.ToUpper(t)
		switch {
		case !inWhere && depth == 0 && up == "WHERE":
			inWhere = true // a query without WHERE has the head of one with it
			continue
		case inWhere && depth == 0 && (up == "GROUP" || up == "ORDER" || up == "LIMIT"):
			inWhere = false
		}
		if t == "(" {
			depth++
		} else if t == ")" {
			depth--
		}
		if !inWhere {
			head = append(head, t)
			continue
		}
		if depth == 0 && up == "AND" {
			conds = append(conds, strings.Join(cur, " "))
			cur = nil
			continue
		}
		cur = append(cur, t)
	}
	if len(cur) > 0 {
		conds = append(conds, strings.Join(cur, " "))
	}
	return sqlShape{head: strings.Join(head, " "), conds: conds}, true
}

// oneConditionApart reports whether a and b have the same head and their
// WHERE conditions differ in exactly one: one changed (in one token: a
// constant or an operator), or one added. d says which.
func oneConditionApart(a, b sqlShape) (d string, ok bool) {
	if a.head != b.head {
		return "", false
	}
	onlyA, onlyB := multisetDiff(a.conds, b.conds)
	switch {
	case len(onlyA) == 1 && len(onlyB) == 1:
		ta, tb := strings.Fields(onlyA[0]), strings.Fields(onlyB[0])
		if len(ta) != len(tb) {
			return "", false
		}
		diff := 0
		for i := range ta {
			if ta[i] != tb[i] {
				diff++
			}
		}
		if diff != 1 {
			return "", false
		}
		return fmt.Sprintf("%s versus %s", onlyA[0], onlyB[0]), true
	case len(onlyA)+len(onlyB) == 1:
		extra := append(onlyA, onlyB...)[0]
		return "one adds " + extra, true
	}
	return "", false
}

// multisetDiff returns the elements of a not in b and of b not in a,
// counting repeats.
func multisetDiff(a, b []string) (onlyA, onlyB []string) {
	count := map[string]int{}
	for _, s := range b {
		count[s]++
	}
	for _, s := range a {
		if count[s] > 0 {
			count[s]--
		} else {
			onlyA = append(onlyA, s)
		}
	}
	count = map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		if count[s] > 0 {
			count[s]--
		} else {
			onlyB = append(onlyB, s)
		}
	}
	return onlyA, onlyB
}

// intEquality reads a condition "col = N" or "N = col" with N an integer.
func intEquality(cond string) (col, val string, ok bool) {
	t := strings.Fields(cond)
	if len(t) != 3 || t[1] != "=" {
		return "", "", false
	}
	switch {
	case isInt(t[2]) && isIdent(t[0]):
		return t[0], t[2], true
	case isInt(t[0]) && isIdent(t[2]):
		return t[2], t[0], true
	}
	return "", "", false
}

func isInt(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func isIdent(s string) bool {
	if s == "" || !(unicode.IsLetter(rune(s[0])) || s[0] == '_' || s[0] == '"') {
		return false
	}
	return true
}

// tokenize splits SQL into identifiers (dotted names kept whole),
// numbers, quoted strings and identifiers (quotes kept), and operators
// and punctuation. ok is false on an unterminated quote.
func tokenize(sql string) (toks []string, ok bool) {
	rs := []rune(sql)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '\'' || r == '"':
			j := i + 1
			for ; j < len(rs); j++ {
				if rs[j] == r {
					if j+1 < len(rs) && rs[j+1] == r { // doubled quote
						j++
						continue
					}
					break
				}
			}
			if j >= len(rs) {
				return nil, false
			}
			toks = append(toks, string(rs[i:j+1]))
			i = j + 1
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || (r == '-' && i+1 < len(rs) && unicode.IsDigit(rs[i+1]) && (len(toks) == 0 || isOperator(toks[len(toks)-1]))):
			j := i + 1
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_' || rs[j] == '.') {
				j++
			}
			toks = append(toks, string(rs[i:j]))
			i = j
		default:
			if i+1 < len(rs) && isOperator(string(rs[i:i+2])) {
				toks = append(toks, string(rs[i:i+2]))
				i += 2
				continue
			}
			toks = append(toks, string(r))
			i++
		}
	}
	return toks, true
}

func isOperator(s string) bool {
	switch s {
	case "=", "<", ">", "<=", ">=", "!=", "<>", "(", ",", "+", "-", "*", "/":
		return true
	}
	return false
}
