package pool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRunVisitsEveryJobOnce(t *testing.T) {
	for _, tc := range []struct{ workers, n int }{{1, 0}, {1, 1}, {4, 1}, {3, 100}, {0, 5}, {8, 7}} {
		var mu sync.Mutex
		seen := map[int]int{}
		usedWorkers := map[int]bool{}
		err := Run(context.Background(), tc.workers, tc.n, func(_ context.Context, w, i int) error {
			mu.Lock()
			defer mu.Unlock()
			seen[i]++
			usedWorkers[w] = true
			return nil
		})
		if err != nil {
			t.Fatalf("workers %d n %d: %v", tc.workers, tc.n, err)
		}
		if len(seen) != tc.n {
			t.Fatalf("workers %d n %d: %d jobs ran", tc.workers, tc.n, len(seen))
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("job %d ran %d times", i, c)
			}
		}
		for w := range usedWorkers {
			if w < 0 || w >= max(tc.workers, 1) || w >= max(tc.n, 1) {
				t.Fatalf("worker index %d out of range for %d workers, %d jobs", w, tc.workers, tc.n)
			}
		}
	}
}

func TestRunStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	var ran atomic.Int64
	err := Run(context.Background(), 2, 10_000, func(ctx context.Context, _, i int) error {
		ran.Add(1)
		if i == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	if ran.Load() >= 10_000 {
		t.Fatalf("all %d jobs ran after the error", ran.Load())
	}
}

func TestRunHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Run(ctx, 2, 10, func(context.Context, int, int) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestPipelineProducerError(t *testing.T) {
	bad := errors.New("bad input")
	var got atomic.Int64
	err := Pipeline(context.Background(), 3, func(ctx context.Context, jobs chan<- string) error {
		for _, s := range []string{"a", "b"} {
			select {
			case jobs <- s:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return bad
	}, func(_ context.Context, _ int, s string) error { got.Add(1); return nil })
	if !errors.Is(err, bad) {
		t.Fatalf("got %v, want the producer's error", err)
	}
	if got.Load() > 2 {
		t.Fatalf("%d jobs for 2 produced", got.Load())
	}
}

func TestPipelineWorkerErrorUnblocksProducer(t *testing.T) {
	boom := errors.New("boom")
	err := Pipeline(context.Background(), 1, func(ctx context.Context, jobs chan<- int) error {
		for i := 0; ; i++ { // endless: only cancellation ends it
			select {
			case jobs <- i:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}, func(_ context.Context, _ int, i int) error {
		if i == 5 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the worker's error (not the cancellation it caused)", err)
	}
}
