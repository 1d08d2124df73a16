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
}

func (c partyCosigner) Name() string            { return c.v.Name() }
func (c partyCosigner) Verifier() note.Verifier { return c.v }
func (c partyCosigner) AddCheckpoint(ctx context.Context, oldSize uint64, proof [][]byte, cp []byte) ([]byte, error) {
	r, err := c.p.client.Cosign(ctx, &pb.CosignRequest{OldSize: oldSize, ConsistencyProof: proof, Checkpoint: cp})
	if err != nil {
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
	for _, p := range s.parties {
		vkey, ok := s.cfg.Witnesses[p.name]
		if !ok {
			return fmt.Errorf("%w: no witness key for party %s", ErrConfig, p.name)
		}
		v, err := fnote.NewVerifierForCosignatureV1(vkey)
		if err != nil {
			return fmt.Errorf("%w: witness key of %s: %v", ErrConfig, p.name, err)
		}
		cosigners = append(cosigners, partyCosigner{p: p, v: v})
	}
	octx, cancel := context.WithTimeout(ctx, s.cfg.LedgerOpenTimeout())
	defer cancel()
	l, shutdown, err := ledger.Open(octx, ledger.Config{Dir: s.path(ledgerDir), Origin: signer.Name(), Signer: signer, Verifier: verifier, Cosigners: cosigners})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrLedger, err)
	}
	a, err := archive.Open(s.path(archiveFile), s.cfg.LedgerOpenTimeout())
	if err != nil {
		_ = shutdown(context.Background())
		return fmt.Errorf("%w: query archive: %w", ErrLedger, err)
	}
	s.mu.Lock()
	s.ledger, s.ledgerShutdown, s.archive = l, shutdown, a
	s.mu.Unlock()
	cp, err := l.Checkpoint(ctx)
	if err == nil {
		s.log.Info().Uint64("size", cp.Size).Str("origin", cp.Origin).Msg("ledger open")
	}
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
	idx, cp, err := l.Append(actx, b)
	if err != nil {
		return 0, ledger.Checkpoint{}, nil, fmt.Errorf("%w: %s entry: %w", ErrLedger, e.Type(), err)
	}
	s.log.Info().Str("type", e.Type().String()).Uint64("index", idx).Uint64("checkpoint", cp.Size).Msg("ledger entry")
	return idx, cp, b, nil
}

// recordFailure appends a FAILURE entry; a failure to record it is logged.
func (s *Server) recordFailure(queryID, party string, cause error) {
	reason := cause.Error()
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	reason = strings.ToValidUTF8(reason, "")
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.LedgerAppendTimeout())
	defer cancel()
	if _, _, _, err := s.appendEntry(ctx, entry.Failure{QueryID: queryID, Reason: reason, Party: party}); err != nil {
		s.log.Warn().Err(err).Str("query", queryID).Msg("could not record the failure on the ledger")
	}
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
			Request: signedPB(r.Signed)})
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
