// Package pool runs a job list on a fixed number of goroutines, one per
// core by default, each with an index of its own so that callers can keep
// per-goroutine state (lattigo evaluators are not safe for concurrent use:
// one ShallowCopy per goroutine). It is the one worker pool of the
// daemons, the analyst and the alignment blinding. The first error cancels
// the context the others see and is the one returned; jobs not yet started
// are skipped. Built on golang.org/x/sync/errgroup.
package pool

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// Run calls work(ctx, w, i) for every i in [0, n) on min(workers, n)
// goroutines; w in [0, workers) names the goroutine. workers < 1 means 1.
func Run(ctx context.Context, workers, n int, work func(ctx context.Context, w, i int) error) error {
	if n <= 0 {
		return ctx.Err()
	}
	return Pipeline(ctx, min(max(workers, 1), n), func(ctx context.Context, jobs chan<- int) error {
		for i := range n {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}, work)
}

// Pipeline runs produce, which sends jobs until it returns (the channel is
// then closed), and workers goroutines that call work on each job as it
// arrives. produce must return when ctx is done (select on ctx.Done()
// around its sends). The first error of produce or work cancels ctx and
// is returned; a nil return with ctx cancelled from outside returns
// ctx.Err().
func Pipeline[T any](ctx context.Context, workers int, produce func(ctx context.Context, jobs chan<- T) error, work func(ctx context.Context, w int, job T) error) error {
	parent := ctx
	g, ctx := errgroup.WithContext(ctx)
	jobs := make(chan T)
	g.Go(func() error {
		defer close(jobs)
		return produce(ctx, jobs)
	})
	for w := range max(workers, 1) {
		g.Go(func() error {
			for job := range jobs {
				if err := ctx.Err(); err != nil {
					// Drain so produce never blocks; report the cause.
					continue
				}
				if err := work(ctx, w, job); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return parent.Err()
}
