package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/ledger/entry"
)

// mpcaudit runs the command line and returns its exit status, stdout and
// stderr.
func mpcaudit(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// oneJSON decodes s, which must be exactly one JSON document, into v.
func oneJSON(t *testing.T, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, s)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("stdout holds more than one JSON document (%v):\n%s", err, s)
	}
}

// TestHelp: help, --help and -h exit 0 on every command and print the
// command's help on stdout, nothing on stderr.
func TestHelp(t *testing.T) {
	t.Setenv("MPCAUDIT_PROFILE", "")
	subs := []string{"verify", "show", "policies", "budget", "prove", "check-receipt", "serve", "completion"}
	tests := []struct {
		args []string
		want string
	}{
		{nil, "Exit status: 0 ok"},
		{[]string{"--help"}, "Exit status: 0 ok"},
		{[]string{"-h"}, "Available Commands"},
		{[]string{"help"}, "Exit status: 0 ok"},
		{[]string{"--profile", "/nonexistent", "--help"}, "Available Commands"},
	}
	for _, s := range subs {
		tests = append(tests,
			struct {
				args []string
				want string
			}{[]string{s, "--help"}, "mpcaudit " + s},
			struct {
				args []string
				want string
			}{[]string{s, "-h"}, "mpcaudit " + s},
			struct {
				args []string
				want string
			}{[]string{"help", s}, "mpcaudit " + s})
	}
	tests = append(tests, struct {
		args []string
		want string
	}{[]string{"show", "--help"}, "-o, --output table|json"})
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := mpcaudit(t, tc.args...)
			if code != 0 || !strings.Contains(out, tc.want) || errOut != "" {
				t.Errorf("exit %d, stdout lacks %q or stderr not empty\nstdout:\n%s\nstderr:\n%s", code, tc.want, out, errOut)
			}
		})
	}
}

