package wire

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
)

// corpus returns the planner's corpus of valid queries
// (plan/testdata/corpus.sql), written against gen.Consortium.
func corpus(t testing.TB) []string {
	data, err := os.ReadFile(filepath.Join("..", "..", "plan", "testdata", "corpus.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, block := range strings.Split(string(data), "\n\n") {
		lines := strings.Split(strings.Trim(block, "\n"), "\n")
		if strings.HasPrefix(lines[0], "-- name: ") {
			out = append(out, strings.Join(lines[1:], "\n"))
		}
	}
	if len(out) == 0 {
		t.Fatal("empty corpus")
	}
	return out
}

func mustParse(t testing.TB, sql string, cs schema.Consortium) *plan.Plan {
	t.Helper()
	p, err := plan.Parse(sql, cs)
	if err != nil {
		t.Fatalf("Parse(%q): %v", sql, err)
	}
	return p
}

// TestPlanRoundTrip checks that every corpus plan converts to a message
// PlanFromProto accepts, whose every local each party decodes back to
// the plan's own Local.
func TestPlanRoundTrip(t *testing.T) {
	cs := gen.Consortium()
	for _, sql := range corpus(t) {
		p := mustParse(t, sql, cs)
		m, err := PlanToProto(p)
		if err != nil {
			t.Fatalf("PlanToProto(%q): %v", sql, err)
		}
		w, err := PlanFromProto(m)
		if err != nil {
			t.Fatalf("PlanFromProto(%q): %v", sql, err)
		}
		for k, term := range w.Terms {
			for i, lm := range term.Locals {
				tb, _ := cs.Table(w.Tables[i])
				l, err := LocalFromProto(lm, tb)
				if err != nil {
					t.Fatalf("%q term %d table %s: %v", sql, k, tb.Name, err)
				}
				if !reflect.DeepEqual(l, p.Terms[k].Locals[i]) {
					t.Fatalf("%q term %d: decoded %+v, want %+v", sql, k, l, p.Terms[k].Locals[i])
				}
			}
		}
	}
}

// TestPlanHashSpellings checks that spellings of one query hash equal and
// that different queries do not.
func TestPlanHashSpellings(t *testing.T) {
	cs := gen.Consortium()
	hash := func(sql string) [32]byte {
		m, err := PlanToProto(mustParse(t, sql, cs))
		if err != nil {
			t.Fatal(err)
		}
		h, err := PlanHash(m)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a := hash("SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE (bank.balance > 7 OR NOT bank.district <> 'D02') AND NOT (telecom.calls_30d <= 5 AND bank.balance < 3)")
	b := hash("select count(*) from telecom t join bank b using (person_id) where not (b.balance < 3 and 5 >= t.calls_30d) and (b.district = 'D02' or 7 < b.balance or b.balance > 7)")
	c := hash("SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE (bank.balance > 8 OR bank.district = 'D02') AND NOT (telecom.calls_30d <= 5 AND bank.balance < 3)")
	if a != b {
		t.Error("two spellings of one query hash differently")
	}
	if a == c {
		t.Error("two queries hash equal")
	}
}

// bankLocal is a valid encoded local condition for the bank table of
// gen.Consortium, for tests to break.
func bankLocal() *pb.Local {
	col := func(c string) *pb.Arith { return &pb.Arith{Node: &pb.Arith_Col{Col: c}} }
	k := func(v int64) *pb.Arith { return &pb.Arith{Node: &pb.Arith_Constant{Constant: v}} }
	return &pb.Local{Table: "bank", Presence: pb.Presence_PRESENCE_REQUIRED, Cond: &pb.Cond{Node: &pb.Cond_And{And: &pb.Junction{Terms: []*pb.Cond{
		{Node: &pb.Cond_Cmp{Cmp: &pb.Compare{Op: pb.CompareOp_COMPARE_OP_LT,
			Left:  &pb.Arith{Node: &pb.Arith_Bin{Bin: &pb.BinArith{Op: pb.ArithOp_ARITH_OP_MUL, Left: k(3), Right: col("cash_deposits_30d")}}},
			Right: col("balance")}}},
		{Node: &pb.Cond_In{In: &pb.InList{Arg: col("district"), Values: []int64{0, 9}, Negated: true}}},
		{Node: &pb.Cond_Not{Not: &pb.Cond{Node: &pb.Cond_Or{Or: &pb.Junction{Terms: []*pb.Cond{
			{Node: &pb.Cond_Cmp{Cmp: &pb.Compare{Op: pb.CompareOp_COMPARE_OP_EQ, Left: col("district"), Right: k(0)}}},
			{Node: &pb.Cond_Cmp{Cmp: &pb.Compare{Op: pb.CompareOp_COMPARE_OP_GE, Left: col("balance"), Right: k(-5)}}},
		}}}}}},
	}}}}}
}

func bankTable(t testing.TB) schema.Table {
	tb, ok := gen.Consortium().Table("bank")
	if !ok {
		t.Fatal("no bank table")
	}
	return tb
}

func TestLocalFromProto(t *testing.T) {
	tb := bankTable(t)
	l, err := LocalFromProto(bankLocal(), tb)
	if err != nil {
		t.Fatal(err)
	}
	bal, dist := plan.ACol{Column: "balance"}, plan.ACol{Column: "district"}
	want := plan.Local{Table: "bank", Presence: plan.PresenceRequired, Expr: plan.And{Terms: []plan.Expr{
		plan.Cmp{Table: "bank", Left: plan.ABin{Op: '*', L: plan.AConst{V: 3}, R: plan.ACol{Column: "cash_deposits_30d"}}, Right: bal, Op: plan.OpLt},
		plan.In{Table: "bank", Arg: dist, Values: []int64{0, 9}, Negated: true},
		plan.Not{Term: plan.Or{Terms: []plan.Expr{
			plan.Cmp{Table: "bank", Left: dist, Right: plan.AConst{V: 0}, Op: plan.OpEq},
			plan.Cmp{Table: "bank", Left: bal, Right: plan.AConst{V: -5}, Op: plan.OpGe},
		}}},
	}}}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("decoded %+v, want %+v", l, want)
	}
	again, err := LocalToProto(l)
	if err != nil || !proto.Equal(again, bankLocal()) {
		t.Fatalf("re-encoded %v, %v", again, err)
	}
	for _, p := range []plan.Presence{plan.PresenceAbsent, plan.PresenceAny} {
		m, err := LocalToProto(plan.Local{Table: "bank", Presence: p})
		if err != nil {
			t.Fatal(err)
		}
		if back, err := LocalFromProto(m, tb); err != nil || back.Presence != p || back.Expr != nil {
			t.Errorf("presence %s: %+v, %v", p, back, err)
		}
	}
}

// deepNot nests n NOTs around a comparison (depth n+2 with its operands).
func deepNot(n int) *pb.Cond {
	c := &pb.Cond{Node: &pb.Cond_Cmp{Cmp: &pb.Compare{Op: pb.CompareOp_COMPARE_OP_GT,
		Left: &pb.Arith{Node: &pb.Arith_Col{Col: "balance"}}, Right: &pb.Arith{Node: &pb.Arith_Constant{Constant: 1}}}}}
	for range n {
		c = &pb.Cond{Node: &pb.Cond_Not{Not: c}}
	}
	return c
}

func TestLocalFromProtoRefuses(t *testing.T) {
	tb := bankTable(t)
	col := func(c string) *pb.Arith { return &pb.Arith{Node: &pb.Arith_Col{Col: c}} }
	k := func(v int64) *pb.Arith { return &pb.Arith{Node: &pb.Arith_Constant{Constant: v}} }
	cmp := func(op pb.CompareOp, l, r *pb.Arith) *pb.Cond {
		return &pb.Cond{Node: &pb.Cond_Cmp{Cmp: &pb.Compare{Op: op, Left: l, Right: r}}}
	}
	req := func(c *pb.Cond) *pb.Local {
		return &pb.Local{Table: "bank", Presence: pb.Presence_PRESENCE_REQUIRED, Cond: c}
	}
	gt := pb.CompareOp_COMPARE_OP_GT
	withUnknown := bankLocal()
	inner := withUnknown.Cond.GetAnd().Terms[1].GetIn()
	inner.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 1))
	tests := []struct {
		name string
		m    *pb.Local
		part string
	}{
		{"nil", nil, "missing local condition"},
		{"unspecified presence", &pb.Local{Table: "bank"}, "unknown presence 0"},
		{"unknown presence", &pb.Local{Table: "bank", Presence: 7}, "unknown presence 7"},
		{"wrong table", &pb.Local{Table: "telecom", Presence: pb.Presence_PRESENCE_ANY}, `for table "telecom" sent to table "bank"`},
		{"cond when absent", &pb.Local{Table: "bank", Presence: pb.Presence_PRESENCE_ABSENT, Cond: deepNot(0)}, "presence absent"},
		{"cond when any", &pb.Local{Table: "bank", Presence: pb.Presence_PRESENCE_ANY, Cond: deepNot(0)}, "presence any"},
		{"no node", req(&pb.Cond{}), "none of and, or, not, cmp, in"},
		{"nil not", req(&pb.Cond{Node: &pb.Cond_Not{}}), "missing formula node"},
		{"empty and", req(&pb.Cond{Node: &pb.Cond_And{And: &pb.Junction{}}}), "empty AND"},
		{"nil and", req(&pb.Cond{Node: &pb.Cond_And{}}), "empty AND"},
		{"empty or", req(&pb.Cond{Node: &pb.Cond_Or{Or: &pb.Junction{}}}), "empty OR"},
		{"nil term", req(&pb.Cond{Node: &pb.Cond_Or{Or: &pb.Junction{Terms: []*pb.Cond{nil}}}}), "missing formula node"},
		{"nil cmp", req(&pb.Cond{Node: &pb.Cond_Cmp{}}), "missing comparison"},
		{"unspecified op", req(cmp(0, col("balance"), k(1))), "unknown comparison operator 0"},
		{"unknown op", req(cmp(42, col("balance"), k(1))), "unknown comparison operator 42"},
		{"nil operand", req(cmp(gt, nil, k(1))), "missing arithmetic node"},
		{"empty operand", req(cmp(gt, &pb.Arith{}, k(1))), "none of col, constant, bin"},
		{"nil bin", req(cmp(gt, &pb.Arith{Node: &pb.Arith_Bin{}}, k(1))), "missing arithmetic operation"},
		{"unknown arith op", req(cmp(gt, &pb.Arith{Node: &pb.Arith_Bin{Bin: &pb.BinArith{Op: 9, Left: col("balance"), Right: k(2)}}}, k(1))), "unknown arithmetic operator 9"},
		{"unknown column", req(cmp(gt, col("cash"), k(1))), `no data column "cash"`},
		{"empty column", req(cmp(gt, col(""), k(1))), `no data column ""`},
		{"person key", req(cmp(gt, col("person_id"), k(1))), `no data column "person_id"`},
		{"category order", req(cmp(pb.CompareOp_COMPARE_OP_LT, col("district"), k(1))), "operator < on category column district"},
		{"category index", req(cmp(pb.CompareOp_COMPARE_OP_EQ, col("district"), k(10))), "category index 10 of district is outside 0..9"},
		{"category negative", req(&pb.Cond{Node: &pb.Cond_In{In: &pb.InList{Arg: col("district"), Values: []int64{-1}}}}), "category index -1"},
		{"category vs column", req(cmp(pb.CompareOp_COMPARE_OP_EQ, col("district"), col("balance"))), "other than a category index"},
		{"category on the right", req(cmp(pb.CompareOp_COMPARE_OP_EQ, k(1), col("district"))), "category column district used as an integer"},
		{"category arithmetic", req(cmp(gt, &pb.Arith{Node: &pb.Arith_Bin{Bin: &pb.BinArith{Op: pb.ArithOp_ARITH_OP_ADD, Left: col("district"), Right: k(1)}}}, k(1))), "category column district used as an integer"},
		{"empty in", req(&pb.Cond{Node: &pb.Cond_In{In: &pb.InList{Arg: col("balance")}}}), "empty IN list"},
		{"nil in", req(&pb.Cond{Node: &pb.Cond_In{}}), "missing IN list"},
		{"too deep", req(deepNot(plan.MaxLocalDepth - 1)), "deeper than"},
		{"far too deep", req(deepNot(5000)), "deeper than"},
		{"unknown field", withUnknown, "unknown fields in InList"},
		{"too large", req(&pb.Cond{Node: &pb.Cond_In{In: &pb.InList{Arg: col("balance"), Values: make([]int64, plan.MaxLocalBytes)}}}), "the limit is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := LocalFromProto(tt.m, tb)
			if !errors.Is(err, plan.ErrLocal) {
				t.Fatalf("LocalFromProto = %+v, %v; want ErrLocal", l, err)
			}
			if !strings.Contains(err.Error(), tt.part) {
				t.Errorf("error %q does not contain %q", err, tt.part)
			}
		})
	}
	if _, err := LocalFromProto(req(deepNot(plan.MaxLocalDepth-2)), tb); err != nil {
		t.Errorf("depth %d: %v", plan.MaxLocalDepth, err)
	}
}

