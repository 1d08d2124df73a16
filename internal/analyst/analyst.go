// Package analyst is the police analyst's side: a profile (the analyst's
// TLS identity, RLWE key pair and the coordinator's address), queries to the
// coordinator, and decryption of results that only this key can read. It
// backs the mpcq command and the demo.
package analyst

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"google.golang.org/grpc"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/pool"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/request"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/plan"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
	"github.com/mpcq/mpcq/warrant"
)

// Files of a profile directory.
const (
	ProfileFile   = "profile.json"
	CAFile        = "ca.pem"
	CertFile      = "cert.pem"
	KeyFile       = "key.pem"
	SecretKeyFile = "analyst.sk"
	PublicKeyFile = "analyst.pk"
)

// ErrProfile is wrapped by errors about a missing or broken profile.
var ErrProfile = errors.New("analyst profile")

// ProfileConfig is DIR/profile.json.
type ProfileConfig struct {
	Coordinator string `json:"coordinator"` // host:port
	ParamSet    string `json:"param_set"`
	// Defaults for queries that do not give them on the command line.
	Purpose    string `json:"default_purpose,omitempty"`
	LegalBasis string `json:"default_legal_basis,omitempty"`
	// Warrant names the signed warrant file (as warrant.Signed.Marshal
	// writes it, e.g. "warrant.pem") inside the profile directory that
	// queries attach unless told otherwise; empty: none.
	Warrant string `json:"warrant,omitempty"`
	// DefaultEpsilon is the ε (a decimal, e.g. "1") of queries that give
	// none, unless the warrant allows exact results; empty:
	// DefaultEpsilon.
	DefaultEpsilon string `json:"default_epsilon,omitempty"`
	// Collusion is the collusion tolerance k of noisy queries that give
	// none; nil: the number of parties − 1, the strongest.
	Collusion *int `json:"collusion,omitempty"`
}

// Profile is a loaded analyst profile.
type Profile struct {
	Dir    string
	Config ProfileConfig
	params *mpc.Params
	sk     *rlwe.SecretKey
	pkRaw  []byte
}

// WriteProfile creates a profile directory: config, TLS files and a fresh
// RLWE key pair for the parameter set. Private files are 0600.
func WriteProfile(dir string, cfg ProfileConfig, caPEM, certPEM, keyPEM []byte) error {
	params, err := mpc.NewParams(cfg.ParamSet)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := pki.WritePublic(filepath.Join(dir, ProfileFile), b); err != nil {
		return err
	}
	if err := pki.WritePublic(filepath.Join(dir, CAFile), caPEM); err != nil {
		return err
	}
	if err := pki.WritePublic(filepath.Join(dir, CertFile), certPEM); err != nil {
		return err
	}
	if err := pki.WritePrivate(filepath.Join(dir, KeyFile), keyPEM); err != nil {
		return err
	}
	return GenerateKeys(dir, params)
}

// GenerateKeys writes a fresh RLWE key pair into the profile.
func GenerateKeys(dir string, params *mpc.Params) error {
	sk := params.NewSecretKey()
	pk := rlwe.NewKeyGenerator(params.BGV).GenPublicKeyNew(sk)
	if err := pki.WritePrivate(filepath.Join(dir, SecretKeyFile), params.MarshalSecretKey(sk)); err != nil {
		return err
	}
	return pki.WritePublic(filepath.Join(dir, PublicKeyFile), params.MarshalPublicKey(pk))
}

// Load reads a profile directory.
func Load(dir string) (*Profile, error) {
	b, err := os.ReadFile(filepath.Join(dir, ProfileFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %v (create one with mpcadm profile analyst, see docs/operations.md; or mpcdemo serve)", ErrProfile, err)
	}
	var cfg ProfileConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrProfile, ProfileFile, err)
	}
	if err := cfg.checkConfig(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProfile, err)
	}
	params, err := mpc.NewParams(cfg.ParamSet)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProfile, err)
	}
	skRaw, err := pki.ReadPrivate(filepath.Join(dir, SecretKeyFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %v (run mpcq keygen)", ErrProfile, err)
	}
	sk, err := params.UnmarshalSecretKey(skRaw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrProfile, SecretKeyFile, err)
	}
	pkRaw, err := os.ReadFile(filepath.Join(dir, PublicKeyFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %v (run mpcq keygen)", ErrProfile, err)
	}
	return &Profile{Dir: dir, Config: cfg, params: params, sk: sk, pkRaw: pkRaw}, nil
}

