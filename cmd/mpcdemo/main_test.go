package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// recorder stands in for the commands' work (setting up a consortium
// takes minutes) and records the options the command line gave.
type recorder struct {
	called string
	run    runOptions
	serve  common
	bench  benchOptions
	err    error
}

func (r *recorder) actions() actions {
	return actions{
		run: func(_ context.Context, o runOptions, _ io.Writer) error {
			r.called, r.run = "run", o
			return r.err
		},
		serve: func(_ context.Context, c common, _ io.Writer) error {
			r.called, r.serve = "serve", c
			return r.err
		},
		bench: func(ctx context.Context, o benchOptions, _ io.Writer) error {
			r.called, r.bench = "bench", o
			if r.err == nil {
				return nil
			}
			return errors.Join(r.err, ctx.Err())
		},
	}
}

func runCLI(ctx context.Context, r *recorder, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr, r.actions())
	return code, stdout.String(), stderr.String()
}

// TestHelp: help, --help and -h on every command exit 0 and explain it,
// running nothing.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Exit status"},
		{[]string{"--help"}, "Exit status"},
		{[]string{"-h"}, "Exit status"},
		{[]string{"help"}, "Exit status"},
		{[]string{"help", "bench"}, "DuckDB"},
		{[]string{"run", "--help"}, "--keep"},
		{[]string{"serve", "--help"}, "--dir"},
		{[]string{"serve", "-h"}, "--postgres-parties"},
		{[]string{"bench", "--help"}, "-o, --output"},
		{[]string{"completion", "--help"}, "bash"},
		{[]string{"completion", "bash"}, "mpcdemo"},
		{[]string{"completion", "zsh"}, "mpcdemo"},
	} {
		var r recorder
		code, out, errOut := runCLI(context.Background(), &r, tc.args...)
		if code != 0 || !strings.Contains(out, tc.want) || r.called != "" {
			t.Errorf("mpcdemo %s: exit %d, ran %q, stdout without %q\n%s%s", strings.Join(tc.args, " "), code, r.called, tc.want, out, errOut)
		}
	}
	// The deprecated --json stays out of the help; -o replaces it.
	var r recorder
	if _, out, _ := runCLI(context.Background(), &r, "bench", "--help"); strings.Contains(out, "--json") {
		t.Errorf("bench --help shows the deprecated --json:\n%s", out)
	}
}

// TestVersion: --version (and the old spellings) print the version.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"-version"}} {
		var r recorder
		code, out, _ := runCLI(context.Background(), &r, args...)
		if code != 0 || !strings.HasPrefix(out, "mpcdemo version ") {
			t.Errorf("mpcdemo %s: exit %d, %q", args[0], code, out)
		}
	}
}

// TestUsageErrors: a mistyped command gets a suggestion; an unknown flag,
// a bad value or a missing required flag is refused with exit status 2
// and a pointer to --help, and nothing runs.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bnech"}, "did you mean bench"},
		{[]string{"rnu"}, "did you mean run"},
		{[]string{"serv"}, "did you mean serve"},
		{[]string{"bench", "--jsno"}, "unknown flag: --jsno"},
		{[]string{"run", "--peple", "10"}, "unknown flag: --peple; did you mean --people?"},
		{[]string{"bench", "--rnus", "3"}, "did you mean --runs?"},
		{[]string{"serve", "--di", "x"}, "did you mean --dir?"},
		{[]string{"bench", "-x"}, "unknown shorthand flag: 'x'"},
		{[]string{"bench", "-o", "yaml"}, `output format "yaml": want table or json`},
		{[]string{"bench", "--json", "-o", "table"}, "--json and -o table ask for two formats"},
		{[]string{"bench", "--runs", "0"}, "--runs 0"},
		{[]string{"bench", "--people", "many"}, `invalid argument "many"`},
		{[]string{"run", "--people", "-5"}, "--people -5"},
		{[]string{"run", "--source", "mysql"}, `--source "mysql": want csv or postgres`},
		{[]string{"run", "extra"}, `unknown command "extra" for "mpcdemo run"`},
		{[]string{"serve"}, `required flag(s) "dir" not set`},
		{[]string{"help", "bnech"}, `unknown help topic "bnech" for "mpcdemo"; did you mean bench?`},
		{[]string{"help", "nosuch"}, `unknown help topic "nosuch" for "mpcdemo"`},
	} {
		var r recorder
		code, out, errOut := runCLI(context.Background(), &r, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "--help") || r.called != "" || out != "" {
			t.Errorf("mpcdemo %s: exit %d, ran %q, stdout %q, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, r.called, out, errOut, tc.want)
		}
	}
}

