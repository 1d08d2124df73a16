package auditor

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/policy"
	"github.com/mpcq/mpcq/warrant"
)

// Logged is one ledger entry and its index.
type Logged struct {
	Index uint64
	Entry entry.Entry
}

// PolicyVersion is one POLICY entry of a party, for mpcaudit policies.
type PolicyVersion struct {
	Party   string `json:"party"`
	Version uint64 `json:"version"`
	Index   uint64 `json:"index"`
	// Hash is the hex SHA-256 of Content.
	Hash string `json:"hash"`
	// Content is the policy's canonical JSON.
	Content string `json:"content,omitempty"`
}

// Policies lists the POLICY entries of entries (of party only, when it is
// not empty) in ledger order. withContent keeps each policy's canonical
// content.
func Policies(entries []Logged, party string, withContent bool) []PolicyVersion {
	out := []PolicyVersion{}
	for _, l := range entries {
		p, ok := l.Entry.(entry.Policy)
		if !ok || (party != "" && p.Party != party) {
			continue
		}
		v := PolicyVersion{Party: p.Party, Version: p.Version, Index: l.Index, Hash: hex.EncodeToString(p.PolicyHash[:])}
		if withContent {
			v.Content = string(p.Content)
		}
		out = append(out, v)
	}
	return out
}

// Spending is the ε one analyst or one case spent with one party in the
// budget window, in thousandths.
type Spending struct {
	// Who is the analyst's identity URI or the case reference.
	Who string `json:"who"`
	// Spent is the ε of the window's answered queries (a RESULT logged).
	SpentMilli uint64 `json:"spent_milli"`
	// Limited says whether the policy sets a limit; LimitMilli and
	// RemainingMilli mean nothing otherwise.
	Limited        bool   `json:"limited"`
	LimitMilli     uint64 `json:"limit_milli"`
	RemainingMilli uint64 `json:"remaining_milli"`
	// PossiblyMilli is the ε of the window's queries with neither RESULT
	// nor FAILURE (running or interrupted): spent if the parties gave
	// their decryption shares.
	PossiblyMilli uint64 `json:"possibly_milli,omitempty"`
	// Queries are the IDs of the queries counted in SpentMilli, Possibly
	// those counted in PossiblyMilli, in ledger order.
	Queries  []string `json:"queries,omitempty"`
	Possibly []string `json:"possibly,omitempty"`
}

// PartyBudget is one party's budget window and what was spent in it.
type PartyBudget struct {
	Party string `json:"party"`
	// PolicyVersion and PolicyIndex identify the policy in force at the
	// report's time: the party's latest POLICY entry logged before it.
	PolicyVersion uint64 `json:"policy_version"`
	PolicyIndex   uint64 `json:"policy_index"`
	// Period is the budget's rolling window ("" for an unlimited budget);
	// the window is (WindowStart, At].
	Period      string    `json:"period,omitempty"`
	WindowStart time.Time `json:"window_start"`
	// Analysts and Cases are sorted by Who.
	Analysts []Spending `json:"analysts"`
	Cases    []Spending `json:"cases"`
}

// BudgetReport is what mpcaudit budget prints.
type BudgetReport struct {
	At      time.Time     `json:"at"`
	Parties []PartyBudget `json:"parties"`
	// Warnings are entries the computation could not use: a POLICY whose
	// content does not parse, an archived warrant that does not parse.
	Warnings []string `json:"warnings,omitempty"`
}

// BudgetFilter narrows a BudgetReport to one analyst and/or one case;
// a named analyst or case is listed even when it spent nothing.
type BudgetFilter struct {
	Analyst, Case string
}

// budgetQuery is a noisy QUERY and what the log says of it.
type budgetQuery struct {
	index    uint64
	q        entry.Query
	caseRef  string
	parties  []string // from the RESULT
	answered bool
	failed   bool
}

