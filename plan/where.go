package plan

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"

	"github.com/mpcq/mpcq/schema"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// presenceTest is a top-level "t.key IS [NOT] NULL" on a LEFT JOINed
// table.
type presenceTest struct {
	mode Presence
	off  int
}

// where converts the WHERE clause into the condition tree (see Expr; not
// yet normalized), resolving names and checking types. Presence tests are
// recorded in b.presence; the rest is returned (nil when nothing else is
// left).
func (b *builder) where(n *pg.Node) (Expr, *Error) {
	return b.cond(n, true)
}

// cond converts one boolean expression. top says the expression is a
// top-level conjunct of WHERE (only those may test presence).
func (b *builder) cond(n *pg.Node, top bool) (Expr, *Error) {
	switch {
	case n.GetBoolExpr() != nil:
		be := n.GetBoolExpr()
		off := int(be.GetLocation())
		isAnd := be.GetBoolop() == pg.BoolExprType_AND_EXPR
		var terms []Expr
		for _, a := range be.GetArgs() {
			t, err := b.cond(a, top && isAnd)
			if err != nil {
				return nil, err
			}
			if t != nil {
				terms = append(terms, t)
			}
		}
		switch be.GetBoolop() {
		case pg.BoolExprType_AND_EXPR:
			switch len(terms) {
			case 0:
				return nil, nil
			case 1:
				return terms[0], nil
			}
			return And{Terms: terms, off: off}, nil
		case pg.BoolExprType_OR_EXPR:
			return Or{Terms: terms, off: off}, nil
		case pg.BoolExprType_NOT_EXPR:
			if len(terms) == 1 {
				return Not{Term: terms[0], off: off}, nil
			}
		}
		return nil, b.unsupported(off, "this boolean expression")
	case n.GetAExpr() != nil:
		return b.predicate(n.GetAExpr())
	case n.GetNullTest() != nil:
		return nil, b.nullTest(n.GetNullTest(), top)
	case n.GetColumnRef() != nil:
		ref := n.GetColumnRef()
		return nil, b.errAt(int(ref.GetLocation()), ErrType, "%s is not a condition; compare it with a constant, e.g. %s = 1", refText(ref), refText(ref))
	case n.GetFuncCall() != nil:
		fc := n.GetFuncCall()
		if isAggregate(funcName(fc)) {
			return nil, b.errAt(int(fc.GetLocation()), ErrInvalid, "aggregate functions are not allowed in WHERE; WHERE filters people before aggregation")
		}
	}
	return nil, b.unsupported(max(minLocation(n), b.start), describe(n)+" in WHERE")
}

// predicate converts a comparison, IN or BETWEEN.
func (b *builder) predicate(ae *pg.A_Expr) (Expr, *Error) {
	off := int(ae.GetLocation())
	opName := ""
	if names := ae.GetName(); len(names) > 0 {
		opName = names[len(names)-1].GetString_().GetSval()
	}
	switch ae.GetKind() {
	case pg.A_Expr_Kind_AEXPR_OP:
	case pg.A_Expr_Kind_AEXPR_IN:
		return b.in(ae, opName == "<>")
	case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_BETWEEN_SYM,
		pg.A_Expr_Kind_AEXPR_NOT_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		return b.between(ae)
	default:
		return nil, b.unsupported(off, describe(&pg.Node{Node: &pg.Node_AExpr{AExpr: ae}}))
	}
	op, ok := compareOp(opName)
	if !ok {
		return nil, b.errAt(off, ErrUnsupported, "operator %s is not supported in this version; WHERE takes comparisons (= != < <= > >=), IN and BETWEEN, combined with AND, OR and NOT", opName)
	}
	return b.comparison(ae.GetLexpr(), ae.GetRexpr(), op, off)
}

func compareOp(name string) (Op, bool) {
	switch name {
	case "=":
		return OpEq, true
	case "<>", "!=":
		return OpNe, true
	case "<":
		return OpLt, true
	case "<=":
		return OpLe, true
	case ">":
		return OpGt, true
	case ">=":
		return OpGe, true
	}
	return "", false
}

