package plan

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/mpcq/mpcq/schema"
)

// Presence says what a term requires of a person's row at one table.
type Presence int

// The presence modes of a Local.
const (
	// PresenceRequired: the table must hold the person (and Expr must
	// hold on the row). Every inner-joined table is Required in every
	// term; a LEFT JOINed table is Required under t.key IS NOT NULL.
	PresenceRequired Presence = iota
	// PresenceAbsent: the table must not hold the person (LEFT JOIN t
	// ... WHERE t.key IS NULL). Expr is nil.
	PresenceAbsent
	// PresenceAny: the table's rows do not matter (a LEFT JOINed table
	// without a presence test): the party contributes 1 on every aligned
	// slot. Expr is nil.
	PresenceAny
)

// String returns "required", "absent" or "any" (the JSON spelling).
func (p Presence) String() string {
	switch p {
	case PresenceRequired:
		return "required"
	case PresenceAbsent:
		return "absent"
	case PresenceAny:
		return "any"
	}
	return fmt.Sprintf("Presence(%d)", int(p))
}

// JoinKind is how a table of FROM is joined.
type JoinKind string

// The join kinds.
const (
	// JoinInner keeps only people the table holds (JOIN t USING (key));
	// the first table of FROM is always JoinInner.
	JoinInner JoinKind = "INNER"
	// JoinLeft keeps people the table does not hold (LEFT JOIN t USING
	// (key)); its only allowed conditions are t.key IS [NOT] NULL.
	JoinLeft JoinKind = "LEFT"
)

// Local is one term's condition at one table: a boolean formula over
// that table's columns, evaluated by its party on its own row of each
// person, combined with what the term requires of the row's presence.
// The party's 0/1 value for a slot is:
//
//	Required: 1 iff it holds the person and Expr holds on the row
//	Absent:   1 iff it does not hold the person
//	Any:      1 (on every aligned slot)
type Local struct {
	Table    string
	Presence Presence
	// Expr is nil for "true" (and always nil unless Presence is
	// Required).
	Expr LocalExpr
}

// LocalExpr is a boolean formula over one table's columns. Its node types
// are LAnd, LOr, LNot, LCmp and LIn.
type LocalExpr interface{ isLocal() }

// LAnd holds when all its terms do (at least one term).
type LAnd struct{ Terms []LocalExpr }

// LOr holds when any of its terms does (at least one term).
type LOr struct{ Terms []LocalExpr }

// LNot negates its term.
type LNot struct{ Term LocalExpr }

// LCmp compares two integer expressions. For a category column, Left is
// the bare column, Right the constant category index and Op is OpEq or
// OpNe.
type LCmp struct {
	Left, Right Arith
	Op          Op
}

// LIn holds when Arg equals one of Values (or none of them if Negated).
// For a category column Arg is the bare column and Values are category
// indexes. Values are sorted and distinct in plans Parse returns.
type LIn struct {
	Arg     Arith
	Values  []int64
	Negated bool
}

func (LAnd) isLocal() {}
func (LOr) isLocal()  {}
func (LNot) isLocal() {}
func (LCmp) isLocal() {}
func (LIn) isLocal()  {}

// Arith is an integer expression over one table's columns. Its node types
// are ACol, AConst and ABin.
type Arith interface{ isArith() }

// ACol is the value of a column of the Local's table (for a category
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

// ErrEval marks a local formula that cannot be evaluated on a row: an
// arithmetic overflow, or a malformed formula.
var ErrEval = errors.New("cannot evaluate local condition")

// EvalLocal evaluates a local formula on one row; get returns a column's
// value (a category column's category index). A nil formula is true.
// An int64 overflow in arithmetic, an unknown operator or node is an
// error wrapping ErrEval.
func EvalLocal(e LocalExpr, get func(column string) int64) (bool, error) {
	switch e := e.(type) {
	case nil:
		return true, nil
	case LAnd:
		if len(e.Terms) == 0 {
			return false, fmt.Errorf("%w: empty AND", ErrEval)
		}
		out := true
		for _, t := range e.Terms {
			v, err := EvalLocal(t, get)
			if err != nil {
				return false, err
			}
			out = out && v
		}
		return out, nil
	case LOr:
		if len(e.Terms) == 0 {
			return false, fmt.Errorf("%w: empty OR", ErrEval)
		}
		out := false
		for _, t := range e.Terms {
			v, err := EvalLocal(t, get)
			if err != nil {
				return false, err
			}
			out = out || v
		}
		return out, nil
	case LNot:
		if e.Term == nil {
			return false, fmt.Errorf("%w: NOT without a term", ErrEval)
		}
		v, err := EvalLocal(e.Term, get)
		return !v, err
	case LCmp:
		l, err := EvalArith(e.Left, get)
		if err != nil {
			return false, err
		}
		r, err := EvalArith(e.Right, get)
		if err != nil {
			return false, err
		}
		switch e.Op {
		case OpEq, OpNe, OpLt, OpLe, OpGt, OpGe:
			return Cmp{Op: e.Op, Value: r}.Eval(l), nil
		}
		return false, fmt.Errorf("%w: unknown comparison operator %q", ErrEval, e.Op)
	case LIn:
		v, err := EvalArith(e.Arg, get)
		if err != nil {
			return false, err
		}
		return slices.Contains(e.Values, v) != e.Negated, nil
	}
	return false, fmt.Errorf("%w: unknown node %T", ErrEval, e)
}

