// Package auditor is the compliance staff's side: a profile (auditor
// certificate, the ledger's public keys and where the coordinator serves
// it) and the checks mpcaudit runs: whole-log verification, listing
// queries with their opened commitments, and per-query receipts that can be
// checked offline later.
package auditor

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/internal/wire"
	"github.com/mpcq/mpcq/ledger/archive"
	"github.com/mpcq/mpcq/ledger/audit"
	"github.com/mpcq/mpcq/ledger/entry"
	"github.com/mpcq/mpcq/pki"
	"github.com/mpcq/mpcq/policy"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
	"github.com/mpcq/mpcq/schema"
)

// LedgerInfo is what anyone needs to verify the ledger: its public key,
// every witness's key, and where the coordinator serves it.
type LedgerInfo struct {
	URL       string            `json:"url"`
	PublicKey string            `json:"public_key"`
	Witnesses map[string]string `json:"witnesses"`
}

// ProfileConfig is DIR/profile.json of an auditor profile.
type ProfileConfig struct {
	Coordinator string     `json:"coordinator"`
	Ledger      LedgerInfo `json:"ledger"`
}

// Profile is a loaded auditor profile.
type Profile struct {
	Dir       string
	Config    ProfileConfig
	LogV      note.Verifier
	Cosigners []note.Verifier
	// CAPEM is the consortium CA certificate (DIR/ca.pem): archived
	// analysts' signed requests are checked against it.
	CAPEM []byte
}

// WriteProfile creates an auditor profile directory.
func WriteProfile(dir string, cfg ProfileConfig, caPEM, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	for name, data := range map[string][]byte{"profile.json": b, "ca.pem": caPEM, "cert.pem": certPEM} {
		if err := pki.WritePublic(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return pki.WritePrivate(filepath.Join(dir, "key.pem"), keyPEM)
}

// Load reads an auditor profile.
func Load(dir string) (*Profile, error) {
	b, err := os.ReadFile(filepath.Join(dir, "profile.json"))
	if err != nil {
		return nil, fmt.Errorf("auditor profile: %w", err)
	}
	var cfg ProfileConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("auditor profile: %w", err)
	}
	p := &Profile{Dir: dir, Config: cfg}
	if p.CAPEM, err = os.ReadFile(filepath.Join(dir, "ca.pem")); err != nil {
		return nil, fmt.Errorf("auditor profile: consortium CA certificate: %w", err)
	}
	if p.LogV, err = note.NewVerifier(strings.TrimSpace(cfg.Ledger.PublicKey)); err != nil {
		return nil, fmt.Errorf("auditor profile: ledger log key: %w", err)
	}
	for name, vkey := range cfg.Ledger.Witnesses {
		v, err := fnote.NewVerifierForCosignatureV1(vkey)
		if err != nil {
			return nil, fmt.Errorf("auditor profile: witness key of %s: %w", name, err)
		}
		p.Cosigners = append(p.Cosigners, v)
	}
	return p, nil
}

func (p *Profile) tls(host string) (*tls.Config, error) {
	return pki.LoadClientConfig(filepath.Join(p.Dir, "cert.pem"), filepath.Join(p.Dir, "key.pem"), filepath.Join(p.Dir, "ca.pem"), host, pki.ExpectRole(pki.RoleCoordinator))
}

// Fetcher reads the log from a directory copy, or from the coordinator
// over HTTPS when dir is empty.
func (p *Profile) Fetcher(ctx context.Context, dir string) (audit.Fetcher, error) {
	if dir != "" {
		return audit.DirFetcher(dir), nil
	}
	u := p.Config.Ledger.URL
	host, _, err := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(u, "https://"), "/"))
	if err != nil {
		return nil, fmt.Errorf("ledger URL %q: %w", u, err)
	}
	tc, err := p.tls(host)
	if err != nil {
		return nil, err
	}
	return audit.HTTPFetcher(ctx, u, &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: time.Minute})
}

// archiveClient fetches the query archive from the coordinator.
type archiveClient struct {
	recs map[string]archive.Record
}

