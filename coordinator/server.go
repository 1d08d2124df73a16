package coordinator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/mpcq/mpcq/internal/metrics"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger"
	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
)

// Sentinel errors mapped to gRPC codes at the boundary.
var (
	// ErrNotReady means the consortium has not finished its set-up.
	ErrNotReady = errors.New("consortium not ready")
	// ErrParty means a party failed or misbehaved during a step; the
	// error names the party.
	ErrParty = errors.New("party failed")
	// ErrBadQuery means the analyst's request is invalid.
	ErrBadQuery = errors.New("invalid query request")
	// ErrUnsigned means the request is not signed, or not as sent, by the
	// analyst who sends it.
	ErrUnsigned = errors.New("request not signed by the calling analyst")
	// ErrWarrant means the query's warrant is missing, forged, expired,
	// for another analyst or out of scope.
	ErrWarrant = errors.New("warrant refused")
)

// codeMap registers the coordinator's own sentinels with rpc.Code, the one
// error map, which already makes every planner error and undecodable
// request bytes InvalidArgument. ErrParty comes first: a party's bad value
// (mpc.ErrMalformed inside it) is the party's failure, not the analyst's.
var codeMap = []rpc.Mapping{
	{Err: ErrParty, Code: codes.Unavailable},
	{Err: ErrBadQuery, Code: codes.InvalidArgument},
	{Err: ErrUnsigned, Code: codes.PermissionDenied},
	{Err: ErrWarrant, Code: codes.PermissionDenied},
	{Err: ErrNotReady, Code: codes.Unavailable},
	{Err: ErrLedger, Code: codes.Unavailable},
	{Err: ErrTooLarge, Code: codes.InvalidArgument},
	{Err: ErrBusy, Code: codes.ResourceExhausted},
}

// partyConn is a connection to one party.
type partyConn struct {
	name   string
	addr   string
	client pb.PartyClient
	conn   *grpc.ClientConn
}

// keySet is the consortium's public key material after a ceremony.
type keySet struct {
	state  ceremonyState
	params *mpc.Params
	pk     *rlwe.PublicKey
	pkRaw  []byte
	evk    *rlwe.MemEvaluationKeySet
}

// Server is the coordinator daemon.
type Server struct {
	pb.UnimplementedCoordinatorServer
	cfg     *Config
	log     zerolog.Logger
	parties []*partyConn
	workers int

	slots   *admission // bounds the queries that run at once (bounds.go)
	mu      sync.Mutex
	keys    *keySet
	epoch   *epochState
	schema  schema.Consortium
	phase   string
	lastErr string
	// phaseDetail is the progress of a long phase (alignment), "" else.
	phaseDetail string
	status      map[string]*pb.PartyState
	// published is the POLICY entry appended for each party (govern.go).
	published map[string]publishedPolicy

	ledger         *ledger.Log
	ledgerShutdown func(context.Context) error
	archive        *archive.Archive
	// cosignerParty maps a witness key name to its party.
	cosignerParty map[string]string

	// stopping is set once Serve's context is done: queries failing from
	// then on were interrupted by the shutdown, not cancelled by analysts.
	stopping atomic.Bool

	// health is SERVING in the "ready" phase only.
	health   *rpc.Health
	registry *prometheus.Registry
	metrics  *metrics.Coordinator

	// union is the current lineage's union (epoch.go), loaded on first
	// use; compact asks for a full re-alignment; incrementalFailures
	// counts failed incremental epochs in a row (set-up loop only).
	union               *unionSlots
	compact             atomic.Bool
	incrementalFailures int
}

// Option adjusts a Server.
type Option func(*options)

type options struct{ dial []grpc.DialOption }

// WithPartyDialOptions adds gRPC dial options to the party connections
// (tests use it to observe every message the coordinator receives).
func WithPartyDialOptions(o ...grpc.DialOption) Option {
	return func(op *options) { op.dial = append(op.dial, o...) }
}

