package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/warrant"
)

// writeProfile writes a profile directory for member name in role.
func writeProfile(t *testing.T, ca *pki.CA, role pki.Role, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	c, k, err := ca.Issue(role, name, nil, time.Now(), 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		data []byte
		priv bool
	}{{caFile, ca.CertPEM(), false}, {certFile, c, false}, {keyFile, k, true}} {
		write := pki.WritePublic
		if f.priv {
			write = pki.WritePrivate
		}
		if err := write(filepath.Join(dir, f.name), f.data); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestIssueShowRevoke(t *testing.T) {
	ca, err := pki.NewCA("mpcq test CA", time.Now(), 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	judge := writeProfile(t, ca, pki.RoleAuthorizer, "judge-a")
	judge2 := writeProfile(t, ca, pki.RoleAuthorizer, "judge-b")
	analyst := writeProfile(t, ca, pki.RoleAnalyst, "alice")
	dir := t.TempDir()
	wfile := filepath.Join(dir, "alice.warrant")
	caPath := filepath.Join(judge, caFile)

	code, out, errs := runCmd(t, "issue", "--profile", judge, "--case", "CASE-2026/042",
		"--analyst", "mpcq://analyst/alice", "--analyst", "mpcq://analyst/bob",
		"--tables", "telecom,bank", "--columns", "bank.balance,telecom.flagged_calls_30d",
		"--epsilon", "2.5", "--max-queries", "20", "--expires", "24h", "-o", wfile)
	if code != 0 {
		t.Fatalf("issue: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "written to "+wfile) {
		t.Fatalf("issue printed %q", out)
	}
	b, err := os.ReadFile(wfile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := warrant.ParseSigned(b)
	if err != nil {
		t.Fatal(err)
	}
	v, err := warrant.Verify(s, ca.CertPEM(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w := v.Warrant
	if w.Case != "CASE-2026/042" || w.Scope.EpsilonMilli != 2500 || w.Scope.MaxQueries != 20 || w.Scope.Exact ||
		strings.Join(w.Scope.Tables, ",") != "bank,telecom" || len(w.Analysts) != 2 || v.Authorizer.Name != "judge-a" {
		t.Fatalf("issued %+v by %s", w, v.Authorizer)
	}
	if err := v.Check("mpcq://analyst/alice", []string{"bank"}, []string{"bank.balance"}, false, time.Now(), nil); err != nil {
		t.Fatal(err)
	}

	// A warrant may start before its authorizer's certificate did.
	if code, _, errs := runCmd(t, "issue", "--profile", judge, "--case", "X", "--analyst", "mpcq://analyst/alice",
		"--tables", "bank", "--not-before", time.Now().Add(-2*time.Hour).Format(time.RFC3339), "--expires", "3h",
		"-o", filepath.Join(dir, "backdated")); code != 0 {
		t.Fatalf("issue backdated: exit %d: %s", code, errs)
	}
	// The same -o again is refused.
	if code, _, errs := runCmd(t, "issue", "--profile", judge, "--case", "X", "--analyst", "mpcq://analyst/alice",
		"--tables", "bank", "--expires", "1h", "-o", wfile); code != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("issue over an existing file: exit %d: %s", code, errs)
	}
	// An analyst cannot issue.
	if code, _, errs := runCmd(t, "issue", "--profile", analyst, "--case", "X", "--analyst", "mpcq://analyst/alice",
		"--tables", "bank", "--expires", "1h", "-o", filepath.Join(dir, "x")); code != 1 || !strings.Contains(errs, "authorizer") {
		t.Fatalf("issue by an analyst: exit %d: %s", code, errs)
	}

	code, out, errs = runCmd(t, "show", "--ca", caPath, wfile)
	if code != 0 {
		t.Fatalf("show: exit %d: %s", code, errs)
	}
	for _, want := range []string{w.ID, "CASE-2026/042", "mpcq://analyst/alice, mpcq://analyst/bob", "bank.balance, telecom.flagged_calls_30d",
		"2.5", "20", "mpcq://authorizer/judge-a", "verified          yes"} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
	// -o json: one JSON document on stdout, with the same facts.
	code, out, errs = runCmd(t, "show", "--ca", caPath, "-o", "json", wfile)
	var js struct {
		Kind, ID, Case, Epsilon, Hash string
		SignedBy                      string `json:"signed_by"`
		Analysts, Tables, Columns     []string
		MaxQueries                    uint32 `json:"max_queries"`
		Verified                      *bool
		VerifyError                   string `json:"verify_error"`
	}
	if err := json.Unmarshal([]byte(out), &js); code != 0 || err != nil {
		t.Fatalf("show -o json: exit %d, %v: %s\n%s", code, err, errs, out)
	}
	if h := warrant.Hash(s); js.Kind != "warrant" || js.ID != w.ID || js.Case != "CASE-2026/042" || js.Epsilon != "2.5" || js.MaxQueries != 20 ||
		len(js.Analysts) != 2 || js.SignedBy != "mpcq://authorizer/judge-a" || js.Hash != hex.EncodeToString(h[:]) ||
		js.Verified == nil || !*js.Verified || js.VerifyError != "" {
		t.Fatalf("show -o json gave %+v", js)
	}
	// Verification failing: the document says so, and the exit status is 1.
	code, out, errs = runCmd(t, "show", "--ca", caPath, "-o", "json", "--at", time.Now().Add(25*time.Hour).Format(time.RFC3339), wfile)
	js.Verified, js.VerifyError = nil, ""
	if err := json.Unmarshal([]byte(out), &js); code != 1 || err != nil || js.Verified == nil || *js.Verified || !strings.Contains(js.VerifyError, "expired") || !strings.Contains(errs, "expired") {
		t.Fatalf("show -o json at expiry: exit %d, %v, %+v, stderr %q", code, err, js, errs)
	}
	if code, out, _ := runCmd(t, "show", "-o", "json", wfile); code != 0 || !strings.Contains(out, `"verified": null`) {
		t.Fatalf("show -o json without --ca: exit %d\n%s", code, out)
	}
	if code, out, _ := runCmd(t, "show", wfile); code != 0 || !strings.Contains(out, "give --ca") {
		t.Fatalf("show without --ca: exit %d\n%s", code, out)
	}
	if code, _, errs := runCmd(t, "show", "--ca", caPath, "--at", time.Now().Add(25*time.Hour).Format(time.RFC3339), wfile); code != 1 || !strings.Contains(errs, "expired") {
		t.Fatalf("show at expiry: exit %d: %s", code, errs)
	}

	// Only the warrant's authorizer can revoke it.
	rfile := filepath.Join(dir, "alice.revocation")
	if code, _, errs := runCmd(t, "revoke", "--profile", judge2, "--warrant", wfile, "--reason", "case closed", "-o", rfile); code != 1 || !strings.Contains(errs, "only its authorizer") {
		t.Fatalf("revoke by another authorizer: exit %d: %s", code, errs)
	}
	if code, _, errs := runCmd(t, "revoke", "--profile", judge, "--warrant", wfile, "--reason", "case closed", "-o", rfile); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errs)
	}
	code, out, errs = runCmd(t, "show", "--ca", caPath, "--warrant", wfile, rfile)
	if code != 0 || !strings.Contains(out, "case closed") || !strings.Contains(out, "revoked by its authorizer") {
		t.Fatalf("show revocation: exit %d: %s\n%s", code, errs, out)
	}
	code, out, errs = runCmd(t, "show", "--ca", caPath, "--warrant", wfile, "--output", "json", rfile)
	var rj struct {
		Kind, Reason string
		WarrantHash  string `json:"warrant_hash"`
		Verified     *bool
	}
	if err := json.Unmarshal([]byte(out), &rj); code != 0 || err != nil || rj.Kind != "revocation" || rj.Reason != "case closed" ||
		rj.WarrantHash != hex.EncodeToString(v.Hash[:]) || rj.Verified == nil || !*rj.Verified {
		t.Fatalf("show revocation -o json: exit %d, %v, %+v: %s\n%s", code, err, rj, errs, out)
	}
	if code, _, errs := runCmd(t, "show", "--ca", caPath, rfile); code != 2 || !strings.Contains(errs, "--warrant") {
		t.Fatalf("show revocation without --warrant: exit %d: %s", code, errs)
	}
	rb, err := os.ReadFile(rfile)
	if err != nil {
		t.Fatal(err)
	}
	sr, err := warrant.ParseSignedRevocation(rb)
	if err != nil {
		t.Fatal(err)
	}
	vr, err := warrant.VerifyRevocation(sr, ca.CertPEM(), v, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	revoked := func(h [32]byte) bool { return h == vr.Revocation.WarrantHash }
	if err := v.Check("mpcq://analyst/alice", []string{"bank"}, nil, false, time.Now(), revoked); err == nil {
		t.Fatal("a revoked warrant still covers queries")
	}
}

func TestUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		want string // in stdout for 0, in stderr otherwise
	}{
		{"no command", nil, 0, "Exit status:"},
		{"help", []string{"--help"}, 0, "Available Commands:"},
		{"help command", []string{"help"}, 0, "Available Commands:"},
		{"help issue", []string{"help", "issue"}, 0, "--max-queries"},
		{"version", []string{"--version"}, 0, "mpcwarrant version "},
		{"completion bash", []string{"completion", "bash"}, 0, "bash completion V2 for mpcwarrant"},
		{"completion zsh", []string{"completion", "zsh"}, 0, "#compdef mpcwarrant"},
		{"completion fish", []string{"completion", "fish"}, 0, "complete -c mpcwarrant"},
		{"completion powershell", []string{"completion", "powershell"}, 0, "Register-ArgumentCompleter"},
		{"unknown command", []string{"sign"}, 2, `unknown command "sign"`},
		{"unknown shell", []string{"completion", "zhs"}, 2, "Did you mean this?\n\tzsh"},
		{"mistyped command", []string{"isue"}, 2, "Did you mean this?\n\tissue"},
		{"mistyped show", []string{"shwo", "f"}, 2, "Did you mean this?\n\tshow"},
		{"help of a mistyped command", []string{"help", "isue"}, 2, `unknown help topic "isue" for "mpcwarrant"; did you mean issue?`},
		{"help of no command", []string{"help", "nosuch"}, 2, `unknown help topic "nosuch" for "mpcwarrant"`},
		{"issue help", []string{"issue", "--help"}, 0, "--max-queries"},
		{"revoke help", []string{"revoke", "-h"}, 0, "--reason"},
		{"show help", []string{"show", "--help"}, 0, "--ca"},
		{"show help output", []string{"show", "--help"}, 0, "-o, --output table|json"},
		{"unknown flag", []string{"issue", "--judge", "x"}, 2, "unknown flag: --judge"},
		{"single-dash flag", []string{"issue", "-profile", "x"}, 2, "-profile: flags take two dashes: --profile"},
		{"missing flags", []string{"issue", "--case", "x"}, 2, `required flag(s) "analyst", "expires", "out", "profile", "tables" not set`},
		{"bad output format", []string{"show", "-o", "yaml", "f"}, 2, `output format "yaml": want table or json`},
		{"negative expiry", []string{"issue", "--profile", "p", "--case", "c", "--analyst", "mpcq://analyst/a", "--tables", "t", "--expires", "-1h", "-o", "f"}, 2, "positive duration"},
		{"bad epsilon", []string{"issue", "--profile", "p", "--case", "c", "--analyst", "mpcq://analyst/a", "--tables", "t", "--expires", "1h", "-o", "f", "--epsilon", "0.0001"}, 2, "at most 3 decimals"},
		{"bad not-before", []string{"issue", "--profile", "p", "--case", "c", "--analyst", "mpcq://analyst/a", "--tables", "t", "--expires", "1h", "-o", "f", "--not-before", "tomorrow"}, 2, "RFC3339"},
		{"max-queries too large", []string{"issue", "--profile", "p", "--case", "c", "--analyst", "mpcq://analyst/a", "--tables", "t", "--expires", "1h", "-o", "f", "--max-queries", "4294967296"}, 2, "too large"},
		{"show without file", []string{"show"}, 2, "exactly one"},
		{"revoke argument", []string{"revoke", "x"}, 2, "no arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCmd(t, tc.args...)
			got := errs
			if tc.code == 0 {
				got = out
			}
			if code != tc.code || !strings.Contains(got, tc.want) {
				t.Fatalf("exit %d, want %d; output %q lacks %q (stdout %q)", code, tc.code, got, tc.want, out)
			}
			// Help goes to stdout alone; a usage error prints nothing on
			// stdout and says how to get help.
			if tc.code == 0 && errs != "" || tc.code == 2 && (out != "" || !strings.Contains(errs, "--help' for usage")) {
				t.Fatalf("exit %d: stdout %q, stderr %q", code, out, errs)
			}
		})
	}
}
