package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/internal/table"
)

func TestRunWritesLoadableFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--people", "2000", "--seed", "5", "--out", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, &stderr)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout is not empty: %q", &stdout)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 6 {
		t.Errorf("want one summary line per file (6), got:\n%s", &stderr)
	}
	for _, want := range gen.Schemas() {
		s, err := table.ReadSchema(filepath.Join(dir, want.Name+".schema.json"))
		if err != nil {
			t.Fatalf("ReadSchema: %v", err)
		}
		csvPath := filepath.Join(dir, want.Name+".csv")
		d, err := table.LoadFile(csvPath, s)
		if err != nil {
			t.Fatalf("LoadFile: %v", err)
		}
		summary := csvPath + " (" + strconv.Itoa(d.Len()) + " rows"
		if !strings.Contains(stderr.String(), summary) {
			t.Errorf("stderr does not report %q:\n%s", summary, &stderr)
		}
	}
}

func TestRunIsDeterministic(t *testing.T) {
	dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b"), filepath.Join(t.TempDir(), "c")}
	seeds := []string{"9", "9", "10"}
	for i, d := range dirs {
		if code := run([]string{"--people", "1000", "--seed", seeds[i], "--out", d}, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
			t.Fatalf("run %d: exit %d", i, code)
		}
	}
	for _, s := range gen.Schemas() {
		for _, suffix := range []string{".csv", ".schema.json"} {
			name := s.Name + suffix
			a, _ := os.ReadFile(filepath.Join(dirs[0], name))
			b, _ := os.ReadFile(filepath.Join(dirs[1], name))
			c, _ := os.ReadFile(filepath.Join(dirs[2], name))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("%s: same seed gave different (or empty) files", name)
			}
			if suffix == ".csv" && bytes.Equal(a, c) {
				t.Errorf("%s: different seeds gave identical files", name)
			}
		}
	}
}

// TestRunUsageAndErrors: help exits 0 on stdout; an unknown flag, a bad
// value or a stray argument is refused with 2 and a pointer to --help,
// before anything is written; a directory that cannot be made is 1.
func TestRunUsageAndErrors(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	unwritten := filepath.Join(t.TempDir(), "unwritten")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // in stdout (help), or "" for nothing on stdout
		stderr string
	}{
		{"--help", []string{"--help"}, 0, "DIR/telecom.csv", ""},
		{"-h", []string{"-h"}, 0, "--people N", ""},
		{"help", []string{"help"}, 0, "Exit status: 0 ok", ""},
		{"help completion", []string{"help", "completion"}, 0, "mpcgen completion", ""},
		{"help of no command", []string{"help", "nosuch"}, 2, "", `unknown help topic "nosuch"`},
		{"completion --help", []string{"completion", "--help"}, 0, "mpcgen completion", ""},
		{"completion bash", []string{"completion", "bash"}, 0, "__start_mpcgen", ""},
		{"completion zsh", []string{"completion", "zsh"}, 0, "#compdef mpcgen", ""},
		{"completion fish", []string{"completion", "fish"}, 0, "complete -c mpcgen", ""},
		{"completion of an unknown shell", []string{"completion", "tcsh"}, 2, "", `unknown command "tcsh"`},
		{"no out", []string{"--people", "10"}, 2, "", "--out DIR is required"},
		{"zero people", []string{"--people", "0", "--out", unwritten}, 2, "", "--people 0 is out of range"},
		{"too many people", []string{"--people", "99999999999", "--out", unwritten}, 2, "", "out of range"},
		{"not a number", []string{"--people", "many", "--out", unwritten}, 2, "", `invalid argument "many" for "--people" flag`},
		{"unknown flag", []string{"--rows", "10", "--out", unwritten}, 2, "", "unknown flag: --rows"},
		{"single-dash unknown", []string{"-x", "--out", unwritten}, 2, "", "unknown shorthand flag: 'x'"},
		{"flag without value", []string{"--out"}, 2, "", "flag needs an argument: --out"},
		{"positional argument", []string{"--out", unwritten, "extra"}, 2, "", `unexpected argument "extra"`},
		{"mistyped completion", []string{"--out", unwritten, "complet"}, 2, "", "did you mean completion?"},
		{"out is a file", []string{"--people", "10", "--out", notADir}, 1, "", "cannot create output directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, &stderr)
			}
			if tc.stdout == "" && stdout.Len() != 0 || !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout does not hold %q:\n%s", tc.stdout, &stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tc.stderr, &stderr)
			}
			if tc.code == 2 && !strings.Contains(stderr.String(), "--help' for usage") {
				t.Errorf("a usage error without a pointer to --help:\n%s", &stderr)
			}
			if tc.code == 0 && stderr.Len() != 0 {
				t.Errorf("stderr of help: %q", &stderr)
			}
		})
	}
	if _, err := os.Stat(unwritten); !os.IsNotExist(err) {
		t.Errorf("a refused command line wrote %s (%v)", unwritten, err)
	}
}
