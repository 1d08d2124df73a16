// Command mpcdemo starts a whole local consortium on loopback (synthetic
// data, a fresh CA, the coordinator and three party daemons as child
// processes, real crypto) and runs sample queries against a plaintext
// oracle, serves it for mpcq, or benchmarks it against a central database
// (DuckDB on the pooled CSVs). It reads flags with github.com/spf13/cobra
// (help, suggestions for mistyped commands, shell completion), as mpcadm.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mpcq/mpcq/internal/cli"
	"github.com/mpcq/mpcq/mpc"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, realActions()))
}

// actions are what the commands do once their flags are read; main uses
// the real ones (cmdRun, cmdServe, cmdBench).
type actions struct {
	run   func(ctx context.Context, o runOptions, stdout io.Writer) error
	serve func(ctx context.Context, c common, stdout io.Writer) error
	bench func(ctx context.Context, o benchOptions, stdout io.Writer) error
}

func realActions() actions { return actions{run: cmdRun, serve: cmdServe, bench: cmdBench} }

// usageError is a mistake in the command line: exit status 2.
type usageError = cli.UsageError

// run executes the command line and returns the exit status (see the
// root command's help): 0 on success and for --help, 1 when the command
// failed, 2 on a usage error, 130 when interrupted.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, do actions) int {
	if cli.WantsVersion(args) {
		fmt.Fprintln(stdout, cli.Version("mpcdemo"))
		return exitOK
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdout, stderr, do)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "mpcdemo:", err)
	switch {
	case cli.IsUsage(err):
		name := "mpcdemo"
		if cmd != nil {
			name = cmd.CommandPath()
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", name)
		return exitUsage
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "mpcdemo: interrupted")
		return exitInterrupted
	}
	return exitFailed
}

const rootLong = `mpcdemo sets up a whole local consortium on loopback: synthetic data,
a fresh CA, the coordinator and three party daemons (telecom, bank,
utility) as child processes, real crypto. It needs the daemons built
(make build: bin/partyd, bin/coordinatord).

  mpcdemo run      sample queries, each beside the plaintext answer
  mpcdemo serve    keep the consortium serving for mpcq
  mpcdemo bench    ceremony, alignment, query times with their phases,
                   bytes, peak RSS, and the same queries in DuckDB

Exit status: 0 on success (and for --help, help, completion and
--version); 1 when the command failed (set-up, a daemon, a query, or an
encrypted answer differing from the plaintext or DuckDB one); 2 on a
usage error (unknown command or flag, bad flag value, missing --dir for
serve); 130 when interrupted (Ctrl-C) during run or bench. Ctrl-C stops
serve normally (0).`

// newRoot builds the command tree.
func newRoot(stdout, stderr io.Writer, do actions) *cobra.Command {
	root := &cobra.Command{
		Use:           "mpcdemo",
		Short:         "A local consortium on loopback: demo, serve, benchmark",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       cli.Version("mpcdemo"),
		Args:          cli.SubcommandOnly,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{Err: suggestFlag(cmd, err)} })
	for _, c := range []*cobra.Command{runCmd(stdout, do), serveCmd(stdout, do), benchCmd(stdout, do)} {
		// Flag warnings (a deprecated flag) go to stderr, never into the
		// JSON on stdout.
		c.Flags().SetOutput(stderr)
		root.AddCommand(c)
	}
	cli.StrictHelp(root, func(err error) error { return usageError{Err: err} })
	return root
}

// suggestFlag adds to an unknown flag error the command's flags whose
// names are close to the mistyped one (edit distance at most 2, or a
// prefix), deprecated and hidden flags left out.
func suggestFlag(cmd *cobra.Command, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok || name == "" {
		return err
	}
	var close []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Deprecated == "" && !f.Hidden && (editDistance(name, f.Name) <= 2 || strings.HasPrefix(f.Name, name)) {
			close = append(close, "--"+f.Name)
		}
	})
	if len(close) == 0 {
		return err
	}
	return fmt.Errorf("%w; did you mean %s?", err, strings.Join(close, " or "))
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// common are the flags of every command.
type common struct {
	people   int
	seed     int64
	dir      string
	paramSet string
	keep     bool
	// source is where the parties read their tables: csv or postgres
	// (the demo's own server in DIR/postgres, for pgParties).
	source    string
	pgParties string
}

func addCommon(fs *pflag.FlagSet, c *common, defPeople int) {
	fs.IntVar(&c.people, "people", defPeople, "number of synthetic people")
	fs.Int64Var(&c.seed, "seed", 1, "seed of the synthetic data")
	fs.StringVar(&c.dir, "dir", "", "directory for data, keys, configs and logs (default: a new temporary directory)")
	fs.StringVar(&c.paramSet, "params", mpc.DefaultSetName, "parameter set")
	fs.StringVar(&c.source, "source", "csv", "where parties read their tables: csv, or postgres (a PostgreSQL server started in DIR/postgres, stopped at exit)")
	fs.StringVar(&c.pgParties, "postgres-parties", "bank,telecom,utility", "with --source postgres: the parties reading from PostgreSQL (comma-separated)")
}

