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

// TestFit plans sums against limits: those that fit stay whole, those
// that do not are split into the fewest digits that keep every digit's
// total at most half the modulus, and only what digits cannot represent
// (the count itself, more than MaxDigits digits, no room for one bit) is
// refused, saying why.
func TestFit(t *testing.T) {
	cs := testConsortium()
	const balanceMax = 20_000_000
	balance := Sum{Kind: SumValue, Table: "bank", Column: "balance"}
	balanceSq := Sum{Kind: SumSquares, Table: "bank", Column: "balance"}
	kwh := Sum{Kind: SumValue, Table: "utility", Column: "kwh_30d"}
	tests := []struct {
		name   string
		sql    string
		limits Limits
		splits map[Sum]Split // nil: every sum whole
		// parts are in the ErrOverflow message when set.
		parts []string
	}{
		{name: "count just fits", sql: "SELECT COUNT(*) FROM bank", limits: Limits{Modulus: 65537, Entities: 65536}},
		{name: "count reaches modulus", sql: "SELECT COUNT(*) FROM bank", limits: Limits{Modulus: 65537, Entities: 65537},
			parts: []string{"COUNT(*)", "could reach 65537 ", "65537 entities", "plaintext modulus 65537", "no room for even one-bit digits", "larger plaintext modulus"}},
		{name: "no entities", sql: "SELECT SUM(bank.balance) FROM bank", limits: Limits{Modulus: 2, Entities: 0}},
		{name: "0/1 column", sql: "SELECT SUM(utility.meter_tamper) FROM utility", limits: Limits{Modulus: 1 << 16, Entities: 1<<16 - 1}},
		{name: "0/1 column over", sql: "SELECT SUM(utility.meter_tamper) FROM utility", limits: Limits{Modulus: 1 << 16, Entities: 1 << 16},
			parts: []string{"SUM(utility.meter_tamper)", "no room for even one-bit digits"}},
		{name: "sum just fits", sql: "SELECT COUNT(*), SUM(bank.balance) AS total FROM bank",
			limits: Limits{Modulus: balanceMax*1000 + 1, Entities: 1000}},
		// (T−1)/2/1000 = 9,999,999: digits of up to 23 bits; 25 bits of
		// max need 2 digits, of ⌈25/2⌉ = 13 bits.
		{name: "sum reaching the modulus is split", sql: "SELECT COUNT(*), SUM(bank.balance) AS total FROM bank",
			limits: Limits{Modulus: balanceMax * 1000, Entities: 1000}, splits: map[Sum]Split{balance: {Digits: 2, Bits: 13}}},
		{name: "product beyond 64 bits", sql: "SELECT SUM(bank.balance) FROM bank",
			limits: Limits{Modulus: math.MaxUint64, Entities: math.MaxUint64},
			parts:  []string{"SUM(bank.balance)", "could reach " + new(big.Int).Mul(new(big.Int).SetUint64(math.MaxUint64), big.NewInt(balanceMax)).String()}},
		{name: "zero modulus refuses everything", sql: "SELECT COUNT(*) FROM bank", limits: Limits{Modulus: 0, Entities: 0},
			parts: []string{"plaintext modulus 0"}},
		{name: "every aggregate is planned", sql: "SELECT SUM(utility.meter_tamper), SUM(utility.kwh_30d) FROM utility",
			limits: Limits{Modulus: 1 << 20, Entities: 100}, splits: map[Sum]Split{kwh: {Digits: 2, Bits: 9}}},
		{name: "avg sum split", sql: "SELECT AVG(bank.balance) AS a FROM bank", limits: Limits{Modulus: balanceMax * 1000, Entities: 1000},
			splits: map[Sum]Split{balance: {Digits: 2, Bits: 13}}},
		{name: "avg count overflows", sql: "SELECT AVG(utility.meter_tamper) FROM utility", limits: Limits{Modulus: 1000, Entities: 1000},
			parts: []string{"aggregate AVG(utility.meter_tamper) needs COUNT(*), which could reach 1000 (one per entity, 1000 entities)"}},
		{name: "variance fits", sql: "SELECT VARIANCE(bank.balance) FROM bank", limits: Limits{Modulus: balanceMax*balanceMax*1000 + 1, Entities: 1000}},
		// 4·10^14 has 49 bits; (T−1)/2/1000 < 2^48: digits of 47 bits, so
		// 2 digits of 25 bits.
		{name: "variance sum of squares split", sql: "SELECT COUNT(*), VARIANCE(bank.balance) FROM bank", limits: Limits{Modulus: balanceMax * balanceMax * 1000, Entities: 1000},
			splits: map[Sum]Split{balanceSq: {Digits: 2, Bits: 25}}},
		// 2^40/2/1000 ≈ 2^29: 29-bit digits, the squares' 49 bits in 2
		// digits of 25.
		{name: "stddev sum of squares split", sql: "SELECT SUM(bank.balance), STDDEV(bank.balance) FROM bank", limits: Limits{Modulus: 1 << 40, Entities: 1000},
			splits: map[Sum]Split{balanceSq: {Digits: 2, Bits: 25}}},
		// (2^20−1)/2/65536 = 7: 3-bit digits; the squares' 49 bits need
		// 17 of them, one more than MaxDigits.
		{name: "more digits than the cap", sql: "SELECT VARIANCE(bank.balance) FROM bank", limits: Limits{Modulus: 1 << 20, Entities: 65536},
			parts: []string{"aggregate VARIANCE(bank.balance) needs the sum of squares of bank.balance", "needs 17 digits, more than the 16 a sum may have", "narrow the declared bounds"}},
		{name: "variance sum beyond 64 bits", sql: "SELECT VARIANCE(bank.balance) FROM bank", limits: Limits{Modulus: math.MaxUint64, Entities: math.MaxUint64 - 1},
			parts: []string{"needs SUM(bank.balance)"}},
		{name: "grouped sum has the same split", sql: "SELECT bank.district, SUM(bank.balance) FROM bank GROUP BY bank.district",
			limits: Limits{Modulus: balanceMax * 1000, Entities: 1000}, splits: map[Sum]Split{balance: {Digits: 2, Bits: 13}}},
		{name: "signed terms have the same bound", sql: "SELECT SUM(bank.balance) FROM telecom JOIN bank USING (person_id) WHERE NOT (telecom.calls_30d > 5 OR bank.balance > 5)",
			limits: Limits{Modulus: balanceMax*1000 + 1, Entities: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.sql, cs)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Fit(tt.limits, cs)
			if tt.parts == nil {
				if err != nil {
					t.Fatalf("Fit: %v", err)
				}
				if !reflect.DeepEqual(p.Splits, tt.splits) {
					t.Fatalf("splits %v, want %v", p.Splits, tt.splits)
				}
				checkSplits(t, p, tt.limits, cs)
				return
			}
			if !errors.Is(err, ErrOverflow) {
				t.Fatalf("err = %v, want ErrOverflow", err)
			}
			for _, part := range tt.parts {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("%q does not contain %q", err, part)
				}
			}
		})
	}
}

