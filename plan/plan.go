// Package plan turns an analyst's SQL text into a validated query plan for
// the consortium schema: which tables are joined on the person key, how
// the WHERE clause splits into conditions each institution evaluates on
// its own rows, how the groups are formed, and which aggregates are
// computed from which encrypted sums. It also renders the plan as
// canonical text (for the ledger's hash), checks that no encrypted sum
// can wrap around the plaintext modulus, and turns decrypted sums into
// the result rows.
//
// The SQL is parsed by the real PostgreSQL grammar (pg_query_go, cgo), so
// anything PostgreSQL would reject is a syntax error, and anything it
// accepts but the planner cannot run is rejected with ErrUnsupported.
// Every error from Parse is an *Error that points at the offending token as
// "line L, column C: ..." and, for unknown names, suggests the closest
// valid one.
//
// The dialect:
//
//	[EXPLAIN] SELECT [g1 [AS n], [g2 [AS n],]] agg [AS name], ...
//	FROM t1 [[LEFT] JOIN t2 USING (key) ...]
//	[WHERE condition]
//	[GROUP BY g1[, g2]]
//
// where agg is COUNT(*), SUM(t.c), AVG(t.c), VARIANCE(t.c) (VAR_SAMP) or
// STDDEV(t.c) (STDDEV_SAMP) of int columns of inner-joined tables; g1, g2
// are category columns of inner-joined tables (every declared category
// combination is a group, at most MaxGroups); the condition combines with
// AND, OR, NOT and parentheses comparisons (= != < <= > >=), IN lists and
// BETWEEN of one institution's columns, constants and + - * arithmetic,
// and for a LEFT JOINed table t only t.key IS [NOT] NULL as a top-level
// AND condition.
//
// The circuit multiplies the parties' per-person 0/1 vectors slot-wise,
// so WHERE is compiled into a sum of products (Plan.Terms):
//
//	WHERE = Σ_k Sign_k × Π_t Local_{k,t}
//
// with each Local_{k,t} a formula over table t's columns alone (see Term,
// Local, EvalLocal). A query whose WHERE needs more than MaxTerms products
// is refused.
//
// Package plan is pure: it does no I/O, holds no state between calls, is
// safe for concurrent use, and knows nothing of encryption, parties or the
// network. It does not decide policy (which analyst may use which column);
// parties do that on the plan (see Plan.ColumnsFor).
package plan

