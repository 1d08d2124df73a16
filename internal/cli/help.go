package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// StrictHelp makes root's help command refuse a topic that is no command
// ("help verfy") with an error naming the topic and the commands it may
// have meant, instead of cobra's "Unknown help topic" and exit status 0.
// usage wraps that error as the tool's usage error (exit status 2).
// Call it after root's subcommands are added: cobra only has a help
// command for a root with subcommands.
func StrictHelp(root *cobra.Command, usage func(error) error) {
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() != "help" {
			continue
		}
		c.Run = nil
		c.RunE = func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if cmd == nil || err != nil || len(rest) > 0 {
				return usage(unknownTopic(c.Root(), args))
			}
			if cmd.Context() == nil {
				cmd.SetContext(c.Context())
			}
			cmd.InitDefaultHelpFlag()    // so that help lists -h, --help
			cmd.InitDefaultVersionFlag() // and --version where there is one
			return cmd.Help()
		}
	}
}

// unknownTopic is the error for "help ARGS" where ARGS name no command:
// it names the topic and suggests the subcommands close to the first
// word that is none, under the deepest command the words do name.
func unknownTopic(root *cobra.Command, args []string) error {
	parent, i := root, 0
	for ; i < len(args); i++ {
		next := (*cobra.Command)(nil)
		for _, sub := range parent.Commands() {
			if sub.IsAvailableCommand() && (sub.Name() == args[i] || sub.HasAlias(args[i])) {
				next = sub
			}
		}
		if next == nil {
			break
		}
		parent = next
	}
	msg := fmt.Sprintf("unknown help topic %q for %q", strings.Join(args, " "), root.CommandPath())
	if i < len(args) {
		if parent.SuggestionsMinimumDistance <= 0 {
			parent.SuggestionsMinimumDistance = 2 // cobra's default, set only on its own path
		}
		if s := parent.SuggestionsFor(args[i]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
	}
	return errors.New(msg)
}
