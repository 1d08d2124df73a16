package coordinator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/ledger"
	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/ledger/witness"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// ErrLedger is wrapped when the ledger cannot record an entry: no query
// runs without its QUERY entry.
var ErrLedger = errors.New("ledger unavailable")

const (
	ledgerDir   = "ledger"
	archiveFile = "archive.db"
)

// partyCosigner asks a party, over gRPC, to cosign a checkpoint.
type partyCosigner struct {
	p *partyConn
	v note.Verifier
	// refused counts this party's refusals (cosign_refusals_total).
	refused prometheus.Counter
}

func (c partyCosigner) Name() string            { return c.v.Name() }
func (c partyCosigner) Verifier() note.Verifier { return c.v }
func (c partyCosigner) AddCheckpoint(ctx context.Context, oldSize uint64, proof [][]byte, cp []byte) ([]byte, error) {
	r, err := c.p.client.Cosign(ctx, &pb.CosignRequest{OldSize: oldSize, ConsistencyProof: proof, Checkpoint: cp})
	if err != nil {
		c.refused.Inc()
		return nil, fmt.Errorf("party %s: %w", c.p.name, err)
	}
	if r.Conflict {
		return nil, &witness.ConflictError{Size: r.CosignedSize, Got: oldSize}
	}
	return r.Cosignature, nil
}

// openLedger opens the log once every party can cosign.
func (s *Server) openLedger(ctx context.Context) error {
	s.mu.Lock()
	open := s.ledger != nil
	s.mu.Unlock()
	if open {
		return nil
	}
	skey, err := pki.ReadPrivate(s.cfg.LedgerKey)
	if err != nil {
		return fmt.Errorf("ledger key: %w", err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return fmt.Errorf("ledger key %s: %w", s.cfg.LedgerKey, err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(s.cfg.LedgerPublicKey))
	if err != nil {
		return fmt.Errorf("%w: ledger_public_key: %v", ErrConfig, err)
	}
	var cosigners []ledger.Cosigner
	names := map[string]string{}
	for _, p := range s.parties {
		vkey, ok := s.cfg.Witnesses[p.name]
		if !ok {
			return fmt.Errorf("%w: no witness key for party %s", ErrConfig, p.name)
		}
		v, err := fnote.NewVerifierForCosignatureV1(vkey)
		if err != nil {
			return fmt.Errorf("%w: witness key of %s: %v", ErrConfig, p.name, err)
		}
		cosigners = append(cosigners, partyCosigner{p: p, v: v, refused: s.metrics.CosignRefusals.WithLabelValues(p.name)})
		names[v.Name()] = p.name
	}
	octx, cancel := context.WithTimeout(ctx, s.cfg.LedgerOpenTimeout())
	defer cancel()
	l, shutdown, err := ledger.Open(octx, ledger.Config{Dir: s.path(ledgerDir), Origin: signer.Name(), Signer: signer, Verifier: verifier, Cosigners: cosigners,
		Log: s.log.With().Str("module", "ledger").Logger()})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrLedger, err)
	}
	a, err := archive.Open(s.path(archiveFile), s.cfg.LedgerOpenTimeout())
	if err != nil {
		_ = shutdown(context.Background())
		return fmt.Errorf("%w: query archive: %w", ErrLedger, err)
	}
	// Entries sequenced before this start: any QUERY among them without a
	// RESULT or FAILURE was interrupted by the previous run's end.
	upto, err := l.SequencedSize(ctx)
	if err != nil {
		_ = shutdown(context.Background())
		_ = a.Close()
		return fmt.Errorf("%w: %w", ErrLedger, err)
	}
	s.mu.Lock()
	s.ledger, s.ledgerShutdown, s.archive, s.cosignerParty = l, shutdown, a, names
	s.mu.Unlock()
	cp, err := l.Checkpoint(ctx)
	if err == nil {
		s.log.Info().Uint64("size", cp.Size).Uint64("sequenced", upto).Str("origin", cp.Origin).Msg("ledger open")
	}
	go s.reconcileLoop(ctx, l, verifier, upto)
	return nil
}

func (s *Server) closeLedger() {
	s.mu.Lock()
	shutdown, a := s.ledgerShutdown, s.archive
	s.ledger, s.ledgerShutdown, s.archive = nil, nil, nil
	s.mu.Unlock()
	if shutdown != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout())
		defer cancel()
		if err := shutdown(ctx); err != nil {
			s.log.Warn().Err(err).Msg("ledger shutdown")
		}
	}
	if a != nil {
		_ = a.Close()
	}
}

func (s *Server) ledgerLog() (*ledger.Log, *archive.Archive, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ledger == nil {
		return nil, nil, fmt.Errorf("%w: not open yet (waiting for every party to cosign)", ErrLedger)
	}
	return s.ledger, s.archive, nil
}