// operand is one side of a comparison after name resolution.
type operand struct {
	off   int
	text  string         // as written, for messages
	ar    Arith          // the integer expression (nil for a non-integer constant)
	table string         // the table of its columns ("" for a constant)
	cat   *schema.Column // the column, when the operand is a bare category column
	konst *pg.A_Const    // the constant, when it is not an integer
}

func (o operand) isConst() bool {
	_, ok := o.ar.(AConst)
	return o.konst != nil || ok
}

// comparison converts "l OP r". A column compared with a constant keeps
// the first version's checks and messages; anything else is integer
// arithmetic over one table's columns.
func (b *builder) comparison(l, r *pg.Node, op Op, opOff int) (Expr, *Error) {
	lref, rref := l.GetColumnRef(), r.GetColumnRef()
	lc, rc := constant(l), constant(r)
	switch {
	case lref != nil && rc != nil:
		return b.columnCmp(lref, op, opOff, rc)
	case lc != nil && rref != nil:
		return b.columnCmp(rref, op.flip(), opOff, lc)
	case lc != nil && rc != nil:
		return nil, b.errAt(opOff, ErrUnsupported, "comparing two constants is not supported; compare a column with a constant")
	}
	lo, err := b.operand(l, false)
	if err != nil {
		return nil, err
	}
	ro, err := b.operand(r, false)
	if err != nil {
		return nil, err
	}
	if lo.table != "" && ro.table != "" && lo.table != ro.table {
		return nil, b.crossTables(opOff, lo.table, ro.table)
	}
	if lo.cat != nil || ro.cat != nil {
		c, other := lo, ro
		if c.cat == nil {
			c, other = ro, lo
		}
		if other.cat != nil {
			return nil, b.errAt(opOff, ErrUnsupported, "comparing two category columns (%s, %s) is not supported; compare each with one of its values", lo.text, ro.text)
		}
		return nil, b.errAt(other.off, ErrType, "%s is a category column; compare it with one of its values in quotes, e.g. %s = %s, not with an integer expression",
			c.text, c.text, quoteString(c.cat.Categories[0]))
	}
	for _, pair := range [][2]operand{{lo, ro}, {ro, lo}} {
		o, k := pair[0], pair[1]
		if k.konst == nil {
			continue
		}
		if k.konst.GetIsnull() {
			return nil, b.errAt(k.off, ErrType, "comparing %s with NULL is never true; compare it with a value", o.text)
		}
		return nil, b.errAt(k.off, ErrType, "%s is an integer expression; compare it with an integer, not %s", o.text, literal(k.konst))
	}
	if lo.isConst() && ro.isConst() {
		return nil, b.errAt(opOff, ErrUnsupported, "comparing two constants is not supported; compare a column with a constant")
	}
	if lo.isConst() {
		lo, ro, op = ro, lo, op.flip()
	}
	table := lo.table
	if err := b.checkRange(lo, table); err != nil {
		return nil, err
	}
	if err := b.checkRange(ro, table); err != nil {
		return nil, err
	}
	return Cmp{Table: table, Left: lo.ar, Right: ro.ar, Op: op}, nil
}

// crossTables refuses a comparison or arithmetic mixing two tables.
func (b *builder) crossTables(off int, t1, t2 string) *Error {
	return b.errAt(off, ErrUnsupported,
		"comparing or combining columns of two institutions (%s and %s) is not supported: each comparison runs inside one institution on its own rows; compare each column with a constant and combine the comparisons with AND or OR", t1, t2)
}

