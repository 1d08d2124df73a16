// Package wire converts between the domain types (schema, plan, alignment
// provenance) and their protobuf messages, and defines the hash of a plan
// the ledger commits (over its deterministic protobuf encoding). It is
// conversion only: no I/O; streaming and message limits are package stream.
package wire

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/mpc/align"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
)

// Hash is SHA-256, for public fingerprints of keys and values.
func Hash(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// TableToProto converts a table schema.
func TableToProto(t schema.Table) *pb.TableSchema {
	out := &pb.TableSchema{Name: t.Name, Key: t.Key}
	for _, c := range t.Columns {
		out.Columns = append(out.Columns, &pb.ColumnSchema{Name: c.Name, Kind: string(c.Kind), Min: c.Min, Max: c.Max, Categories: c.Categories})
	}
	return out
}

// TableFromProto converts and validates a table schema.
func TableFromProto(p *pb.TableSchema) (schema.Table, error) {
	if p == nil {
		return schema.Table{}, fmt.Errorf("missing table schema")
	}
	t := schema.Table{Name: p.Name, Key: p.Key}
	for _, c := range p.Columns {
		t.Columns = append(t.Columns, schema.Column{Name: c.Name, Kind: schema.Kind(c.Kind), Min: c.Min, Max: c.Max, Categories: c.Categories})
	}
	return t, t.Validate()
}

// PlanToProto converts a plan, encoding each term's local conditions
// (see LocalToProto). The conversion is a function of the plan: the same
// plan always gives the same message, so equal plans (Parse normalizes
// their conditions) have equal PlanHash. A malformed local condition is
// an error wrapping plan.ErrLocal that names its term and table.
func PlanToProto(p *plan.Plan) (*pb.Plan, error) {
	out := &pb.Plan{Tables: p.Tables, Canonical: p.Canonical}
	for _, a := range p.Aggregates {
		out.Aggregates = append(out.Aggregates, &pb.Aggregate{Kind: string(a.Kind), Table: a.Table, Column: a.Column, Name: a.Name})
	}
	for _, j := range p.Joins {
		out.Joins = append(out.Joins, string(j))
	}
	for k, t := range p.Terms {
		pt := &pb.Term{Sign: int32(t.Sign)}
		for _, l := range t.Locals {
			m, err := LocalToProto(l)
			if err != nil {
				return nil, fmt.Errorf("plan: term %d, table %s: %w", k, l.Table, err)
			}
			pt.Locals = append(pt.Locals, m)
		}
		out.Terms = append(out.Terms, pt)
	}
	for _, g := range p.GroupBy {
		out.GroupBy = append(out.GroupBy, &pb.GroupColumn{Table: g.Table, Column: g.Column, Categories: g.Categories, Name: g.Name})
	}
	for _, s := range p.Sums() {
		out.Sums = append(out.Sums, SumToProto(s))
	}
	return out, nil
}

// SumToProto converts a sum spec.
func SumToProto(s plan.Sum) *pb.SumSpec {
	return &pb.SumSpec{Kind: string(s.Kind), Table: s.Table, Column: s.Column, Clip: s.Clip,
		Digit: uint32(s.Digit), Digits: uint32(s.Digits), Bits: uint32(s.Bits)}
}

// SumFromProto converts a sum spec received from the network.
func SumFromProto(s *pb.SumSpec) (plan.Sum, error) {
	switch plan.SumKind(s.GetKind()) {
	case plan.SumCount:
		if s.Table != "" || s.Column != "" {
			return plan.Sum{}, fmt.Errorf("plan: a count sum names no column")
		}
	case plan.SumValue, plan.SumSquares:
		if s.Table == "" || s.Column == "" {
			return plan.Sum{}, fmt.Errorf("plan: sum %q needs a table and column", s.Kind)
		}
		if s.Clip < 0 {
			return plan.Sum{}, fmt.Errorf("plan: sum %q of %s.%s has a negative LEAST bound %d", s.Kind, s.Table, s.Column, s.Clip)
		}
	default:
		return plan.Sum{}, fmt.Errorf("plan: unknown sum kind %q", s.GetKind())
	}
	if plan.SumKind(s.Kind) == plan.SumCount && s.Clip != 0 {
		return plan.Sum{}, fmt.Errorf("plan: a count sum has no LEAST bound")
	}
	switch {
	case s.Digits == 0:
		if s.Digit != 0 || s.Bits != 0 {
			return plan.Sum{}, fmt.Errorf("plan: sum %q of %s.%s is whole but names digit %d of base 2^%d", s.Kind, s.Table, s.Column, s.Digit, s.Bits)
		}
	case plan.SumKind(s.Kind) == plan.SumCount:
		return plan.Sum{}, fmt.Errorf("plan: a count sum is never split into digits")
	case s.Digits < 2 || s.Digits > plan.MaxDigits || s.Digit >= s.Digits || s.Bits < 1 || s.Bits > 62 || (s.Digits-1)*s.Bits >= 128:
		return plan.Sum{}, fmt.Errorf("plan: sum %q of %s.%s: digit %d of %d in base 2^%d is not a valid split (2 to %d digits of 1 to 62 bits)",
			s.Kind, s.Table, s.Column, s.Digit, s.Digits, s.Bits, plan.MaxDigits)
	}
	return plan.Sum{Kind: plan.SumKind(s.Kind), Table: s.Table, Column: s.Column, Clip: s.Clip,
		Digit: int(s.Digit), Digits: int(s.Digits), Bits: int(s.Bits)}, nil
}

// WireTerm is a term as received: its sign and each table's local
// condition, still a message: only that table's party decodes it,
// against its own schema (LocalFromProto).
type WireTerm struct {
	Sign   int
	Locals []*pb.Local
}

// WirePlan is a plan received from the network: the shape of the circuit.
type WirePlan struct {
	Tables    []string
	Canonical string
	Terms     []WireTerm
	GroupBy   []plan.GroupCol
	Sums      []plan.Sum
	// SumMax[i] is the declared maximum of Sums[i]'s column (0 for the
	// count, and in plans made without DeclareBounds).
	SumMax []int64
	Proto  *pb.Plan
}

// PlanFromProto checks the shape of a plan received from the network.
func PlanFromProto(p *pb.Plan) (*WirePlan, error) {
	if p == nil || len(p.Tables) == 0 || len(p.Sums) == 0 || len(p.Terms) == 0 {
		return nil, fmt.Errorf("plan: missing tables, sums or terms")
	}
	w := &WirePlan{Tables: p.Tables, Canonical: p.Canonical, Proto: p}
	seen := map[string]bool{}
	for _, t := range p.Tables {
		if t == "" || seen[t] {
			return nil, fmt.Errorf("plan: table %q empty or repeated", t)
		}
		seen[t] = true
	}
	if len(p.Terms) > plan.MaxTerms {
		return nil, fmt.Errorf("plan: %d terms, at most %d", len(p.Terms), plan.MaxTerms)
	}
	for i, t := range p.Terms {
		if t.Sign != 1 && t.Sign != -1 {
			return nil, fmt.Errorf("plan: term %d has sign %d", i, t.Sign)
		}
		if len(t.Locals) != len(p.Tables) {
			return nil, fmt.Errorf("plan: term %d has %d local conditions for %d tables", i, len(t.Locals), len(p.Tables))
		}
		for j, l := range t.Locals {
			if l.GetTable() != p.Tables[j] {
				return nil, fmt.Errorf("plan: term %d: local condition %d is for table %q, want %q", i, j, l.GetTable(), p.Tables[j])
			}
		}
		w.Terms = append(w.Terms, WireTerm{Sign: int(t.Sign), Locals: t.Locals})
	}
	groups := 1
	for i, g := range p.GroupBy {
		if !seen[g.Table] || g.Column == "" || len(g.Categories) == 0 {
			return nil, fmt.Errorf("plan: group column %d is not a column of a joined table with categories", i)
		}
		groups *= len(g.Categories)
		if groups > plan.MaxGroups {
			return nil, fmt.Errorf("plan: more than %d groups", plan.MaxGroups)
		}
		w.GroupBy = append(w.GroupBy, plan.GroupCol{Table: g.Table, Column: g.Column, Categories: g.Categories, Name: g.Name})
	}
	for _, s := range p.Sums {
		sum, err := SumFromProto(s)
		if err != nil {
			return nil, err
		}
		if sum.Table != "" && !seen[sum.Table] {
			return nil, fmt.Errorf("plan: sum over %s, which is not joined", sum.Table)
		}
		if s.Max < 0 || (sum.Kind == plan.SumCount && s.Max != 0) {
			return nil, fmt.Errorf("plan: sum %s declares max %d", sum.Kind, s.Max)
		}
		w.Sums = append(w.Sums, sum)
		w.SumMax = append(w.SumMax, s.Max)
	}
	return w, nil
}

// Compile is the one way a plan message is made from SQL: plan.Parse
// against the consortium schema, plan.Fit at the limits (the plaintext
// modulus and the epoch's entities: which sums are split into digits, or
// plan.ErrOverflow), PlanToProto, the declared bounds, and the schemas of
// the joined tables. Parties run it again on the committed canonical SQL,
// the plan's own schemas and their own limits (Recompiled).
func Compile(sql string, cs schema.Consortium, l plan.Limits) (*plan.Plan, *pb.Plan, error) {
	p, err := plan.Parse(sql, cs)
	if err != nil {
		return nil, nil, err
	}
	if err := p.Fit(l, cs); err != nil {
		return nil, nil, err
	}
	pp, err := PlanToProto(p)
	if err != nil {
		return nil, nil, err
	}
	if err := DeclareBounds(pp, cs); err != nil {
		return nil, nil, err
	}
	for _, name := range p.Tables {
		t, ok := cs.Table(name)
		if !ok {
			return nil, nil, fmt.Errorf("plan: table %s is not in the consortium", name)
		}
		pp.Schema = append(pp.Schema, TableToProto(t))
	}
	return p, pp, nil
}

// ErrNotCompiled is wrapped when a plan message is not the compilation of
// its own canonical SQL against its own schemas.
var ErrNotCompiled = errors.New("the plan is not the compilation of its canonical SQL")

// Recompiled checks that a plan received from the network is exactly what
// Compile makes of its canonical SQL against the schemas it carries and
// the limits l, and that the schema it carries for own's table (if
// joined) is own: a party runs it before it works or decrypts, with its
// own parameter set's modulus and the entities of the epoch the QUERY
// entry commits (its own alignment), so the digit split of every sum is
// the one those give. Repeated terms or groups, altered sums, digit
// splits, conditions or bounds are refused.
func Recompiled(p *pb.Plan, own schema.Table, l plan.Limits) error {
	if p == nil || len(p.Schema) == 0 {
		return fmt.Errorf("%w: the plan carries no schema", ErrNotCompiled)
	}
	var cs schema.Consortium
	for i, m := range p.Schema {
		t, err := TableFromProto(m)
		if err != nil {
			return fmt.Errorf("%w: schema %d: %v", ErrNotCompiled, i, err)
		}
		if t.Name == own.Name && !proto.Equal(m, TableToProto(own)) {
			return fmt.Errorf("%w: the plan's schema of table %s is not this party's", ErrNotCompiled, own.Name)
		}
		cs.Tables = append(cs.Tables, t)
	}
	_, again, err := Compile(p.Canonical, cs, l)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotCompiled, err)
	}
	if !proto.Equal(again, p) {
		return fmt.Errorf("%w: the terms, groups, sums, digit splits or bounds differ from what the SQL compiles to at %d entities and modulus %d%s",
			ErrNotCompiled, l.Entities, l.Modulus, splitDiff(p.Sums, again.Sums))
	}
	return nil
}

