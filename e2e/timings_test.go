package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/analyst"
)

// TestQueryTimings: a query's result carries its phases, as mpcdemo bench
// reports them: the coordinator's, in order, with one entry per party of
// the chain (the last one's is the packing), then the analyst's
// decryption; they fit in the query's wall-clock time.
func TestQueryTimings(t *testing.T) {
	l, _ := startCluster(t, 2000)
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	for _, tc := range []struct {
		name, sql string
		parties   int
	}{
		{"three parties", `SELECT COUNT(*), SUM(bank.cash_deposits_30d) FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id)
			WHERE telecom.flagged_calls_30d > 0 AND bank.cash_deposits_30d > 10000 AND utility.kwh_30d > 1000`, 3},
		{"one party packs itself", `SELECT COUNT(*) FROM bank WHERE bank.accounts > 1`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res, err := p.Query(context.Background(), client, analyst.Request{SQL: tc.sql}, nil)
			if err != nil {
				t.Fatal(err)
			}
			wall := time.Since(start).Seconds()
			if len(res.Chain) != tc.parties {
				t.Fatalf("chain %v, want %d parties", res.Chain, tc.parties)
			}
			want := []string{"plan", "queued", "ledger_query", "chain_open"}
			for i, n := range res.Chain {
				if i > 0 && i == len(res.Chain)-1 {
					want = append(want, "pack")
				} else {
					want = append(want, "chain."+n)
				}
			}
			want = append(want, "decrypt_shares", "combine", "ledger_result", analyst.PhaseDecrypt)
			var names []string
			got := map[string]float64{}
			sum := 0.0
			for _, tm := range res.Timings {
				names = append(names, tm.Name)
				got[tm.Name] = tm.Seconds
				sum += tm.Seconds
				if tm.Seconds < 0 || tm.Seconds > wall {
					t.Errorf("phase %s: %.4fs, the whole query took %.4fs", tm.Name, tm.Seconds, wall)
				}
			}
			if !slices.Equal(names, want) {
				t.Fatalf("phases %v, want %v", names, want)
			}
			for _, n := range []string{"ledger_query", "ledger_result", "chain." + res.Chain[0], "decrypt_shares", analyst.PhaseDecrypt} {
				if got[n] <= 0 {
					t.Errorf("phase %s took %.6fs: not measured", n, got[n])
				}
			}
			// The first party's encryption overlaps the chain's opening;
			// without either, the phases follow one another.
			first := got["chain."+res.Chain[0]]
			if sum-first > wall || sum-got["chain_open"] > wall {
				t.Errorf("phases add up to %.4fs (without the first party %.4fs, without the opening %.4fs), the query took %.4fs",
					sum, sum-first, sum-got["chain_open"], wall)
			}
		})
	}
}
