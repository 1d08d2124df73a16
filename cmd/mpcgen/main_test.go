package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/internal/table"
)

func TestRunWritesLoadableFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var stderr bytes.Buffer
	if code := run([]string{"--people", "2000", "--seed", "5", "--out", dir}, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, &stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 6 {
		t.Errorf("want one summary line per file (6), got:\n%s", &stderr)
	}
	for _, want := range gen.Schemas() {
		s, err := table.ReadSchema(filepath.Join(dir, want.Name+".schema.json"))
		if err != nil {
			t.Fatalf("ReadSchema: %v", err)
		}
		csvPath := filepath.Join(dir, want.Name+".csv")
		d, err := table.LoadFile(csvPath, s)
		if err != nil {
			t.Fatalf("LoadFile: %v", err)
		}
		summary := csvPath + " (" + strconv.Itoa(d.Len()) + " rows"
		if !strings.Contains(stderr.String(), summary) {
			t.Errorf("stderr does not report %q:\n%s", summary, &stderr)
		}
	}
}

func TestRunIsDeterministic(t *testing.T) {
	dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b"), filepath.Join(t.TempDir(), "c")}
	seeds := []string{"9", "9", "10"}
	for i, d := range dirs {
		if code := run([]string{"--people", "1000", "--seed", seeds[i], "--out", d}, &bytes.Buffer{}); code != 0 {
			t.Fatalf("run %d: exit %d", i, code)
		}
	}
	for _, s := range gen.Schemas() {
		for _, suffix := range []string{".csv", ".schema.json"} {
			name := s.Name + suffix
			a, _ := os.ReadFile(filepath.Join(dirs[0], name))
			b, _ := os.ReadFile(filepath.Join(dirs[1], name))
			c, _ := os.ReadFile(filepath.Join(dirs[2], name))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("%s: same seed gave different (or empty) files", name)
			}
			if suffix == ".csv" && bytes.Equal(a, c) {
				t.Errorf("%s: different seeds gave identical files", name)
			}
		}
	}
}

func TestRunUsageAndErrors(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		has  string
	}{
		{"help", []string{"--help"}, 0, "DIR/telecom.csv"},
		{"no out", []string{"--people", "10"}, 2, "--out DIR is required"},
		{"zero people", []string{"--people", "0", "--out", t.TempDir()}, 2, "--people 0 is out of range"},
		{"too many people", []string{"--people", "99999999999", "--out", t.TempDir()}, 2, "out of range"},
		{"not a number", []string{"--people", "many", "--out", t.TempDir()}, 2, "invalid value"},
		{"unknown flag", []string{"--rows", "10"}, 2, "flag provided but not defined"},
		{"positional argument", []string{"--out", t.TempDir(), "extra"}, 2, `unexpected argument "extra"`},
		{"out is a file", []string{"--people", "10", "--out", notADir}, 1, "cannot create output directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tc.args, &stderr); code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, &stderr)
			}
			if !strings.Contains(stderr.String(), tc.has) {
				t.Errorf("stderr does not contain %q:\n%s", tc.has, &stderr)
			}
		})
	}
}
