package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// UsageError is a mistake in the command line (exit status 2), as opposed
// to a command that ran and failed (1).
type UsageError struct{ Err error }

func (u UsageError) Error() string { return u.Err.Error() }
func (u UsageError) Unwrap() error { return u.Err }

// Usagef is a UsageError with a formatted message.
func Usagef(format string, a ...any) error { return UsageError{fmt.Errorf(format, a...)} }

// usagePrefixes begin the errors cobra and pflag return for a bad command
// line without a type to recognise them by.
var usagePrefixes = []string{
	"unknown command", "required flag", "accepts ", "unknown flag", "unknown shorthand flag",
	"invalid argument", "flag needs an argument", "bad flag syntax", "if any flags in the group",
}

// IsUsage tells a usage error from a failure: a UsageError anywhere in the
// chain, or one of cobra's and pflag's own errors for a bad command line
// (unknown command or flag, required flag missing, wrong argument count,
// a flag without its value), recognised by their text.
func IsUsage(err error) bool {
	if errors.As(err, new(UsageError)) {
		return true
	}
	msg := err.Error()
	for _, p := range usagePrefixes {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// SubcommandOnly is the argument check of a command that only holds
// subcommands: a word that is none of them is an unknown command, with
// suggestions, not silently ignored.
func SubcommandOnly(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, set only on its own path
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return UsageError{errors.New(msg)}
}
