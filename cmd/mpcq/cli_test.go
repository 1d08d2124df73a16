package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/coordinator"
	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/freeport"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// runCLI runs the real command tree in-process.
func runCLI(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// unreachableProfile writes a complete analyst profile whose coordinator
// address is a free loopback port nobody listens on.
func unreachableProfile(t *testing.T) (dir, addr string) {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("mpcq cli test CA", time.Now(), 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(pki.RoleAnalyst, "alice", nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "analyst")
	if err := analyst.WriteProfile(dir, analyst.ProfileConfig{Coordinator: addr, ParamSet: mpc.DefaultSetName}, ca.CertPEM(), cert, key); err != nil {
		t.Fatal(err)
	}
	return dir, addr
}

// TestHelp: help in every spelling, on every command, exits 0 with the
// help on stdout and nothing on stderr; so does a completion script for
// each shell.
func TestHelp(t *testing.T) {
	t.Setenv("MPCQ_PROFILE", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Exit status:"},
		{[]string{"--help"}, "130  interrupted"},
		{[]string{"-h"}, "Available Commands:"},
		{[]string{"help"}, "Available Commands:"},
		{[]string{"help", "query"}, "--collusion"},
		{[]string{"query", "--help"}, "95%"},
		{[]string{"--profile", "somewhere", "query", "-h"}, "--no-warrant"},
		{[]string{"explain", "--help"}, "charges nothing"},
		{[]string{"status", "--help"}, "cosigns the ledger"},
		{[]string{"schema", "--help"}, "plaintext_modulus"},
		{[]string{"keygen", "--help"}, "analyst.sk"},
		{[]string{"completion", "--help"}, "bash"},
		{[]string{"completion", "bash"}, "bash completion V2 for mpcq"},
		{[]string{"completion", "zsh"}, "#compdef mpcq"},
		{[]string{"completion", "fish"}, "complete -c mpcq"},
		{[]string{"completion", "powershell"}, "Register-ArgumentCompleter"},
		{[]string{"--version"}, "mpcq version "},
		{[]string{"--profile", "somewhere", "--version"}, "mpcq version "},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(context.Background(), tc.args...)
			if code != 0 || !strings.Contains(out, tc.want) || errOut != "" {
				t.Errorf("mpcq %s: exit %d, stdout lacks %q or stderr not empty\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
			}
		})
	}
}

// TestUsageErrors: a mistyped command gets a suggestion, an unknown flag
// or a bad argument is refused; all exit 2, print nothing on stdout and
// say how to get help.
func TestUsageErrors(t *testing.T) {
	t.Setenv("MPCQ_PROFILE", "")
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"quer"}, "Did you mean this?\n\tquery"},
		{[]string{"--profile", dir, "stauts"}, "Did you mean this?\n\tstatus"},
		{[]string{"schema", "--jsno"}, "unknown flag: --jsno"},
		{[]string{"--profile", dir, "schema", "--jsno"}, "unknown flag: --jsno"},
		{[]string{"query", "--epsilom", "1", "SELECT COUNT(*) FROM bank"}, "unknown flag: --epsilom"},
		{[]string{"-profile", dir, "status"}, "-profile: flags take two dashes: --profile"},
		{[]string{"query", "-help"}, "-help: flags take two dashes: --help"},
		{[]string{"--profile", dir, "query", "-json", "SELECT COUNT(*) FROM bank"}, "-json: flags take two dashes: --json"},
		{[]string{"--profile", dir, "query"}, "query takes exactly one SQL argument"},
		{[]string{"--profile", dir, "query", "SELECT 1", "SELECT 2"}, "query takes exactly one SQL argument"},
		{[]string{"--profile", dir, "explain"}, "explain takes exactly one SQL argument"},
		{[]string{"--profile", dir, "status", "now"}, "status takes no arguments"},
		{[]string{"--profile", dir, "schema", "-o", "yaml"}, `output format "yaml": want table or json`},
		{[]string{"--profile", dir, "query", "--warrant", "w.pem", "--no-warrant", "SELECT COUNT(*) FROM bank"}, "exclude each other"},
		{[]string{"--profile", dir, "query", "--collusion", "many", "SELECT COUNT(*) FROM bank"}, `invalid argument "many"`},
		{[]string{"status"}, "give --profile DIR or set MPCQ_PROFILE"},
		{[]string{"completion", "bsh"}, "Did you mean this?\n\tbash"},
		{[]string{"completion", "tcsh"}, `unknown command "tcsh" for "mpcq completion"`},
		{[]string{"help", "quer"}, `unknown help topic "quer" for "mpcq"; did you mean query?`},
		{[]string{"help", "nosuch"}, `unknown help topic "nosuch" for "mpcq"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(context.Background(), tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "--help' for usage") || out != "" {
				t.Errorf("mpcq %s: exit %d, stderr %q, stdout %q; want exit 2, %q and a pointer to --help", strings.Join(tc.args, " "), code, errOut, out, tc.want)
			}
		})
	}
}

// TestCoordinatorUnreachable: with nothing listening at the profile's
// coordinator address, every command that talks to it fails with exit 1
// and a sentence naming the address and what to check, not a gRPC
// transport dump.
func TestCoordinatorUnreachable(t *testing.T) {
	dir, addr := unreachableProfile(t)
	for _, args := range [][]string{
		{"status"}, {"schema"}, {"schema", "-o", "json"},
		{"query", "--quiet", "SELECT COUNT(*) FROM bank"},
		{"explain", "SELECT COUNT(*) FROM bank"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(context.Background(), append([]string{"--profile", dir}, args...)...)
			for _, want := range []string{"cannot reach the coordinator at " + addr, "connection refused",
				"check that the coordinator is running", filepath.Join(dir, analyst.ProfileFile), "mpcq status"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			if code != 1 || out != "" || strings.Contains(errOut, "rpc error") || strings.Contains(errOut, "desc =") {
				t.Errorf("exit %d, stdout %q, stderr %q: want exit 1, nothing on stdout, no transport dump", code, out, errOut)
			}
		})
	}
}

// TestJSONAlias: the deprecated --json still selects JSON, and its
// deprecation notice goes to stderr, never in front of the JSON on
// stdout.
func TestJSONAlias(t *testing.T) {
	dir, _ := unreachableProfile(t)
	code, out, errOut := runCLI(context.Background(), "--profile", dir, "schema", "--json")
	if code != 1 || out != "" || !strings.Contains(errOut, "Flag --json has been deprecated, use -o json") {
		t.Errorf("schema --json: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// --json is not advertised any more.
	_, out, _ = runCLI(context.Background(), "schema", "--help")
	if strings.Contains(out, "--json") || !strings.Contains(out, "-o, --output table|json") {
		t.Errorf("schema --help:\n%s", out)
	}
}

// TestInterrupted: a command whose context is cancelled (what Ctrl-C
// does) says it was interrupted and exits 130. The end-to-end test
// TestLedgerTellsTheWholeStory interrupts a running query with SIGINT
// and checks the ledger's record of the cancellation.
func TestInterrupted(t *testing.T) {
	dir, _ := unreachableProfile(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, errOut := runCLI(ctx, "--profile", dir, "query", "SELECT COUNT(*) FROM bank")
	if code != 130 || !strings.Contains(errOut, "interrupted: the query was cancelled") {
		t.Errorf("query with a cancelled context: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(ctx, "--profile", dir, "status")
	if code != 130 || !strings.Contains(errOut, "interrupted") {
		t.Errorf("status with a cancelled context: exit %d, %q", code, errOut)
	}
}

// transportError is the error a real gRPC call to a port nobody listens
// on returns.
func transportError(t *testing.T) (error, string) {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = pb.NewPartyClient(conn).Status(ctx, &pb.PartyStatusRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("call to %s with nothing listening: %v", addr, err)
	}
	return err, addr
}

// TestPartyNamed: when the coordinator reports a party's failure (its
// ErrParty wrapping the mpc.PartyError, as it sends it over gRPC), mpcq
// names the party plainly, with the cause but without gRPC's wrapping.
func TestPartyNamed(t *testing.T) {
	dialErr, partyAddr := transportError(t)
	over := func(err error) error { // what the analyst receives
		st, _ := status.FromError(rpc.ToStatus(err, rpc.Mapping{Err: coordinator.ErrParty, Code: codes.Unavailable}, rpc.Mapping{Err: coordinator.ErrNotReady, Code: codes.Unavailable}))
		return st.Err()
	}
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"a chain step", over(fmt.Errorf("%w: %w", coordinator.ErrParty, &mpc.PartyError{Party: "bank", Err: dialErr})),
			[]string{"party bank failed: dial tcp " + partyAddr, "connection refused", "ask its operator", "mpcq status"}},
		{"status of a party", over(fmt.Errorf("%w: party utility at %s: %v", coordinator.ErrParty, partyAddr, dialErr)),
			[]string{"party utility failed: dial tcp " + partyAddr, "connection refused"}},
		{"no party named", over(fmt.Errorf("%w: public key shares from 2 of 3 parties", coordinator.ErrParty)),
			[]string{"a party failed: public key shares from 2 of 3 parties", "mpcq status"}},
		{"not ready", over(fmt.Errorf("%w: no party serves table utility", coordinator.ErrNotReady)),
			[]string{"consortium not ready: no party serves table utility; run mpcq status to see each party's state"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := explainErr(tc.err, "127.0.0.1:7000", "p/profile.json")
			for _, w := range tc.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			if strings.Contains(got.Error(), "rpc error") || strings.Contains(got.Error(), "desc =") || strings.Contains(got.Error(), "127.0.0.1:7000") {
				t.Errorf("%q: a transport dump, or blames the coordinator", got)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("the explanation does not wrap the error")
			}
		})
	}
	// An error the coordinator sent that is none of these is shown as its
	// code and message, and an error that is no gRPC error is unchanged.
	bad := status.Error(codes.InvalidArgument, "unknown column bank.cash")
	if got := explainErr(bad, "a:1", "p"); got.Error() != "InvalidArgument: unknown column bank.cash" {
		t.Errorf("coordinator's own error: %q", got)
	}
	plain := errors.New("analyst profile: no key")
	if got := explainErr(plain, "a:1", "p"); got != plain {
		t.Errorf("plain error: %v", got)
	}
}

// TestKeygen: keygen writes the key pair into the profile directory.
func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCLI(context.Background(), "--profile", dir, "keygen"); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, errOut)
	}
	for _, f := range []string{analyst.SecretKeyFile, analyst.PublicKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// FuzzExplainErr: the reading of gRPC error messages never panics, and
// what it says wraps the error it explains.
func FuzzExplainErr(f *testing.F) {
	for _, m := range []string{
		`party failed: party bank: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`,
		`party failed: party utility at 127.0.0.1:2: x`, `party failed: party `, `party failed`, `party failed: party :`,
		`connection error: desc = "transport: authentication handshake failed: server presented mpcq://party/bank"`,
		`connection error: desc = "\"\""`, `consortium not ready: no party serves table utility`, `rpc error: desc = `,
	} {
		f.Add(uint8(codes.Unavailable), m)
	}
	f.Fuzz(func(t *testing.T, code uint8, msg string) {
		err := status.Error(codes.Code(code%16+1), msg) // not OK: no error
		got := explainErr(err, "127.0.0.1:7000", "p/profile.json")
		if got == nil || !errors.Is(got, err) {
			t.Fatalf("explainErr(%q) = %v", msg, got)
		}
		_, _ = partyOf(msg)
		_ = transportCause(msg)
	})
}
