package plan

import (
	"fmt"
	"strings"

	"github.com/mpcq/mpcq/schema"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// builder turns one parse tree into a Plan. It lives for one Parse call.
type builder struct {
	src      *source
	cs       schema.Consortium
	scope    []scopeEntry         // FROM items, in order
	key      string               // the USING column (every joined table's key)
	start    int                  // byte offset of the SELECT statement's first token
	end      int                  // byte offset just past the statement
	presence map[int]presenceTest // top-level IS [NOT] NULL tests, by scope index
	aggOffs  []int                // where each aggregate of the SELECT list is
}

// scopeEntry is one table of the FROM clause.
type scopeEntry struct {
	table schema.Table
	alias string
	join  JoinKind
}

// ref is the name the query must use for the table's columns.
func (e scopeEntry) ref() string {
	if e.alias != "" {
		return e.alias
	}
	return e.table.Name
}

func (b *builder) errAt(off int, sentinel error, format string, args ...any) *Error {
	return b.src.errAt(off, sentinel, format, args...)
}

// unsupported reports a construct this version does not run.
func (b *builder) unsupported(off int, construct string) *Error {
	return b.errAt(off, ErrUnsupported, "%s is not supported in this version", construct)
}

// statement checks that the text is exactly one SELECT (or EXPLAIN
// SELECT) and plans it.
func (b *builder) statement(tree *pg.ParseResult) (*Plan, *Error) {
	stmts := tree.GetStmts()
	if len(stmts) == 0 {
		return nil, b.errAt(len(b.src.text), ErrSyntax, "empty query; expected SELECT ... FROM ...")
	}
	if len(stmts) > 1 {
		off := b.src.firstTokenFrom(int(stmts[1].GetStmtLocation()))
		return nil, b.errAt(off, ErrUnsupported, "a second statement is not supported; send one SELECT per query")
	}
	raw := stmts[0]
	b.start = b.src.firstTokenFrom(int(raw.GetStmtLocation()))
	b.end = len(b.src.text)
	if l := int(raw.GetStmtLen()); l > 0 {
		b.end = int(raw.GetStmtLocation()) + l
	}
	stmt := raw.GetStmt()
	explain := false
	if ex := stmt.GetExplainStmt(); ex != nil {
		explain = true
		if opts := ex.GetOptions(); len(opts) > 0 {
			var names []string
			for _, o := range opts {
				names = append(names, strings.ToUpper(o.GetDefElem().GetDefname()))
			}
			off := max(minLocation(opts[0]), b.start)
			return nil, b.errAt(off, ErrUnsupported, "EXPLAIN options (%s) are not supported; write EXPLAIN SELECT ... (it shows the plan without running anything)", strings.Join(names, ", "))
		}
		// The explained statement starts at the token after EXPLAIN.
		for i, t := range b.src.toks() {
			if int(t.GetStart()) >= b.start && i+1 < len(b.src.toks()) {
				b.start = int(b.src.toks()[i+1].GetStart())
				break
			}
		}
		stmt = ex.GetQuery()
		if stmt.GetSelectStmt() == nil {
			kind := strings.ToUpper(b.src.tokenText(b.start))
			return nil, b.errAt(b.start, ErrUnsupported, "only SELECT statements can be explained, not %s", kind)
		}
	}
	sel := stmt.GetSelectStmt()
	if sel == nil {
		kind := strings.ToUpper(b.src.tokenText(b.start))
		return nil, b.errAt(b.start, ErrUnsupported, "only SELECT statements are supported, not %s", kind)
	}
	if err := b.clauses(sel); err != nil {
		return nil, err
	}
	if err := b.from(sel.GetFromClause()); err != nil {
		return nil, err
	}
	aggs, cols, err := b.targets(sel.GetTargetList(), len(sel.GetGroupClause()) > 0)
	if err != nil {
		return nil, err
	}
	b.presence = map[int]presenceTest{}
	var c Expr
	whereOff := b.end
	if w := sel.GetWhereClause(); w != nil {
		whereOff = max(minLocation(w), b.start)
		if c, err = b.where(w); err != nil {
			return nil, err
		}
		c = normalize(c, b.cs)
	}
	groups, err := b.groupBy(sel)
	if err != nil {
		return nil, err
	}
	if err := b.matchGroups(cols, groups, aggs); err != nil {
		return nil, err
	}
	compiled, err := b.compile(c)
	if err != nil {
		return nil, err
	}
	if len(compiled) == 0 {
		return nil, b.errAt(whereOff, ErrInvalid, "this WHERE condition can never be true (it simplifies to 0 for every person); check it for a contradiction")
	}
	p := &Plan{Aggregates: aggs, GroupBy: groups, Explain: explain, Terms: b.terms(compiled)}
	for _, e := range b.scope {
		p.Tables = append(p.Tables, e.table.Name)
		p.Joins = append(p.Joins, e.join)
	}
	p.Canonical = b.canonical(p, c)
	return p, nil
}

// clauses rejects the SELECT clauses this version does not run, reporting
// the one written first.
func (b *builder) clauses(sel *pg.SelectStmt) *Error {
	s := b.src
	switch sel.GetOp() {
	case pg.SetOperation_SETOP_UNION, pg.SetOperation_SETOP_INTERSECT, pg.SetOperation_SETOP_EXCEPT:
		name := strings.TrimPrefix(sel.GetOp().String(), "SETOP_")
		i := s.nthAfter(b.start, 0, pg.Token_UNION, pg.Token_INTERSECT, pg.Token_EXCEPT)
		off := b.start
		if i >= 0 {
			off = int(s.toks()[i].GetStart())
		}
		return b.unsupported(off, name)
	}
	if len(sel.GetValuesLists()) > 0 {
		return b.unsupported(b.start, "VALUES")
	}
	type issue struct {
		off       int
		construct string
	}
	var issues []issue
	add := func(off int, construct string) { issues = append(issues, issue{off, construct}) }
	// loc is a clause's first recorded location, or the end of the
	// statement when it records none: the clause keyword is the last one
	// written before it.
	loc := func(l int) int {
		if l < 0 {
			return b.end
		}
		return l
	}
	firstTarget := b.end
	if t := sel.GetTargetList(); len(t) > 0 {
		firstTarget = loc(minLocation(t[0]))
	}
	if w := sel.GetWithClause(); w != nil {
		add(s.lastBefore(loc(int(w.GetLocation()))+1, b.start, pg.Token_WITH), "WITH (common table expressions)")
	}
	if len(sel.GetDistinctClause()) > 0 {
		add(s.lastBefore(firstTarget, b.start, pg.Token_DISTINCT), "DISTINCT")
	}
	if in := sel.GetIntoClause(); in != nil {
		add(s.lastBefore(loc(minLocation(in)), b.start, pg.Token_INTO), "SELECT INTO")
	}
	if h := sel.GetHavingClause(); h != nil {
		add(s.lastBefore(loc(minLocation(h)), b.start, pg.Token_HAVING), "HAVING")
	}
	if w := sel.GetWindowClause(); len(w) > 0 {
		add(s.lastBefore(loc(minLocation(w[0])), b.start, pg.Token_WINDOW), "WINDOW")
	}
	if o := sel.GetSortClause(); len(o) > 0 {
		add(s.lastBefore(loc(minLocation(o[0])), b.start, pg.Token_ORDER), "ORDER BY")
	}
	if l := sel.GetLimitCount(); l != nil {
		off := s.lastBefore(loc(minLocation(l)), b.start, pg.Token_LIMIT, pg.Token_FETCH)
		construct := "LIMIT"
		if strings.EqualFold(s.tokenText(off), "fetch") {
			construct = "FETCH FIRST"
		}
		add(off, construct)
	}
	if o := sel.GetLimitOffset(); o != nil {
		add(s.lastBefore(loc(minLocation(o)), b.start, pg.Token_OFFSET), "OFFSET")
	}
	if len(sel.GetLockingClause()) > 0 {
		add(s.lastBefore(b.end, b.start, pg.Token_FOR), "FOR UPDATE/SHARE")
	}
	if len(issues) == 0 {
		return nil
	}
	first := issues[0]
	for _, is := range issues[1:] {
		if is.off < first.off {
			first = is
		}
	}
	if first.construct == "HAVING" {
		return b.errAt(first.off, ErrUnsupported,
			"HAVING is not supported: its filter would run on decrypted data (the per-group aggregates, which only the analyst ever decrypts), "+
				"so the consortium cannot apply it; put conditions on people in WHERE, and every group's row is returned to filter yourself")
	}
	return b.unsupported(first.off, first.construct)
}

// example returns a FROM clause naming real tables, for error hints.
func (b *builder) example() string {
	ts := b.cs.Tables
	switch {
	case len(ts) == 0:
		return "FROM t"
	case len(ts) == 1:
		return "FROM " + ts[0].Name
	}
	return fmt.Sprintf("FROM %s JOIN %s USING (%s)", ts[0].Name, ts[1].Name, ts[1].Key)
}