// EvalArith evaluates an integer expression on one row (see EvalLocal).
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
			if a.Op != '+' && a.Op != '-' && a.Op != '*' {
				return 0, fmt.Errorf("%w: unknown arithmetic operator %q", ErrEval, a.Op)
			}
			return 0, fmt.Errorf("%w: %d %c %d overflows 64-bit integers", ErrEval, l, a.Op, r)
		}
		return v, nil
	}
	return 0, fmt.Errorf("%w: unknown arithmetic node %T", ErrEval, a)
}

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

// normalizeLocal flattens nested AND/OR, sorts and deduplicates their
// terms, unwraps single-term AND/OR and double negation, so that equal
// formulas written differently compare equal.
func normalizeLocal(e LocalExpr) LocalExpr {
	switch e := e.(type) {
	case LAnd:
		return normalizeJunction(e.Terms, true)
	case LOr:
		return normalizeJunction(e.Terms, false)
	case LNot:
		inner := normalizeLocal(e.Term)
		if n, ok := inner.(LNot); ok {
			return n.Term
		}
		return LNot{Term: inner}
	}
	return e
}

func normalizeJunction(terms []LocalExpr, and bool) LocalExpr {
	var flat []LocalExpr
	for _, t := range terms {
		t = normalizeLocal(t)
		switch x := t.(type) {
		case LAnd:
			if and {
				flat = append(flat, x.Terms...)
				continue
			}
		case LOr:
			if !and {
				flat = append(flat, x.Terms...)
				continue
			}
		}
		flat = append(flat, t)
	}
	keys := make(map[string]LocalExpr, len(flat))
	order := make([]string, 0, len(flat))
	for _, t := range flat {
		k := localKey(t)
		if _, dup := keys[k]; !dup {
			keys[k] = t
			order = append(order, k)
		}
	}
	slices.Sort(order)
	out := make([]LocalExpr, len(order))
	for i, k := range order {
		out[i] = keys[k]
	}
	if len(out) == 1 {
		return out[0]
	}
	if and {
		return LAnd{Terms: out}
	}
	return LOr{Terms: out}
}

// localKey renders a formula structurally, for sorting and comparing.
func localKey(e LocalExpr) string {
	var sb strings.Builder
	writeLocalKey(&sb, e)
	return sb.String()
}

func writeLocalKey(sb *strings.Builder, e LocalExpr) {
	switch e := e.(type) {
	case nil:
		sb.WriteString("true")
	case LAnd:
		writeKeyList(sb, "and", e.Terms)
	case LOr:
		writeKeyList(sb, "or", e.Terms)
	case LNot:
		sb.WriteString("not(")
		writeLocalKey(sb, e.Term)
		sb.WriteString(")")
	case LCmp:
		sb.WriteString("cmp(")
		writeArithKey(sb, e.Left)
		sb.WriteString(" " + string(e.Op) + " ")
		writeArithKey(sb, e.Right)
		sb.WriteString(")")
	case LIn:
		if e.Negated {
			sb.WriteString("notin(")
		} else {
			sb.WriteString("in(")
		}
		writeArithKey(sb, e.Arg)
		for _, v := range e.Values {
			sb.WriteString("," + strconv.FormatInt(v, 10))
		}
		sb.WriteString(")")
	default:
		fmt.Fprintf(sb, "%T", e)
	}
}

func writeKeyList(sb *strings.Builder, name string, terms []LocalExpr) {
	sb.WriteString(name + "(")
	for i, t := range terms {
		if i > 0 {
			sb.WriteString(",")
		}
		writeLocalKey(sb, t)
	}
	sb.WriteString(")")
}

