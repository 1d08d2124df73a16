package party

import (
	"errors"
	"os"
	"path/filepath"
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
