package party

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/rpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestStepMemoryCap: a party refuses a step whose planned memory is above
// its own cap, whatever the coordinator checked, as InvalidArgument naming
// the figure and the cap; the figure grows with the workers.
func TestStepMemoryCap(t *testing.T) {
	f := newFixture(t)
	pl, order := f.plan(t, `SELECT ta.region, COUNT(*), SUM(tb.balance) FROM ta JOIN tb USING (person_id) GROUP BY ta.region`)
	var inMap []uint32
	for pos, name := range order {
		st, err := newStep(f.header(pl, order, pos, inMap), name, f.keys, f.aligned[name], f.data[name].Table, readData(f.data[name]))
		if err != nil {
			t.Fatal(err)
		}
		inMap = st.outMap
		need := st.shape(2).Bytes()
		if st.shape(4).Bytes() <= need {
			t.Errorf("%s: four workers need %d bytes, two %d", name, st.shape(4).Bytes(), need)
		}
		if err := st.checkMemory(2, need); err != nil {
			t.Errorf("%s: at its own figure: %v", name, err)
		}
		err = st.checkMemory(2, need-1)
		if !errors.Is(err, ErrTooLarge) || rpc.Code(err, codeMap...) != codes.InvalidArgument || !strings.Contains(err.Error(), "max_step_memory_mb") {
			t.Errorf("%s: one byte under: %v", name, err)
		}
	}
	// Through the driver: the step is refused before any block.
	srv := f.server(order[0], 2)
	srv.maxStep = 1 << 10
	err := srv.runStep(context.Background(), newFakeStream(context.Background(), &pb.BlockMessage{Header: f.header(pl, order, 0, nil)}), admitted)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("driver with a 1 KiB cap: %v", err)
	}
}

// TestQueryStepBusy: beyond max_concurrent_steps a step is refused at once
// with ResourceExhausted.
func TestQueryStepBusy(t *testing.T) {
	f := newFixture(t)
	srv := f.server("ta", 2)
	srv.cfg = &Config{MaxConcurrentSteps: 1, QueryTimeoutS: 10}
	srv.steps = semaphore.NewWeighted(1)
	if !srv.steps.TryAcquire(1) {
		t.Fatal("fresh semaphore")
	}
	err := srv.QueryStep(newFakeStream(context.Background()))
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "max_concurrent_steps") {
		t.Fatalf("got %v, want ResourceExhausted naming max_concurrent_steps", err)
	}
	srv.steps.Release(1)
}
