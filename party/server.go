package party

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/mpcq/mpcq/internal/metrics"
	"github.com/mpcq/mpcq/internal/pgsource"
	"github.com/mpcq/mpcq/internal/pgsql"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/internal/source"
	"github.com/mpcq/mpcq/internal/table"
	"github.com/mpcq/mpcq/internal/transport"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/request"
	"github.com/mpcq/mpcq/ledger/witness"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/mpc/align"
	"github.com/mpcq/mpcq/mpc/chainsig"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/policy"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
)

// Sentinel errors mapped to gRPC codes at the boundary.
var (
	// ErrNotReady means the party lacks the keys or alignment a request needs.
	ErrNotReady = errors.New("party not ready")
	// ErrBadRequest means a request is inconsistent with the party's state
	// or the protocol.
	ErrBadRequest = errors.New("bad request")
)

// codeMap registers the party's own sentinels with rpc.Code, the one
// error map (which already knows plan errors and undecodable bytes).
var codeMap = []rpc.Mapping{
	{Err: ErrBadRequest, Code: codes.InvalidArgument},
	{Err: transport.ErrBadList, Code: codes.InvalidArgument},
	{Err: ErrPlan, Code: codes.InvalidArgument},
	{Err: mpc.ErrTranscript, Code: codes.InvalidArgument},
	{Err: align.ErrBadElement, Code: codes.InvalidArgument},
	{Err: align.ErrBadProvenance, Code: codes.PermissionDenied},
	{Err: align.ErrBadSignature, Code: codes.PermissionDenied},
	{Err: align.ErrUnknownSigner, Code: codes.PermissionDenied},
	{Err: ErrNotReady, Code: codes.FailedPrecondition},
	{Err: ErrTooLarge, Code: codes.InvalidArgument},
	{Err: ErrBusy, Code: codes.ResourceExhausted},
	{Err: request.ErrMalformed, Code: codes.InvalidArgument},
	{Err: ErrUnauthorized, Code: codes.PermissionDenied},
	{Err: chainsig.ErrBadSignature, Code: codes.PermissionDenied},
	{Err: chainsig.ErrNotPackedOutput, Code: codes.PermissionDenied},
	{Err: ErrChain, Code: codes.InvalidArgument},
	{Err: ErrWiring, Code: codes.PermissionDenied},
	{Err: policy.ErrRefused, Code: codes.PermissionDenied},
	{Err: ErrWarrant, Code: codes.PermissionDenied},
	{Err: source.ErrDatabase, Code: codes.Unavailable},
	{Err: source.ErrRow, Code: codes.FailedPrecondition},
}

// keys is the party's key material for one ceremony.
type keys struct {
	params *mpc.Params
	sk     *rlwe.SecretKey
	pk     *rlwe.PublicKey
	// evk holds the collective rotation keys with which the last party of
	// a query packs its totals; nil for keys from a ceremony that did not
	// send them (such a party cannot be a chain's last).
	evk   *rlwe.MemEvaluationKeySet
	state ceremonyState
	// pool holds precomputed encryptions of zero under pk for this
	// party's first steps (nil: disabled); stopPool stops its filler when
	// these keys are replaced or the server closes.
	pool     *mpc.EncPool
	stopPool context.CancelFunc
}

type pendingCeremony struct {
	req    *pb.CeremonyNonceRequest
	nonce  []byte
	sk     *rlwe.SecretKey // set, with params, once the shares are sent
	params *mpc.Params
	seed   [32]byte // the CRS seed of the transcript, with sk
	// Set by CeremonyRotationKeys: the rotation keys this party
	// aggregated from every party's signed shares, and their file bytes.
	evk   *rlwe.MemEvaluationKeySet
	gkRaw []byte
}

type alignment struct {
	state epochState
	ranks []uint32
	// keys is the snapshot of person keys the epoch aligned: row i of
	// every read is keys.IDs[i], ranks[i] its slot.
	keys *source.Keys
}