// TestUsageErrors: a mistyped command gets a suggestion; an unknown flag,
// a bad flag value or a wrong argument count is refused with exit status
// 2, a pointer to --help and nothing on stdout, before anything is read.
// The profile names an unreachable coordinator: a command that got past
// its checks would fail with 1.
func TestUsageErrors(t *testing.T) {
	t.Setenv("MPCAUDIT_PROFILE", "")
	_, profile := writeLedger(t, []byte("ca"), []entry.Entry{entry.Ceremony{ParamSet: "test"}})
	p := []string{"--profile", profile}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"mistyped verify", []string{"verfy"}, `unknown command "verfy" for "mpcaudit"; did you mean verify?`},
		{"mistyped check-receipt", append(p, "check-reciept", "x"), "did you mean check-receipt?"},
		{"unknown command", append(p, "frobnicate"), `unknown command "frobnicate"`},
		{"unknown flag", append(p, "verify", "--jsno"), "unknown flag: --jsno"},
		{"unknown shorthand", append(p, "show", "-j"), "unknown shorthand flag: 'j'"},
		{"flag of another command", append(p, "verify", "--analyst", "alice"), "unknown flag: --analyst"},
		{"unknown root flag", []string{"--profil", profile, "verify"}, "unknown flag: --profil"},
		{"flag without value", append(p, "show", "--since"), "flag needs an argument: --since"},
		{"no profile", []string{"verify"}, "--profile DIR (or $MPCAUDIT_PROFILE) is required"},
		{"bad output format", append(p, "show", "-o", "yaml"), `invalid argument "yaml" for "-o, --output" flag: output format "yaml": want table or json`},
		{"json and -o table", append(p, "budget", "-o", "table", "--json"), "--json and -o table ask for two formats"},
		{"verify takes no argument", append(p, "verify", "extra"), `unknown command "extra" for "mpcaudit verify"`},
		{"prove without QUERY_ID", append(p, "prove"), "accepts 1 arg(s), received 0"},
		{"check-receipt with two files", append(p, "check-receipt", "a", "b"), "accepts 1 arg(s), received 2"},
		{"bad --at", append(p, "budget", "--at", "yesterday"), `--at "yesterday": want an RFC 3339 time`},
		{"bad --since", append(p, "show", "--since", "last week"), `--since: time "last week": want RFC 3339`},
		{"bad --status", append(p, "show", "--status", "lost"), `status "lost": want one of`},
		{"empty time range", append(p, "show", "--since", "2026-11-30", "--until", "2026-11-01"), "is not before until"},
		{"archive and no-archive", append(p, "verify", "--archive", "a.db", "--no-archive"), "none of the others can be"},
		{"serve off loopback", append(p, "serve", "--listen", "0.0.0.0:8740"), "want a loopback address"},
		{"serve burst of one", append(p, "serve", "--burst", "1"), "want at least 2 queries"},
		{"bad duration", append(p, "serve", "--interval", "often"), `invalid argument "often" for "--interval" flag`},
		{"completion for no shell", []string{"completion", "tcsh"}, `unknown command "tcsh"`},
		{"help for a mistyped command", []string{"help", "verfy"}, `unknown help topic "verfy" for "mpcaudit"; did you mean verify?`},
		{"help for no command", []string{"help", "nosuch"}, `unknown help topic "nosuch" for "mpcaudit"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := mpcaudit(t, tc.args...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "--help' for usage") || out != "" {
				t.Errorf("mpcaudit %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, out, errOut, tc.want)
			}
		})
	}
}

// TestFailures plays the attacker and the unlucky: a log signed by
// another key, a receipt with a flipped byte, a missing profile. Each
// exits 1 and says why; with -o json stdout is one document saying
// "verified": false.
func TestFailures(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	logDir, profile := policyLedger(t, now)
	otherLog, _ := writeLedger(t, []byte("ca"), []entry.Entry{entry.Ceremony{ParamSet: "test"}}) // another log key
	code, out, errOut := mpcaudit(t, "--profile", profile, "prove", "q-1", "--log-dir", logDir, "--out", filepath.Join(t.TempDir(), "q-1.receipt"))
	if code != 0 {
		t.Fatalf("prove: exit %d\n%s", code, errOut)
	}
	receipt := strings.TrimSpace(out[strings.LastIndex(out, " ")+1:])
	b, err := os.ReadFile(receipt)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x04
	bad := filepath.Join(t.TempDir(), "bad.receipt")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
		json bool
	}{
		{"log of another key", []string{"verify", "--log-dir", otherLog, "--no-archive"}, "ledger does NOT verify", false},
		{"log of another key, json", []string{"verify", "--log-dir", otherLog, "--no-archive", "-o", "json"}, "ledger does NOT verify", true},
		{"show of a log of another key", []string{"show", "--log-dir", otherLog, "--no-archive", "-o", "json"}, "ledger does NOT verify", false},
		{"tampered receipt", []string{"check-receipt", bad}, "does not verify", false},
		{"tampered receipt, json", []string{"check-receipt", bad, "-o", "json"}, "does not verify", true},
		{"missing receipt", []string{"check-receipt", filepath.Join(t.TempDir(), "none")}, "no such file", false},
		{"missing archive copy", []string{"verify", "--log-dir", logDir, "--archive", filepath.Join(t.TempDir(), "no", "archive.db")}, "query archive", false},
		{"unknown query", []string{"prove", "q-none", "--log-dir", logDir}, "q-none", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := mpcaudit(t, append([]string{"--profile", profile}, tc.args...)...)
			if code != exitFailure || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "for usage") {
				t.Fatalf("exit %d, stderr %q; want exit 1 and %q", code, errOut, tc.want)
			}
			if !tc.json {
				if out != "" {
					t.Fatalf("stdout of a failure: %q", out)
				}
				return
			}
			var doc struct {
				Verified bool   `json:"verified"`
				Error    string `json:"error"`
			}
			oneJSON(t, out, &doc)
			if doc.Verified || !strings.Contains(doc.Error, tc.want) {
				t.Fatalf("JSON of a failure: %s", out)
			}
		})
	}
	code, _, errOut = mpcaudit(t, "--profile", filepath.Join(t.TempDir(), "none"), "verify")
	if code != exitFailure || !strings.Contains(errOut, "none") {
		t.Fatalf("missing profile: exit %d, %q", code, errOut)
	}
}

// TestJSONOutput: -o json on every command that prints a result writes
// one JSON document on stdout, with the same facts as the table, and
// nothing on stderr; the deprecated --json still works, its warning on
// stderr.
func TestJSONOutput(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	logDir, profile := policyLedger(t, now)
	receipt := filepath.Join(t.TempDir(), "q-1.receipt")
	src := []string{"--log-dir", logDir, "--no-archive"}
	tests := []struct {
		name  string
		args  []string
		into  func() any
		check func(t *testing.T, v any)
	}{
		{"verify", append([]string{"verify", "-o", "json"}, src...), func() any { return new(verifySummary) }, func(t *testing.T, v any) {
			s := v.(*verifySummary)
			if !s.Verified || s.Size != 5 || s.Counts["POLICY"] != 1 || s.Counts["QUERY"] != 2 || s.Consistency != "copy" ||
				len(s.OpenQueries) != 1 || s.OpenQueries[0] != "q-2" || len(s.Root) != 64 || len(s.Cosignatures) == 0 {
				t.Errorf("verify: %+v", s)
			}
		}},
		{"verify --output=json, --profile after the command", append([]string{"verify", "--output=json", "--profile", profile}, src...),
			func() any { return new(verifySummary) }, func(t *testing.T, v any) {
				if !v.(*verifySummary).Verified {
					t.Errorf("verify: %+v", v)
				}
			}},
		{"show", append([]string{"show", "-o", "json"}, src...), func() any { return new([]auditor.QueryRow) }, func(t *testing.T, v any) {
			rows := *v.(*[]auditor.QueryRow)
			if len(rows) != 2 || rows[0].QueryID != "q-1" || rows[0].Status != "answered" || rows[1].Status != "committed" {
				t.Errorf("show: %+v", rows)
			}
		}},
		{"show of nothing is an empty array", append([]string{"show", "-o", "json", "--status", "failed"}, src...),
			func() any { return new([]auditor.QueryRow) }, func(t *testing.T, v any) {
				if rows := *v.(*[]auditor.QueryRow); rows == nil || len(rows) != 0 {
					t.Errorf("show --status failed: %#v", rows)
				}
			}},
		{"policies", append([]string{"policies", "--show", "-o", "json"}, src...), func() any { return new([]auditor.PolicyVersion) },
			func(t *testing.T, v any) {
				ps := *v.(*[]auditor.PolicyVersion)
				if len(ps) != 1 || ps[0].Party != "bank" || ps[0].Version != 1 || !strings.Contains(ps[0].Content, `"r\u001b[2J"`) {
					t.Errorf("policies: %+v", ps)
				}
			}},
		{"policies of another party is an empty array", append([]string{"policies", "--party", "telecom", "-o", "json"}, src...),
			func() any { return new([]auditor.PolicyVersion) }, func(t *testing.T, v any) {
				if ps := *v.(*[]auditor.PolicyVersion); ps == nil || len(ps) != 0 {
					t.Errorf("policies --party telecom: %#v", ps)
				}
			}},
		{"budget", append([]string{"budget", "-o", "json"}, src...), func() any { return new(auditor.BudgetReport) }, func(t *testing.T, v any) {
			r := v.(*auditor.BudgetReport)
			if len(r.Parties) != 1 || len(r.Parties[0].Analysts) != 1 || r.Parties[0].Analysts[0].SpentMilli != 500 {
				t.Errorf("budget: %+v", r)
			}
		}},
		{"prove", []string{"prove", "q-1", "--log-dir", logDir, "--out", receipt, "-o", "json"}, func() any { return new(proveResult) },
			func(t *testing.T, v any) {
				if r := v.(*proveResult); r.QueryID != "q-1" || r.Receipt != receipt {
					t.Errorf("prove: %+v", r)
				}
			}},
		{"check-receipt", []string{"check-receipt", receipt, "-o", "json"}, func() any { return new(receiptResult) }, func(t *testing.T, v any) {
			if r := v.(*receiptResult); !r.Verified || r.QueryID != "q-1" || r.Type != "QUERY" || r.Index != 2 || r.Size != 5 {
				t.Errorf("check-receipt: %+v", r)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := mpcaudit(t, append([]string{"--profile", profile}, tc.args...)...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr:\n%s", code, errOut)
			}
			v := tc.into()
			oneJSON(t, out, v)
			tc.check(t, v)
		})
	}
	for _, c := range []string{"show", "policies", "budget"} {
		t.Run(c+" --json, deprecated", func(t *testing.T) {
			code, out, errOut := mpcaudit(t, append([]string{"--profile", profile, c, "--json"}, src...)...)
			if code != 0 || !strings.Contains(errOut, "Flag --json has been deprecated, use -o json") {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			var v any
			oneJSON(t, out, &v)
		})
	}
}

// TestJSONEscapes: -o json writes a forged purpose (newlines, an escape
// sequence, a right-to-left override) as escapes that decode back to the
// same text; nothing a terminal would act on is written raw.
func TestJSONEscapes(t *testing.T) {
	purpose := "routine check\n2026-11-29T23:00:00Z  q-innocent\r\x1b[2K\u202e\u0085\u2028\x7f"
	logDir, archivePath, profile := forgedQuery(t, "mallory\u202ex", purpose, "CASE-9")
	code, out, errOut := mpcaudit(t, "--profile", profile, "show", "-o", "json", "--log-dir", logDir, "--archive", archivePath)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, r := range strings.TrimSuffix(out, "\n") {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			t.Fatalf("show -o json wrote %U raw:\n%q", r, out)
		}
	}
	var rows []auditor.QueryRow
	oneJSON(t, out, &rows)
	if len(rows) != 1 || rows[0].Purpose != purpose || rows[0].Analyst != "mallory\u202ex" {
		t.Fatalf("show -o json does not decode to the logged text: %+v", rows)
	}
}

// TestCompletion: cobra's completion command writes a script for each
// shell, and the completion of -o offers the two formats.
func TestCompletion(t *testing.T) {
	for _, tc := range []struct{ shell, want string }{
		{"bash", "__start_mpcaudit"}, {"zsh", "#compdef mpcaudit"}, {"fish", "complete -c mpcaudit"}, {"powershell", "Register-ArgumentCompleter"},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			code, out, errOut := mpcaudit(t, "completion", tc.shell)
			if code != 0 || !strings.Contains(out, tc.want) {
				t.Errorf("completion %s: exit %d, stdout lacks %q\n%s", tc.shell, code, tc.want, errOut)
			}
		})
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "ver"}, []string{"verify"}},
		{[]string{"__complete", "show", "-o", ""}, []string{"table", "json"}},
		{[]string{"__complete", "show", "--status", ""}, []string{"committed", "answered", "failed"}},
	} {
		code, out, _ := mpcaudit(t, tc.args...)
		for _, w := range tc.want {
			if code != 0 || !strings.Contains(out, w+"\n") && !strings.Contains(out, w+"\t") {
				t.Errorf("mpcaudit %s: exit %d, no %q in\n%s", strings.Join(tc.args, " "), code, w, out)
			}
		}
	}
}
