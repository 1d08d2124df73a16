package party

import (
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