// Dial connects to the coordinator with the profile's certificate.
func (p *Profile) Dial() (*grpc.ClientConn, pb.CoordinatorClient, error) {
	host, _, err := net.SplitHostPort(p.Config.Coordinator)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: coordinator address %q: %v", ErrProfile, p.Config.Coordinator, err)
	}
	tc, err := pki.LoadClientConfig(filepath.Join(p.Dir, CertFile), filepath.Join(p.Dir, KeyFile), filepath.Join(p.Dir, CAFile), host, pki.ExpectRole(pki.RoleCoordinator))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrProfile, err)
	}
	conn, err := rpc.Dial(p.Config.Coordinator, tc)
	if err != nil {
		return nil, nil, err
	}
	return conn, pb.NewCoordinatorClient(conn), nil
}

// Result is a decrypted query result: one row per group (one row without
// GROUP BY), group values first, then the aggregates as decimals ("NULL"
// for an empty group's average or variance): exact, or for a noisy query
// (EpsilonMilli > 0) the values computed from the noisy totals, with
// their 95% intervals in Intervals (plan.Plan.FinishNoisy).
type Result struct {
	QueryID string
	Columns []string
	Rows    [][]string
	Groups  int // number of GROUP BY columns at the start of each row
	// EpsilonMilli (ε×1000, 0: exact) and Collusion (k) are what the
	// query ran with.
	EpsilonMilli uint64
	Collusion    int
	// Intervals are parallel to Rows (nil for an exact result): the 95%
	// interval of each cell, zero for group values and NULL.
	Intervals     [][]plan.Interval
	Chain         []string
	BytesPerParty []uint64
	Elapsed       float64
	LedgerIndex   uint64
	// Timings are the query's phases: the coordinator's (coordinator.Phase*,
	// in order), then this client's decryption (PhaseDecrypt).
	Timings []Timing
}

// Timing is one phase of a query and its duration.
type Timing struct {
	Name    string
	Seconds float64
}

// PhaseDecrypt names the analyst's decryption of the packed totals (and
// the computation of the output columns) among a result's Timings.
const PhaseDecrypt = "analyst_decrypt"

// Noisy reports a result of noisy totals (ε > 0).
func (r *Result) Noisy() bool { return r.EpsilonMilli > 0 }

// MarshalJSON renders {"query_id":..., "columns":[...], "rows":[[...]]}
// with numbers as JSON numbers, group values as strings and NULL as null.
// A noisy result adds "epsilon" (a decimal string), "collusion" (k) and
// "intervals": per cell [low, high] (its 95% interval; for AVG, VARIANCE
// and STDDEV derived, see plan.Plan.FinishNoisy), null for group values
// and NULL cells.
func (r *Result) MarshalJSON() ([]byte, error) {
	rows := make([][]any, len(r.Rows))
	for i, row := range r.Rows {
		for j, cell := range row {
			switch {
			case j < r.Groups:
				rows[i] = append(rows[i], cell)
			case cell == plan.NullText:
				rows[i] = append(rows[i], nil)
			default:
				rows[i] = append(rows[i], json.Number(cell))
			}
		}
	}
	out := struct {
		QueryID     string              `json:"query_id"`
		Columns     []string            `json:"columns"`
		Rows        [][]any             `json:"rows"`
		Epsilon     string              `json:"epsilon,omitempty"`
		Collusion   *int                `json:"collusion,omitempty"`
		Intervals   [][]*[2]json.Number `json:"intervals,omitempty"`
		LedgerIndex uint64              `json:"ledger_index"`
	}{QueryID: r.QueryID, Columns: r.Columns, Rows: rows, LedgerIndex: r.LedgerIndex}
	if r.Noisy() {
		k := r.Collusion
		out.Epsilon, out.Collusion = warrant.FormatEpsilon(r.EpsilonMilli), &k
		out.Intervals = make([][]*[2]json.Number, len(r.Intervals))
		for i, row := range r.Intervals {
			out.Intervals[i] = make([]*[2]json.Number, len(row))
			for j, iv := range row {
				if !iv.IsZero() {
					out.Intervals[i][j] = &[2]json.Number{json.Number(iv.Low), json.Number(iv.High)}
				}
			}
		}
	}
	return json.Marshal(out)
}

