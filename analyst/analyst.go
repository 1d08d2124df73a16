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
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"google.golang.org/grpc"

	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
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
	tc, err := pki.LoadClientConfig(filepath.Join(p.Dir, CertFile), filepath.Join(p.Dir, KeyFile), filepath.Join(p.Dir, CAFile), host)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrProfile, err)
	}
	conn, err := rpc.Dial(p.Config.Coordinator, tc)
	if err != nil {
		return nil, nil, err
	}
	return conn, pb.NewCoordinatorClient(conn), nil
}

// Result is a decrypted query result.
type Result struct {
	QueryID       string     `json:"query_id"`
	Columns       []string   `json:"columns"`
	Rows          [][]uint64 `json:"rows"`
	Chain         []string   `json:"-"`
	BytesPerParty []uint64   `json:"-"`
	Elapsed       float64    `json:"-"`
	LedgerIndex   uint64     `json:"ledger_index"`
}

// Request is one query.
type Request struct {
	SQL, Purpose, LegalBasis string
}

// Query sends a query, reports progress, and decrypts the result.
func (p *Profile) Query(ctx context.Context, client pb.CoordinatorClient, req Request, progress func(*pb.Progress)) (*Result, error) {
	if req.Purpose == "" {
		req.Purpose = p.Config.Purpose
	}
	if req.LegalBasis == "" {
		req.LegalBasis = p.Config.LegalBasis
	}
	start := time.Now()
	stream, err := client.Query(ctx, &pb.QueryRequest{Sql: req.SQL, Purpose: req.Purpose, LegalBasis: req.LegalBasis, AnalystPublicKey: p.pkRaw})
	if err != nil {
		return nil, err
	}
	var res *pb.QueryResult
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
			res = e.Result
		}
	}
	if res == nil {
		return nil, fmt.Errorf("the coordinator closed the query without a result")
	}
	return p.Decrypt(res, time.Since(start).Seconds())
}

// Decrypt opens a result with the analyst's secret key.
func (p *Profile) Decrypt(res *pb.QueryResult, elapsed float64) (*Result, error) {
	if res.ParamSet != p.params.Set.Name {
		return nil, fmt.Errorf("result under parameter set %s, the profile's keys are for %s", res.ParamSet, p.params.Set.Name)
	}
	if len(res.Columns) != len(res.Ciphertexts) {
		return nil, fmt.Errorf("result has %d columns and %d values", len(res.Columns), len(res.Ciphertexts))
	}
	fresh, err := p.params.FreshLevel(int(res.ChainLen))
	if err != nil {
		return nil, err
	}
	scale := p.params.ScaleAt(fresh, mpc.DecryptLevel)
	row := make([]uint64, len(res.Ciphertexts))
	for i, b := range res.Ciphertexts {
		ct, err := p.params.UnmarshalCiphertext(b, mpc.DecryptLevel, scale)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", res.Columns[i], err)
		}
		if row[i], err = p.params.DecryptTotal(p.sk, ct); err != nil {
			return nil, fmt.Errorf("column %s: %w", res.Columns[i], err)
		}
	}
	return &Result{QueryID: res.QueryId, Columns: res.Columns, Rows: [][]uint64{row}, Chain: res.Chain, BytesPerParty: res.BytesPerParty, Elapsed: elapsed, LedgerIndex: res.LedgerIndex}, nil
}
