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
	case "min", "max", "var_pop", "stddev_pop", "median", "array_agg", "string_agg", "bool_and", "bool_or", "every",
		"percentile_cont", "percentile_disc", "mode", "covar_samp", "covar_pop", "corr":
		return true
	}
	return false
}

// columnAggregate returns the kind of an aggregate function of one
// column (var_samp and stddev_samp are PostgreSQL's names for VARIANCE
// and STDDEV).
func columnAggregate(name string) (AggKind, bool) {
	switch name {
	case "sum":
		return AggSum, true
	case "avg":
		return AggAvg, true
	case "variance", "var_samp":
		return AggVariance, true
	case "stddev", "stddev_samp":
		return AggStddev, true
	}
	return "", false
}

// supportedAggregates lists the supported functions for messages.
func supportedAggregates() []string {
	return []string{"COUNT", "SUM", "AVG", "VARIANCE", "STDDEV", "VAR_SAMP", "STDDEV_SAMP"}
}

// selCol is a bare column of the SELECT list: allowed only as a GROUP BY
// column.
type selCol struct {
	table, column string
	name          string // output name
	off, index    int    // where it is written, its position in the list
}

// targets plans the SELECT list: its aggregates, and its bare columns
// (which must be GROUP BY columns when grouped is set).
func (b *builder) targets(list []*pg.Node, grouped bool) ([]Aggregate, []selCol, *Error) {
	if len(list) == 0 {
		return nil, nil, b.errAt(b.start, ErrInvalid, "empty SELECT list; select at least one aggregate, e.g. COUNT(*)")
	}
	var out []Aggregate
	var cols []selCol
	names := map[string]bool{}
	for i, n := range list {
		rt := n.GetResTarget()
		if rt == nil {
			return nil, nil, b.unsupported(max(minLocation(n), b.start), "this SELECT item")
		}
		agg, col, err := b.target(rt, grouped)
		if err != nil {
			return nil, nil, err
		}
		name := agg.Name
		if col != nil {
			col.index = i
			name = col.name
		}
		if names[name] {
			return nil, nil, b.errAt(int(rt.GetLocation()), ErrInvalid,
				"output column name %s is used twice; give each SELECT item a distinct name with AS", name)
		}
		names[name] = true
		if col != nil {
			cols = append(cols, *col)
		} else {
			out = append(out, agg)
			b.aggOffs = append(b.aggOffs, int(rt.GetLocation()))
		}
	}
	if len(out) == 0 {
		return nil, nil, b.errAt(b.start, ErrInvalid, "the SELECT list has no aggregate; select at least one, e.g. COUNT(*)")
	}
	return out, cols, nil
}

func (b *builder) target(rt *pg.ResTarget, grouped bool) (Aggregate, *selCol, *Error) {
	v := rt.GetVal()
	off := max(minLocation(v), int(rt.GetLocation()))
	var agg Aggregate
	switch {
	case v.GetFuncCall() != nil:
		var err *Error
		if agg, err = b.aggregate(v.GetFuncCall()); err != nil {
			return Aggregate{}, nil, err
		}
	case v.GetColumnRef() != nil:
		text := refText(v.GetColumnRef())
		if strings.HasSuffix(text, "*") {
			return Aggregate{}, nil, b.errAt(off, ErrUnsupported, "SELECT %s is not supported: it would reveal per-person rows; select aggregates such as COUNT(*)", text)
		}
		if !grouped {
			return Aggregate{}, nil, b.errAt(off, ErrUnsupported, "selecting the bare column %s is not supported: it would reveal per-person values; select an aggregate such as SUM(%s)", text, text)
		}
		e, col, err := b.resolve(v.GetColumnRef())
		if err != nil {
			return Aggregate{}, nil, err
		}
		sc := &selCol{table: e.table.Name, column: col.Name, name: e.table.Name + "." + col.Name, off: off}
		if rt.GetName() != "" {
			sc.name = rt.GetName()
		}
		return Aggregate{}, sc, nil
	default:
		return Aggregate{}, nil, b.errAt(off, ErrUnsupported, "%s in the SELECT list is not supported in this version; select COUNT(*), SUM, AVG, VARIANCE or STDDEV of a column", describe(v))
	}
	if rt.GetName() != "" {
		agg.Name = rt.GetName()
	}
	return agg, nil, nil
}

