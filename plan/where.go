package plan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mpcq/mpcq/schema"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// expr converts a WHERE expression into a filter tree, checking every
// comparison's names and types. Which tree shapes this version runs is
// decided afterwards by Conjuncts.
func (b *builder) expr(n *pg.Node) (Expr, *Error) {
	switch {
	case n.GetBoolExpr() != nil:
		be := n.GetBoolExpr()
		terms := make([]Expr, 0, len(be.GetArgs()))
		for _, a := range be.GetArgs() {
			t, err := b.expr(a)
			if err != nil {
				return nil, err
			}
			terms = append(terms, t)
		}
		pos := b.src.pos(int(be.GetLocation()))
		switch be.GetBoolop() {
		case pg.BoolExprType_AND_EXPR:
			return And{Terms: terms}, nil
		case pg.BoolExprType_OR_EXPR:
			return Or{Terms: terms, Pos: pos}, nil
		case pg.BoolExprType_NOT_EXPR:
			if len(terms) == 1 {
				return Not{Term: terms[0], Pos: pos}, nil
			}
		}
		return nil, b.unsupported(int(be.GetLocation()), "this boolean expression")
	case n.GetAExpr() != nil:
		return b.comparison(n.GetAExpr())
	case n.GetNullTest() != nil:
		nt := n.GetNullTest()
		construct := "IS NULL"
		if nt.GetNulltesttype() == pg.NullTestType_IS_NOT_NULL {
			construct = "IS NOT NULL"
		}
		return nil, b.unsupported(int(nt.GetLocation()), construct)
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

// comparison converts "column OP constant" (or "constant OP column").
func (b *builder) comparison(ae *pg.A_Expr) (Expr, *Error) {
	off := int(ae.GetLocation())
	opName := ""
	if names := ae.GetName(); len(names) > 0 {
		opName = names[len(names)-1].GetString_().GetSval()
	}
	switch ae.GetKind() {
	case pg.A_Expr_Kind_AEXPR_OP:
	case pg.A_Expr_Kind_AEXPR_IN:
		if opName == "<>" {
			return nil, b.errAt(off, ErrUnsupported, "NOT IN is not supported yet; write != comparisons joined by AND")
		}
		return nil, b.errAt(off, ErrUnsupported, "IN is not supported yet")
	case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_BETWEEN_SYM:
		return nil, b.errAt(off, ErrUnsupported, "BETWEEN is not supported yet; write x >= low AND x <= high")
	case pg.A_Expr_Kind_AEXPR_NOT_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		return nil, b.errAt(off, ErrUnsupported, "NOT BETWEEN is not supported yet")
	default:
		return nil, b.unsupported(off, describe(&pg.Node{Node: &pg.Node_AExpr{AExpr: ae}}))
	}
	var op Op
	switch opName {
	case "=":
		op = OpEq
	case "<>", "!=":
		op = OpNe
	case "<":
		op = OpLt
	case "<=":
		op = OpLe
	case ">":
		op = OpGt
	case ">=":
		op = OpGe
	default:
		return nil, b.errAt(off, ErrUnsupported, "operator %s is not supported in this version; WHERE takes comparisons (= != < <= > >=) joined by AND", opName)
	}
	l, r := ae.GetLexpr(), ae.GetRexpr()
	lref, rref := l.GetColumnRef(), r.GetColumnRef()
	lc, rc := constant(l), constant(r)
	switch {
	case lref != nil && rc != nil:
		return b.cmp(lref, op, off, rc)
	case lc != nil && rref != nil:
		return b.cmp(rref, op.flip(), off, lc)
	case lref != nil && rref != nil:
		return nil, b.errAt(off, ErrUnsupported, "comparing two columns is not supported in this version; compare a column with a constant")
	case lc != nil && rc != nil:
		return nil, b.errAt(off, ErrUnsupported, "comparing two constants is not supported; compare a column with a constant")
	}
	bad := l
	if lref != nil || lc != nil {
		bad = r
	}
	if fc := bad.GetFuncCall(); fc != nil && isAggregate(funcName(fc)) {
		return nil, b.errAt(int(fc.GetLocation()), ErrInvalid, "aggregate functions are not allowed in WHERE; WHERE filters people before aggregation")
	}
	return nil, b.errAt(max(minLocation(bad), b.start), ErrUnsupported,
		"%s in a comparison is not supported in this version; compare a column with a constant", describe(bad))
}

// constant returns the literal a node holds: a constant, possibly with a
// unary plus (the parser folds a unary minus into the literal itself).
func constant(n *pg.Node) *pg.A_Const {
	if c := n.GetAConst(); c != nil {
		return c
	}
	if ae := n.GetAExpr(); ae != nil && ae.GetKind() == pg.A_Expr_Kind_AEXPR_OP && ae.GetLexpr() == nil &&
		len(ae.GetName()) == 1 && ae.GetName()[0].GetString_().GetSval() == "+" {
		if c := ae.GetRexpr().GetAConst(); c != nil && (c.GetIval() != nil || c.GetFval() != nil) {
			return c
		}
	}
	return nil
}

// cmp type-checks one comparison of a column with a constant.
func (b *builder) cmp(ref *pg.ColumnRef, op Op, opOff int, c *pg.A_Const) (Expr, *Error) {
	e, col, err := b.resolve(ref)
	if err != nil {
		return nil, err
	}
	name := refText(ref)
	off := int(c.GetLocation())
	if c.GetIsnull() {
		return nil, b.errAt(off, ErrType, "comparing %s with NULL is never true; compare it with a value", name)
	}
	out := Cmp{Table: e.table.Name, Column: col.Name, Op: op}
	switch col.Kind {
	case schema.KindInt:
		switch {
		case c.GetIval() != nil:
			out.Value = int64(c.GetIval().GetIval())
		case c.GetFval() != nil:
			text := c.GetFval().GetFval()
			v, err := parseInt(text)
			switch {
			case errors.Is(err, strconv.ErrRange):
				return nil, b.errAt(off, ErrType, "integer %s is out of range (a 64-bit signed integer is required)", text)
			case err != nil:
				return nil, b.errAt(off, ErrType, "%s is an int column; compare it with an integer, not %s", name, text)
			}
			out.Value = v
		default:
			return nil, b.errAt(off, ErrType, "%s is an int column; compare it with an integer, not %s", name, literal(c))
		}
	case schema.KindCategory:
		if op != OpEq && op != OpNe {
			return nil, b.errAt(opOff, ErrType, "operator %s does not apply to category column %s; use = or !=", op, name)
		}
		if c.GetSval() == nil {
			return nil, b.errAt(off, ErrType, "%s is a category column; compare it with one of its values in quotes, e.g. %s = %s, not %s",
				name, name, quoteString(col.Categories[0]), literal(c))
		}
		v := c.GetSval().GetSval()
		i, ok := col.CategoryIndex(v)
		if !ok {
			return nil, b.errAt(off, ErrType, "unknown value %s for category column %s (valid values: %s)", quoteString(v), name, list(col.Categories))
		}
		out.Value = int64(i)
	default:
		return nil, b.errAt(off, ErrType, "column %s has kind %q, which cannot be compared", name, col.Kind)
	}
	return out, nil
}

// parseInt parses a PostgreSQL integer literal the parser kept as text
// because it does not fit 32 bits: optional "-", decimal or 0x/0o/0b
// digits, "_" separators. It returns strconv.ErrRange beyond 64 bits and
// strconv.ErrSyntax for non-integers (1.5, 1e3).
func parseInt(text string) (int64, error) {
	s, neg := strings.CutPrefix(text, "-")
	base := 10
	if len(s) > 2 && s[0] == '0' {
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 10 {
			s = s[2:]
		}
	}
	s = strings.ReplaceAll(s, "_", "")
	u, err := strconv.ParseUint(s, base, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, strconv.ErrRange
		}
		return 0, strconv.ErrSyntax
	}
	switch {
	case !neg && u <= 1<<63-1:
		return int64(u), nil
	case neg && u <= 1<<63:
		return int64(-u), nil
	}
	return 0, strconv.ErrRange
}

// literal renders a constant for an error message.
func literal(c *pg.A_Const) string {
	switch {
	case c.GetIsnull():
		return "NULL"
	case c.GetIval() != nil:
		return strconv.FormatInt(int64(c.GetIval().GetIval()), 10)
	case c.GetFval() != nil:
		return c.GetFval().GetFval()
	case c.GetSval() != nil:
		return "the string " + quoteString(c.GetSval().GetSval())
	case c.GetBoolval() != nil:
		return strings.ToUpper(strconv.FormatBool(c.GetBoolval().GetBoolval()))
	case c.GetBsval() != nil:
		return "the bit string " + c.GetBsval().GetBsval()
	}
	return "this constant"
}

// quoteString renders s as an SQL string literal for an error message,
// shortened if long.
func quoteString(s string) string {
	const maxRunes = 40
	if r := []rune(s); len(r) > maxRunes {
		s = string(r[:maxRunes]) + "..."
	}
	return sqlString(s)
}

// sqlString renders s as an SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// isAggregate reports whether name is an aggregate function, supported or
// not.
func isAggregate(name string) bool {
	return name == "count" || name == "sum" || laterAggregate(name)
}

func funcName(fc *pg.FuncCall) string {
	var parts []string
	for _, n := range fc.GetFuncname() {
		parts = append(parts, n.GetString_().GetSval())
	}
	return strings.Join(parts, ".")
}

// describe names an expression construct for "... is not supported".
func describe(n *pg.Node) string {
	switch x := n.GetNode().(type) {
	case *pg.Node_AConst:
		return "a constant (" + literal(x.AConst) + ")"
	case *pg.Node_ColumnRef:
		return "the column " + refText(x.ColumnRef)
	case *pg.Node_FuncCall:
		return "the function call " + strings.ToUpper(funcName(x.FuncCall)) + "(...)"
	case *pg.Node_TypeCast:
		return "a type cast"
	case *pg.Node_SubLink:
		return "a subquery"
	case *pg.Node_CaseExpr:
		return "CASE"
	case *pg.Node_CoalesceExpr:
		return "COALESCE"
	case *pg.Node_MinMaxExpr:
		return "GREATEST/LEAST"
	case *pg.Node_NullIfExpr:
		return "NULLIF"
	case *pg.Node_RowExpr:
		return "a row constructor"
	case *pg.Node_AArrayExpr:
		return "an array"
	case *pg.Node_ParamRef:
		return "a parameter ($n)"
	case *pg.Node_CollateClause:
		return "COLLATE"
	case *pg.Node_AIndirection:
		return "a subscript or field selection"
	case *pg.Node_BooleanTest:
		return "IS TRUE/FALSE/UNKNOWN"
	case *pg.Node_SqlvalueFunction:
		return "a special function (CURRENT_DATE ...)"
	case *pg.Node_BoolExpr:
		return "a boolean expression"
	case *pg.Node_AExpr:
		ae := x.AExpr
		op := ""
		if names := ae.GetName(); len(names) > 0 {
			op = names[len(names)-1].GetString_().GetSval()
		}
		switch ae.GetKind() {
		case pg.A_Expr_Kind_AEXPR_OP:
			return "the operator " + op
		case pg.A_Expr_Kind_AEXPR_OP_ANY, pg.A_Expr_Kind_AEXPR_OP_ALL:
			return "ANY/ALL"
		case pg.A_Expr_Kind_AEXPR_DISTINCT:
			return "IS DISTINCT FROM"
		case pg.A_Expr_Kind_AEXPR_NOT_DISTINCT:
			return "IS NOT DISTINCT FROM"
		case pg.A_Expr_Kind_AEXPR_NULLIF:
			return "NULLIF"
		case pg.A_Expr_Kind_AEXPR_LIKE:
			return "LIKE"
		case pg.A_Expr_Kind_AEXPR_ILIKE:
			return "ILIKE"
		case pg.A_Expr_Kind_AEXPR_SIMILAR:
			return "SIMILAR TO"
		case pg.A_Expr_Kind_AEXPR_IN:
			return "IN"
		}
		return "this operator"
	}
	return fmt.Sprintf("this expression (%s)", strings.TrimPrefix(fmt.Sprintf("%T", n.GetNode()), "*pg_query.Node_"))
}
