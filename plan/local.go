package plan

import (
	"errors"
	"fmt"

	"github.com/mpcq/mpcq/schema"
)

// Presence says what a term requires of a person's row at one table.
type Presence int

// The presence modes of a Local.
const (
	// PresenceRequired: the table must hold the person (and Expr must
	// hold on the row). Every inner-joined table is Required in every
	// term; a LEFT JOINed table is Required under t.key IS NOT NULL.
	PresenceRequired Presence = iota
	// PresenceAbsent: the table must not hold the person (LEFT JOIN t
	// ... WHERE t.key IS NULL). Expr is nil.
	PresenceAbsent
	// PresenceAny: the table's rows do not matter (a LEFT JOINed table
	// without a presence test): the party contributes 1 on every aligned
	// slot. Expr is nil.
	PresenceAny
)

// String returns "required", "absent" or "any".
func (p Presence) String() string {
	switch p {
	case PresenceRequired:
		return "required"
	case PresenceAbsent:
		return "absent"
	case PresenceAny:
		return "any"
	}
	return fmt.Sprintf("Presence(%d)", int(p))
}

// JoinKind is how a table of FROM is joined.
type JoinKind string

// The join kinds.
const (
	// JoinInner keeps only people the table holds (JOIN t USING (key));
	// the first table of FROM is always JoinInner.
	JoinInner JoinKind = "INNER"
	// JoinLeft keeps people the table does not hold (LEFT JOIN t USING
	// (key)); its only allowed conditions are t.key IS [NOT] NULL.
	JoinLeft JoinKind = "LEFT"
)

// Local is one term's condition at one table: a formula whose atoms are
// all on that table, evaluated by its party on its own row of each
// person, combined with what the term requires of the row's presence.
// The party's 0/1 value for a slot is:
//
//	Required: 1 iff it holds the person and Expr holds on the row
//	Absent:   1 iff it does not hold the person
//	Any:      1 (on every aligned slot)
type Local struct {
	Table    string
	Presence Presence
	// Expr is nil for "true" (and always nil unless Presence is
	// Required). In plans Parse returns it is normalized.
	Expr Expr
}

// Key is a structural key of the Local: equal keys are equal conditions
// (the formula rendered without category names, see exprText).
func (l Local) Key() string {
	return l.Table + "|" + l.Presence.String() + "|" + exprText(l.Expr, schema.Consortium{}, false)
}

// FormatLocal renders a Local as SQL-like text for people (EXPLAIN, logs):
// the formula with qualified column names and category values in quotes,
// and the presence requirement, e.g. "bank.balance > 5", "bank holds the
// person", "bank.person_id IS NULL", "any bank row". t describes the
// Local's table; values it does not declare are rendered as numbers.
func FormatLocal(l Local, t schema.Table) string {
	switch l.Presence {
	case PresenceAbsent:
		return l.Table + "." + t.Key + " IS NULL"
	case PresenceAny:
		return "any " + l.Table + " row (LEFT JOIN)"
	}
	if l.Expr == nil {
		return l.Table + " holds the person"
	}
	return exprText(l.Expr, schema.Consortium{Tables: []schema.Table{t}}, false)
}

// MaxLocalBytes is the largest encoded Local a party accepts.
const MaxLocalBytes = 1 << 20

// MaxLocalDepth is the deepest formula (counting boolean and arithmetic
// nodes, the root at depth 1) a Local may have.
const MaxLocalDepth = 32

// ErrLocal marks a Local a party refuses: malformed (unknown presence,
// node or operator, an empty AND, OR or IN, a condition on a row that is
// not required, deeper than MaxLocalDepth or larger than MaxLocalBytes
// encoded) or not about its table's columns as their kinds allow.
var ErrLocal = errors.New("invalid local condition")

// CheckLocal checks that a Local is well formed and can run on table t:
// it is for table t, its presence is known and only a required row has
// a condition, its formula is at most MaxLocalDepth deep with no empty
// AND, OR or IN list and only known operators, every atom is on t,
// every column is a data column of t, category columns are only
// compared (= or !=) with, or listed IN, their declared category indexes,
// and arithmetic only uses int columns. Any violation is an error
// wrapping ErrLocal.
func CheckLocal(l Local, t schema.Table) error {
	if l.Table != t.Name {
		return fmt.Errorf("%w: condition for table %q sent to table %q", ErrLocal, l.Table, t.Name)
	}
	switch l.Presence {
	case PresenceRequired, PresenceAbsent, PresenceAny:
	default:
		return fmt.Errorf("%w: unknown presence %d", ErrLocal, int(l.Presence))
	}
	if l.Expr == nil {
		return nil
	}
	if l.Presence != PresenceRequired {
		return fmt.Errorf("%w: a condition with presence %s (only a required row has conditions)", ErrLocal, l.Presence)
	}
	return localChecker{t: t}.expr(l.Expr, 1)
}

