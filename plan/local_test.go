package plan

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/schema"
)

func bankTable(t testing.TB) schema.Table {
	tb, ok := testConsortium().Table("bank")
	if !ok {
		t.Fatal("no bank")
	}
	return tb
}

func TestEval(t *testing.T) {
	row := map[string]int64{"a": 7, "b": -3, "big": math.MaxInt64, "small": math.MinInt64}
	get := func(c string) int64 { return row[c] }
	a, b := ACol{Column: "a"}, ACol{Column: "b"}
	k := func(v int64) AConst { return AConst{V: v} }
	tests := []struct {
		name    string
		e       Expr
		want    bool
		wantErr bool
	}{
		{name: "nil is true", e: nil, want: true},
		{name: "cmp", e: Cmp{Left: a, Right: k(7), Op: OpEq}, want: true},
		{name: "cmp columns", e: Cmp{Left: a, Right: b, Op: OpGt}, want: true},
		{name: "arithmetic", e: Cmp{Left: ABin{Op: '*', L: k(3), R: b}, Right: ABin{Op: '-', L: a, R: k(16)}, Op: OpEq}, want: true}, // -9 = -9
		{name: "and", e: And{Terms: []Expr{Cmp{Left: a, Right: k(1), Op: OpGe}, Cmp{Left: b, Right: k(0), Op: OpLt}}}, want: true},
		{name: "and false", e: And{Terms: []Expr{Cmp{Left: a, Right: k(1), Op: OpGe}, Cmp{Left: b, Right: k(0), Op: OpGt}}}, want: false},
		{name: "or", e: Or{Terms: []Expr{Cmp{Left: a, Right: k(1), Op: OpLt}, Cmp{Left: b, Right: k(-3), Op: OpLe}}}, want: true},
		{name: "not", e: Not{Term: Cmp{Left: a, Right: k(7), Op: OpNe}}, want: true},
		{name: "in", e: In{Arg: a, Values: []int64{1, 7}}, want: true},
		{name: "not in", e: In{Arg: a, Values: []int64{1, 7}, Negated: true}, want: false},
		{name: "in arithmetic", e: In{Arg: ABin{Op: '+', L: a, R: b}, Values: []int64{4}}, want: true},
		{name: "add overflow", e: Cmp{Left: ABin{Op: '+', L: ACol{Column: "big"}, R: k(1)}, Right: k(0), Op: OpGt}, wantErr: true},
		{name: "sub overflow", e: Cmp{Left: ABin{Op: '-', L: ACol{Column: "small"}, R: k(1)}, Right: k(0), Op: OpGt}, wantErr: true},
		{name: "mul overflow", e: Cmp{Left: ABin{Op: '*', L: ACol{Column: "big"}, R: k(2)}, Right: k(0), Op: OpGt}, wantErr: true},
		{name: "mul negative overflow", e: Cmp{Left: ABin{Op: '*', L: ACol{Column: "small"}, R: k(-1)}, Right: k(0), Op: OpGt}, wantErr: true},
		{name: "mul min int", e: Cmp{Left: ABin{Op: '*', L: k(math.MinInt64 / 2), R: k(2)}, Right: ACol{Column: "small"}, Op: OpEq}, want: true},
		{name: "sub to min", e: Cmp{Left: ABin{Op: '-', L: k(-1), R: ACol{Column: "big"}}, Right: ACol{Column: "small"}, Op: OpEq}, want: true},
		{name: "unknown op", e: Cmp{Left: ABin{Op: '/', L: a, R: k(1)}, Right: k(0), Op: OpGt}, wantErr: true},
		{name: "unknown comparison", e: Cmp{Left: a, Right: k(0), Op: "~"}, wantErr: true},
		{name: "empty and", e: And{}, wantErr: true},
		{name: "empty or", e: Or{}, wantErr: true},
		{name: "empty not", e: Not{}, wantErr: true},
		{name: "nil arith", e: Cmp{Left: nil, Right: k(0), Op: OpGt}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Eval(tt.e, get)
			if tt.wantErr {
				if !errors.Is(err, ErrEval) {
					t.Fatalf("err = %v, want ErrEval", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Eval = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestArithOpMatchesBigArithmetic(t *testing.T) {
	vals := []int64{0, 1, -1, 2, -2, 3, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 1 << 32, -(1 << 32), 3037000499, 3037000500, -3037000500}
	for _, op := range []byte{'+', '-', '*'} {
		for _, l := range vals {
			for _, r := range vals {
				got, ok := arithOp(op, l, r)
				bl, br := big.NewInt(l), big.NewInt(r)
				switch op {
				case '+':
					bl.Add(bl, br)
				case '-':
					bl.Sub(bl, br)
				case '*':
					bl.Mul(bl, br)
				}
				fits := bl.IsInt64()
				if ok != fits || (ok && got != bl.Int64()) {
					t.Errorf("%d %c %d = %d, %v; exact %s", l, op, r, got, ok, bl)
				}
			}
		}
	}
}

// deepNot nests n NOTs around a comparison (depth n+2 with its operands).
func deepNot(n int) Expr {
	var e Expr = Cmp{Table: "bank", Left: ACol{Column: "balance"}, Right: AConst{V: 1}, Op: OpGt}
	for range n {
		e = Not{Term: e}
	}
	return e
}

func TestCheckLocal(t *testing.T) {
	tb := bankTable(t)
	bal, dist := ACol{Column: "balance"}, ACol{Column: "district"}
	k := func(v int64) AConst { return AConst{V: v} }
	req := func(e Expr) Local { return Local{Table: "bank", Presence: PresenceRequired, Expr: e} }
	gt := Cmp{Table: "bank", Left: bal, Right: k(1), Op: OpGt}
	tests := []struct {
		name string
		l    Local
		part string // "" for accepted
	}{
		{"any", Local{Table: "bank", Presence: PresenceAny}, ""},
		{"absent", Local{Table: "bank", Presence: PresenceAbsent}, ""},
		{"required", req(nil), ""},
		{"formula", req(And{Terms: []Expr{gt, In{Table: "bank", Arg: dist, Values: []int64{0, 9}, Negated: true},
			Not{Term: Or{Terms: []Expr{gt, Cmp{Table: "bank", Left: ABin{Op: '*', L: k(3), R: ACol{Column: "cash_deposits_30d"}}, Right: bal, Op: OpLt}}}}}}), ""},
		{"depth limit", req(deepNot(MaxLocalDepth - 2)), ""},
		{"wrong table", Local{Table: "telecom", Presence: PresenceAny}, `for table "telecom" sent to table "bank"`},
		{"unknown presence", Local{Table: "bank", Presence: 7}, "unknown presence 7"},
		{"expr when absent", Local{Table: "bank", Presence: PresenceAbsent, Expr: gt}, "presence absent"},
		{"atom on another table", req(Cmp{Table: "telecom", Left: bal, Right: k(1), Op: OpGt}), `on table "telecom"`},
		{"unknown column", req(Cmp{Table: "bank", Left: ACol{Column: "cash"}, Right: k(1), Op: OpGt}), `no data column "cash"`},
		{"person key", req(Cmp{Table: "bank", Left: ACol{Column: "person_id"}, Right: k(1), Op: OpGt}), `no data column "person_id"`},
		{"unknown op", req(Cmp{Table: "bank", Left: bal, Right: k(1), Op: "<>"}), "unknown comparison operator"},
		{"unknown arith op", req(Cmp{Table: "bank", Left: ABin{Op: '/', L: bal, R: k(2)}, Right: k(1), Op: OpGt}), "unknown arithmetic operator"},
		{"empty and", req(And{}), "empty AND"},
		{"empty or", req(Or{}), "empty OR"},
		{"nil term", req(And{Terms: []Expr{nil}}), "missing formula node"},
		{"empty not", req(Not{}), "NOT without a term"},
		{"nil operand", req(Cmp{Table: "bank", Right: k(1), Op: OpGt}), "missing arithmetic node"},
		{"category order", req(Cmp{Table: "bank", Left: dist, Right: k(1), Op: OpLt}), "operator < on category column district"},
		{"category index", req(Cmp{Table: "bank", Left: dist, Right: k(10), Op: OpEq}), "category index 10 of district is outside 0..9"},
		{"category negative", req(In{Table: "bank", Arg: dist, Values: []int64{-1}}), "category index -1"},
		{"category vs column", req(Cmp{Table: "bank", Left: dist, Right: bal, Op: OpEq}), "other than a category index"},
		{"category on the right", req(Cmp{Table: "bank", Left: k(1), Right: dist, Op: OpEq}), "category column district used as an integer"},
		{"category arithmetic", req(Cmp{Table: "bank", Left: ABin{Op: '+', L: dist, R: k(1)}, Right: k(1), Op: OpGt}), "category column district used as an integer"},
		{"empty in", req(In{Table: "bank", Arg: bal}), "empty IN list"},
		{"too deep", req(deepNot(MaxLocalDepth - 1)), "deeper than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckLocal(tt.l, tb)
			if tt.part == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrLocal) {
				t.Fatalf("CheckLocal = %v; want ErrLocal", err)
			}
			if !strings.Contains(err.Error(), tt.part) {
				t.Errorf("error %q does not contain %q", err, tt.part)
			}
		})
	}
}

// TestNormalize checks the one normalizer: NOT pushed into atoms at any
// depth, double negation removed, junctions flattened, sorted and
// deduplicated, and a second pass changes nothing.
func TestNormalize(t *testing.T) {
	cs := testConsortium()
	bal := func(op Op, v int64) Cmp {
		return Cmp{Table: "bank", Left: ACol{Column: "balance"}, Right: AConst{V: v}, Op: op}
	}
	in := In{Table: "bank", Arg: ACol{Column: "district"}, Values: []int64{1, 2}}
	arith := Cmp{Table: "bank", Left: ACol{Column: "balance"}, Right: ACol{Column: "cash_deposits_30d"}, Op: OpGt}
	tests := []struct {
		name string
		in   Expr
		want string
	}{
		{"not into cmp", Not{Term: bal(OpLt, 5)}, "bank.balance >= 5"},
		{"not into in", Not{Term: in}, "bank.district NOT IN ('D02', 'D03')"},
		{"double not", Not{Term: Not{Term: Or{Terms: []Expr{arith, bal(OpEq, 1)}}}}, "bank.balance = 1 OR bank.balance > bank.cash_deposits_30d"},
		{"not deep inside", And{Terms: []Expr{Or{Terms: []Expr{Not{Term: bal(OpGt, 1)}, Not{Term: Not{Term: Not{Term: in}}}}}, arith}},
			"(bank.balance <= 1 OR bank.district NOT IN ('D02', 'D03')) AND bank.balance > bank.cash_deposits_30d"},
		{"flatten and dedup", And{Terms: []Expr{bal(OpGt, 3), And{Terms: []Expr{bal(OpLt, 9), And{Terms: []Expr{bal(OpGt, 3)}}}}}}, "bank.balance < 9 AND bank.balance > 3"},
		{"single term", Or{Terms: []Expr{bal(OpGt, 3), bal(OpGt, 3)}}, "bank.balance > 3"},
		{"not of junction stays", Not{Term: And{Terms: []Expr{bal(OpGt, 3), arith}}}, "NOT (bank.balance > 3 AND bank.balance > bank.cash_deposits_30d)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := normalize(tt.in, cs)
			if text := exprText(got, cs, false); text != tt.want {
				t.Errorf("normalize = %s, want %s", text, tt.want)
			}
			if again := normalize(got, cs); !reflect.DeepEqual(again, got) {
				t.Errorf("not idempotent: %+v then %+v", got, again)
			}
		})
	}
}

func TestFormatLocal(t *testing.T) {
	tb := bankTable(t)
	tests := []struct {
		l    Local
		want string
	}{
		{Local{Table: "bank"}, "bank holds the person"},
		{Local{Table: "bank", Presence: PresenceAbsent}, "bank.person_id IS NULL"},
		{Local{Table: "bank", Presence: PresenceAny}, "any bank row (LEFT JOIN)"},
		{Local{Table: "bank", Expr: Or{Terms: []Expr{
			And{Terms: []Expr{Cmp{Table: "bank", Left: ACol{Column: "district"}, Right: AConst{V: 1}, Op: OpEq}, In{Table: "bank", Arg: ABin{Op: '+', L: ACol{Column: "balance"}, R: AConst{V: 1}}, Values: []int64{2, 3}}}},
			Not{Term: Cmp{Table: "bank", Left: ABin{Op: '*', L: ABin{Op: '-', L: ACol{Column: "balance"}, R: AConst{V: 1}}, R: AConst{V: 2}}, Right: ABin{Op: '-', L: AConst{V: 1}, R: ABin{Op: '-', L: ACol{Column: "balance"}, R: AConst{V: -2}}}, Op: OpGt}},
		}}}, "(bank.district = 'D02' AND (bank.balance + 1) IN (2, 3)) OR NOT (bank.balance - 1) * 2 > 1 - (bank.balance - -2)"},
	}
	for _, tt := range tests {
		if got := FormatLocal(tt.l, tb); got != tt.want {
			t.Errorf("FormatLocal =\n  %s\nwant\n  %s", got, tt.want)
		}
	}
}
