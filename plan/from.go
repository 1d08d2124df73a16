package plan

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// from resolves the FROM clause into b.scope: one table, or tables
// joined (JOIN or LEFT JOIN) with USING on the person key.
func (b *builder) from(items []*pg.Node) *Error {
	if len(items) == 0 {
		return b.errAt(b.start, ErrInvalid, "missing FROM clause; name the tables, e.g. %s", b.example())
	}
	if len(items) > 1 {
		off := b.src.lastBefore(max(minLocation(items[1]), 0), b.start, pg.Token_ASCII_44)
		return b.errAt(off, ErrUnsupported, "comma-separated FROM items (a cross join) are not supported in this version; write %s", b.example())
	}
	return b.fromItem(items[0])
}

func (b *builder) fromItem(n *pg.Node) *Error {
	switch {
	case n.GetRangeVar() != nil:
		return b.table(n.GetRangeVar())
	case n.GetJoinExpr() != nil:
		return b.join(n.GetJoinExpr())
	case n.GetRangeSubselect() != nil:
		off := b.src.lastBefore(max(minLocation(n), 0)+1, b.start, pg.Token_SELECT)
		return b.unsupported(off, "a subquery in FROM")
	case n.GetRangeFunction() != nil:
		return b.unsupported(max(minLocation(n), b.start), "a function in FROM")
	}
	return b.unsupported(max(minLocation(n), b.start), "this FROM item")
}

// table adds one named table to the scope.
func (b *builder) table(rv *pg.RangeVar) *Error {
	off := int(rv.GetLocation())
	name := rv.GetRelname()
	if rv.GetSchemaname() != "" || rv.GetCatalogname() != "" {
		return b.errAt(off, ErrUnsupported, "schema-qualified table name %s is not supported in this version; write %s",
			strings.Join(nonEmpty(rv.GetCatalogname(), rv.GetSchemaname(), name), "."), name)
	}
	if !rv.GetInh() {
		return b.errAt(b.src.lastBefore(off, off, pg.Token_ONLY), ErrUnsupported, "ONLY is not supported in this version; write %s", name)
	}
	t, ok := b.cs.Table(name)
	if !ok {
		return b.errAt(off, ErrUnknownName, "unknown table %s%s", name, hint(name, b.cs.TableNames(), "tables"))
	}
	e := scopeEntry{table: t, join: JoinInner}
	if a := rv.GetAlias(); a != nil {
		if len(a.GetColnames()) > 0 {
			return b.errAt(off, ErrUnsupported, "column aliases on table %s are not supported in this version; write %s AS %s", name, name, a.GetAliasname())
		}
		e.alias = a.GetAliasname()
	}
	for _, o := range b.scope {
		if o.table.Name == name {
			return b.errAt(off, ErrInvalid, "table %s is joined twice; each table can appear once", name)
		}
		if o.ref() == e.ref() {
			return b.errAt(off, ErrInvalid, "name %s is used for two tables in FROM; give one of them another alias", e.ref())
		}
	}
	b.scope = append(b.scope, e)
	return nil
}

