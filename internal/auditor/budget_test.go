package auditor

import (
	"crypto/sha256"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/policy"
	"github.com/mpcq/mpcq/warrant"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

const (
	alice = "mpcq://analyst/alice"
	bob   = "mpcq://analyst/bob"
)

func policyEntry(t *testing.T, party string, version int, period string, perAnalyst, perCase string) entry.Policy {
	t.Helper()
	p, err := policy.Parse("test", fmt.Appendf(nil, `{"version": %d, "party": %q, "rules": [{"name": "r", "analysts": ["*"], "max_epsilon": 1}],
		"budget": {"period": %q, "per_analyst": %s, "per_case": %s}}`, version, party, period, perAnalyst, perCase))
	if err != nil {
		t.Fatal(err)
	}
	c := p.Canonical()
	return entry.Policy{Party: party, Version: uint64(version), PolicyHash: sha256.Sum256(c), Content: c}
}

// warrantFile is a signed warrant of caseRef.
func warrantFile(t *testing.T, caseRef string) []byte {
	t.Helper()
	ca, err := pki.NewCA("test CA", t0.Add(-72*time.Hour), 200*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, keyPEM, err := ca.Issue(pki.RoleAuthorizer, "judge", nil, t0.Add(-72*time.Hour), 150*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.PrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	w, err := warrant.New(caseRef, []string{alice, bob}, warrant.Scope{Tables: []string{"bank"}}, t0.Add(-48*time.Hour), t0.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s, err := warrant.Sign(w, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	return s.Marshal()
}

type memRecords map[string]archive.Record

func (m memRecords) Get(id string) (archive.Record, error) {
	r, ok := m[id]
	if !ok {
		return archive.Record{}, fmt.Errorf("%s: %w", id, archive.ErrNotFound)
	}
	return r, nil
}

func q(id, analyst string, eps uint64, ago time.Duration, w entry.Hash) entry.Query {
	return entry.Query{QueryID: id, Analyst: analyst, ParamSet: "p", Time: t0.Add(-ago).Unix(), EpsilonMilli: eps, WarrantHash: w}
}

func res(id string, parties ...string) entry.Result {
	return entry.Result{QueryID: id, Parties: parties}
}

func TestBudget(t *testing.T) {
	wf := warrantFile(t, "CASE-1")
	wh := sha256.Sum256(wf)
	records := memRecords{"w1": {QueryID: "w1", Warrant: wf}, "w2": {QueryID: "w2", Warrant: wf}}
	bank1 := policyEntry(t, "bank", 1, "24h", "10", "30")
	bank2 := policyEntry(t, "bank", 2, "1h", "2", "3")
	tel1 := policyEntry(t, "telecom", 1, "24h", "5", "0")
	h := time.Hour
	sp := func(who string, spent, limit uint64, queries ...string) Spending {
		s := Spending{Who: who, SpentMilli: spent, Limited: limit != 0, LimitMilli: limit, Queries: queries}
		if limit > spent {
			s.RemainingMilli = limit - spent
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		entries []entry.Entry
		records memRecords
		now     time.Time
		filter  BudgetFilter
		want    []PartyBudget
	}{
		{name: "no policy, no parties", entries: []entry.Entry{q("a", alice, 1000, h, entry.Hash{}), res("a", "bank")}, now: t0, want: []PartyBudget{}},
		{name: "answered queries are charged to the decrypting parties", now: t0,
			entries: []entry.Entry{bank1, tel1, q("a", alice, 1000, h, entry.Hash{}), res("a", "bank"), q("b", alice, 500, 2*h, entry.Hash{}), res("b", "bank", "telecom")},
			want: []PartyBudget{
				{Party: "bank", PolicyVersion: 1, PolicyIndex: 0, Period: "1d", WindowStart: t0.Add(-24 * h), Analysts: []Spending{sp(alice, 1500, 10000, "a", "b")}, Cases: []Spending{}},
				{Party: "telecom", PolicyVersion: 1, PolicyIndex: 1, Period: "1d", WindowStart: t0.Add(-24 * h), Analysts: []Spending{sp(alice, 500, 5000, "b")}, Cases: []Spending{}},
			}},
		{name: "failed cost nothing, open is possibly spent, exact is free", now: t0,
			entries: []entry.Entry{bank1, q("f", alice, 1000, h, entry.Hash{}), entry.Failure{QueryID: "f", Reason: "refused"},
				q("o", alice, 700, h, entry.Hash{}), q("x", alice, 0, h, entry.Hash{}), res("x", "bank")},
			want: []PartyBudget{{Party: "bank", PolicyVersion: 1, Period: "1d", WindowStart: t0.Add(-24 * h),
				Analysts: []Spending{{Who: alice, Limited: true, LimitMilli: 10000, RemainingMilli: 10000, PossiblyMilli: 700, Possibly: []string{"o"}}}, Cases: []Spending{}}}},
		{name: "the window: older charges and later queries do not count", now: t0,
			entries: []entry.Entry{bank1, q("old", alice, 1000, 24*h, entry.Hash{}), res("old", "bank"), q("in", alice, 1000, 24*h-time.Second, entry.Hash{}), res("in", "bank")},
			want:    []PartyBudget{{Party: "bank", PolicyVersion: 1, Period: "1d", WindowStart: t0.Add(-24 * h), Analysts: []Spending{sp(alice, 1000, 10000, "in")}, Cases: []Spending{}}}},
		{name: "the latest policy sets the period and limits", now: t0,
			entries: []entry.Entry{bank1, q("a", alice, 1000, 2*h, entry.Hash{}), res("a", "bank"), bank2, q("b", alice, 2500, 30*time.Minute, entry.Hash{}), res("b", "bank")},
			want:    []PartyBudget{{Party: "bank", PolicyVersion: 2, PolicyIndex: 3, Period: "1h0m0s", WindowStart: t0.Add(-h), Analysts: []Spending{sp(alice, 2500, 2000, "b")}, Cases: []Spending{}}}},
		{name: "--at: the policy in force then and queries up to then", now: t0.Add(-90 * time.Minute),
			entries: []entry.Entry{bank1, q("a", alice, 1000, 2*h, entry.Hash{}), res("a", "bank"), q("c", bob, 0, 80*time.Minute, entry.Hash{}),
				bank2, q("b", alice, 2500, 30*time.Minute, entry.Hash{}), res("b", "bank")},
			want: []PartyBudget{{Party: "bank", PolicyVersion: 1, Period: "1d", WindowStart: t0.Add(-90*time.Minute - 24*h), Analysts: []Spending{sp(alice, 1000, 10000, "a")}, Cases: []Spending{}}}},
		{name: "cases from the archived warrants", now: t0, records: records,
			entries: []entry.Entry{bank1, q("w1", alice, 1000, h, wh), res("w1", "bank"), q("w2", bob, 2000, h, wh), res("w2", "bank")},
			want: []PartyBudget{{Party: "bank", PolicyVersion: 1, Period: "1d", WindowStart: t0.Add(-24 * h),
				Analysts: []Spending{sp(alice, 1000, 10000, "w1"), sp(bob, 2000, 10000, "w2")}, Cases: []Spending{sp("CASE-1", 3000, 30000, "w1", "w2")}}}},
		{name: "filter by analyst and case", now: t0, records: records, filter: BudgetFilter{Analyst: bob, Case: "CASE-2"},
			entries: []entry.Entry{bank1, q("w1", alice, 1000, h, wh), res("w1", "bank"), q("w2", bob, 2000, h, wh), res("w2", "bank")},
			want: []PartyBudget{{Party: "bank", PolicyVersion: 1, Period: "1d", WindowStart: t0.Add(-24 * h),
				Analysts: []Spending{sp(bob, 0, 10000)}, Cases: []Spending{sp("CASE-2", 0, 30000)}}}},
		{name: "unlimited per-case budget", now: t0, records: records,
			entries: []entry.Entry{tel1, q("w1", alice, 1000, h, wh), res("w1", "telecom")},
			want: []PartyBudget{{Party: "telecom", PolicyVersion: 1, Period: "1d", WindowStart: t0.Add(-24 * h),
				Analysts: []Spending{sp(alice, 1000, 5000, "w1")}, Cases: []Spending{sp("CASE-1", 1000, 0, "w1")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged []Logged
			for i, e := range tc.entries {
				logged = append(logged, Logged{Index: uint64(i), Entry: e})
			}
			var recs memRecords
			if tc.records != nil {
				recs = tc.records
			}
			got := Budget(logged, recs, tc.now, tc.filter)
			if len(got.Warnings) != 0 {
				t.Errorf("warnings: %q", got.Warnings)
			}
			if !reflect.DeepEqual(got.Parties, tc.want) {
				t.Fatalf("Budget =\n%+v\nwant\n%+v", got.Parties, tc.want)
			}
		})
	}
}

// A query under a warrant the archive lacks has no case, with a warning.
func TestBudgetUnknownWarrant(t *testing.T) {
	logged := []Logged{{0, policyEntry(t, "bank", 1, "24h", "10", "30")}, {1, q("a", alice, 1000, time.Hour, entry.Hash{1})}, {2, res("a", "bank")}}
	got := Budget(logged, memRecords{}, t0, BudgetFilter{})
	if len(got.Warnings) != 1 || len(got.Parties[0].Cases) != 0 || got.Parties[0].Analysts[0].SpentMilli != 1000 {
		t.Fatalf("Budget = %+v", got)
	}
}

func TestPolicies(t *testing.T) {
	b1, t1, b2 := policyEntry(t, "bank", 1, "24h", "1", "1"), policyEntry(t, "telecom", 1, "24h", "1", "1"), policyEntry(t, "bank", 2, "24h", "2", "1")
	logged := []Logged{{3, b1}, {5, t1}, {9, q("a", alice, 0, 0, entry.Hash{})}, {12, b2}}
	got := Policies(logged, "bank", false)
	if len(got) != 2 || got[0].Index != 3 || got[1].Version != 2 || got[1].Index != 12 || got[0].Content != "" || got[1].Hash == "" {
		t.Fatalf("Policies(bank) = %+v", got)
	}
	if all := Policies(logged, "", true); len(all) != 3 || all[1].Party != "telecom" || all[2].Content != string(b2.Content) {
		t.Fatalf("Policies = %+v", all)
	}
}
