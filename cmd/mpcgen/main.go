// Command mpcgen writes a synthetic three-party consortium's data: the
// telecom, bank and utility tables as CSV with their schema files, drawn
// deterministically from a seed, with planted patterns for demo queries.
//
// It is a thin wrapper around package gen; it is not a tool for real data.
// Flags are read with github.com/spf13/cobra, as mpcadm and mpcaudit:
// help, unknown flags refused, shell completion.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mpcq/mpcq/internal/cli"
	"github.com/mpcq/mpcq/internal/gen"
)

func main() {
	if cli.WantsVersion(os.Args[1:]) {
		fmt.Println(cli.Version("mpcgen"))
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is a mistake in the command line: exit status 2.
type usageError = cli.UsageError

// run executes the command line and returns the process exit status: 0
// ok (and for help), 1 failure, 2 usage error. Help and completion
// scripts go to stdout; the files written are reported on stderr.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "mpcgen:", err)
	if cli.IsUsage(err) {
		name := "mpcgen"
		if cmd != nil {
			name = cmd.CommandPath()
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", name)
		return 2
	}
	return 1
}

// newRoot builds the command: the root writes the data; its only
// subcommands are cobra's help and completion.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	var people int
	var seed int64
	var out string
	root := &cobra.Command{
		Use:   "mpcgen --out DIR [--people N] [--seed S]",
		Short: "Write a synthetic three-party consortium's tables and schemas",
		Long: fmt.Sprintf(`Writes synthetic data for a three-party consortium into DIR:
  DIR/telecom.csv, DIR/bank.csv, DIR/utility.csv
      one row per customer, keyed by person_id (an 18-character
      Chinese-resident-id-like string with a valid check character); rows
      are shuffled per institution. Each person is a telecom customer with
      probability %.2f, a bank customer %.2f, a utility customer %.2f.
  DIR/telecom.schema.json, DIR/bank.schema.json, DIR/utility.schema.json
      each table's columns with their declared bounds (load with table.ReadSchema).
Planted patterns: a crypto-mining cluster (kwh_30d >= 3 x kwh_avg_12m with
cash deposits >= 50000, mostly in D03 and D07), a telecom-fraud ring (30-300
flagged calls and 10-200 transfers abroad), meter tampering, and %d persons
whose every column is at its declared maximum.
Prints one line per file written to stderr. The same --people and --seed
always give byte-identical files. It is not a tool for real data.

Exit status: 0 ok (and for --help); 1 the files could not be written;
2 usage error (unknown flag, bad value, missing --out).`, gen.PTelecom, gen.PBank, gen.PUtility, gen.ExtremePersons),
		Example:       `  mpcgen --out data --people 10000 --seed 1`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       cli.Version("mpcgen"),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unexpected argument %q; all options are flags", args[0])
			cmd.SuggestionsMinimumDistance = 2
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return usageError{Err: errors.New(msg)}
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{Err: errors.New("--out DIR is required")}
			}
			if people < 1 || people > gen.MaxPeople {
				return usageError{Err: fmt.Errorf("--people %d is out of range; give a number from 1 to %d", people, gen.MaxPeople)}
			}
			files, err := gen.WriteDir(out, people, seed)
			if err != nil {
				return err
			}
			for _, f := range files {
				if f.Schema {
					fmt.Fprintf(stderr, "mpcgen: wrote %s (schema of table %s: key and %d columns)\n", f.Path, f.Table, f.Columns)
				} else {
					fmt.Fprintf(stderr, "mpcgen: wrote %s (%d rows, %d columns plus the key)\n", f.Path, f.Rows, f.Columns)
				}
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{Err: err} })
	root.SetVersionTemplate("{{.Version}}\n")
	f := root.Flags()
	f.IntVar(&people, "people", 10000, fmt.Sprintf("number of persons `N` in the synthetic population (1 to %d)", gen.MaxPeople))
	f.Int64Var(&seed, "seed", 1, "random seed `S`; the same people and seed always give byte-identical files")
	f.StringVar(&out, "out", "", "output directory `DIR`, created if missing (required)")
	_ = root.MarkFlagDirname("out")
	// cobra adds help and completion only to a command with subcommands
	// (completion only when called): make completion now, with the
	// stdout above, so that 'mpcgen help' and 'mpcgen completion bash'
	// both work. An unknown shell is refused rather than answered with
	// help.
	root.InitDefaultCompletionCmd("completion")
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return nil
				}
				return usageError{Err: fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			}
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
	}
	cli.StrictHelp(root, func(err error) error { return usageError{Err: err} })
	return root
}
