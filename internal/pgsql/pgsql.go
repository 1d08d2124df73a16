// Package pgsql translates a party's local conditions (plan.Expr over one
// table) and the columns a query step needs into one parameterized
// PostgreSQL query. It is pure: it builds text and arguments and never
// connects (package pgsource runs the query).
//
// Every value (constants, category names, bounds, column names reported
// back) is a $n parameter; identifiers come from the schema only and are
// quoted with pgx.Identifier.Sanitize. Columns are read as bigint (int
// columns) or as their index in the declared categories (category
// columns, stored as text), so the SQL computes exactly what plan.Eval
// computes on the CSV table. An arithmetic expression that could
// overflow 64 bits for some values within the declared bounds is not
// translated (ErrMayOverflow): PostgreSQL may skip evaluating it where
// plan.Eval reports the overflow, so its caller evaluates that condition
// itself.
package pgsql

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

// ErrMayOverflow is wrapped when a condition's arithmetic could overflow
// int64 within the columns' declared bounds.
var ErrMayOverflow = errors.New("arithmetic may overflow 64-bit integers")

// ErrUnsupported is wrapped when a condition cannot be translated: an
// unknown node, operator or column, an empty AND or OR.
var ErrUnsupported = errors.New("condition cannot be translated to SQL")

// Relation names where a table's rows live in PostgreSQL.
type Relation struct {
	// Name is a table or view, optionally schema-qualified ("public.bank").
	Name string
	// Key is the column holding the person key (read as text).
	Key string
}

// Ident returns the relation's quoted name.
func (r Relation) Ident() string { return pgx.Identifier(strings.Split(r.Name, ".")).Sanitize() }

// Query is one SELECT and its arguments. Its result columns are: the key
// (text), the name of the row's first column outside its declared bounds
// or domain (every declared column is checked, in the database) or NULL
// ("bad"), one
// boolean per pushed-down condition (Pushed), then one bigint per
// requested column (Columns, then the columns of conditions not pushed
// down, Extra).
type Query struct {
	SQL  string
	Args []any
	// Pushed[i] says whether condition i is a result column; if not, the
	// caller evaluates it on the Extra columns.
	Pushed  []bool
	Columns []string
	Extra   []string
}

// builder accumulates parameters.
type builder struct {
	t    schema.Table
	args []any
	cats map[string]int // category column → its $n (the domain as text[])
}

func (b *builder) param(v any) string {
	b.args = append(b.args, v)
	return fmt.Sprintf("$%d", len(b.args))
}

// column is a column's value as a bigint SQL expression.
func (b *builder) column(name string) (string, error) {
	c, ok := b.t.Column(name)
	if !ok {
		return "", fmt.Errorf("%w: table %s has no column %q", ErrUnsupported, b.t.Name, name)
	}
	id := pgx.Identifier{c.Name}.Sanitize()
	if c.Kind == schema.KindCategory {
		p, ok := b.cats[c.Name]
		if !ok {
			b.args = append(b.args, c.Categories)
			p = len(b.args)
			b.cats[c.Name] = p
		}
		return fmt.Sprintf("(array_position($%d::text[], %s::text) - 1)::bigint", p, id), nil
	}
	return id + "::bigint", nil
}

// check is the SQL condition that a column's value is within its declared
// bounds or domain (NULL is not).
func (b *builder) check(c schema.Column) string {
	id := pgx.Identifier{c.Name}.Sanitize()
	if c.Kind == schema.KindCategory {
		col, _ := b.column(c.Name)
		return col + " IS NOT NULL"
	}
	return fmt.Sprintf("%s BETWEEN %s::bigint AND %s::bigint", id, b.param(c.Min), b.param(c.Max))
}

