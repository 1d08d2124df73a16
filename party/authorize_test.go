package party

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpcq/mpcq/ledger/request"
)

// TestRequestMemory: one signed request serves one query id (its step and
// its decryption share), not a second query; the memory forgets requests
// once they are too old to verify anyway.
func TestRequestMemory(t *testing.T) {
	var m requestMemory
	now := time.Now()
	h := [32]byte{1}
	if err := m.bind(h, "q-1", now); err != nil {
		t.Fatal(err)
	}
	if err := m.bind(h, "q-1", now.Add(time.Minute)); err != nil {
		t.Fatalf("the same query again: %v", err)
	}
	if err := m.bind(h, "q-2", now.Add(2*time.Minute)); err == nil {
		t.Fatal("a request reused for another query was accepted")
	}
	if err := m.bind([32]byte{2}, "q-2", now); err != nil {
		t.Fatalf("another request: %v", err)
	}
	later := now.Add(request.MaxAge + request.MaxSkew + 3*time.Minute)
	if err := m.bind([32]byte{3}, "q-3", later); err != nil || len(m.used) != 1 {
		t.Fatalf("old entries not forgotten: %v, %d remembered", err, len(m.used))
	}
}

// TestRequestMemoryDurable: a binding survives a restart (a memory opened
// again from the same file refuses the replay), expired bindings are
// pruned from the file on the next write and ignored on load, and a
// corrupt file is an error naming it.
func TestRequestMemoryDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), requestsFile)
	now := time.Now()
	m, err := openRequestMemory(path, now)
	if err != nil {
		t.Fatal(err)
	}
	h := [32]byte{1}
	if err := m.bind(h, "q-1", now); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bind returned before writing %s privately: %v, %v", path, fi, err)
	}

	// Restart: the binding is remembered.
	m2, err := openRequestMemory(path, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.bind(h, "q-2", now.Add(time.Minute)); err == nil || !strings.Contains(err.Error(), "already used for query q-1") {
		t.Fatalf("replay after a restart: %v", err)
	}
	if err := m2.bind(h, "q-1", now.Add(2*time.Minute)); err != nil {
		t.Fatalf("the same query after a restart: %v", err)
	}

	// Expired bindings: ignored on load, pruned from the file on a write.
	later := now.Add(2*time.Minute + requestTTL + time.Second)
	m3, err := openRequestMemory(path, later)
	if err != nil {
		t.Fatal(err)
	}
	if len(m3.used) != 0 {
		t.Fatalf("expired bindings loaded: %v", m3.used)
	}
	if err := m3.bind([32]byte{2}, "q-3", later); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "q-1") || !strings.Contains(string(b), "q-3") {
		t.Fatalf("expired binding not pruned from the file:\n%s", b)
	}
	if err := m3.bind(h, "q-4", later); err != nil {
		t.Fatalf("an expired request's hash bound again: %v", err)
	}

	// A corrupt file is an error naming it, not an empty memory.
	for _, bad := range []string{"{not json", `[{"hash":"zz","query_id":"q","at":1}]`, `[{"hash":"` + strings.Repeat("00", 32) + `","query_id":"","at":1}]`} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := openRequestMemory(path, now); err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("corrupt %q: %v", bad, err)
		}
	}
}

// TestRequestMemoryWriteFailure: a binding that cannot be written is
// refused and not kept, so memory and file agree.
func TestRequestMemoryWriteFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", requestsFile)
	m := &requestMemory{path: path}
	if err := m.bind([32]byte{1}, "q-1", time.Now()); err == nil {
		t.Fatal("a binding that could not be written was accepted")
	}
	if len(m.used) != 0 {
		t.Fatalf("an unwritten binding is remembered: %v", m.used)
	}
}
