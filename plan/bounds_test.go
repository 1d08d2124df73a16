package plan

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/schema"
)

func TestCheckBounds(t *testing.T) {
	cs := testConsortium()
	const balanceMax = 20_000_000
	tests := []struct {
		name    string
		sql     string
		limits  Limits
		wantErr bool
		// worst is the worst-case total named in the error.
		worst *big.Int
		parts []string
	}{
		{name: "count just fits", sql: "SELECT COUNT(*) FROM bank", limits: Limits{Modulus: 65537, Entities: 65536}},
		{name: "count reaches modulus", sql: "SELECT COUNT(*) FROM bank", limits: Limits{Modulus: 65537, Entities: 65537},
			wantErr: true, worst: big.NewInt(65537), parts: []string{"COUNT(*)", "65537 entities", "plaintext modulus 65537", "larger plaintext modulus"}},
		{name: "no entities", sql: "SELECT SUM(bank.balance) FROM bank", limits: Limits{Modulus: 2, Entities: 0}},
		{name: "0/1 column", sql: "SELECT SUM(utility.meter_tamper) FROM utility", limits: Limits{Modulus: 1 << 16, Entities: 1<<16 - 1}},
		{name: "0/1 column over", sql: "SELECT SUM(utility.meter_tamper) FROM utility", limits: Limits{Modulus: 1 << 16, Entities: 1 << 16},
			wantErr: true, worst: big.NewInt(1 << 16), parts: []string{"SUM(utility.meter_tamper)", "narrow the declared bounds of utility.meter_tamper"}},
		{name: "sum just fits", sql: "SELECT COUNT(*), SUM(bank.balance) AS total FROM bank",
			limits: Limits{Modulus: balanceMax*1000 + 1, Entities: 1000}},
		{name: "sum reaches modulus", sql: "SELECT COUNT(*), SUM(bank.balance) AS total FROM bank",
			limits:  Limits{Modulus: balanceMax * 1000, Entities: 1000},
			wantErr: true, worst: big.NewInt(balanceMax * 1000),
			parts: []string{`SUM(bank.balance) AS "total"`, "1000 entities x declared max 20000000 of bank.balance", "plaintext modulus 20000000000",
				"narrow the declared bounds of bank.balance or use a parameter set with a larger plaintext modulus"}},
		{name: "product beyond 64 bits", sql: "SELECT SUM(bank.balance) FROM bank",
			limits:  Limits{Modulus: math.MaxUint64, Entities: math.MaxUint64},
			wantErr: true, worst: new(big.Int).Mul(new(big.Int).SetUint64(math.MaxUint64), big.NewInt(balanceMax)),
			parts: []string{"SUM(bank.balance)"}},
		{name: "zero modulus refuses everything", sql: "SELECT COUNT(*) FROM bank", limits: Limits{Modulus: 0, Entities: 0},
			wantErr: true, worst: big.NewInt(0)},
		{name: "every aggregate is checked", sql: "SELECT SUM(utility.meter_tamper), SUM(utility.kwh_30d) FROM utility",
			limits: Limits{Modulus: 1 << 20, Entities: 100}, wantErr: true, worst: big.NewInt(100 * 100_000), parts: []string{"SUM(utility.kwh_30d)"}},
		{name: "avg fits", sql: "SELECT AVG(bank.balance) FROM bank", limits: Limits{Modulus: balanceMax*1000 + 1, Entities: 1000}},
		{name: "avg sum overflows", sql: "SELECT AVG(bank.balance) AS a FROM bank", limits: Limits{Modulus: balanceMax * 1000, Entities: 1000},
			wantErr: true, worst: big.NewInt(balanceMax * 1000),
			parts: []string{`aggregate AVG(bank.balance) AS "a" needs SUM(bank.balance), which could reach 20000000000 (1000 entities x declared max 20000000 of bank.balance)`}},
		{name: "avg count overflows", sql: "SELECT AVG(utility.meter_tamper) FROM utility", limits: Limits{Modulus: 1000, Entities: 1000},
			wantErr: true, worst: big.NewInt(1000), parts: []string{"aggregate AVG(utility.meter_tamper) needs COUNT(*), which could reach 1000 (one per entity, 1000 entities)"}},
		{name: "variance fits", sql: "SELECT VARIANCE(bank.balance) FROM bank", limits: Limits{Modulus: balanceMax*balanceMax*1000 + 1, Entities: 1000}},
		{name: "variance sum of squares overflows", sql: "SELECT COUNT(*), VARIANCE(bank.balance) FROM bank", limits: Limits{Modulus: balanceMax * balanceMax * 1000, Entities: 1000},
			wantErr: true, worst: big.NewInt(balanceMax * balanceMax * 1000),
			parts: []string{"aggregate VARIANCE(bank.balance) needs the sum of squares of bank.balance, which could reach 400000000000000000 (1000 entities x declared max 20000000 of bank.balance squared)",
				"narrow the declared bounds of bank.balance"}},
		{name: "stddev sum of squares overflows", sql: "SELECT SUM(bank.balance), STDDEV(bank.balance) FROM bank", limits: Limits{Modulus: 1 << 40, Entities: 1000},
			wantErr: true, worst: big.NewInt(balanceMax * balanceMax * 1000), parts: []string{"aggregate STDDEV(bank.balance) needs the sum of squares of bank.balance"}},
		{name: "variance sum beyond 64 bits", sql: "SELECT VARIANCE(bank.balance) FROM bank", limits: Limits{Modulus: math.MaxUint64, Entities: math.MaxUint64 - 1},
			wantErr: true, worst: new(big.Int).Mul(new(big.Int).SetUint64(math.MaxUint64-1), big.NewInt(balanceMax)), parts: []string{"needs SUM(bank.balance)"}},
		{name: "grouped sum has the same bound", sql: "SELECT bank.district, SUM(bank.balance) FROM bank GROUP BY bank.district",
			limits: Limits{Modulus: balanceMax * 1000, Entities: 1000}, wantErr: true, worst: big.NewInt(balanceMax * 1000), parts: []string{"SUM(bank.balance)"}},
		{name: "signed terms have the same bound", sql: "SELECT SUM(bank.balance) FROM telecom JOIN bank USING (person_id) WHERE NOT (telecom.calls_30d > 5 OR bank.balance > 5)",
			limits: Limits{Modulus: balanceMax*1000 + 1, Entities: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.sql, cs)
			if err != nil {
				t.Fatal(err)
			}
			err = p.CheckBounds(tt.limits, cs)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("CheckBounds: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrOverflow) {
				t.Fatalf("err = %v, want ErrOverflow", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "could reach "+tt.worst.String()+" ") {
				t.Errorf("%q does not name the worst case %s", msg, tt.worst)
			}
			for _, part := range tt.parts {
				if !strings.Contains(msg, part) {
					t.Errorf("%q does not contain %q", msg, part)
				}
			}
		})
	}
}

