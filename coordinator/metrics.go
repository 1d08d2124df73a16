package coordinator

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/metrics"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/mpc"
)

// queryOutcome classifies a finished query for the queries_total metric:
// its outcome (answered, refused, failed) and a reason from a fixed set
// (no names, no text). A party's PermissionDenied is its policy (or a
// warrant or budget) refusing the query, unless it refused chain
// messages only the relay could have forged; any other party error is the
// party failing. stopping says the daemon was shutting down, analystGone
// that the analyst's stream ended first. Pure.
func queryOutcome(err error, stopping, analystGone bool) (outcome, reason string) {
	var pe *mpc.PartyError
	switch {
	case err == nil:
		return metrics.Answered, ""
	case errors.Is(err, ErrBusy):
		return metrics.Refused, "busy"
	case errors.Is(err, ErrNotReady):
		return metrics.Refused, "not_ready"
	case errors.Is(err, ErrUnsigned):
		return metrics.Refused, "unsigned"
	case errors.Is(err, ErrWarrant):
		return metrics.Refused, "warrant"
	case errors.Is(err, ErrTooLarge):
		return metrics.Refused, "too_large"
	case errors.As(err, &pe):
		if status.Code(pe.Err) == codes.PermissionDenied {
			if p, _ := blame(err); p == "" {
				return metrics.Failed, "coordinator" // the relay forged chain messages
			}
			return metrics.Refused, "policy"
		}
		if stopping {
			return metrics.Failed, "shutdown"
		}
		return metrics.Failed, "party"
	case stopping:
		return metrics.Failed, "shutdown"
	case analystGone || errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled:
		return metrics.Failed, "analyst_cancel"
	case errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded:
		return metrics.Failed, "timeout"
	case errors.Is(err, ErrLedger):
		return metrics.Failed, "ledger"
	case rpc.Code(err, codeMap...) == codes.InvalidArgument || rpc.Code(err, codeMap...) == codes.PermissionDenied:
		return metrics.Refused, "invalid"
	}
	return metrics.Failed, "coordinator"
}
