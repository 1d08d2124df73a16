package coordinator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mpcq/mpcq/ledger"
	"github.com/mpcq/mpcq/ledger/entry"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
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
	return blame(err)
}

// recordQueryFailure records the FAILURE of a committed query that ended
// with err; streamCtx is the analyst's stream context, ctx the query's.
func (s *Server) recordQueryFailure(streamCtx, ctx context.Context, queryID string, err error) {
	party, cause := failureOf(streamCtx.Err(), ctx.Err(), s.stopping.Load(), s.cfg.QueryTimeout(), err)
	s.recordFailure(queryID, party, cause)
}

// ledgerHealth reports whether ledger entries get published: the last
// cosigned checkpoint, entries waiting and the parties refusing to cosign.
func (s *Server) ledgerHealth(ctx context.Context) *pb.LedgerHealth {
	s.mu.Lock()
	l, names := s.ledger, s.cosignerParty
	s.mu.Unlock()
	if l == nil {
		return &pb.LedgerHealth{Error: "ledger not open yet (waiting for every party to cosign)"}
	}
	return healthToProto(l.Health(ctx), names)
}

// ledgerUnready says why the ledger keeps the consortium from being
// ready: not open, unreadable, or parties refusing to cosign (so no QUERY
// entry can be committed); "" when it is healthy. Pure.
func ledgerUnready(h *pb.LedgerHealth) string {
	switch {
	case h == nil || h.Healthy:
		return ""
	case !h.Open:
		return "ledger not open: " + h.Error
	}
	var parts []string
	if h.Error != "" {
		parts = append(parts, h.Error)
	}
	for _, r := range h.Refusals {
		parts = append(parts, fmt.Sprintf("party %s refuses to cosign: %s", r.Party, r.Error))
	}
	if len(parts) == 0 {
		parts = append(parts, "not healthy")
	}
	return "ledger not healthy: " + strings.Join(parts, "; ")
}

// joinErrors joins two status texts with "; ", either of which may be "".
func joinErrors(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}

// healthToProto converts a ledger.Health, naming cosigners by party. Pure.
func healthToProto(h ledger.Health, party map[string]string) *pb.LedgerHealth {
	out := &pb.LedgerHealth{Open: true, Healthy: h.Healthy(), CheckpointSize: h.Checkpoint.Size, PendingEntries: h.Pending}
	if !h.CosignedAt.IsZero() {
		out.CosignedUnix = h.CosignedAt.Unix()
	}
	if h.Err != nil {
		out.Error = h.Err.Error()
	}
	for _, r := range h.Refusing {
		name := party[r.Cosigner]
		if name == "" {
			name = r.Cosigner
		}
		out.Refusals = append(out.Refusals, &pb.CosignerRefusal{Party: name, Error: r.Err.Error(), SinceUnix: r.Since.Unix(),
			Refusals: uint32(min(r.Count, math.MaxUint32)), CheckpointSize: r.Size, NextRetryUnix: r.NextTry.Unix()})
	}
	return out
}