type alignSession struct {
	epoch   string
	parties []string
	key     *align.Key
	blinded map[string]bool
	keys    *source.Keys   // the keys of the epoch, read when it started
	inUse   sync.WaitGroup // blindings in progress with key
	// An incremental epoch's previous alignment and how keys differ
	// from it; nil for a full alignment.
	prev *alignment
	diff *keyDiff
	// ranked is set, under the server's lock, by the one AlignRanks
	// stream that commits the session's ranks.
	ranked bool
}

// Server is a party daemon.
type Server struct {
	pb.UnimplementedPartyServer
	cfg *Config
	log zerolog.Logger
	// src is the table's rows (CSV in memory or PostgreSQL) and table its
	// declared schema; rows is the latest snapshot of its keys (read at
	// startup, on reload and at keys checks; under mu once serving).
	src     source.Source
	table   schema.Table
	rows    *source.Keys
	store   store
	name    string
	priv    ed25519.PrivateKey
	peers   map[string]ed25519.PublicKey
	caPEM   []byte // the consortium CA, for analysts' certificates
	workers int
	steps   *semaphore.Weighted // bounds concurrent query steps (bounds.go)
	maxStep int64               // max_step_memory_mb in bytes (0: no check)
	// requests binds each signed analyst request to the one query it is
	// for, durably (requestsFile in the data directory).
	requests *requestMemory
	witness  *witness.Witness
	// decrypted records, durably, which packed totals were given shares.
	decrypted *decryptLog
	// gov is the party's policy, warrants' revocations and budgets.
	gov     *governance
	certPEM []byte

	mu       sync.Mutex
	keys     *keys
	pending  *pendingCeremony
	aligned  *alignment
	aligning *alignSession
	// previous is the alignment the current one replaced: queries that
	// started on it finish on it.
	previous *alignment
	// lineage is the blinding key of the current epoch's lineage, kept
	// (lineageKeyFile) for incremental epochs until the next full one.
	lineage *align.Key
	// pendingAdded and pendingRemoved count the source's keys added and
	// removed since the current epoch, as of the last reload or check.
	pendingAdded, pendingRemoved int

	// health is SERVING while the party holds keys and an alignment.
	health   *rpc.Health
	registry *prometheus.Registry
	metrics  *metrics.Party

	// bg is the context of the server's background work (the encryption
	// pool's filler); Close cancels it.
	bg     context.Context
	stopBg context.CancelFunc
}

// New loads the table, identity and saved state.
func New(cfg *Config, log zerolog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t, err := table.ReadSchema(cfg.Schema)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	start := time.Now()
	src, err := openSource(cfg, t)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			src.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.QueryTimeout())
	rows, err := src.Keys(ctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("party %s: %w", cfg.Name, err)
	}
	log.Info().Str("table", t.Name).Str("source", sourceKind(cfg)).Int("rows", rows.Len()).Float64("elapsed_s", since(start)).Msg("table loaded")
	certPEM, keyPEM, err := pki.LoadKeyPair(cfg.TLS.Cert, cfg.TLS.Key)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(cfg.TLS.CA)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	id, err := pki.VerifyCertificate(certPEM, caPEM, time.Now())
	if err != nil {
		return nil, fmt.Errorf("own certificate: %w", err)
	}
	if id.Role != pki.RoleParty || id.Name != cfg.Name {
		return nil, fmt.Errorf("%w: certificate is for %s, config says party %s", ErrConfig, id, cfg.Name)
	}
	priv, err := pki.PrivateKey(keyPEM)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, src: src, table: t, rows: rows, store: store{cfg.DataDir}, name: cfg.Name, priv: priv,
		peers: map[string]ed25519.PublicKey{cfg.Name: id.PublicKey}, caPEM: caPEM, workers: cfg.Workers,
		steps: semaphore.NewWeighted(int64(cfg.MaxConcurrentSteps)), maxStep: cfg.MaxStepMemory()}
	if s.workers == 0 {
		s.workers = runtime.NumCPU()
	}
	s.bg, s.stopBg = context.WithCancel(context.Background())
	defer func() {
		if !ok {
			s.stopBg()
		}
	}()
	for _, f := range cfg.Peers {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("peer certificate: %w", err)
		}
		pid, err := pki.VerifyCertificate(b, caPEM, time.Now())
		if err != nil {
			return nil, fmt.Errorf("peer certificate %s: %w", f, err)
		}
		if pid.Role != pki.RoleParty {
			return nil, fmt.Errorf("%w: peer certificate %s is for %s, not a party", ErrConfig, f, pid)
		}
		s.peers[pid.Name] = pid.PublicKey
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	if s.witness, _, err = newWitness(cfg); err != nil {
		return nil, err
	}
	if s.decrypted, err = openDecryptLog(s.store.path(decryptLogFile)); err != nil {
		return nil, fmt.Errorf("decryption log: %w", err)
	}
	if s.gov, err = openGovernance(cfg.Name, cfg.Policy, t, s.store); err != nil {
		return nil, err
	}
	if cfg.RevocationsDir != "" {
		if fi, err := os.Stat(cfg.RevocationsDir); err != nil {
			return nil, fmt.Errorf("%w: revocations_dir: %w (create it, even empty)", ErrConfig, err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("%w: revocations_dir %s is not a directory", ErrConfig, cfg.RevocationsDir)
		}
		s.gov.revDir = cfg.RevocationsDir
	}
	s.certPEM = certPEM
	if s.requests, err = openRequestMemory(s.store.path(requestsFile), time.Now()); err != nil {
		return nil, err
	}
	if err := s.loadState(); err != nil {
		return nil, fmt.Errorf("saved state in %s: %w", cfg.DataDir, err)
	}
	s.health = rpc.NewHealth(pb.Party_ServiceDesc.ServiceName)
	s.registry = prometheus.NewRegistry()
	if s.metrics, err = metrics.NewParty(s.registry); err != nil {
		return nil, err
	}
	if err := metrics.PoolGauges(s.registry, s.poolLevel); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.syncHealthLocked()
	s.mu.Unlock()
	ok = true
	return s, nil
}

