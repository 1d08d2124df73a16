package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

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

// outputValue is -o/--output of one command: it sets the Format and
// remembers what it was set to, so that --json together with -o table is
// refused whichever comes first.
type outputValue struct {
	f   *Format
	sel *selection
}

// selection is what the command line asked for: -o's value, and whether
// --json was given.
type selection struct {
	output Format
	json   bool
}

// conflict is the usage error of --json with -o other than json.
func (s *selection) conflict() error {
	if s.json && s.output != "" && s.output != JSON {
		return fmt.Errorf("--json and -o %s ask for two formats: give -o alone", s.output)
	}
	return nil
}

func (v outputValue) String() string { return v.f.String() }
func (v outputValue) Type() string   { return v.f.Type() }
func (v outputValue) Set(s string) error {
	if err := v.f.Set(s); err != nil {
		return err
	}
	v.sel.output = *v.f
	if err := v.sel.conflict(); err != nil {
		return err
	}
	if v.sel.json {
		*v.f = JSON
	}
	return nil
}

// jsonAlias is the deprecated --json flag: a boolean that sets -o json.
type jsonAlias struct {
	f   *Format
	sel *selection
}

func (a jsonAlias) String() string { return "false" }
func (a jsonAlias) Type() string   { return "bool" }
func (a jsonAlias) Set(s string) error {
	switch s {
	case "true":
		a.sel.json = true
		if err := a.sel.conflict(); err != nil {
			return err
		}
		*a.f = JSON
	case "false":
	default:
		return fmt.Errorf("--json takes no value (or true/false), got %q", s)
	}
	return nil
}

// AddOutputFlag adds -o/--output table|json to cmd (default table), with
// shell completion of the two values, and --json as a deprecated alias of
// -o json so that scripts written before -o keep working; --json with -o
// table is refused (a flag error, which the tools report as a usage
// error). pflag prints the deprecation notice ("Flag --json has been
// deprecated, use -o json") to the flag set's output while parsing flags:
// a command tree must send that to stderr (OutSwitch, or
// cmd.Flags().SetOutput(stderr)) so that stdout stays one JSON document.
func AddOutputFlag(cmd *cobra.Command, f *Format) {
	addOutput(cmd, f, true)
}

// AddOutputFlagOnly is AddOutputFlag without --json, for a command that
// never had that flag.
func AddOutputFlagOnly(cmd *cobra.Command, f *Format) {
	addOutput(cmd, f, false)
}

func addOutput(cmd *cobra.Command, f *Format, alias bool) {
	*f = Table
	sel := &selection{}
	cmd.Flags().VarP(outputValue{f, sel}, "output", "o", "output format: table or json (one JSON document on stdout; messages go to stderr)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(Formats, cobra.ShellCompDirectiveNoFileComp))
	if !alias {
		return
	}
	fl := cmd.Flags().VarPF(jsonAlias{f, sel}, "json", "", "same as -o json")
	fl.NoOptDefVal = "true"
	if err := cmd.Flags().MarkDeprecated("json", "use -o json"); err != nil {
		panic(fmt.Sprintf("cli: deprecating --json of %s: %v", cmd.Name(), err)) // a programming error
	}
}

// WriteJSON writes v to w as one indented JSON document and a newline,
// as mpcq and mpcwarrant print it.
func WriteJSON(w io.Writer, v any) error { return writeJSON(w, v, "  ") }

// WriteJSONLine writes v to w as one JSON document on one line, as
// mpcaudit and mpcdemo bench print it (scripts and tests match its
// text), escaped as WriteJSON.
func WriteJSONLine(w io.Writer, v any) error { return writeJSON(w, v, "") }

// writeJSON writes v to w as one JSON document and a newline, indented by
// indent ("": on one line). The encoder escapes the C0 control characters
// in strings; writeJSON also escapes what it leaves raw and a terminal would act on (DEL, C1
// controls, format characters such as U+202E RIGHT-TO-LEFT OVERRIDE, line
// and paragraph separators): JSON is read by programs but often looked at
// in a terminal too. Those characters only occur inside strings, where
// \uXXXX is the same text to a JSON reader.
func writeJSON(w io.Writer, v any, indent string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b := buf.Bytes()
	var out bytes.Buffer
	out.Grow(len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r < utf8.RuneSelf && r != 0x7f || !unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp):
			out.Write(b[:n])
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
		b = b[n:]
	}
	_, err := out.WriteTo(w)
	return err
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
