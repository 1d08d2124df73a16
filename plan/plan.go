// Package plan turns an analyst's SQL text into a validated query plan for
// the consortium schema: which tables are joined on the person key, how
// the WHERE clause splits into conditions each institution evaluates on
// its own rows, how the groups are formed, and which aggregates are
// computed from which encrypted sums. It also renders the plan as
// canonical text (for the ledger's hash), makes every encrypted sum exact
// below the plaintext modulus (Fit: a sum that could wrap is split into
// digits), and turns decrypted sums (recombining digits exactly) into the
// result rows.
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
// Local, Eval). A query whose WHERE needs more than MaxTerms products
// is refused.
//
// # One condition tree
//
// A WHERE condition and a Local's formula are the same type, Expr: And,
// Or, Not over the atoms Cmp and In, each atom naming its table, with
// integer expressions Arith (ACol, AConst, ABin). A Local's Expr is a
// tree whose atoms are all on the Local's table. Adding an operator or
// node means editing, in this package:
//
//   - expr.go: the tree (Expr, Arith, Op), the one normalizer
//     (normalize), the one renderer (exprText, also the structural key
//     Local.Key) and the evaluator (Eval, EvalArith);
//   - local.go: CheckLocal, what a party accepts for its table;
//   - where.go: the translation of the PostgreSQL parse tree into an Expr
//     (name resolution, type checks and their messages); compile.go turns
//     a normalized Expr into Plan.Terms, canonical.go renders the plan;
//
// and, outside it, the protobuf messages Cond and Arith (proto/mpcq.proto)
// and their conversion in internal/wire (LocalToProto, LocalFromProto).
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
	// Clip, when positive, is the bound of LEAST(t.c, Clip): each
	// person's value counts at most Clip (the SUM's sensitivity, for
	// noisy answers). Zero: the value as it is (bounded by the column's
	// declared maximum).
	Clip int64
}

// Plan is a validated query.
type Plan struct {
	// Tables are the joined tables in FROM order, distinct, joined on
	// each table's person key.
	Tables []string
	// Joins is how each table of Tables is joined (the first is always
	// JoinInner). A nil Joins (a plan built by hand) means all inner.
	Joins []JoinKind
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
	// Splits are the sums (whole, as aggregates need them) that Fit
	// split into digits to stay exact at its limits; nil before Fit and
	// when every sum fits whole. Sums lists each split sum's digits.
	Splits map[Sum]Split
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
			k := l.Key()
			if !seen[k] {
				seen[k] = true
				out = append(out, l)
			}
		}
	}
	return out
}

// ColumnsFor returns the sorted, distinct columns of the given table that
// the plan reads (in conditions, GROUP BY or aggregates): what a party's
// policy check needs to see.
func (p *Plan) ColumnsFor(table string) []string {
	seen := map[string]bool{}
	for _, t := range p.Terms {
		for _, l := range t.Locals {
			if l.Table == table {
				exprColumns(l.Expr, seen)
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
