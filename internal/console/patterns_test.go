package console

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func q(id, analyst string, min int, sql string) Opened {
	return Opened{ID: id, Analyst: analyst, Time: t0.Add(time.Duration(min) * time.Minute), SQL: sql, EpsilonMilli: 1000}
}

// flagged returns the query IDs of each flag of kind, in order.
func flagged(fs []Flag, kind FlagKind) [][]string {
	var out [][]string
	for _, f := range fs {
		if f.Kind == kind {
			out = append(out, f.Queries)
		}
	}
	return out
}

func TestBursts(t *testing.T) {
	for _, tc := range []struct {
		name string
		qs   []Opened
		want [][]string
	}{
		{"three within the window", []Opened{q("a", "x", 0, ""), q("b", "x", 4, ""), q("c", "x", 9, "")}, [][]string{{"a", "b", "c"}}},
		{"spread out", []Opened{q("a", "x", 0, ""), q("b", "x", 6, ""), q("c", "x", 12, "")}, nil},
		{"two analysts do not add up", []Opened{q("a", "x", 0, ""), q("b", "y", 1, ""), q("c", "x", 2, "")}, nil},
		{"overlapping windows merge", []Opened{q("a", "x", 0, ""), q("b", "x", 5, ""), q("c", "x", 10, ""), q("d", "x", 15, "")},
			[][]string{{"a", "b", "c", "d"}}},
		{"unsorted input", []Opened{q("c", "x", 9, ""), q("a", "x", 0, ""), q("b", "x", 4, "")}, [][]string{{"a", "b", "c"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := flagged(Bursts(tc.qs, 3, 10*time.Minute), FlagBurst)
			if !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDifferencing(t *testing.T) {
	const base = "SELECT COUNT(*), SUM(bank.balance) FROM bank WHERE bank.district = 'D03' AND bank.accounts > 2"
	for _, tc := range []struct {
		name string
		qs   []Opened
		want [][]string
	}{
		{"one constant changed", []Opened{
			q("a", "x", 0, base),
			q("b", "x", 1, "SELECT COUNT(*), SUM(bank.balance) FROM bank WHERE bank.district = 'D03' AND bank.accounts > 3"),
		}, [][]string{{"a", "b"}}},
		{"a series of three", []Opened{
			q("a", "x", 0, "SELECT COUNT(*) FROM bank WHERE bank.balance > 100"),
			q("b", "x", 1, "SELECT COUNT(*) FROM bank WHERE bank.balance > 101"),
			q("c", "x", 2, "SELECT COUNT(*) FROM bank WHERE bank.balance > 102"),
		}, [][]string{{"a", "b", "c"}}},
		{"one condition added", []Opened{
			q("a", "x", 0, "SELECT COUNT(*), SUM(bank.balance) FROM bank WHERE bank.district = 'D03'"),
			q("b", "x", 1, base),
		}, [][]string{{"a", "b"}}},
		{"no WHERE versus one condition", []Opened{
			q("a", "x", 0, "SELECT COUNT(*) FROM bank"),
			q("b", "x", 1, "SELECT COUNT(*) FROM bank WHERE bank.accounts = 7"),
		}, [][]string{{"a", "b"}}},
		{"operator changed", []Opened{
			q("a", "x", 0, "SELECT COUNT(*) FROM bank WHERE bank.balance > 100"),
			q("b", "x", 1, "SELECT COUNT(*) FROM bank WHERE bank.balance >= 100"),
		}, [][]string{{"a", "b"}}},
		{"two conditions changed", []Opened{
			q("a", "x", 0, base),
			q("b", "x", 1, "SELECT COUNT(*), SUM(bank.balance) FROM bank WHERE bank.district = 'D04' AND bank.accounts > 3"),
		}, nil},
		{"different aggregates", []Opened{
			q("a", "x", 0, "SELECT COUNT(*) FROM bank WHERE bank.balance > 100"),
			q("b", "x", 1, "SELECT SUM(bank.balance) FROM bank WHERE bank.balance > 101"),
		}, nil},
		{"identical queries are not a difference", []Opened{q("a", "x", 0, base), q("b", "x", 1, base)}, nil},
		{"different analysts", []Opened{
			q("a", "x", 0, "SELECT COUNT(*) FROM bank WHERE bank.balance > 100"),
			q("b", "y", 1, "SELECT COUNT(*) FROM bank WHERE bank.balance > 101"),
		}, nil},
		{"no SQL opened", []Opened{q("a", "x", 0, ""), q("b", "x", 1, "")}, nil},
		{"a column changed is not one condition's constant", []Opened{
			q("a", "x", 0, "SELECT COUNT(*) FROM bank WHERE bank.balance > 100"),
			q("b", "x", 1, "SELECT COUNT(*) FROM bank WHERE bank.accounts > 100"),
		}, [][]string{{"a", "b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := flagged(Differencing(tc.qs), FlagDifferencing)
			if !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRareValues(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want bool
	}{
		{"SELECT COUNT(*) FROM telecom WHERE telecom.calls_30d = 412 AND telecom.intl_minutes_30d = 37", true},
		{"SELECT COUNT(*) FROM bank WHERE 20000000 = bank.balance", true},
		{"SELECT COUNT(*) FROM bank WHERE bank.balance = -5", true},
		{"SELECT COUNT(*) FROM utility WHERE utility.meter_tamper = 1", false},
		{"SELECT COUNT(*) FROM bank WHERE bank.district = 'D03'", false},
		{"SELECT COUNT(*) FROM bank WHERE bank.balance > 412", false},
		{"SELECT COUNT(*) FROM bank", false},
	} {
		t.Run(tc.sql, func(t *testing.T) {
			got := len(RareValues([]Opened{q("a", "x", 0, tc.sql)})) > 0
			if got != tc.want {
				t.Fatalf("flagged %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExactWithoutWarrant(t *testing.T) {
	for _, tc := range []struct {
		name    string
		eps     uint64
		warrant bool
		want    bool
	}{
		{"exact without warrant", 0, false, true},
		{"exact under a warrant", 0, true, false},
		{"noisy without warrant", 1000, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Opened{ID: "a", Analyst: "x", EpsilonMilli: tc.eps, Warrant: tc.warrant}
			if got := len(ExactWithoutWarrant([]Opened{o})) > 0; got != tc.want {
				t.Fatalf("flagged %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"SELECT COUNT(*) FROM bank WHERE bank.balance >= -5", []string{"SELECT", "COUNT", "(", "*", ")", "FROM", "bank", "WHERE", "bank.balance", ">=", "-5"}, true},
		{"WHERE a = 'it''s' AND b != 2", []string{"WHERE", "a", "=", "'it''s'", "AND", "b", "!=", "2"}, true},
		{"WHERE a = 'open", nil, false},
	} {
		got, ok := tokenize(tc.in)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("tokenize(%q) = %q %v, want %q %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
