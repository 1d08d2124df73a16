package plan

import (
	"fmt"
	"strings"
)

// canonical renders the plan as SQL in one fixed spelling: upper-case
// keywords, real table names (no aliases), single spaces, an AS only where
// the output name differs from the item's own text, the GROUP BY columns
// first in the SELECT list, the normalized WHERE (see normalize: sorted
// terms, != for inequality, NOT pushed into comparisons, BETWEEN as two
// comparisons, category values as quoted strings; rendered by exprText)
// followed by the presence tests in FROM order, and EXPLAIN in front if
// it was asked.
func (b *builder) canonical(p *Plan, c Expr) string {
	var sb strings.Builder
	if p.Explain {
		sb.WriteString("EXPLAIN ")
	}
	sb.WriteString("SELECT ")
	var items []string
	for _, g := range p.GroupBy {
		text := g.Table + "." + g.Column
		if g.Name != text {
			text += " AS " + quoteIdent(g.Name)
		}
		items = append(items, text)
	}
	for _, a := range p.Aggregates {
		text := aggText(a)
		if a.Name != text {
			text += " AS " + quoteIdent(a.Name)
		}
		items = append(items, text)
	}
	sb.WriteString(strings.Join(items, ", "))
	sb.WriteString(" FROM ")
	for i, e := range b.scope {
		if i > 0 {
			if e.join == JoinLeft {
				sb.WriteString(" LEFT")
			}
			sb.WriteString(" JOIN ")
		}
		sb.WriteString(e.table.Name)
		if i > 0 {
			sb.WriteString(" USING (" + b.key + ")")
		}
	}
	var conjuncts []Expr
	switch c := c.(type) {
	case nil:
	case And:
		conjuncts = c.Terms
	default:
		conjuncts = []Expr{c}
	}
	var where []string
	for _, x := range conjuncts {
		where = append(where, exprText(x, b.cs, len(conjuncts) > 1 || len(b.presence) > 0))
	}
	for i, e := range b.scope {
		if pt, ok := b.presence[i]; ok {
			test := " IS NULL"
			if pt.mode == PresenceRequired {
				test = " IS NOT NULL"
			}
			where = append(where, e.table.Name+"."+e.table.Key+test)
		}
	}
	if len(where) > 0 {
		sb.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	if len(p.GroupBy) > 0 {
		cols := make([]string, len(p.GroupBy))
		for i, g := range p.GroupBy {
			cols[i] = g.Table + "." + g.Column
		}
		sb.WriteString(" GROUP BY " + strings.Join(cols, ", "))
	}
	return sb.String()
}

// aggText is an aggregate's own text, its default output name.
func aggText(a Aggregate) string {
	if a.Kind == AggCount {
		return "COUNT(*)"
	}
	if a.Clip > 0 {
		return fmt.Sprintf("%s(LEAST(%s.%s, %d))", a.Kind, a.Table, a.Column, a.Clip)
	}
	return string(a.Kind) + "(" + a.Table + "." + a.Column + ")"
}

// quoteIdent renders an output name as a quoted SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
