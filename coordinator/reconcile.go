package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/mpcq/mpcq/ledger"
	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/entry"
)

// ReasonInterrupted begins the reason of the FAILURE the coordinator
// records, at start-up, for a query the previous run committed but never
// finished (killed, crashed, or stopped mid-query).
const ReasonInterrupted = "interrupted"

const reasonInterrupted = ReasonInterrupted + ": the coordinator stopped before the query finished; found unfinished when it restarted"

// unfinishedScan finds, among the entries below upto, the QUERY entries
// followed by neither a RESULT nor a FAILURE. Pure: feed it the entries
// in index order with visit.
type unfinishedScan struct {
	upto  uint64
	open  map[string]bool
	order []string
}

func newUnfinishedScan(upto uint64) *unfinishedScan {
	return &unfinishedScan{upto: upto, open: map[string]bool{}}
}

func (u *unfinishedScan) visit(index uint64, e entry.Entry) {
	switch v := e.(type) {
	case entry.Query:
		if index < u.upto {
			u.open[v.QueryID] = true
			u.order = append(u.order, v.QueryID)
		}
	case entry.Result:
		delete(u.open, v.QueryID)
	case entry.Failure:
		delete(u.open, v.QueryID)
	}
}

// unfinished returns the open query IDs in the order of their QUERY entries.
func (u *unfinishedScan) unfinished() []string {
	var out []string
	for _, id := range u.order {
		if u.open[id] {
			out = append(out, id)
		}
	}
	return out
}

// reconcileLoop runs reconcile until it succeeds or ctx ends, backing
// off between attempts (the parties may not cosign yet).
func (s *Server) reconcileLoop(ctx context.Context, l *ledger.Log, logV note.Verifier, upto uint64) {
	wait := time.Second
	var last string
	done := map[string]bool{}
	for {
		n, err := s.reconcile(ctx, l, logV, upto, done)
		if err == nil {
			if n > 0 {
				s.log.Info().Int("queries", n).Msg("ledger reconciled: unfinished queries recorded as interrupted")
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		if err.Error() != last {
			s.log.Warn().Err(err).Float64("retry_in_s", wait.Seconds()).Msg("ledger reconciliation pending")
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// errNotPublishedYet means the entries to reconcile are not all in a
// cosigned checkpoint yet.
var errNotPublishedYet = errors.New("entries of the previous run not yet published")

// reconcile appends a FAILURE "interrupted" for every QUERY below index
// upto (the entries of previous runs) with neither a RESULT nor a
// FAILURE. It reads the published log as an auditor does (audit.Verify
// over the log directory), so it first waits for every entry below upto
// to be published. It returns the number of FAILURE entries appended;
// done holds the queries already recorded, across attempts.
func (s *Server) reconcile(ctx context.Context, l *ledger.Log, logV note.Verifier, upto uint64, done map[string]bool) (int, error) {
	if upto == 0 {
		return 0, nil
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	if cp.Size < upto {
		return 0, fmt.Errorf("%w: published %d of %d", errNotPublishedYet, cp.Size, upto)
	}
	scan := newUnfinishedScan(upto)
	if _, err := audit.Verify(ctx, audit.DirFetcher(s.path(ledgerDir)), logV, l.CosignerVerifiers(), logV.Name(),
		audit.WithVisitor(scan.visit)); err != nil {
		return 0, fmt.Errorf("reading the ledger to reconcile it: %w", err)
	}
	n := 0
	for _, id := range scan.unfinished() {
		if done[id] {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, s.cfg.LedgerAppendTimeout())
		_, _, _, err := s.appendEntry(actx, entry.Failure{QueryID: id, Reason: reasonInterrupted})
		cancel()
		if err != nil && !sequenced(err) {
			return n, fmt.Errorf("recording query %s as interrupted: %w", id, err)
		}
		s.log.Warn().Str("query", id).Msg("query of a previous run never finished; recorded as interrupted")
		done[id] = true
		n++
	}
	return n, nil
}
