package demo

import (
	"strings"
	"testing"
)

func TestParsePoolLevel(t *testing.T) {
	for _, tc := range []struct {
		text string
		want PoolLevel
		full bool
		err  string
	}{
		{"# TYPE mpcq_party_encryption_pool_ready gauge\nmpcq_party_encryption_pool_ready 12\n# TYPE mpcq_party_encryption_pool_size gauge\nmpcq_party_encryption_pool_size 128\n", PoolLevel{12, 128}, false, ""},
		{"mpcq_party_encryption_pool_ready 128\nmpcq_party_encryption_pool_size 128\n", PoolLevel{128, 128}, true, ""},
		{"mpcq_party_encryption_pool_ready 0\nmpcq_party_encryption_pool_size 0\n", PoolLevel{0, 0}, true, ""},
		{"mpcq_party_encryption_pool_size 128\n", PoolLevel{}, false, "pool_ready: missing"},
		{"mpcq_party_encryption_pool_ready{{ 1\n", PoolLevel{}, false, "reading metrics"},
	} {
		got, err := ParsePoolLevel(strings.NewReader(tc.text))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.text, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want || got.Full() != tc.full {
			t.Errorf("%q: %+v (full %v), %v; want %+v (full %v)", tc.text, got, got.Full(), err, tc.want, tc.full)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want float64
		err  bool
	}{
		{"4025 (partyd) S 1 4025 4025 0 -1 4194560 1 0 0 0 1234 56 0 0 39 19 8 0 100 0 0", 12.90, false},
		{"7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 100 200 0 0", 3, false},
		{"7 partyd S 1", 0, true},
		{"7 (x) S 1 2 3", 0, true},
		{"7 (x) S 1 2 3 4 5 6 7 8 9 10 x 1 0 0", 0, true},
	} {
		got, err := parseStatCPU(tc.stat)
		if (err != nil) != tc.err || (!tc.err && (got < tc.want-1e-9 || got > tc.want+1e-9)) {
			t.Errorf("%q: %v, %v; want %v (error %v)", tc.stat, got, err, tc.want, tc.err)
		}
	}
}

// FuzzParseStatCPU: any /proc stat text gives a non-negative CPU time or
// an error, never a panic.
func FuzzParseStatCPU(f *testing.F) {
	f.Add("4025 (partyd) S 1 4025 4025 0 -1 4194560 1 0 0 0 1234 56 0 0 39 19 8 0 100 0 0")
	f.Add("7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 100 200 0 0")
	f.Add(")")
	f.Fuzz(func(t *testing.T, stat string) {
		if c, err := parseStatCPU(stat); err == nil && c < 0 {
			t.Fatalf("%q: negative CPU time %v", stat, c)
		}
	})
}

// FuzzParsePoolLevel: any metrics text gives a level or an error, never a
// panic.
func FuzzParsePoolLevel(f *testing.F) {
	f.Add("mpcq_party_encryption_pool_ready 12\nmpcq_party_encryption_pool_size 128\n")
	f.Add("# TYPE mpcq_party_encryption_pool_ready counter\nmpcq_party_encryption_pool_ready 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		_, _ = ParsePoolLevel(strings.NewReader(text))
	})
}
