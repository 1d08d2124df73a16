package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReplacesWithMode(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		perm os.FileMode
		data string
	}{{"key.pem", 0o600, "secret"}, {"cert.pem", 0o644, "public"}, {"key.pem", 0o600, "second secret"}} {
		p := filepath.Join(dir, tc.name)
		if err := Write(p, []byte(tc.data), tc.perm); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != tc.data {
			t.Fatalf("%s: read %q, %v; want %q", tc.name, got, err, tc.data)
		}
		st, _ := os.Stat(p)
		if st.Mode().Perm() != tc.perm {
			t.Fatalf("%s: mode %v, want %v", tc.name, st.Mode().Perm(), tc.perm)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
}

func TestWriteFailureLeavesOldContent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := Write(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory in the way of the rename makes it fail.
	blocked := filepath.Join(dir, "sub")
	if err := os.MkdirAll(filepath.Join(blocked, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := Write(blocked, []byte("new"), 0o600)
	if err == nil || !strings.Contains(err.Error(), blocked) {
		t.Fatalf("writing over a non-empty directory: %v, want an error naming %s", err, blocked)
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Fatalf("unrelated file changed: %q", got)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file %s left behind after a failure", e.Name())
		}
	}
	if err := Write(filepath.Join(dir, "missing", "f"), nil, 0o600); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}
