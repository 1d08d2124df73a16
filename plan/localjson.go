package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mpcq/mpcq/schema"
)

// LocalVersion is the version of the encoding MarshalLocal writes and
// UnmarshalLocal accepts.
const LocalVersion = 1

// MaxLocalBytes is the largest encoded Local UnmarshalLocal accepts.
const MaxLocalBytes = 1 << 20

// MaxLocalDepth is the deepest formula (counting boolean and arithmetic
// nodes) MarshalLocal writes and UnmarshalLocal accepts.
const MaxLocalDepth = 32

// ErrLocal marks an encoded Local that UnmarshalLocal refuses, or a Local
// that MarshalLocal cannot encode.
var ErrLocal = errors.New("invalid local condition")

// The JSON shapes. Field order is the canonical key order.
type (
	jsonLocal struct {
		V        int       `json:"v"`
		Table    string    `json:"table"`
		Presence string    `json:"presence"`
		Expr     *jsonExpr `json:"expr,omitempty"`
	}
	jsonExpr struct {
		And []*jsonExpr `json:"and,omitempty"`
		Or  []*jsonExpr `json:"or,omitempty"`
		Not *jsonExpr   `json:"not,omitempty"`
		Cmp *jsonCmp    `json:"cmp,omitempty"`
		In  *jsonIn     `json:"in,omitempty"`
	}
	jsonCmp struct {
		Op string     `json:"op"`
		L  *jsonArith `json:"l"`
		R  *jsonArith `json:"r"`
	}
	jsonIn struct {
		Arg     *jsonArith `json:"arg"`
		Values  []int64    `json:"values"`
		Negated bool       `json:"negated,omitempty"`
	}
	jsonArith struct {
		Col   *string    `json:"col,omitempty"`
		Const *int64     `json:"const,omitempty"`
		Op    string     `json:"op,omitempty"`
		L     *jsonArith `json:"l,omitempty"`
		R     *jsonArith `json:"r,omitempty"`
	}
)