// operand resolves one side of a comparison (or, with inArith, of an
// arithmetic operator, where only integers are allowed).
func (b *builder) operand(n *pg.Node, inArith bool) (operand, *Error) {
	off := max(minLocation(n), b.start)
	if ref := n.GetColumnRef(); ref != nil {
		e, col, err := b.resolve(ref)
		if err != nil {
			return operand{}, err
		}
		text := refText(ref)
		if e.join == JoinLeft {
			return operand{}, b.leftJoined(int(ref.GetLocation()), e, text)
		}
		o := operand{off: int(ref.GetLocation()), text: text, ar: ACol{Column: col.Name}, table: e.table.Name}
		if col.Kind == schema.KindCategory {
			if inArith {
				return operand{}, b.errAt(o.off, ErrType, "%s is a category column; it cannot be used in arithmetic (compare it with one of its values, e.g. %s = %s)",
					text, text, quoteString(col.Categories[0]))
			}
			o.cat = &col
		}
		return o, nil
	}
	if c := constant(n); c != nil {
		o := operand{off: int(c.GetLocation()), text: literal(c)}
		switch {
		case c.GetIval() != nil:
			o.ar = AConst{V: int64(c.GetIval().GetIval())}
			return o, nil
		case c.GetFval() != nil:
			text := c.GetFval().GetFval()
			v, err := parseInt(text)
			switch {
			case errors.Is(err, strconv.ErrRange):
				return operand{}, b.errAt(o.off, ErrType, "integer %s is out of range (a 64-bit signed integer is required)", text)
			case err == nil:
				o.ar = AConst{V: v}
				return o, nil
			}
		}
		if inArith {
			if c.GetIsnull() {
				return operand{}, b.errAt(o.off, ErrType, "arithmetic with NULL is never true in a comparison; use an integer")
			}
			return operand{}, b.errAt(o.off, ErrType, "integer arithmetic takes integers, not %s", literal(c))
		}
		o.konst = c
		return o, nil
	}
	if ae := n.GetAExpr(); ae != nil && ae.GetKind() == pg.A_Expr_Kind_AEXPR_OP && len(ae.GetName()) == 1 {
		opName := ae.GetName()[0].GetString_().GetSval()
		aoff := int(ae.GetLocation())
		switch opName {
		case "+", "-", "*":
		case "/":
			return operand{}, b.errAt(aoff, ErrUnsupported,
				"operator / is not supported: integer division would round; multiply the other side of the comparison instead (x / 3 > y is x > 3 * y + 2)")
		case "%":
			return operand{}, b.errAt(aoff, ErrUnsupported, "operator %% (remainder) is not supported; use + - * on integer columns and constants")
		default:
			return operand{}, b.errAt(aoff, ErrUnsupported, "operator %s is not supported in arithmetic; use + - * on integer columns and constants", opName)
		}
		var lo operand
		if ae.GetLexpr() == nil {
			if opName == "*" {
				return operand{}, b.errAt(aoff, ErrUnsupported, "unary * is not an operator")
			}
			lo = operand{off: aoff, ar: AConst{V: 0}}
		} else {
			var err *Error
			if lo, err = b.operand(ae.GetLexpr(), true); err != nil {
				return operand{}, err
			}
		}
		ro, err := b.operand(ae.GetRexpr(), true)
		if err != nil {
			return operand{}, err
		}
		if lo.table != "" && ro.table != "" && lo.table != ro.table {
			return operand{}, b.crossTables(aoff, lo.table, ro.table)
		}
		out := operand{off: min(lo.off, aoff), table: lo.table}
		if out.table == "" {
			out.table = ro.table
		}
		if ae.GetLexpr() == nil && opName == "+" {
			out.ar = ro.ar
		} else {
			out.ar = ABin{Op: opName[0], L: lo.ar, R: ro.ar}
		}
		if lc, ok := lo.ar.(AConst); ok {
			if rc, ok := ro.ar.(AConst); ok {
				v, ok := arithOp(opName[0], lc.V, rc.V)
				if !ok {
					return operand{}, b.errAt(aoff, ErrInvalid, "constant arithmetic %d %s %d overflows 64-bit integers", lc.V, opName, rc.V)
				}
				out.ar = AConst{V: v}
			}
		}
		out.text = arithText(out.ar, b.refOf(out.table), 0)
		return out, nil
	}
	if fc := n.GetFuncCall(); fc != nil && isAggregate(funcName(fc)) {
		return operand{}, b.errAt(int(fc.GetLocation()), ErrInvalid, "aggregate functions are not allowed in WHERE; WHERE filters people before aggregation")
	}
	return operand{}, b.errAt(off, ErrUnsupported,
		"%s in a comparison is not supported in this version; compare columns, integer constants and + - * arithmetic of one institution's columns", describe(n))
}