import (
	"sort"

	"github.com/mpcq/mpcq/schema"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// Op is a comparison operator, always in this normal spelling ("<>" in the
// query text becomes "!=").
type Op string

// The comparison operators.
const (
	OpEq Op = "="
	OpNe Op = "!="
	OpLt Op = "<"
	OpLe Op = "<="
	OpGt Op = ">"
	OpGe Op = ">="
)

// flip returns the operator with its operands swapped (5 < x is x > 5).
func (o Op) flip() Op {
	switch o {
	case OpLt:
		return OpGt
	case OpLe:
		return OpGe
	case OpGt:
		return OpLt
	case OpGe:
		return OpLe
	}
	return o
}

// rank orders operators in canonical text.
func (o Op) rank() int {
	switch o {
	case OpEq:
		return 0
	case OpNe:
		return 1
	case OpLt:
		return 2
	case OpLe:
		return 3
	case OpGt:
		return 4
	case OpGe:
		return 5
	}
	return 6
}

// Expr is a filter expression tree over comparisons of the first
// version's plans. Its node types are Cmp, And, Or and Not; see
// Conjuncts. Parse now compiles WHERE into Plan.Terms instead.
type Expr interface {
	isExpr()
}

// Cmp compares one column of one table with a constant. For an int column
// Value is the integer; for a category column Value is the index of the
// category in the column's declared domain and Op is OpEq or OpNe.
type Cmp struct {
	Table, Column string
	Op            Op
	Value         int64
}

// And is true when all its terms are.
type And struct {
	Terms []Expr
}

// Or is true when any of its terms is. Conjuncts refuses it; Pos is
// where the OR was written, for the error.
type Or struct {
	Terms []Expr
	Pos   Position
}

// Not negates its term. Conjuncts refuses it; Pos is where the NOT was
// written, for the error.
type Not struct {
	Term Expr
	Pos  Position
}

func (Cmp) isExpr() {}
func (And) isExpr() {}
func (Or) isExpr()  {}
func (Not) isExpr() {}

// Eval reports whether the comparison holds for a column value v (for a
// category column, v is the category index). Parties use it to evaluate
// their predicates locally.
func (c Cmp) Eval(v int64) bool {
	switch c.Op {
	case OpEq:
		return v == c.Value
	case OpNe:
		return v != c.Value
	case OpLt:
		return v < c.Value
	case OpLe:
		return v <= c.Value
	case OpGt:
		return v > c.Value
	case OpGe:
		return v >= c.Value
	}
	return false
}

// Conjuncts flattens a filter tree into the list of comparisons that must
// all hold. It rejects Or and Not (not supported yet) with an *Error at
// their position. A nil tree is the empty conjunction (no filter).
func Conjuncts(e Expr) ([]Cmp, error) {
	out, err := conjuncts(e)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func conjuncts(e Expr) ([]Cmp, *Error) {
	var out []Cmp
	var walk func(Expr) *Error
	walk = func(e Expr) *Error {
		switch e := e.(type) {
		case nil:
			return nil
		case Cmp:
			out = append(out, e)
		case And:
			for _, t := range e.Terms {
				if err := walk(t); err != nil {
					return err
				}
			}
		case Or:
			return errorAt(e.Pos, ErrUnsupported, "OR is not supported yet (this version accepts comparisons joined by AND)")
		case Not:
			return errorAt(e.Pos, ErrUnsupported, "NOT is not supported yet (this version accepts comparisons joined by AND; write the opposite comparison, e.g. != for =)")
		default:
			return errorAt(Position{Line: 1, Column: 1}, ErrUnsupported, "filter node %T is not supported in this version", e)
		}
		return nil
	}
	if err := walk(e); err != nil {
		return nil, err
	}
	return out, nil
}

// AggKind is an aggregate function.
type AggKind string

// The aggregate functions.
const (
	AggCount AggKind = "COUNT"
	AggSum   AggKind = "SUM"
	// AggAvg is SUM/COUNT, NULL for an empty group.
	AggAvg AggKind = "AVG"
	// AggVariance is the sample variance (PostgreSQL's VARIANCE and
	// VAR_SAMP), NULL for fewer than two people.
	AggVariance AggKind = "VARIANCE"
	// AggStddev is the sample standard deviation (STDDEV, STDDEV_SAMP),
	// NULL for fewer than two people.
	AggStddev AggKind = "STDDEV"
)

// Aggregate is one output column: COUNT(*) (Table and Column empty) or
// SUM, AVG, VARIANCE or STDDEV of Table.Column over the joined, filtered
// people of each group. Name is the output column name: the AS alias,
// else the item as written in its normal spelling, e.g. COUNT(*),
// SUM(bank.balance) or VAR_SAMP(bank.balance) (with the real table name
// even if the query used a table alias).
type Aggregate struct {
	Kind          AggKind
	Table, Column string
	Name          string
}

// Plan is a validated query.
type Plan struct {
	// Tables are the joined tables in FROM order, distinct, joined on
	// each table's person key.
	Tables []string
	// Joins is how each table of Tables is joined (the first is always
	// JoinInner). A nil Joins (a plan built by hand) means all inner.
	Joins []JoinKind
	// Where is the first version's filter: the conjunction of
	// comparisons, each on one table's column, sorted by table, column,
	// operator and value, without duplicates. It is filled only when
	// every table is inner-joined and WHERE is such a conjunction (BETWEEN
	// and NOT of a comparison become comparisons); otherwise it is nil and
	// only Terms describes the filter.
	Where []Cmp
	// Terms is the filter as a sum of signed products of per-table local
	// conditions (see Term): always at least one term, at most MaxTerms.
	// Without WHERE it is one term requiring presence at every
	// inner-joined table.
	Terms []Term
	// GroupBy are the GROUP BY columns, in GROUP BY order (none: one
	// group of everyone).
	GroupBy []GroupCol
	// Aggregates are the output columns in SELECT order.
	Aggregates []Aggregate
	// Canonical is the plan rendered as SQL: the same text for every
	// spelling of the same query (whitespace, case, comments, table
	// aliases, "<>" or "!=", "5 < x" or "x > 5", AND order), different for
	// different plans. Parse(Canonical) gives the same plan. It is what the
	// ledger hashes.
	Canonical string
	// Explain is set for EXPLAIN SELECT ...: show the plan, run nothing.
	Explain bool
}

// IsSimple reports whether the plan is in the first version's subset:
// all tables inner-joined, a WHERE that is a conjunction of "column OP
// constant" comparisons (Where holds all of it), only COUNT(*) and SUM,
// no GROUP BY. Explain does not matter (an EXPLAIN runs nothing).
func (p *Plan) IsSimple() bool {
	for _, j := range p.Joins {
		if j != JoinInner {
			return false
		}
	}
	if len(p.GroupBy) > 0 {
		return false
	}
	for _, a := range p.Aggregates {
		if a.Kind != AggCount && a.Kind != AggSum {
			return false
		}
	}
	switch len(p.Terms) {
	case 0:
		return true
	case 1:
	default:
		return false
	}
	t := p.Terms[0]
	if t.Sign != 1 {
		return false
	}
	n := 0
	for _, l := range t.Locals {
		if l.Presence != PresenceRequired {
			return false
		}
		var list []LocalExpr
		switch e := l.Expr.(type) {
		case nil:
		case LAnd:
			list = e.Terms
		default:
			list = []LocalExpr{e}
		}
		for _, x := range list {
			c, ok := x.(LCmp)
			if !ok {
				return false
			}
			if _, ok := c.Left.(ACol); !ok {
				return false
			}
			if _, ok := c.Right.(AConst); !ok {
				return false
			}
			n++
		}
	}
	return n == len(p.Where)
}

// LocalsFor returns the distinct local conditions the plan asks the given
// table's party to evaluate, in the order of their first term: what the
// party computes a 0/1 vector for.
func (p *Plan) LocalsFor(table string) []Local {
	var out []Local
	seen := map[string]bool{}
	for _, t := range p.Terms {
		for _, l := range t.Locals {
			if l.Table != table {
				continue
			}
			k := l.Presence.String() + ":" + localKey(l.Expr)
			if !seen[k] {
				seen[k] = true
				out = append(out, l)
			}
		}
	}
	return out
}

// PredicatesFor returns the comparisons on the given table's columns.
func (p *Plan) PredicatesFor(table string) []Cmp {
	var out []Cmp
	for _, c := range p.Where {
		if c.Table == table {
			out = append(out, c)
		}
	}
	return out
}

// ColumnsFor returns the sorted, distinct columns of the given table that
// the plan reads (in conditions, GROUP BY or aggregates): what a party's
// policy check needs to see.
func (p *Plan) ColumnsFor(table string) []string {
	seen := map[string]bool{}
	for _, c := range p.Where {
		if c.Table == table {
			seen[c.Column] = true
		}
	}
	for _, t := range p.Terms {
		for _, l := range t.Locals {
			if l.Table == table {
				localColumns(l.Expr, seen)
			}
		}
	}
	for _, g := range p.GroupBy {
		if g.Table == table {
			seen[g.Column] = true
		}
	}
	for _, a := range p.Aggregates {
		if a.Table == table && a.Column != "" {
			seen[a.Column] = true
		}
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Parse parses one SELECT (or EXPLAIN SELECT) statement and validates it
// against the consortium schema. Query errors are *Error values (see the sentinels);
// an invalid schema is reported wrapping schema.ErrInvalid.
func Parse(sql string, cs schema.Consortium) (*Plan, error) {
	if err := cs.Validate(); err != nil {
		return nil, err
	}
	src := &source{text: sql}
	if err := src.check(); err != nil {
		return nil, err
	}
	tree, err := pg.Parse(sql)
	if err != nil {
		return nil, src.syntaxError(err)
	}
	b := &builder{src: src, cs: cs}
	p, perr := b.statement(tree)
	if perr != nil {
		return nil, perr
	}
	return p, nil
}