// New connects (lazily) to the parties and loads saved state.
func New(cfg *Config, log zerolog.Logger, opts ...Option) (*Server, error) {
	var op options
	for _, o := range opts {
		o(&op)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, workers: cfg.Workers, phase: "starting", status: map[string]*pb.PartyState{}, published: map[string]publishedPolicy{},
		slots:  newAdmission(cfg.MaxConcurrentQueries, cfg.MaxQueuedQueries),
		health: rpc.NewHealth(pb.Coordinator_ServiceDesc.ServiceName), registry: prometheus.NewRegistry()}
	var err error
	if s.metrics, err = metrics.NewCoordinator(s.registry); err != nil {
		return nil, err
	}
	if s.workers <= 0 {
		s.workers = runtime.NumCPU()
	}
	for _, p := range cfg.Parties {
		host, _, err := net.SplitHostPort(p.Addr)
		if err != nil {
			return nil, fmt.Errorf("%w: party %s addr %q: %v", ErrConfig, p.Name, p.Addr, err)
		}
		tc, err := pki.LoadClientConfig(cfg.TLS.Cert, cfg.TLS.Key, cfg.TLS.CA, host, pki.ExpectMember(pki.RoleParty, p.Name))
		if err != nil {
			return nil, fmt.Errorf("party %s: %w", p.Name, err)
		}
		conn, err := rpc.Dial(p.Addr, tc, op.dial...)
		if err != nil {
			return nil, err
		}
		s.parties = append(s.parties, &partyConn{name: p.Name, addr: p.Addr, client: pb.NewPartyClient(conn), conn: conn})
	}
	if err := s.loadState(); err != nil {
		return nil, fmt.Errorf("saved state in %s: %w", cfg.DataDir, err)
	}
	return s, nil
}

func (s *Server) path(name string) string { return filepath.Join(s.cfg.DataDir, name) }

// Close closes the ledger and the party connections.
func (s *Server) Close() {
	s.closeLedger()
	for _, p := range s.parties {
		_ = p.conn.Close()
	}
}

// Serve listens, serves analysts and runs the set-up loop until ctx is
// done, then stops gracefully.
func (s *Server) Serve(ctx context.Context) error {
	tc, err := pki.LoadServerConfig(s.cfg.TLS.Cert, s.cfg.TLS.Key, s.cfg.TLS.CA)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	gs := grpc.NewServer(rpc.ServerOptions(tc, s.log, pki.RoleAnalyst, pki.RoleAuditor, pki.RoleAuthorizer)...)
	pb.RegisterCoordinatorServer(gs, s)
	rpc.RegisterOps(gs, s.health)
	s.log.Info().Str("listen", lis.Addr().String()).Msg("serving")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.setupLoop(ctx)
	errc := make(chan error, 4)
	go func() { errc <- gs.Serve(lis) }()
	go func() {
		if err := s.serveLedgerHTTP(ctx); err != nil {
			errc <- err
		}
	}()
	if s.cfg.MetricsListen != "" {
		go func() {
			err := metrics.Serve(ctx, s.cfg.MetricsListen, s.registry, s.cfg.ShutdownTimeout(), func(a net.Addr) {
				s.log.Info().Str("metrics_listen", a.String()).Msg("serving metrics")
			})
			if err != nil {
				errc <- err
			}
		}()
	}
	if s.cfg.HealthListen != "" {
		go func() {
			err := rpc.ServeHealth(ctx, s.cfg.HealthListen, s.health, s.cfg.ShutdownTimeout(), func(a net.Addr) {
				s.log.Info().Str("health_listen", a.String()).Msg("serving plaintext health")
			})
			if err != nil {
				errc <- err
			}
		}()
	}
	select {
	case <-ctx.Done():
		s.stopping.Store(true)
		// Probes see NOT_SERVING while the calls in flight drain.
		s.health.Shutdown()
		rpc.StopGracefully(gs, s.cfg.ShutdownTimeout())
		return nil
	case err := <-errc:
		return err
	}
}