// DeclareBounds sets each column sum's declared maximum in a plan message
// from the consortium schema (before the plan is hashed and committed):
// the parties calibrate noise to it, and the party holding the column
// checks it (CheckOwnBounds).
func DeclareBounds(p *pb.Plan, cs schema.Consortium) error {
	for _, s := range p.Sums {
		if s.Table == "" {
			continue
		}
		col, ok := columnOf(cs, s.Table, s.Column)
		if !ok {
			return fmt.Errorf("plan: sum over %s.%s, which is not an int column of the consortium", s.Table, s.Column)
		}
		s.Max = col.Max
	}
	return nil
}

// CheckOwnBounds checks, for the party holding table t, that every sum
// over one of t's columns declares the column's maximum in t's schema
// (or none, in a plan made without DeclareBounds). A coordinator that
// declared a smaller maximum would have every party add too little noise.
func (w *WirePlan) CheckOwnBounds(t schema.Table) error {
	for i, s := range w.Sums {
		if s.Table != t.Name || w.SumMax[i] == 0 {
			continue
		}
		col, ok := t.Column(s.Column)
		if !ok || col.Max != w.SumMax[i] {
			return fmt.Errorf("plan: sum %s over %s.%s declares max %d, this party's schema says %d", s.Kind, s.Table, s.Column, w.SumMax[i], col.Max)
		}
	}
	return nil
}

