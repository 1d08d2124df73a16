package chain_test

import (
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/plan"
)

// Wide is a legal GROUP BY over the demo schema with 1,800 outputs at the
// last party: 10 × 10 districts, six sums, three terms (an OR across two
// parties). It is the query that took 2.8 GB at the last party and 2.0 GB
// at the coordinator before queries were bounded.
const Wide = `SELECT telecom.district, bank.district, COUNT(*), SUM(bank.balance), SUM(bank.cash_deposits_30d), SUM(bank.transfers_abroad_30d), SUM(bank.accounts), SUM(telecom.calls_30d)
	FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d > 10 OR bank.accounts > 2 GROUP BY telecom.district, bank.district`

// TestMemoryModel checks the planned peak memory of each process on three
// plans: one group, ten districts, and the 1,800-output GROUP BY. The
// figures follow from ciphertext sizes at logN 14 (256 KiB per level).
func TestMemoryModel(t *testing.T) {
	params, err := mpc.NewParams(mpc.DefaultSetName)
	if err != nil {
		t.Fatal(err)
	}
	const from3 = ` FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) WHERE telecom.flagged_calls_30d > 0 AND bank.cash_deposits_30d > 10000 AND utility.kwh_30d > 1000`
	const MiB = 1 << 20
	for _, tc := range []struct {
		name, sql  string
		lastSums   int
		process    string // the process with the peak
		lo, hi     int64  // bounds on the peak, bytes
		coordLo    int64
		refusedAt1 bool // above the default cap of 1 GiB
	}{
		{"single group", `SELECT COUNT(*), SUM(bank.cash_deposits_30d)` + from3, 2, "", 5 * MiB, 80 * MiB, 2 * MiB, false},
		{"ten districts", `SELECT utility.district, COUNT(*), SUM(bank.cash_deposits_30d)` + from3 + ` GROUP BY utility.district`, 20, "", 10 * MiB, 160 * MiB, 20 * MiB, false},
		// 2 workers × 1,800 sums × 768 KiB = 2.6 GiB of running sums, then
		// 1,800 × 512 KiB rescaled and as many marshalled: 4.4 GiB, then
		// the 600 combined totals and the packed ciphertext: 4.7 GiB. The
		// coordinator holds only the packed output and relayed messages.
		{"1,800 outputs", Wide, 1800, "last party bank", 4800 * MiB, 5400 * MiB, 16 * MiB, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan.Parse(tc.sql, gen.Consortium())
			if err != nil {
				t.Fatal(err)
			}
			e, err := chain.Explain(p, gen.Consortium(), chain.ParamsOf(params, 2), 100_000)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Parties[len(e.Parties)-1].PerBlock; got != tc.lastSums {
				t.Fatalf("last party sends %d sums, want %d", got, tc.lastSums)
			}
			if len(e.Memory) != len(e.Parties)+1 || e.Memory[len(e.Memory)-1].Process != "coordinator" {
				t.Fatalf("memory figures: %v", e.Memory)
			}
			peak := e.Peak()
			if peak.Bytes < tc.lo || peak.Bytes > tc.hi || (tc.process != "" && peak.Process != tc.process) {
				t.Errorf("peak %s, want %s between %d and %d MiB", peak, tc.process, tc.lo/MiB, tc.hi/MiB)
			}
			if c := e.Memory[len(e.Memory)-1]; c.Bytes < tc.coordLo {
				t.Errorf("coordinator %s, want at least %d MiB", c, tc.coordLo/MiB)
			}
			if refused := peak.Bytes > chain.DefaultMaxQueryMemoryMB<<20; refused != tc.refusedAt1 {
				t.Errorf("refused at the default cap: %v, want %v", refused, tc.refusedAt1)
			}
			s := e.String()
			if want := map[bool]string{true: "WOULD BE REFUSED", false: "this query fits"}[tc.refusedAt1]; !strings.Contains(s, want) || !strings.Contains(s, "planned peak memory") {
				t.Errorf("EXPLAIN does not say %q:\n%s", want, s)
			}
		})
	}
}

// TestMemoryModelScales: the last party's figure grows with its workers
// and its sums, the first party's with the people (its vectors).
func TestMemoryModelScales(t *testing.T) {
	base := chain.StepShape{Last: true, Workers: 2, Entities: 1000, Vectors: 3, In: 10, Out: 100, InBytes: 768 << 10, OutBytes: 768 << 10, SumBytes: 512 << 10}
	more := base
	more.Workers = 4
	if more.Bytes()-base.Bytes() < 2*100*768<<10 {
		t.Errorf("two more workers add %d bytes, want at least two sets of sums", more.Bytes()-base.Bytes())
	}
	first := chain.StepShape{First: true, Workers: 2, Entities: 1_000_000, Vectors: 10, Out: 10, OutBytes: 1 << 20}
	if got := first.Bytes(); got < 80_000_000 {
		t.Errorf("ten vectors of a million people: %d bytes, want at least 80 MB", got)
	}
	if chain.Thousands(18900) != "18,900" || chain.Thousands(7) != "7" || chain.HumanBytes(3<<29) != "1.5 GiB" {
		t.Errorf("formatting: %s %s %s", chain.Thousands(18900), chain.Thousands(7), chain.HumanBytes(3<<29))
	}
}
