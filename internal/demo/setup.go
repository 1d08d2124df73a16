// Package demo sets up and runs a whole local consortium on loopback: the
// synthetic data, a fresh CA and certificates, the configs, and the
// coordinator and three parties as child processes. It also holds the
// sample queries and their plaintext oracle, computed straight from the
// CSVs with no code shared with the planner. mpcdemo and the end-to-end
// tests use it.
package demo

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/mpcq/mpcq/coordinator"
	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/freeport"
	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/party"
	"github.com/mpcq/mpcq/pki"
)

// Options of a demo consortium.
type Options struct {
	People   int
	Seed     int64
	ParamSet string
	// Workers per daemon (0: all cores).
	Workers int
	// AllowInsecure lets tests use the fast insecure parameter set.
	AllowInsecure bool
	// Progress, when set, receives one line per set-up step.
	Progress func(string)
}

// SetupBudget bounds one ceremony or alignment run of a demo consortium
// of people: the coordinator's default (30 minutes) up to 3,000,000
// people, then 600 µs per person (about 4 times the alignment's cost on a
// quiet 2-core machine, so that a loaded machine still finishes).
func SetupBudget(people int) time.Duration {
	return max(30*time.Minute, time.Duration(people)*600*time.Microsecond)
}

// Layout is where everything of a demo consortium lives.
type Layout struct {
	Dir             string
	Parties         []string          // sorted
	PartyAddrs      map[string]string // name → host:port
	CoordinatorAddr string
	LedgerAddr      string // the coordinator's read-only ledger (HTTPS)
	// MetricsAddrs is where each daemon serves Prometheus metrics: party
	// name → host:port, and "coordinator".
	MetricsAddrs map[string]string
	// HealthAddrs is where each daemon serves the plaintext health
	// service (health_listen), keyed as MetricsAddrs.
	HealthAddrs map[string]string
}

// Path joins elements under the demo directory.
func (l *Layout) Path(elem ...string) string {
	return filepath.Join(append([]string{l.Dir}, elem...)...)
}

// DataCSV is a table's CSV file.
func (l *Layout) DataCSV(table string) string { return l.Path("data", table+".csv") }

// PartyConfig is a party's config file.
func (l *Layout) PartyConfig(name string) string { return l.Path("parties", name, "config.json") }

// CoordinatorConfig is the coordinator's config file.
func (l *Layout) CoordinatorConfig() string { return l.Path("coordinator", "config.json") }

// AuditorDir is the compliance auditor's profile.
func (l *Layout) AuditorDir() string { return l.Path("auditor") }

// AnalystDir is the analyst's profile.
func (l *Layout) AnalystDir() string { return l.Path("analyst") }

// AnalystDPDir is the profile of the demo's second analyst, who has no
// warrant and gets noisy answers (ε 1 each, ε 10 per day).
func (l *Layout) AnalystDPDir() string { return l.Path("analyst-dp") }

// AuthorizerDir is the demo authorizer's (a judge's) profile: its
// certificate and key, for mpcwarrant.
func (l *Layout) AuthorizerDir() string { return l.Path("authorizer") }

// WarrantFile is the name of the demo warrant in the analyst's profile.
const WarrantFile = "warrant.pem"

func freePort() (string, error) { return freeport.Addr() }

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return pki.WritePublic(path, append(b, '\n'))
}

