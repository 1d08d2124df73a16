package plan

import (
	"slices"
	"strings"

	"github.com/mpcq/mpcq/schema"
)

// MaxTerms is the largest number of products (Plan.Terms) a WHERE
// clause may compile into. Each term costs the circuit one chain of
// ciphertext products through the parties per sum, so the cost of a
// query grows linearly with it; OR and NOT across institutions expand
// (x OR y is x + y - x*y).
const MaxTerms = 16

// Term is one signed product of the sum-of-products form of WHERE:
//
//	WHERE(person) = Σ_k Sign_k × Π_t Local_{k,t}(person)
//
// where each Local_{k,t} is computed by table t's party on its own row
// (see Local). Sign is +1 or -1 (a coefficient of 2 is written as two
// equal terms). Locals has one entry per joined table, in Plan.Tables
// order.
type Term struct {
	Sign   int
	Locals []Local
}

// pterm is a product during compilation: a coefficient and each table's
// local formula (a missing table is "true"), normalized.
type pterm struct {
	coef   int
	locals map[string]Expr
}

// poly is a sum of products, simplified: no two terms with the same
// formulas, no zero coefficient, sorted by key.
type poly []pterm

func onePoly() poly { return poly{{coef: 1, locals: map[string]Expr{}}} }

func (t pterm) key() string {
	tables := make([]string, 0, len(t.locals))
	for tb := range t.locals {
		tables = append(tables, tb)
	}
	slices.Sort(tables)
	var sb strings.Builder
	for _, tb := range tables {
		sb.WriteString(tb + "=" + exprText(t.locals[tb], schema.Consortium{}, false) + ";")
	}
	return sb.String()
}

// simplify merges equal products (adding coefficients), drops zeros and
// sorts.
func simplify(p poly) poly {
	byKey := map[string]int{}
	var out poly
	for _, t := range p {
		k := t.key()
		if i, ok := byKey[k]; ok {
			out[i].coef += t.coef
			continue
		}
		byKey[k] = len(out)
		out = append(out, t)
	}
	out = slices.DeleteFunc(out, func(t pterm) bool { return t.coef == 0 })
	slices.SortFunc(out, func(a, b pterm) int { return strings.Compare(a.key(), b.key()) })
	return out
}

// mulPoly multiplies two sums of products: per table, the product of two
// 0/1 local values is the AND of their formulas.
func (b *builder) mulPoly(x, y poly) poly {
	var out poly
	for _, tx := range x {
		for _, ty := range y {
			locals := make(map[string]Expr, len(tx.locals)+len(ty.locals))
			for t, e := range tx.locals {
				locals[t] = e
			}
			for t, e := range ty.locals {
				if prev, ok := locals[t]; ok {
					e = normalize(And{Terms: []Expr{prev, e}}, b.cs)
				}
				locals[t] = e
			}
			out = append(out, pterm{coef: tx.coef * ty.coef, locals: locals})
		}
	}
	return simplify(out)
}

func addPoly(a, b poly, sign int) poly {
	out := slices.Clone(a)
	for _, t := range b {
		out = append(out, pterm{coef: sign * t.coef, locals: t.locals})
	}
	return simplify(out)
}

// size is the number of Terms the sum expands to (|coefficient| each).
func (p poly) size() int {
	n := 0
	for _, t := range p {
		n += max(t.coef, -t.coef)
	}
	return n
}

// compile turns a normalized condition into a sum of products of
// per-table local formulas. A sub-condition on one table stays one local
// formula; AND multiplies, OR is x + y - x*y, NOT is 1 - x. Every
// intermediate result is checked against MaxTerms.
func (b *builder) compile(c Expr) (poly, *Error) {
	if c == nil {
		return onePoly(), nil
	}
	if ts := exprTables(c); len(ts) == 1 {
		return poly{{coef: 1, locals: map[string]Expr{ts[0]: c}}}, nil
	}
	var out poly
	switch c := c.(type) {
	case And, Or:
		terms, isAnd := []Expr(nil), false
		if a, ok := c.(And); ok {
			terms, isAnd = a.Terms, true
		} else {
			terms = c.(Or).Terms
		}
		// Conditions on one table are combined into one local formula
		// first: OR of two bank conditions is one bank formula, not three
		// products.
		var parts []poly
		single := map[string][]Expr{}
		var order []string
		for _, t := range terms {
			if ts := exprTables(t); len(ts) == 1 {
				if _, seen := single[ts[0]]; !seen {
					order = append(order, ts[0])
				}
				single[ts[0]] = append(single[ts[0]], t)
				continue
			}
			p, err := b.compile(t)
			if err != nil {
				return nil, err
			}
			parts = append(parts, p)
		}
		for _, table := range order {
			var e Expr = Or{Terms: single[table]}
			if isAnd {
				e = And{Terms: single[table]}
			}
			parts = append(parts, poly{{coef: 1, locals: map[string]Expr{table: normalize(e, b.cs)}}})
		}
		out = parts[0]
		for _, p := range parts[1:] {
			if isAnd {
				out = b.mulPoly(out, p)
			} else {
				out = addPoly(addPoly(out, p, 1), b.mulPoly(out, p), -1)
			}
			if err := b.checkTerms(out, c); err != nil {
				return nil, err
			}
		}
	case Not:
		p, err := b.compile(c.Term)
		if err != nil {
			return nil, err
		}
		out = addPoly(onePoly(), p, -1)
	}
	if err := b.checkTerms(out, c); err != nil {
		return nil, err
	}
	return out, nil
}

func (b *builder) checkTerms(p poly, c Expr) *Error {
	if n := p.size(); n > MaxTerms {
		return b.errAt(exprPos(c, b.start), ErrUnsupported,
			"this condition compiles into %d products of per-institution conditions, and the limit is %d (MaxTerms): OR and NOT across institutions expand (x OR y is x + y - x*y); "+
				"simplify the condition, group conditions on the same institution together, or split the query", n, MaxTerms)
	}
	return nil
}

// terms expands a compiled WHERE into Plan.Terms, adding each table's
// presence requirement.
func (b *builder) terms(p poly) []Term {
	var out []Term
	for _, t := range p {
		sign, n := 1, t.coef
		if n < 0 {
			sign, n = -1, -n
		}
		for range n {
			term := Term{Sign: sign, Locals: make([]Local, len(b.scope))}
			for i, e := range b.scope {
				l := Local{Table: e.table.Name, Presence: PresenceRequired, Expr: bare(t.locals[e.table.Name])}
				if e.join == JoinLeft {
					l.Presence = PresenceAny
					if pt, ok := b.presence[i]; ok {
						l.Presence = pt.mode
					}
				}
				term.Locals[i] = l
			}
			out = append(out, term)
		}
	}
	return out
}