// appendEntry records an entry and waits until it is in a checkpoint
// cosigned by every party.
func (s *Server) appendEntry(ctx context.Context, e entry.Entry) (uint64, ledger.Checkpoint, []byte, error) {
	l, _, err := s.ledgerLog()
	if err != nil {
		return 0, ledger.Checkpoint{}, nil, err
	}
	b, err := entry.Marshal(e)
	if err != nil {
		return 0, ledger.Checkpoint{}, nil, fmt.Errorf("%w: %w", ErrLedger, err)
	}
	actx, cancel := context.WithTimeout(ctx, s.cfg.LedgerAppendTimeout())
	defer cancel()
	start := time.Now()
	idx, cp, err := l.Append(actx, b)
	appendOutcome := "ok"
	if err != nil {
		appendOutcome = "error"
	}
	s.metrics.LedgerAppendSeconds.WithLabelValues(appendOutcome).Observe(time.Since(start).Seconds())
	if err != nil {
		err = fmt.Errorf("%w: %s entry: %w", ErrLedger, e.Type(), err)
		if q, ok := e.(entry.Query); ok && sequenced(err) {
			// The QUERY is in the log and will be published once the
			// parties cosign, but it will not run: say so right after it.
			s.recordFailureWithin(q.QueryID, "", fmt.Errorf("not committed: %w", err), notCommittedWait)
		}
		return 0, ledger.Checkpoint{}, nil, err
	}
	s.log.Info().Str("type", e.Type().String()).Uint64("index", idx).Uint64("checkpoint", cp.Size).Msg("ledger entry")
	return idx, cp, b, nil
}

// recordFailure appends a FAILURE entry; a failure to record it is logged.
func (s *Server) recordFailure(queryID, party string, cause error) {
	s.recordFailureWithin(queryID, party, cause, s.cfg.LedgerAppendTimeout())
}

// notCommittedWait bounds the wait for the FAILURE that follows a QUERY
// the parties did not cosign: it is durable once sequenced, and is
// published with the QUERY when they cosign again.
const notCommittedWait = 2 * time.Second

// recordFailureWithin appends a FAILURE entry, waiting at most wait for
// its publication. A FAILURE sequenced but not yet published is recorded
// (it will be published with the next cosigned checkpoint); any other
// failure to record it is logged, and the restart reconciliation records
// the query as interrupted.
func (s *Server) recordFailureWithin(queryID, party string, cause error, wait time.Duration) {
	reason := cause.Error()
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	reason = strings.ToValidUTF8(reason, "")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, _, _, err := s.appendEntry(ctx, entry.Failure{QueryID: queryID, Reason: reason, Party: party})
	switch {
	case err == nil:
	case sequenced(err):
		s.log.Info().Str("query", queryID).Msg("FAILURE recorded; it is published when every party cosigns")
	default:
		s.log.Warn().Err(err).Str("query", queryID).Msg("could not record the failure on the ledger")
	}
}

// sequenced reports whether an append error means the entry is durably in
// the log (and will be published, or already was) though Append failed.
func sequenced(err error) bool {
	return errors.Is(err, ledger.ErrNotPublished) || errors.Is(err, ledger.ErrCorrupt)
}

func sortedSizes(m map[string]uint64) []entry.PartySize {
	var out []entry.PartySize
	for p, n := range m {
		out = append(out, entry.PartySize{Party: p, Size: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Party < out[j].Party })
	return out
}

// newOpening salts a commitment.
func newOpening(data []byte) (entry.Opening, error) { return entry.NewOpening(rand.Reader, data) }

func hash(b []byte) [32]byte { return sha256.Sum256(b) }

// serveLedgerHTTP serves the log read-only in the tlog-tiles layout over
// HTTPS to auditors (mutual TLS, auditor certificates) until ctx is done.
func (s *Server) serveLedgerHTTP(ctx context.Context) error {
	if s.cfg.LedgerListen == "" {
		return nil
	}
	tc, err := pki.LoadServerConfig(s.cfg.TLS.Cert, s.cfg.TLS.Key, s.cfg.TLS.CA)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", s.cfg.LedgerListen)
	if err != nil {
		return err
	}
	files := ledger.HTTPHandler(s.path(ledgerDir))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "client certificate required", http.StatusUnauthorized)
			return
		}
		id, err := pki.IdentityOf(r.TLS.VerifiedChains[0][0])
		if err != nil || id.Role != pki.RoleAuditor {
			http.Error(w, "auditors only", http.StatusForbidden)
			return
		}
		files.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: h, TLSConfig: tc, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout())
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	s.log.Info().Str("listen", lis.Addr().String()).Msg("serving the ledger to auditors")
	if err := srv.ServeTLS(lis, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Archive gives auditors the openings of the salted commitments.
func (s *Server) Archive(ctx context.Context, req *pb.ArchiveRequest) (*pb.ArchiveReply, error) {
	if _, err := pki.RequireRole(ctx, pki.RoleAuditor); err != nil {
		return nil, rpc.ToStatus(err)
	}
	_, a, err := s.ledgerLog()
	if err != nil {
		return nil, rpc.ToStatus(err, codeMap...)
	}
	ids := []string{req.QueryId}
	if req.QueryId == "" {
		if ids, err = a.List(); err != nil {
			return nil, rpc.ToStatus(err)
		}
	}
	reply := &pb.ArchiveReply{}
	for _, id := range ids {
		r, err := a.Get(id)
		if err != nil {
			return nil, rpc.ToStatus(fmt.Errorf("%w: %v", ErrBadQuery, err), codeMap...)
		}
		reply.Records = append(reply.Records, &pb.ArchiveRecord{QueryId: r.QueryID, QueryText: string(r.QueryText.Data),
			QuerySalt: r.QueryText.Salt[:], PurposeData: r.Purpose.Data, PurposeSalt: r.Purpose.Salt[:],
			Request: signedPB(r.Signed), Warrant: r.Warrant})
	}
	return reply, nil
}

// signedPB is an archived signed request on the wire; nil when absent.
func signedPB(s archive.SignedRequest) *pb.SignedRequest {
	if len(s.Request) == 0 {
		return nil
	}
	return &pb.SignedRequest{Request: s.Request, Signature: s.Signature, Certificate: s.Certificate}
}
