package coordinator

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

func TestQueryOutcome(t *testing.T) {
	for _, tc := range []struct {
		name            string
		err             error
		stopping, gone  bool
		outcome, reason string
	}{
		{"answered", nil, false, false, "answered", ""},
		{"busy", fmt.Errorf("x: %w", ErrBusy), false, false, "refused", "busy"},
		{"warrant", fmt.Errorf("%w: expired", ErrWarrant), false, false, "refused", "warrant"},
		{"unsigned", ErrUnsigned, false, false, "refused", "unsigned"},
		{"bad sql", &plan.Error{Msg: "no such column"}, false, false, "refused", "invalid"},
		{"party policy", partyFailed("bank", status.Error(codes.PermissionDenied, "policy refused: budget")), false, false, "refused", "policy"},
		{"party down", partyFailed("bank", status.Error(codes.Unavailable, "connection refused")), false, false, "failed", "party"},
		{"analyst cancel", context.Canceled, false, true, "failed", "analyst_cancel"},
		{"timeout", context.DeadlineExceeded, false, false, "failed", "timeout"},
		{"shutdown", context.Canceled, true, false, "failed", "shutdown"},
		{"ledger", fmt.Errorf("%w: QUERY entry: x", ErrLedger), false, false, "failed", "ledger"},
		{"other", fmt.Errorf("boom"), false, false, "failed", "coordinator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, r := queryOutcome(tc.err, tc.stopping, tc.gone)
			if o != tc.outcome || r != tc.reason {
				t.Errorf("queryOutcome(%v) = %s/%s, want %s/%s", tc.err, o, r, tc.outcome, tc.reason)
			}
		})
	}
}

// TestHealthFollowsPhase: the health service is NOT_SERVING until the
// set-up reaches the ready phase, and again when a later set-up step
// (a new ceremony or alignment) leaves it.
func TestHealthFollowsPhase(t *testing.T) {
	s := &Server{health: rpc.NewHealth(pb.Coordinator_ServiceDesc.ServiceName)}
	check := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		r, err := s.health.Server().Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil || r.Status != want {
			t.Fatalf("phase %q: %v %v, want %v", s.phase, r, err, want)
		}
	}
	check(healthpb.HealthCheckResponse_NOT_SERVING)
	for _, step := range []struct {
		phase string
		want  healthpb.HealthCheckResponse_ServingStatus
	}{
		{"waiting for parties", healthpb.HealthCheckResponse_NOT_SERVING},
		{"key ceremony", healthpb.HealthCheckResponse_NOT_SERVING},
		{"record alignment", healthpb.HealthCheckResponse_NOT_SERVING},
		{phaseReady, healthpb.HealthCheckResponse_SERVING},
		{"record alignment", healthpb.HealthCheckResponse_NOT_SERVING},
		{phaseReady, healthpb.HealthCheckResponse_SERVING},
	} {
		s.setPhase(step.phase, nil)
		check(step.want)
	}
}