func columnOf(cs schema.Consortium, table, column string) (schema.Column, bool) {
	t, ok := cs.Table(table)
	if !ok {
		return schema.Column{}, false
	}
	c, ok := t.Column(column)
	return c, ok && c.Kind == schema.KindInt
}

// GroupSizes lists the number of categories of each GROUP BY column.
func (w *WirePlan) GroupSizes() []int {
	out := make([]int, len(w.GroupBy))
	for i, g := range w.GroupBy {
		out[i] = len(g.Categories)
	}
	return out
}

// Groups is the number of groups.
func (w *WirePlan) Groups() int {
	n := 1
	for _, s := range w.GroupSizes() {
		n *= s
	}
	return n
}

// TableIndex is the position of a table in Tables, or -1.
func (w *WirePlan) TableIndex(t string) int {
	for i, x := range w.Tables {
		if x == t {
			return i
		}
	}
	return -1
}

// The comparison operators, arithmetic operators and presence modes, in
// the order of their protobuf enum values (index i is enum value i+1).
func compareOps() []plan.Op {
	return []plan.Op{plan.OpEq, plan.OpNe, plan.OpLt, plan.OpLe, plan.OpGt, plan.OpGe}
}

func arithOps() []byte { return []byte{'+', '-', '*'} }

func presences() []plan.Presence {
	return []plan.Presence{plan.PresenceRequired, plan.PresenceAbsent, plan.PresenceAny}
}

