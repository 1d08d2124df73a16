package audit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/internal/testlog"
)

// BenchmarkVerify100k audits a 100,000-entry log (3 parties) read from its
// directory: ns/op is the time of one full audit. Building the log through
// Append (1024 concurrent appenders) is not timed but is logged.
func BenchmarkVerify100k(b *testing.B) {
	const n = 100_000
	d := testlog.New(b, 3)
	ctx := context.Background()
	start := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	for range 1024 {
		wg.Go(func() {
			for i := range work {
				if _, _, err := d.Log.Append(ctx, testlog.QueryEntry(b, i)); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := d.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d entries in %v (%.0f appends/s)", n, time.Since(start), n/time.Since(start).Seconds())

	fetch := audit.DirFetcher(d.Dir)
	for b.Loop() {
		rep, err := audit.Verify(ctx, fetch, d.Keys.Log.Verifier, d.Keys.Verifiers(), testlog.Origin)
		if err != nil || rep.Size != n {
			b.Fatalf("Verify = size %d, %v", rep.Size, err)
		}
	}
	b.ReportMetric(n, "entries")
}
