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