// enumOf returns the protobuf enum value of x (0, the refused
// UNSPECIFIED, when x is unknown).
func enumOf[T comparable](table []T, x T) int32 {
	for i, y := range table {
		if y == x {
			return int32(i + 1)
		}
	}
	return 0
}

// fromEnum returns the value of protobuf enum value v, false for
// UNSPECIFIED or a value this version does not know.
func fromEnum[T any](table []T, v int32) (T, bool) {
	if v < 1 || int(v) > len(table) {
		var zero T
		return zero, false
	}
	return table[v-1], true
}

func tooDeep() error {
	return fmt.Errorf("%w: formula deeper than %d nodes", plan.ErrLocal, plan.MaxLocalDepth)
}

// LocalToProto converts a local condition. Every atom must be on the
// Local's table (the message names the table once). A malformed Local
// (unknown presence, node or operator, an empty AND, OR or IN, a
// condition with a presence other than required, an atom on another
// table, deeper than plan.MaxLocalDepth) is an error wrapping
// plan.ErrLocal.
func LocalToProto(l plan.Local) (*pb.Local, error) {
	p := pb.Presence(enumOf(presences(), l.Presence))
	if p == pb.Presence_PRESENCE_UNSPECIFIED {
		return nil, fmt.Errorf("%w: unknown presence %d", plan.ErrLocal, int(l.Presence))
	}
	out := &pb.Local{Table: l.Table, Presence: p}
	if l.Expr == nil {
		return out, nil
	}
	if l.Presence != plan.PresenceRequired {
		return nil, fmt.Errorf("%w: a condition with presence %s (only a required row has conditions)", plan.ErrLocal, l.Presence)
	}
	var err error
	out.Cond, err = condToProto(l.Expr, l.Table, 1)
	return out, err
}

