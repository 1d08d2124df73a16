package plan

import (
	"math"
	"math/big"
	"reflect"
	"testing"
)

// digitsOf splits v (or v²) into the digits a party contributes for a
// sum split into the fewest digits of the given width that cover 128 bits
// (squares) or 64 bits (values).
func digitsOf(kind SumKind, v int64, clip int64, width int) []*big.Int {
	total := 64
	if kind == SumSquares {
		total = 128
	}
	d := (total + width - 1) / width
	out := make([]*big.Int, d)
	for i := range d {
		s := Sum{Kind: kind, Table: "t", Column: "c", Clip: clip, Digit: i, Digits: d, Bits: width}
		out[i] = new(big.Int).SetUint64(s.PersonValue(v))
	}
	return out
}

func exactOf(kind SumKind, v, clip int64) *big.Int {
	if clip > 0 && v > clip {
		v = clip
	}
	x := big.NewInt(v)
	if kind == SumSquares {
		x.Mul(x, x)
	}
	return x
}

// TestPersonValueDigits: a person's digits recombine to the value or its
// exact square, at int64's extremes and every base.
func TestPersonValueDigits(t *testing.T) {
	values := []int64{0, 1, 2, 100_000, 1<<31 - 1, 1 << 32, 1<<62 + 12345, math.MaxInt64 - 1, math.MaxInt64}
	for _, kind := range []SumKind{SumValue, SumSquares} {
		for _, v := range values {
			for _, width := range []int{1, 7, 16, 17, 31, 32, 33, 62} {
				for _, clip := range []int64{0, 5, math.MaxInt64} {
					got := Recombine(width, digitsOf(kind, v, clip, width))
					if want := exactOf(kind, v, clip); got.Cmp(want) != 0 {
						t.Errorf("%s of %d (clip %d) in %d-bit digits recombines to %s, want %s", kind, v, clip, width, got, want)
					}
				}
			}
		}
	}
	// Every digit is below its base.
	s := Sum{Kind: SumSquares, Table: "t", Column: "c", Digit: 3, Digits: 8, Bits: 17}
	if d := s.PersonValue(math.MaxInt64); d >= 1<<17 {
		t.Errorf("digit %d of base 2^17", d)
	}
	// A whole sum is the value or its square; the count is 1.
	if got := (Sum{Kind: SumSquares, Table: "t", Column: "c"}).PersonValue(100_000); got != 10_000_000_000 {
		t.Errorf("whole square %d", got)
	}
	if got := (Sum{Kind: SumCount}).PersonValue(7); got != 1 {
		t.Errorf("count %d", got)
	}
}

// FuzzRecombine: the digit totals of any people's values, summed per
// digit as the circuit does, recombine to the exact total of the values
// (or squares).
func FuzzRecombine(f *testing.F) {
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), int64(0), uint8(17), true)
	f.Add(int64(100_000), int64(99_999), int64(1), uint8(1), false)
	f.Add(int64(0), int64(1<<40), int64(1<<62), uint8(62), true)
	f.Fuzz(func(t *testing.T, a, b, c int64, width uint8, squares bool) {
		w := int(width)%62 + 1
		kind := SumValue
		if squares {
			kind = SumSquares
		}
		var totals []*big.Int
		want := new(big.Int)
		for _, v := range []int64{a, b, c} {
			if v < 0 {
				v = -(v + 1) // values are non-negative (schema: Min ≥ 0)
			}
			want.Add(want, exactOf(kind, v, 0))
			ds := digitsOf(kind, v, 0, w)
			if totals == nil {
				totals = ds
				continue
			}
			for i := range ds {
				totals[i].Add(totals[i], ds[i])
			}
		}
		if got := Recombine(w, totals); got.Cmp(want) != 0 {
			t.Fatalf("%d-bit digits of %s recombine to %s, want %s", w, kind, got, want)
		}
	})
}

