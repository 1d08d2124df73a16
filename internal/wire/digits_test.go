package wire

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
)

// testT is the plaintext modulus of the default parameter set (mpc).
const testT = 35184368877569

const stddevSQL = "SELECT STDDEV(utility.kwh_30d), VARIANCE(utility.kwh_30d) FROM utility JOIN bank USING (person_id) WHERE bank.district IN ('D04')"

// TestRecompiledDigits plays a coordinator that commits a digit split
// other than the one the committed SQL and the epoch's entity count give:
// no split (the sum of squares would wrap), fewer digits, another base,
// a dropped digit, a split made for another entity count. The party,
// recompiling at its own epoch's entities, refuses each; the honest plan
// passes.
func TestRecompiledDigits(t *testing.T) {
	cs := gen.Consortium()
	lim := plan.Limits{Modulus: testT, Entities: 20_000}
	_, honest, err := Compile(stddevSQL, cs, lim)
	if err != nil {
		t.Fatal(err)
	}
	// 20,000 × 100,000² > T: the sum of squares is split, in 2 digits of
	// 17 bits (20,000 × (2^19 − 1) ≤ (T−1)/2, 34 bits of 10^10).
	var digits []*pb.SumSpec
	for _, s := range honest.Sums {
		if s.Kind == string(plan.SumSquares) {
			digits = append(digits, s)
		}
	}
	if len(digits) != 2 || digits[0].Digits != 2 || digits[0].Bits != 17 || digits[1].Digit != 1 {
		t.Fatalf("the sum of squares is planned as %v, want 2 digits of 17 bits", digits)
	}
	utility, _ := cs.Table("utility")
	bank, _ := cs.Table("bank")
	for _, own := range []string{"utility", "bank"} {
		tbl, _ := cs.Table(own)
		if err := Recompiled(honest, tbl, lim); err != nil {
			t.Fatalf("%s refuses the honest plan: %v", own, err)
		}
	}
	compiledAt := func(entities uint64) *pb.Plan {
		_, m, err := Compile(stddevSQL, cs, plan.Limits{Modulus: testT, Entities: entities})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for name, forged := range map[string]func() *pb.Plan{
		// compiled for 1,000 entities: whole, and 20,000 × 10^10 wraps.
		"no split": func() *pb.Plan { return compiledAt(1000) },
		// compiled for 10^10 entities: 4 digits of 9 bits, more than the
		// epoch needs (a plan the QUERY entry's epoch does not give).
		"a split for another entity count": func() *pb.Plan { return compiledAt(10_000_000_000) },
		"another base": func() *pb.Plan {
			m := proto.Clone(honest).(*pb.Plan)
			for _, s := range m.Sums {
				if s.Digits > 0 {
					s.Bits = 18
				}
			}
			return m
		},
		"fewer digits": func() *pb.Plan {
			m := proto.Clone(honest).(*pb.Plan)
			var sums []*pb.SumSpec
			for _, s := range m.Sums {
				if s.Digits > 0 && s.Digit > 0 {
					continue
				}
				if s.Digits > 0 {
					s.Digits, s.Bits = 1, 34 // one digit holding everything
				}
				sums = append(sums, s)
			}
			m.Sums = sums
			return m
		},
		"a dropped digit": func() *pb.Plan {
			m := proto.Clone(honest).(*pb.Plan)
			m.Sums = m.Sums[:len(m.Sums)-1]
			return m
		},
		"digits swapped": func() *pb.Plan {
			m := proto.Clone(honest).(*pb.Plan)
			n := len(m.Sums)
			m.Sums[n-1].Digit, m.Sums[n-2].Digit = m.Sums[n-2].Digit, m.Sums[n-1].Digit
			return m
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := forged()
			for _, own := range []string{"utility", "bank"} {
				tbl := utility
				if own == "bank" {
					tbl = bank
				}
				err := Recompiled(m, tbl, lim)
				if !errors.Is(err, ErrNotCompiled) {
					t.Fatalf("%s: got %v, want ErrNotCompiled", own, err)
				}
				if !strings.Contains(err.Error(), "20000 entities") {
					t.Errorf("%s: %q does not say at which entity count it recompiled", own, err)
				}
			}
		})
	}
}

