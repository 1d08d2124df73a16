package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRegistration: each daemon's set registers on a fresh registry with
// the runtime and process collectors, a second registration on the same
// registry fails (no silent duplicates), and two registries are
// independent (no global state).
func TestRegistration(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(prometheus.Registerer) error
		want []string
	}{
		{"coordinator", func(r prometheus.Registerer) error {
			m, err := NewCoordinator(r)
			if err == nil {
				m.Queries.WithLabelValues(Refused, "policy").Inc()
				m.PhaseSeconds.WithLabelValues(PhaseChain).Observe(1)
				m.PartyBytes.WithLabelValues("bank").Add(10)
				m.LedgerAppendSeconds.WithLabelValues("ok").Observe(0.1)
				m.CosignRefusals.WithLabelValues("bank").Inc()
			}
			return err
		}, []string{"mpcq_coordinator_queries_total", "mpcq_coordinator_query_phase_seconds", "mpcq_coordinator_party_sent_bytes_total",
			"mpcq_coordinator_ledger_append_seconds", "mpcq_coordinator_cosign_refusals_total"}},
		{"party", func(r prometheus.Registerer) error {
			m, err := NewParty(r)
			if err == nil {
				m.Steps.WithLabelValues("ok").Inc()
				m.DecryptShares.WithLabelValues("sent").Inc()
				m.PolicyRefusals.WithLabelValues("budget").Inc()
			}
			return err
		}, []string{"mpcq_party_query_steps_total", "mpcq_party_query_step_seconds", "mpcq_party_decrypt_shares_total",
			"mpcq_party_align_blinded_elements_total", "mpcq_party_policy_refusals_total",
			"mpcq_party_encryption_pool_hits_total", "mpcq_party_encryption_pool_misses_total"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			if err := tc.make(reg); err != nil {
				t.Fatal(err)
			}
			if err := tc.make(reg); err == nil {
				t.Error("registering twice on one registry succeeded")
			}
			if err := tc.make(prometheus.NewRegistry()); err != nil {
				t.Errorf("a second registry: %v", err)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, mf := range mfs {
				have[mf.GetName()] = true
			}
			for _, name := range append(tc.want, "go_goroutines", "process_cpu_seconds_total") {
				if !have[name] {
					t.Errorf("%s not gathered", name)
				}
			}
		})
	}
}

// TestServeScrape: counters moved show in a scrape of /metrics.
func TestServeScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewParty(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Steps.WithLabelValues("ok").Inc()
	m.PolicyRefusals.WithLabelValues("budget").Add(2)
	m.AlignBlinded.Add(300)
	m.StepSeconds.Observe(0.2)
	if got := testutil.ToFloat64(m.PolicyRefusals.WithLabelValues("budget")); got != 2 {
		t.Errorf("policy refusals = %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, "127.0.0.1:0", reg, time.Second, func(a net.Addr) { addrc <- a }) }()
	addr := <-addrc
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`mpcq_party_query_steps_total{outcome="ok"} 1`,
		`mpcq_party_policy_refusals_total{rule="budget"} 2`,
		`mpcq_party_align_blinded_elements_total 300`,
		`mpcq_party_query_step_seconds_count 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