// refOf returns the name the query uses for a table (its alias or name).
func (b *builder) refOf(table string) string {
	for _, e := range b.scope {
		if e.table.Name == table {
			return e.ref()
		}
	}
	return table
}

// checkRange refuses integer arithmetic whose value, or any
// intermediate value, could leave the 64-bit range for the declared
// column bounds.
func (b *builder) checkRange(o operand, table string) *Error {
	if _, bin := o.ar.(ABin); !bin {
		return nil
	}
	t, _ := b.cs.Table(table)
	if _, _, over := arithRange(o.ar, t); over != nil {
		return b.errAt(o.off, ErrInvalid, "%s could reach %s for the declared bounds of its columns, beyond the 64-bit integer range; simplify the arithmetic", o.text, over)
	}
	return nil
}

// arithRange bounds an integer expression over the declared bounds of
// table t's columns. over is the first bound found outside the 64-bit
// range (nil if none); lo and hi are then meaningless.
func arithRange(a Arith, t schema.Table) (lo, hi, over *big.Int) {
	switch a := a.(type) {
	case ACol:
		c, _ := t.Column(a.Column)
		return big.NewInt(c.Min), big.NewInt(c.Max), nil
	case AConst:
		return big.NewInt(a.V), big.NewInt(a.V), nil
	case ABin:
		l1, h1, over := arithRange(a.L, t)
		if over != nil {
			return nil, nil, over
		}
		l2, h2, over := arithRange(a.R, t)
		if over != nil {
			return nil, nil, over
		}
		switch a.Op {
		case '+':
			lo, hi = new(big.Int).Add(l1, l2), new(big.Int).Add(h1, h2)
		case '-':
			lo, hi = new(big.Int).Sub(l1, h2), new(big.Int).Sub(h1, l2)
		default:
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
		}
		if lo.Cmp(big.NewInt(-1<<63)) < 0 {
			return nil, nil, lo
		}
		if hi.Cmp(big.NewInt(1<<63-1)) > 0 {
			return nil, nil, hi
		}
		return lo, hi, nil
	}
	return big.NewInt(0), big.NewInt(0), nil
}

// columnCmp type-checks one comparison of a column with a constant.
func (b *builder) columnCmp(ref *pg.ColumnRef, op Op, opOff int, c *pg.A_Const) (Expr, *Error) {
	e, col, err := b.resolve(ref)
	if err != nil {
		return nil, err
	}
	name := refText(ref)
	if e.join == JoinLeft {
		return nil, b.leftJoined(int(ref.GetLocation()), e, name)
	}
	off := int(c.GetLocation())
	if c.GetIsnull() {
		return nil, b.errAt(off, ErrType, "comparing %s with NULL is never true; compare it with a value", name)
	}
	var v int64
	switch col.Kind {
	case schema.KindInt:
		switch {
		case c.GetIval() != nil:
			v = int64(c.GetIval().GetIval())
		case c.GetFval() != nil:
			text := c.GetFval().GetFval()
			x, err := parseInt(text)
			switch {
			case errors.Is(err, strconv.ErrRange):
				return nil, b.errAt(off, ErrType, "integer %s is out of range (a 64-bit signed integer is required)", text)
			case err != nil:
				return nil, b.errAt(off, ErrType, "%s is an int column; compare it with an integer, not %s", name, text)
			}
			v = x
		default:
			return nil, b.errAt(off, ErrType, "%s is an int column; compare it with an integer, not %s", name, literal(c))
		}
	case schema.KindCategory:
		if op != OpEq && op != OpNe {
			return nil, b.errAt(opOff, ErrType, "operator %s does not apply to category column %s; use = or != (or IN)", op, name)
		}
		i, err := b.category(col, name, c)
		if err != nil {
			return nil, err
		}
		v = i
	default:
		return nil, b.errAt(off, ErrType, "column %s has kind %q, which cannot be compared", name, col.Kind)
	}
	return Cmp{Table: e.table.Name, Left: ACol{Column: col.Name}, Right: AConst{V: v}, Op: op}, nil
}

