package policy

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func version(t *testing.T, v int64, party, period string) *Policy {
	t.Helper()
	p, err := Parse("p.json", fmt.Appendf(nil, `{"version": %d, "party": %q, "rules": [{"name": "r", "analysts": ["*"], "max_epsilon": 1}],
		"budget": {"period": %q, "per_analyst": 1}}`, v, party, period))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHistory(t *testing.T) {
	var h History
	if _, ok := h.At(100); ok {
		t.Fatal("empty history has a policy")
	}
	if _, ok := h.Latest(); ok {
		t.Fatal("empty history has a latest policy")
	}
	v1, v2, v5 := version(t, 1, "bank", "24h"), version(t, 2, "bank", "30d"), version(t, 5, "bank", "1h")
	for _, v := range []Version{{v1, 10}, {v2, 20}, {v5, 21}} {
		if err := h.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		index uint64
		want  *Policy // nil: none in force
	}{
		{0, nil}, {9, nil},
		{10, nil}, // the POLICY entry itself: not yet in force
		{11, v1}, {19, v1},
		{20, v1}, // a query at the new version's own index: the old one
		{21, v2}, // committed right after version 2's entry
		{22, v5}, {1 << 40, v5},
	} {
		got, ok := h.At(tc.index)
		if ok != (tc.want != nil) || got != tc.want {
			t.Errorf("At(%d) = version %v, want %v", tc.index, got, tc.want)
		}
	}
	if p, _ := h.Latest(); p != v5 {
		t.Errorf("latest %d", p.Version)
	}
	if d := h.LongestPeriod(); d != 30*24*time.Hour {
		t.Errorf("longest period %v", d)
	}
	if len(h.Versions()) != 3 {
		t.Errorf("versions %d", len(h.Versions()))
	}
	for name, v := range map[string]Version{
		"index not after":      {version(t, 6, "bank", "1h"), 21},
		"version not after":    {version(t, 5, "bank", "1h"), 30},
		"another party":        {version(t, 6, "telecom", "1h"), 30},
		"no policy":            {nil, 40},
		"older index, newer v": {version(t, 7, "bank", "1h"), 3},
	} {
		if err := h.Add(v); !errors.Is(err, ErrHistory) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}