func TestLocalToProtoRefuses(t *testing.T) {
	gt := plan.Cmp{Table: "bank", Left: plan.ACol{Column: "balance"}, Right: plan.AConst{V: 1}, Op: plan.OpGt}
	deep := plan.Expr(gt)
	for range plan.MaxLocalDepth - 1 {
		deep = plan.Not{Term: deep}
	}
	tests := []struct {
		name string
		l    plan.Local
	}{
		{"unknown presence", plan.Local{Table: "bank", Presence: 7}},
		{"expr when absent", plan.Local{Table: "bank", Presence: plan.PresenceAbsent, Expr: gt}},
		{"empty and", plan.Local{Table: "bank", Expr: plan.And{}}},
		{"empty in", plan.Local{Table: "bank", Expr: plan.In{Table: "bank", Arg: plan.ACol{Column: "balance"}}}},
		{"bad op", plan.Local{Table: "bank", Expr: plan.Cmp{Table: "bank", Left: plan.ACol{Column: "balance"}, Right: plan.AConst{V: 1}, Op: "<>"}}},
		{"bad arith op", plan.Local{Table: "bank", Expr: plan.Cmp{Table: "bank", Left: plan.ABin{Op: '/', L: plan.ACol{Column: "balance"}, R: plan.AConst{V: 1}}, Right: plan.AConst{V: 1}, Op: plan.OpGt}}},
		{"nil term", plan.Local{Table: "bank", Expr: plan.Not{}}},
		{"nil arith", plan.Local{Table: "bank", Expr: plan.Cmp{Table: "bank", Right: plan.AConst{V: 1}, Op: plan.OpGt}}},
		{"empty column", plan.Local{Table: "bank", Expr: plan.Cmp{Table: "bank", Left: plan.ACol{}, Right: plan.AConst{V: 1}, Op: plan.OpGt}}},
		{"atom on another table", plan.Local{Table: "bank", Expr: plan.Cmp{Table: "telecom", Left: plan.ACol{Column: "calls_30d"}, Right: plan.AConst{V: 1}, Op: plan.OpGt}}},
		{"too deep", plan.Local{Table: "bank", Expr: deep}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := LocalToProto(tt.l); !errors.Is(err, plan.ErrLocal) {
				t.Fatalf("LocalToProto = %v, %v; want ErrLocal", m, err)
			}
		})
	}
	p := &plan.Plan{Tables: []string{"bank"}, Terms: []plan.Term{{Sign: 1, Locals: []plan.Local{{Table: "bank", Expr: plan.And{}}}}}}
	if _, err := PlanToProto(p); !errors.Is(err, plan.ErrLocal) || !strings.Contains(err.Error(), "term 0, table bank") {
		t.Errorf("PlanToProto = %v; want ErrLocal naming the term", err)
	}
}