// join adds both sides of an inner or left join on the person key.
func (b *builder) join(j *pg.JoinExpr) *Error {
	s := b.src
	if err := b.fromItem(j.GetLarg()); err != nil {
		return err
	}
	rloc := max(minLocation(j.GetRarg()), b.start)
	switch {
	case j.GetIsNatural():
		return b.errAt(s.lastBefore(rloc, b.start, pg.Token_NATURAL), ErrUnsupported,
			"NATURAL JOIN is not supported in this version; write JOIN %s USING (%s)", b.rightName(j), b.keyHint())
	case j.GetJointype() == pg.JoinType_JOIN_RIGHT:
		off := s.lastBefore(rloc, b.start, pg.Token_RIGHT)
		return b.errAt(off, ErrUnsupported, "RIGHT JOIN is not supported; swap the tables and write LEFT JOIN (FROM %s LEFT JOIN %s USING (%s))", b.rightName(j), b.leftName(j), b.keyHint())
	case j.GetJointype() == pg.JoinType_JOIN_LEFT:
		if j.GetRarg().GetRangeVar() == nil && !j.GetIsNatural() && j.GetRarg().GetJoinExpr() != nil {
			return b.errAt(s.lastBefore(rloc, b.start, pg.Token_LEFT), ErrUnsupported,
				"LEFT JOIN of a parenthesized join is not supported; LEFT JOIN one table at a time (... LEFT JOIN t1 USING (%s) LEFT JOIN t2 USING (%s))", b.keyHint(), b.keyHint())
		}
	case j.GetJointype() != pg.JoinType_JOIN_INNER:
		kind := strings.TrimPrefix(j.GetJointype().String(), "JOIN_")
		off := s.lastBefore(rloc, b.start, pg.Token_LEFT, pg.Token_RIGHT, pg.Token_FULL)
		return b.errAt(off, ErrUnsupported, "%s JOIN is not supported; use JOIN %s USING (%s), or LEFT JOIN to keep people %s does not hold", kind, b.rightName(j), b.keyHint(), b.rightName(j))
	}
	if err := b.fromItem(j.GetRarg()); err != nil {
		return err
	}
	if j.GetJointype() == pg.JoinType_JOIN_LEFT {
		b.scope[len(b.scope)-1].join = JoinLeft
	}
	if q := j.GetQuals(); q != nil {
		off := s.lastBefore(max(minLocation(q), rloc), rloc, pg.Token_ON)
		return b.errAt(off, ErrUnsupported, "JOIN ... ON is not supported in this version; write JOIN %s USING (%s)", b.rightName(j), b.keyHint())
	}
	if len(j.GetUsingClause()) == 0 {
		return b.errAt(s.lastBefore(rloc, b.start, pg.Token_CROSS, pg.Token_JOIN), ErrUnsupported,
			"CROSS JOIN is not supported in this version; write JOIN %s USING (%s)", b.rightName(j), b.keyHint())
	}
	// The USING keyword of this join follows every USING inside the right
	// side; the column names follow its "(" as name, ",", name, ...
	usingTok := s.nthAfter(rloc, countUsing(j.GetRarg()), pg.Token_USING)
	nameOff := func(k int) int {
		if i := usingTok + 2 + 2*k; usingTok >= 0 && i < len(s.toks()) {
			return int(s.toks()[i].GetStart())
		}
		return rloc
	}
	if a := j.GetAlias(); a != nil {
		return b.errAt(nameOff(0), ErrUnsupported, "an alias for a join (AS %s) is not supported in this version", a.GetAliasname())
	}
	if a := j.GetJoinUsingAlias(); a != nil {
		return b.errAt(nameOff(0), ErrUnsupported, "an alias for a USING clause (AS %s) is not supported in this version", a.GetAliasname())
	}
	using := j.GetUsingClause()
	if len(using) != 1 {
		return b.errAt(nameOff(1), ErrInvalid, "JOIN ... USING takes exactly one column, the person key; write USING (%s)", b.keyHint())
	}
	col := using[0].GetString_().GetSval()
	for _, e := range b.scope {
		if e.table.Key != col {
			fix := "the tables have different person keys and cannot be joined"
			if k := b.commonKey(); k != "" {
				fix = fmt.Sprintf("write USING (%s)", k)
			}
			return b.errAt(nameOff(0), ErrInvalid, "USING column %s is not the person key of table %s (its key is %s); %s", col, e.table.Name, e.table.Key, fix)
		}
	}
	b.key = col
	return nil
}

// rightName names the right side of a join for hints.
func (b *builder) rightName(j *pg.JoinExpr) string {
	if rv := j.GetRarg().GetRangeVar(); rv != nil {
		return rv.GetRelname()
	}
	return "t"
}

// leftName names the left side of a join for hints (its last table).
func (b *builder) leftName(j *pg.JoinExpr) string {
	if len(b.scope) > 0 {
		return b.scope[len(b.scope)-1].table.Name
	}
	return "t"
}

// keyHint is the person key to suggest in USING hints.
func (b *builder) keyHint() string {
	if k := b.commonKey(); k != "" {
		return k
	}
	if len(b.cs.Tables) > 0 {
		return b.cs.Tables[0].Key
	}
	return "person_id"
}

// commonKey is the key column shared by all tables in scope, or "".
func (b *builder) commonKey() string {
	if len(b.scope) == 0 {
		return ""
	}
	k := b.scope[0].table.Key
	for _, e := range b.scope[1:] {
		if e.table.Key != k {
			return ""
		}
	}
	return k
}

// countUsing counts the USING clauses inside a FROM item.
func countUsing(n *pg.Node) int {
	j := n.GetJoinExpr()
	if j == nil {
		return 0
	}
	c := countUsing(j.GetLarg()) + countUsing(j.GetRarg())
	if len(j.GetUsingClause()) > 0 {
		c++
	}
	return c
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
