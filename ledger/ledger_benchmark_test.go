package ledger_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpcq/mpcq/ledger/internal/testlog"
)

// BenchmarkAppend measures the latency of one Append at a time (3 in-process
// parties, default batching and checkpoint interval): ns/op is the latency.
func BenchmarkAppend(b *testing.B) {
	d := testlog.New(b, 3)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, _, err := d.Log.Append(ctx, testlog.QueryEntry(b, i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAppendConcurrent measures throughput with many concurrent
// appenders (3 in-process parties): see the appends/s metric.
func BenchmarkAppendConcurrent(b *testing.B) {
	for _, appenders := range []int{16, 256, 1024} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			d := testlog.New(b, 3)
			ctx := context.Background()
			var seq atomic.Int64
			b.SetParallelism(max(1, appenders/runtime.GOMAXPROCS(0)))
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := d.Log.Append(ctx, testlog.QueryEntry(b, int(seq.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
		})
	}
}
