package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mpcq/mpcq/internal/config"
)

// Charge is the ε one answered query spent, as a party records it.
type Charge struct {
	// QueryID identifies the query (one charge per query).
	QueryID string `json:"query_id"`
	// Analyst is the analyst's identity URI.
	Analyst string `json:"analyst"`
	// Case is the query's case, "" if none.
	Case string `json:"case"`
	// EpsilonMilli is the query's ε in thousandths.
	EpsilonMilli uint64 `json:"epsilon_milli"`
	// Time is when the query was charged, in Unix seconds.
	Time int64 `json:"time"`
}

// window is the charges counted at now under a period: those charged
// after now - period (a charge at t counts until t + period, exclusive;
// charges dated after now count too), skipping the query being decided.
func window(charges []Charge, now time.Time, period time.Duration, skipQuery string) []Charge {
	start := now.Add(-period)
	var out []Charge
	for _, c := range charges {
		if c.QueryID != "" && c.QueryID == skipQuery {
			continue
		}
		if time.Unix(c.Time, 0).After(start) {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b Charge) int { return cmpInt(a.Time, b.Time) })
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CheckBudget decides a noisy query (u.EpsilonMilli > 0) against the ε
// already charged (earlier queries' charges; a charge with u.QueryID's
// id is not counted, so deciding a query again does not count it twice).
// Over the rolling period ending at u.Time, the ε charged to u.Analyst
// plus the query's ε must not exceed per_analyst, and when u.Case is set
// the ε charged to u.Case (by any analyst) plus the query's must not
// exceed per_case. A refusal (Rule RuleBudget) says what was spent, this
// query's ε, the limit and, in RetryAt and the message, the earliest time
// at which enough of the charges in the window have expired for the query
// to fit. Exact queries (ε = 0) and unlimited budgets always pass: exact
// answers are governed by the rule's exact mode.
func (p *Policy) CheckBudget(charges []Charge, u Use) error {
	b := p.Budget
	if u.EpsilonMilli == 0 || !b.Limited() {
		return nil
	}
	in := window(charges, u.Time, b.Period, u.QueryID)
	limits := []struct {
		limit uint64
		who   string
		match func(Charge) bool
	}{
		{b.PerAnalystMilli, "analyst " + u.Analyst, func(c Charge) bool { return c.Analyst == u.Analyst }},
	}
	if u.Case != "" {
		limits = append(limits, struct {
			limit uint64
			who   string
			match func(Charge) bool
		}{b.PerCaseMilli, fmt.Sprintf("case %q", u.Case), func(c Charge) bool { return c.Case == u.Case }})
	}
	for _, l := range limits {
		if l.limit == 0 {
			continue
		}
		var mine []Charge
		var spent uint64
		for _, c := range in {
			if l.match(c) {
				mine = append(mine, c)
				spent = addMilli(spent, c.EpsilonMilli)
			}
		}
		total := addMilli(spent, u.EpsilonMilli)
		if total <= l.limit {
			continue
		}
		r := &Refusal{Party: p.Party, Rule: RuleBudget}
		head := fmt.Sprintf("%s has spent ε %s of %s in the last %s; this query's ε %s would exceed it",
			l.who, FormatEpsilon(spent), FormatEpsilon(l.limit), FormatPeriod(b.Period), FormatEpsilon(u.EpsilonMilli))
		if u.EpsilonMilli > l.limit {
			r.Reason = head + "; a query's ε may not exceed the limit"
			return r
		}
		// Free the oldest charges until the query fits.
		need, freed := total-l.limit, uint64(0)
		for _, c := range mine {
			freed = addMilli(freed, c.EpsilonMilli)
			if freed >= need {
				r.RetryAt = time.Unix(c.Time, 0).Add(b.Period).UTC()
				break
			}
		}
		r.Reason = fmt.Sprintf("%s; it fits from %s, when enough of the window's charges expire", head, r.RetryAt.Format(time.RFC3339))
		return r
	}
	return nil
}

// Left is the ε budget left at a time, for EXPLAIN.
type Left struct {
	// Analyst is the ε (thousandths) the analyst may still spend now;
	// meaningful only if AnalystLimited.
	Analyst uint64
	// Case is the ε (thousandths) still available to the case now;
	// meaningful only if CaseLimited.
	Case uint64
	// AnalystLimited and CaseLimited say whether a limit applies (a zero
	// limit, or no case, is unlimited).
	AnalystLimited, CaseLimited bool
}

// Remaining returns the ε the analyst and the case (if caseID is not
// "") may still spend at now under the policy's budget, given the
// charges.
func (p *Policy) Remaining(charges []Charge, analyst, caseID string, now time.Time) Left {
	b := p.Budget
	var out Left
	if !b.Limited() {
		return out
	}
	in := window(charges, now, b.Period, "")
	left := func(limit uint64, match func(Charge) bool) uint64 {
		var spent uint64
		for _, c := range in {
			if match(c) {
				spent = addMilli(spent, c.EpsilonMilli)
			}
		}
		if spent >= limit {
			return 0
		}
		return limit - spent
	}
	if b.PerAnalystMilli > 0 {
		out.AnalystLimited = true
		out.Analyst = left(b.PerAnalystMilli, func(c Charge) bool { return c.Analyst == analyst })
	}
	if b.PerCaseMilli > 0 && caseID != "" {
		out.CaseLimited = true
		out.Case = left(b.PerCaseMilli, func(c Charge) bool { return c.Case == caseID })
	}
	return out
}

// FormatPeriod renders a period for people: whole days as "30d", else
// Go's duration text ("36h0m0s").
func FormatPeriod(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// ErrCharge is wrapped when a charge cannot be recorded: malformed, or
// conflicting with the charge already recorded for its query.
var ErrCharge = errors.New("invalid charge")

// Book is a party's record of the ε charged per query, the input of
// CheckBudget. Add is idempotent per query id. The party persists the
// book (Encode, DecodeBook) and prunes it (Prune) with the longest period
// of any policy version it may still apply. The zero Book is empty and
// ready; a Book is not safe for concurrent use.
type Book struct {
	byID map[string]Charge
}

// Add records a charge. Adding a query already recorded with the same
// analyst, case and ε does nothing (the first time is kept); a different
// analyst, case or ε for the same query is an error wrapping ErrCharge,
// as is a charge without query id or analyst.
func (b *Book) Add(c Charge) error {
	switch {
	case c.QueryID == "":
		return fmt.Errorf("%w: no query id", ErrCharge)
	case c.Analyst == "":
		return fmt.Errorf("%w: query %s: no analyst", ErrCharge, c.QueryID)
	}
	if old, ok := b.byID[c.QueryID]; ok {
		if old.Analyst != c.Analyst || old.Case != c.Case || old.EpsilonMilli != c.EpsilonMilli {
			return fmt.Errorf("%w: query %s is already charged ε %s to analyst %s (case %q), not ε %s to analyst %s (case %q)",
				ErrCharge, c.QueryID, FormatEpsilon(old.EpsilonMilli), old.Analyst, old.Case,
				FormatEpsilon(c.EpsilonMilli), c.Analyst, c.Case)
		}
		return nil
	}
	if b.byID == nil {
		b.byID = map[string]Charge{}
	}
	b.byID[c.QueryID] = c
	return nil
}

// Get returns the charge recorded for a query, if any.
func (b *Book) Get(queryID string) (Charge, bool) {
	c, ok := b.byID[queryID]
	return c, ok
}

// Len is the number of charges recorded.
func (b *Book) Len() int { return len(b.byID) }

// Charges returns the recorded charges ordered by time, then query id.
func (b *Book) Charges() []Charge {
	out := make([]Charge, 0, len(b.byID))
	for _, c := range b.byID {
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y Charge) int {
		if c := cmpInt(x.Time, y.Time); c != 0 {
			return c
		}
		return strings.Compare(x.QueryID, y.QueryID)
	})
	return out
}

// Prune removes the charges that no budget window of length keep ending
// at now or later counts (charged at or before now - keep) and returns how
// many it removed. keep should be the longest period of the policy
// versions the party may still apply (History.LongestPeriod). A pruned
// query added again is recorded again, and again outside every window.
func (b *Book) Prune(now time.Time, keep time.Duration) int {
	start := now.Add(-keep)
	n := 0
	for id, c := range b.byID {
		if !time.Unix(c.Time, 0).After(start) {
			delete(b.byID, id)
			n++
		}
	}
	return n
}

// bookFile is the book's JSON encoding.
type bookFile struct {
	Charges []Charge `json:"charges"`
}

// Encode returns the book as JSON, {"charges": [...]} in Charges order:
// the same bytes for the same charges.
func (b *Book) Encode() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(bookFile{Charges: b.Charges()}); err != nil {
		// Only strings and integers: cannot fail.
		panic(fmt.Sprintf("policy: encoding book: %v", err))
	}
	return buf.Bytes()
}

// DecodeBook parses Encode's output strictly (see internal/config); name
// is used in errors. Malformed or conflicting charges are errors wrapping
// ErrCharge; a charge repeated identically is kept once.
func DecodeBook(name string, data []byte) (*Book, error) {
	var f bookFile
	if err := config.Decode(name, data, &f); err != nil {
		return nil, fmt.Errorf("policy book: %w", err)
	}
	b := &Book{}
	for i, c := range f.Charges {
		if err := b.Add(c); err != nil {
			return nil, fmt.Errorf("%s: charge %d: %w", name, i+1, err)
		}
	}
	return b, nil
}