// Cell renders cell j of row i for a table: the value, and for a noisy
// result its interval: "1234 ±56" for COUNT and SUM, "12.5 [10.1, 14.9]"
// for the derived AVG, VARIANCE and STDDEV.
func (r *Result) Cell(i, j int) string {
	v := r.Rows[i][j]
	if !r.Noisy() || i >= len(r.Intervals) || j >= len(r.Intervals[i]) || r.Intervals[i][j].IsZero() {
		return v
	}
	iv := r.Intervals[i][j]
	if iv.HalfWidth != "" {
		return v + " ±" + iv.HalfWidth
	}
	return v + " [" + iv.Low + ", " + iv.High + "]"
}

// Legend explains a noisy result's numbers in a few lines (empty for an
// exact result).
func (r *Result) Legend() string {
	if !r.Noisy() {
		return ""
	}
	parties := "parties"
	if r.Collusion == 1 {
		parties = "party"
	}
	s := fmt.Sprintf("noisy result: ε=%s (k=%d: the guarantee holds against the analyst colluding with up to %d %s); ± is a 95%% interval\n",
		warrant.FormatEpsilon(r.EpsilonMilli), r.Collusion, r.Collusion, parties)
	derived := false
	for _, row := range r.Intervals {
		for _, iv := range row {
			derived = derived || (!iv.IsZero() && iv.HalfWidth == "")
		}
	}
	if derived {
		s += "[low, high] (AVG, VARIANCE, STDDEV) is computed from the noisy parts' 95% intervals: it holds the true value\n" +
			"with probability at least 90% (AVG) or 85% (VARIANCE, STDDEV) by the union bound, and is conservative\n"
	}
	return s
}

// Request is one query.
type Request struct {
	SQL, Purpose, LegalBasis string
	// Epsilon is the ε to spend, a decimal ("0": exact totals); empty
	// for the default (ResolvePrivacy).
	Epsilon string
	// Collusion is the collusion tolerance k; nil for the default.
	Collusion *int
	// Warrant is a signed warrant file to attach instead of the
	// profile's; NoWarrant attaches none.
	Warrant   []byte
	NoWarrant bool
}

// Plan parses a query locally against the consortium's schema, as the
// coordinator will: errors show at once, and the result is computed from
// the decrypted sums with this plan.
func (p *Profile) Plan(ctx context.Context, client pb.CoordinatorClient, sql string) (*plan.Plan, *pb.SchemaReply, error) {
	sr, err := client.Schema(ctx, &pb.SchemaRequest{})
	if err != nil {
		return nil, nil, err
	}
	cs, err := consortiumOf(sr)
	if err != nil {
		return nil, nil, err
	}
	pl, err := plan.Parse(sql, cs)
	if err != nil {
		return nil, sr, err
	}
	return pl, sr, nil
}

// consortiumOf reads the consortium's schema from a schema reply.
func consortiumOf(sr *pb.SchemaReply) (schema.Consortium, error) {
	var cs schema.Consortium
	for _, t := range sr.Tables {
		tt, err := wire.TableFromProto(t)
		if err != nil {
			return schema.Consortium{}, fmt.Errorf("consortium schema: %w", err)
		}
		cs.Tables = append(cs.Tables, tt)
	}
	return cs, nil
}

// Parties asks the coordinator how many parties the consortium has (N,
// which bounds the collusion tolerance).
func Parties(ctx context.Context, client pb.CoordinatorClient) (int, error) {
	st, err := client.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return 0, fmt.Errorf("asking the coordinator for the consortium's parties: %w", err)
	}
	return len(st.Parties), nil
}

