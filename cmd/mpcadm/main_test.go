package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr, time.Now)
	return code, stdout.String(), stderr.String()
}

// TestHelp: every command's --help exits 0 and explains it.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{}, {"--help"}, {"ca", "--help"}, {"ca", "init", "--help"}, {"csr", "--help"}, {"sign", "--help"}, {"show", "--help"},
		{"ledger-key", "--help"}, {"witness-key", "--help"}, {"config", "party", "--help"}, {"config", "coordinator", "--help"},
		{"profile", "analyst", "--help"}, {"profile", "auditor", "--help"}, {"profile", "authorizer", "--help"},
		{"completion", "bash"},
	} {
		code, out, errOut := runCLI(args...)
		if code != 0 || len(out) < 100 {
			t.Errorf("mpcadm %s: exit %d, %d bytes of output\n%s", strings.Join(args, " "), code, len(out), errOut)
		}
	}
}

// TestUsageErrors: a mistyped command is suggested, an unknown or
// missing flag refused, all with exit status 2 and a pointer to --help.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sgin"}, "did you mean sign"},
		{[]string{"ca", "inti"}, "did you mean init"},
		{[]string{"csr", "--role", "party", "--name", "bank", "--out", "x", "--hots", "a"}, "unknown flag: --hots"},
		{[]string{"csr", "--role", "party"}, `required flag(s) "name", "out" not set`},
		{[]string{"show"}, "accepts 1 arg"},
		{[]string{"help", "nosuch"}, `unknown help topic "nosuch" for "mpcadm"`},
		{[]string{"help", "sgin"}, `unknown help topic "sgin" for "mpcadm"; did you mean sign?`},
		{[]string{"help", "ca", "inti"}, `unknown help topic "ca inti" for "mpcadm"; did you mean init?`},
		{[]string{"config", "coordinator", "--consortium", "c", "--listen", "l", "--party", "bank", "--witness", "bank=k", "-o", "x", "--consortium-out", "y"}, "want NAME=VALUE"},
	} {
		code, _, errOut := runCLI(tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "--help") {
			t.Errorf("mpcadm %s: exit %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}

// TestFailure: a command that fails exits 1 and says why.
func TestFailure(t *testing.T) {
	code, _, errOut := runCLI("sign", "--ca", t.TempDir(), "--csr", "x.csr", "-o", "cert.pem")
	if code != 1 || !strings.Contains(errOut, "ca.pem") {
		t.Errorf("sign with an empty CA directory: exit %d, %q", code, errOut)
	}
}