// category returns the index of a category constant in col's domain.
func (b *builder) category(col schema.Column, name string, c *pg.A_Const) (int64, *Error) {
	off := int(c.GetLocation())
	if c.GetSval() == nil {
		return 0, b.errAt(off, ErrType, "%s is a category column; compare it with one of its values in quotes, e.g. %s = %s, not %s",
			name, name, quoteString(col.Categories[0]), literal(c))
	}
	v := c.GetSval().GetSval()
	i, ok := col.CategoryIndex(v)
	if !ok {
		h := fmt.Sprintf(" (valid values: %s)", list(col.Categories))
		if s := closest(v, col.Categories); s != "" {
			h = fmt.Sprintf(" (did you mean %s? valid values: %s)", quoteString(s), list(col.Categories))
		}
		return 0, b.errAt(off, ErrType, "unknown value %s for category column %s%s", quoteString(v), name, h)
	}
	return int64(i), nil
}

// leftJoined refuses a condition or aggregate on a LEFT JOINed table's
// column, explaining SQL's NULL semantics.
func (b *builder) leftJoined(off int, e scopeEntry, text string) *Error {
	r := e.ref()
	return b.errAt(off, ErrUnsupported,
		"%s cannot be used: %s is LEFT JOINed, so %s is NULL for people %s does not hold and SQL's three-valued logic would apply; "+
			"on a LEFT JOINed table only %s.%s IS NULL or IS NOT NULL (a top-level AND condition) is supported; write JOIN %s USING (%s) to use its columns",
		text, r, text, r, r, e.table.Key, e.table.Name, e.table.Key)
}

// in converts "arg [NOT] IN (constants)".
func (b *builder) in(ae *pg.A_Expr, negated bool) (Expr, *Error) {
	off := int(ae.GetLocation())
	items := ae.GetRexpr().GetList().GetItems()
	if len(items) == 0 {
		return nil, b.unsupported(off, "this IN expression")
	}
	arg, err := b.operand(ae.GetLexpr(), false)
	if err != nil {
		return nil, err
	}
	if arg.isConst() {
		return nil, b.errAt(arg.off, ErrUnsupported, "IN needs a column (or integer arithmetic of one institution's columns) on its left, not a constant")
	}
	var vals []int64
	for _, it := range items {
		c := constant(it)
		if c == nil {
			return nil, b.errAt(max(minLocation(it), off), ErrUnsupported, "an IN list takes constants, not %s", describe(it))
		}
		if c.GetIsnull() {
			return nil, b.errAt(int(c.GetLocation()), ErrType, "NULL in an IN list never matches; list values only")
		}
		if arg.cat != nil {
			v, err := b.category(*arg.cat, arg.text, c)
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
			continue
		}
		o, err := b.operand(it, false)
		if err != nil {
			return nil, err
		}
		if o.konst != nil {
			return nil, b.errAt(o.off, ErrType, "%s is an integer expression; its IN list takes integers, not %s", arg.text, literal(o.konst))
		}
		vals = append(vals, o.ar.(AConst).V)
	}
	if err := b.checkRange(arg, arg.table); err != nil {
		return nil, err
	}
	slices.Sort(vals)
	vals = slices.Compact(vals)
	return In{Table: arg.table, Arg: arg.ar, Values: vals, Negated: negated}, nil
}

// between lowers x [NOT] BETWEEN [SYMMETRIC] a AND b to comparisons.
func (b *builder) between(ae *pg.A_Expr) (Expr, *Error) {
	off := int(ae.GetLocation())
	items := ae.GetRexpr().GetList().GetItems()
	if len(items) != 2 {
		return nil, b.unsupported(off, "this BETWEEN expression")
	}
	x, lo, hi := ae.GetLexpr(), items[0], items[1]
	kind := ae.GetKind()
	not := kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN || kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM
	sym := kind == pg.A_Expr_Kind_AEXPR_BETWEEN_SYM || kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM
	ordered := func(lo, hi *pg.Node) (Expr, *Error) {
		if not {
			a, err := b.comparison(x, lo, OpLt, off)
			if err != nil {
				return nil, err
			}
			c, err := b.comparison(x, hi, OpGt, off)
			if err != nil {
				return nil, err
			}
			return Or{Terms: []Expr{a, c}, off: off}, nil
		}
		a, err := b.comparison(x, lo, OpGe, off)
		if err != nil {
			return nil, err
		}
		c, err := b.comparison(x, hi, OpLe, off)
		if err != nil {
			return nil, err
		}
		return And{Terms: []Expr{a, c}, off: off}, nil
	}
	if !sym {
		return ordered(lo, hi)
	}
	lc, hc := constant(lo), constant(hi)
	if lc != nil && hc != nil && lc.GetIval() != nil && hc.GetIval() != nil {
		if lc.GetIval().GetIval() > hc.GetIval().GetIval() {
			lo, hi = hi, lo
		}
		return ordered(lo, hi)
	}
	a, err := ordered(lo, hi)
	if err != nil {
		return nil, err
	}
	c, err := ordered(hi, lo)
	if err != nil {
		return nil, err
	}
	if not {
		return And{Terms: []Expr{a, c}, off: off}, nil
	}
	return Or{Terms: []Expr{a, c}, off: off}, nil
}