func TestCheckBoundsStalePlan(t *testing.T) {
	p := &Plan{Tables: []string{"bank"}, Aggregates: []Aggregate{{Kind: AggSum, Table: "bank", Column: "gone", Name: "SUM(bank.gone)"}}}
	err := p.CheckBounds(Limits{Modulus: 1 << 40, Entities: 10}, testConsortium())
	if !errors.Is(err, ErrUnknownName) {
		t.Fatalf("err = %v, want ErrUnknownName", err)
	}
	cs := testConsortium()
	cs.Tables[1].Columns[0] = schema.Column{Name: "district", Kind: schema.KindCategory, Categories: []string{"x"}}
	p = &Plan{Tables: []string{"bank"}, Aggregates: []Aggregate{{Kind: AggSum, Table: "bank", Column: "district", Name: "SUM(bank.district)"}}}
	if err := p.CheckBounds(Limits{Modulus: 1 << 40, Entities: 10}, cs); !errors.Is(err, ErrUnknownName) {
		t.Fatalf("category column: err = %v, want ErrUnknownName", err)
	}
	p = &Plan{Tables: []string{"bank"}, Aggregates: []Aggregate{{Kind: "MEDIAN", Table: "bank", Column: "balance", Name: "m"}}}
	if err := p.CheckBounds(Limits{Modulus: 1 << 40, Entities: 10}, cs); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unknown kind: err = %v, want ErrUnsupported", err)
	}
	p = &Plan{Tables: []string{"bank"}, Aggregates: []Aggregate{{Kind: AggStddev, Table: "bank", Column: "gone", Name: "s"}}}
	if err := p.CheckBounds(Limits{Modulus: 1 << 40, Entities: 10}, cs); !errors.Is(err, ErrUnknownName) {
		t.Fatalf("stddev of a missing column: err = %v, want ErrUnknownName", err)
	}
}
