package rpc

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/plan"
	"github.com/mpcq/mpcq/schema"
)

func TestCode(t *testing.T) {
	errMine := errors.New("daemon sentinel")
	errOther := errors.New("another sentinel")
	table := []Mapping{{Err: errMine, Code: codes.FailedPrecondition}, {Err: mpc.ErrMalformed, Code: codes.Unavailable}}
	_, parseErr := plan.Parse("SELECT COUNT(*)", schema.Consortium{Tables: []schema.Table{{Name: "bank", Key: "person_id"}}})
	cases := []struct {
		name     string
		err      error
		mappings []Mapping
		want     codes.Code
	}{
		{"nil", nil, nil, codes.OK},
		{"plan error", parseErr, nil, codes.InvalidArgument},
		{"plan error wrapped in a daemon sentinel", fmt.Errorf("%w: %w", errMine, parseErr), table, codes.InvalidArgument},
		{"bounds", fmt.Errorf("%w: SUM(x)", plan.ErrOverflow), nil, codes.InvalidArgument},
		{"peer status kept", fmt.Errorf("party: %w", status.Error(codes.PermissionDenied, "gate")), table, codes.PermissionDenied},
		{"daemon sentinel", fmt.Errorf("%w: x", errMine), table, codes.FailedPrecondition},
		{"daemon sentinel overrides a shared class", fmt.Errorf("%w", mpc.ErrMalformed), table, codes.Unavailable},
		{"undecodable bytes", fmt.Errorf("key: %w", mpc.ErrMalformed), nil, codes.InvalidArgument},
		{"deadline", context.DeadlineExceeded, nil, codes.DeadlineExceeded},
		{"canceled", context.Canceled, nil, codes.Canceled},
		{"forbidden", pki.ErrForbidden, nil, codes.PermissionDenied},
		{"unauthenticated", pki.ErrUnauthenticated, nil, codes.Unauthenticated},
		{"unregistered", errOther, table, codes.Internal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Code(tc.err, tc.mappings...); got != tc.want {
				t.Fatalf("Code(%v) = %v, want %v", tc.err, got, tc.want)
			}
			st := status.Convert(ToStatus(tc.err, tc.mappings...))
			if tc.err != nil && (st.Code() != tc.want || st.Message() != tc.err.Error()) {
				t.Fatalf("ToStatus: %v %q", st.Code(), st.Message())
			}
		})
	}
}
