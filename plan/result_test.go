package plan

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func mustParse(t *testing.T, sql string) *Plan {
	t.Helper()
	p, err := Parse(sql, testConsortium())
	if err != nil {
		t.Fatalf("Parse(%q): %v", sql, err)
	}
	return p
}

func TestSumsAndGroups(t *testing.T) {
	count := Sum{Kind: SumCount}
	bal := Sum{Kind: SumValue, Table: "bank", Column: "balance"}
	balSq := Sum{Kind: SumSquares, Table: "bank", Column: "balance"}
	kwh := Sum{Kind: SumValue, Table: "utility", Column: "kwh_30d"}
	tests := []struct {
		sql    string
		sums   []Sum
		groups int
		first  []string
		last   []string
	}{
		{"SELECT SUM(bank.balance) FROM bank", []Sum{bal}, 1, []string{}, []string{}},
		{"SELECT SUM(bank.balance), COUNT(*), AVG(bank.balance) FROM bank", []Sum{bal, count}, 1, []string{}, []string{}},
		{"SELECT STDDEV(bank.balance), VARIANCE(bank.balance), SUM(utility.kwh_30d) FROM bank JOIN utility USING (person_id)", []Sum{count, bal, balSq, kwh}, 1, []string{}, []string{}},
		{"SELECT AVG(bank.balance) FROM bank GROUP BY bank.district", []Sum{count, bal}, 10, []string{"D01"}, []string{"D10"}},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			p := mustParse(t, tt.sql)
			if got := p.Sums(); !reflect.DeepEqual(got, tt.sums) {
				t.Errorf("Sums = %+v, want %+v", got, tt.sums)
			}
			g := p.Groups()
			if len(g) != tt.groups || !reflect.DeepEqual(g[0], tt.first) || !reflect.DeepEqual(g[len(g)-1], tt.last) {
				t.Errorf("Groups = %v", g)
			}
		})
	}
	p := mustParse(t, "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) GROUP BY bank.district, telecom.district")
	g := p.Groups()
	if len(g) != 100 || !reflect.DeepEqual(g[0], []string{"D01", "D01"}) || !reflect.DeepEqual(g[1], []string{"D01", "D02"}) ||
		!reflect.DeepEqual(g[10], []string{"D02", "D01"}) || !reflect.DeepEqual(g[99], []string{"D10", "D10"}) {
		t.Errorf("two-column groups not in order: %v ... %v", g[:3], g[len(g)-1])
	}
}

// stats are a group's values, for the float reference.
func floatStats(vals []int64) (mean, variance float64) {
	for _, v := range vals {
		mean += float64(v)
	}
	mean /= float64(len(vals))
	for _, v := range vals {
		variance += (float64(v) - mean) * (float64(v) - mean)
	}
	return mean, variance / float64(len(vals)-1)
}

func sumsOf(vals []int64) (n, s, sq uint64) {
	for _, v := range vals {
		n++
		s += uint64(v)
		sq += uint64(v * v)
	}
	return n, s, sq
}

func TestFinish(t *testing.T) {
	p := mustParse(t, `SELECT bank.district AS d, COUNT(*), SUM(bank.balance) AS total, AVG(bank.balance), VARIANCE(bank.balance), STDDEV_SAMP(bank.balance) AS sd
		FROM bank WHERE bank.balance < 5000000 GROUP BY bank.district`)
	// Hand-made groups: D01 three values, D02 one value, D03 empty, D04
	// two equal values, D05 large values, the rest two values.
	groups := map[string][]int64{
		"D01": {1, 2, 4},
		"D02": {7},
		"D03": nil,
		"D04": {5, 5},
		"D05": {4_999_999, 3, 1_234_567, 4_000_001},
	}
	count := Sum{Kind: SumCount}
	bal := Sum{Kind: SumValue, Table: "bank", Column: "balance"}
	sq := Sum{Kind: SumSquares, Table: "bank", Column: "balance"}
	sums := map[Sum][]uint64{count: make([]uint64, 10), bal: make([]uint64, 10), sq: make([]uint64, 10)}
	for i, g := range p.Groups() {
		vals, ok := groups[g[0]]
		if !ok {
			vals = []int64{int64(i), int64(3 * i)}
			groups[g[0]] = vals
		}
		sums[count][i], sums[bal][i], sums[sq][i] = sumsOf(vals)
	}
	rows, cols, err := p.Finish(sums)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"d", "COUNT(*)", "total", "AVG(bank.balance)", "VARIANCE(bank.balance)", "sd"}; !reflect.DeepEqual(cols, want) {
		t.Fatalf("columns %v, want %v", cols, want)
	}
	exact := map[string][]string{
		"D01": {"D01", "3", "7", "2.333333", "2.333333", "1.527525"},
		"D02": {"D02", "1", "7", "7.000000", NullText, NullText},
		"D03": {"D03", "0", "0", NullText, NullText, NullText},
		"D04": {"D04", "2", "10", "5.000000", "0.000000", "0.000000"},
	}
	for _, row := range rows {
		if want, ok := exact[row[0]]; ok && !reflect.DeepEqual(row, want) {
			t.Errorf("row %v, want %v", row, want)
		}
		vals := groups[row[0]]
		if len(vals) < 2 {
			continue
		}
		mean, variance := floatStats(vals)
		for i, want := range []float64{mean, variance, math.Sqrt(variance)} {
			got, err := strconv.ParseFloat(row[3+i], 64)
			if err != nil || math.Abs(got-want) > 5e-7+1e-12*want {
				t.Errorf("group %s column %s = %s, want %.9f", row[0], cols[3+i], row[3+i], want)
			}
		}
	}
}

