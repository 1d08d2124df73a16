// Package metrics defines the daemons' Prometheus metrics and serves them.
// Each daemon builds its set on a registry it is given (no global state,
// nothing registered by init); the set's fields are what the daemon's code
// updates. Labels hold only bounded, public values: outcomes, reasons,
// phases, party names and policy rules; never a person identifier, a
// query's text, an analyst's name or a secret.
//
// It is not the daemons' readiness: that is the gRPC health service.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "mpcq"

// Outcomes of a query at the coordinator, label "outcome".
const (
	Answered = "answered"
	Refused  = "refused"
	Failed   = "failed"
)

// Phases of a query at the coordinator, label "phase".
const (
	PhaseCommit  = "commit"  // planning, admission and the QUERY entry
	PhaseChain   = "chain"   // the parties' chain of steps
	PhaseDecrypt = "decrypt" // decryption shares, combination, RESULT entry
)

// durationBuckets span a fast insecure test query (tens of ms) to a large
// secure one (tens of minutes), in seconds.
var durationBuckets = []float64{0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}

// Coordinator is the coordinator's metrics.
type Coordinator struct {
	// Queries counts finished queries by outcome (answered, refused,
	// failed) and reason (refused: policy, warrant, unsigned, busy,
	// too_large, invalid, not_ready; failed: party, coordinator, ledger,
	// analyst_cancel, timeout, shutdown; "" when answered).
	Queries *prometheus.CounterVec
	// PhaseSeconds is the duration of each phase of a query that reached it.
	PhaseSeconds *prometheus.HistogramVec
	// PartyBytes counts the ciphertext bytes each party sent.
	PartyBytes *prometheus.CounterVec
	// LedgerAppendSeconds is the time to record one ledger entry, every
	// party's cosignature included, by outcome (ok, error).
	LedgerAppendSeconds *prometheus.HistogramVec
	// CosignRefusals counts a party's refusals (or failures) to cosign a
	// checkpoint as a witness.
	CosignRefusals *prometheus.CounterVec
}

// NewCoordinator registers the coordinator's metrics, and the Go runtime
// and process collectors, on reg.
func NewCoordinator(reg prometheus.Registerer) (*Coordinator, error) {
	m := &Coordinator{
		Queries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "coordinator", Name: "queries_total",
			Help: "Queries finished, by outcome (answered, refused, failed) and reason."}, []string{"outcome", "reason"}),
		PhaseSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "coordinator", Name: "query_phase_seconds",
			Help: "Duration of a query's phases (commit, chain, decrypt).", Buckets: durationBuckets}, []string{"phase"}),
		PartyBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "coordinator", Name: "party_sent_bytes_total",
			Help: "Ciphertext bytes each party sent in answered queries."}, []string{"party"}),
		LedgerAppendSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "coordinator", Name: "ledger_append_seconds",
			Help: "Time to record one ledger entry with every party's cosignature, by outcome (ok, error).", Buckets: durationBuckets}, []string{"outcome"}),
		CosignRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "coordinator", Name: "cosign_refusals_total",
			Help: "Checkpoints a party refused, or failed, to cosign as the ledger's witness."}, []string{"party"}),
	}
	return m, register(reg, m.Queries, m.PhaseSeconds, m.PartyBytes, m.LedgerAppendSeconds, m.CosignRefusals)
}

// Party is a party daemon's metrics.
type Party struct {
	// Steps counts query steps by outcome (ok, refused, failed).
	Steps *prometheus.CounterVec
	// StepSeconds is the duration of a query step that ran.
	StepSeconds prometheus.Histogram
	// DecryptShares counts decryption share requests by outcome (sent,
	// refused, failed).
	DecryptShares *prometheus.CounterVec
	// AlignBlinded counts the elements this party blinded for record
	// alignment (its own and other parties'): the alignment's progress.
	AlignBlinded prometheus.Counter
	// PolicyRefusals counts the policy's refusals by rule.
	PolicyRefusals *prometheus.CounterVec
	// EncPoolHits counts the blocks this party, first in a chain,
	// encrypted with a precomputed encryption of zero from its pool;
	// EncPoolMisses those it encrypted afresh because the pool was empty
	// (or disabled). Misses rising: queries outrun the pool's refilling.
	EncPoolHits   prometheus.Counter
	EncPoolMisses prometheus.Counter
}

// NewParty registers a party's metrics, and the Go runtime and process
// collectors, on reg.
func NewParty(reg prometheus.Registerer) (*Party, error) {
	m := &Party{
		Steps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "party", Name: "query_steps_total",
			Help: "Query steps, by outcome (ok, refused, failed)."}, []string{"outcome"}),
		StepSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "party", Name: "query_step_seconds",
			Help: "Duration of a query step that ran.", Buckets: durationBuckets}),
		DecryptShares: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "party", Name: "decrypt_shares_total",
			Help: "Decryption share requests, by outcome (sent, refused, failed)."}, []string{"outcome"}),
		AlignBlinded: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "party", Name: "align_blinded_elements_total",
			Help: "Elements blinded for record alignment (this party's and the others')."}),
		PolicyRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "party", Name: "policy_refusals_total",
			Help: "Requests the party's policy refused, by rule."}, []string{"rule"}),
		EncPoolHits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "party", Name: "encryption_pool_hits_total",
			Help: "Blocks encrypted with a precomputed encryption of zero from the pool."}),
		EncPoolMisses: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "party", Name: "encryption_pool_misses_total",
			Help: "Blocks encrypted afresh because the encryption pool was empty or disabled."}),
	}
	return m, register(reg, m.Steps, m.StepSeconds, m.DecryptShares, m.AlignBlinded, m.PolicyRefusals, m.EncPoolHits, m.EncPoolMisses)
}

// PoolGauges registers the encryption pool's fill level on reg:
// mpcq_party_encryption_pool_ready (entries ready now) and
// mpcq_party_encryption_pool_size (its capacity; 0 without a pool), read
// from state at each scrape. A pool is full (ready = size) once the party
// has been idle long enough: what a first step's online encryption needs.
func PoolGauges(reg prometheus.Registerer, state func() (ready, size int)) error {
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "party", Name: "encryption_pool_ready",
		Help: "Encryptions of zero ready in the pool now."}, func() float64 { r, _ := state(); return float64(r) })
	size := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "party", Name: "encryption_pool_size",
		Help: "The encryption pool's capacity (encryption_pool_blocks; 0 without a pool)."}, func() float64 { _, n := state(); return float64(n) })
	for _, c := range []prometheus.Collector{ready, size} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	return nil
}

func register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	return nil
}

// Serve serves g's metrics at /metrics on addr (plain HTTP: put it on a
// private interface or behind the scraper's network policy; the values
// are counts and durations, no data) until ctx is done, then shuts the
// server down within grace. ready, if not nil, receives the bound address
// once listening.
func Serve(ctx context.Context, addr string, g prometheus.Gatherer, grace time.Duration, ready func(net.Addr)) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	if ready != nil {
		ready(lis.Addr())
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics server: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("metrics server shutdown: %w", err)
		}
		return nil
	}
}
