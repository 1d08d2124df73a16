package chain_test

import (
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/plan"
)

// TestExplainPacking checks what EXPLAIN says about the circuit's shape:
// the chain order, the outputs, and that every total is packed into one
// ciphertext decrypted with one share per party.
func TestExplainPacking(t *testing.T) {
	params, err := mpc.NewParams(mpc.DefaultSetName)
	if err != nil {
		t.Fatal(err)
	}
	par := chain.Params{Name: params.Set.Name, Slots: params.Slots(), Modulus: params.T(),
		CtBytes: params.CiphertextSize, ShareLvl: mpc.DecryptLevel,
		Fresh:  func(n int) int { l, _ := params.FreshLevel(n); return l },
		Packed: func(k int) (int, int) { return params.PackedCount(k), params.PackKeySwitches(k) }}
	const from = ` FROM telecom JOIN bank USING (person_id) JOIN utility USING (person_id) WHERE telecom.flagged_calls_30d > 0 AND bank.cash_deposits_30d > 10000 AND utility.kwh_30d > 1000`
	for _, tc := range []struct {
		name, sql       string
		order           string
		outputs, totals int
		lastPerBlock    int
		packedSentence  string
	}{
		{"spine", `SELECT COUNT(*), SUM(bank.cash_deposits_30d)` + from, "telecom utility bank", 2, 2, 2,
			"packs the 2 total(s) into 1 ciphertext(s); every party sends 1 decryption share(s)"},
		{"ten groups", `SELECT utility.district, COUNT(*), SUM(bank.cash_deposits_30d)` + from + ` GROUP BY utility.district`, "telecom bank utility", 20, 20, 20,
			"packs the 20 total(s) into 1 ciphertext(s); every party sends 1 decryption share(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan.Parse(tc.sql, gen.Consortium())
			if err != nil {
				t.Fatal(err)
			}
			e, err := chain.Explain(p, gen.Consortium(), par, 1_000_000)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(e.Order, " "); got != tc.order {
				t.Errorf("order %q, want %q", got, tc.order)
			}
			if e.Layout.N() != tc.outputs || e.Totals != tc.totals || e.Shares != 1 {
				t.Errorf("outputs %d, totals %d, shares %d; want %d, %d, 1", e.Layout.N(), e.Totals, e.Shares, tc.outputs, tc.totals)
			}
			if last := e.Parties[len(e.Parties)-1]; last.PerBlock != tc.lastPerBlock || last.Sent != tc.lastPerBlock {
				t.Errorf("last party: %d per block, %d sent; want %d", last.PerBlock, last.Sent, tc.lastPerBlock)
			}
			if e.Blocks != 62 {
				t.Errorf("%d blocks for a million people, want 62", e.Blocks)
			}
			if s := e.String(); !strings.Contains(s, tc.packedSentence) {
				t.Errorf("explanation does not say %q:\n%s", tc.packedSentence, s)
			}
		})
	}
}
