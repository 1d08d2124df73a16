package party

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/mpcq/mpcq/internal/metrics"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/policy"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestHealthFollowsState: NOT_SERVING without keys or alignment, SERVING
// once the party holds both.
func TestHealthFollowsState(t *testing.T) {
	s := &Server{health: rpc.NewHealth(pb.Party_ServiceDesc.ServiceName)}
	check := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		s.syncHealthLocked()
		r, err := s.health.Server().Check(context.Background(), &healthpb.HealthCheckRequest{Service: pb.Party_ServiceDesc.ServiceName})
		if err != nil || r.Status != want {
			t.Fatalf("keys %v, aligned %v: %v %v, want %v", s.keys != nil, s.aligned != nil, r, err, want)
		}
	}
	check(healthpb.HealthCheckResponse_NOT_SERVING)
	s.keys = &keys{}
	check(healthpb.HealthCheckResponse_NOT_SERVING)
	s.aligned = &alignment{}
	check(healthpb.HealthCheckResponse_SERVING)
}

// TestObserve: outcomes by class, and a policy refusal counted by rule.
func TestObserve(t *testing.T) {
	m, err := metrics.NewParty(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{metrics: m}
	s.observe(m.Steps, nil, "ok")
	s.observe(m.Steps, fmt.Errorf("step: %w", &policy.Refusal{Rule: "budget"}), "ok")
	s.observe(m.Steps, fmt.Errorf("%w: x", ErrBadRequest), "ok")
	s.observe(m.Steps, fmt.Errorf("disk full"), "ok")
	for label, want := range map[string]float64{"ok": 1, "refused": 2, "failed": 1} {
		if got := testutil.ToFloat64(m.Steps.WithLabelValues(label)); got != want {
			t.Errorf("steps %s = %v, want %v", label, got, want)
		}
	}
	if got := testutil.ToFloat64(m.PolicyRefusals.WithLabelValues("budget")); got != 1 {
		t.Errorf("policy refusals by budget = %v", got)
	}
}