// Build makes the query reading, for every row of rel, the key, the
// conditions and the columns' values. Conditions and columns are over
// table t, whose declared columns are the only identifiers used.
func Build(t schema.Table, rel Relation, conds []plan.Expr, columns []string) (Query, error) {
	if rel.Name == "" || rel.Key == "" {
		return Query{}, fmt.Errorf("%w: table %s: no relation or key column", ErrUnsupported, t.Name)
	}
	b := &builder{t: t, cats: map[string]int{}}
	q := Query{Columns: columns, Pushed: make([]bool, len(conds))}
	var masks []string
	checked := map[string]bool{}
	var check []string
	addCheck := func(name string) error {
		if checked[name] {
			return nil
		}
		c, ok := t.Column(name)
		if !ok {
			return fmt.Errorf("%w: table %s has no column %q", ErrUnsupported, t.Name, name)
		}
		checked[name] = true
		check = append(check, fmt.Sprintf("WHEN (%s) IS NOT TRUE THEN %s::text", b.check(c), b.param(c.Name)))
		return nil
	}
	extra := map[string]bool{}
	for i, e := range conds {
		for _, col := range Columns(e) {
			if err := addCheck(col); err != nil {
				return Query{}, err
			}
		}
		if err := CheckOverflow(t, e); err != nil {
			if !errors.Is(err, ErrMayOverflow) {
				return Query{}, err
			}
			for _, col := range Columns(e) {
				if !extra[col] {
					extra[col] = true
					q.Extra = append(q.Extra, col)
				}
			}
			continue
		}
		s, err := b.expr(e)
		if err != nil {
			return Query{}, err
		}
		q.Pushed[i] = true
		masks = append(masks, fmt.Sprintf("COALESCE(%s, false)", s))
	}
	var vals []string
	for _, col := range append(append([]string(nil), columns...), q.Extra...) {
		if err := addCheck(col); err != nil {
			return Query{}, err
		}
		s, err := b.column(col)
		if err != nil {
			return Query{}, err
		}
		vals = append(vals, fmt.Sprintf("COALESCE(%s, 0)", s))
	}
	// The other declared columns are checked too: the whole row must be
	// within the contract, though only the columns above are returned.
	for _, c := range t.Columns {
		if err := addCheck(c.Name); err != nil {
			return Query{}, err
		}
	}
	bad := "NULL::text"
	if len(check) > 0 {
		bad = "CASE " + strings.Join(check, " ") + " END"
	}
	sel := []string{pgx.Identifier{rel.Key}.Sanitize() + "::text", bad}
	sel = append(sel, masks...)
	sel = append(sel, vals...)
	q.SQL = "SELECT " + strings.Join(sel, ", ") + " FROM " + rel.Ident()
	q.Args = b.args
	return q, nil
}

// KeysSQL is the query reading rel's person keys in a fixed order (byte
// order, whatever the database's collation).
func KeysSQL(rel Relation) string {
	k := pgx.Identifier{rel.Key}.Sanitize() + "::text"
	return "SELECT " + k + " FROM " + rel.Ident() + " ORDER BY " + k + " COLLATE \"C\""
}