func (s *Server) setPhase(phase string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phase = phase
	s.phaseDetail = ""
	s.health.SetReady(phase == phaseReady)
	s.lastErr = ""
	if err != nil {
		s.lastErr = err.Error()
	}
}

// phaseReady is the phase in which the consortium answers queries: keys
// and alignment done.
const phaseReady = "ready"

// setupLoop polls the parties; when all are up it runs the ceremony and
// the alignment if they are missing or stale, then keeps watching.
func (s *Server) setupLoop(ctx context.Context) {
	backoff := time.Second
	for {
		err := s.setupOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("set-up incomplete; retrying")
		}
		wait := 2 * time.Second
		if err != nil {
			wait = backoff
			backoff = min(2*backoff, 15*time.Second)
		} else {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (s *Server) setupOnce(ctx context.Context) error {
	sts, err := s.pollParties(ctx)
	if err != nil {
		s.setPhase("waiting for parties", err)
		return err
	}
	if err := s.updateSchema(sts); err != nil {
		s.setPhase("schema error", err)
		return err
	}
	if err := s.openLedger(ctx); err != nil {
		s.setPhase("opening the ledger", err)
		return err
	}
	if err := s.publishPolicies(ctx, sts); err != nil {
		s.setPhase("publishing the parties' policies", err)
		return err
	}
	s.mu.Lock()
	k, e := s.keys, s.epoch
	s.mu.Unlock()
	var ks *ceremonyState
	if k != nil {
		ks = &k.state
	}
	needKeys, fullEpoch, why := setupNeeds(ks, e, s.cfg.ParamSet, s.cfg.PartyNames(), sts)
	change := s.epochChange(sts, e)
	if fullEpoch {
		change = epochFull
	}
	if needKeys || change == epochFull {
		s.log.Info().Bool("ceremony", needKeys).Bool("alignment", change == epochFull).Strs("why", why).Msg("set-up needed")
	}
	needEpoch := change == epochFull
	if needKeys {
		s.setPhase("key ceremony", nil)
		cctx, cancel := context.WithTimeout(ctx, s.cfg.SetupTimeout())
		err := s.runCeremony(cctx)
		cancel()
		if err != nil {
			s.setPhase("key ceremony failed", err)
			return err
		}
	}
	if !needEpoch && change == epochIncremental {
		// Queries keep running on the current epoch meanwhile; the
		// ones admitted before the change finish on it.
		s.mu.Lock()
		s.phaseDetail = "incremental epoch"
		s.mu.Unlock()
		actx, cancel := context.WithTimeout(ctx, s.cfg.SetupTimeout())
		err := s.runIncremental(actx, e)
		cancel()
		if err != nil {
			s.incrementalFailures++
			s.log.Warn().Err(err).Int("failures", s.incrementalFailures).Msg("incremental epoch failed")
			s.setPhase(phaseReady, err)
			return err
		}
		s.incrementalFailures = 0
	}
	if needEpoch {
		// A compaction asked for is taken now; one asked for while this
		// alignment runs stays for the next round, and a failed one is
		// asked for again.
		compaction := s.compact.Swap(false)
		s.setPhase("record alignment", nil)
		actx, cancel := context.WithTimeout(ctx, s.cfg.SetupTimeout())
		err := s.runAlignment(actx)
		cancel()
		if err != nil {
			if compaction {
				s.compact.Store(true)
			}
			s.setPhase("record alignment failed", err)
			return err
		}
		s.incrementalFailures = 0
	}
	s.setPhase(phaseReady, nil)
	return nil
}

// pollParties asks every party for its status; all must answer.
func (s *Server) pollParties(ctx context.Context) (map[string]*pb.PartyStatus, error) {
	out := map[string]*pb.PartyStatus{}
	var firstErr error
	for _, p := range s.parties {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout())
		st, err := p.client.Status(cctx, &pb.PartyStatusRequest{})
		cancel()
		ps := &pb.PartyState{Name: p.name, Up: err == nil}
		if err != nil {
			ps.Error = err.Error()
			if firstErr == nil {
				firstErr = fmt.Errorf("%w: party %s at %s: %v", ErrParty, p.name, p.addr, err)
			}
		} else {
			if st.Name != p.name {
				err = fmt.Errorf("%w: party at %s says it is %q, configured as %q", ErrParty, p.addr, st.Name, p.name)
				ps.Up, ps.Error = false, err.Error()
				if firstErr == nil {
					firstErr = err
				}
			} else {
				out[p.name] = st
				ps.Rows = st.Rows
				if st.Schema != nil {
					ps.Table = st.Schema.Name
				}
			}
		}
		s.mu.Lock()
		s.status[p.name] = ps
		s.mu.Unlock()
	}
	return out, firstErr
}

func (s *Server) updateSchema(sts map[string]*pb.PartyStatus) error {
	var cs schema.Consortium
	for _, p := range s.parties {
		t, err := wire.TableFromProto(sts[p.name].Schema)
		if err != nil {
			return fmt.Errorf("%w: party %s schema: %v", ErrParty, p.name, err)
		}
		cs.Tables = append(cs.Tables, t)
	}
	if err := cs.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.schema = cs
	s.mu.Unlock()
	return nil
}

// partyOfTable returns the party serving a table.
func (s *Server) partyOfTable(table string) (*partyConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.parties {
		if st := s.status[p.name]; st != nil && st.Table == table {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: no party serves table %s", ErrNotReady, table)
}

// Status reports the consortium's readiness.
func (s *Server) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.ConsortiumStatus, error) {
	// Refresh liveness so status reflects the parties now.
	_, _ = s.pollParties(ctx)
	lh := s.ledgerHealth(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &pb.ConsortiumStatus{Phase: s.phase, ParamSet: s.cfg.ParamSet, Error: s.lastErr, Ledger: lh, Detail: s.phaseDetail}
	allUp := true
	for _, p := range s.parties {
		ps := s.status[p.name]
		if ps == nil {
			ps = &pb.PartyState{Name: p.name}
		}
		c := proto.Clone(ps).(*pb.PartyState)
		c.Ready = c.Up && s.keys != nil && s.epoch != nil
		allUp = allUp && c.Up
		st.Parties = append(st.Parties, c)
	}
	if s.keys != nil {
		st.CeremonyId = s.keys.state.ID
	}
	if s.epoch != nil {
		st.EpochId, st.Entities = s.epoch.ID, s.epoch.Entities
	}
	st.Ready = allUp && s.phase == "ready" && s.keys != nil && s.epoch != nil
	// A consortium whose ledger cannot publish (a party refuses to cosign,
	// the log is unreadable) cannot commit a query: not ready, and why.
	if reason := ledgerUnready(lh); reason != "" {
		st.Ready = false
		if s.phase == "ready" {
			st.Error = joinErrors(st.Error, reason)
		}
	}
	return st, nil
}

// Schema lists the consortium's tables.
func (s *Server) Schema(ctx context.Context, _ *pb.SchemaRequest) (*pb.SchemaReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.schema.Tables) == 0 {
		return nil, rpc.ToStatus(fmt.Errorf("%w: parties have not reported their schemas yet", ErrNotReady), codeMap...)
	}
	r := &pb.SchemaReply{ParamSet: s.cfg.ParamSet}
	for _, t := range s.schema.Tables {
		r.Tables = append(r.Tables, wire.TableToProto(t))
	}
	if s.keys != nil {
		r.PlaintextModulus = s.keys.params.T()
	}
	if s.epoch != nil {
		r.Entities = s.epoch.Entities
	}
	return r, nil
}
