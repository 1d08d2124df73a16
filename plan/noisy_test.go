package plan

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestFinishNoisy(t *testing.T) {
	const sql = "SELECT COUNT(*), SUM(bank.balance), AVG(bank.balance), VARIANCE(bank.balance), STDDEV(bank.balance) FROM bank"
	count := Sum{Kind: SumCount}
	bal := Sum{Kind: SumValue, Table: "bank", Column: "balance"}
	balSq := Sum{Kind: SumSquares, Table: "bank", Column: "balance"}
	iv := func(lo, hi, h string) Interval { return Interval{Low: lo, High: hi, HalfWidth: h} }
	null := Interval{}
	for _, tc := range []struct {
		name       string
		n, s, q    int64
		hn, hs, hq int64
		row        []string
		intervals  []Interval
	}{
		{
			// AVG: [80/12, 120/8]. VARIANCE: (q − s²/n)/(n−1) over
			// q ∈ [900, 1500], s² ∈ [6400, 14400], n ∈ [8, 12]:
			// [(900 − 1800)/7 → 0, (1500 − 6400/12)/7 = 2900/21].
			name: "typical", n: 10, s: 100, q: 1200, hn: 2, hs: 20, hq: 300,
			row: []string{"10", "100", "10.000000", "22.222222", "4.714045"},
			intervals: []Interval{iv("8", "12", "2"), iv("80", "120", "20"), iv("6.666666", "15.000000", ""),
				iv("0.000000", "138.095239", ""), iv("0.000000", "11.751394", "")},
		},
		{
			// No noise (zero half-widths): the exact values, intervals
			// collapsed onto them (rounded outwards).
			name: "zero width", n: 4, s: 10, q: 30,
			row: []string{"4", "10", "2.500000", "1.666667", "1.290994"},
			intervals: []Interval{iv("4", "4", "0"), iv("10", "10", "0"), iv("2.500000", "2.500000", ""),
				iv("1.666666", "1.666667", ""), iv("1.290994", "1.290995", "")},
		},
		{
			// A negative noisy count is shown as is; everything derived
			// is NULL.
			name: "negative count", n: -3, s: -50, q: 40, hn: 2, hs: 20, hq: 300,
			row:       []string{"-3", "-50", NullText, NullText, NullText},
			intervals: []Interval{iv("-5", "-1", "2"), iv("-70", "-30", "20"), null, null, null},
		},
		{
			name: "zero count", n: 0, s: 12, q: 144, hn: 1, hs: 5, hq: 50,
			row:       []string{"0", "12", NullText, NullText, NullText},
			intervals: []Interval{iv("-1", "1", "1"), iv("7", "17", "5"), null, null, null},
		},
		{
			// Count 1: AVG is defined (its count interval clamped to
			// [1, 3]: [4/3, 10/1]), VARIANCE and STDDEV are NULL.
			name: "count one", n: 1, s: 7, q: 49, hn: 2, hs: 3, hq: 10,
			row:       []string{"1", "7", "7.000000", NullText, NullText},
			intervals: []Interval{iv("-1", "3", "2"), iv("4", "10", "3"), iv("1.333333", "10.000000", ""), null, null},
		},
		{
			// A negative noisy sum: AVG negative, the variance (from
			// inconsistent parts) clamped to 0.
			name: "negative sum", n: 2, s: -6, q: 5, hn: 1, hs: 2, hq: 4,
			// AVG: s ∈ [−8, −4], n ∈ [1→(AVG) 1, 3]: [−8, −4/3].
			// VARIANCE: n ∈ [2, 3], s² ∈ [16, 64], q ∈ [1, 9]:
			// [1 − 64/2 → 0, (9 − 16/3)/1 = 11/3].
			row: []string{"2", "-6", "-3.000000", "0.000000", "0.000000"},
			intervals: []Interval{iv("1", "3", "1"), iv("-8", "-4", "2"), iv("-8.000000", "-1.333333", ""),
				iv("0.000000", "3.666667", ""), iv("0.000000", "1.914855", "")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, sql)
			sums := map[Sum][]int64{count: {tc.n}, bal: {tc.s}, balSq: {tc.q}}
			hw := map[Sum]*big.Int{count: big.NewInt(tc.hn), bal: big.NewInt(tc.hs), balSq: big.NewInt(tc.hq)}
			rows, cols, ivs, err := p.FinishNoisy(sums, hw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cols, p.Columns()) {
				t.Errorf("columns %v, want %v", cols, p.Columns())
			}
			if len(rows) != 1 || !reflect.DeepEqual(rows[0], tc.row) {
				t.Errorf("rows %q, want %q", rows, tc.row)
			}
			if len(ivs) != 1 || !reflect.DeepEqual(ivs[0], tc.intervals) {
				t.Errorf("intervals %+v\nwant      %+v", ivs, tc.intervals)
			}
		})
	}
}

