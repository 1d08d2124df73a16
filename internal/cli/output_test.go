package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
)

// TestOutputFlag: -o takes table or json only; --json is -o json, and its
// deprecation notice reaches stderr, not stdout, through OutSwitch.
func TestOutputFlag(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    Format
		err     string
		warning bool
	}{
		{nil, Table, "", false},
		{[]string{"-o", "json"}, JSON, "", false},
		{[]string{"--output=table"}, Table, "", false},
		{[]string{"--json"}, JSON, "", true},
		{[]string{"-o", "yaml"}, "", `output format "yaml": want table or json`, false},
		{[]string{"--json=maybe"}, "", "--json takes no value", false},
		{[]string{"-o", "json", "--json"}, JSON, "", true},
		{[]string{"--json", "-o", "json"}, JSON, "", true},
		{[]string{"--json=false", "-o", "table"}, Table, "", true},
		{[]string{"--json", "-o", "table"}, "", "--json and -o table ask for two formats: give -o alone", false},
		{[]string{"-o", "table", "--json"}, "", "--json and -o table ask for two formats: give -o alone", false},
		{[]string{"--output=table", "--json=true"}, "", "--json and -o table ask for two formats", false},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var f Format
			var stdout, stderr bytes.Buffer
			root := &cobra.Command{Use: "x", SilenceErrors: true, SilenceUsage: true,
				RunE: func(cmd *cobra.Command, _ []string) error {
					return WriteJSON(cmd.OutOrStdout(), map[string]string{"format": string(f)})
				}}
			AddOutputFlag(root, &f)
			(&OutSwitch{Stdout: &stdout, Stderr: &stderr}).Install(root)
			root.SetArgs(tc.args)
			err := root.Execute()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || f != tc.want {
				t.Fatalf("format %q, err %v; want %q", f, err, tc.want)
			}
			var got map[string]string
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || got["format"] != string(tc.want) {
				t.Fatalf("stdout is not the one JSON document: %q (%v)", stdout.String(), err)
			}
			if warned := strings.Contains(stderr.String(), "Flag --json has been deprecated, use -o json"); warned != tc.warning {
				t.Fatalf("stderr %q", stderr.String())
			}
		})
	}
}

// TestOutSwitchHelp: help goes to stdout.
func TestOutSwitchHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	root := &cobra.Command{Use: "x", Long: "the long help", RunE: func(*cobra.Command, []string) error { return nil }}
	(&OutSwitch{Stdout: &stdout, Stderr: &stderr}).Install(root)
	root.SetArgs([]string{"--help"})
	if err := root.Execute(); err != nil || !strings.Contains(stdout.String(), "the long help") || stderr.Len() != 0 {
		t.Fatalf("err %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}
}

// TestOutputFlagOnly: a command without --json refuses it, and -o works.
func TestOutputFlagOnly(t *testing.T) {
	var f Format
	root := &cobra.Command{Use: "x", SilenceErrors: true, SilenceUsage: true, RunE: func(*cobra.Command, []string) error { return nil }}
	AddOutputFlagOnly(root, &f)
	root.SetArgs([]string{"--json"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "unknown flag: --json") {
		t.Fatalf("--json on a command without it: %v", err)
	}
	root.SetArgs([]string{"-o", "json"})
	if err := root.Execute(); err != nil || f != JSON {
		t.Fatalf("-o json: format %q, err %v", f, err)
	}
}

// TestOutputCompletion: the shell completion of -o offers table and json
// and no file names.
func TestOutputCompletion(t *testing.T) {
	var f Format
	var stdout bytes.Buffer
	root := &cobra.Command{Use: "x"}
	sub := &cobra.Command{Use: "show", RunE: func(*cobra.Command, []string) error { return nil }}
	AddOutputFlag(sub, &f)
	root.AddCommand(sub)
	root.SetOut(&stdout)
	root.SetErr(io.Discard)
	root.SetArgs([]string{cobra.ShellCompRequestCmd, "show", "-o", ""})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if !slices.Equal(lines, []string{"table", "json", ":4"}) {
		t.Fatalf("completion of -o: %q", stdout.String())
	}
}

// TestWriteJSONEscapes: strings that would move a terminal's cursor,
// reverse the text's direction or break lines come out as \u escapes,
// the document stays indented, and it decodes back to the same text.
func TestWriteJSONEscapes(t *testing.T) {
	for _, tc := range []struct {
		name, s, escaped string
	}{
		{"right-to-left override", "mallory\u202ex", `"mallory\u202ex"`},
		{"escape sequence", "a\x1b[2Kb", `"a\u001b[2Kb"`},
		{"newline and return", "a\nb\rc", `"a\nb\rc"`},
		{"DEL and C1 NEL", "a\x7fb\u0085c", `"a\u007fb\u0085c"`},
		{"line and paragraph separators", "a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"zero width joiner and BOM", "a\u200db\ufeffc", `"a\u200db\ufeffc"`},
		{"tag character, outside the BMP", "a\U000e0001b", `"a\udb40\udc01b"`},
		{"printable text is left alone", "Zoë 𝄞 ε=0.5 <&>", `"Zoë 𝄞 ε=0.5 \u003c\u0026\u003e"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, layout := range []struct {
				write func(io.Writer, any) error
				want  string
			}{
				{WriteJSON, "{\n  \"s\": " + tc.escaped + "\n}\n"},
				{WriteJSONLine, `{"s":` + tc.escaped + "}\n"},
			} {
				var buf bytes.Buffer
				if err := layout.write(&buf, map[string]string{"s": tc.s}); err != nil {
					t.Fatal(err)
				}
				if buf.String() != layout.want {
					t.Fatalf("wrote %q, want %q", buf.String(), layout.want)
				}
				var got map[string]string
				if err := json.Unmarshal(buf.Bytes(), &got); err != nil || got["s"] != tc.s {
					t.Fatalf("decodes to %q (%v), want %q", got["s"], err, tc.s)
				}
			}
		})
	}
}

// FuzzWriteJSON: whatever a string holds, WriteJSON and WriteJSONLine
// write one JSON document that decodes to it (invalid UTF-8 replaced, as
// encoding/json does) with no control, format or separator character raw
// but the newlines of the layout.
func FuzzWriteJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "a\nb", "\x1b[2J", "\u202e", "\u2028\u2029", "\x7f\u0085", "\xff", "𝄞\U000e0001"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, oneLine bool) {
		var buf bytes.Buffer
		write, lines := WriteJSON, 3
		if oneLine {
			write, lines = WriteJSONLine, 1
		}
		if err := write(&buf, map[string]string{"s": s}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !strings.HasSuffix(out, "}\n") || strings.Count(out, "\n") != lines {
			t.Fatalf("not the document of one field in %d lines: %q", lines, out)
		}
		for _, r := range out {
			if r != '\n' && unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
				t.Fatalf("%U raw in %q", r, out)
			}
		}
		dec := json.NewDecoder(&buf)
		var got map[string]string
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if dec.More() {
			t.Fatalf("more than one document: %q", out)
		}
		want, _ := json.Marshal(s)
		var wantS string
		_ = json.Unmarshal(want, &wantS)
		if got["s"] != wantS {
			t.Fatalf("decodes to %q, want %q", got["s"], wantS)
		}
	})
}
