package plan

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/schema"
)

func bankTable(t testing.TB) schema.Table {
	tb, ok := testConsortium().Table("bank")
	if !ok {
		t.Fatal("no bank")
	}
	return tb
}

func TestEvalLocal(t *testing.T) {
	row := map[string]int64{"a": 7, "b": -3, "big": math.MaxInt64, "small": math.MinInt64}
	get := func(c string) int64 { return row[c] }
	a, b := ACol{Column: "a"}, ACol{Column: "b"}
	k := func(v int64) AConst { return AConst{V: v} }
	tests := []struct {
		name    string
		e       LocalExpr
		want    bool
		wantErr bool
	}{
		{name: "nil is true", e: nil, want: true},
		{name: "cmp", e: LCmp{Left: a, Right: k(7), Op: OpEq}, want: true},
		{name: "cmp columns", e: LCmp{Left: a, Right: b, Op: OpGt}, want: true},
		{name: "arithmetic", e: LCmp{Left: ABin{Op: '*', L: k(3), R: b}, Right: ABin{Op: '-', L: a, R: k(16)}, Op: OpEq}, want: true}, // -9 = -9
		{name: "and", e: LAnd{Terms: []LocalExpr{LCmp{Left: a, Right: k(1), Op: OpGe}, LCmp{Left: b, Right: k(0), Op: OpLt}}}, want: true},
		{name: "and false", e: LAnd{Terms: []LocalExpr{LCmp{Left: a, Right: k(1), Op: OpGe}, LCmp{Left: b, Right: k(0), Op: OpGt}}}, want: false},
		{name: "or", e: LOr{Terms: []LocalExpr{LCmp{Left: a, Right: k(1), Op: OpLt}, LCmp{Left: b, Right: k(-3), Op: OpLe}}}, want: true},
		{name: "not", e: LNot{Term: LCmp{Left: a, Right: k(7), Op: OpNe}}, want: true},
		{name: "in", e: LIn{Arg: a, Values: []int64{1, 7}}, want: true},
		{name: "not in", e: LIn{Arg: a, Values: []int64{1, 7}, Negated: true}, want: false},
		{name: "in arithmetic", e: LIn{Arg: ABin{Op: '+', L: a, R: b}, Values: []int64{4}}, want: true},
		{name: "add overflow", e: LCmp{Left: ABin{Op: '+', L: ACol{Column: "big"}, R: k(1)}, Right: k(0), Op: OpGt}, wantErr: true},
		{name: "sub overflow", e: LCmp{Left: ABin{Op: '-', L: ACol{Column: "small"}, R: k(1)}, Right: k(0), Op: OpGt}, wantErr: true},
		{name: "mul overflow", e: LCmp{Left: ABin{Op: '*', L: ACol{Column: "big"}, R: k(2)}, Right: k(0), Op: OpGt}, wantErr: true},
		{name: "mul negative overflow", e: LCmp{Left: ABin{Op: '*', L: ACol{Column: "small"}, R: k(-1)}, Right: k(0), Op: OpGt}, wantErr: true},
		{name: "mul min int", e: LCmp{Left: ABin{Op: '*', L: k(math.MinInt64 / 2), R: k(2)}, Right: ACol{Column: "small"}, Op: OpEq}, want: true},
		{name: "sub to min", e: LCmp{Left: ABin{Op: '-', L: k(-1), R: ACol{Column: "big"}}, Right: ACol{Column: "small"}, Op: OpEq}, want: true},
		{name: "unknown op", e: LCmp{Left: ABin{Op: '/', L: a, R: k(1)}, Right: k(0), Op: OpGt}, wantErr: true},
		{name: "unknown comparison", e: LCmp{Left: a, Right: k(0), Op: "~"}, wantErr: true},
		{name: "empty and", e: LAnd{}, wantErr: true},
		{name: "empty or", e: LOr{}, wantErr: true},
		{name: "empty not", e: LNot{}, wantErr: true},
		{name: "nil arith", e: LCmp{Left: nil, Right: k(0), Op: OpGt}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EvalLocal(tt.e, get)
			if tt.wantErr {
				if !errors.Is(err, ErrEval) {
					t.Fatalf("err = %v, want ErrEval", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("EvalLocal = %v, %v; want %v", got, err, tt.want)
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

func TestMarshalLocalCanonical(t *testing.T) {
	l := Local{Table: "bank", Presence: PresenceRequired, Expr: LAnd{Terms: []LocalExpr{
		LCmp{Left: ABin{Op: '*', L: AConst{V: 3}, R: ACol{Column: "cash_deposits_30d"}}, Right: ACol{Column: "balance"}, Op: OpLt},
		LIn{Arg: ACol{Column: "district"}, Values: []int64{0, 9}, Negated: true},
		LNot{Term: LCmp{Left: ACol{Column: "district"}, Right: AConst{V: 0}, Op: OpEq}},
	}}}
	want := `{"v":1,"table":"bank","presence":"required","expr":{"and":[` +
		`{"cmp":{"op":"<","l":{"op":"*","l":{"const":3},"r":{"col":"cash_deposits_30d"}},"r":{"col":"balance"}}},` +
		`{"in":{"arg":{"col":"district"},"values":[0,9],"negated":true}},` +
		`{"not":{"cmp":{"op":"=","l":{"col":"district"},"r":{"const":0}}}}]}}`
	b, err := MarshalLocal(l)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Fatalf("MarshalLocal =\n  %s\nwant\n  %s", b, want)
	}
	back, err := UnmarshalLocal(b, bankTable(t))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, l) {
		t.Fatalf("round trip %+v, want %+v", back, l)
	}
	for _, p := range []Presence{PresenceAbsent, PresenceAny} {
		b, err := MarshalLocal(Local{Table: "bank", Presence: p})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"v":1,"table":"bank","presence":"` + p.String() + `"}`; string(b) != want {
			t.Errorf("got %s, want %s", b, want)
		}
	}
}

// deepNot nests n NOTs around a comparison (depth n+2 with its operands).
func deepNot(n int) LocalExpr {
	var e LocalExpr = LCmp{Left: ACol{Column: "balance"}, Right: AConst{V: 1}, Op: OpGt}
	for range n {
		e = LNot{Term: e}
	}
	return e
}

func TestMarshalLocalRefuses(t *testing.T) {
	tests := []struct {
		name string
		l    Local
	}{
		{"unknown presence", Local{Table: "bank", Presence: 7}},
		{"expr when absent", Local{Table: "bank", Presence: PresenceAbsent, Expr: LCmp{Left: ACol{Column: "balance"}, Right: AConst{V: 1}, Op: OpGt}}},
		{"empty and", Local{Table: "bank", Expr: LAnd{}}},
		{"empty in", Local{Table: "bank", Expr: LIn{Arg: ACol{Column: "balance"}}}},
		{"bad op", Local{Table: "bank", Expr: LCmp{Left: ACol{Column: "balance"}, Right: AConst{V: 1}, Op: "<>"}}},
		{"bad arith op", Local{Table: "bank", Expr: LCmp{Left: ABin{Op: '/', L: ACol{Column: "balance"}, R: AConst{V: 1}}, Right: AConst{V: 1}, Op: OpGt}}},
		{"nil term", Local{Table: "bank", Expr: LNot{}}},
		{"nil arith", Local{Table: "bank", Expr: LCmp{Right: AConst{V: 1}, Op: OpGt}}},
		{"empty column", Local{Table: "bank", Expr: LCmp{Left: ACol{}, Right: AConst{V: 1}, Op: OpGt}}},
		{"too deep", Local{Table: "bank", Expr: deepNot(MaxLocalDepth - 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := MarshalLocal(tt.l); !errors.Is(err, ErrLocal) {
				t.Fatalf("MarshalLocal = %s, %v; want ErrLocal", b, err)
			}
		})
	}
	if _, err := MarshalLocal(Local{Table: "bank", Expr: deepNot(MaxLocalDepth - 2)}); err != nil {
		t.Fatalf("depth %d: %v", MaxLocalDepth, err)
	}
}

func TestUnmarshalLocalRefuses(t *testing.T) {
	tb := bankTable(t)
	cmp := func(inner string) string {
		return `{"v":1,"table":"bank","presence":"required","expr":` + inner + `}`
	}
	deep := func(n int) string {
		s := `{"cmp":{"op":">","l":{"col":"balance"},"r":{"const":1}}}`
		for range n {
			s = `{"not":` + s + `}`
		}
		return cmp(s)
	}
	tests := []struct {
		name, in, part string
	}{
		{"empty", ``, "EOF"},
		{"not json", `hello`, "invalid character"},
		{"version", `{"v":2,"table":"bank","presence":"any"}`, "version 2"},
		{"no version", `{"table":"bank","presence":"any"}`, "version 0"},
		{"wrong table", `{"v":1,"table":"telecom","presence":"any"}`, `for table "telecom" sent to table "bank"`},
		{"unknown field", `{"v":1,"table":"bank","presence":"any","x":1}`, "unknown field"},
		{"unknown presence", `{"v":1,"table":"bank","presence":"maybe"}`, "unknown presence"},
		{"expr when absent", `{"v":1,"table":"bank","presence":"absent","expr":{"cmp":{"op":">","l":{"col":"balance"},"r":{"const":1}}}}`, "presence absent"},
		{"spaces", `{"v":1, "table":"bank","presence":"any"}`, "canonical"},
		{"key order", `{"table":"bank","v":1,"presence":"any"}`, "canonical"},
		{"duplicate key", `{"v":1,"v":1,"table":"bank","presence":"any"}`, "canonical"},
		{"key case", `{"V":1,"table":"bank","presence":"any"}`, "canonical"},
		{"trailing data", `{"v":1,"table":"bank","presence":"any"}{}`, "canonical"},
		{"trailing newline", `{"v":1,"table":"bank","presence":"any"}` + "\n", "canonical"},
		{"unknown column", cmp(`{"cmp":{"op":">","l":{"col":"cash"},"r":{"const":1}}}`), `no data column "cash"`},
		{"person key", cmp(`{"cmp":{"op":">","l":{"col":"person_id"},"r":{"const":1}}}`), `no data column "person_id"`},
		{"unknown op", cmp(`{"cmp":{"op":"<>","l":{"col":"balance"},"r":{"const":1}}}`), "unknown comparison operator"},
		{"unknown arith op", cmp(`{"cmp":{"op":">","l":{"op":"/","l":{"col":"balance"},"r":{"const":2}},"r":{"const":1}}}`), "exactly one of col, const, or op"},
		{"two kinds", cmp(`{"not":{"cmp":{"op":">","l":{"col":"balance"},"r":{"const":1}}},"cmp":{"op":">","l":{"col":"balance"},"r":{"const":1}}}`), "exactly one of and, or, not, cmp, in (it has 2)"},
		{"no kind", cmp(`{}`), "it has 0"},
		{"empty and", cmp(`{"and":[]}`), "empty AND or OR"},
		{"empty or", cmp(`{"or":[]}`), "empty AND or OR"},
		{"null term", cmp(`{"and":[null]}`), "null formula node"},
		{"null operand", cmp(`{"cmp":{"op":">","l":null,"r":{"const":1}}}`), "null arithmetic node"},
		{"col and const", cmp(`{"cmp":{"op":">","l":{"col":"balance","const":1},"r":{"const":1}}}`), "exactly one of col, const, or op"},
		{"float constant", cmp(`{"cmp":{"op":">","l":{"col":"balance"},"r":{"const":1.5}}}`), "cannot unmarshal"},
		{"huge constant", cmp(`{"cmp":{"op":">","l":{"col":"balance"},"r":{"const":9223372036854775808}}}`), "cannot unmarshal"},
		{"category order", cmp(`{"cmp":{"op":"<","l":{"col":"district"},"r":{"const":1}}}`), "operator < on category column district"},
		{"category index", cmp(`{"cmp":{"op":"=","l":{"col":"district"},"r":{"const":10}}}`), "category index 10 of district is outside 0..9"},
		{"category negative", cmp(`{"in":{"arg":{"col":"district"},"values":[-1]}}`), "category index -1"},
		{"category vs column", cmp(`{"cmp":{"op":"=","l":{"col":"district"},"r":{"col":"balance"}}}`), "other than a category index"},
		{"category on the right", cmp(`{"cmp":{"op":"=","l":{"const":1},"r":{"col":"district"}}}`), "category column district used as an integer"},
		{"category arithmetic", cmp(`{"cmp":{"op":">","l":{"op":"+","l":{"col":"district"},"r":{"const":1}},"r":{"const":1}}}`), "category column district used as an integer"},
		{"empty in", cmp(`{"in":{"arg":{"col":"balance"},"values":[]}}`), "empty IN list"},
		{"null in", cmp(`{"in":{"arg":{"col":"balance"}}}`), "empty IN list"},
		{"too deep", deep(MaxLocalDepth), "deeper than"},
		{"far too deep", cmp(strings.Repeat(`{"not":`, 5000) + `{}` + strings.Repeat(`}`, 5000)), "deeper than"},
		{"too long", `{"v":1,"table":"` + strings.Repeat("x", MaxLocalBytes) + `","presence":"any"}`, "the limit is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := UnmarshalLocal([]byte(tt.in), tb)
			if !errors.Is(err, ErrLocal) {
				t.Fatalf("UnmarshalLocal = %+v, %v; want ErrLocal", l, err)
			}
			if !strings.Contains(err.Error(), tt.part) {
				t.Errorf("error %q does not contain %q", err, tt.part)
			}
		})
	}
	if _, err := UnmarshalLocal([]byte(deep(MaxLocalDepth-2)), tb); err != nil {
		t.Errorf("depth %d: %v", MaxLocalDepth, err)
	}
}

// localSeeds are encoded locals of the corpus plans and a few by hand.
func localSeeds(t testing.TB, cs schema.Consortium, queries []string) [][]byte {
	var out [][]byte
	for _, q := range queries {
		p, err := Parse(q, cs)
		if err != nil {
			t.Fatalf("Parse(%q): %v", q, err)
		}
		for _, term := range p.Terms {
			for _, l := range term.Locals {
				b, err := MarshalLocal(l)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
		}
	}
	return out
}

// FuzzUnmarshalLocal checks that UnmarshalLocal never panics, that what
// it accepts is canonical (re-encodes to the same bytes), uses only the
// table's columns the way their kinds allow, and evaluates without panics.
func FuzzUnmarshalLocal(f *testing.F) {
	cs := gen.Consortium()
	for _, b := range localSeeds(f, cs, corpusSeeds(f)) {
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"table":"bank","presence":"required","expr":{"in":{"arg":{"op":"-","l":{"const":0},"r":{"col":"balance"}},"values":[-5,3]}}}`))
	f.Add([]byte(`{"v":1,"table":"bank","presence":"required","expr":{"or":[{"not":{"cmp":{"op":"=","l":{"col":"district"},"r":{"const":9}}}}]}}`))
	tables := cs.Tables
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, tb := range tables {
			l, err := UnmarshalLocal(b, tb)
			if err != nil {
				if !errors.Is(err, ErrLocal) {
					t.Fatalf("error %v does not wrap ErrLocal", err)
				}
				continue
			}
			again, err := MarshalLocal(l)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("accepted %q re-encodes to %q, %v", b, again, err)
			}
			seen := map[string]bool{}
			localColumns(l.Expr, seen)
			for c := range seen {
				if _, ok := tb.Column(c); !ok {
					t.Fatalf("accepted column %q not in table %s", c, tb.Name)
				}
			}
			for _, v := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64} {
				_, err := EvalLocal(l.Expr, func(string) int64 { return v })
				if err != nil && !errors.Is(err, ErrEval) {
					t.Fatalf("EvalLocal error %v does not wrap ErrEval", err)
				}
			}
		}
	})
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
		{Local{Table: "bank", Expr: LOr{Terms: []LocalExpr{
			LAnd{Terms: []LocalExpr{LCmp{Left: ACol{Column: "district"}, Right: AConst{V: 1}, Op: OpEq}, LIn{Arg: ABin{Op: '+', L: ACol{Column: "balance"}, R: AConst{V: 1}}, Values: []int64{2, 3}}}},
			LNot{Term: LCmp{Left: ABin{Op: '*', L: ABin{Op: '-', L: ACol{Column: "balance"}, R: AConst{V: 1}}, R: AConst{V: 2}}, Right: ABin{Op: '-', L: AConst{V: 1}, R: ABin{Op: '-', L: ACol{Column: "balance"}, R: AConst{V: -2}}}, Op: OpGt}},
		}}}, "(bank.district = 'D02' AND (bank.balance + 1) IN (2, 3)) OR NOT (bank.balance - 1) * 2 > 1 - (bank.balance - -2)"},
	}
	for _, tt := range tests {
		if got := FormatLocal(tt.l, tb); got != tt.want {
			t.Errorf("FormatLocal =\n  %s\nwant\n  %s", got, tt.want)
		}
	}
}
