package plan

import (
	"fmt"
	"strings"

	"github.com/mpcq/mpcq/schema"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// MaxGroups is the largest number of groups a GROUP BY may make. Every
// group is computed and returned, empty ones included (so the shape of
// the result reveals nothing), and each costs the circuit its own sums.
const MaxGroups = 100

// maxGroupColumns is the most columns GROUP BY may name.
const maxGroupColumns = 2

// GroupCol is one GROUP BY column: a category column of an inner-joined
// table. Every declared category is a group, in declaration order.
type GroupCol struct {
	Table, Column string
	Categories    []string
	// Name is the output column name: the AS alias if the SELECT list
	// names the column with one, else table.column.
	Name string
}

// groupBy plans the GROUP BY clause.
func (b *builder) groupBy(sel *pg.SelectStmt) ([]GroupCol, *Error) {
	items := sel.GetGroupClause()
	if len(items) == 0 {
		return nil, nil
	}
	s := b.src
	groupOff := s.lastBefore(max(minLocation(items[0]), b.start)+1, b.start, pg.Token_GROUP_P)
	if sel.GetGroupDistinct() {
		return nil, b.errAt(groupOff, ErrUnsupported, "GROUP BY DISTINCT is not supported; write GROUP BY t.column")
	}
	var out []GroupCol
	groups := 1
	for _, n := range items {
		off := max(minLocation(n), b.start)
		switch {
		case n.GetGroupingSet() != nil:
			gs := n.GetGroupingSet()
			what := "GROUPING SETS"
			switch gs.GetKind() {
			case pg.GroupingSetKind_GROUPING_SET_ROLLUP:
				what = "ROLLUP"
			case pg.GroupingSetKind_GROUPING_SET_CUBE:
				what = "CUBE"
			case pg.GroupingSetKind_GROUPING_SET_EMPTY:
				what = "GROUP BY ()"
			}
			return nil, b.errAt(max(int(gs.GetLocation()), b.start), ErrUnsupported, "%s is not supported; GROUP BY one or two category columns (t.column)", what)
		case constant(n) != nil:
			return nil, b.errAt(off, ErrUnsupported, "GROUP BY a position or constant (%s) is not supported; name the column, e.g. GROUP BY %s", literal(constant(n)), b.groupExample())
		case n.GetColumnRef() == nil:
			return nil, b.errAt(off, ErrUnsupported, "%s in GROUP BY is not supported; GROUP BY one or two category columns (t.column)", describe(n))
		}
		ref := n.GetColumnRef()
		e, col, err := b.resolve(ref)
		if err != nil {
			return nil, err
		}
		text := refText(ref)
		if e.join == JoinLeft {
			return nil, b.errAt(off, ErrUnsupported, "GROUP BY %s is not supported: %s is LEFT JOINed, so %s is NULL for people %s does not hold; GROUP BY a column of an inner-joined table",
				text, e.ref(), text, e.ref())
		}
		if col.Kind != schema.KindCategory {
			return nil, b.errAt(off, ErrType, "GROUP BY needs a category column; %s is an %s column (one group per value would reveal too much and be too large)%s",
				text, col.Kind, b.categoryHint(e))
		}
		for _, g := range out {
			if g.Table == e.table.Name && g.Column == col.Name {
				return nil, b.errAt(off, ErrInvalid, "%s appears twice in GROUP BY", text)
			}
		}
		if len(out) == maxGroupColumns {
			return nil, b.errAt(off, ErrUnsupported, "GROUP BY takes at most %d columns", maxGroupColumns)
		}
		groups *= len(col.Categories)
		out = append(out, GroupCol{Table: e.table.Name, Column: col.Name, Categories: col.Categories, Name: e.table.Name + "." + col.Name})
	}
	if groups > MaxGroups {
		names := make([]string, len(out))
		counts := make([]string, len(out))
		for i, g := range out {
			names[i] = g.Table + "." + g.Column
			counts[i] = fmt.Sprint(len(g.Categories))
		}
		return nil, b.errAt(groupOff, ErrUnsupported, "GROUP BY %s makes %s = %d groups, and the limit is %d (every group is computed and returned, even empty ones); group by fewer or coarser categories",
			strings.Join(names, ", "), strings.Join(counts, " x "), groups, MaxGroups)
	}
	return out, nil
}

// categoryHint suggests a category column of the table for GROUP BY.
func (b *builder) categoryHint(e scopeEntry) string {
	for _, c := range e.table.Columns {
		if c.Kind == schema.KindCategory {
			return fmt.Sprintf("; e.g. GROUP BY %s.%s", e.ref(), c.Name)
		}
	}
	return ""
}

// groupExample is a GROUP BY column to suggest.
func (b *builder) groupExample() string {
	for _, e := range b.scope {
		if e.join != JoinInner {
			continue
		}
		for _, c := range e.table.Columns {
			if c.Kind == schema.KindCategory {
				return e.ref() + "." + c.Name
			}
		}
	}
	return "t.column"
}

// matchGroups checks the SELECT list's bare columns against GROUP BY:
// they must be GROUP BY columns, and if any is selected, all of them must
// be, first, in GROUP BY order (results always list the group columns
// first). It names the groups after their SELECT aliases.
func (b *builder) matchGroups(cols []selCol, groups []GroupCol, aggs []Aggregate) *Error {
	for _, c := range cols {
		found := false
		for _, g := range groups {
			found = found || (g.Table == c.table && g.Column == c.column)
		}
		if !found {
			text := b.refOf(c.table) + "." + c.column
			return b.errAt(c.off, ErrUnsupported, "%s is not a GROUP BY column; selecting it would reveal per-person values: select an aggregate such as SUM(%s), or GROUP BY it if it is a category column", text, text)
		}
	}
	if len(cols) > 0 {
		for i, g := range groups {
			if i >= len(cols) || cols[i].index != i || cols[i].table != g.Table || cols[i].column != g.Column {
				off := b.start
				if i < len(cols) {
					off = cols[i].off
				} else if len(cols) > 0 {
					off = cols[len(cols)-1].off
				}
				want := make([]string, len(groups))
				for j, g := range groups {
					want[j] = b.refOf(g.Table) + "." + g.Column
				}
				return b.errAt(off, ErrInvalid, "select the GROUP BY columns first, all of them, in GROUP BY order (SELECT %s, ...), or none of them: results always list the group columns first",
					strings.Join(want, ", "))
			}
			groups[i].Name = cols[i].name
		}
		if len(cols) > len(groups) {
			return b.errAt(cols[len(groups)].off, ErrInvalid, "%s is selected twice; select each GROUP BY column once", cols[len(groups)].name)
		}
	}
	for _, g := range groups {
		for i, a := range aggs {
			if a.Name == g.Name {
				return b.errAt(b.aggOffs[i], ErrInvalid, "output column name %s is used by a group column and by an aggregate; give the aggregate another name with AS", g.Name)
			}
		}
	}
	return nil
}