// TestSumFromProtoDigits: a digit spec the planner never makes is refused
// as it arrives.
func TestSumFromProtoDigits(t *testing.T) {
	ok := &pb.SumSpec{Kind: "sumsq", Table: "utility", Column: "kwh_30d", Digit: 1, Digits: 2, Bits: 17}
	if s, err := SumFromProto(ok); err != nil || s.Digit != 1 || s.Digits != 2 || s.Bits != 17 {
		t.Fatalf("SumFromProto(%v) = %v, %v", ok, s, err)
	}
	for name, m := range map[string]*pb.SumSpec{
		"one digit":            {Kind: "sum", Table: "t", Column: "c", Digits: 1, Bits: 10},
		"digit out of range":   {Kind: "sum", Table: "t", Column: "c", Digit: 2, Digits: 2, Bits: 10},
		"no bits":              {Kind: "sum", Table: "t", Column: "c", Digits: 2},
		"63 bits":              {Kind: "sum", Table: "t", Column: "c", Digits: 2, Bits: 63},
		"too many digits":      {Kind: "sum", Table: "t", Column: "c", Digits: plan.MaxDigits + 1, Bits: 1},
		"digits past 128 bits": {Kind: "sumsq", Table: "t", Column: "c", Digits: 4, Bits: 62},
		"a split count":        {Kind: "count", Digits: 2, Bits: 10},
		"whole with a base":    {Kind: "sum", Table: "t", Column: "c", Bits: 10},
		"whole with a digit":   {Kind: "sum", Table: "t", Column: "c", Digit: 1},
	} {
		if _, err := SumFromProto(m); err == nil {
			t.Errorf("%s: %v accepted", name, m)
		}
	}
}

// TestCompileNationalScale plans every aggregate over every int column of
// the synthetic schema at 100,000,000 entities (EXPLAIN's planning, no
// cluster): none is refused, and every sum that does not fit whole is
// split so that each digit's total stays at most (T−1)/2.
func TestCompileNationalScale(t *testing.T) {
	cs := gen.Consortium()
	const entities = 100_000_000
	lim := plan.Limits{Modulus: testT, Entities: entities}
	for _, tbl := range cs.Tables {
		for _, c := range tbl.Columns {
			if c.Kind != schema.KindInt {
				continue
			}
			for _, agg := range []string{"COUNT(*)", "SUM(%s)", "AVG(%s)", "VARIANCE(%s)", "STDDEV(%s)"} {
				col := tbl.Name + "." + c.Name
				item := strings.ReplaceAll(agg, "%s", col)
				sql := "SELECT " + item + " FROM " + tbl.Name
				t.Run(item, func(t *testing.T) {
					_, m, err := Compile(sql, cs, lim)
					if err != nil {
						t.Fatalf("%s refused at %d entities: %v", sql, entities, err)
					}
					for _, s := range m.Sums {
						if s.Digits == 0 {
							continue
						}
						if total := uint64(entities) * (1<<s.Bits - 1); total > (testT-1)/2 {
							t.Errorf("%v: a digit's total reaches %d", s, total)
						}
					}
				})
			}
		}
	}
}

// FuzzSumFromProto: any sum spec is either refused or a sum whose digit
// fields are a valid split (or none), that converts back to the same
// message, and whose per-person values a party computes without panic,
// each digit below its base.
func FuzzSumFromProto(f *testing.F) {
	f.Add("sumsq", "utility", "kwh_30d", int64(0), uint32(1), uint32(2), uint32(17), int64(100_000))
	f.Add("sum", "bank", "balance", int64(5), uint32(0), uint32(0), uint32(0), int64(1<<62))
	f.Add("count", "", "", int64(0), uint32(0), uint32(2), uint32(3), int64(0))
	f.Fuzz(func(t *testing.T, kind, table, column string, clip int64, digit, digits, bits uint32, v int64) {
		m := &pb.SumSpec{Kind: kind, Table: table, Column: column, Clip: clip, Digit: digit, Digits: digits, Bits: bits}
		s, err := SumFromProto(m)
		if err != nil {
			return
		}
		if s.IsDigit() && (s.Digits > plan.MaxDigits || s.Digit >= s.Digits || s.Bits < 1 || s.Bits > 62) {
			t.Fatalf("accepted %v", s)
		}
		if !s.IsDigit() && (s.Digit != 0 || s.Bits != 0 || s.Digits != 0) {
			t.Fatalf("accepted a whole sum with digit fields %v", s)
		}
		if back := SumToProto(s); !proto.Equal(back, m) {
			t.Fatalf("%v converts back to %v", m, back)
		}
		if v < 0 {
			v = -(v + 1)
		}
		if x := s.PersonValue(v); s.IsDigit() && x >= 1<<s.Bits {
			t.Fatalf("%v: digit %d of base 2^%d", s, x, s.Bits)
		}
	})
}
