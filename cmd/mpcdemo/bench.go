package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/baseline"
	"github.com/mpcq/mpcq/internal/cli"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/schema"
)

// benchResult is what bench reports (-o json: these fields). Times are
// medians of Runs in seconds; each query's baseline is DuckDB running the
// same SQL text on the pooled CSVs in the same run.
type benchResult struct {
	People        int               `json:"people"`
	CeremonyS     float64           `json:"ceremony_s"`
	AlignmentS    float64           `json:"alignment_s"`
	Runs          int               `json:"runs"`
	BytesPerParty map[string]uint64 `json:"bytes_per_party"`
	PeakRSSBytes  map[string]uint64 `json:"peak_rss_bytes"`
	// BaselineEngine names the central database, e.g. "duckdb v1.4.3".
	BaselineEngine string `json:"baseline_engine"`
	// The spine query: three parties, one predicate each, COUNT and SUM.
	QueryS          float64 `json:"query_s"`
	BaselineS       float64 `json:"baseline_s"`
	RatioToBaseline float64 `json:"ratio_to_baseline"`
	// The same GROUP BY ten districts, and its time over the spine's.
	GroupQueryS          float64 `json:"group_query_s"`
	GroupBaselineS       float64 `json:"group_baseline_s"`
	GroupRatioToBaseline float64 `json:"group_ratio_to_baseline"`
	GroupToSpine         float64 `json:"group_to_spine"`
	// An OR across two institutions.
	OrQueryS          float64 `json:"or_query_s"`
	OrBaselineS       float64 `json:"or_baseline_s"`
	OrRatioToBaseline float64 `json:"or_ratio_to_baseline"`
	// WaitedForPools says the bench waited for the parties' encryption
	// pools to be full before each encrypted run (not --back-to-back);
	// PoolHits and PoolMisses count the first parties' blocks over all
	// timed runs: from the pool, or encrypted afresh.
	WaitedForPools bool   `json:"waited_for_pools"`
	PoolHits       uint64 `json:"pool_hits"`
	PoolMisses     uint64 `json:"pool_misses"`
	// CPUSPerQuery is each query's CPU time per process (user + system,
	// from /proc), the median over the runs: query name (spine, group,
	// or) → daemon → seconds, from the query's start to its answer. The
	// first party's includes the refill of its pool that starts when its
	// step ends (at nice 19, while the others finish the query); the
	// analyst's decryption, in the bench's own process, is not counted.
	// On one machine the processes share its cores, so a query's wall
	// time is bounded below by their sum over the cores; deployed, each
	// party has its own.
	CPUSPerQuery map[string]map[string]float64 `json:"cpu_s_per_query"`
	// PhasesS are the spine query's phases (coordinator.Phase* and
	// analyst.PhaseDecrypt), each the median over the runs.
	PhasesS map[string]float64 `json:"phases_s"`
	// phaseOrder is the order the phases happen in, for the table.
	phaseOrder []string
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// loadBaseline loads the layout's pooled CSVs into DuckDB (not timed).
func loadBaseline(ctx context.Context, l *demo.Layout) (*baseline.Engine, string, error) {
	e, err := baseline.Open(ctx)
	if err != nil {
		return nil, "", err
	}
	tables := map[string]schema.Table{}
	for _, t := range gen.Schemas() {
		tables[t.Name] = t
	}
	for _, name := range l.Parties {
		t, ok := tables[name]
		if !ok {
			e.Close()
			return nil, "", fmt.Errorf("party %s: no synthetic table of that name to load into DuckDB", name)
		}
		if err := e.LoadCSV(ctx, t, l.DataCSV(name)); err != nil {
			e.Close()
			return nil, "", err
		}
	}
	v, err := e.Version(ctx)
	if err != nil {
		e.Close()
		return nil, "", err
	}
	return e, v, nil
}

func cmdBench(ctx context.Context, o benchOptions, stdout io.Writer) error {
	l, cl, ph, err := up(ctx, o.common)
	if err != nil {
		return err
	}
	defer cl.Stop()
	p, client, closeFn, err := l.Analyst()
	if err != nil {
		return err
	}
	defer closeFn()
	logf("loading the pooled CSVs into DuckDB, the central-database baseline (not timed)")
	engine, version, err := loadBaseline(ctx, l)
	if err != nil {
		return err
	}
	defer engine.Close()
	r := benchResult{People: o.people, CeremonyS: ph.Ceremony.Seconds(), AlignmentS: ph.Alignment.Seconds(), Runs: o.runs,
		BytesPerParty: map[string]uint64{}, PeakRSSBytes: map[string]uint64{}, BaselineEngine: version, PhasesS: map[string]float64{}}
	r.WaitedForPools = !o.backToBack
	hits0, misses0, err := l.PoolCounters(ctx)
	if err != nil {
		return err
	}
	phases := map[string][]float64{}
	pids := cl.PIDs()
	r.CPUSPerQuery = map[string]map[string]float64{}
	for _, q := range baseline.Queries() {
		var qs, bs []float64
		cpu := map[string][]float64{}
		for i := 0; i < o.runs; i++ {
			// DuckDB first, while the daemons are idle (their pool
			// fillers done refilling after the previous run).
			want, took, err := engine.Query(ctx, q.SQL)
			if err != nil {
				return fmt.Errorf("%s query: %w", q.Name, err)
			}
			bs = append(bs, took.Seconds())
			if !o.backToBack {
				if _, err := l.WaitPoolsFull(ctx, 5*time.Minute); err != nil {
					return err
				}
			}
			cpu0 := cpuTimes(pids)
			start := time.Now()
			res, err := p.Query(ctx, client, analyst.Request{SQL: q.SQL}, nil)
			if err != nil {
				return fmt.Errorf("%s query: %w", q.Name, err)
			}
			qs = append(qs, time.Since(start).Seconds())
			for name, c := range cpuTimes(pids) {
				if c0, ok := cpu0[name]; ok {
					cpu[name] = append(cpu[name], c-c0)
				}
			}
			if err := baseline.Compare(res.Rows, want, q.Groups); err != nil {
				return fmt.Errorf("%s query: the encrypted answer %v is not DuckDB's %v: %w", q.Name, res.Rows, want, err)
			}
			if q.Name == "spine" {
				for j, n := range res.Chain {
					r.BytesPerParty[n] = res.BytesPerParty[j]
				}
				for _, t := range res.Timings {
					if _, seen := phases[t.Name]; !seen {
						r.phaseOrder = append(r.phaseOrder, t.Name)
					}
					phases[t.Name] = append(phases[t.Name], t.Seconds)
				}
			}
			logf("  %s run %d: encrypted %.3fs, %s %.4fs", q.Name, i+1, qs[i], version, bs[i])
		}
		r.CPUSPerQuery[q.Name] = map[string]float64{}
		for name, xs := range cpu {
			r.CPUSPerQuery[q.Name][name] = median(xs)
		}
		mq, mb := median(qs), median(bs)
		switch q.Name {
		case "spine":
			r.QueryS, r.BaselineS, r.RatioToBaseline = mq, mb, ratio(mq, mb)
		case "group":
			r.GroupQueryS, r.GroupBaselineS, r.GroupRatioToBaseline = mq, mb, ratio(mq, mb)
		case "or":
			r.OrQueryS, r.OrBaselineS, r.OrRatioToBaseline = mq, mb, ratio(mq, mb)
		}
	}
	for name, xs := range phases {
		r.PhasesS[name] = median(xs)
	}
	hits1, misses1, err := l.PoolCounters(ctx)
	if err != nil {
		return err
	}
	r.PoolHits, r.PoolMisses = hits1-hits0, misses1-misses0
	r.GroupToSpine = ratio(r.GroupQueryS, r.QueryS)
	for name, pid := range cl.PIDs() {
		if rss, err := demo.PeakRSS(pid); err == nil {
			r.PeakRSSBytes[name] = rss
		}
	}
	if o.output == cli.JSON {
		return cli.WriteJSONLine(stdout, r)
	}
	return printBench(stdout, r)
}

// cpuTimes reads every daemon's CPU seconds so far (those it cannot read
// are left out).
func cpuTimes(pids map[string]int) map[string]float64 {
	out := map[string]float64{}
	for name, pid := range pids {
		if c, err := demo.CPUSeconds(pid); err == nil {
			out[name] = c
		}
	}
	return out
}

func printBench(w io.Writer, r benchResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "people\t%d\n", r.People)
	fmt.Fprintf(tw, "key ceremony\t%.2f s\n", r.CeremonyS)
	fmt.Fprintf(tw, "record alignment\t%.2f s\n", r.AlignmentS)
	fmt.Fprintf(tw, "baseline\t%s on the pooled CSVs, the same SQL\n", r.BaselineEngine)
	mode := "back to back (--back-to-back)"
	if r.WaitedForPools {
		mode = "each after the encryption pools refilled (not timed)"
	}
	fmt.Fprintf(tw, "encrypted runs\t%s; first-party blocks from the pool %d, encrypted afresh %d\n", mode, r.PoolHits, r.PoolMisses)
	fmt.Fprintf(tw, "\nquery (median of %d)\tencrypted\tbaseline\tratio\t\n", r.Runs)
	fmt.Fprintf(tw, "spine: 3 parties, COUNT+SUM\t%.3f s\t%.4f s\t%.0fx\t\n", r.QueryS, r.BaselineS, r.RatioToBaseline)
	fmt.Fprintf(tw, "GROUP BY 10 districts\t%.3f s\t%.4f s\t%.0fx\t(%.2fx the spine)\n", r.GroupQueryS, r.GroupBaselineS, r.GroupRatioToBaseline, r.GroupToSpine)
	fmt.Fprintf(tw, "OR across institutions\t%.3f s\t%.4f s\t%.0fx\t\n", r.OrQueryS, r.OrBaselineS, r.OrRatioToBaseline)
	fmt.Fprintf(tw, "\nphases of the spine query (median)\t\t\t\t\n")
	for _, n := range r.phaseOrder {
		fmt.Fprintf(tw, "  %s\t%.4f s\t\t\t\n", n, r.PhasesS[n])
	}
	fmt.Fprintf(tw, "  (the first party's encryption overlaps chain_open; README, Performance)\t\t\t\t\n\n")
	for _, q := range []string{"spine", "group", "or"} {
		c := r.CPUSPerQuery[q]
		if len(c) == 0 {
			continue
		}
		fmt.Fprintf(tw, "CPU per %s query (median)\t", q)
		total := 0.0
		for _, n := range slices.Sorted(maps.Keys(c)) {
			fmt.Fprintf(tw, "%s %.2f s  ", n, c[n])
			total += c[n]
		}
		fmt.Fprintf(tw, "(%.2f s in all)\n", total)
	}
	for _, n := range sortedKeys(r.BytesPerParty) {
		fmt.Fprintf(tw, "bytes sent by %s\t%.1f MiB per query\n", n, float64(r.BytesPerParty[n])/(1<<20))
	}
	for _, n := range sortedKeys(r.PeakRSSBytes) {
		fmt.Fprintf(tw, "peak RSS %s\t%.0f MiB\n", n, float64(r.PeakRSSBytes[n])/(1<<20))
	}
	return tw.Flush()
}

func sortedKeys(m map[string]uint64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
