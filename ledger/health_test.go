package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mpcq/mpcq/ledger"
	"github.com/mpcq/mpcq/ledger/internal/testlog"
)

func TestBackoffSchedule(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond},
		{5, 1600 * time.Millisecond},
		{9, 25600 * time.Millisecond},
		{10, 30 * time.Second},
		{1000, 30 * time.Second},
	} {
		if got := ledger.Backoff(tc.n); got != tc.want {
			t.Errorf("Backoff(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

// syncBuffer is a log sink safe for tessera's background goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A refusing party is asked again with backoff, logged once (not per
// retry), reported by Health, and cleared once it cosigns again.
func TestRefusalsBackOffAndShowInHealth(t *testing.T) {
	keys := testlog.NewKeys(t, 2)
	dir, stateDir := filepath.Join(t.TempDir(), "log"), t.TempDir()
	ws := testlog.Witnesses(t, keys, stateDir)
	g := &counting{gated: gated{Cosigner: ledger.LocalCosigner(ws[1])}}
	var logs syncBuffer
	cfg := testlog.Config(keys, dir, []ledger.Cosigner{ledger.LocalCosigner(ws[0]), g})
	cfg.Log = zerolog.New(&logs)
	l, shutdown, err := ledger.Open(timeout(t, 10*time.Second), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = shutdown(timeout(t, 30*time.Second)) }()
	ctx := timeout(t, 60*time.Second)
	if _, _, err := l.Append(ctx, testlog.Entry(t, 0)); err != nil {
		t.Fatal(err)
	}
	if h := l.Health(ctx); !h.Healthy() || h.Checkpoint.Size != 1 || h.Pending != 0 || h.CosignedAt.IsZero() {
		t.Fatalf("health of a cosigned log = %+v", h)
	}

	g.closed.Store(true)
	g.calls.Store(0)
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, _, err := l.Append(short, testlog.Entry(t, 1)); !errors.Is(err, ledger.ErrNotPublished) {
		t.Fatalf("Append with a refusing party = %v", err)
	}
	// 3 s at a 100 ms checkpoint interval is 30 rounds; with backoff
	// (0.1+0.2+0.4+0.8+1.6 s) the party is asked about 6 times.
	if n := g.calls.Load(); n > 8 {
		t.Fatalf("the refusing party was asked %d times in 3 s; want backoff", n)
	}
	if n := strings.Count(logs.String(), "refuses to cosign"); n != 1 {
		t.Fatalf("%d refusal warnings; want 1 per state change:\n%s", n, logs.String())
	}
	h := l.Health(ctx)
	if h.Healthy() || len(h.Refusing) != 1 || h.Refusing[0].Cosigner != g.Name() || h.Pending != 1 ||
		!strings.Contains(h.Refusing[0].Err.Error(), "offline for maintenance") || h.Refusing[0].Count < 2 {
		t.Fatalf("health with a refusing party = %+v", h)
	}

	g.closed.Store(false)
	if _, cp, err := l.Append(ctx, testlog.Entry(t, 2)); err != nil || cp.Size != 3 {
		t.Fatalf("Append after the party returns = size %d, %v", cp.Size, err)
	}
	if h := l.Health(ctx); !h.Healthy() || h.Pending != 0 {
		t.Fatalf("health after the party returns = %+v", h)
	}
	if !strings.Contains(logs.String(), "cosigns again") {
		t.Fatalf("no recovery logged:\n%s", logs.String())
	}
}

type counting struct {
	gated
	calls atomic.Int64
}

func (c *counting) AddCheckpoint(ctx context.Context, old uint64, p [][]byte, cp []byte) ([]byte, error) {
	c.calls.Add(1)
	return c.gated.AddCheckpoint(ctx, old, p, cp)
}

func TestSameRefusal(t *testing.T) {
	a := "witness state store failed: saving size 8: rename .witness.json.tmp-2353516265 witness.json: file exists"
	b := "witness state store failed: saving size 9: rename .witness.json.tmp-11 witness.json: file exists"
	if ledger.SameRefusal(a) != ledger.SameRefusal(b) {
		t.Fatal("the same refusal at two sizes counts as a change")
	}
	if ledger.SameRefusal(a) == ledger.SameRefusal("checkpoint rolls the log back: offered size 2, already cosigned size 8") {
		t.Fatal("two different refusals count as the same")
	}
}
