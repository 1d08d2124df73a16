package cli

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormatVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"tagged clean", debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.modified", Value: "false"}}},
			"mpcq version v1.2.3 (commit 0123456789ab)"},
		{"pseudo modified", debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261130021205-c0c4d0d1e2f3+dirty"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "c0c4d0d1e2f3aaaa"}, {Key: "vcs.modified", Value: "true"}}},
			"mpcq version v0.0.0-20261130021205-c0c4d0d1e2f3+dirty (commit c0c4d0d1e2f3, modified)"},
		{"no vcs", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "mpcq version (devel) (commit unknown)"},
		{"empty version", debug.BuildInfo{}, "mpcq version (devel) (commit unknown)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatVersion("mpcq", &tc.bi); got != tc.want {
				t.Errorf("formatVersion = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVersionOfThisBinary(t *testing.T) {
	if got := Version("x"); !strings.HasPrefix(got, "x version ") {
		t.Errorf("Version = %q", got)
	}
}

func TestWantsVersion(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, false}, {[]string{"--version"}, true}, {[]string{"-version"}, true}, {[]string{"version"}, true},
		{[]string{"query", "--version"}, false}, {[]string{"--config", "x"}, false},
	} {
		if got := WantsVersion(tc.args); got != tc.want {
			t.Errorf("WantsVersion(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
