package cli

import (
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
)

// Version is the line every binary prints for --version, read from the
// build information the Go toolchain embeds:
//
//	mpcq version v0.0.0-20261130021205-c0c4d0d1e2f3 (commit c0c4d0d1e2f3, modified)
//
// The module version is the tagged or pseudo-version ("(devel)" when the
// toolchain could not tell); the commit is vcs.revision shortened to 12
// hex digits, "modified" when vcs.modified says the work tree had
// uncommitted changes. A binary built without VCS information (go run, a
// copied source tree) says "commit unknown".
func Version(name string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return name + " version unknown (no build information)"
	}
	return formatVersion(name, bi)
}

// formatVersion is Version on given build information.
func formatVersion(name string, bi *debug.BuildInfo) string {
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	setting := func(key string) string {
		i := slices.IndexFunc(bi.Settings, func(s debug.BuildSetting) bool { return s.Key == key })
		if i < 0 {
			return ""
		}
		return bi.Settings[i].Value
	}
	commit := setting("vcs.revision")
	if commit == "" {
		commit = "unknown"
	} else if len(commit) > 12 {
		commit = commit[:12]
	}
	detail := []string{"commit " + commit}
	if setting("vcs.modified") == "true" {
		detail = append(detail, "modified")
	}
	return fmt.Sprintf("%s version %s (%s)", name, version, strings.Join(detail, ", "))
}

// WantsVersion reports whether args (a command's arguments, without the
// program name) ask for the version: a first argument of --version,
// -version or version. Commands check it before parsing anything else,
// so that --version works with or without a configuration.
func WantsVersion(args []string) bool {
	return len(args) > 0 && (args[0] == "--version" || args[0] == "-version" || args[0] == "version")
}