// localChecker checks a formula against table t.
type localChecker struct{ t schema.Table }

func tooDeep() error {
	return fmt.Errorf("%w: formula deeper than %d nodes", ErrLocal, MaxLocalDepth)
}

func (v localChecker) expr(e Expr, depth int) error {
	if depth > MaxLocalDepth {
		return tooDeep()
	}
	switch e := e.(type) {
	case And:
		return v.list(e.Terms, "AND", depth)
	case Or:
		return v.list(e.Terms, "OR", depth)
	case Not:
		if e.Term == nil {
			return fmt.Errorf("%w: NOT without a term", ErrLocal)
		}
		return v.expr(e.Term, depth+1)
	case Cmp:
		if err := v.table(e.Table); err != nil {
			return err
		}
		if !e.Op.Valid() {
			return fmt.Errorf("%w: unknown comparison operator %q", ErrLocal, e.Op)
		}
		if col, ok := v.category(e.Left); ok {
			if e.Op != OpEq && e.Op != OpNe {
				return fmt.Errorf("%w: operator %s on category column %s", ErrLocal, e.Op, col.Name)
			}
			k, ok := e.Right.(AConst)
			if !ok {
				return fmt.Errorf("%w: category column %s compared with something other than a category index", ErrLocal, col.Name)
			}
			return categoryIndex(col, k.V)
		}
		if err := v.arith(e.Left, depth+1); err != nil {
			return err
		}
		return v.arith(e.Right, depth+1)
	case In:
		if err := v.table(e.Table); err != nil {
			return err
		}
		if len(e.Values) == 0 {
			return fmt.Errorf("%w: empty IN list", ErrLocal)
		}
		if col, ok := v.category(e.Arg); ok {
			for _, x := range e.Values {
				if err := categoryIndex(col, x); err != nil {
					return err
				}
			}
			return nil
		}
		return v.arith(e.Arg, depth+1)
	case nil:
		return fmt.Errorf("%w: missing formula node", ErrLocal)
	}
	return fmt.Errorf("%w: unknown formula node %T", ErrLocal, e)
}

func (v localChecker) list(terms []Expr, name string, depth int) error {
	if len(terms) == 0 {
		return fmt.Errorf("%w: empty %s", ErrLocal, name)
	}
	for _, t := range terms {
		if err := v.expr(t, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (v localChecker) table(name string) error {
	if name != v.t.Name {
		return fmt.Errorf("%w: a comparison on table %q in a condition for table %q", ErrLocal, name, v.t.Name)
	}
	return nil
}

// category returns the column if a is a bare category column of t.
func (v localChecker) category(a Arith) (schema.Column, bool) {
	col, ok := a.(ACol)
	if !ok {
		return schema.Column{}, false
	}
	c, ok := v.t.Column(col.Column)
	return c, ok && c.Kind == schema.KindCategory
}

func categoryIndex(c schema.Column, x int64) error {
	if x < 0 || x >= int64(len(c.Categories)) {
		return fmt.Errorf("%w: category index %d of %s is outside 0..%d", ErrLocal, x, c.Name, len(c.Categories)-1)
	}
	return nil
}

// arith checks an integer expression; columns must be int columns.
func (v localChecker) arith(a Arith, depth int) error {
	if depth > MaxLocalDepth {
		return tooDeep()
	}
	switch a := a.(type) {
	case ACol:
		c, ok := v.t.Column(a.Column)
		if !ok {
			return fmt.Errorf("%w: table %s has no data column %q", ErrLocal, v.t.Name, a.Column)
		}
		if c.Kind != schema.KindInt {
			return fmt.Errorf("%w: %s column %s used as an integer", ErrLocal, c.Kind, c.Name)
		}
		return nil
	case AConst:
		return nil
	case ABin:
		if !validArithOp(a.Op) {
			return fmt.Errorf("%w: unknown arithmetic operator %q", ErrLocal, a.Op)
		}
		if err := v.arith(a.L, depth+1); err != nil {
			return err
		}
		return v.arith(a.R, depth+1)
	case nil:
		return fmt.Errorf("%w: missing arithmetic node", ErrLocal)
	}
	return fmt.Errorf("%w: unknown arithmetic node %T", ErrLocal, a)
}