// Query sends a query, reports progress, and decrypts the result. Its ε,
// collusion tolerance and warrant are resolved by ResolvePrivacy, with the
// number of parties from the coordinator (asked only for a noisy query),
// and signed with the request.
func (p *Profile) Query(ctx context.Context, client pb.CoordinatorClient, req Request, progress func(*pb.Progress)) (*Result, error) {
	pl, sr, err := p.Plan(ctx, client, req.SQL)
	if err != nil {
		return nil, err
	}
	cs, err := consortiumOf(sr)
	if err != nil {
		return nil, err
	}
	if pl.Explain {
		return nil, fmt.Errorf("EXPLAIN shows a plan without running it: use mpcq explain (or query --dry-run)")
	}
	// The sums split into digits as the coordinator and every party split
	// them (plan.Fit at the modulus and the epoch's entities); Decrypt
	// checks the result's sums are these and recombines them exactly.
	if err := pl.Fit(plan.Limits{Modulus: sr.PlaintextModulus, Entities: sr.Entities}, cs); err != nil {
		return nil, err
	}
	if req.Purpose == "" {
		req.Purpose = p.Config.Purpose
	}
	if req.LegalBasis == "" {
		req.LegalBasis = p.Config.LegalBasis
	}
	priv, err := p.resolvePrivacy(req, func() (int, error) { return Parties(ctx, client) })
	if err != nil {
		return nil, err
	}
	start := time.Now()
	signed, err := p.Sign(pl.Canonical, req.Purpose, req.LegalBasis, priv.Signed())
	if err != nil {
		return nil, err
	}
	stream, err := client.Query(ctx, &pb.QueryRequest{Sql: req.SQL, Purpose: req.Purpose, LegalBasis: req.LegalBasis, AnalystPublicKey: p.pkRaw,
		Signed: signed, Warrant: priv.Warrant})
	if err != nil {
		return nil, err
	}
	var res *pb.QueryResult
	var all [][]byte
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch e := ev.Event.(type) {
		case *pb.QueryEvent_Progress:
			if progress != nil {
				progress(e.Progress)
			}
		case *pb.QueryEvent_Result:
			part := e.Result
			if res == nil {
				if want := p.params.PackedCount(len(pl.Groups()) * len(pl.Sums())); int(part.Total) != want {
					return nil, fmt.Errorf("result announces %d packed ciphertexts, the query's totals fit in %d", part.Total, want)
				}
				res = part
				all = make([][]byte, part.Total)
			}
			if part.Total != res.Total || int(part.Offset)+len(part.SumCiphertexts) > len(all) {
				return nil, fmt.Errorf("result part %d..%d does not fit %d packed ciphertexts", part.Offset, int(part.Offset)+len(part.SumCiphertexts), len(all))
			}
			for i, b := range part.SumCiphertexts {
				all[int(part.Offset)+i] = b
			}
		}
	}
	if res == nil {
		return nil, fmt.Errorf("the coordinator closed the query without a result")
	}
	for i, b := range all {
		if b == nil {
			return nil, fmt.Errorf("result value %d of %d missing", i, len(all))
		}
	}
	res.SumCiphertexts = all
	if res.EpsilonMilli != priv.EpsilonMilli || int(res.Collusion) != priv.Collusion {
		return nil, fmt.Errorf("result ran with ε=%s k=%d, the request signed ε=%s k=%d",
			warrant.FormatEpsilon(res.EpsilonMilli), res.Collusion, priv.Epsilon(), priv.Collusion)
	}
	return p.Decrypt(pl, cs, res, time.Since(start).Seconds())
}

// Sign signs a request (its canonical SQL, purpose, legal basis, privacy
// — ε, collusion tolerance and warrant hash — and this profile's RLWE
// public key) with the key of the profile's certificate, now and with a
// fresh nonce: every party checks it before it works.
func (p *Profile) Sign(canonical, purpose, legalBasis string, privacy request.Privacy) (*pb.SignedRequest, error) {
	certPEM, keyPEM, err := pki.LoadKeyPair(filepath.Join(p.Dir, CertFile), filepath.Join(p.Dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProfile, err)
	}
	return SignRequestPrivacy(canonical, purpose, legalBasis, privacy, p.pkRaw, certPEM, keyPEM, time.Now())
}

// SignRequest is Sign of an exact query without a warrant (the zero
// request.Privacy), with explicit key material.
func SignRequest(canonical, purpose, legalBasis string, publicKey, certPEM, keyPEM []byte, now time.Time) (*pb.SignedRequest, error) {
	return SignRequestPrivacy(canonical, purpose, legalBasis, request.Privacy{}, publicKey, certPEM, keyPEM, now)
}

// SignRequestPrivacy is Sign with explicit key material and time.
func SignRequestPrivacy(canonical, purpose, legalBasis string, privacy request.Privacy, publicKey, certPEM, keyPEM []byte, now time.Time) (*pb.SignedRequest, error) {
	priv, err := pki.PrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("signing the request: analyst key: %w", err)
	}
	r, err := request.New(canonical, purpose, legalBasis, publicKey, now)
	if err != nil {
		return nil, fmt.Errorf("signing the request: %w", err)
	}
	r.Privacy = privacy
	enc, sig, err := request.Sign(r, priv)
	if err != nil {
		return nil, err
	}
	return &pb.SignedRequest{Request: enc, Signature: sig, Certificate: certPEM}, nil
}

