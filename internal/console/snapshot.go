package console

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/plan"
)

// Snapshot is one verified view of the ledger: everything the pages show
// comes from a Snapshot, and a Snapshot is only built from a log that
// verified.
type Snapshot struct {
	Origin string
	// Size is the number of entries of the verified checkpoint.
	Size uint64
	Root []byte
	// Cosigners are the names of the parties whose cosignatures verified.
	Cosigners []string
	// VerifiedAt is when the log was verified.
	VerifiedAt time.Time
	// Copy says the log was read from a directory copy, not compared with
	// the checkpoint the profile verified before.
	Copy bool
	// Queries are in ledger order.
	Queries  []Query
	Policies []auditor.PolicyVersion
	Others   []Other
	Flags    []Flag
	Warnings []string
}

// Query is one QUERY entry, its outcome and its opened commitments.
type Query struct {
	auditor.QueryRow
	At           time.Time
	EpsilonMilli uint64
	// Entries are the query's QUERY, RESULT and FAILURE entries.
	Entries []EntryRef
	// PackedHash is the hex SHA-256 of the decrypted packed output (from
	// the RESULT), "" for none.
	PackedHash string
	// FailedParty is the party a FAILURE names.
	FailedParty string
	// Flags are the patterns this query is part of.
	Flags []Flag
	// PlanHash is the plan hash the QUERY entry commits; sql the opened
	// canonical SQL, unescaped ("" when not opened), which the query page
	// compiles again to show the plan per institution.
	PlanHash [32]byte
	sql      string
	// limits are what the plan was made for: the plaintext modulus of
	// the QUERY's parameter set and the union size of its epoch (the
	// EPOCH entry before it); zero when unknown. They decide the sums'
	// digit splits, so the recompiled plan needs them to match.
	limits plan.Limits
}

// EntryRef is one ledger entry of a query.
type EntryRef struct {
	Index uint64
	Type  string
	What  string
}

// Other is a CEREMONY, EPOCH or REVOCATION entry, described.
type Other struct {
	Index uint64
	Type  string
	What  string
	// Parts are the lines of detail (an epoch's set sizes).
	Parts []string
}

// Build makes a Snapshot from a verified log: rep, rows and all are what
// auditor.Profile.VerifyEntries returned. Every text from the ledger or
// the archive is passed through auditor.Escape (control and format
// characters, such as terminal escapes and bidirectional overrides, made
// visible), and html/template escapes the rest when a page is rendered.
// Pure.
func Build(rep audit.Report, rows []auditor.QueryRow, all []auditor.Logged, th Thresholds, at time.Time, copyOnly bool) *Snapshot {
	s := &Snapshot{Origin: rep.Origin, Size: rep.Size, Root: rep.Root, VerifiedAt: at, Copy: copyOnly,
		Policies: auditor.Policies(all, "", true), Warnings: rep.Warnings}
	for _, c := range rep.Cosignatures {
		s.Cosigners = append(s.Cosigners, esc(c.Name))
	}
	slices.Sort(s.Cosigners)
	byID := map[string]int{}
	union := map[uint64]uint64{} // epoch → union size, from EPOCH entries
	for _, r := range rows {
		q := Query{QueryRow: auditor.EscapeRow(r), sql: r.Query}
		q.At, _ = time.Parse(time.RFC3339, r.Time)
		byID[r.QueryID] = len(s.Queries) // the raw ID, as entries name it
		s.Queries = append(s.Queries, q)
	}
	for _, l := range all {
		switch v := l.Entry.(type) {
		case entry.Query:
			if i, ok := byID[v.QueryID]; ok {
				s.Queries[i].EpsilonMilli = v.EpsilonMilli
				s.Queries[i].PlanHash = v.PlanHash
				if set, err := mpc.LookupSet(v.ParamSet); err == nil && union[v.EpochID] > 0 {
					s.Queries[i].limits = plan.Limits{Modulus: set.T, Entities: union[v.EpochID]}
				}
				s.Queries[i].Entries = append(s.Queries[i].Entries, EntryRef{Index: l.Index, Type: "QUERY",
					What: fmt.Sprintf("plan %x, epoch %d, parameters %s", v.PlanHash[:8], v.EpochID, esc(v.ParamSet))})
			}
		case entry.Result:
			if i, ok := byID[v.QueryID]; ok {
				what := "parties " + esc(strings.Join(v.Parties, ", "))
				if v.PackedHash != (entry.Hash{}) {
					s.Queries[i].PackedHash = hex.EncodeToString(v.PackedHash[:])
				}
				s.Queries[i].Entries = append(s.Queries[i].Entries, EntryRef{Index: l.Index, Type: "RESULT", What: what})
			}
		case entry.Failure:
			if i, ok := byID[v.QueryID]; ok {
				s.Queries[i].FailedParty = esc(v.Party)
				s.Queries[i].Entries = append(s.Queries[i].Entries, EntryRef{Index: l.Index, Type: "FAILURE", What: esc(v.Reason)})
			}
		case entry.Ceremony:
			s.Others = append(s.Others, Other{Index: l.Index, Type: "CEREMONY", What: "key ceremony, parameters " + esc(v.ParamSet),
				Parts: []string{fmt.Sprintf("public key %x", v.PublicKeyHash), fmt.Sprintf("relinearisation key %x", v.RelinKeyHash),
					fmt.Sprintf("Galois keys %x", v.GaloisKeysHash)}})
		case entry.Epoch:
			union[v.EpochID] = v.UnionSize
			o := Other{Index: l.Index, Type: "EPOCH", What: fmt.Sprintf("epoch %d, union of %d identifiers (hash %x)", v.EpochID, v.UnionSize, v.UnionHash[:8])}
			if len(v.Changes) > 0 {
				o.What = fmt.Sprintf("incremental epoch %d on epoch %d, union of %d identifiers (hash %x)", v.EpochID, v.Previous, v.UnionSize, v.UnionHash[:8])
			}
			for _, p := range v.SetSizes {
				o.Parts = append(o.Parts, fmt.Sprintf("%s: %d identifiers", esc(p.Party), p.Size))
			}
			for _, c := range v.Changes {
				o.Parts = append(o.Parts, fmt.Sprintf("%s: %d added, %d removed", esc(c.Party), c.Added, c.Removed))
			}
			s.Others = append(s.Others, o)
		case entry.Revocation:
			s.Others = append(s.Others, Other{Index: l.Index, Type: "REVOCATION", What: fmt.Sprintf("warrant %x revoked", v.WarrantHash)})
		}
	}
	for i := range s.Policies {
		s.Policies[i].Party, s.Policies[i].Content = esc(s.Policies[i].Party), esc(s.Policies[i].Content)
	}
	for i := range s.Warnings {
		s.Warnings[i] = esc(s.Warnings[i])
	}
	s.Flags = Patterns(opened(s.Queries), th)
	s.attachFlags()
	return s
}

