package coordinator

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/rpc"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// wideSQL has 1,800 outputs at the last party (bank): 10 × 10 districts,
// six sums, three terms.
const wideSQL = `SELECT telecom.district, bank.district, COUNT(*), SUM(bank.balance), SUM(bank.cash_deposits_30d), SUM(bank.transfers_abroad_30d), SUM(bank.accounts), SUM(telecom.calls_30d)
	FROM telecom JOIN bank USING (person_id) WHERE telecom.calls_30d > 10 OR bank.accounts > 2 GROUP BY telecom.district, bank.district`

// TestIntakeRefusesTooLarge: a query whose planned memory is above the cap
// is refused as InvalidArgument naming the process, the figure and the
// cap; a small one passes under the same cap, and no cap means no check.
func TestIntakeRefusesTooLarge(t *testing.T) {
	c := newTestConsortium(t)
	apk := c.params.MarshalPublicKey(c.apk)
	req := func(sql string) *pb.QueryRequest {
		return &pb.QueryRequest{Sql: sql, Purpose: "fraud inquiry", LegalBasis: "CASE-1", AnalystPublicKey: apk}
	}
	env := testEnv(t, 3000)
	env.limits = memoryLimits{maxBytes: 100 << 20, workers: 2}
	_, err := intake(req(wideSQL), env)
	if !errors.Is(err, ErrTooLarge) || rpc.Code(err, codeMap...) != codes.InvalidArgument {
		t.Fatalf("got %v (%v), want ErrTooLarge as InvalidArgument", err, rpc.Code(err, codeMap...))
	}
	for _, want := range []string{"last party bank", "1,800", "above the cap of 100 MiB (max_query_memory_mb)", "group by fewer categories", "about 1.3 GiB"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message does not say %q: %v", want, err)
		}
	}
	if _, err := intake(req("SELECT bank.district, COUNT(*) FROM bank GROUP BY bank.district"), env); err != nil {
		t.Errorf("ten districts under 100 MiB: %v", err)
	}
	env.limits = memoryLimits{}
	if _, err := intake(req(wideSQL), env); err != nil {
		t.Errorf("no cap: %v", err)
	}
}

// TestAdmissionQueue: two slots, a queue of two. The third and fourth
// queries wait at positions 1 and 2, the fifth is refused at once as
// ResourceExhausted with a RetryInfo; a query cancelled while queued
// leaves no slot taken; slots pass to the queue in order.
func TestAdmissionQueue(t *testing.T) {
	a := newAdmission(2, 2)
	ctx := context.Background()
	r1, err := a.enter(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := a.enter(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var order []int
	got := make(chan int, 2)
	done := make(chan func(), 2)
	for i := 1; i <= 2; i++ {
		go func() {
			release, err := a.enter(ctx, func(pos int) { got <- pos })
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			done <- release
		}()
		if pos := <-got; pos != i {
			t.Fatalf("query %d queued at position %d", i, pos)
		}
	}
	_, err = a.enter(ctx, func(int) { t.Error("queued beyond the queue") })
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "retry in") {
		t.Fatalf("full queue: %v, want ErrBusy with a retry hint", err)
	}
	st := status.Convert(busyStatus(err))
	if st.Code() != codes.ResourceExhausted || len(st.Details()) != 1 {
		t.Fatalf("busy status %v with details %v", st.Code(), st.Details())
	}
	if ri, ok := st.Details()[0].(*errdetails.RetryInfo); !ok || ri.RetryDelay.AsDuration() != retryAfter {
		t.Fatalf("detail %v, want RetryInfo of %s", st.Details()[0], retryAfter)
	}

	r1()
	first := <-done
	r2()
	second := <-done
	mu.Lock()
	if len(order) != 2 || order[0] != 1 || order[1] != 2 {
		t.Errorf("admitted in order %v, want [1 2]", order)
	}
	mu.Unlock()

	// Both slots taken again; one more waits and is cancelled.
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := a.enter(cctx, func(int) { cancel() })
		errc <- err
	}()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while queued: %v", err)
	}
	if a.waiting() != 0 {
		t.Fatalf("%d still queued after the cancellation", a.waiting())
	}
	first()
	second()
	// Every slot is free: two enter at once, without queueing.
	for range 2 {
		tctx, tcancel := context.WithTimeout(ctx, time.Second)
		if _, err := a.enter(tctx, func(int) { t.Error("queued with free slots: a slot leaked") }); err != nil {
			t.Fatal(err)
		}
		tcancel()
	}
}
