package coordinator

import (
	"testing"
	"time"
)

// TestChainTimings: the chain's time splits into its opening, the first
// party's whole encryption (from when it had checked its header), each
// next party's tail after its predecessor and the opening, and the last
// party's packing.
func TestChainTimings(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	type phase struct {
		name string
		ms   int
	}
	for _, tc := range []struct {
		name          string
		opened, first int
		done          []int
		names         []string
		want          []phase
	}{
		{"three parties", 40, 15, []int{900, 950, 1200}, []string{"telecom", "bank", "utility"},
			[]phase{{"chain_open", 40}, {"chain.telecom", 885}, {"chain.bank", 50}, {"pack", 250}}},
		{"first party done before the chain is open", 60, 10, []int{30, 70, 100}, []string{"telecom", "bank", "utility"},
			[]phase{{"chain_open", 60}, {"chain.telecom", 20}, {"chain.bank", 10}, {"pack", 30}}},
		{"two parties", 10, 5, []int{500, 520}, []string{"bank", "utility"},
			[]phase{{"chain_open", 10}, {"chain.bank", 495}, {"pack", 20}}},
		{"one party packs itself", 5, 5, []int{300}, []string{"bank"},
			[]phase{{"chain_open", 5}, {"chain.bank", 295}}},
		{"a stream ending early counts zero", 10, 10, []int{500, 400, 700}, []string{"a", "b", "c"},
			[]phase{{"chain_open", 10}, {"chain.a", 490}, {"chain.b", 0}, {"pack", 200}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var done []time.Time
			for _, d := range tc.done {
				done = append(done, at(d))
			}
			var got timings
			got.addChain(start, at(tc.opened), at(tc.first), done, tc.names)
			if len(got) != len(tc.want) {
				t.Fatalf("%d phases %v, want %v", len(got), got, tc.want)
			}
			for i, w := range tc.want {
				if got[i].Name != w.name || time.Duration(got[i].Seconds*float64(time.Second)).Round(time.Millisecond) != time.Duration(w.ms)*time.Millisecond {
					t.Errorf("phase %d: %s %.3fs, want %s %dms", i, got[i].Name, got[i].Seconds, w.name, w.ms)
				}
			}
		})
	}
}