// Setup writes the data, PKI, configs and analyst profile into dir.
func Setup(dir string, o Options) (*Layout, error) {
	say := func(format string, a ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, a...))
		}
	}
	if o.ParamSet == "" {
		return nil, fmt.Errorf("demo: no parameter set")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	l := &Layout{Dir: abs, Parties: []string{gen.Bank, gen.Telecom, gen.Utility}, PartyAddrs: map[string]string{}}
	start := time.Now()
	files, err := gen.WriteDir(l.Path("data"), o.People, o.Seed)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if !f.Schema {
			say("data: %s %d rows", filepath.Base(f.Path), f.Rows)
		}
	}
	say("synthetic data for %d people written in %.1fs", o.People, time.Since(start).Seconds())

	now := time.Now()
	ca, err := pki.NewCA("mpcq demo consortium CA", now, 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	caFile := l.Path("pki", "ca.pem")
	if err := os.MkdirAll(l.Path("pki"), 0o700); err != nil {
		return nil, err
	}
	if err := pki.WritePublic(caFile, ca.CertPEM()); err != nil {
		return nil, err
	}
	if err := pki.WritePrivate(l.Path("pki", "ca.key"), ca.KeyPEM()); err != nil {
		return nil, err
	}
	hosts := []string{"localhost", "127.0.0.1"}
	issue := func(role pki.Role, name, dir string) (pki.Role, error) {
		cert, key, err := ca.Issue(role, name, hosts, now, 30*24*time.Hour)
		if err != nil {
			return role, err
		}
		if err := pki.WritePublic(filepath.Join(dir, "cert.pem"), cert); err != nil {
			return role, err
		}
		return role, pki.WritePrivate(filepath.Join(dir, "key.pem"), key)
	}
	for _, name := range l.Parties {
		if err := os.MkdirAll(l.Path("parties", name), 0o700); err != nil {
			return nil, err
		}
		if _, err := issue(pki.RoleParty, name, l.Path("parties", name)); err != nil {
			return nil, err
		}
		if l.PartyAddrs[name], err = freePort(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(l.Path("coordinator"), 0o700); err != nil {
		return nil, err
	}
	if _, err := issue(pki.RoleCoordinator, "coordinator", l.Path("coordinator")); err != nil {
		return nil, err
	}
	if l.CoordinatorAddr, err = freePort(); err != nil {
		return nil, err
	}
	say("certificates issued by a fresh local CA (%s)", caFile)

	// Ledger keys: the coordinator signs checkpoints, every party cosigns.
	logSKey, logVKey, err := note.GenerateKey(rand.Reader, "mpcq-demo-ledger")
	if err != nil {
		return nil, err
	}
	if err := pki.WritePrivate(l.Path("coordinator", "ledger.key"), []byte(logSKey)); err != nil {
		return nil, err
	}
	witnesses := map[string]string{}
	for _, name := range l.Parties {
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			return nil, err
		}
		if err := pki.WritePrivate(l.Path("parties", name, "witness.key"), []byte(skey)); err != nil {
			return nil, err
		}
		witnesses[name] = vkey
	}
	if l.LedgerAddr, err = freePort(); err != nil {
		return nil, err
	}
	l.MetricsAddrs, l.HealthAddrs = map[string]string{}, map[string]string{}
	for _, name := range append(slices.Clone(l.Parties), "coordinator") {
		if l.MetricsAddrs[name], err = freePort(); err != nil {
			return nil, err
		}
		if l.HealthAddrs[name], err = freePort(); err != nil {
			return nil, err
		}
	}
	ledgerInfo := auditor.LedgerInfo{URL: "https://" + l.LedgerAddr + "/", PublicKey: logVKey, Witnesses: witnesses}
	if err := writeJSON(l.Path("pki", "ledger.json"), ledgerInfo); err != nil {
		return nil, err
	}

	for _, name := range l.Parties {
		var peers []string
		for _, other := range l.Parties {
			if other != name {
				peers = append(peers, l.Path("parties", other, "cert.pem"))
			}
		}
		pol := Policy(name)
		if err := checkPolicy(l.Path("parties", name, "policy.json"), pol); err != nil {
			return nil, err
		}
		if err := pki.WritePublic(l.Path("parties", name, "policy.json"), pol); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(l.Path("parties", name, "revocations"), 0o700); err != nil {
			return nil, err
		}
		cfg := party.Config{Name: name, Listen: l.PartyAddrs[name], DataDir: l.Path("parties", name, "state"), Policy: l.Path("parties", name, "policy.json"),
			RevocationsDir: l.Path("parties", name, "revocations"),
			CSV:            l.DataCSV(name), Schema: l.Path("data", name+".schema.json"),
			TLS:   party.TLSFiles{CA: caFile, Cert: l.Path("parties", name, "cert.pem"), Key: l.Path("parties", name, "key.pem")},
			Peers: peers, Workers: o.Workers, AllowInsecure: o.AllowInsecure,
			WitnessKey: l.Path("parties", name, "witness.key"), LedgerPublicKey: logVKey, MetricsListen: l.MetricsAddrs[name], HealthListen: l.HealthAddrs[name]}
		if err := writeJSON(l.PartyConfig(name), cfg.WithDefaults()); err != nil {
			return nil, err
		}
	}
	ccfg := coordinator.Config{Consortium: "mpcq-demo", Listen: l.CoordinatorAddr, DataDir: l.Path("coordinator", "state"),
		ParamSet: o.ParamSet, TLS: coordinator.TLSFiles{CA: caFile, Cert: l.Path("coordinator", "cert.pem"), Key: l.Path("coordinator", "key.pem")},
		Workers: o.Workers, AllowInsecure: o.AllowInsecure,
		LedgerKey: l.Path("coordinator", "ledger.key"), LedgerPublicKey: logVKey, Witnesses: witnesses, LedgerListen: l.LedgerAddr,
		MetricsListen: l.MetricsAddrs["coordinator"], HealthListen: l.HealthAddrs["coordinator"],
		SetupTimeoutS: int(SetupBudget(o.People) / time.Second)}
	for _, name := range l.Parties {
		ccfg.Parties = append(ccfg.Parties, coordinator.PartyAddr{Name: name, Addr: l.PartyAddrs[name]})
	}
	if err := writeJSON(l.CoordinatorConfig(), ccfg.WithDefaults()); err != nil {
		return nil, err
	}
	if err := writeAnalysts(l, ca, o.ParamSet, now); err != nil {
		return nil, err
	}
	ucert, ukey, err := ca.Issue(pki.RoleAuditor, "auditor-demo", nil, now, 30*24*time.Hour)
	if err != nil {
		return nil, err
	}
	if err := auditor.WriteProfile(l.AuditorDir(), auditor.ProfileConfig{Coordinator: l.CoordinatorAddr, Ledger: ledgerInfo}, ca.CertPEM(), ucert, ukey); err != nil {
		return nil, err
	}
	say("configs in %s; analyst profiles in %s (with a warrant: exact answers) and %s (no warrant: noisy answers, ε %s per query, %s per day); authorizer in %s; auditor in %s",
		l.Dir, l.AnalystDir(), l.AnalystDPDir(), DemoMaxEpsilon, DemoDailyBudget, l.AuthorizerDir(), l.AuditorDir())
	return l, nil
}
