// Package plan turns an analyst's SQL text into a validated query plan for
// the consortium schema: which tables are joined on the person key, which
// per-table comparisons filter the joined people, and which aggregates are
// computed. It also renders the plan as canonical text (for the ledger's
// hash) and checks that no aggregate can wrap around the plaintext modulus.
//
// The SQL is parsed by the real PostgreSQL grammar (pg_query_go, cgo), so
// anything PostgreSQL would reject is a syntax error, and anything it
// accepts but this version cannot run is rejected with ErrUnsupported.
// Every error from Parse is an *Error that points at the offending token as
// "line L, column C: ..." and, for unknown names, suggests the closest
// valid one.
//
// Supported in this version:
//
//	SELECT COUNT(*), SUM(t.col) [AS name], ...
//	FROM t1 [JOIN t2 USING (key) [JOIN t3 USING (key)]]
//	[WHERE t.col OP integer AND t.cat = 'value' AND ...]
//
// Later dialect features fit the same shapes: OR and NOT already parse
// into the Expr tree (Or, Not) and are refused only by Conjuncts; IN and
// BETWEEN can lower to Or/And of Cmp; AVG and VARIANCE are new AggKinds
// computed from sums; GROUP BY and LEFT JOIN ... IS NULL become new Plan
// fields next to Tables.
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

// Expr is a filter expression tree over comparisons. Its node types are
// Cmp, And, Or and Not. This version's planner accepts only a conjunction
// (And of Cmp, or a single Cmp); see Conjuncts.
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

// Or is true when any of its terms is. Not supported by this version's
// planner; Pos is where the OR was written, for the error.
type Or struct {
	Terms []Expr
	Pos   Position
}

// Not negates its term. Not supported by this version's planner; Pos is
// where the NOT was written, for the error.
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
)

// Aggregate is one output column: COUNT(*) (Table and Column empty) or
// SUM(Table.Column) over the joined, filtered people. Name is the output
// column name: the AS alias, else the item in its normal spelling, e.g.
// COUNT(*) or SUM(bank.balance) (with the real table name even if the
// query used a table alias).
type Aggregate struct {
	Kind          AggKind
	Table, Column string
	Name          string
}

// Plan is a validated query.
type Plan struct {
	// Tables are the joined tables in FROM order, distinct. They are
	// inner-joined on each table's person key.
	Tables []string
	// Where is the conjunction of comparisons, each on one table's column,
	// sorted by table, column, operator and value, without duplicates.
	Where []Cmp
	// Aggregates are the output columns in SELECT order.
	Aggregates []Aggregate
	// Canonical is the plan rendered as SQL: the same text for every
	// spelling of the same query (whitespace, case, comments, table
	// aliases, "<>" or "!=", "5 < x" or "x > 5", AND order), different for
	// different plans. Parse(Canonical) gives the same plan. It is what the
	// ledger hashes.
	Canonical string
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
// the plan reads (in comparisons or aggregates): what a party's policy
// check needs to see.
func (p *Plan) ColumnsFor(table string) []string {
	seen := map[string]bool{}
	for _, c := range p.Where {
		if c.Table == table {
			seen[c.Column] = true
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

// Parse parses one SELECT statement and validates it against the
// consortium schema. Query errors are *Error values (see the sentinels);
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
