package plan

import (
	"fmt"
	"strings"

	"github.com/mpcq/mpcq/schema"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// laterAggregate reports whether name is an aggregate function a later
// version may support; naming one is ErrUnsupported, not ErrUnknownName.
func laterAggregate(name string) bool {
	switch name {
	case "avg", "min", "max", "variance", "var_samp", "var_pop", "stddev", "stddev_samp", "stddev_pop",
		"median", "array_agg", "string_agg", "bool_and", "bool_or", "every":
		return true
	}
	return false
}

// targets plans the SELECT list.
func (b *builder) targets(list []*pg.Node) ([]Aggregate, *Error) {
	if len(list) == 0 {
		return nil, b.errAt(b.start, ErrInvalid, "empty SELECT list; select at least one aggregate, e.g. COUNT(*)")
	}
	var out []Aggregate
	names := map[string]bool{}
	for _, n := range list {
		rt := n.GetResTarget()
		if rt == nil {
			return nil, b.unsupported(max(minLocation(n), b.start), "this SELECT item")
		}
		agg, err := b.target(rt)
		if err != nil {
			return nil, err
		}
		if names[agg.Name] {
			return nil, b.errAt(int(rt.GetLocation()), ErrInvalid,
				"output column name %s is used twice; give each SELECT item a distinct name with AS", agg.Name)
		}
		names[agg.Name] = true
		out = append(out, agg)
	}
	return out, nil
}

func (b *builder) target(rt *pg.ResTarget) (Aggregate, *Error) {
	v := rt.GetVal()
	off := max(minLocation(v), int(rt.GetLocation()))
	var agg Aggregate
	switch {
	case v.GetFuncCall() != nil:
		var err *Error
		if agg, err = b.aggregate(v.GetFuncCall()); err != nil {
			return Aggregate{}, err
		}
	case v.GetColumnRef() != nil:
		text := refText(v.GetColumnRef())
		if strings.HasSuffix(text, "*") {
			return Aggregate{}, b.errAt(off, ErrUnsupported, "SELECT %s is not supported: it would reveal per-person rows; select aggregates such as COUNT(*)", text)
		}
		return Aggregate{}, b.errAt(off, ErrUnsupported, "selecting the bare column %s is not supported: it would reveal per-person values; select an aggregate such as SUM(%s)", text, text)
	default:
		return Aggregate{}, b.errAt(off, ErrUnsupported, "%s in the SELECT list is not supported in this version; select COUNT(*) or SUM(table.column)", describe(v))
	}
	if rt.GetName() != "" {
		agg.Name = rt.GetName()
	}
	return agg, nil
}

// aggregate plans COUNT(*) or SUM(table.column).
func (b *builder) aggregate(fc *pg.FuncCall) (Aggregate, *Error) {
	s := b.src
	off := int(fc.GetLocation())
	var parts []string
	for _, n := range fc.GetFuncname() {
		parts = append(parts, n.GetString_().GetSval())
	}
	name := strings.Join(parts, ".")
	upper := strings.ToUpper(name)
	if len(parts) != 1 {
		return Aggregate{}, b.errAt(off, ErrUnsupported, "schema-qualified function %s is not supported in this version; write %s(...)", name, strings.ToUpper(parts[len(parts)-1]))
	}
	if fc.GetOver() != nil {
		return Aggregate{}, b.errAt(s.firstOf(off, pg.Token_OVER), ErrUnsupported, "window functions (%s ... OVER) are not supported in this version", upper)
	}
	switch {
	case name == "count" || name == "sum":
	case laterAggregate(name):
		return Aggregate{}, b.errAt(off, ErrUnsupported, "aggregate %s is not supported in this version; supported: COUNT(*), SUM(table.column)", upper)
	default:
		return Aggregate{}, b.errAt(off, ErrUnknownName, "unknown aggregate function %s%s", name, hint(upper, []string{"COUNT", "SUM"}, "supported"))
	}
	args := fc.GetArgs()
	argOff := off
	if len(args) > 0 {
		argOff = max(minLocation(args[0]), off)
	}
	switch {
	case fc.GetAggFilter() != nil:
		return Aggregate{}, b.errAt(s.lastBefore(max(minLocation(fc.GetAggFilter()), off), off, pg.Token_FILTER), ErrUnsupported,
			"FILTER on an aggregate is not supported in this version; put the condition in WHERE")
	case fc.GetAggWithinGroup():
		return Aggregate{}, b.errAt(s.firstOf(off, pg.Token_WITHIN), ErrUnsupported, "WITHIN GROUP is not supported in this version")
	case len(fc.GetAggOrder()) > 0:
		return Aggregate{}, b.errAt(s.lastBefore(max(minLocation(fc.GetAggOrder()[0]), off), off, pg.Token_ORDER), ErrUnsupported,
			"ORDER BY inside %s(...) is not supported in this version", upper)
	case fc.GetAggDistinct():
		return Aggregate{}, b.errAt(s.lastBefore(argOff, off, pg.Token_DISTINCT), ErrUnsupported, "%s(DISTINCT ...) is not supported in this version", upper)
	case fc.GetFuncVariadic():
		return Aggregate{}, b.errAt(off, ErrUnsupported, "VARIADIC is not supported in this version")
	}
	if name == "count" {
		switch {
		case fc.GetAggStar():
			a := Aggregate{Kind: AggCount}
			a.Name = aggText(a)
			return a, nil
		case len(args) == 0:
			return Aggregate{}, b.errAt(off, ErrInvalid, "COUNT() needs an argument; write COUNT(*)")
		}
		return Aggregate{}, b.errAt(argOff, ErrUnsupported, "COUNT(expression) is not supported in this version; write COUNT(*)")
	}
	switch {
	case fc.GetAggStar():
		return Aggregate{}, b.errAt(off, ErrInvalid, "SUM(*) is not valid; write SUM(table.column)")
	case len(args) != 1:
		return Aggregate{}, b.errAt(off, ErrInvalid, "SUM takes exactly one column; write SUM(table.column)")
	}
	ref := args[0].GetColumnRef()
	if ref == nil {
		return Aggregate{}, b.errAt(argOff, ErrUnsupported, "SUM of %s is not supported in this version; write SUM(table.column)", describe(args[0]))
	}
	e, col, err := b.resolve(ref)
	if err != nil {
		return Aggregate{}, err
	}
	if col.Kind != schema.KindInt {
		return Aggregate{}, b.errAt(argOff, ErrType, "SUM needs an int column; %s is a %s column", refText(ref), col.Kind)
	}
	a := Aggregate{Kind: AggSum, Table: e.table.Name, Column: col.Name}
	a.Name = aggText(a)
	return a, nil
}

// resolve finds the table and column a qualified column reference names.
func (b *builder) resolve(ref *pg.ColumnRef) (scopeEntry, schema.Column, *Error) {
	off := int(ref.GetLocation())
	text := refText(ref)
	var parts []string
	for _, f := range ref.GetFields() {
		if f.GetAStar() != nil {
			return scopeEntry{}, schema.Column{}, b.errAt(off, ErrUnsupported, "%s is not supported here; name one column as table.column", text)
		}
		parts = append(parts, f.GetString_().GetSval())
	}
	switch len(parts) {
	case 1:
		return scopeEntry{}, schema.Column{}, b.unqualified(off, parts[0])
	case 2:
	default:
		return scopeEntry{}, schema.Column{}, b.errAt(off, ErrUnsupported, "column reference %s is not supported; write table.column", text)
	}
	q, c := parts[0], parts[1]
	var entry *scopeEntry
	for i := range b.scope {
		if b.scope[i].ref() == q {
			entry = &b.scope[i]
		}
	}
	if entry == nil {
		for _, e := range b.scope {
			if e.table.Name == q {
				return scopeEntry{}, schema.Column{}, b.errAt(off, ErrInvalid, "table %s is called %s in this query; write %s.%s", q, e.alias, e.alias, c)
			}
		}
		if _, ok := b.cs.Table(q); ok {
			return scopeEntry{}, schema.Column{}, b.errAt(off, ErrInvalid, "table %s is not in the FROM clause; add JOIN %s USING (%s)", q, q, b.keyHint())
		}
		refs := make([]string, 0, len(b.scope))
		for _, e := range b.scope {
			refs = append(refs, e.ref())
		}
		return scopeEntry{}, schema.Column{}, b.errAt(off, ErrUnknownName, "unknown table %s in %s%s", q, text, hint(q, refs, "tables in FROM"))
	}
	if c == entry.table.Key {
		return scopeEntry{}, schema.Column{}, b.errAt(off, ErrInvalid, "%s is the person key; it cannot be selected or compared", text)
	}
	col, ok := entry.table.Column(c)
	if !ok {
		names := entry.table.ColumnNames()
		h := fmt.Sprintf(" (columns of %s: %s)", q, list(names))
		if s := closest(c, names); s != "" {
			h = fmt.Sprintf(" (did you mean %s.%s?)", q, s)
		} else if t, s := b.elsewhere(c); s != "" {
			h = fmt.Sprintf(" (columns of %s: %s; did you mean %s.%s? add JOIN %s USING (%s))", q, list(names), t, s, t, b.keyHint())
		}
		return scopeEntry{}, schema.Column{}, b.errAt(off, ErrUnknownName, "unknown column %s%s", text, h)
	}
	return *entry, col, nil
}

// elsewhere finds the column closest to name (or equal to it) in a
// consortium table that is not in FROM, for hints.
func (b *builder) elsewhere(name string) (table, column string) {
	var cands []string
	owner := map[string]string{}
	for _, t := range b.cs.Tables {
		if b.inScope(t.Name) {
			continue
		}
		for _, c := range t.Columns {
			if _, dup := owner[c.Name]; !dup {
				owner[c.Name] = t.Name
				cands = append(cands, c.Name)
			}
		}
	}
	if _, ok := owner[name]; ok {
		return owner[name], name
	}
	if c := closest(name, cands); c != "" {
		return owner[c], c
	}
	return "", ""
}

func (b *builder) inScope(table string) bool {
	for _, e := range b.scope {
		if e.table.Name == table {
			return true
		}
	}
	return false
}

// unqualified explains how to qualify a bare column name.
func (b *builder) unqualified(off int, name string) *Error {
	var matches, all []string
	var keyOf []string
	for _, e := range b.scope {
		if name == e.table.Key {
			keyOf = append(keyOf, e.ref())
		}
		for _, c := range e.table.Columns {
			all = append(all, c.Name)
			if c.Name == name {
				matches = append(matches, e.ref()+"."+name)
			}
		}
	}
	switch {
	case len(keyOf) > 0:
		return b.errAt(off, ErrInvalid, "%s is the person key; it cannot be selected or compared", name)
	case len(matches) > 0:
		return b.errAt(off, ErrInvalid, "column %s must be qualified with its table; write %s", name, strings.Join(matches, " or "))
	}
	if s := closest(name, all); s != "" {
		for _, e := range b.scope {
			if _, ok := e.table.Column(s); ok {
				return b.errAt(off, ErrUnknownName, "unknown column %s (did you mean %s.%s?)", name, e.ref(), s)
			}
		}
	}
	if t, s := b.elsewhere(name); s != "" {
		return b.errAt(off, ErrUnknownName, "unknown column %s (did you mean %s.%s? add JOIN %s USING (%s))", name, t, s, t, b.keyHint())
	}
	var q []string
	for _, e := range b.scope {
		for _, c := range e.table.Columns {
			q = append(q, e.ref()+"."+c.Name)
		}
	}
	return b.errAt(off, ErrUnknownName, "unknown column %s; columns are written table.column (%s)", name, list(q))
}

// refText renders a column reference as written (after identifier case
// folding), e.g. bank.balance or bank.*.
func refText(ref *pg.ColumnRef) string {
	var parts []string
	for _, f := range ref.GetFields() {
		if f.GetAStar() != nil {
			parts = append(parts, "*")
			continue
		}
		parts = append(parts, f.GetString_().GetSval())
	}
	return strings.Join(parts, ".")
}
