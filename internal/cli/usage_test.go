package cli

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// IsUsage on the errors a real cobra tree returns: every way of getting
// the command line wrong is a usage error (exit 2), a command that ran and
// failed is not.
func TestIsUsage(t *testing.T) {
	tree := func() *cobra.Command {
		root := &cobra.Command{Use: "tool", Args: SubcommandOnly, SilenceErrors: true, SilenceUsage: true,
			RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}
		var name string
		sign := &cobra.Command{Use: "sign", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error {
			return errors.New("cannot read the request")
		}}
		sign.Flags().StringVar(&name, "name", "", "a name")
		_ = sign.MarkFlagRequired("name")
		root.AddCommand(sign)
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		return root
	}
	for _, c := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"sing"}, true, `unknown command "sing" for "tool"; did you mean sign?`},
		{[]string{"sign", "--name"}, true, "flag needs an argument"},
		{[]string{"sign", "--nam", "x"}, true, "unknown flag: --nam"},
		{[]string{"sign"}, true, `required flag(s) "name" not set`},
		{[]string{"sign", "--name", "x", "extra"}, true, "unknown command"},
		{[]string{"sign", "--name", "x"}, false, "cannot read the request"},
	} {
		root := tree()
		root.SetArgs(c.args)
		err := root.Execute()
		if err == nil || IsUsage(err) != c.usage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (usage %v), want usage %v and %q", c.args, err, err != nil && IsUsage(err), c.usage, c.want)
		}
	}
	if !IsUsage(Usagef("--%s and --%s ask for two things", "a", "b")) {
		t.Error("a Usagef error is not a usage error")
	}
}
