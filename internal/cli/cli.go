// Package cli holds what the command-line tools share: the -o table|json
// flag and JSON writer, the output stream switch, the checks that turn
// mistakes cobra would let pass (a one-dash long flag, an unknown shell,
// an unknown help topic) into usage errors, and --version.
package cli