func condToProto(e plan.Expr, table string, depth int) (*pb.Cond, error) {
	if depth > plan.MaxLocalDepth {
		return nil, tooDeep()
	}
	list := func(terms []plan.Expr, name string) (*pb.Junction, error) {
		if len(terms) == 0 {
			return nil, fmt.Errorf("%w: empty %s", plan.ErrLocal, name)
		}
		j := &pb.Junction{Terms: make([]*pb.Cond, len(terms))}
		for i, t := range terms {
			var err error
			if j.Terms[i], err = condToProto(t, table, depth+1); err != nil {
				return nil, err
			}
		}
		return j, nil
	}
	atom := func(t string) error {
		if t != table {
			return fmt.Errorf("%w: a comparison on table %q in a condition for table %q", plan.ErrLocal, t, table)
		}
		return nil
	}
	switch e := e.(type) {
	case plan.And:
		j, err := list(e.Terms, "AND")
		return &pb.Cond{Node: &pb.Cond_And{And: j}}, err
	case plan.Or:
		j, err := list(e.Terms, "OR")
		return &pb.Cond{Node: &pb.Cond_Or{Or: j}}, err
	case plan.Not:
		c, err := condToProto(e.Term, table, depth+1)
		return &pb.Cond{Node: &pb.Cond_Not{Not: c}}, err
	case plan.Cmp:
		if err := atom(e.Table); err != nil {
			return nil, err
		}
		op := pb.CompareOp(enumOf(compareOps(), e.Op))
		if op == pb.CompareOp_COMPARE_OP_UNSPECIFIED {
			return nil, fmt.Errorf("%w: unknown comparison operator %q", plan.ErrLocal, e.Op)
		}
		l, err := arithToProto(e.Left, depth+1)
		if err != nil {
			return nil, err
		}
		r, err := arithToProto(e.Right, depth+1)
		if err != nil {
			return nil, err
		}
		return &pb.Cond{Node: &pb.Cond_Cmp{Cmp: &pb.Compare{Op: op, Left: l, Right: r}}}, nil
	case plan.In:
		if err := atom(e.Table); err != nil {
			return nil, err
		}
		if len(e.Values) == 0 {
			return nil, fmt.Errorf("%w: empty IN list", plan.ErrLocal)
		}
		a, err := arithToProto(e.Arg, depth+1)
		if err != nil {
			return nil, err
		}
		return &pb.Cond{Node: &pb.Cond_In{In: &pb.InList{Arg: a, Values: e.Values, Negated: e.Negated}}}, nil
	case nil:
		return nil, fmt.Errorf("%w: missing formula node", plan.ErrLocal)
	}
	return nil, fmt.Errorf("%w: unknown formula node %T", plan.ErrLocal, e)
}

func arithToProto(a plan.Arith, depth int) (*pb.Arith, error) {
	if depth > plan.MaxLocalDepth {
		return nil, tooDeep()
	}
	switch a := a.(type) {
	case plan.ACol:
		if a.Column == "" {
			return nil, fmt.Errorf("%w: empty column name", plan.ErrLocal)
		}
		return &pb.Arith{Node: &pb.Arith_Col{Col: a.Column}}, nil
	case plan.AConst:
		return &pb.Arith{Node: &pb.Arith_Constant{Constant: a.V}}, nil
	case plan.ABin:
		op := pb.ArithOp(enumOf(arithOps(), a.Op))
		if op == pb.ArithOp_ARITH_OP_UNSPECIFIED {
			return nil, fmt.Errorf("%w: unknown arithmetic operator %q", plan.ErrLocal, a.Op)
		}
		l, err := arithToProto(a.L, depth+1)
		if err != nil {
			return nil, err
		}
		r, err := arithToProto(a.R, depth+1)
		if err != nil {
			return nil, err
		}
		return &pb.Arith{Node: &pb.Arith_Bin{Bin: &pb.BinArith{Op: op, Left: l, Right: r}}}, nil
	case nil:
		return nil, fmt.Errorf("%w: missing arithmetic node", plan.ErrLocal)
	}
	return nil, fmt.Errorf("%w: unknown arithmetic node %T", plan.ErrLocal, a)
}