// Decrypt opens a result with the analyst's secret key: every per-group
// sum, then the output columns computed from them by the plan: exactly
// (plan.Plan.Finish), or for a noisy result (res.EpsilonMilli > 0) from
// the noisy totals with 95% intervals (plan.Plan.FinishNoisy), the noise
// scales calibrated to the consortium cs as the parties did (dp.Scales).
func (p *Profile) Decrypt(pl *plan.Plan, cs schema.Consortium, res *pb.QueryResult, elapsed float64) (*Result, error) {
	start := time.Now()
	out, err := p.decrypt(pl, cs, res, elapsed)
	if err != nil {
		return nil, err
	}
	for _, t := range res.Timings {
		out.Timings = append(out.Timings, Timing{Name: t.Name, Seconds: t.Seconds})
	}
	out.Timings = append(out.Timings, Timing{Name: PhaseDecrypt, Seconds: time.Since(start).Seconds()})
	return out, nil
}

func (p *Profile) decrypt(pl *plan.Plan, cs schema.Consortium, res *pb.QueryResult, elapsed float64) (*Result, error) {
	if res.ParamSet != p.params.Set.Name {
		return nil, fmt.Errorf("result under parameter set %s, the profile's keys are for %s", res.ParamSet, p.params.Set.Name)
	}
	want := pl.Sums()
	groups := len(pl.Groups())
	n := groups * len(want)
	if len(res.Sums) != len(want) || int(res.Groups) != groups || len(res.SumCiphertexts) != p.params.PackedCount(n) {
		return nil, fmt.Errorf("result shape (%d sums, %d groups, %d packed ciphertexts) differs from the query's (%d sums, %d groups)",
			len(res.Sums), res.Groups, len(res.SumCiphertexts), len(want), groups)
	}
	for i, s := range res.Sums {
		got, err := wire.SumFromProto(s)
		if err != nil || got != want[i] {
			return nil, fmt.Errorf("result sum %d is not the query's %s (the epoch may have changed since the plan was made: run the query again)", i, want[i].Label())
		}
	}
	fresh, err := p.params.FreshLevel(int(res.ChainLen))
	if err != nil {
		return nil, err
	}
	scale := p.params.ScaleAt(fresh, mpc.DecryptLevel)
	vals := make([]uint64, n)
	errs := make([]error, len(res.SumCiphertexts))
	// Every packed ciphertext is tried and every failure reported, in order.
	_ = pool.Run(context.Background(), runtime.NumCPU(), len(res.SumCiphertexts), func(_ context.Context, _, i int) error {
		lo, hi := p.params.PackedChunk(n, i)
		ct, err := p.params.UnmarshalCiphertext(res.SumCiphertexts[i], mpc.DecryptLevel, scale)
		var got []uint64
		if err == nil {
			got, err = p.params.DecryptPacked(p.sk, ct, hi-lo)
		}
		if err != nil {
			errs[i] = fmt.Errorf("packed totals %d..%d: %w", lo, hi-1, err)
			return nil
		}
		copy(vals[lo:hi], got)
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sums := map[plan.Sum][]uint64{}
	for i, v := range vals {
		g, si := i/len(want), i%len(want)
		if sums[want[si]] == nil {
			sums[want[si]] = make([]uint64, groups)
		}
		sums[want[si]][g] = v
	}
	out := &Result{QueryID: res.QueryId, Groups: len(pl.GroupBy), Chain: res.Chain,
		BytesPerParty: res.BytesPerParty, Elapsed: elapsed, LedgerIndex: res.LedgerIndex}
	if res.EpsilonMilli == 0 {
		if out.Rows, out.Columns, err = pl.Finish(sums); err != nil {
			return nil, err
		}
		return out, nil
	}
	out.EpsilonMilli, out.Collusion = res.EpsilonMilli, int(res.Collusion)
	if out.Rows, out.Columns, out.Intervals, err = finishNoisy(pl, cs, sums, p.params.T(), res.EpsilonMilli, out.Collusion); err != nil {
		return nil, err
	}
	return out, nil
}

// Explain shows how a query would run, without running it or touching
// the ledger.
func (p *Profile) Explain(ctx context.Context, client pb.CoordinatorClient, sql string) (*chain.Explanation, error) {
	pl, sr, err := p.Plan(ctx, client, sql)
	if err != nil {
		return nil, err
	}
	cs, err := consortiumOf(sr)
	if err != nil {
		return nil, err
	}
	params, err := mpc.NewParams(sr.ParamSet)
	if err != nil {
		return nil, err
	}
	// The parties' worker counts are not in the schema: the model assumes
	// chain.DefaultWorkers, and says so.
	return chain.Explain(pl, cs, chain.ParamsOf(params, 0), sr.Entities)
}
