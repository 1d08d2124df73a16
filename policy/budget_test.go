package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// t0 is a fixed time the budget tests count from.
var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) int64 { return t0.Add(d).Unix() }

func TestCheckBudget(t *testing.T) {
	bank := loadExample(t, "bank") // 24h: 10 per analyst, 30 per case
	day := 24 * time.Hour
	charge := func(id, analyst, c string, eps uint64, when time.Duration) Charge {
		return Charge{QueryID: id, Analyst: analyst, Case: c, EpsilonMilli: eps, Time: at(when)}
	}
	for _, tc := range []struct {
		name    string
		charges []Charge
		u       Use
		want    string    // substring of the refusal; "" = allowed
		retry   time.Time // RetryAt of the refusal
	}{
		{name: "empty", u: Use{Analyst: alice, EpsilonMilli: 10_000, Time: t0}},
		{name: "exactly the limit", charges: []Charge{charge("q1", alice, "", 9_000, -time.Hour)},
			u: Use{Analyst: alice, EpsilonMilli: 1000, Time: t0}},
		{name: "one thousandth over", charges: []Charge{charge("q1", alice, "", 9_000, -2*time.Hour), charge("q2", alice, "", 1, -time.Hour)},
			u:    Use{Analyst: alice, EpsilonMilli: 1000, Time: t0},
			want: "analyst mpcq://analyst/alice has spent ε 9.001 of 10 in the last 1d; this query's ε 1 would exceed it; it fits from 2026-12-01T10:00:00Z",
			// Freeing q1 (the oldest) is needed and enough.
			retry: t0.Add(-2 * time.Hour).Add(day)},
		{name: "frees up after several expire", charges: []Charge{charge("q1", alice, "", 1000, -20*time.Hour), charge("q2", alice, "", 1000, -10*time.Hour), charge("q3", alice, "", 8000, -time.Hour)},
			u: Use{Analyst: alice, EpsilonMilli: 1500, Time: t0}, want: "spent ε 10 of 10", retry: t0.Add(-10 * time.Hour).Add(day)},
		{name: "other analysts do not count", charges: []Charge{charge("q1", bob, "", 10_000, -time.Hour)},
			u: Use{Analyst: alice, EpsilonMilli: 10_000, Time: t0}},
		// Window boundaries: a charge at t counts while now < t + period.
		{name: "charge just inside the window", charges: []Charge{charge("q1", alice, "", 10_000, -day+time.Second)},
			u: Use{Analyst: alice, EpsilonMilli: 1, Time: t0}, want: "spent ε 10 of 10", retry: t0.Add(time.Second)},
		{name: "charge exactly one period old has expired", charges: []Charge{charge("q1", alice, "", 10_000, -day)},
			u: Use{Analyst: alice, EpsilonMilli: 10_000, Time: t0}},
		{name: "charge dated in the future counts", charges: []Charge{charge("q1", alice, "", 10_000, time.Minute)},
			u: Use{Analyst: alice, EpsilonMilli: 1, Time: t0}, want: "spent ε 10", retry: t0.Add(time.Minute).Add(day)},
		{name: "query larger than the limit", u: Use{Analyst: alice, EpsilonMilli: 10_001, Time: t0},
			want: "a query's ε may not exceed the limit"},
		{name: "same query not counted twice", charges: []Charge{charge("q1", alice, "", 10_000, -time.Hour)},
			u: Use{Analyst: alice, EpsilonMilli: 10_000, Time: t0, QueryID: "q1"}},
		// Per case: 30 by any analyst.
		{name: "case limit", charges: []Charge{charge("q1", bob, "c7", 9_000, -3*time.Hour), charge("q2", carol, "c7", 9_000, -2*time.Hour), charge("q3", "mpcq://analyst/dan", "c7", 9_000, -time.Hour)},
			u: Use{Analyst: alice, Case: "c7", EpsilonMilli: 3_001, Time: t0}, want: `case "c7" has spent ε 27 of 30`, retry: t0.Add(-3 * time.Hour).Add(day)},
		{name: "case limit, other case", charges: []Charge{charge("q1", bob, "c7", 9_000, -3*time.Hour), charge("q2", carol, "c7", 9_000, -2*time.Hour), charge("q3", "mpcq://analyst/dan", "c7", 9_000, -time.Hour)},
			u: Use{Analyst: alice, Case: "c8", EpsilonMilli: 3_001, Time: t0}},
		{name: "no case: case limit does not apply", charges: []Charge{charge("q1", bob, "", 9_000, -3*time.Hour), charge("q2", carol, "", 9_000, -2*time.Hour), charge("q3", "mpcq://analyst/dan", "", 9_000, -time.Hour)},
			u: Use{Analyst: alice, EpsilonMilli: 10_000, Time: t0}},
		{name: "exact queries are not charged", charges: []Charge{charge("q1", alice, "", 10_000, -time.Hour)},
			u: Use{Analyst: alice, Time: t0}},
		{name: "huge tampered charges saturate", charges: []Charge{charge("q1", alice, "", ^uint64(0), -time.Hour), charge("q2", alice, "", ^uint64(0), -time.Hour)},
			u: Use{Analyst: alice, EpsilonMilli: 1, Time: t0}, want: "would exceed it", retry: t0.Add(-time.Hour).Add(day)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.u.Party = "bank"
			err := bank.CheckBudget(tc.charges, tc.u)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var r *Refusal
			if !errors.As(err, &r) || !errors.Is(err, ErrRefused) || r.Rule != RuleBudget {
				t.Fatalf("error %v is not a budget *Refusal", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if !r.RetryAt.Equal(tc.retry) {
				t.Errorf("retry at %v, want %v", r.RetryAt, tc.retry)
			}
			if !r.RetryAt.IsZero() {
				// At RetryAt the query fits.
				u := tc.u
				u.Time = r.RetryAt
				if err := bank.CheckBudget(tc.charges, u); err != nil {
					t.Errorf("still refused at RetryAt: %v", err)
				}
				u.Time = r.RetryAt.Add(-time.Second)
				if err := bank.CheckBudget(tc.charges, u); err == nil {
					t.Errorf("allowed a second before RetryAt")
				}
			}
		})
	}
}

func TestUnlimitedBudget(t *testing.T) {
	p := loadExample(t, "utility")
	charges := []Charge{{QueryID: "q", Analyst: alice, EpsilonMilli: MaxEpsilonMilli, Time: t0.Unix()}}
	if err := p.CheckBudget(charges, Use{Party: "utility", Analyst: alice, EpsilonMilli: MaxEpsilonMilli, Time: t0}); err != nil {
		t.Fatal(err)
	}
	if l := p.Remaining(charges, alice, "c", t0); l.AnalystLimited || l.CaseLimited {
		t.Fatalf("%+v", l)
	}
}

func TestRemaining(t *testing.T) {
	bank := loadExample(t, "bank")
	charges := []Charge{
		{QueryID: "q1", Analyst: alice, Case: "c7", EpsilonMilli: 2500, Time: at(-30 * time.Hour)}, // expired
		{QueryID: "q2", Analyst: alice, Case: "c7", EpsilonMilli: 2500, Time: at(-3 * time.Hour)},
		{QueryID: "q3", Analyst: bob, Case: "c7", EpsilonMilli: 25_000, Time: at(-2 * time.Hour)},
		{QueryID: "q4", Analyst: alice, EpsilonMilli: 9000, Time: at(-time.Hour)},
	}
	for _, tc := range []struct {
		analyst, caseID string
		want            Left
	}{
		{alice, "c7", Left{Analyst: 0, Case: 2500, AnalystLimited: true, CaseLimited: true}},
		{bob, "c7", Left{Analyst: 0, Case: 2500, AnalystLimited: true, CaseLimited: true}},
		{carol, "", Left{Analyst: 10_000, AnalystLimited: true}},
		{carol, "c8", Left{Analyst: 10_000, Case: 30_000, AnalystLimited: true, CaseLimited: true}},
	} {
		if got := bank.Remaining(charges, tc.analyst, tc.caseID, t0); got != tc.want {
			t.Errorf("Remaining(%s, %q) = %+v, want %+v", tc.analyst, tc.caseID, got, tc.want)
		}
	}
}

func TestBook(t *testing.T) {
	var b Book
	c1 := Charge{QueryID: "q1", Analyst: alice, Case: "c7", EpsilonMilli: 500, Time: at(-2 * time.Hour)}
	c2 := Charge{QueryID: "q2", Analyst: bob, EpsilonMilli: 250, Time: at(-time.Hour)}
	for _, c := range []Charge{c2, c1, c1} {
		if err := b.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	// Idempotent: the same query again, even at another time, keeps one
	// charge (the first).
	later := c1
	later.Time = at(0)
	if err := b.Add(later); err != nil {
		t.Fatal(err)
	}
	if got := b.Charges(); len(got) != 2 || got[0] != c1 || got[1] != c2 {
		t.Fatalf("charges %+v", got)
	}
	for name, c := range map[string]Charge{
		"different ε":       {QueryID: "q1", Analyst: alice, Case: "c7", EpsilonMilli: 501},
		"different analyst": {QueryID: "q1", Analyst: bob, Case: "c7", EpsilonMilli: 500},
		"different case":    {QueryID: "q1", Analyst: alice, EpsilonMilli: 500},
		"no query id":       {Analyst: alice, EpsilonMilli: 1},
		"no analyst":        {QueryID: "q9", EpsilonMilli: 1},
	} {
		if err := b.Add(c); !errors.Is(err, ErrCharge) {
			t.Errorf("%s: error %v", name, err)
		}
	}
	if b.Len() != 2 {
		t.Fatalf("len %d", b.Len())
	}

	// Encode and decode round trip, byte for byte.
	enc := b.Encode()
	d, err := DecodeBook("book.json", enc)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Encode()) != string(enc) {
		t.Fatalf("round trip:\n%s\n%s", enc, d.Encode())
	}
	for name, in := range map[string]string{
		"unknown field": `{"charges": [{"query_id": "q", "analyst": "a", "epsilon": 1}]}`,
		"conflict":      `{"charges": [{"query_id": "q", "analyst": "a", "epsilon_milli": 1}, {"query_id": "q", "analyst": "a", "epsilon_milli": 2}]}`,
		"negative ε":    `{"charges": [{"query_id": "q", "analyst": "a", "epsilon_milli": -1}]}`,
	} {
		if _, err := DecodeBook("book.json", []byte(in)); err == nil || !strings.Contains(err.Error(), "book.json") {
			t.Errorf("%s: error %v", name, err)
		}
	}
	if d, err := DecodeBook("book.json", []byte(`{"charges": []}`)); err != nil || d.Len() != 0 {
		t.Errorf("empty book: %v", err)
	}

	// Prune keeps what a 90-minute window ending now still counts.
	if n := b.Prune(t0, 90*time.Minute); n != 1 {
		t.Fatalf("pruned %d", n)
	}
	if got := b.Charges(); len(got) != 1 || got[0] != c2 {
		t.Fatalf("after prune %+v", got)
	}
	// Exactly one period old: no window counts it any more.
	if n := b.Prune(t0, time.Hour); n != 1 || b.Len() != 0 {
		t.Fatalf("pruned %d, left %d", n, b.Len())
	}
}

func TestFormatPeriod(t *testing.T) {
	for d, want := range map[time.Duration]string{24 * time.Hour: "1d", 30 * 24 * time.Hour: "30d", 36 * time.Hour: "36h0m0s", 90 * time.Minute: "1h30m0s"} {
		if got := FormatPeriod(d); got != want {
			t.Errorf("FormatPeriod(%v) = %q, want %q", d, got, want)
		}
	}
}