// Budget recomputes from the ledger the ε each analyst and each case spent
// with each party in the party's budget window ending at now, under the
// policy in force at now (the party's latest POLICY entry logged before
// the first QUERY dated after now, or the latest one). A query is charged
// its EpsilonMilli, at its QUERY time, to every party its RESULT names
// (the parties that gave decryption shares); a query that FAILED is not
// charged, and a query with neither RESULT nor FAILURE is listed as
// "possibly" spent with every party. A query's case is the Case of the
// warrant archived with it (records may be nil: no cases). entries must be
// in ledger order. Budget is pure.
func Budget(entries []Logged, records audit.Openings, now time.Time, filter BudgetFilter) BudgetReport {
	rep := BudgetReport{At: now.UTC(), Parties: []PartyBudget{}}
	// The policy in force at now: POLICY entries before the first QUERY
	// dated after now.
	cutoff := uint64(1<<64 - 1)
	for _, l := range entries {
		if q, ok := l.Entry.(entry.Query); ok && time.Unix(q.Time, 0).After(now) {
			cutoff = l.Index
			break
		}
	}
	type inForce struct {
		p     *policy.Policy
		entry entry.Policy
		index uint64
	}
	current := map[string]inForce{}
	var queries []*budgetQuery
	byID := map[string]*budgetQuery{}
	cases := map[entry.Hash]string{}
	for _, l := range entries {
		switch v := l.Entry.(type) {
		case entry.Policy:
			if l.Index >= cutoff {
				continue
			}
			p, err := policy.Parse(fmt.Sprintf("POLICY entry %d", l.Index), v.Content)
			if err != nil {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("entry %d: POLICY of party %s version %d not used: %v", l.Index, v.Party, v.Version, err))
				continue
			}
			current[v.Party] = inForce{p: p, entry: v, index: l.Index}
		case entry.Query:
			if v.EpsilonMilli == 0 {
				continue // exact queries are not charged
			}
			bq := &budgetQuery{index: l.Index, q: v}
			if v.WarrantHash != (entry.Hash{}) {
				c, ok := cases[v.WarrantHash]
				if !ok && records != nil {
					if c, ok = warrantCase(records, v.QueryID); ok {
						cases[v.WarrantHash] = c
					} else {
						rep.Warnings = append(rep.Warnings, fmt.Sprintf("entry %d: QUERY %s runs under warrant %x, which the archive does not hold: its case is unknown", l.Index, v.QueryID, v.WarrantHash[:8]))
					}
				}
				bq.caseRef = c
			}
			byID[v.QueryID] = bq
			queries = append(queries, bq)
		case entry.Result:
			if bq, ok := byID[v.QueryID]; ok {
				bq.answered, bq.parties = true, v.Parties
			}
		case entry.Failure:
			if bq, ok := byID[v.QueryID]; ok && !bq.answered {
				bq.failed = true
			}
		}
	}

	parties := make([]string, 0, len(current))
	for p := range current {
		parties = append(parties, p)
	}
	slices.Sort(parties)
	for _, name := range parties {
		cur := current[name]
		b := cur.p.Budget
		pb := PartyBudget{Party: name, PolicyVersion: cur.entry.Version, PolicyIndex: cur.index}
		// An unlimited budget has no window: count everything up to now.
		start := time.Unix(0, 0)
		if b.Limited() {
			pb.Period = policy.FormatPeriod(b.Period)
			start = now.Add(-b.Period)
		}
		pb.WindowStart = start.UTC()
		analysts := map[string]*Spending{}
		caseSp := map[string]*Spending{}
		get := func(m map[string]*Spending, who string, limit uint64) *Spending {
			s, ok := m[who]
			if !ok {
				s = &Spending{Who: who, Limited: limit != 0, LimitMilli: limit}
				m[who] = s
			}
			return s
		}
		if filter.Analyst != "" {
			get(analysts, filter.Analyst, b.PerAnalystMilli)
		}
		if filter.Case != "" {
			get(caseSp, filter.Case, b.PerCaseMilli)
		}
		for _, bq := range queries {
			t := time.Unix(bq.q.Time, 0)
			if !t.After(start) || t.After(now) || bq.failed {
				continue
			}
			if bq.answered && !slices.Contains(bq.parties, name) {
				continue
			}
			var targets []*Spending
			if filter.Analyst == "" || filter.Analyst == bq.q.Analyst {
				if filter.Case == "" || filter.Case == bq.caseRef {
					targets = append(targets, get(analysts, bq.q.Analyst, b.PerAnalystMilli))
				}
			}
			if bq.caseRef != "" && (filter.Case == "" || filter.Case == bq.caseRef) && (filter.Analyst == "" || filter.Analyst == bq.q.Analyst) {
				targets = append(targets, get(caseSp, bq.caseRef, b.PerCaseMilli))
			}
			for _, s := range targets {
				if bq.answered {
					s.SpentMilli = addMilli(s.SpentMilli, bq.q.EpsilonMilli)
					s.Queries = append(s.Queries, bq.q.QueryID)
				} else {
					s.PossiblyMilli = addMilli(s.PossiblyMilli, bq.q.EpsilonMilli)
					s.Possibly = append(s.Possibly, bq.q.QueryID)
				}
			}
		}
		pb.Analysts, pb.Cases = sortedSpending(analysts), sortedSpending(caseSp)
		rep.Parties = append(rep.Parties, pb)
	}
	return rep
}

// warrantCase returns the case of the warrant archived with a query.
func warrantCase(records audit.Openings, queryID string) (string, bool) {
	rec, err := records.Get(queryID)
	if err != nil || len(rec.Warrant) == 0 {
		return "", false
	}
	s, err := warrant.ParseSigned(rec.Warrant)
	if err != nil {
		return "", false
	}
	w, err := warrant.Parse(s.Warrant)
	if err != nil {
		return "", false
	}
	return w.Case, true
}

func sortedSpending(m map[string]*Spending) []Spending {
	out := make([]Spending, 0, len(m))
	for _, s := range m {
		if s.Limited {
			s.RemainingMilli = 0
			if s.SpentMilli < s.LimitMilli {
				s.RemainingMilli = s.LimitMilli - s.SpentMilli
			}
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Spending) int { return cmp.Compare(a.Who, b.Who) })
	return out
}

// addMilli adds two ε values, saturating at the largest uint64.
func addMilli(a, b uint64) uint64 {
	if a > ^uint64(0)-b {
		return ^uint64(0)
	}
	return a + b
}