func TestFinishNoisyGroups(t *testing.T) {
	p := mustParse(t, "SELECT COUNT(*) AS n FROM bank GROUP BY bank.district")
	count := Sum{Kind: SumCount}
	vals := make([]int64, len(p.Groups()))
	for i := range vals {
		vals[i] = int64(i) - 3
	}
	rows, _, ivs, err := p.FinishNoisy(map[Sum][]int64{count: vals}, map[Sum]*big.Int{count: big.NewInt(4)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 10 || len(ivs) != 10 {
		t.Fatalf("%d rows, %d interval rows, want 10", len(rows), len(ivs))
	}
	if want := []string{"D01", "-3"}; !reflect.DeepEqual(rows[0], want) {
		t.Errorf("row 0 %q, want %q", rows[0], want)
	}
	if want := []Interval{{}, {Low: "-7", High: "1", HalfWidth: "4"}}; !reflect.DeepEqual(ivs[0], want) {
		t.Errorf("intervals 0 %+v, want %+v", ivs[0], want)
	}
	if !ivs[9][0].IsZero() || ivs[9][1].IsZero() {
		t.Errorf("group cell must have no interval, the count one: %+v", ivs[9])
	}
}

func TestFinishNoisyErrors(t *testing.T) {
	p := mustParse(t, "SELECT AVG(bank.balance) FROM bank")
	count := Sum{Kind: SumCount}
	bal := Sum{Kind: SumValue, Table: "bank", Column: "balance"}
	other := Sum{Kind: SumValue, Table: "bank", Column: "other"}
	one := big.NewInt(1)
	for _, tc := range []struct {
		name string
		sums map[Sum][]int64
		hw   map[Sum]*big.Int
	}{
		{"missing sum", map[Sum][]int64{count: {1}}, map[Sum]*big.Int{count: one, bal: one}},
		{"extra sum", map[Sum][]int64{count: {1}, bal: {1}, other: {1}}, map[Sum]*big.Int{count: one, bal: one}},
		{"wrong length", map[Sum][]int64{count: {1, 2}, bal: {1}}, map[Sum]*big.Int{count: one, bal: one}},
		{"missing width", map[Sum][]int64{count: {1}, bal: {1}}, map[Sum]*big.Int{count: one}},
		{"negative width", map[Sum][]int64{count: {1}, bal: {1}}, map[Sum]*big.Int{count: one, bal: big.NewInt(-1)}},
	} {
		if _, _, _, err := p.FinishNoisy(tc.sums, tc.hw); !errors.Is(err, ErrResult) {
			t.Errorf("%s: got %v, want ErrResult", tc.name, err)
		}
	}
}

// TestFinishNoisyContains checks on random noisy parts that every derived
// value lies in its interval and that the interval contains the exact
// value whenever every part's interval contains its true total.
func TestFinishNoisyContains(t *testing.T) {
	p := mustParse(t, "SELECT AVG(bank.balance), VARIANCE(bank.balance), STDDEV(bank.balance) FROM bank")
	count := Sum{Kind: SumCount}
	bal := Sum{Kind: SumValue, Table: "bank", Column: "balance"}
	balSq := Sum{Kind: SumSquares, Table: "bank", Column: "balance"}
	rng := rand.New(rand.NewPCG(1, 2))
	rat := func(s string) *big.Rat {
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("not a decimal: %q", s)
		}
		return r
	}
	within := func(what, v string, iv Interval) {
		t.Helper()
		if v == NullText {
			if !iv.IsZero() {
				t.Errorf("%s: NULL with interval %+v", what, iv)
			}
			return
		}
		x, lo, hi := rat(v), rat(iv.Low), rat(iv.High)
		if x.Cmp(lo) < 0 || x.Cmp(hi) > 0 {
			t.Errorf("%s: %s outside [%s, %s]", what, v, iv.Low, iv.High)
		}
	}
	for range 500 {
		// True data: m people with values 0..99.
		m := rng.IntN(30)
		vals := make([]int64, m)
		for i := range vals {
			vals[i] = rng.Int64N(100)
		}
		tn, ts, tq := sumsOf(vals)
		hn, hs, hq := rng.Int64N(5), rng.Int64N(200), rng.Int64N(20000)
		// Noise within the half-widths.
		noise := func(h int64) int64 { return rng.Int64N(2*h+1) - h }
		n, s, q := int64(tn)+noise(hn), int64(ts)+noise(hs), int64(tq)+noise(hq)
		rows, _, ivs, err := p.FinishNoisy(map[Sum][]int64{count: {n}, bal: {s}, balSq: {q}},
			map[Sum]*big.Int{count: big.NewInt(hn), bal: big.NewInt(hs), balSq: big.NewInt(hq)})
		if err != nil {
			t.Fatal(err)
		}
		exact, _, err := p.Finish(map[Sum][]uint64{count: {tn}, bal: {ts}, balSq: {tq}})
		if err != nil {
			t.Fatal(err)
		}
		for j := range rows[0] {
			within("noisy value", rows[0][j], ivs[0][j])
			if exact[0][j] != NullText && rows[0][j] != NullText {
				// The exact value is rounded to nearest: compare with the
				// interval widened by one unit of the last decimal.
				iv := ivs[0][j]
				lo := new(big.Rat).Sub(rat(iv.Low), big.NewRat(1, 1_000_000))
				hi := new(big.Rat).Add(rat(iv.High), big.NewRat(1, 1_000_000))
				if x := rat(exact[0][j]); x.Cmp(lo) < 0 || x.Cmp(hi) > 0 {
					t.Errorf("column %d: exact %s outside [%s, %s] (n=%d±%d s=%d±%d q=%d±%d, true %d %d %d)",
						j, exact[0][j], iv.Low, iv.High, n, hn, s, hs, q, hq, tn, ts, tq)
				}
			}
		}
	}
}