func TestPlanFromProtoChecksLocalTables(t *testing.T) {
	m, err := PlanToProto(mustParse(t, "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE bank.balance > 1", gen.Consortium()))
	if err != nil {
		t.Fatal(err)
	}
	m.Terms[0].Locals[0], m.Terms[0].Locals[1] = m.Terms[0].Locals[1], m.Terms[0].Locals[0]
	if _, err := PlanFromProto(m); err == nil || !strings.Contains(err.Error(), `local condition 0 is for table "bank", want "telecom"`) {
		t.Errorf("PlanFromProto = %v", err)
	}
}

// FuzzLocalFromProto checks that decoding a Local from random bytes never
// panics, that every error wraps plan.ErrLocal, that what it accepts
// re-encodes to an equal message, and that it evaluates without panics.
func FuzzLocalFromProto(f *testing.F) {
	cs := gen.Consortium()
	for _, sql := range corpus(f) {
		p := mustParse(f, sql, cs)
		for _, term := range p.Terms {
			for _, l := range term.Locals {
				m, err := LocalToProto(l)
				if err != nil {
					f.Fatal(err)
				}
				b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
	}
	b, err := proto.Marshal(bankLocal())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m pb.Local
		if err := proto.Unmarshal(b, &m); err != nil {
			return
		}
		for _, tb := range cs.Tables {
			l, err := LocalFromProto(&m, tb)
			if err != nil {
				if !errors.Is(err, plan.ErrLocal) {
					t.Fatalf("error %v does not wrap ErrLocal", err)
				}
				continue
			}
			again, err := LocalToProto(l)
			if err != nil || !proto.Equal(again, &m) {
				t.Fatalf("accepted %v re-encodes to %v, %v", &m, again, err)
			}
			if err := plan.CheckLocal(l, tb); err != nil {
				t.Fatalf("accepted %+v that CheckLocal refuses: %v", l, err)
			}
			for _, v := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64} {
				if _, err := plan.Eval(l.Expr, func(string) int64 { return v }); err != nil && !errors.Is(err, plan.ErrEval) {
					t.Fatalf("Eval error %v does not wrap ErrEval", err)
				}
			}
		}
	})
}
