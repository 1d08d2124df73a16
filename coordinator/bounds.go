package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/mpcq/mpcq/internal/chain"
)

// Bounded work: a query whose planned memory at any process is above the
// cap is refused at plan time (checkMemory, in intake), and at most
// max_concurrent_queries run at once, with a FIFO queue of
// max_queued_queries behind them (admission).

var (
	// ErrTooLarge means a query's planned memory at some process is above
	// max_query_memory_mb. It is InvalidArgument, not ResourceExhausted:
	// the same query is refused however idle the consortium is, so a
	// client must change it, not retry it.
	ErrTooLarge = errors.New("query too large")
	// ErrBusy means the running queries and the queue are full. It is
	// ResourceExhausted, with a RetryInfo detail: the same query may run
	// later.
	ErrBusy = errors.New("coordinator busy")
)

// memoryLimits is what intake needs to check a plan's memory: the cap and
// the workers per process the model assumes (the coordinator's own; the
// parties check with theirs).
type memoryLimits struct {
	maxBytes int64 // 0: no check
	workers  int
}

// checkMemory refuses an explained plan whose planned peak at any process
// is above maxBytes, naming the process, the figure and the cap. Pure.
func checkMemory(e *chain.Explanation, maxBytes int64) error {
	if maxBytes <= 0 {
		return nil
	}
	peak := e.Peak()
	if peak.Bytes <= maxBytes {
		return nil
	}
	return fmt.Errorf("%w: this query needs about %s at the %s (%s; %s outputs), above the cap of %s (max_query_memory_mb); group by fewer categories or split the query; nothing was recorded",
		ErrTooLarge, chain.HumanBytes(peak.Bytes), peak.Process, peak.Detail, chain.Thousands(e.Layout.N()), chain.HumanBytes(maxBytes))
}

// retryAfter is the delay a refused analyst is told to wait.
const retryAfter = 30 * time.Second

// admission bounds the queries that run at once: running of them hold a
// slot of a FIFO semaphore (semaphore.Weighted serves waiters in order),
// and at most maxQueued wait for one. It is safe for concurrent use.
type admission struct {
	sem       *semaphore.Weighted
	running   int
	maxQueued int
	mu        sync.Mutex
	queued    int
}

func newAdmission(running, queued int) *admission {
	return &admission{sem: semaphore.NewWeighted(int64(max(running, 1))), running: running, maxQueued: queued}
}

// enter takes a slot, waiting in the queue if every slot is taken;
// queued, if the query has to wait, hears its position in the queue
// (1 = next). It returns ErrBusy at once when the queue is full, and
// ctx's error if ctx ends while queued. On success the caller must call
// release once.
func (a *admission) enter(ctx context.Context, queued func(position int)) (release func(), err error) {
	release = func() { a.sem.Release(1) }
	if a.sem.TryAcquire(1) { // fails while anyone waits: the queue stays FIFO
		return release, nil
	}
	a.mu.Lock()
	if a.queued >= a.maxQueued {
		a.mu.Unlock()
		return nil, fmt.Errorf("%w: %d queries running and %d queued (max_concurrent_queries, max_queued_queries); retry in %s", ErrBusy, a.running, a.maxQueued, retryAfter)
	}
	a.queued++
	pos := a.queued
	a.mu.Unlock()
	if queued != nil {
		queued(pos)
	}
	err = a.sem.Acquire(ctx, 1) // on ctx's end, Acquire leaves no slot taken
	a.mu.Lock()
	a.queued--
	a.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("while queued for a query slot: %w", err)
	}
	return release, nil
}

// waiting is the number of queries in the queue.
func (a *admission) waiting() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.queued
}

// busyStatus is ErrBusy's gRPC status: ResourceExhausted with a RetryInfo
// detail saying when to retry.
func busyStatus(err error) error {
	st := status.New(codes.ResourceExhausted, err.Error())
	if d, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)}); derr == nil {
		st = d
	}
	return st.Err()
}
