package party

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecryptLogRefusesRepeatsAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), decryptLogFile)
	d, err := openDecryptLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.claim("q-1", 0, 16); err != nil {
		t.Fatal(err)
	}
	if err := d.claim("q-1", 16, 4); err != nil {
		t.Fatalf("the next batch of the same query: %v", err)
	}
	if err := d.claim("q-1", 3, 1); !errors.Is(err, ErrRepeat) {
		t.Fatalf("repeat: got %v, want ErrRepeat", err)
	}
	if err := d.claim("q-2", 3, 1); err != nil {
		t.Fatalf("another query: %v", err)
	}
	// A torn last line, as after a crash mid-append, is ignored.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	_, _ = f.WriteString("q-3 0")
	f.Close()
	d2, err := openDecryptLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.claim("q-1", 19, 1); !errors.Is(err, ErrRepeat) {
		t.Fatalf("after restart: got %v, want ErrRepeat", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("log mode %v", fi.Mode().Perm())
	}
}

func TestOpenDecryptLog(t *testing.T) {
	cases := []struct {
		name    string
		content string
		ok      bool
		line    int    // the line a refusal names
		left    string // the file after opening
		claimed map[string][]uint32
	}{
		{name: "missing file", content: "", ok: true, left: ""},
		{name: "complete lines", content: "q-1 0 2\nq-2 5 1\n", ok: true, left: "q-1 0 2\nq-2 5 1\n",
			claimed: map[string][]uint32{"q-1": {0, 1}, "q-2": {5}}},
		{name: "torn last line dropped", content: "q-1 0 2\nq-3 0", ok: true, left: "q-1 0 2\n",
			claimed: map[string][]uint32{"q-1": {0, 1}}},
		{name: "torn last line that parses dropped", content: "q-1 0 2\nq-3 0 1", ok: true, left: "q-1 0 2\n",
			claimed: map[string][]uint32{"q-1": {0, 1}}},
		{name: "only a torn line", content: "q-1 0", ok: true, left: ""},
		{name: "malformed middle line", content: "q-1 0 2\nq-2 x 1\nq-3 0 1\n", line: 2},
		{name: "malformed complete last line", content: "q-1 0 2\nq-2 0\n", line: 2},
		{name: "torn line followed by a claim", content: "q-1 0 2\nq-3 0q-4 0 1\n", line: 2},
		{name: "empty line", content: "q-1 0 2\n\nq-2 0 1\n", line: 2},
		{name: "extra field", content: "q-1 0 2 3\n", line: 1},
		{name: "negative count", content: "q-1 0 -2\n", line: 1},
		{name: "overflowing range", content: "q-1 4294967295 2\n", line: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), decryptLogFile)
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			d, err := openDecryptLog(path)
			if !tc.ok {
				want := fmt.Sprintf("%s line %d:", path, tc.line)
				if !errors.Is(err, ErrCorruptLog) || !strings.Contains(err.Error(), want) {
					t.Fatalf("got %v, want ErrCorruptLog naming %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(path); string(b) != tc.left {
				t.Fatalf("file after opening: %q, want %q", b, tc.left)
			}
			for id, cts := range tc.claimed {
				for _, i := range cts {
					if err := d.claim(id, i, 1); !errors.Is(err, ErrRepeat) {
						t.Fatalf("%s %d: got %v, want ErrRepeat", id, i, err)
					}
				}
			}
			// The next claim lands on a line of its own.
			if err := d.claim("q-9", 0, 1); err != nil {
				t.Fatal(err)
			}
			if _, err := openDecryptLog(path); err != nil {
				t.Fatalf("reopening after a claim: %v", err)
			}
		})
	}
}

func TestCheckRanks(t *testing.T) {
	cases := []struct {
		name     string
		ranks    []uint32
		entities uint64
		ok       bool
	}{
		{"valid", []uint32{2, 0, 4}, 5, true},
		{"repeated", []uint32{2, 0, 2}, 5, false},
		{"out of range", []uint32{2, 5}, 5, false},
		{"union smaller than rows", []uint32{0, 1, 2}, 2, false},
		{"absurd union", []uint32{0}, 1 << 40, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkRanks(tc.ranks, tc.entities); (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