// MarshalLocal encodes a Local as canonical, versioned JSON (what a party
// receives over the network), e.g.
//
//	{"v":1,"table":"bank","presence":"required","expr":{"cmp":{"op":">","l":{"col":"balance"},"r":{"const":5}}}}
//
// The same Local always gives the same bytes. A malformed Local (unknown
// node or operator, empty AND/OR/IN, an Expr with a presence other than
// Required, deeper than MaxLocalDepth) is an error wrapping ErrLocal.
func MarshalLocal(l Local) ([]byte, error) {
	p, err := presenceName(l.Presence)
	if err != nil {
		return nil, err
	}
	j := jsonLocal{V: LocalVersion, Table: l.Table, Presence: p}
	if l.Expr != nil {
		if l.Presence != PresenceRequired {
			return nil, fmt.Errorf("%w: a condition with presence %s (only a required row has conditions)", ErrLocal, l.Presence)
		}
		if j.Expr, err = exprToJSON(l.Expr, 1); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(j); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLocal, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func presenceName(p Presence) (string, error) {
	switch p {
	case PresenceRequired, PresenceAbsent, PresenceAny:
		return p.String(), nil
	}
	return "", fmt.Errorf("%w: unknown presence %d", ErrLocal, int(p))
}

func tooDeep() error {
	return fmt.Errorf("%w: formula deeper than %d nodes", ErrLocal, MaxLocalDepth)
}

func exprToJSON(e LocalExpr, depth int) (*jsonExpr, error) {
	if depth > MaxLocalDepth {
		return nil, tooDeep()
	}
	list := func(terms []LocalExpr, name string) ([]*jsonExpr, error) {
		if len(terms) == 0 {
			return nil, fmt.Errorf("%w: empty %s", ErrLocal, name)
		}
		out := make([]*jsonExpr, len(terms))
		for i, t := range terms {
			var err error
			if out[i], err = exprToJSON(t, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var err error
	j := &jsonExpr{}
	switch e := e.(type) {
	case LAnd:
		j.And, err = list(e.Terms, "AND")
	case LOr:
		j.Or, err = list(e.Terms, "OR")
	case LNot:
		j.Not, err = exprToJSON(e.Term, depth+1)
	case LCmp:
		if !validOp(e.Op) {
			return nil, fmt.Errorf("%w: unknown comparison operator %q", ErrLocal, e.Op)
		}
		c := &jsonCmp{Op: string(e.Op)}
		if c.L, err = arithToJSON(e.Left, depth+1); err == nil {
			c.R, err = arithToJSON(e.Right, depth+1)
		}
		j.Cmp = c
	case LIn:
		if len(e.Values) == 0 {
			return nil, fmt.Errorf("%w: empty IN list", ErrLocal)
		}
		in := &jsonIn{Values: e.Values, Negated: e.Negated}
		in.Arg, err = arithToJSON(e.Arg, depth+1)
		j.In = in
	default:
		return nil, fmt.Errorf("%w: unknown formula node %T", ErrLocal, e)
	}
	if err != nil {
		return nil, err
	}
	return j, nil
}

func arithToJSON(a Arith, depth int) (*jsonArith, error) {
	if depth > MaxLocalDepth {
		return nil, tooDeep()
	}
	switch a := a.(type) {
	case ACol:
		if a.Column == "" {
			return nil, fmt.Errorf("%w: empty column name", ErrLocal)
		}
		c := a.Column
		return &jsonArith{Col: &c}, nil
	case AConst:
		v := a.V
		return &jsonArith{Const: &v}, nil
	case ABin:
		if a.Op != '+' && a.Op != '-' && a.Op != '*' {
			return nil, fmt.Errorf("%w: unknown arithmetic operator %q", ErrLocal, a.Op)
		}
		l, err := arithToJSON(a.L, depth+1)
		if err != nil {
			return nil, err
		}
		r, err := arithToJSON(a.R, depth+1)
		if err != nil {
			return nil, err
		}
		return &jsonArith{Op: string(a.Op), L: l, R: r}, nil
	}
	return nil, fmt.Errorf("%w: unknown arithmetic node %T", ErrLocal, a)
}

func validOp(o Op) bool {
	switch o {
	case OpEq, OpNe, OpLt, OpLe, OpGt, OpGe:
		return true
	}
	return false
}

// UnmarshalLocal decodes and validates a Local that MarshalLocal encoded,
// for table t. It is strict: the bytes must be exactly MarshalLocal's
// canonical encoding (no unknown or repeated fields, no extra spaces),
// the version LocalVersion, the table t, at most MaxLocalBytes long and
// MaxLocalDepth deep; every column must be a data column of t, category
// columns may only be compared (= or !=) with, or listed IN, their
// declared category indexes, and arithmetic may only use int columns.
// Any violation is an error wrapping ErrLocal.
func UnmarshalLocal(b []byte, t schema.Table) (Local, error) {
	if len(b) > MaxLocalBytes {
		return Local{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrLocal, len(b), MaxLocalBytes)
	}
	// Each formula level nests at most two JSON levels (an object and an
	// array); refuse deeper text before decoding it.
	if d := jsonDepth(b); d > 2*MaxLocalDepth+2 {
		return Local{}, tooDeep()
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var j jsonLocal
	if err := dec.Decode(&j); err != nil {
		return Local{}, fmt.Errorf("%w: %v", ErrLocal, err)
	}
	if j.V != LocalVersion {
		return Local{}, fmt.Errorf("%w: version %d, want %d", ErrLocal, j.V, LocalVersion)
	}
	if j.Table != t.Name {
		return Local{}, fmt.Errorf("%w: condition for table %q sent to table %q", ErrLocal, j.Table, t.Name)
	}
	l := Local{Table: j.Table}
	switch j.Presence {
	case "required":
		l.Presence = PresenceRequired
	case "absent":
		l.Presence = PresenceAbsent
	case "any":
		l.Presence = PresenceAny
	default:
		return Local{}, fmt.Errorf("%w: unknown presence %q", ErrLocal, j.Presence)
	}
	if j.Expr != nil {
		if l.Presence != PresenceRequired {
			return Local{}, fmt.Errorf("%w: a condition with presence %s", ErrLocal, j.Presence)
		}
		v := localValidator{t: t}
		var err error
		if l.Expr, err = v.expr(j.Expr, 1); err != nil {
			return Local{}, err
		}
	}
	again, err := MarshalLocal(l)
	if err != nil {
		return Local{}, err
	}
	if !bytes.Equal(again, b) {
		return Local{}, fmt.Errorf("%w: not in canonical form (want %.200s)", ErrLocal, again)
	}
	return l, nil
}

// jsonDepth returns the deepest nesting of objects and arrays in JSON
// text (strings skipped); malformed text is left to the decoder.
func jsonDepth(b []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// localValidator converts decoded JSON into a formula over table t.
type localValidator struct{ t schema.Table }

func (v localValidator) expr(j *jsonExpr, depth int) (LocalExpr, error) {
	if j == nil {
		return nil, fmt.Errorf("%w: null formula node", ErrLocal)
	}
	if depth > MaxLocalDepth {
		return nil, tooDeep()
	}
	kinds := 0
	for _, set := range []bool{j.And != nil, j.Or != nil, j.Not != nil, j.Cmp != nil, j.In != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, fmt.Errorf("%w: a formula node needs exactly one of and, or, not, cmp, in (it has %d)", ErrLocal, kinds)
	}
	list := func(js []*jsonExpr) ([]LocalExpr, error) {
		if len(js) == 0 {
			return nil, fmt.Errorf("%w: empty AND or OR", ErrLocal)
		}
		out := make([]LocalExpr, len(js))
		for i, x := range js {
			var err error
			if out[i], err = v.expr(x, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	switch {
	case j.And != nil:
		terms, err := list(j.And)
		return LAnd{Terms: terms}, err
	case j.Or != nil:
		terms, err := list(j.Or)
		return LOr{Terms: terms}, err
	case j.Not != nil:
		t, err := v.expr(j.Not, depth+1)
		return LNot{Term: t}, err
	case j.Cmp != nil:
		return v.cmp(j.Cmp, depth)
	}
	return v.in(j.In, depth)
}

func (v localValidator) cmp(j *jsonCmp, depth int) (LocalExpr, error) {
	op := Op(j.Op)
	if !validOp(op) {
		return nil, fmt.Errorf("%w: unknown comparison operator %q", ErrLocal, j.Op)
	}
	if col, ok := v.category(j.L); ok {
		if op != OpEq && op != OpNe {
			return nil, fmt.Errorf("%w: operator %s on category column %s", ErrLocal, op, col.Name)
		}
		if j.R == nil || j.R.Const == nil || j.R.Col != nil || j.R.Op != "" {
			return nil, fmt.Errorf("%w: category column %s compared with something other than a category index", ErrLocal, col.Name)
		}
		if err := categoryIndex(col, *j.R.Const); err != nil {
			return nil, err
		}
		return LCmp{Left: ACol{Column: col.Name}, Right: AConst{V: *j.R.Const}, Op: op}, nil
	}
	l, err := v.arith(j.L, depth+1)
	if err != nil {
		return nil, err
	}
	r, err := v.arith(j.R, depth+1)
	if err != nil {
		return nil, err
	}
	return LCmp{Left: l, Right: r, Op: op}, nil
}

func (v localValidator) in(j *jsonIn, depth int) (LocalExpr, error) {
	if len(j.Values) == 0 {
		return nil, fmt.Errorf("%w: empty IN list", ErrLocal)
	}
	if col, ok := v.category(j.Arg); ok {
		for _, x := range j.Values {
			if err := categoryIndex(col, x); err != nil {
				return nil, err
			}
		}
		return LIn{Arg: ACol{Column: col.Name}, Values: j.Values, Negated: j.Negated}, nil
	}
	a, err := v.arith(j.Arg, depth+1)
	if err != nil {
		return nil, err
	}
	return LIn{Arg: a, Values: j.Values, Negated: j.Negated}, nil
}

// category returns the column if j is a bare category column of t.
func (v localValidator) category(j *jsonArith) (schema.Column, bool) {
	if j == nil || j.Col == nil || j.Const != nil || j.Op != "" || j.L != nil || j.R != nil {
		return schema.Column{}, false
	}
	c, ok := v.t.Column(*j.Col)
	return c, ok && c.Kind == schema.KindCategory
}

func categoryIndex(c schema.Column, x int64) error {
	if x < 0 || x >= int64(len(c.Categories)) {
		return fmt.Errorf("%w: category index %d of %s is outside 0..%d", ErrLocal, x, c.Name, len(c.Categories)-1)
	}
	return nil
}

// arith converts an integer expression; columns must be int columns.
func (v localValidator) arith(j *jsonArith, depth int) (Arith, error) {
	if j == nil {
		return nil, fmt.Errorf("%w: null arithmetic node", ErrLocal)
	}
	if depth > MaxLocalDepth {
		return nil, tooDeep()
	}
	switch {
	case j.Col != nil && j.Const == nil && j.Op == "" && j.L == nil && j.R == nil:
		c, ok := v.t.Column(*j.Col)
		if !ok {
			return nil, fmt.Errorf("%w: table %s has no data column %q", ErrLocal, v.t.Name, *j.Col)
		}
		if c.Kind != schema.KindInt {
			return nil, fmt.Errorf("%w: %s column %s used as an integer", ErrLocal, c.Kind, c.Name)
		}
		return ACol{Column: c.Name}, nil
	case j.Const != nil && j.Col == nil && j.Op == "" && j.L == nil && j.R == nil:
		return AConst{V: *j.Const}, nil
	case j.Col == nil && j.Const == nil && (j.Op == "+" || j.Op == "-" || j.Op == "*"):
		l, err := v.arith(j.L, depth+1)
		if err != nil {
			return nil, err
		}
		r, err := v.arith(j.R, depth+1)
		if err != nil {
			return nil, err
		}
		return ABin{Op: j.Op[0], L: l, R: r}, nil
	}
	return nil, fmt.Errorf("%w: an arithmetic node needs exactly one of col, const, or op (+ - *) with l and r", ErrLocal)
}
