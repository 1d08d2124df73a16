package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mpcq/mpcq/ledger/entry"
)

// checkPurpose refuses a purpose or legal basis with a control character
// (see entry.CheckPlainText), naming the field and the position.
func checkPurpose(purpose, legalBasis string) error {
	if err := entry.CheckPlainText("purpose", purpose); err != nil {
		return fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	if err := entry.CheckPlainText("legal basis", legalBasis); err != nil {
		return fmt.Errorf("%w: %w", ErrBadQuery, err)
	}
	return nil
}

// failureOf says why a committed query failed and whom to blame: an
// analyst who cancelled (or whose own deadline ran out) and the
// coordinator's query deadline blame no party; a coordinator shutting down
// blames none either; otherwise the party the error names, if any. Pure.
//
// streamErr is the Query stream's context error (the analyst's side),
// queryErr the error of the coordinator's query context derived from it,
// timeout the coordinator's query timeout.
func failureOf(streamErr, queryErr error, stopping bool, timeout time.Duration, err error) (party string, cause error) {
	switch {
	case stopping:
		return "", fmt.Errorf("interrupted: the coordinator was shutting down: %w", err)
	case errors.Is(streamErr, context.Canceled):
		return "", fmt.Errorf("cancelled by the analyst: %w", err)
	case errors.Is(streamErr, context.DeadlineExceeded):
		return "", fmt.Errorf("the analyst's deadline expired: %w", err)
	case errors.Is(queryErr, context.DeadlineExceeded):
		return partyOf(err), fmt.Errorf("timed out after %d s: %w", int(timeout.Seconds()), err)
	}
	return partyOf(err), err
}

// recordQueryFailure records the FAILURE of a committed query that ended
// with err; streamCtx is the analyst's stream context, ctx the query's.
func (s *Server) recordQueryFailure(streamCtx, ctx context.Context, queryID string, err error) {
	party, cause := failureOf(streamCtx.Err(), ctx.Err(), s.stopping.Load(), s.cfg.QueryTimeout(), err)
	s.recordFailure(queryID, party, cause)
}
