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
		return nil, fmt.Errorf("%w: %v (create one with mpcdemo serve, or by hand as the README explains)", ErrProfile, err)
	}
	var cfg ProfileConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrProfile, ProfileFile, err)
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
// GROUP BY), group values first, then the aggregates as exact decimals
// ("NULL" for an empty group's average or variance).
type Result struct {
	QueryID       string
	Columns       []string
	Rows          [][]string
	Groups        int // number of GROUP BY columns at the start of each row
	Chain         []string
	BytesPerParty []uint64
	Elapsed       float64
	LedgerIndex   uint64
}

// MarshalJSON renders {"query_id":..., "columns":[...], "rows":[[...]]}
// with numbers as JSON numbers, group values as strings and NULL as null.
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
	return json.Marshal(struct {
		QueryID     string   `json:"query_id"`
		Columns     []string `json:"columns"`
		Rows        [][]any  `json:"rows"`
		LedgerIndex uint64   `json:"ledger_index"`
	}{r.QueryID, r.Columns, rows, r.LedgerIndex})
}

// Request is one query.
type Request struct {
	SQL, Purpose, LegalBasis string
}

// Plan parses a query locally against the consortium's schema, as the
// coordinator will: errors show at once, and the result is computed from
// the decrypted sums with this plan.
func (p *Profile) Plan(ctx context.Context, client pb.CoordinatorClient, sql string) (*plan.Plan, *pb.SchemaReply, error) {
	sr, err := client.Schema(ctx, &pb.SchemaRequest{})
	if err != nil {
		return nil, nil, err
	}
	var cs schema.Consortium
	for _, t := range sr.Tables {
		tt, err := wire.TableFromProto(t)
		if err != nil {
			return nil, nil, err
		}
		cs.Tables = append(cs.Tables, tt)
	}
	pl, err := plan.Parse(sql, cs)
	if err != nil {
		return nil, sr, err
	}
	return pl, sr, nil
}

// Query sends a query, reports progress, and decrypts the result.
func (p *Profile) Query(ctx context.Context, client pb.CoordinatorClient, req Request, progress func(*pb.Progress)) (*Result, error) {
	pl, _, err := p.Plan(ctx, client, req.SQL)
	if err != nil {
		return nil, err
	}
	if pl.Explain {
		return nil, fmt.Errorf("EXPLAIN shows a plan without running it: use mpcq explain (or query --dry-run)")
	}
	if req.Purpose == "" {
		req.Purpose = p.Config.Purpose
	}
	if req.LegalBasis == "" {
		req.LegalBasis = p.Config.LegalBasis
	}
	start := time.Now()
	signed, err := p.Sign(pl.Canonical, req.Purpose, req.LegalBasis)
	if err != nil {
		return nil, err
	}
	stream, err := client.Query(ctx, &pb.QueryRequest{Sql: req.SQL, Purpose: req.Purpose, LegalBasis: req.LegalBasis, AnalystPublicKey: p.pkRaw, Signed: signed})
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
	return p.Decrypt(pl, res, time.Since(start).Seconds())
}

// Sign signs a request (its canonical SQL, purpose, legal basis and this
// profile's RLWE public key) with the key of the profile's certificate,
// now and with a fresh nonce: every party checks it before it works.
func (p *Profile) Sign(canonical, purpose, legalBasis string) (*pb.SignedRequest, error) {
	certPEM, keyPEM, err := pki.LoadKeyPair(filepath.Join(p.Dir, CertFile), filepath.Join(p.Dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProfile, err)
	}
	return SignRequest(canonical, purpose, legalBasis, p.pkRaw, certPEM, keyPEM, time.Now())
}

// SignRequest is Sign with explicit key material.
func SignRequest(canonical, purpose, legalBasis string, publicKey, certPEM, keyPEM []byte, now time.Time) (*pb.SignedRequest, error) {
	priv, err := pki.PrivateKey(keyPEM)
	if err != nil {
		return nil, err
	}
	r, err := request.New(canonical, purpose, legalBasis, publicKey, now)
	if err != nil {
		return nil, err
	}
	enc, sig, err := request.Sign(r, priv)
	if err != nil {
		return nil, err
	}
	return &pb.SignedRequest{Request: enc, Signature: sig, Certificate: certPEM}, nil
}

// Decrypt opens a result with the analyst's secret key: every per-group
// sum, then the output columns computed from them by the plan.
func (p *Profile) Decrypt(pl *plan.Plan, res *pb.QueryResult, elapsed float64) (*Result, error) {
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
			return nil, fmt.Errorf("result sum %d is not the query's %v", i, want[i])
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
	rows, cols, err := pl.Finish(sums)
	if err != nil {
		return nil, err
	}
	return &Result{QueryID: res.QueryId, Columns: cols, Rows: rows, Groups: len(pl.GroupBy), Chain: res.Chain,
		BytesPerParty: res.BytesPerParty, Elapsed: elapsed, LedgerIndex: res.LedgerIndex}, nil
}

// Explain shows how a query would run, without running it or touching
// the ledger.
func (p *Profile) Explain(ctx context.Context, client pb.CoordinatorClient, sql string) (*chain.Explanation, error) {
	pl, sr, err := p.Plan(ctx, client, sql)
	if err != nil {
		return nil, err
	}
	var cs schema.Consortium
	for _, t := range sr.Tables {
		tt, err := wire.TableFromProto(t)
		if err != nil {
			return nil, err
		}
		cs.Tables = append(cs.Tables, tt)
	}
	params, err := mpc.NewParams(sr.ParamSet)
	if err != nil {
		return nil, err
	}
	// The parties' worker counts are not in the schema: the model assumes
	// chain.DefaultWorkers, and says so.
	return chain.Explain(pl, cs, chain.ParamsOf(params, 0), sr.Entities)
}