// TestFinishDigits: a plan whose sum of squares is split finishes from the
// digits' totals exactly as the unsplit plan from the whole totals, and
// totals above 64 bits (at national scale) come out exact.
func TestFinishDigits(t *testing.T) {
	cs := testConsortium()
	const sql = "SELECT COUNT(*), SUM(bank.balance), AVG(bank.balance), VARIANCE(bank.balance), STDDEV(bank.balance) FROM bank"
	whole, err := Parse(sql, cs)
	if err != nil {
		t.Fatal(err)
	}
	split, _ := Parse(sql, cs)
	if err := split.Fit(Limits{Modulus: 35184368877569, Entities: 100_000_000}, cs); err != nil {
		t.Fatal(err)
	}
	sq := Sum{Kind: SumSquares, Table: "bank", Column: "balance"}
	if sp := split.Splits[sq]; sp.Digits < 2 {
		t.Fatalf("the sum of squares is not split: %v", split.Splits)
	}
	// Three people, 20,000,000, 7 and 123,456: the whole totals fit in
	// uint64, so the unsplit plan can finish them too.
	people := []int64{20_000_000, 7, 123_456}
	wholeSums := map[Sum][]uint64{}
	splitSums := map[Sum][]uint64{}
	for _, s := range whole.Sums() {
		var tot uint64
		for _, v := range people {
			tot += s.PersonValue(v)
		}
		wholeSums[s] = []uint64{tot}
	}
	for _, s := range split.Sums() {
		var tot uint64
		for _, v := range people {
			tot += s.PersonValue(v)
		}
		splitSums[s] = []uint64{tot}
	}
	want, _, err := whole.Finish(wholeSums)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := split.Finish(splitSums)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("split plan gives %v, the whole plan %v", got, want)
	}
	// 10^8 people all at the maximum: Σx² = 4·10^22, beyond 2^64.
	n := uint64(100_000_000)
	national := map[Sum][]uint64{}
	for _, s := range split.Sums() {
		national[s] = []uint64{n * s.PersonValue(20_000_000)}
	}
	rows, _, err := split.Finish(national)
	if err != nil {
		t.Fatal(err)
	}
	if w := []string{"100000000", "2000000000000000", "20000000.000000", "0.000000", "0.000000"}; !reflect.DeepEqual(rows[0], w) {
		t.Fatalf("national-scale totals give %v, want %v", rows[0], w)
	}
	// A missing digit is an error, not a wrong answer.
	delete(national, split.Sums()[len(split.Sums())-1])
	if _, _, err := split.Finish(national); err == nil {
		t.Fatal("a result without its top digit was finished")
	}
}

// TestFinishNoisyDigits: every digit of a split sum carries noise of its
// own (dp.SumScales); the recombined total is the exact total plus
// Σ_d 2^(d·bits)·noise_d, and its half-width Σ_d 2^(d·bits)·h_d.
func TestFinishNoisyDigits(t *testing.T) {
	cs := testConsortium()
	p, err := Parse("SELECT SUM(bank.balance) FROM bank", cs)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Fit(Limits{Modulus: 20_000_000 * 1000, Entities: 1000}, cs); err != nil {
		t.Fatal(err)
	}
	sums := p.Sums()
	if len(sums) != 2 || sums[0].Digit != 0 || sums[1].Digit != 1 {
		t.Fatalf("sums %v", sums)
	}
	people := []int64{19_999_999, 8191, 8192}
	noisy := map[Sum][]int64{}
	var exact int64
	for _, v := range people {
		exact += v
	}
	for _, s := range sums {
		var tot int64
		for _, v := range people {
			tot += int64(s.PersonValue(v))
		}
		noisy[s] = []int64{tot}
	}
	const noise0, noise1 = -3, 2
	noisy[sums[0]][0] += noise0
	noisy[sums[1]][0] += noise1
	widths := map[Sum]*big.Int{sums[0]: big.NewInt(40), sums[1]: big.NewInt(5)}
	rows, _, ivs, err := p.FinishNoisy(noisy, widths)
	if err != nil {
		t.Fatal(err)
	}
	base := int64(1) << sums[0].Bits
	want := big.NewInt(exact + noise0 + base*noise1).String()
	wantHW := big.NewInt(40 + base*5).String()
	if rows[0][0] != want || ivs[0][0].HalfWidth != wantHW {
		t.Fatalf("noisy SUM %s ± %s, want %s ± %s", rows[0][0], ivs[0][0].HalfWidth, want, wantHW)
	}
}

// BenchmarkPersonValue is a party's per-person cost of one vector entry:
// a whole sum of squares, and one digit of an int64 square in 17-bit
// digits (the 128-bit product and a shift).
// go test ./plan -run '^$' -bench PersonValue
func BenchmarkPersonValue(b *testing.B) {
	for _, s := range []Sum{
		{Kind: SumSquares, Table: "t", Column: "c"},
		{Kind: SumSquares, Table: "t", Column: "c", Digit: 2, Digits: 8, Bits: 17},
	} {
		b.Run(map[bool]string{false: "whole", true: "digit"}[s.IsDigit()], func(b *testing.B) {
			var x uint64
			v := int64(1)
			for b.Loop() {
				x += s.PersonValue(v)
				v = v*6364136223846793005 + 1442695040888963407
				if v < 0 {
					v = -(v + 1)
				}
			}
			_ = x
		})
	}
}
