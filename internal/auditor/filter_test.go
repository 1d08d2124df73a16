package auditor

import (
	"testing"
	"time"
)

func TestRowFilter(t *testing.T) {
	row := QueryRow{QueryID: "q1", Time: "2026-11-30T09:00:00Z", Analyst: "mpcq://analyst/ana", Purpose: "Fraud ring",
		Status: "failed", Reason: "party bank refused", Case: "CASE-1", Warrant: "abcdef0123"}
	day := func(s string) time.Time { t, _ := ParseTime(s); return t }
	for _, tc := range []struct {
		name string
		f    RowFilter
		want bool
	}{
		{"empty", RowFilter{}, true},
		{"analyst URI", RowFilter{Analyst: "mpcq://analyst/ana"}, true},
		{"analyst name", RowFilter{Analyst: "ana"}, true},
		{"other analyst", RowFilter{Analyst: "bob"}, false},
		{"case", RowFilter{Case: "CASE-1"}, true},
		{"warrant prefix", RowFilter{Case: "ABCD"}, true},
		{"short warrant prefix", RowFilter{Case: "ab"}, false},
		{"status", RowFilter{Status: "failed"}, true},
		{"other status", RowFilter{Status: "answered"}, false},
		{"since the day", RowFilter{Since: day("2026-11-30")}, true},
		{"until the day", RowFilter{Until: day("2026-11-30")}, false},
		{"until the next day", RowFilter{Until: day("2026-12-01")}, true},
		{"text in reason", RowFilter{Text: "REFUSED"}, true},
		{"text absent", RowFilter{Text: "nothing"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Match(row); got != tc.want {
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
		})
	}
	if err := (RowFilter{Status: "x"}).Validate(); err == nil {
		t.Fatal("status x validated")
	}
	if _, err := ParseTime("30/11/2026"); err == nil {
		t.Fatal("a bad date parsed")
	}
}