func TestFinishRoundsExactly(t *testing.T) {
	p := mustParse(t, "SELECT AVG(bank.balance), STDDEV(bank.balance), VARIANCE(bank.balance) FROM bank")
	count := Sum{Kind: SumCount}
	bal := Sum{Kind: SumValue, Table: "bank", Column: "balance"}
	sq := Sum{Kind: SumSquares, Table: "bank", Column: "balance"}
	tests := []struct {
		vals []int64
		want []string
	}{
		// avg 2/3 rounds up; sd of {0,1} is sqrt(0.5) = 0.70710678...
		{[]int64{0, 0, 2}, []string{"0.666667", "1.154701", "1.333333"}},
		{[]int64{0, 1}, []string{"0.500000", "0.707107", "0.500000"}},
		// 1/128 = 0.0078125: exactly half a unit in the last place rounds
		// away from zero.
		{append(make([]int64, 127), 1), []string{"0.007813", "0.088388", "0.007813"}},
		{[]int64{20_000_000, 20_000_000, 0}, []string{"13333333.333333", "11547005.383793", "133333333333333.333333"}},
	}
	for _, tt := range tests {
		n, s, q := sumsOf(tt.vals)
		rows, _, err := p.Finish(map[Sum][]uint64{count: {n}, bal: {s}, sq: {q}})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rows[0], tt.want) {
			t.Errorf("values %v: row %v, want %v", tt.vals, rows[0], tt.want)
		}
	}
}

func TestSqrtDecimal(t *testing.T) {
	for _, tt := range []struct {
		num, den int64
		dec      int
		want     string
	}{
		{0, 1, 6, "0.000000"}, {4, 1, 2, "2.00"}, {2, 1, 6, "1.414214"}, {1, 4, 3, "0.500"},
		{1, 100000000, 6, "0.000100"}, {1, 3, 0, "1"}, {9, 4, 1, "1.5"}, {2, 1, 0, "1"}, {3, 1, 0, "2"},
	} {
		if got := sqrtDecimal(big.NewInt(tt.num), big.NewInt(tt.den), tt.dec); got != tt.want {
			t.Errorf("sqrt(%d/%d) to %d places = %s, want %s", tt.num, tt.den, tt.dec, got, tt.want)
		}
	}
	// Against float for many values.
	for n := int64(1); n < 2000; n += 7 {
		for d := int64(1); d < 50; d += 3 {
			got, _ := strconv.ParseFloat(sqrtDecimal(big.NewInt(n), big.NewInt(d), 6), 64)
			if want := math.Sqrt(float64(n) / float64(d)); math.Abs(got-want) > 5.0000001e-7 {
				t.Fatalf("sqrt(%d/%d) = %v, want %v", n, d, got, want)
			}
		}
	}
}

func TestFinishRefuses(t *testing.T) {
	p := mustParse(t, "SELECT COUNT(*), VARIANCE(bank.balance) FROM bank GROUP BY bank.district")
	count := Sum{Kind: SumCount}
	bal := Sum{Kind: SumValue, Table: "bank", Column: "balance"}
	sq := Sum{Kind: SumSquares, Table: "bank", Column: "balance"}
	ten := func(v uint64) []uint64 {
		out := make([]uint64, 10)
		for i := range out {
			out[i] = v
		}
		return out
	}
	tests := []struct {
		name string
		sums map[Sum][]uint64
		part string
	}{
		{"missing", map[Sum][]uint64{count: ten(2), bal: ten(2)}, "sum of squares of bank.balance is missing"},
		{"short", map[Sum][]uint64{count: ten(2), bal: ten(2), sq: {1}}, "has 1 values for 10 groups"},
		{"extra", map[Sum][]uint64{count: ten(2), bal: ten(2), sq: ten(2), {Kind: SumValue, Table: "bank", Column: "x"}: ten(0)}, "SUM(bank.x) is not a sum of this plan"},
		{"sum over no one", map[Sum][]uint64{count: ten(0), bal: ten(2), sq: ten(0)}, "group bank.district=D01: aggregate VARIANCE(bank.balance): sum 2 over no one"},
		{"negative variance", map[Sum][]uint64{count: ten(2), bal: ten(10), sq: ten(49)}, "negative variance"},
		{"one value disagrees", map[Sum][]uint64{count: ten(1), bal: ten(3), sq: ten(10)}, "of one value disagree"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := p.Finish(tt.sums)
			if !errors.Is(err, ErrResult) || !strings.Contains(err.Error(), tt.part) {
				t.Fatalf("err = %v, want ErrResult containing %q", err, tt.part)
			}
		})
	}
}
