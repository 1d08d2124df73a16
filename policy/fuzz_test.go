package policy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse: Parse never panics, and a parsed policy's Canonical form
// parses to the same Canonical form; Check and CheckBudget never panic on
// what Parse accepts.
func FuzzParse(f *testing.F) {
	for _, party := range examples {
		b, err := os.ReadFile(filepath.Join("testdata", party+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(policyText(`, "max_epsilon": 0.001, "exact": "always"`, `, "budget": {"period": "90m", "per_case": 1}`)))
	f.Add([]byte(`{"version": 1, "party": "p", "rules": [{"name": "r", "groups": ["g"], "where": ["t.c"], "max_epsilon": 1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse("fuzz.json", b)
		if err != nil {
			return
		}
		c := p.Canonical()
		q, err := Parse("canonical", c)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, c)
		}
		if !bytes.Equal(q.Canonical(), c) {
			t.Fatalf("canonical round trip:\n%s\n%s", c, q.Canonical())
		}
		now := time.Unix(1_800_000_000, 0)
		u := Use{Party: p.Party, Analyst: "mpcq://analyst/x", Groups: []string{"g"}, Where: []string{"t.c"},
			EpsilonMilli: 1, Time: now, Case: "c"}
		_ = p.Check(u)
		_ = p.CheckBudget([]Charge{{QueryID: "q", Analyst: u.Analyst, Case: "c", EpsilonMilli: 5, Time: now.Unix()}}, u)
	})
}

// FuzzDecodeBook: DecodeBook never panics, and a decoded book encodes to
// bytes that decode to the same book.
func FuzzDecodeBook(f *testing.F) {
	f.Add([]byte(`{"charges": [{"query_id": "q", "analyst": "a", "case": "c", "epsilon_milli": 5, "time": 1}]}`))
	f.Add([]byte(`{"charges": []}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeBook("fuzz", b)
		if err != nil {
			return
		}
		e, err := DecodeBook("again", d.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.Encode(), d.Encode()) {
			t.Fatal("book round trip differs")
		}
	})
}
