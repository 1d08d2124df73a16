package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

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
