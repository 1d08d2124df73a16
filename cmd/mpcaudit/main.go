// Command mpcaudit is for compliance staff: it verifies the traceability
// ledger without trusting the coordinator, lists the queries asked (who,
// when, why, on what legal basis, with what outcome), and writes and checks
// per-query receipts that verify offline.
//
// The checks are in package internal/auditor; this command reads flags
// (with github.com/spf13/cobra, as mpcadm: help, suggestions for mistyped
// commands, unknown flags refused, shell completion) and prints what it
// found as a table or, with -o json, as one JSON document on stdout.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/cli"
)

// Exit statuses, as the root's long help documents them.
const (
	exitOK      = 0
	exitFailure = 1 // the command failed, or the ledger or receipt does not verify
	exitUsage   = 2 // unknown command or flag, bad flag value, wrong argument count
)

func main() {
	if cli.WantsVersion(os.Args[1:]) {
		fmt.Println(cli.Version("mpcaudit"))
		return
	}
	// SIGINT and SIGTERM cancel what the command waits on; serve shuts
	// the console down.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a mistake in the command line: exit status 2.
type usageError = cli.UsageError

// usagef is a usageError with a formatted message.
func usagef(format string, a ...any) error { return usageError{Err: fmt.Errorf(format, a...)} }

// run executes the command line and returns the exit status: 0 on success
// (and for help), 1 when the command failed or what it checked does not
// verify, 2 on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	// Messages that carry ledger or archive text escape it where they
	// are made; what is left (flags, paths) comes from the user.
	fmt.Fprintln(stderr, "mpcaudit:", err)
	if cli.IsUsage(err) {
		name := "mpcaudit"
		if cmd != nil {
			name = cmd.CommandPath()
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", name)
		return exitUsage
	}
	return exitFailure
}

// app is what the commands share: the output streams and the persistent
// --profile flag.
type app struct {
	stdout, stderr io.Writer
	profileDir     string
}

// profile loads the auditor profile named by --profile.
func (a *app) profile() (*auditor.Profile, error) {
	if a.profileDir == "" {
		return nil, usagef("--profile DIR (or $MPCAUDIT_PROFILE) is required: the auditor profile directory (mpcadm profile auditor writes one)")
	}
	return auditor.Load(a.profileDir)
}

// newRoot builds the command tree.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "mpcaudit",
		Short: "Verify the traceability ledger, list the queries asked, write and check receipts",
		Long: `mpcaudit is for compliance staff. With an auditor profile (mpcadm profile
auditor, or mpcdemo serve) it verifies the traceability ledger without
trusting the coordinator, lists who asked what, when, why and with what
outcome, recomputes the parties' ε budgets, writes per-query receipts
that verify offline, and serves a web console over the same checks.

Every command but check-receipt verifies the whole log first; text from
the ledger and the archive is printed with control characters escaped.
Commands that print a result take -o table (the default) or -o json: one
JSON document on stdout, messages on stderr.

Exit status: 0 ok (and for --help); 1 the command failed, or the ledger
or the receipt does NOT verify; 2 usage error (unknown command or flag,
bad flag value, wrong number of arguments, no --profile).`,
		Example: `  mpcaudit --profile ~/mpcq/auditor verify
  mpcaudit --profile ~/mpcq/auditor show --since 2026-11-01 -o json
  mpcaudit --profile ~/mpcq/auditor prove q-1234 --out q-1234.receipt`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// --version prints the module version and commit, as every binary.
		Version: cli.Version("mpcaudit"),
		Args:    cli.SubcommandOnly,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{Err: err} })
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().StringVar(&a.profileDir, "profile", os.Getenv("MPCAUDIT_PROFILE"), "the auditor profile in `DIR` (or $MPCAUDIT_PROFILE); every command needs it")
	_ = root.MarkPersistentFlagDirname("profile")
	root.AddCommand(verifyCmd(a), showCmd(a), policiesCmd(a), budgetCmd(a), proveCmd(a), checkReceiptCmd(a), serveCmd(a))
	cli.StrictHelp(root, func(err error) error { return usageError{Err: err} })
	// cobra's completion command, made now rather than at Execute so that
	// an unknown shell is refused (exit 2) instead of answered with help.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = cli.SubcommandOnly
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
	}
	for _, c := range root.Commands() {
		// pflag writes "Flag --json has been deprecated" to the flag set's
		// output, which cobra would copy to stdout: send it to stderr so
		// that stdout stays one JSON document.
		c.Flags().SetOutput(stderr)
	}
	return root
}
