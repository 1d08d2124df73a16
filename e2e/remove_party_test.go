package e2e

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/analyst"
)

// A party removed from the coordinator's config leaves the consortium: the
// coordinator notices that its keys and alignment were made with a party
// it no longer has (whose share the collective key needs), runs a new
// ceremony and alignment among the parties left, and answers their
// queries; a query naming the removed party's table is refused.
func TestRemoveParty(t *testing.T) {
	l, cl := startCluster(t, 2000)
	ask := func(sql string) (*analyst.Result, error) {
		p, client, closeFn, err := l.Analyst()
		if err != nil {
			t.Fatal(err)
		}
		defer closeFn()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		return p.Query(ctx, client, analyst.Request{SQL: sql}, nil)
	}
	const pair = `SELECT COUNT(*), SUM(bank.cash_deposits_30d) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 0`
	before, err := ask(pair)
	if err != nil {
		t.Fatal(err)
	}
	readCeremony := func() (id string, parties []string) {
		var cs struct {
			ID      string   `json:"id"`
			Parties []string `json:"parties"`
		}
		b, err := os.ReadFile(l.Path("coordinator", "state", "ceremony.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &cs); err != nil {
			t.Fatal(err)
		}
		slices.Sort(cs.Parties)
		return cs.ID, cs.Parties
	}
	oldID, _ := readCeremony()

	if err := cl.Kill("coordinator"); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	b, err := os.ReadFile(l.CoordinatorConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, p := range cfg["parties"].([]any) {
		if p.(map[string]any)["name"] != "utility" {
			kept = append(kept, p)
		}
	}
	cfg["parties"] = kept
	delete(cfg["witnesses"].(map[string]any), "utility")
	b, err = json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.CoordinatorConfig(), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cl.StartCoordinator(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, l)

	newID, parties := readCeremony()
	if newID == oldID || !slices.Equal(parties, []string{"bank", "telecom"}) {
		t.Fatalf("ceremony %s of %v after removing utility; want a new one (not %s) of [bank telecom]", newID, parties, oldID)
	}
	after, err := ask(pair)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(before.Rows, after.Rows, slices.Equal[[]string]) {
		t.Errorf("telecom JOIN bank gave %v with three parties and %v with two", before.Rows, after.Rows)
	}
	_, err = ask(`SELECT COUNT(*) FROM telecom JOIN utility USING (person_id)`)
	if err == nil || !strings.Contains(err.Error(), "utility") {
		t.Errorf("a query over the removed party's table: %v, want a refusal naming utility", err)
	}
}