// LocalFromProto decodes a local condition received from the network for
// table t, the receiving party's own table. It is defensive: the message
// must be at most plan.MaxLocalBytes encoded and plan.MaxLocalDepth deep,
// carry no unknown fields, set exactly one field of every node, use only
// known presence modes and operators, have no empty AND, OR or IN, a
// condition only with a required row, and pass plan.CheckLocal against t
// (t's table, t's data columns used as their kinds allow). Any violation
// is an error wrapping plan.ErrLocal.
func LocalFromProto(m *pb.Local, t schema.Table) (plan.Local, error) {
	if m == nil {
		return plan.Local{}, fmt.Errorf("%w: missing local condition", plan.ErrLocal)
	}
	if n := proto.Size(m); n > plan.MaxLocalBytes {
		return plan.Local{}, fmt.Errorf("%w: %d bytes, the limit is %d", plan.ErrLocal, n, plan.MaxLocalBytes)
	}
	if err := known(m); err != nil {
		return plan.Local{}, err
	}
	presence, ok := fromEnum(presences(), int32(m.Presence))
	l := plan.Local{Table: m.Table, Presence: presence}
	if !ok {
		return plan.Local{}, fmt.Errorf("%w: unknown presence %d", plan.ErrLocal, int32(m.Presence))
	}
	if m.Cond != nil {
		if l.Presence != plan.PresenceRequired {
			return plan.Local{}, fmt.Errorf("%w: a condition with presence %s (only a required row has conditions)", plan.ErrLocal, l.Presence)
		}
		var err error
		if l.Expr, err = condFromProto(m.Cond, m.Table, 1); err != nil {
			return plan.Local{}, err
		}
	}
	if err := plan.CheckLocal(l, t); err != nil {
		return plan.Local{}, err
	}
	return l, nil
}

// known refuses a message with fields this version does not know.
func known(m proto.Message) error {
	if len(m.ProtoReflect().GetUnknown()) > 0 {
		return fmt.Errorf("%w: unknown fields in %s", plan.ErrLocal, m.ProtoReflect().Descriptor().Name())
	}
	return nil
}