// check refuses flag values no command can use.
func (c common) check() error {
	if c.people <= 0 {
		return usageError{Err: fmt.Errorf("--people %d: want a positive number", c.people)}
	}
	if c.source != "csv" && c.source != "postgres" {
		return usageError{Err: fmt.Errorf("--source %q: want csv or postgres", c.source)}
	}
	return nil
}

// runOptions are run's flags.
type runOptions struct {
	common
	all bool
}

func runCmd(stdout io.Writer, do actions) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [flags]",
		Short: "Set up a consortium, run sample queries beside the plaintext answers",
		Long: `Sets up a local consortium (coordinator + telecom, bank, utility), runs
the sample queries and prints each result beside the plaintext answer
computed independently from the CSVs, then the same question without a
warrant (noisy), and audits the ledger. Exits 1 if any result differs.

Its temporary directory is removed at the end unless --keep (kept when a
query fails, for its logs); a --dir is always kept.`,
		Example: `  mpcdemo run --people 100000
  mpcdemo run --all --keep`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			return do.run(cmd.Context(), o, stdout)
		},
	}
	addCommon(cmd.Flags(), &o.common, 20000)
	cmd.Flags().BoolVar(&o.all, "all", false, "run every sample query, not only the demo's selection")
	cmd.Flags().BoolVar(&o.keep, "keep", false, "keep the temporary directory (data, keys, configs, logs) after a successful run; a --dir is always kept")
	return cmd
}

func serveCmd(stdout io.Writer, do actions) *cobra.Command {
	var c common
	cmd := &cobra.Command{
		Use:   "serve --dir DIR [flags]",
		Short: "Set up a consortium into DIR and keep serving until interrupted",
		Long: `Sets up a local consortium into DIR (a new or empty directory) and keeps
it serving until Ctrl-C. Use mpcq with --profile DIR/analyst, mpcaudit
with --profile DIR/auditor.`,
		Example: `  mpcdemo serve --dir /tmp/consortium --people 20000
  mpcdemo serve --dir /tmp/consortium --source postgres --postgres-parties bank`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.check(); err != nil {
				return err
			}
			return do.serve(cmd.Context(), c, stdout)
		},
	}
	addCommon(cmd.Flags(), &c, 20000)
	if err := cmd.MarkFlagRequired("dir"); err != nil {
		panic(err) // a programming error: the flag is defined above
	}
	return cmd
}

// benchOptions are bench's flags.
type benchOptions struct {
	common
	runs       int
	backToBack bool
	output     cli.Format
}

func benchCmd(stdout io.Writer, do actions) *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench [flags]",
		Short: "Benchmark: ceremony, alignment, queries with their phases, against DuckDB",
		Long: `Runs the whole flow and reports the key ceremony's and the record
alignment's times, then three queries (the spine: three parties, COUNT
and SUM; the same GROUP BY ten districts; an OR across two institutions),
each run --runs times encrypted and, in the same run, in DuckDB on the
pooled CSVs (the same SQL text; loading is not timed): medians, the ratio
of each, the phases of the spine query (ledger appends, each party's
share of the chain, packing, decryption shares, the analyst's
decryption), bytes sent per party and every daemon's peak RSS. Every
encrypted answer must equal DuckDB's, else the bench fails (exit 1).

Before each encrypted run the bench waits until every party's pool of
encryptions of zero is full again (the offline phase a consortium does
while idle; the wait is not timed, and the pool hits and misses of the
timed runs are reported), so the times are the online cost. With
--back-to-back it does not wait: queries then run as fast as they can
follow each other, and the first party encrypts afresh what its pool
lacks.`,
		Example: `  mpcdemo bench --people 100000 --runs 5
  mpcdemo bench --people 1000000 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.runs < 1 {
				return usageError{Err: fmt.Errorf("--runs %d: want at least 1", o.runs)}
			}
			if err := o.check(); err != nil {
				return err
			}
			return do.bench(cmd.Context(), o, stdout)
		},
	}
	addCommon(cmd.Flags(), &o.common, 100000)
	cmd.Flags().IntVar(&o.runs, "runs", 5, "query repetitions (medians are reported)")
	cmd.Flags().BoolVar(&o.backToBack, "back-to-back", false, "do not wait for the parties' encryption pools to refill between runs")
	cli.AddOutputFlag(cmd, &o.output) // -o table|json, and the deprecated --json
	_ = cmd.RegisterFlagCompletionFunc("source", cobra.FixedCompletions([]string{"csv", "postgres"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}