// openSource opens the table's rows: the CSV file loaded into memory, or
// the PostgreSQL relation read at query time.
func openSource(cfg *Config, t schema.Table) (source.Source, error) {
	if cfg.Postgres == nil {
		data, err := table.LoadFile(cfg.CSV, t)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", t.Name, err)
		}
		return source.FromData(data), nil
	}
	conn, err := cfg.Postgres.ConnString()
	if err != nil {
		return nil, err
	}
	rel, err := cfg.Postgres.Relation(t.Name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.QueryTimeout())
	defer cancel()
	src, err := pgsource.Open(ctx, conn, t, pgsql.Relation{Name: rel.Relation, Key: rel.Key})
	if err != nil {
		return nil, fmt.Errorf("party %s: %w", cfg.Name, err)
	}
	return src, nil
}

func sourceKind(cfg *Config) string {
	if cfg.Postgres != nil {
		return "postgres"
	}
	return "csv"
}

// Close releases the party's data source (database connections) and
// stops its background work.
func (s *Server) Close() {
	if s.stopBg != nil {
		s.stopBg()
	}
	s.src.Close()
}

// startEncPool gives k a pool of encryptions of zero under its collective
// public key (encryption_pool_blocks entries) and starts its one filler
// goroutine, which computes while the party is idle, pauses while a query
// step runs, and stops when the server closes or new keys replace k (see
// replaceKeysLocked). Called only once the ceremony's public key exists.
// The pool lives in memory only.
func (s *Server) startEncPool(k *keys) {
	if s.cfg == nil || s.bg == nil || k.pk == nil {
		return
	}
	n := s.cfg.EncryptionPool()
	if n == 0 {
		return
	}
	pool, err := k.params.NewEncPool(k.pk, n)
	if err != nil {
		s.log.Warn().Err(err).Msg("no encryption pool; every block will be encrypted afresh")
		return
	}
	ctx, cancel := context.WithCancel(s.bg)
	k.pool, k.stopPool = pool, cancel
	go func() {
		if err := pool.Fill(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error().Err(err).Msg("encryption pool filler stopped; blocks will be encrypted afresh")
		}
	}()
	s.log.Info().Int("blocks", n).Int("memory_mib", n*pool.CiphertextBytes()>>20).Msg("encryption pool filling")
}

