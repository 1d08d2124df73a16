package plan

import (
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/mpcq/mpcq/schema"
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

// Valid reports whether o is one of the six comparison operators.
func (o Op) Valid() bool { return o.rank() < 6 }

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

// negate returns the operator of the opposite comparison (NOT x < 5 is
// x >= 5; columns are never NULL, so this is exact).
func (o Op) negate() Op {
	switch o {
	case OpEq:
		return OpNe
	case OpNe:
		return OpEq
	case OpLt:
		return OpGe
	case OpLe:
		return OpGt
	case OpGt:
		return OpLe
	case OpGe:
		return OpLt
	}
	return o
}

// rank orders operators in canonical text (6 for an unknown operator).
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

// holds reports whether "l o r" is true; ok is false for an unknown
// operator.
func (o Op) holds(l, r int64) (v, ok bool) {
	switch o {
	case OpEq:
		return l == r, true
	case OpNe:
		return l != r, true
	case OpLt:
		return l < r, true
	case OpLe:
		return l <= r, true
	case OpGt:
		return l > r, true
	case OpGe:
		return l >= r, true
	}
	return false, false
}

// Expr is the one boolean condition tree of the package: a WHERE clause
// after name resolution, and a Local's formula, are both an Expr. Its
// node types are And, Or, Not and the atoms Cmp and In; each atom names
// the one table whose columns it reads, so a condition may span tables
// while a Local's Expr is a tree whose atoms are all on the Local's table.
//
// Parse returns normalized trees (see normalize): nested AND/OR
// flattened, terms sorted and distinct, NOT pushed into the atoms and
// no double negation, so that equal conditions are equal trees.
type Expr interface{ isExpr() }

// And holds when all its terms do (at least one term).
type And struct {
	Terms []Expr
	off   int // where the query wrote it (errors only; 0 when unknown)
}

// Or holds when any of its terms does (at least one term).
type Or struct {
	Terms []Expr
	off   int
}

// Not negates its term. In a normalized tree its term is an And or Or
// (a negated atom is the opposite atom).
type Not struct {
	Term Expr
	off  int
}

// Cmp compares two integer expressions over Table's columns. For a
// category column, Left is the bare column, Right the constant category
// index and Op is OpEq or OpNe.
type Cmp struct {
	Table       string
	Left, Right Arith
	Op          Op
}

// In holds when Arg, over Table's columns, equals one of Values (or none
// of them if Negated). For a category column Arg is the bare column and
// Values are category indexes. Values are sorted and distinct in plans
// Parse returns.
type In struct {
	Table   string
	Arg     Arith
	Values  []int64
	Negated bool
}

func (And) isExpr() {}
func (Or) isExpr()  {}
func (Not) isExpr() {}
func (Cmp) isExpr() {}
func (In) isExpr()  {}

// Arith is an integer expression over one table's columns. Its node types
// are ACol, AConst and ABin.
type Arith interface{ isArith() }

// ACol is the value of a column of the atom's table (for a category
// column, the category index).
type ACol struct{ Column string }

// AConst is an integer constant.
type AConst struct{ V int64 }

// ABin is L Op R with Op one of '+', '-', '*', in 64-bit signed
// arithmetic where overflow is an error.
type ABin struct {
	Op   byte
	L, R Arith
}

func (ACol) isArith()   {}
func (AConst) isArith() {}
func (ABin) isArith()   {}

// ErrEval marks a formula that cannot be evaluated on a row: an
// arithmetic overflow, or a malformed formula.
var ErrEval = errors.New("cannot evaluate local condition")

// Eval evaluates a formula on one person's row; get returns a column's
// value (a category column's category index). The atoms' tables are not
// consulted: get answers for the one table of a Local. A nil formula is
// true. An int64 overflow in arithmetic, an unknown operator or node is
// an error wrapping ErrEval.
func Eval(e Expr, get func(column string) int64) (bool, error) {
	switch e := e.(type) {
	case nil:
		return true, nil
	case And:
		return evalJunction(e.Terms, true, get)
	case Or:
		return evalJunction(e.Terms, false, get)
	case Not:
		if e.Term == nil {
			return false, fmt.Errorf("%w: NOT without a term", ErrEval)
		}
		v, err := Eval(e.Term, get)
		return !v, err
	case Cmp:
		l, err := EvalArith(e.Left, get)
		if err != nil {
			return false, err
		}
		r, err := EvalArith(e.Right, get)
		if err != nil {
			return false, err
		}
		v, ok := e.Op.holds(l, r)
		if !ok {
			return false, fmt.Errorf("%w: unknown comparison operator %q", ErrEval, e.Op)
		}
		return v, nil
	case In:
		v, err := EvalArith(e.Arg, get)
		if err != nil {
			return false, err
		}
		return slices.Contains(e.Values, v) != e.Negated, nil
	}
	return false, fmt.Errorf("%w: unknown node %T", ErrEval, e)
}

func evalJunction(terms []Expr, and bool, get func(string) int64) (bool, error) {
	if len(terms) == 0 {
		return false, fmt.Errorf("%w: empty %s", ErrEval, junctionName(and))
	}
	out := and
	for _, t := range terms {
		v, err := Eval(t, get)
		if err != nil {
			return false, err
		}
		if and {
			out = out && v
		} else {
			out = out || v
		}
	}
	return out, nil
}

func junctionName(and bool) string {
	if and {
		return "AND"
	}
	return "OR"
}

// EvalArith evaluates an integer expression on one row (see Eval).
func EvalArith(a Arith, get func(column string) int64) (int64, error) {
	switch a := a.(type) {
	case ACol:
		return get(a.Column), nil
	case AConst:
		return a.V, nil
	case ABin:
		l, err := EvalArith(a.L, get)
		if err != nil {
			return 0, err
		}
		r, err := EvalArith(a.R, get)
		if err != nil {
			return 0, err
		}
		v, ok := arithOp(a.Op, l, r)
		if !ok {
			if !validArithOp(a.Op) {
				return 0, fmt.Errorf("%w: unknown arithmetic operator %q", ErrEval, a.Op)
			}
			return 0, fmt.Errorf("%w: %d %c %d overflows 64-bit integers", ErrEval, l, a.Op, r)
		}
		return v, nil
	}
	return 0, fmt.Errorf("%w: unknown arithmetic node %T", ErrEval, a)
}

func validArithOp(op byte) bool { return op == '+' || op == '-' || op == '*' }

// arithOp computes l op r, reporting false on overflow or an unknown op.
func arithOp(op byte, l, r int64) (int64, bool) {
	switch op {
	case '+':
		s := l + r
		return s, (s > l) == (r > 0)
	case '-':
		d := l - r
		return d, (d < l) == (r > 0)
	case '*':
		if l == 0 || r == 0 {
			return 0, true
		}
		neg := (l < 0) != (r < 0)
		hi, lo := bits.Mul64(absU(l), absU(r))
		if hi != 0 {
			return 0, false
		}
		if neg {
			if lo > 1<<63 {
				return 0, false
			}
			return int64(-lo), true
		}
		if lo > 1<<63-1 {
			return 0, false
		}
		return int64(lo), true
	}
	return 0, false
}

func absU(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

// normalize is the one normalizer: nested AND/OR flattened, terms sorted
// and deduplicated, single-term AND/OR unwrapped, NOT pushed into the
// atoms (NOT x < 5 is x >= 5, NOT x IN (...) is x NOT IN (...)) and
// double negation removed, so that equal conditions written differently
// are equal trees. It is idempotent. The order puts plain "column OP
// constant" comparisons first, by table, column, operator and value,
// then the rest by their text (rendered with cs, see exprText). A
// junction keeps the position of the outermost one it absorbs.
func normalize(e Expr, cs schema.Consortium) Expr {
	switch e := e.(type) {
	case And:
		return normJunction(e.Terms, true, e.off, cs)
	case Or:
		return normJunction(e.Terms, false, e.off, cs)
	case Not:
		switch x := normalize(e.Term, cs).(type) {
		case Not:
			return x.Term
		case Cmp:
			x.Op = x.Op.negate()
			return x
		case In:
			x.Negated = !x.Negated
			return x
		default:
			return Not{Term: x, off: e.off}
		}
	}
	return e
}

func normJunction(terms []Expr, and bool, off int, cs schema.Consortium) Expr {
	var flat []Expr
	for _, t := range terms {
		t = normalize(t, cs)
		switch x := t.(type) {
		case And:
			if and {
				flat = append(flat, x.Terms...)
				continue
			}
		case Or:
			if !and {
				flat = append(flat, x.Terms...)
				continue
			}
		}
		flat = append(flat, t)
	}
	order := func(x, y Expr) int { return compareExpr(x, y, cs) }
	slices.SortStableFunc(flat, order)
	flat = slices.CompactFunc(flat, func(x, y Expr) bool { return order(x, y) == 0 })
	if len(flat) == 1 {
		return flat[0]
	}
	if and {
		return And{Terms: flat, off: off}
	}
	return Or{Terms: flat, off: off}
}

// plainCmp reports whether e is "column OP constant".
func plainCmp(e Expr) (Cmp, string, int64, bool) {
	c, ok := e.(Cmp)
	if !ok {
		return Cmp{}, "", 0, false
	}
	col, ok := c.Left.(ACol)
	if !ok {
		return Cmp{}, "", 0, false
	}
	k, ok := c.Right.(AConst)
	if !ok {
		return Cmp{}, "", 0, false
	}
	return c, col.Column, k.V, true
}

// compareExpr is the order of normalize: plain comparisons first by
// table, column, operator and value, then the rest by text.
func compareExpr(x, y Expr, cs schema.Consortium) int {
	cx, colx, vx, okx := plainCmp(x)
	cy, coly, vy, oky := plainCmp(y)
	switch {
	case okx && oky:
		return cmp.Or(
			cmp.Compare(cx.Table, cy.Table),
			cmp.Compare(colx, coly),
			cmp.Compare(cx.Op.rank(), cy.Op.rank()),
			cmp.Compare(vx, vy),
		)
	case okx:
		return -1
	case oky:
		return 1
	}
	return strings.Compare(exprText(x, cs, true), exprText(y, cs, true))
}

// bare returns the tree without the query positions its junctions
// carry (what a plan's Locals hold).
func bare(e Expr) Expr {
	list := func(ts []Expr) []Expr {
		out := make([]Expr, len(ts))
		for i, t := range ts {
			out[i] = bare(t)
		}
		return out
	}
	switch e := e.(type) {
	case And:
		return And{Terms: list(e.Terms)}
	case Or:
		return Or{Terms: list(e.Terms)}
	case Not:
		return Not{Term: bare(e.Term)}
	}
	return e
}

// exprPos is where the query wrote a junction or NOT (fallback for
// atoms and unknown positions).
func exprPos(e Expr, fallback int) int {
	off := 0
	switch e := e.(type) {
	case And:
		off = e.off
	case Or:
		off = e.off
	case Not:
		off = e.off
	}
	if off == 0 {
		return fallback
	}
	return off
}

// exprText is the one renderer: a formula as SQL, columns written
// table.column with the atom's table, constants compared with (or listed
// IN for) a bare category column as the category in quotes when cs
// declares it, else as integers. nested asks for parentheses around AND
// and OR. Rendered with an empty consortium it is the structural key of
// a formula: equal texts are equal conditions.
func exprText(e Expr, cs schema.Consortium, nested bool) string {
	var sb strings.Builder
	writeExpr(&sb, e, cs, nested)
	return sb.String()
}

func writeExpr(sb *strings.Builder, e Expr, cs schema.Consortium, nested bool) {
	switch e := e.(type) {
	case nil:
		sb.WriteString("TRUE")
	case And:
		writeJunction(sb, e.Terms, " AND ", cs, nested)
	case Or:
		writeJunction(sb, e.Terms, " OR ", cs, nested)
	case Not:
		sb.WriteString("NOT ")
		writeExpr(sb, e.Term, cs, true)
	case Cmp:
		t, _ := cs.Table(e.Table)
		sb.WriteString(arithText(e.Left, e.Table, 0))
		sb.WriteString(" " + string(e.Op) + " ")
		right := arithText(e.Right, e.Table, 0)
		if col, ok := e.Left.(ACol); ok {
			if c, isConst := e.Right.(AConst); isConst {
				right = constText(t, col.Column, c.V)
			}
		}
		sb.WriteString(right)
	case In:
		t, _ := cs.Table(e.Table)
		arg := arithText(e.Arg, e.Table, 0)
		if _, bin := e.Arg.(ABin); bin {
			arg = "(" + arg + ")"
		}
		col, _ := e.Arg.(ACol)
		sb.WriteString(arg)
		if e.Negated {
			sb.WriteString(" NOT")
		}
		sb.WriteString(" IN (")
		for i, v := range e.Values {
			if i > 0 {
				sb.WriteString(", ")
			}
			if col.Column != "" {
				sb.WriteString(constText(t, col.Column, v))
			} else {
				sb.WriteString(strconv.FormatInt(v, 10))
			}
		}
		sb.WriteString(")")
	default:
		fmt.Fprintf(sb, "<%T>", e)
	}
}

func writeJunction(sb *strings.Builder, terms []Expr, sep string, cs schema.Consortium, nested bool) {
	if nested {
		sb.WriteString("(")
	}
	for i, x := range terms {
		if i > 0 {
			sb.WriteString(sep)
		}
		writeExpr(sb, x, cs, true)
	}
	if nested {
		sb.WriteString(")")
	}
}

// constText renders a constant compared with column col of t: the
// category in quotes for a category column, else the integer.
func constText(t schema.Table, col string, v int64) string {
	if c, ok := t.Column(col); ok && c.Kind == schema.KindCategory && v >= 0 && v < int64(len(c.Categories)) {
		return sqlString(c.Categories[v])
	}
	return strconv.FormatInt(v, 10)
}

// arithText renders an integer expression, its columns written
// qualifier.column, with the fewest parentheses that keep its tree:
// outer is the binding strength of the context (0 none, 1 additive, 2
// multiplicative); a right operand needs parentheses at equal strength.
func arithText(a Arith, qualifier string, outer int) string {
	switch a := a.(type) {
	case ACol:
		return qualifier + "." + a.Column
	case AConst:
		return strconv.FormatInt(a.V, 10)
	case ABin:
		p := 1
		if a.Op == '*' {
			p = 2
		}
		s := arithText(a.L, qualifier, p) + " " + string(a.Op) + " " + arithText(a.R, qualifier, p+1)
		if p < outer {
			return "(" + s + ")"
		}
		return s
	}
	return fmt.Sprintf("<%T>", a)
}

// exprTables returns the distinct tables a formula's atoms read, sorted.
func exprTables(e Expr) []string {
	var out []string
	walkAtoms(e, func(table string, _ ...Arith) { out = append(out, table) })
	slices.Sort(out)
	return slices.Compact(out)
}

// exprColumns adds the columns a formula reads to seen.
func exprColumns(e Expr, seen map[string]bool) {
	walkAtoms(e, func(_ string, as ...Arith) {
		for _, a := range as {
			WalkColumns(a, func(c string) { seen[c] = true })
		}
	})
}

// WalkAtoms calls f with each atom (Cmp, In) of e, in order, with its
// table and its operands: what a reader of a condition's columns or
// arithmetic needs, without walking And, Or and Not itself.
func WalkAtoms(e Expr, f func(table string, operands ...Arith)) { walkAtoms(e, f) }

// WalkColumns calls f with each column an integer expression reads, left
// to right (repeats included).
func WalkColumns(a Arith, f func(column string)) {
	switch a := a.(type) {
	case ACol:
		f(a.Column)
	case ABin:
		WalkColumns(a.L, f)
		WalkColumns(a.R, f)
	}
}

// walkAtoms calls f with each atom's table and operands.
func walkAtoms(e Expr, f func(table string, operands ...Arith)) {
	switch e := e.(type) {
	case And:
		for _, t := range e.Terms {
			walkAtoms(t, f)
		}
	case Or:
		for _, t := range e.Terms {
			walkAtoms(t, f)
		}
	case Not:
		walkAtoms(e.Term, f)
	case Cmp:
		f(e.Table, e.Left, e.Right)
	case In:
		f(e.Table, e.Arg)
	}
}