// checkSplits checks what Fit promises of every split: each digit's
// total at most (T−1)/2, the digits cover the largest value, and one
// digit fewer of the widest base allowed would not.
func checkSplits(t *testing.T, p *Plan, l Limits, cs schema.Consortium) {
	t.Helper()
	half := new(big.Int).SetUint64((l.Modulus - 1) / 2)
	n := new(big.Int).SetUint64(l.Entities)
	for s, sp := range p.Splits {
		max, _, err := worstCase(s, l.Entities, cs)
		if err != nil {
			t.Fatal(err)
		}
		digit := new(big.Int).Lsh(big.NewInt(1), uint(sp.Bits))
		digit.Sub(digit, big.NewInt(1))
		if tot := new(big.Int).Mul(n, digit); tot.Cmp(half) > 0 {
			t.Errorf("%s: a digit's total reaches %s, above half the modulus %s", s.label(), tot, half)
		}
		if max.BitLen() > sp.Digits*sp.Bits {
			t.Errorf("%s: %d digits of %d bits do not cover %s", s.label(), sp.Digits, sp.Bits, max)
		}
		widest := 0
		for b := 1; b <= 62; b++ {
			d := new(big.Int).Lsh(big.NewInt(1), uint(b))
			if d.Sub(d, big.NewInt(1)).Mul(d, n).Cmp(half) <= 0 {
				widest = b
			}
		}
		if (sp.Digits-1)*widest >= max.BitLen() {
			t.Errorf("%s: %d digits where %d of %d bits would do", s.label(), sp.Digits, sp.Digits-1, widest)
		}
		if w := new(big.Int).Mul(n, max); w.Cmp(new(big.Int).SetUint64(l.Modulus)) < 0 {
			t.Errorf("%s: split although its worst case %s fits", s.label(), w)
		}
	}
}

func TestFitStalePlan(t *testing.T) {
	p := &Plan{Tables: []string{"bank"}, Aggregates: []Aggregate{{Kind: AggSum, Table: "bank", Column: "gone", Name: "SUM(bank.gone)"}}}
	err := p.Fit(Limits{Modulus: 1 << 40, Entities: 10}, testConsortium())
	if !errors.Is(err, ErrUnknownName) {
		t.Fatalf("err = %v, want ErrUnknownName", err)
	}
	cs := testConsortium()
	cs.Tables[1].Columns[0] = schema.Column{Name: "district", Kind: schema.KindCategory, Categories: []string{"x"}}
	p = &Plan{Tables: []string{"bank"}, Aggregates: []Aggregate{{Kind: AggSum, Table: "bank", Column: "district", Name: "SUM(bank.district)"}}}
	if err := p.Fit(Limits{Modulus: 1 << 40, Entities: 10}, cs); !errors.Is(err, ErrUnknownName) {
		t.Fatalf("category column: err = %v, want ErrUnknownName", err)
	}
	p = &Plan{Tables: []string{"bank"}, Aggregates: []Aggregate{{Kind: "MEDIAN", Table: "bank", Column: "balance", Name: "m"}}}
	if err := p.Fit(Limits{Modulus: 1 << 40, Entities: 10}, cs); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unknown kind: err = %v, want ErrUnsupported", err)
	}
	p = &Plan{Tables: []string{"bank"}, Aggregates: []Aggregate{{Kind: AggStddev, Table: "bank", Column: "gone", Name: "s"}}}
	if err := p.Fit(Limits{Modulus: 1 << 40, Entities: 10}, cs); !errors.Is(err, ErrUnknownName) {
		t.Fatalf("stddev of a missing column: err = %v, want ErrUnknownName", err)
	}
}