// esc is auditor.Escape, for ledger and archive text.
func esc(s string) string { return auditor.Escape(s) }

// opened is what the patterns read of the queries.
func opened(qs []Query) []Opened {
	out := make([]Opened, len(qs))
	for i, q := range qs {
		out[i] = Opened{ID: q.QueryID, Analyst: q.Analyst, Time: q.At, SQL: q.Query, EpsilonMilli: q.EpsilonMilli, Warrant: q.Warrant != ""}
	}
	return out
}

// attachFlags gives every query the flags that name it.
func (s *Snapshot) attachFlags() {
	idx := map[string]int{}
	for i, q := range s.Queries {
		idx[q.QueryID] = i
	}
	for _, f := range s.Flags {
		for _, id := range f.Queries {
			if i, ok := idx[id]; ok {
				s.Queries[i].Flags = append(s.Queries[i].Flags, f)
			}
		}
	}
}

// Query returns the query with this ID.
func (s *Snapshot) Query(id string) (Query, bool) {
	for _, q := range s.Queries {
		if q.QueryID == id {
			return q, true
		}
	}
	return Query{}, false
}

// Analysts lists the analysts that asked queries, sorted.
func (s *Snapshot) Analysts() []string {
	var out []string
	for _, q := range s.Queries {
		if !slices.Contains(out, q.Analyst) {
			out = append(out, q.Analyst)
		}
	}
	slices.Sort(out)
	return out
}

// Cases lists the case references of the queries' warrants, sorted.
func (s *Snapshot) Cases() []string {
	var out []string
	for _, q := range s.Queries {
		if q.Case != "" && !slices.Contains(out, q.Case) {
			out = append(out, q.Case)
		}
	}
	slices.Sort(out)
	return out
}

// Filter returns the queries that pass f, in ledger order.
func (s *Snapshot) Filter(f auditor.RowFilter) []Query {
	var out []Query
	for _, q := range s.Queries {
		if f.Match(q.QueryRow) {
			out = append(out, q)
		}
	}
	return out
}

// FlagsOf returns the flags about analyst's queries.
func (s *Snapshot) FlagsOf(analyst string) []Flag {
	var out []Flag
	for _, f := range s.Flags {
		if f.Analyst == analyst {
			out = append(out, f)
		}
	}
	return out
}