func (a archiveClient) Get(id string) (archive.Record, error) {
	r, ok := a.recs[id]
	if !ok {
		return archive.Record{}, fmt.Errorf("query %s: %w", id, archive.ErrNotFound)
	}
	return r, nil
}

// Schema fetches the consortium schema from the coordinator (with the
// auditor's certificate): what compiling an archived query's SQL needs.
func (p *Profile) Schema(ctx context.Context) (schema.Consortium, error) {
	host, _, err := net.SplitHostPort(p.Config.Coordinator)
	if err != nil {
		return schema.Consortium{}, err
	}
	tc, err := p.tls(host)
	if err != nil {
		return schema.Consortium{}, err
	}
	conn, err := rpc.Dial(p.Config.Coordinator, tc)
	if err != nil {
		return schema.Consortium{}, err
	}
	defer conn.Close()
	r, err := pb.NewCoordinatorClient(conn).Schema(ctx, &pb.SchemaRequest{})
	if err != nil {
		return schema.Consortium{}, fmt.Errorf("schema from %s: %w", p.Config.Coordinator, err)
	}
	var cs schema.Consortium
	for _, t := range r.Tables {
		tt, err := wire.TableFromProto(t)
		if err != nil {
			return schema.Consortium{}, fmt.Errorf("schema from %s: %w", p.Config.Coordinator, err)
		}
		cs.Tables = append(cs.Tables, tt)
	}
	return cs, nil
}

// Archive fetches every archived opening from the coordinator.
func (p *Profile) Archive(ctx context.Context) (audit.Openings, error) {
	host, _, err := net.SplitHostPort(p.Config.Coordinator)
	if err != nil {
		return nil, err
	}
	tc, err := p.tls(host)
	if err != nil {
		return nil, err
	}
	conn, err := rpc.Dial(p.Config.Coordinator, tc)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	r, err := pb.NewCoordinatorClient(conn).Archive(ctx, &pb.ArchiveRequest{})
	if err != nil {
		return nil, fmt.Errorf("query archive from %s: %w", p.Config.Coordinator, err)
	}
	out := archiveClient{recs: map[string]archive.Record{}}
	for _, rec := range r.Records {
		var q, pp entry.Opening
		if len(rec.QuerySalt) != len(q.Salt) || len(rec.PurposeSalt) != len(pp.Salt) {
			return nil, fmt.Errorf("archive record %s: bad salt", rec.QueryId)
		}
		copy(q.Salt[:], rec.QuerySalt)
		copy(pp.Salt[:], rec.PurposeSalt)
		q.Data, pp.Data = []byte(rec.QueryText), rec.PurposeData
		r := archive.Record{QueryID: rec.QueryId, QueryText: q, Purpose: pp, Warrant: rec.Warrant}
		if sr := rec.Request; sr != nil {
			r.Signed = archive.SignedRequest{Request: sr.Request, Signature: sr.Signature, Certificate: sr.Certificate}
		}
		out.recs[rec.QueryId] = r
	}
	return out, nil
}

// QueryRow is one line of mpcaudit show.
type QueryRow struct {
	Index      uint64 `json:"index"`
	QueryID    string `json:"query_id"`
	Time       string `json:"time"`
	Analyst    string `json:"analyst"`
	Purpose    string `json:"purpose,omitempty"`
	LegalBasis string `json:"legal_basis,omitempty"`
	Query      string `json:"query,omitempty"`
	Status     string `json:"status"`
	// Epsilon is the query's ε ("exact" for a noise-free query) and
	// Collusion its collusion tolerance k (0 when exact).
	Epsilon   string `json:"epsilon"`
	Collusion uint16 `json:"collusion,omitempty"`
	// Warrant is the hex hash of the warrant the query ran under, "" for none.
	Warrant string `json:"warrant,omitempty"`
	// Case is the case reference of that warrant, when the archive holds it.
	Case    string   `json:"case,omitempty"`
	Parties []string `json:"parties,omitempty"`
	Reason  string   `json:"reason,omitempty"`
}

