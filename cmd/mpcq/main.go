// Command mpcq is the police analyst's client: it sends SQL joint queries
// to the coordinator and decrypts the aggregate results, which only the
// analyst's own key (in the profile) can read. It reads its command line
// with github.com/spf13/cobra (help, suggestions for mistyped commands,
// unknown flags refused, shell completion), as mpcadm does.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mpcq/mpcq/internal/cli"
)

// Exit statuses, documented in the root command's help.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, as shells report it
)

func main() {
	if cli.WantsVersion(os.Args[1:]) {
		fmt.Println(cli.Version("mpcq"))
		return
	}
	// Ctrl-C (or SIGTERM) cancels the command's context: a running query
	// is cancelled at the coordinator, which records the cancellation on
	// the ledger as the analyst's, blaming no party.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a mistake in the command line: exit status 2.
type usageError = cli.UsageError

func usagef(format string, args ...any) error { return usageError{Err: fmt.Errorf(format, args...)} }

// errInterrupted is the error of a command stopped by Ctrl-C.
var errInterrupted = errors.New("interrupted: the query was cancelled; if it was already committed, the ledger records the cancellation as yours")

// run executes the command line and returns the exit status: 0 on
// success (and for --help), 1 when the command failed, 2 on a usage
// error, 130 when interrupted (ctx cancelled: Ctrl-C).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root, cli.SingleDash(root, args)
	if err != nil {
		err = usageError{Err: err}
	} else {
		cmd, err = root.ExecuteContextC(ctx)
	}
	if err == nil {
		return exitOK
	}
	switch {
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(stderr, "mpcq:", err)
		return exitInterrupted
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "mpcq: interrupted")
		return exitInterrupted
	case cli.IsUsage(err):
		fmt.Fprintln(stderr, "mpcq:", strings.TrimRight(err.Error(), "\n"))
		name := "mpcq"
		if cmd != nil {
			name = cmd.CommandPath()
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", name)
		return exitUsage
	default:
		fmt.Fprintln(stderr, "mpcq:", err)
		return exitFailure
	}
}

// options are the root's persistent flags.
type options struct {
	profile string
	version bool
}

// profileDir is --profile, else $MPCQ_PROFILE.
func (o *options) profileDir() (string, error) {
	if o.profile != "" {
		return o.profile, nil
	}
	if d := os.Getenv("MPCQ_PROFILE"); d != "" {
		return d, nil
	}
	return "", usagef("no analyst profile: give --profile DIR or set MPCQ_PROFILE")
}

const rootLong = `mpcq sends SQL joint queries to the consortium's coordinator and decrypts
their aggregate results, which only the analyst's key (in the profile) can
read. Every command but keygen talks to the coordinator named in the
profile (DIR/profile.json, "coordinator").

SQL:
  SELECT [group columns,] COUNT(*) | SUM(t.c) | AVG(t.c) | VARIANCE(t.c) | STDDEV(t.c) [AS name], ...
  FROM t1 [[LEFT] JOIN t2 USING (person_id) [[LEFT] JOIN t3 USING (person_id)]]
  [WHERE conditions combined with AND, OR, NOT and parentheses: t.c OP integer,
   t.cat = 'value', t.c OP 3 * t.d (columns of one institution), t.c IN (...),
   t.c BETWEEN a AND b, t.person_id IS [NOT] NULL for a LEFT JOINed table]
  [GROUP BY t.cat [, u.cat]]

Output: commands that print take -o table (the default) or -o json (one
JSON document on stdout; progress and messages go to stderr). --json is a
deprecated spelling of -o json.

Exit status:
  0    success (and --help)
  1    the command failed (status: not ready), with the reason on stderr
  2    usage error: unknown command or flag, bad arguments
  130  interrupted (Ctrl-C): a running query is cancelled, and the ledger
       records the cancellation as yours`

// newRoot builds the command tree; cobra's help and completion output go
// to stdout, messages to stderr.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	o := &options{}
	root := &cobra.Command{
		Use:   "mpcq",
		Short: "Run encrypted joint queries across the consortium's institutions",
		Long:  rootLong,
		Example: `  mpcq --profile demo/analyst status
  mpcq --profile demo/analyst schema
  mpcq --profile demo/analyst query "SELECT COUNT(*) FROM telecom JOIN bank USING (person_id) WHERE telecom.flagged_calls_30d > 20"
  mpcq --profile demo/analyst query -o json "SELECT COUNT(*) FROM bank"
  mpcq --profile demo/analyst explain "SELECT utility.district, COUNT(*) FROM utility JOIN bank USING (person_id) GROUP BY utility.district"`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.version {
				_, err := fmt.Fprintln(stdout, cli.Version("mpcq"))
				return err
			}
			return cmd.Help()
		},
	}
	root.PersistentFlags().StringVar(&o.profile, "profile", "", "analyst profile `DIR` (default $MPCQ_PROFILE)")
	_ = root.MarkPersistentFlagDirname("profile")
	root.Flags().BoolVar(&o.version, "version", false, "print the version and commit, and exit")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{Err: err} })
	root.AddCommand(queryCmd(o, stdout, stderr), explainCmd(o, stdout), statusCmd(o, stdout, stderr),
		schemaCmd(o, stdout), keygenCmd(o))
	cli.StrictHelp(root, func(err error) error { return usageError{Err: err} })
	(&cli.OutSwitch{Stdout: stdout, Stderr: stderr}).Install(root)
	cli.StrictCompletion(root) // after Install: cobra binds the scripts' writer now
	return root
}

// oneSQL is the argument check of a command that takes one SQL query.
func oneSQL(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usagef(`%s takes exactly one SQL argument, in quotes (got %d): mpcq --profile DIR %s "SELECT ..."`, cmd.Name(), len(args), cmd.Name())
	}
	return nil
}

// noArgs is the argument check of a command that takes no arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) != 0 {
		return usagef("%s takes no arguments, got %q", cmd.Name(), args)
	}
	return nil
}
