package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Pool metric names (metrics.PoolGauges).
const (
	poolReadyMetric  = "mpcq_party_encryption_pool_ready"
	poolSizeMetric   = "mpcq_party_encryption_pool_size"
	poolHitsMetric   = "mpcq_party_encryption_pool_hits_total"
	poolMissesMetric = "mpcq_party_encryption_pool_misses_total"
)

// PoolLevel is one party's encryption pool: entries ready and capacity.
type PoolLevel struct{ Ready, Size int }

// Full reports a pool with every entry ready (or no pool at all).
func (p PoolLevel) Full() bool { return p.Ready >= p.Size }

// metricValues reads the named unlabelled metrics (gauges, counters or
// untyped) from a Prometheus text exposition.
func metricValues(r io.Reader, names ...string) ([]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("reading metrics: %w", err)
	}
	out := make([]float64, len(names))
	for i, name := range names {
		f, ok := fams[name]
		if !ok || len(f.GetMetric()) != 1 {
			return nil, fmt.Errorf("metric %s: missing, or not one value", name)
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			out[i] = m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			out[i] = m.GetCounter().GetValue()
		case m.GetUntyped() != nil:
			out[i] = m.GetUntyped().GetValue()
		default:
			return nil, fmt.Errorf("metric %s: not a gauge or counter", name)
		}
	}
	return out, nil
}

// ParsePoolLevel reads a party's pool level from its Prometheus text
// exposition.
func ParsePoolLevel(r io.Reader) (PoolLevel, error) {
	v, err := metricValues(r, poolReadyMetric, poolSizeMetric)
	if err != nil {
		return PoolLevel{}, err
	}
	return PoolLevel{Ready: int(v[0]), Size: int(v[1])}, nil
}

// PoolCounters sums the parties' pool hits and misses so far (blocks a
// first step encrypted from the pool, or afresh).
func (l *Layout) PoolCounters(ctx context.Context) (hits, misses uint64, err error) {
	for _, name := range l.Parties {
		err := l.scrape(ctx, name, func(r io.Reader) error {
			v, err := metricValues(r, poolHitsMetric, poolMissesMetric)
			if err != nil {
				return err
			}
			hits, misses = hits+uint64(v[0]), misses+uint64(v[1])
			return nil
		})
		if err != nil {
			return 0, 0, err
		}
	}
	return hits, misses, nil
}

// scrape reads a party's /metrics with read.
func (l *Layout) scrape(ctx context.Context, party string, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+l.MetricsAddrs[party]+"/metrics", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("party %s metrics: %w", party, err)
	}
	defer resp.Body.Close()
	if err := read(resp.Body); err != nil {
		return fmt.Errorf("party %s: %w", party, err)
	}
	return nil
}

// PoolLevels scrapes every party's metrics for its encryption pool.
func (l *Layout) PoolLevels(ctx context.Context) (map[string]PoolLevel, error) {
	out := map[string]PoolLevel{}
	for _, name := range l.Parties {
		err := l.scrape(ctx, name, func(r io.Reader) error {
			p, err := ParsePoolLevel(r)
			out[name] = p
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// WaitPoolsFull waits until every party's encryption pool is full (the
// offline phase done: what a query's first step uses when the consortium
// has been idle), polling every 100 ms, for at most wait. It returns how
// long it waited; an error if the pools were not full in time.
func (l *Layout) WaitPoolsFull(ctx context.Context, wait time.Duration) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		levels, err := l.PoolLevels(ctx)
		if err != nil {
			return time.Since(start), err
		}
		full := true
		for _, p := range levels {
			full = full && p.Full()
		}
		if full {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("encryption pools not full after %s: %v", wait, levels)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
