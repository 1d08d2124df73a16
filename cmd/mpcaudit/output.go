package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

// format is how a command prints its result: the value of -o/--output.
type format string

const (
	formatTable format = "table"
	formatJSON  format = "json"
)

// String, Set and Type make *format a flag value (pflag.Value): a value
// other than table or json is refused when the flags are parsed.
func (f *format) String() string { return string(*f) }
func (f *format) Type() string   { return "table|json" }
func (f *format) Set(s string) error {
	switch format(s) {
	case formatTable, formatJSON:
		*f = format(s)
		return nil
	}
	return fmt.Errorf("want table or json")
}

// output holds a command's -o flag and, where the command had one
// before -o existed, its --json flag, kept as a deprecated alias.
type output struct {
	format format
	json   bool
}

// addOutput gives cmd -o/--output (table or json, with completion) and,
// when jsonAlias is set, the deprecated --json.
func addOutput(cmd *cobra.Command, jsonAlias bool) *output {
	o := &output{format: formatTable}
	cmd.Flags().VarP(&o.format, "output", "o", "print the result in `FORMAT`: table, or json (one JSON document on stdout)")
	_ = cmd.RegisterFlagCompletionFunc("output",
		cobra.FixedCompletions([]string{string(formatTable), string(formatJSON)}, cobra.ShellCompDirectiveNoFileComp))
	if jsonAlias {
		cmd.Flags().BoolVar(&o.json, "json", false, "JSON output")
		_ = cmd.Flags().MarkDeprecated("json", "use -o json")
	}
	return o
}

// resolve is the format asked for: json for --json, unless -o asked for
// another (a usage error).
func (o *output) resolve(cmd *cobra.Command) (format, error) {
	if !o.json {
		return o.format, nil
	}
	if cmd.Flags().Changed("output") && o.format != formatJSON {
		return "", usagef("--json and -o %s ask for two formats: give -o alone", o.format)
	}
	return formatJSON, nil
}

// writeJSON writes v as one JSON document (one line) to w. The encoder
// escapes the C0 control characters in strings; writeJSON also escapes
// what it leaves raw and a terminal would act on (DEL, C1 controls,
// format characters such as U+202E RIGHT-TO-LEFT OVERRIDE, line and
// paragraph separators), as auditor.Escape does for tables. They only
// occur inside strings, where \uXXXX is the same text to a JSON reader.
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return err
	}
	b := buf.Bytes()
	var out bytes.Buffer
	out.Grow(len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r < utf8.RuneSelf && r != 0x7f || !unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			out.Write(b[:n])
		} else if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
		} else {
			fmt.Fprintf(&out, `\u%04x`, r)
		}
		b = b[n:]
	}
	_, err := out.WriteTo(w)
	return err
}