// aggregate plans COUNT(*) or an aggregate of one int column.
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
	kind, columnAgg := columnAggregate(name)
	switch {
	case name == "count" || columnAgg:
	case name == "var_pop" || name == "stddev_pop":
		return Aggregate{}, b.errAt(off, ErrUnsupported, "aggregate %s (the population form) is not supported; VARIANCE and STDDEV (the sample forms, as VAR_SAMP and STDDEV_SAMP) are", upper)
	case laterAggregate(name):
		return Aggregate{}, b.errAt(off, ErrUnsupported, "aggregate %s is not supported in this version; supported: COUNT(*), SUM, AVG, VARIANCE, STDDEV (computed from encrypted sums)", upper)
	default:
		return Aggregate{}, b.errAt(off, ErrUnknownName, "unknown aggregate function %s%s", name, hint(upper, supportedAggregates(), "supported"))
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
		return Aggregate{}, b.errAt(off, ErrInvalid, "%s(*) is not valid; write %s(table.column)", upper, upper)
	case len(args) != 1:
		return Aggregate{}, b.errAt(off, ErrInvalid, "%s takes exactly one column; write %s(table.column)", upper, upper)
	}
	arg := args[0]
	var clip int64
	if mm := arg.GetMinMaxExpr(); mm != nil {
		var err *Error
		if arg, clip, err = b.least(mm, upper, argOff); err != nil {
			return Aggregate{}, err
		}
	}
	ref := arg.GetColumnRef()
	if ref == nil {
		return Aggregate{}, b.errAt(argOff, ErrUnsupported, "%s of %s is not supported in this version; write %s(table.column) or %s(LEAST(table.column, bound))", upper, describe(arg), upper, upper)
	}
	e, col, err := b.resolve(ref)
	if err != nil {
		return Aggregate{}, err
	}
	if col.Kind != schema.KindInt {
		return Aggregate{}, b.errAt(argOff, ErrType, "%s needs an int column; %s is a %s column", upper, refText(ref), col.Kind)
	}
	if e.join == JoinLeft {
		return Aggregate{}, b.errAt(argOff, ErrUnsupported,
			"%s(%s) is not supported: %s is LEFT JOINed, so %s is NULL for people %s does not hold; write JOIN %s USING (%s) to aggregate over the people it holds",
			upper, refText(ref), e.ref(), refText(ref), e.ref(), e.table.Name, e.table.Key)
	}
	if clip >= col.Max {
		clip = 0 // LEAST with a bound at or above the declared maximum changes nothing
	}
	a := Aggregate{Kind: kind, Table: e.table.Name, Column: col.Name, Clip: clip}
	a.Name = upper + "(" + a.Table + "." + a.Column + ")"
	if clip > 0 {
		a.Name = fmt.Sprintf("%s(LEAST(%s.%s, %d))", upper, a.Table, a.Column, clip)
	}
	return a, nil
}

// least reads LEAST(table.column, bound) inside an aggregate: the column
// reference and a positive integer bound (the clipping bound, which bounds
// each person's contribution and so the noise of a noisy answer).
func (b *builder) least(mm *pg.MinMaxExpr, upper string, off int) (*pg.Node, int64, *Error) {
	if mm.GetOp() != pg.MinMaxOp_IS_LEAST {
		return nil, 0, b.errAt(off, ErrUnsupported, "GREATEST inside %s is not supported; clip values with %s(LEAST(table.column, bound))", upper, upper)
	}
	args := mm.GetArgs()
	if len(args) != 2 || args[0].GetColumnRef() == nil {
		return nil, 0, b.errAt(off, ErrUnsupported, "write %s(LEAST(table.column, bound)): a column, then a positive integer bound", upper)
	}
	c := constant(args[1])
	var v int64
	switch {
	case c == nil:
		return nil, 0, b.errAt(max(minLocation(args[1]), off), ErrUnsupported, "the bound of LEAST in %s must be an integer constant, not %s", upper, describe(args[1]))
	case c.GetIval() != nil:
		v = int64(c.GetIval().GetIval())
	case c.GetFval() != nil:
		n, err := parseInt(c.GetFval().GetFval())
		if err != nil {
			return nil, 0, b.errAt(max(minLocation(args[1]), off), ErrType, "the bound of LEAST in %s must be an integer, not %s", upper, c.GetFval().GetFval())
		}
		v = n
	default:
		return nil, 0, b.errAt(max(minLocation(args[1]), off), ErrType, "the bound of LEAST in %s must be an integer, not %s", upper, literal(c))
	}
	if v <= 0 {
		return nil, 0, b.errAt(max(minLocation(args[1]), off), ErrInvalid, "the bound of LEAST in %s must be positive, not %d (values are non-negative)", upper, v)
	}
	return args[0], v, nil
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
