package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func sampleResult() benchResult {
	return benchResult{People: 1000, CeremonyS: 2, AlignmentS: 3, Runs: 5, BaselineEngine: "duckdb v1.5.6",
		QueryS: 1.0, BaselineS: 0.02, RatioToBaseline: 50, GroupQueryS: 1.5, GroupBaselineS: 0.03, GroupRatioToBaseline: 50, GroupToSpine: 1.5,
		OrQueryS: 0.8, OrBaselineS: 0.04, OrRatioToBaseline: 20,
		BytesPerParty: map[string]uint64{"bank": 1 << 20}, PeakRSSBytes: map[string]uint64{"bank": 300 << 20},
		PhasesS:    map[string]float64{"plan": 0.01, "ledger_query": 0.2, "chain.telecom": 0.5, "pack": 0.1, "analyst_decrypt": 0.002},
		phaseOrder: []string{"plan", "ledger_query", "chain.telecom", "pack", "analyst_decrypt"}}
}

// TestBenchJSON: the JSON keeps the fields callers read and adds the
// baseline's and the phases'; the map-join fields are gone.
func TestBenchJSON(t *testing.T) {
	b, err := json.Marshal(sampleResult())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key     string
		present bool
	}{
		{"people", true}, {"ceremony_s", true}, {"alignment_s", true}, {"runs", true},
		{"query_s", true}, {"group_query_s", true}, {"or_query_s", true}, {"group_to_spine", true},
		{"bytes_per_party", true}, {"peak_rss_bytes", true},
		{"baseline_engine", true}, {"baseline_s", true}, {"ratio_to_baseline", true},
		{"group_baseline_s", true}, {"group_ratio_to_baseline", true}, {"or_baseline_s", true}, {"or_ratio_to_baseline", true},
		{"phases_s", true}, {"waited_for_pools", true}, {"pool_hits", true}, {"pool_misses", true}, {"cpu_s_per_query", true},
		{"plaintext_s", false}, {"group_plaintext_s", false}, {"or_plaintext_s", false}, {"ratio", false}, {"phaseOrder", false},
	} {
		if _, ok := m[tc.key]; ok != tc.present {
			t.Errorf("field %s present %v, want %v", tc.key, ok, tc.present)
		}
	}
	if ph, _ := m["phases_s"].(map[string]any); ph["ledger_query"] != 0.2 {
		t.Errorf("phases_s %v", m["phases_s"])
	}
}

// TestBenchTable: the table names the engine, gives every ratio and the
// phases in the order they happen.
func TestBenchTable(t *testing.T) {
	var buf bytes.Buffer
	if err := printBench(&buf, sampleResult()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"duckdb v1.5.6", "50x", "20x", "1.50x the spine", "bytes sent by bank", "peak RSS bank"} {
		if !strings.Contains(out, want) {
			t.Errorf("table without %q:\n%s", want, out)
		}
	}
	last := -1
	for _, p := range sampleResult().phaseOrder {
		i := strings.Index(out, "  "+p+" ")
		if i < 0 || i < last {
			t.Errorf("phase %s missing or out of order:\n%s", p, out)
		}
		last = i
	}
}

// TestMedian: the median of odd and even counts, input untouched.
func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := append([]float64(nil), tc.in...)
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Errorf("median reordered its input: %v", tc.in)
			}
		}
	}
}
