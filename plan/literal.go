package plan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

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
	_, ok := columnAggregate(name)
	return name == "count" || ok || laterAggregate(name)
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
