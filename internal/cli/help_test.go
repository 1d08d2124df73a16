package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// usageErr marks an error as a usage error, as the tools' own types do.
type usageErr struct{ error }

// helpTree is a root with verify, show (with a subcommand list) and
// cobra's completion, and StrictHelp.
func helpTree(stdout *bytes.Buffer) *cobra.Command {
	root := &cobra.Command{Use: "tool", SilenceErrors: true, SilenceUsage: true}
	show := &cobra.Command{Use: "show", Short: "show things", Long: "the show help", RunE: func(*cobra.Command, []string) error { return nil }}
	show.AddCommand(&cobra.Command{Use: "list", Long: "the list help", RunE: func(*cobra.Command, []string) error { return nil }})
	root.AddCommand(&cobra.Command{Use: "verify", Long: "the verify help", RunE: func(*cobra.Command, []string) error { return nil }}, show)
	root.SetOut(stdout)
	root.SetErr(stdout)
	StrictHelp(root, func(err error) error { return usageErr{err} })
	return root
}

// TestStrictHelp: help with a known topic prints its help; an unknown
// topic is a usage error naming it, with the commands it may have meant,
// and prints nothing.
func TestStrictHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		out  string // in stdout; "" for an error
		err  string // in the usage error
	}{
		{[]string{"help"}, "Available Commands", ""},
		{[]string{"help", "verify"}, "the verify help", ""},
		{[]string{"help", "show", "list"}, "the list help", ""},
		{[]string{"help", "help"}, "Help provides help", ""},
		{[]string{"help", "completion"}, "Generate the autocompletion script", ""},
		{[]string{"help", "verfy"}, "", `unknown help topic "verfy" for "tool"; did you mean verify?`},
		{[]string{"help", "sho"}, "", `unknown help topic "sho" for "tool"; did you mean show?`},
		{[]string{"help", "nosuch"}, "", `unknown help topic "nosuch" for "tool"`},
		{[]string{"help", "show", "lsit"}, "", `unknown help topic "show lsit" for "tool"; did you mean list?`},
		{[]string{"help", "verify", "extra"}, "", `unknown help topic "verify extra" for "tool"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout bytes.Buffer
			root := helpTree(&stdout)
			root.SetArgs(tc.args)
			err := root.Execute()
			if tc.err == "" {
				if err != nil || !strings.Contains(stdout.String(), tc.out) {
					t.Fatalf("err %v, stdout %q; want %q", err, stdout.String(), tc.out)
				}
				return
			}
			if !errors.As(err, new(usageErr)) || err.Error() != tc.err && !strings.HasPrefix(err.Error(), tc.err) {
				t.Fatalf("err %v (%T), want the usage error %q", err, err, tc.err)
			}
			if tc.args[1] == "nosuch" && strings.Contains(err.Error(), "did you mean") {
				t.Fatalf("suggestion for nothing close: %v", err)
			}
			if stdout.Len() != 0 {
				t.Fatalf("an unknown topic printed %q", stdout.String())
			}
		})
	}
}