func condFromProto(c *pb.Cond, table string, depth int) (plan.Expr, error) {
	if depth > plan.MaxLocalDepth {
		return nil, tooDeep()
	}
	if c == nil {
		return nil, fmt.Errorf("%w: missing formula node", plan.ErrLocal)
	}
	if err := known(c); err != nil {
		return nil, err
	}
	list := func(j *pb.Junction, name string) ([]plan.Expr, error) {
		if len(j.GetTerms()) == 0 {
			return nil, fmt.Errorf("%w: empty %s", plan.ErrLocal, name)
		}
		if err := known(j); err != nil {
			return nil, err
		}
		out := make([]plan.Expr, len(j.Terms))
		for i, x := range j.Terms {
			var err error
			if out[i], err = condFromProto(x, table, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	switch n := c.Node.(type) {
	case *pb.Cond_And:
		terms, err := list(n.And, "AND")
		return plan.And{Terms: terms}, err
	case *pb.Cond_Or:
		terms, err := list(n.Or, "OR")
		return plan.Or{Terms: terms}, err
	case *pb.Cond_Not:
		t, err := condFromProto(n.Not, table, depth+1)
		return plan.Not{Term: t}, err
	case *pb.Cond_Cmp:
		if n.Cmp == nil {
			return nil, fmt.Errorf("%w: missing comparison", plan.ErrLocal)
		}
		if err := known(n.Cmp); err != nil {
			return nil, err
		}
		op, ok := fromEnum(compareOps(), int32(n.Cmp.Op))
		if !ok {
			return nil, fmt.Errorf("%w: unknown comparison operator %d", plan.ErrLocal, int32(n.Cmp.Op))
		}
		l, err := arithFromProto(n.Cmp.Left, depth+1)
		if err != nil {
			return nil, err
		}
		r, err := arithFromProto(n.Cmp.Right, depth+1)
		if err != nil {
			return nil, err
		}
		return plan.Cmp{Table: table, Left: l, Right: r, Op: op}, nil
	case *pb.Cond_In:
		if n.In == nil {
			return nil, fmt.Errorf("%w: missing IN list", plan.ErrLocal)
		}
		if err := known(n.In); err != nil {
			return nil, err
		}
		if len(n.In.Values) == 0 {
			return nil, fmt.Errorf("%w: empty IN list", plan.ErrLocal)
		}
		a, err := arithFromProto(n.In.Arg, depth+1)
		if err != nil {
			return nil, err
		}
		return plan.In{Table: table, Arg: a, Values: n.In.Values, Negated: n.In.Negated}, nil
	}
	return nil, fmt.Errorf("%w: a formula node with none of and, or, not, cmp, in set", plan.ErrLocal)
}

func arithFromProto(a *pb.Arith, depth int) (plan.Arith, error) {
	if depth > plan.MaxLocalDepth {
		return nil, tooDeep()
	}
	if a == nil {
		return nil, fmt.Errorf("%w: missing arithmetic node", plan.ErrLocal)
	}
	if err := known(a); err != nil {
		return nil, err
	}
	switch n := a.Node.(type) {
	case *pb.Arith_Col:
		return plan.ACol{Column: n.Col}, nil
	case *pb.Arith_Constant:
		return plan.AConst{V: n.Constant}, nil
	case *pb.Arith_Bin:
		if n.Bin == nil {
			return nil, fmt.Errorf("%w: missing arithmetic operation", plan.ErrLocal)
		}
		if err := known(n.Bin); err != nil {
			return nil, err
		}
		op, ok := fromEnum(arithOps(), int32(n.Bin.Op))
		if !ok {
			return nil, fmt.Errorf("%w: unknown arithmetic operator %d", plan.ErrLocal, int32(n.Bin.Op))
		}
		l, err := arithFromProto(n.Bin.Left, depth+1)
		if err != nil {
			return nil, err
		}
		r, err := arithFromProto(n.Bin.Right, depth+1)
		if err != nil {
			return nil, err
		}
		return plan.ABin{Op: op, L: l, R: r}, nil
	}
	return nil, fmt.Errorf("%w: an arithmetic node with none of col, constant, bin set", plan.ErrLocal)
}

// ProvenanceToProto converts an alignment provenance.
func ProvenanceToProto(c align.Provenance) *pb.AlignProvenance {
	out := &pb.AlignProvenance{EpochId: c.Epoch, Origin: c.Origin, Size: c.Size}
	for _, h := range c.Hops {
		out.Hops = append(out.Hops, &pb.AlignHop{Signer: h.Signer, ElemsHash: append([]byte(nil), h.ElemsHash[:]...), Signature: h.Sig})
	}
	return out
}

// ProvenanceFromProto converts an alignment chain received from the network.
func ProvenanceFromProto(p *pb.AlignProvenance) (align.Provenance, error) {
	if p == nil {
		return align.Provenance{}, fmt.Errorf("alignment list without its provenance")
	}
	c := align.Provenance{Epoch: p.EpochId, Origin: p.Origin, Size: p.Size}
	for i, h := range p.Hops {
		if len(h.ElemsHash) != 32 {
			return align.Provenance{}, fmt.Errorf("alignment chain hop %d: list hash is %d bytes, want 32", i, len(h.ElemsHash))
		}
		var eh [32]byte
		copy(eh[:], h.ElemsHash)
		c.Hops = append(c.Hops, align.Hop{Signer: h.Signer, ElemsHash: eh, Sig: h.Signature})
	}
	return c, nil
}

// PlanHash is the hash of a plan as committed on the ledger: SHA-256 of
// the canonical encoding of the Plan message, defined as its
// deterministic protobuf encoding (proto.MarshalOptions{Deterministic:
// true}). The coordinator hashes the message it sends, a party the
// message it receives; PlanToProto makes equal plans equal messages.
func PlanHash(p *pb.Plan) ([32]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// EpochNumber maps an epoch id ("e-" and 16 hex digits) to the number the
// ledger records.
func EpochNumber(id string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(id, "e-"), 16, 64)
	if err != nil || !strings.HasPrefix(id, "e-") {
		return 0, fmt.Errorf("epoch id %q is not e-<hex>", id)
	}
	return n, nil
}

// splitDiff names the first difference between the sums a plan carries
// and the ones it compiles to, for Recompiled's message ("" if none).
func splitDiff(got, want []*pb.SumSpec) string {
	if len(got) != len(want) {
		return fmt.Sprintf(" (%d sums, want %d)", len(got), len(want))
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			g, _ := SumFromProto(got[i])
			w, _ := SumFromProto(want[i])
			return fmt.Sprintf(" (sum %d is %s, want %s)", i, g.Label(), w.Label())
		}
	}
	return ""
}
