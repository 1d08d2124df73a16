package plan

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/mpcq/mpcq/schema"
)

// normalize sorts comparisons by table, column, operator and value and
// drops duplicates, so that AND order and repetition do not matter.
func normalize(cs []Cmp) []Cmp {
	out := slices.Clone(cs)
	slices.SortFunc(out, func(a, b Cmp) int {
		return cmp.Or(
			cmp.Compare(a.Table, b.Table),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Op.rank(), b.Op.rank()),
			cmp.Compare(a.Value, b.Value),
		)
	})
	return slices.Compact(out)
}

// canonical renders the plan as SQL in one fixed spelling: upper-case
// keywords, real table names (no aliases), single spaces, an AS only where
// the output name differs from the item's own text, sorted comparisons,
// != for inequality, category values as quoted strings.
func (b *builder) canonical(p *Plan) string {
	var sb strings.Builder
	sb.WriteString("SELECT ")
	for i, a := range p.Aggregates {
		if i > 0 {
			sb.WriteString(", ")
		}
		text := aggText(a)
		sb.WriteString(text)
		if a.Name != text {
			sb.WriteString(" AS ")
			sb.WriteString(quoteIdent(a.Name))
		}
	}
	sb.WriteString(" FROM ")
	for i, t := range p.Tables {
		if i > 0 {
			sb.WriteString(" JOIN ")
		}
		sb.WriteString(t)
		if i > 0 {
			sb.WriteString(" USING (" + b.key + ")")
		}
	}
	for i, c := range p.Where {
		if i == 0 {
			sb.WriteString(" WHERE ")
		} else {
			sb.WriteString(" AND ")
		}
		sb.WriteString(c.Table + "." + c.Column + " " + string(c.Op) + " ")
		sb.WriteString(b.valueText(c))
	}
	return sb.String()
}

// aggText is an aggregate's own text, its default output name.
func aggText(a Aggregate) string {
	if a.Kind == AggCount {
		return "COUNT(*)"
	}
	return string(a.Kind) + "(" + a.Table + "." + a.Column + ")"
}

// valueText renders a comparison's constant: the integer, or for a
// category column the category as a string literal.
func (b *builder) valueText(c Cmp) string {
	if t, ok := b.cs.Table(c.Table); ok {
		if col, ok := t.Column(c.Column); ok && col.Kind == schema.KindCategory && c.Value >= 0 && c.Value < int64(len(col.Categories)) {
			return sqlString(col.Categories[c.Value])
		}
	}
	return strconv.FormatInt(c.Value, 10)
}

// quoteIdent renders an output name as a quoted SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
