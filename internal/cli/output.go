package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// Format is how a command prints its output: -o table (for people, the
// default) or -o json (one JSON document on stdout, for scripts).
type Format string

// The output formats.
const (
	Table Format = "table"
	JSON  Format = "json"
)

// Formats lists the accepted -o values, for help and completion.
var Formats = []string{string(Table), string(JSON)}

// String implements pflag.Value.
func (f *Format) String() string { return string(*f) }

// Set implements pflag.Value: only table or json.
func (f *Format) Set(s string) error {
	switch Format(s) {
	case Table, JSON:
		*f = Format(s)
		return nil
	}
	return fmt.Errorf("output format %q: want %s", s, strings.Join(Formats, " or "))
}

// Type implements pflag.Value.
func (f *Format) Type() string { return "table|json" }

// jsonAlias is the deprecated --json flag: a boolean that sets -o json.
type jsonAlias struct{ f *Format }

func (a jsonAlias) String() string { return "false" }
func (a jsonAlias) Type() string   { return "bool" }
func (a jsonAlias) Set(s string) error {
	switch s {
	case "true":
		*a.f = JSON
	case "false":
	default:
		return fmt.Errorf("--json takes no value (or true/false), got %q", s)
	}
	return nil
}

// AddOutputFlag adds -o/--output table|json to cmd (default table), with
// shell completion of the two values, and --json as a deprecated alias of
// -o json so that scripts written before -o keep working. cobra prints
// the deprecation notice ("Flag --json has been deprecated, use -o json")
// to the command's output stream while parsing flags: a command tree must
// send that stream to stderr until the flags are parsed (see
// cmd/mpcq's outputSwitch) so that stdout stays one JSON document.
func AddOutputFlag(cmd *cobra.Command, f *Format) {
	*f = Table
	cmd.Flags().VarP(f, "output", "o", "output format: table or json (one JSON document on stdout; messages go to stderr)")
	fl := cmd.Flags().VarPF(jsonAlias{f}, "json", "", "same as -o json")
	fl.NoOptDefVal = "true"
	if err := cmd.Flags().MarkDeprecated("json", "use -o json"); err != nil {
		panic(fmt.Sprintf("cli: deprecating --json of %s: %v", cmd.Name(), err)) // a programming error
	}
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return Formats, cobra.ShellCompDirectiveNoFileComp
	})
}

// WriteJSON writes v to w as one indented JSON document and a newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// NewTable returns a tabwriter for tab-separated columns, as the CLIs
// print tables; Flush it when done.
func NewTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// OutSwitch is a cobra command tree's output stream. cobra writes help,
// completion scripts and the version there, which belong on stdout, but
// also, while it parses flags, its notices about deprecated flags, which
// must not land in front of a JSON document on stdout. OutSwitch sends
// what is written to Stderr until the flags are parsed and to Stdout
// afterwards; Install wires the switch into the tree.
type OutSwitch struct {
	Stdout, Stderr io.Writer
	parsed         bool
}

// Write implements io.Writer.
func (s *OutSwitch) Write(p []byte) (int, error) {
	if s.parsed {
		return s.Stdout.Write(p)
	}
	return s.Stderr.Write(p)
}

// Install makes s root's output and error streams' switch: output goes
// to stdout from the help function and from the persistent pre-run hook
// on (which every command runs after its flags are parsed, completion
// included; subcommands must not set their own PersistentPreRun).
// root.Version must be empty: cobra prints it before any hook runs.
func (s *OutSwitch) Install(root *cobra.Command) {
	if root.Version != "" {
		panic("cli: OutSwitch cannot route cobra's --version; handle --version in the root's RunE") // a programming error
	}
	root.SetOut(s)
	root.SetErr(s.Stderr)
	help := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		s.parsed = true
		help(c, args)
	})
	pre := root.PersistentPreRunE
	root.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		s.parsed = true
		if pre != nil {
			return pre(c, args)
		}
		return nil
	}
}

// SingleDash refuses a long flag spelled with one dash (-profile), which
// the flag package the CLIs used before cobra accepted and pflag would
// read as a cluster of one-letter flags: the error names the right
// spelling. It checks args (up to "--") against the long flags of every
// command under root, before root.Execute; callers report it as a usage
// error.
func SingleDash(root *cobra.Command, args []string) error {
	isLong := func(name string) bool {
		if len(name) < 2 {
			return false
		}
		if name == "help" {
			return true
		}
		found := false
		var walk func(c *cobra.Command)
		walk = func(c *cobra.Command) {
			found = found || c.Flags().Lookup(name) != nil || c.PersistentFlags().Lookup(name) != nil
			for _, sub := range c.Commands() {
				walk(sub)
			}
		}
		walk(root)
		return found
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if name, _, _ := strings.Cut(strings.TrimPrefix(a, "-"), "="); strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && isLong(name) {
			return fmt.Errorf("-%s: flags take two dashes: --%s", name, name)
		}
	}
	return nil
}

// StrictCompletion adds cobra's completion command to root now (root's
// subcommands and output stream must be set first: cobra binds the
// scripts' writer here) and makes it refuse an unknown shell,
// with suggestions ("bsh": did you mean bash?), as a usage error instead
// of printing its help with exit status 0.
func StrictCompletion(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.SuggestionsMinimumDistance = 2
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
			}
			return errors.New(msg)
		}
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
}