// ProbeSQL is a query returning no rows whose result columns are rel's key
// and t's declared columns, for checking their types.
func ProbeSQL(t schema.Table, rel Relation) string {
	cols := []string{pgx.Identifier{rel.Key}.Sanitize()}
	for _, c := range t.Columns {
		cols = append(cols, pgx.Identifier{c.Name}.Sanitize())
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + rel.Ident() + " LIMIT 0"
}

// Expr translates one condition; nil is TRUE. It is exported for tests
// and EXPLAIN-like display; Build is what a source runs.
func Expr(t schema.Table, e plan.Expr) (sql string, args []any, err error) {
	b := &builder{t: t, cats: map[string]int{}}
	s, err := b.expr(e)
	return s, b.args, err
}

func (b *builder) expr(e plan.Expr) (string, error) {
	switch e := e.(type) {
	case nil:
		return "TRUE", nil
	case plan.And, plan.Or:
		terms, op := junction(e)
		if len(terms) == 0 {
			return "", fmt.Errorf("%w: empty %s", ErrUnsupported, op)
		}
		parts := make([]string, len(terms))
		for i, x := range terms {
			s, err := b.expr(x)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "(" + strings.Join(parts, " "+op+" ") + ")", nil
	case plan.Not:
		if e.Term == nil {
			return "", fmt.Errorf("%w: NOT without a term", ErrUnsupported)
		}
		s, err := b.expr(e.Term)
		if err != nil {
			return "", err
		}
		return "(NOT " + s + ")", nil
	case plan.Cmp:
		op, ok := sqlOps[e.Op]
		if !ok {
			return "", fmt.Errorf("%w: comparison operator %q", ErrUnsupported, e.Op)
		}
		l, err := b.arith(e.Left)
		if err != nil {
			return "", err
		}
		r, err := b.arith(e.Right)
		if err != nil {
			return "", err
		}
		return "(" + l + " " + op + " " + r + ")", nil
	case plan.In:
		a, err := b.arith(e.Arg)
		if err != nil {
			return "", err
		}
		vals := append([]int64{}, e.Values...)
		s := fmt.Sprintf("(%s = ANY(%s::bigint[]))", a, b.param(vals))
		if e.Negated {
			s = "(NOT " + s + ")"
		}
		return s, nil
	}
	return "", fmt.Errorf("%w: node %T", ErrUnsupported, e)
}

func junction(e plan.Expr) ([]plan.Expr, string) {
	if a, ok := e.(plan.And); ok {
		return a.Terms, "AND"
	}
	return e.(plan.Or).Terms, "OR"
}

var sqlOps = map[plan.Op]string{plan.OpEq: "=", plan.OpNe: "<>", plan.OpLt: "<", plan.OpLe: "<=", plan.OpGt: ">", plan.OpGe: ">="}

func (b *builder) arith(a plan.Arith) (string, error) {
	switch a := a.(type) {
	case plan.ACol:
		return b.column(a.Column)
	case plan.AConst:
		return b.param(a.V) + "::bigint", nil
	case plan.ABin:
		if a.Op != '+' && a.Op != '-' && a.Op != '*' {
			return "", fmt.Errorf("%w: arithmetic operator %q", ErrUnsupported, a.Op)
		}
		l, err := b.arith(a.L)
		if err != nil {
			return "", err
		}
		r, err := b.arith(a.R)
		if err != nil {
			return "", err
		}
		return "(" + l + " " + string(a.Op) + " " + r + ")", nil
	}
	return "", fmt.Errorf("%w: arithmetic node %T", ErrUnsupported, a)
}

// Columns lists the columns a condition reads, in first-use order.
func Columns(e plan.Expr) []string {
	var out []string
	seen := map[string]bool{}
	plan.WalkAtoms(e, func(_ string, operands ...plan.Arith) {
		for _, a := range operands {
			plan.WalkColumns(a, func(c string) {
				if !seen[c] {
					seen[c] = true
					out = append(out, c)
				}
			})
		}
	})
	return out
}

// CheckOverflow reports (wrapping ErrMayOverflow) whether some arithmetic
// node of e could leave int64 for column values within t's declared
// bounds (a category column's values are 0..len-1). Interval arithmetic
// over the exact integers: a node's range is computed from its operands'.
func CheckOverflow(t schema.Table, e plan.Expr) error {
	var err error
	plan.WalkAtoms(e, func(_ string, operands ...plan.Arith) {
		for _, a := range operands {
			if _, _, er := interval(t, a); er != nil && err == nil {
				err = er
			}
		}
	})
	return err
}

var minInt, maxInt = big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)

func interval(t schema.Table, a plan.Arith) (lo, hi *big.Int, err error) {
	switch a := a.(type) {
	case plan.ACol:
		c, ok := t.Column(a.Column)
		if !ok {
			return nil, nil, fmt.Errorf("%w: table %s has no column %q", ErrUnsupported, t.Name, a.Column)
		}
		if c.Kind == schema.KindCategory {
			return big.NewInt(0), big.NewInt(int64(len(c.Categories) - 1)), nil
		}
		return big.NewInt(c.Min), big.NewInt(c.Max), nil
	case plan.AConst:
		return big.NewInt(a.V), big.NewInt(a.V), nil
	case plan.ABin:
		l1, h1, err := interval(t, a.L)
		if err != nil {
			return nil, nil, err
		}
		l2, h2, err := interval(t, a.R)
		if err != nil {
			return nil, nil, err
		}
		switch a.Op {
		case '+':
			lo, hi = new(big.Int).Add(l1, l2), new(big.Int).Add(h1, h2)
		case '-':
			lo, hi = new(big.Int).Sub(l1, h2), new(big.Int).Sub(h1, l2)
		case '*':
			ps := []*big.Int{new(big.Int).Mul(l1, l2), new(big.Int).Mul(l1, h2), new(big.Int).Mul(h1, l2), new(big.Int).Mul(h1, h2)}
			lo, hi = ps[0], ps[0]
			for _, p := range ps[1:] {
				if p.Cmp(lo) < 0 {
					lo = p
				}
				if p.Cmp(hi) > 0 {
					hi = p
				}
			}
		default:
			return nil, nil, fmt.Errorf("%w: arithmetic operator %q", ErrUnsupported, a.Op)
		}
		if lo.Cmp(minInt) < 0 || hi.Cmp(maxInt) > 0 {
			return nil, nil, fmt.Errorf("%w: %s ranges over %s..%s for declared bounds", ErrMayOverflow, arithText(a), lo, hi)
		}
		return lo, hi, nil
	}
	return nil, nil, fmt.Errorf("%w: arithmetic node %T", ErrUnsupported, a)
}

func arithText(a plan.Arith) string {
	switch a := a.(type) {
	case plan.ACol:
		return a.Column
	case plan.AConst:
		return fmt.Sprint(a.V)
	case plan.ABin:
		return "(" + arithText(a.L) + " " + string(a.Op) + " " + arithText(a.R) + ")"
	}
	return "?"
}