// replaceKeysLocked makes k the party's keys, stopping the filler of the
// keys it replaces (their pool is under the old public key; steps still
// running with them finish with what it holds). s.mu is held.
func (s *Server) replaceKeysLocked(k *keys) {
	if s.keys != nil && s.keys.stopPool != nil {
		s.keys.stopPool()
	}
	s.keys = k
	s.startEncPool(k)
}

// poolLevel is the current keys' encryption pool: entries ready and its
// capacity (0, 0 without one).
func (s *Server) poolLevel() (ready, size int) {
	s.mu.Lock()
	k := s.keys
	s.mu.Unlock()
	if k == nil || k.pool == nil {
		return 0, 0
	}
	return k.pool.Len(), k.pool.Size()
}

// countEncrypted counts a first step's block encryptions by whether the
// pool had an entry.
func (s *Server) countEncrypted(hit bool) {
	if s.metrics == nil {
		return
	}
	if hit {
		s.metrics.EncPoolHits.Inc()
	} else {
		s.metrics.EncPoolMisses.Inc()
	}
}

func (s *Server) loadState() error {
	var cs ceremonyState
	ok, err := s.store.readJSON(ceremonyFile, &cs)
	if err != nil || !ok {
		return err
	}
	params, err := mpc.NewParams(cs.ParamSet)
	if err != nil {
		return err
	}
	skb, err := pki.ReadPrivate(s.store.path(secretKeyFile))
	if err != nil {
		return err
	}
	sk, err := params.UnmarshalSecretKey(skb)
	if err != nil {
		return fmt.Errorf("secret key: %w", err)
	}
	pkb, err := os.ReadFile(s.store.path(publicKeyFile))
	if err != nil {
		return err
	}
	pk, err := params.UnmarshalPublicKey(pkb)
	if err != nil {
		return fmt.Errorf("collective public key: %w", err)
	}
	k := &keys{params: params, sk: sk, pk: pk, state: cs}
	if k.evk, err = loadRotationKeys(params, s.store.path(rotationKeysFile)); err != nil {
		return err
	}
	s.replaceKeysLocked(k)
	s.log.Info().Str("ceremony", cs.ID).Str("param_set", cs.ParamSet).Bool("rotation_keys", s.keys.evk != nil).Msg("keys loaded")
	es, ranks, ok, err := s.store.loadAlignment()
	if err != nil || !ok {
		if err != nil {
			s.log.Warn().Err(err).Msg("saved alignment unusable; waiting for a new epoch")
		}
		return nil
	}
	if ok, err := s.loadLineage(es, ranks); ok || err != nil {
		return err
	}
	if len(ranks) != s.rows.Len() || es.Rows != s.rows.Len() || checkRanks(ranks, es.Entities) != nil ||
		(es.KeysHash != nil && !bytes.Equal(es.KeysHash, s.rows.Hash())) {
		s.log.Warn().Int("ranks", len(ranks)).Int("rows", s.rows.Len()).Msg("saved alignment does not match the table's keys; waiting for a new epoch")
		return nil
	}
	s.aligned = &alignment{state: es, ranks: ranks, keys: s.rows}
	s.log.Info().Str("epoch", es.ID).Uint64("entities", es.Entities).Msg("alignment loaded")
	return nil
}

// Serve listens and serves until ctx is done, then stops gracefully.
func (s *Server) Serve(ctx context.Context) error {
	tc, err := pki.LoadServerConfig(s.cfg.TLS.Cert, s.cfg.TLS.Key, s.cfg.TLS.CA)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	return s.ServeListener(ctx, lis, grpc.NewServer(rpc.ServerOptions(tc, s.log, pki.RoleCoordinator)...))
}

