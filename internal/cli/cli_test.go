package cli

import (
	"flag"
	"io"
	"slices"
	"testing"
)

func TestParseInterspersed(t *testing.T) {
	cases := []struct {
		args []string
		json bool
		out  string
		pos  []string
	}{
		{[]string{"--json", "SELECT 1"}, true, "", []string{"SELECT 1"}},
		{[]string{"SELECT 1", "--json"}, true, "", []string{"SELECT 1"}},
		{[]string{"q-1", "--out", "f"}, false, "f", []string{"q-1"}},
		{[]string{"a", "--json", "b"}, true, "", []string{"a", "b"}},
	}
	for _, tc := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		j := fs.Bool("json", false, "")
		o := fs.String("out", "", "")
		if err := ParseInterspersed(fs, tc.args); err != nil {
			t.Fatal(err)
		}
		if *j != tc.json || *o != tc.out || !slices.Equal(fs.Args(), tc.pos) {
			t.Fatalf("%v: json=%v out=%q args=%v", tc.args, *j, *o, fs.Args())
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := ParseInterspersed(fs, []string{"x", "--nope"}); err == nil {
		t.Fatal("an unknown flag after a positional must be an error")
	}
}
