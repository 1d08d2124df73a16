// Command mpcadm onboards a consortium's members without the demo: the
// consortium CA, each member's key and certificate signing request (made
// where the key will live), the CA's signature, the ledger and witness
// keys, the daemons' configs and the clients' profiles. The logic is in
// package internal/admin; this command reads flags (with
// github.com/spf13/cobra: help, suggestions for mistyped commands, shell
// completion) and prints what it did. docs/operations.md says who runs
// which command where.
package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mpcq/mpcq/internal/cli"
	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, time.Now))
}

// usageError is a mistake in the command line: exit status 2.
type usageError = cli.UsageError

// run executes the command line and returns the exit status: 0 on success
// (and for --help), 1 when the command failed, 2 on a usage error
// (unknown command or flag, missing required flag, bad argument count).
func run(args []string, stdout, stderr io.Writer, now func() time.Time) int {
	root := newRoot(stdout, now)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "mpcadm:", err)
	if cli.IsUsage(err) {
		name := "mpcadm"
		if cmd != nil {
			name = cmd.CommandPath()
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", name)
		return 2
	}
	return 1
}

// newRoot builds the command tree.
func newRoot(stdout io.Writer, now func() time.Time) *cobra.Command {
	root := &cobra.Command{
		Use:   "mpcadm",
		Short: "Onboard a consortium's members: CA, keys, certificates, configs, profiles",
		Long: `mpcadm makes everything a consortium member needs, each piece on the
machine where it belongs:

  the CA admin        mpcadm ca init, then mpcadm sign for every request
  every member        mpcadm csr (the private key is made here and never travels)
  every party         mpcadm witness-key, mpcadm config party
  the coordinator     mpcadm ledger-key, mpcadm config coordinator
  analysts, auditors, mpcadm profile analyst|auditor|authorizer
  authorizers

Private keys are written 0600 and never overwritten. Files that travel:
a member's .csr to the CA admin; cert.pem and ca.pem back; each party's
witness.pub and cert.pem to the coordinator's operator (and cert.pem to
the other parties); ledger.pub to every party; consortium.json to every
analyst and auditor.

docs/operations.md walks through joining, rotating a certificate, adding
a party, and backing up and restoring state.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// --version prints the module version and commit, as every binary.
		Version: cli.Version("mpcadm"),
		Args:    cli.SubcommandOnly,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{Err: err} })
	root.AddCommand(caCmd(stdout, now), csrCmd(stdout), signCmd(stdout, now), showCmd(stdout, now),
		ledgerKeyCmd(stdout), witnessKeyCmd(stdout), configCmd(stdout, now), profileCmd(stdout, now))
	cli.StrictHelp(root, func(err error) error { return usageError{Err: err} })
	root.SetVersionTemplate("{{.Version}}\n")
	return root
}

// required marks flags required, for the help text and the check.
func required(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		if err := cmd.MarkFlagRequired(n); err != nil {
			panic(fmt.Sprintf("mpcadm: flag %s of %s: %v", n, cmd.Name(), err)) // a programming error
		}
	}
}

// group is a command that only holds subcommands: run bare, it prints its
// help; given an unknown subcommand, it fails with suggestions.
func group(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Long: long, Args: cli.SubcommandOnly,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}
	c.AddCommand(subs...)
	return c
}