// ServeListener serves on lis with the given server until ctx is done.
func (s *Server) ServeListener(ctx context.Context, lis net.Listener, gs *grpc.Server) error {
	pb.RegisterPartyServer(gs, s)
	rpc.RegisterOps(gs, s.health)
	s.log.Info().Str("listen", lis.Addr().String()).Msg("serving")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	go func() { errc <- gs.Serve(lis) }()
	if s.cfg.Postgres != nil {
		go s.watchKeys(ctx, s.cfg.Postgres.KeysCheck())
	}
	if s.cfg.MetricsListen != "" {
		go func() {
			err := metrics.Serve(ctx, s.cfg.MetricsListen, s.registry, shutdownGrace, func(a net.Addr) {
				s.log.Info().Str("metrics_listen", a.String()).Msg("serving metrics")
			})
			if err != nil {
				errc <- err
			}
		}()
	}
	if s.cfg.HealthListen != "" {
		go func() {
			err := rpc.ServeHealth(ctx, s.cfg.HealthListen, s.health, shutdownGrace, func(a net.Addr) {
				s.log.Info().Str("health_listen", a.String()).Msg("serving plaintext health")
			})
			if err != nil {
				errc <- err
			}
		}()
	}
	select {
	case <-ctx.Done():
		// Probes see NOT_SERVING while the calls in flight drain.
		s.health.Shutdown()
		rpc.StopGracefully(gs, shutdownGrace)
		return nil
	case err := <-errc:
		return err
	}
}

func (s *Server) snapshot() (*keys, *alignment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys, s.aligned
}

// Status reports the party's table schema and readiness.
func (s *Server) Status(ctx context.Context, _ *pb.PartyStatusRequest) (*pb.PartyStatus, error) {
	k, a := s.snapshot()
	st := &pb.PartyStatus{Name: s.name, Schema: wire.TableToProto(s.table)}
	if k != nil {
		st.CeremonyId, st.PublicKeyHash = k.state.ID, k.state.PKHash
	}
	if a != nil {
		st.Rows = uint64(a.keys.Len())
		st.EpochId, st.Entities = a.state.ID, a.state.Entities
	}
	s.mu.Lock()
	st.PendingAdded, st.PendingRemoved = uint64(s.pendingAdded), uint64(s.pendingRemoved)
	st.Lineage = a != nil && s.lineage != nil
	if a == nil {
		st.Rows = uint64(s.rows.Len())
	}
	s.mu.Unlock()
	h := s.gov.current.Hash()
	st.PolicyVersion, st.PolicyHash, st.PolicyPublished = uint64(s.gov.current.Version), h[:], s.gov.isPublished()
	return st, nil
}

func (s *Server) checkParties(parties []string) error {
	if !slices.IsSorted(parties) || len(slices.Compact(slices.Clone(parties))) != len(parties) {
		return fmt.Errorf("%w: parties %v must be sorted and distinct", ErrBadRequest, parties)
	}
	if !slices.Contains(parties, s.name) {
		return fmt.Errorf("%w: parties %v do not include this party (%s)", ErrBadRequest, parties, s.name)
	}
	for _, p := range parties {
		if _, ok := s.peers[p]; !ok {
			return fmt.Errorf("%w: party %s has no configured peer certificate", ErrBadRequest, p)
		}
	}
	return nil
}

func since(start time.Time) float64 { return time.Since(start).Seconds() }

// shutdownGrace is how long calls in flight may finish on stop.
const shutdownGrace = 10 * time.Second

// syncHealthLocked sets the health service from the state: SERVING once
// the party holds keys and an alignment. s.mu is held.
func (s *Server) syncHealthLocked() {
	if s.health != nil {
		s.health.SetReady(s.keys != nil && s.aligned != nil)
	}
}

// observe counts a finished request in c by outcome: okLabel when err is
// nil, "refused" when the party refused it (the caller's or the
// analyst's request is not allowed, invalid or not now), "failed"
// otherwise; a policy refusal also counts in policy_refusals_total by
// its rule.
func (s *Server) observe(c *prometheus.CounterVec, err error, okLabel string) {
	if s.metrics == nil {
		return
	}
	c.WithLabelValues(outcomeOf(err, okLabel)).Inc()
	var r *policy.Refusal
	if errors.As(err, &r) {
		s.metrics.PolicyRefusals.WithLabelValues(r.Rule).Inc()
	}
}

// outcomeOf is observe's classification. Pure.
func outcomeOf(err error, okLabel string) string {
	if err == nil {
		return okLabel
	}
	switch rpc.Code(err, append(ledgerCodes, codeMap...)...) {
	case codes.PermissionDenied, codes.InvalidArgument, codes.FailedPrecondition, codes.ResourceExhausted, codes.Unauthenticated:
		return "refused"
	}
	return "failed"
}
