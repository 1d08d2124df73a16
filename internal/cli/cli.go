// Package cli holds what the command-line tools share.
package cli

import "flag"

// ParseInterspersed parses args with fs, allowing flags before or after
// the positional arguments; afterwards fs.Args() are the positionals.
func ParseInterspersed(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(positional)
}