// Verify checks the whole log and lists the queries. Given openings, it
// also opens every QUERY's commitments and checks who asked: the archived
// signed request must verify under the profile's consortium CA and sign
// what the QUERY entry commits (a failure names the entry index and the
// query id).
func (p *Profile) Verify(ctx context.Context, fetch audit.Fetcher, openings audit.Openings) (audit.Report, []QueryRow, error) {
	rep, rows, _, err := p.VerifyEntries(ctx, fetch, openings)
	return rep, rows, err
}

// CA returns the consortium CA certificate of the profile (DIR/ca.pem).
func (p *Profile) CA() ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(p.Dir, "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("auditor profile: consortium CA: %w", err)
	}
	return b, nil
}

// Epsilon renders a query's ε for people: "exact" for 0, else the decimal.
func Epsilon(milli uint64) string {
	if milli == 0 {
		return "exact"
	}
	return policy.FormatEpsilon(milli)
}

// VerifyEntries is Verify that also returns every entry of the log, in
// order, for the computations done on a verified log (Budget, Policies).
// The certificates of POLICY entries, warrants and revocations are checked
// against the profile's CA (ca.pem).
func (p *Profile) VerifyEntries(ctx context.Context, fetch audit.Fetcher, openings audit.Openings) (audit.Report, []QueryRow, []Logged, error) {
	var rows []QueryRow
	var all []Logged
	byID := map[string]int{}
	visit := func(index uint64, e entry.Entry) {
		all = append(all, Logged{Index: index, Entry: e})
		switch v := e.(type) {
		case entry.Query:
			row := QueryRow{Index: index, QueryID: v.QueryID, Time: time.Unix(v.Time, 0).UTC().Format(time.RFC3339), Analyst: v.Analyst, Status: "committed",
				Epsilon: Epsilon(v.EpsilonMilli), Collusion: v.Collusion}
			if v.WarrantHash != (entry.Hash{}) {
				row.Warrant = hex.EncodeToString(v.WarrantHash[:])
			}
			if openings != nil {
				if rec, err := openings.Get(v.QueryID); err == nil {
					row.Query = string(rec.QueryText.Data)
					row.Purpose, row.LegalBasis, _ = entry.DecodePurposeData(rec.Purpose.Data)
				}
				if row.Warrant != "" {
					row.Case, _ = warrantCase(openings, v.QueryID)
				}
			}
			byID[v.QueryID] = len(rows)
			rows = append(rows, row)
		case entry.Result:
			if i, ok := byID[v.QueryID]; ok {
				rows[i].Status, rows[i].Parties = "answered", v.Parties
			}
		case entry.Failure:
			if i, ok := byID[v.QueryID]; ok {
				rows[i].Status, rows[i].Reason = "failed", v.Reason
				if v.Party != "" {
					rows[i].Parties = []string{v.Party}
				}
			}
		}
	}
	opts := []audit.Option{audit.WithVisitor(visit)}
	if openings != nil {
		opts = append(opts, audit.WithOpenings(openings), audit.WithRequestCA(p.CAPEM))
	}
	if ca, err := p.CA(); err == nil {
		opts = append(opts, audit.WithCA(ca))
	}
	rep, err := audit.Verify(ctx, fetch, p.LogV, p.Cosigners, p.LogV.Name(), opts...)
	return rep, rows, all, err
}

// Prove writes the receipt (C2SP tlog-proof) of a query's QUERY entry.
func (p *Profile) Prove(ctx context.Context, fetch audit.Fetcher, queryID string) ([]byte, error) {
	_, rows, err := p.Verify(ctx, fetch, nil)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if r.QueryID == queryID {
			return audit.Receipt(ctx, fetch, p.LogV, p.Cosigners, p.LogV.Name(), r.Index)
		}
	}
	return nil, fmt.Errorf("no QUERY entry for query %s in the ledger", queryID)
}

// CheckReceipt verifies a receipt offline.
func (p *Profile) CheckReceipt(receipt []byte) (audit.Receipted, error) {
	return audit.CheckReceipt(receipt, p.LogV, p.Cosigners)
}