func writeArithKey(sb *strings.Builder, a Arith) {
	switch a := a.(type) {
	case ACol:
		sb.WriteString(a.Column)
	case AConst:
		sb.WriteString(strconv.FormatInt(a.V, 10))
	case ABin:
		sb.WriteString("(")
		writeArithKey(sb, a.L)
		sb.WriteString(" " + string(a.Op) + " ")
		writeArithKey(sb, a.R)
		sb.WriteString(")")
	default:
		fmt.Fprintf(sb, "%T", a)
	}
}

// FormatLocal renders a Local as SQL-like text for people (EXPLAIN, logs):
// the formula with qualified column names and category values in quotes,
// and the presence requirement, e.g. "bank.balance > 5", "bank holds the
// person", "bank.person_id IS NULL", "any bank row". t describes the
// Local's table; values it does not declare are rendered as numbers.
func FormatLocal(l Local, t schema.Table) string {
	switch l.Presence {
	case PresenceAbsent:
		return l.Table + "." + t.Key + " IS NULL"
	case PresenceAny:
		return "any " + l.Table + " row (LEFT JOIN)"
	}
	if l.Expr == nil {
		return l.Table + " holds the person"
	}
	return localText(l.Expr, t, l.Table, false)
}

// localText renders a formula as SQL over table t, whose columns are
// written qualifier.column. nested asks for parentheses around AND/OR.
func localText(e LocalExpr, t schema.Table, qualifier string, nested bool) string {
	switch e := e.(type) {
	case LAnd:
		return junctionText(e.Terms, " AND ", t, qualifier, nested)
	case LOr:
		return junctionText(e.Terms, " OR ", t, qualifier, nested)
	case LNot:
		inner := localText(e.Term, t, qualifier, true)
		return "NOT " + inner
	case LCmp:
		left := arithText(e.Left, t, qualifier, 0)
		right := arithText(e.Right, t, qualifier, 0)
		if col, ok := e.Left.(ACol); ok {
			if c, isConst := e.Right.(AConst); isConst {
				right = constText(t, col.Column, c.V)
			}
		}
		return left + " " + string(e.Op) + " " + right
	case LIn:
		arg := arithText(e.Arg, t, qualifier, 0)
		if _, bin := e.Arg.(ABin); bin {
			arg = "(" + arg + ")"
		}
		col := ""
		if c, ok := e.Arg.(ACol); ok {
			col = c.Column
		}
		vals := make([]string, len(e.Values))
		for i, v := range e.Values {
			vals[i] = strconv.FormatInt(v, 10)
			if col != "" {
				vals[i] = constText(t, col, v)
			}
		}
		op := " IN ("
		if e.Negated {
			op = " NOT IN ("
		}
		return arg + op + strings.Join(vals, ", ") + ")"
	}
	return fmt.Sprintf("<%T>", e)
}

func junctionText(terms []LocalExpr, sep string, t schema.Table, qualifier string, nested bool) string {
	parts := make([]string, len(terms))
	for i, x := range terms {
		parts[i] = localText(x, t, qualifier, true)
	}
	s := strings.Join(parts, sep)
	if nested {
		return "(" + s + ")"
	}
	return s
}

// constText renders a constant compared with column col of t: the
// category in quotes for a category column, else the integer.
func constText(t schema.Table, col string, v int64) string {
	if c, ok := t.Column(col); ok && c.Kind == schema.KindCategory && v >= 0 && v < int64(len(c.Categories)) {
		return sqlString(c.Categories[v])
	}
	return strconv.FormatInt(v, 10)
}

// arithText renders an integer expression with the fewest parentheses
// that keep its tree: outer is the binding strength of the context (0
// none, 1 additive, 2 multiplicative); a right operand needs parentheses
// at equal strength.
func arithText(a Arith, t schema.Table, qualifier string, outer int) string {
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
		s := arithText(a.L, t, qualifier, p) + " " + string(a.Op) + " " + arithText(a.R, t, qualifier, p+1)
		if p < outer {
			return "(" + s + ")"
		}
		return s
	}
	return fmt.Sprintf("<%T>", a)
}

// localColumns adds the columns a formula reads to seen.
func localColumns(e LocalExpr, seen map[string]bool) {
	switch e := e.(type) {
	case LAnd:
		for _, t := range e.Terms {
			localColumns(t, seen)
		}
	case LOr:
		for _, t := range e.Terms {
			localColumns(t, seen)
		}
	case LNot:
		localColumns(e.Term, seen)
	case LCmp:
		arithColumns(e.Left, seen)
		arithColumns(e.Right, seen)
	case LIn:
		arithColumns(e.Arg, seen)
	}
}

func arithColumns(a Arith, seen map[string]bool) {
	switch a := a.(type) {
	case ACol:
		seen[a.Column] = true
	case ABin:
		arithColumns(a.L, seen)
		arithColumns(a.R, seen)
	}
}