// nullTest records "t.key IS [NOT] NULL" on a LEFT JOINed table, the only
// NULL test that can be true or false here (columns are never NULL).
func (b *builder) nullTest(nt *pg.NullTest, top bool) *Error {
	off := int(nt.GetLocation())
	construct := "IS NULL"
	mode := PresenceAbsent
	if nt.GetNulltesttype() == pg.NullTestType_IS_NOT_NULL {
		construct, mode = "IS NOT NULL", PresenceRequired
	}
	ref := nt.GetArg().GetColumnRef()
	if ref == nil {
		return b.errAt(max(minLocation(nt.GetArg()), b.start), ErrUnsupported, "%s applies only to the person key of a LEFT JOINed table (LEFT JOIN t USING (key) ... WHERE t.key IS NULL)", construct)
	}
	fields := ref.GetFields()
	refOff := int(ref.GetLocation())
	text := refText(ref)
	if len(fields) == 2 && fields[1].GetString_() != nil {
		q, c := fields[0].GetString_().GetSval(), fields[1].GetString_().GetSval()
		for i, e := range b.scope {
			if e.ref() != q || c != e.table.Key {
				continue
			}
			switch {
			case e.join != JoinLeft && mode == PresenceAbsent:
				return b.errAt(refOff, ErrInvalid, "%s IS NULL is never true: %s is inner-joined, so it holds every person in the result; write LEFT JOIN %s USING (%s) to find people it does not hold",
					text, q, e.table.Name, e.table.Key)
			case e.join != JoinLeft:
				return b.errAt(refOff, ErrInvalid, "%s IS NOT NULL is always true: %s is inner-joined; remove the condition", text, q)
			case !top:
				return b.errAt(off, ErrUnsupported, "%s %s is supported only as a top-level condition joined to the rest of WHERE by AND, not under OR or NOT", text, construct)
			}
			if prev, ok := b.presence[i]; ok && prev.mode != mode {
				return b.errAt(off, ErrInvalid, "%s IS NULL and %s IS NOT NULL cannot both hold; keep one", text, text)
			}
			if _, ok := b.presence[i]; !ok {
				b.presence[i] = presenceTest{mode: mode, off: off}
			}
			return nil
		}
	}
	if len(fields) == 1 && fields[0].GetString_() != nil {
		name := fields[0].GetString_().GetSval()
		for _, e := range b.scope {
			if e.join == JoinLeft && e.table.Key == name {
				return b.errAt(refOff, ErrInvalid, "%s must be qualified with the LEFT JOINed table it tests; write %s.%s %s", name, e.ref(), name, construct)
			}
		}
	}
	e, _, err := b.resolve(ref)
	if err != nil {
		return err
	}
	hint := fmt.Sprintf("only the person key of a LEFT JOINed table can be NULL (LEFT JOIN %s USING (%s) ... WHERE %s.%s IS NULL)", e.table.Name, e.table.Key, e.table.Name, e.table.Key)
	if e.join == JoinLeft {
		hint = fmt.Sprintf("to test whether %s holds the person, write %s.%s %s", e.ref(), e.ref(), e.table.Key, construct)
	}
	return b.errAt(off, ErrUnsupported, "%s %s is not supported: the consortium's columns always have a value; %s", text, construct, hint)
}
