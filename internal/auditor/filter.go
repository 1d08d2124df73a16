package auditor

import (
	"fmt"
	"strings"
	"time"
)

// RowFilter selects queries for mpcaudit show and the console's timeline.
// Zero fields select everything.
type RowFilter struct {
	// Analyst is an identity URI (mpcq://analyst/NAME) or a bare NAME.
	Analyst string
	// Case is a case reference, or a prefix (at least 4 hex digits) of the
	// warrant hash.
	Case string
	// Status is committed, answered or failed.
	Status string
	// Since and Until bound the QUERY time: Since <= time < Until.
	Since, Until time.Time
	// Text must occur (case-insensitively) in the query's ID, analyst,
	// purpose, legal basis, SQL, case or failure reason.
	Text string
}

// Statuses are the values of QueryRow.Status.
var Statuses = []string{"committed", "answered", "failed"}

// Validate checks the status and the time range.
func (f RowFilter) Validate() error {
	if f.Status != "" && f.Status != "committed" && f.Status != "answered" && f.Status != "failed" {
		return fmt.Errorf("status %q: want one of %s", f.Status, strings.Join(Statuses, ", "))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return fmt.Errorf("time range: since %s is not before until %s", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return nil
}

// Match reports whether r passes the filter.
func (f RowFilter) Match(r QueryRow) bool {
	if f.Analyst != "" && r.Analyst != f.Analyst && r.Analyst != "mpcq://analyst/"+f.Analyst {
		return false
	}
	if f.Case != "" && r.Case != f.Case && !(len(f.Case) >= 4 && strings.HasPrefix(r.Warrant, strings.ToLower(f.Case))) {
		return false
	}
	if f.Status != "" && r.Status != f.Status {
		return false
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		t, err := time.Parse(time.RFC3339, r.Time)
		if err != nil || (!f.Since.IsZero() && t.Before(f.Since)) || (!f.Until.IsZero() && !t.Before(f.Until)) {
			return false
		}
	}
	if f.Text != "" {
		needle := strings.ToLower(f.Text)
		found := false
		for _, s := range []string{r.QueryID, r.Analyst, r.Purpose, r.LegalBasis, r.Query, r.Case, r.Reason, r.Warrant} {
			if strings.Contains(strings.ToLower(s), needle) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// FilterRows returns the rows that pass f, in order.
func FilterRows(rows []QueryRow, f RowFilter) []QueryRow {
	out := []QueryRow{}
	for _, r := range rows {
		if f.Match(r) {
			out = append(out, r)
		}
	}
	return out
}

// ParseTime reads a time bound given as RFC 3339 or as a date
// (2006-01-02, midnight UTC).
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2026-11-30T12:00:00Z) or a date (2026-11-30)", s)
	}
	return t, nil
}