// TestFlagsReachTheCommand: every flag name callers use (Makefile, README,
// docs) still sets its option; the deprecated --json still selects JSON,
// with its warning on stderr, never in the JSON on stdout.
func TestFlagsReachTheCommand(t *testing.T) {
	var r recorder
	code, out, errOut := runCLI(context.Background(), &r, "bench", "--people", "1000000", "--json")
	if code != 0 || r.called != "bench" || r.bench.people != 1000000 || r.bench.output != "json" || r.bench.runs != 5 {
		t.Errorf("bench --people 1000000 --json: exit %d, %+v", code, r.bench)
	}
	if !strings.Contains(errOut, "deprecated") || strings.Contains(out, "deprecated") {
		t.Errorf("--json's warning: stdout %q, stderr %q", out, errOut)
	}
	r = recorder{}
	if code, _, _ := runCLI(context.Background(), &r, "bench", "-o", "json", "--runs", "3", "--source", "postgres", "--postgres-parties", "bank"); code != 0 ||
		r.bench.output != "json" || r.bench.runs != 3 || r.bench.source != "postgres" || r.bench.pgParties != "bank" || r.bench.people != 100000 {
		t.Errorf("bench -o json --runs 3 ...: exit %d, %+v", code, r.bench)
	}
	r = recorder{}
	if code, _, _ := runCLI(context.Background(), &r, "bench"); code != 0 || r.bench.output != "table" {
		t.Errorf("bench: exit %d, output %q; want table", code, r.bench.output)
	}
	r = recorder{}
	if code, _, _ := runCLI(context.Background(), &r, "run", "--people", "500", "--all", "--keep", "--dir", "d", "--seed", "9"); code != 0 ||
		r.run.people != 500 || !r.run.all || !r.run.keep || r.run.dir != "d" || r.run.seed != 9 || r.run.source != "csv" {
		t.Errorf("run ...: exit %d, %+v", code, r.run)
	}
	r = recorder{}
	if code, _, _ := runCLI(context.Background(), &r, "serve", "--dir", "/tmp/c", "--params", "PN14QP438", "--people", "20"); code != 0 ||
		r.serve.dir != "/tmp/c" || r.serve.paramSet != "PN14QP438" || r.serve.people != 20 {
		t.Errorf("serve ...: exit %d, %+v", code, r.serve)
	}
}

// TestFailureAndInterrupt: a command that fails exits 1 and says why;
// one interrupted exits 130 and says so.
func TestFailureAndInterrupt(t *testing.T) {
	r := recorder{err: errors.New("a result differs")}
	code, _, errOut := runCLI(context.Background(), &r, "run")
	if code != 1 || !strings.Contains(errOut, "mpcdemo: a result differs") {
		t.Errorf("a failing run: exit %d, %q", code, errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = recorder{err: errors.New("stopped")}
	code, _, errOut = runCLI(ctx, &r, "bench")
	if code != 130 || !strings.Contains(errOut, "interrupted") {
		t.Errorf("an interrupted bench: exit %d, %q", code, errOut)
	}
	// serve stops normally on Ctrl-C.
	r = recorder{}
	if code, _, _ := runCLI(ctx, &r, "serve", "--dir", "d"); code != 0 {
		t.Errorf("serve stopped by Ctrl-C: exit %d", code)
	}
}
