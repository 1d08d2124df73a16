package dp

import (
	"errors"
	"math/big"
	"testing"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/plan"
)

func TestFitsModulus(t *testing.T) {
	cs := gen.Consortium()
	const T = 1 << 45
	for _, tc := range []struct {
		sql      string
		entities uint64
		eps      uint64
		k        int
		ok       bool
	}{
		{"SELECT COUNT(*) FROM bank", 1_000_000, 1000, 2, true},
		{"SELECT COUNT(*), SUM(bank.balance) FROM bank", 1_000_000, 1000, 2, true},
		{"SELECT COUNT(*), SUM(bank.balance) FROM bank", 1_000_000, 0, 0, true},
		// Δ = 5000² for the sum of squares; at ε 0.001 the noise scale is
		// 7.5e10, its bound 40 × 3 of them 9e12: twice that plus the
		// largest total 2.5e13 is beyond T ≈ 3.5e13.
		{"SELECT VARIANCE(telecom.calls_30d) FROM telecom", 1_000_000, 1, 2, false},
		{"SELECT VARIANCE(telecom.calls_30d) FROM telecom", 500_000, 1000, 2, true},
	} {
		p, err := plan.Parse(tc.sql, cs)
		if err != nil {
			t.Fatal(err)
		}
		err = FitsModulus(p, cs, tc.entities, T, tc.eps, tc.k)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrNoiseTooWide)) {
			t.Errorf("%s at %d entities, ε %d/1000, k %d: %v, want ok=%v", tc.sql, tc.entities, tc.eps, tc.k, err, tc.ok)
		}
	}
}

func TestDecode(t *testing.T) {
	const T = 1000
	b := big.NewInt(30)
	for _, tc := range []struct {
		v    uint64
		want int64
	}{{0, 0}, {5, 5}, {969, 969}, {970, -30}, {999, -1}} {
		if got := Decode(tc.v, T, b); got != tc.want {
			t.Errorf("Decode(%d) = %d, want %d", tc.v, got, tc.want)
		}
	}
	if got := NoiseBound(big.NewRat(7, 3), 2); got.Int64() != 280 {
		t.Errorf("NoiseBound(7/3, k=2) = %v, want ⌈40·3·7/3⌉ = 280", got)
	}
}

func TestSensitivityClipped(t *testing.T) {
	cs := gen.Consortium()
	for _, tc := range []struct {
		sql  string
		want []int64
	}{
		{"SELECT SUM(bank.balance) FROM bank", []int64{20_000_000}},
		{"SELECT SUM(LEAST(bank.balance, 50000)) FROM bank", []int64{50_000}},
		{"SELECT STDDEV(LEAST(utility.kwh_30d, 5000)) FROM utility", []int64{1, 5000, 25_000_000}},
	} {
		p, err := plan.Parse(tc.sql, cs)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range p.Sums() {
			d, err := Sensitivity(s, cs)
			if err != nil || d.Int64() != tc.want[i] {
				t.Errorf("%s: sensitivity of %v = %v (%v), want %d", tc.sql, s, d, err, tc.want[i])
			}
		}
	}
}
