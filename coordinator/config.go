// Package coordinator is the coordinator daemon: it holds no secret key
// material. It runs the key ceremony and record alignment across the
// parties, takes analysts' SQL, plans it, drives the chain of party steps,
// aggregates the result homomorphically, collects every party's decryption
// share and returns the result encrypted to the analyst's key.
package coordinator

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/mpcq/mpcq/internal/chain"
	"github.com/mpcq/mpcq/internal/config"
	"github.com/mpcq/mpcq/mpc"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid coordinator configuration")

// PartyAddr names a party and where it listens.
type PartyAddr struct {
	Name string `json:"name"` // must match the party's certificate
	Addr string `json:"addr"` // host:port; the host must be in the party's certificate
}

// TLSFiles names the PEM files of the coordinator's mutual-TLS identity.
type TLSFiles struct {
	CA   string `json:"ca"`   // the consortium CA's certificate
	Cert string `json:"cert"` // this node's certificate
	Key  string `json:"key"`  // this node's private key (0600)
}

// Config is coordinatord's configuration file. docs/config.md describes
// every field; the fields and JSON keys shared with the party's Config
// have the same names there.
type Config struct {
	Consortium string      `json:"consortium"` // consortium identifier, part of the ceremony transcript
	Listen     string      `json:"listen"`     // analysts' and auditors' gRPC address
	DataDir    string      `json:"data_dir"`   // ceremony, alignment and ledger state, created 0700
	ParamSet   string      `json:"param_set"`  // the HE parameter set
	TLS        TLSFiles    `json:"tls"`
	Parties    []PartyAddr `json:"parties"`
	// CallTimeoutS bounds one short call to a party (its status, its
	// ceremony nonce).
	CallTimeoutS int `json:"call_timeout_s"`
	// QueryTimeoutS bounds a whole query.
	QueryTimeoutS int `json:"query_timeout_s"`
	// SetupTimeoutS bounds one ceremony or alignment run.
	SetupTimeoutS int `json:"setup_timeout_s"`
	// LedgerOpenTimeoutS bounds opening the ledger (and waiting for the
	// query archive's file lock) once every party is up.
	LedgerOpenTimeoutS int `json:"ledger_open_timeout_s"`
	// LedgerAppendTimeoutS bounds recording one ledger entry, every
	// party's cosignature included.
	LedgerAppendTimeoutS int `json:"ledger_append_timeout_s"`
	// ShutdownTimeoutS is the grace given on stop to calls in flight, the
	// auditors' HTTPS server and the ledger.
	ShutdownTimeoutS int    `json:"shutdown_timeout_s"`
	Workers          int    `json:"workers"`               // goroutines for crypto; 0 = all cores
	LogLevel         string `json:"log_level"`             // zerolog level
	AllowInsecure    bool   `json:"allow_insecure_params"` // accept insecure (test) parameter sets
	// LedgerKey is the ledger's signing key (note signer key file, 0600);
	// LedgerPublicKey its verifier key.
	LedgerKey       string `json:"ledger_key"`
	LedgerPublicKey string `json:"ledger_public_key"`
	// Witnesses maps each party to its cosigning verifier key.
	Witnesses map[string]string `json:"witnesses"`
	// LedgerListen, when set, serves the log read-only to auditors (HTTPS,
	// mutual TLS, tlog-tiles layout).
	LedgerListen string `json:"ledger_listen"`
	// MaxQueryMemoryMB caps the planned peak memory of one query at any
	// process (chain.Explain's model); a query above it is refused at
	// plan time, before the ledger.
	MaxQueryMemoryMB int `json:"max_query_memory_mb"`
	// MaxConcurrentQueries queries run at once; up to MaxQueuedQueries
	// more wait in a FIFO queue; beyond that a query is refused with
	// ResourceExhausted.
	MaxConcurrentQueries int `json:"max_concurrent_queries"`
	MaxQueuedQueries     int `json:"max_queued_queries"`
	// MetricsListen, when set, serves Prometheus metrics at /metrics
	// (plain HTTP) on this host:port; empty, no metrics are served.
	MetricsListen string `json:"metrics_listen"`
	// HealthListen, when set, serves the gRPC health service alone,
	// without TLS, on this host:port, for probes that cannot present a
	// certificate (Kubernetes' gRPC probes); empty, it is not served.
	HealthListen string `json:"health_listen"`
	// CompactEmptyFraction: when the slots emptied since the last full
	// alignment (bounded by the rows removed in incremental epochs) exceed
	// this fraction of the union, the next epoch is a full re-alignment.
	CompactEmptyFraction float64 `json:"compact_empty_fraction"`
}

// Defaults is the configuration a file starts from: every optional field
// a file leaves out (or sets to its zero value) has this value.
func Defaults() Config {
	return Config{
		ParamSet:             mpc.DefaultSetName,
		CallTimeoutS:         10,
		QueryTimeoutS:        600,
		SetupTimeoutS:        1800,
		LedgerOpenTimeoutS:   60,
		LedgerAppendTimeoutS: 30,
		ShutdownTimeoutS:     10,
		LogLevel:             "info",
		MaxQueryMemoryMB:     chain.DefaultMaxQueryMemoryMB,
		MaxConcurrentQueries: 4,
		MaxQueuedQueries:     16,
		CompactEmptyFraction: 0.2,
	}
}

// WithDefaults returns c with every unset optional field set from
// Defaults and the parties sorted by name (the chain order).
func (c Config) WithDefaults() Config {
	d := Defaults()
	if c.ParamSet == "" {
		c.ParamSet = d.ParamSet
	}
	for _, f := range []struct{ v, d *int }{
		{&c.CallTimeoutS, &d.CallTimeoutS},
		{&c.QueryTimeoutS, &d.QueryTimeoutS},
		{&c.SetupTimeoutS, &d.SetupTimeoutS},
		{&c.LedgerOpenTimeoutS, &d.LedgerOpenTimeoutS},
		{&c.LedgerAppendTimeoutS, &d.LedgerAppendTimeoutS},
		{&c.ShutdownTimeoutS, &d.ShutdownTimeoutS},
		{&c.MaxQueryMemoryMB, &d.MaxQueryMemoryMB},
		{&c.MaxConcurrentQueries, &d.MaxConcurrentQueries},
		{&c.MaxQueuedQueries, &d.MaxQueuedQueries},
	} {
		if *f.v == 0 {
			*f.v = *f.d
		}
	}
	if c.LogLevel == "" {
		c.LogLevel = d.LogLevel
	}
	if c.CompactEmptyFraction == 0 {
		c.CompactEmptyFraction = d.CompactEmptyFraction
	}
	c.Parties = slices.Clone(c.Parties)
	sort.Slice(c.Parties, func(i, j int) bool { return c.Parties[i].Name < c.Parties[j].Name })
	return c
}

// LoadConfig reads a JSON config file strictly (unknown fields and
// trailing data are errors), applies the defaults and validates it.
func LoadConfig(path string) (*Config, error) {
	var c Config
	if err := config.Load(path, &c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// Validate checks a config with its defaults applied; it changes nothing.
func (c *Config) Validate() error {
	if err := config.CheckRequired(
		config.Field{Name: "consortium", Set: c.Consortium != ""},
		config.Field{Name: "listen", Set: c.Listen != ""},
		config.Field{Name: "data_dir", Set: c.DataDir != ""},
		config.Field{Name: "param_set", Set: c.ParamSet != ""},
		config.Field{Name: "tls.ca", Set: c.TLS.CA != ""},
		config.Field{Name: "tls.cert", Set: c.TLS.Cert != ""},
		config.Field{Name: "tls.key", Set: c.TLS.Key != ""},
		config.Field{Name: "parties", Set: len(c.Parties) > 0},
		config.Field{Name: "ledger_key", Set: c.LedgerKey != ""},
		config.Field{Name: "ledger_public_key", Set: c.LedgerPublicKey != ""},
		config.Field{Name: "witnesses", Set: len(c.Witnesses) > 0},
	); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	set, err := mpc.LookupSet(c.ParamSet)
	if err != nil {
		return fmt.Errorf("%w: param_set: %w", ErrConfig, err)
	}
	if set.Insecure && !c.AllowInsecure {
		return fmt.Errorf("%w: parameter set %s is insecure (tests only); set allow_insecure_params to use it", ErrConfig, set.Name)
	}
	if len(c.Parties) > mpc.MaxChain {
		return fmt.Errorf("%w: %d parties; this version supports up to %d", ErrConfig, len(c.Parties), mpc.MaxChain)
	}
	for i, p := range c.Parties {
		if p.Name == "" || p.Addr == "" {
			return fmt.Errorf("%w: parties[%d] needs a name and an addr", ErrConfig, i)
		}
		if i > 0 && c.Parties[i-1].Name >= p.Name {
			return fmt.Errorf("%w: parties must have distinct names, sorted (WithDefaults sorts them)", ErrConfig)
		}
		vkey, ok := c.Witnesses[p.Name]
		if !ok {
			return fmt.Errorf("%w: witnesses: no key for party %s", ErrConfig, p.Name)
		}
		if _, err := fnote.NewVerifierForCosignatureV1(strings.TrimSpace(vkey)); err != nil {
			return fmt.Errorf("%w: witnesses: key of party %s: %v", ErrConfig, p.Name, err)
		}
	}
	if c.CompactEmptyFraction <= 0 || c.CompactEmptyFraction > 1 {
		return fmt.Errorf("%w: compact_empty_fraction %g must be in (0, 1]", ErrConfig, c.CompactEmptyFraction)
	}
	if len(c.Witnesses) != len(c.Parties) {
		return fmt.Errorf("%w: witnesses: %d keys for %d parties", ErrConfig, len(c.Witnesses), len(c.Parties))
	}
	if _, err := note.NewVerifier(strings.TrimSpace(c.LedgerPublicKey)); err != nil {
		return fmt.Errorf("%w: ledger_public_key: %v", ErrConfig, err)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"call_timeout_s", c.CallTimeoutS},
		{"query_timeout_s", c.QueryTimeoutS},
		{"setup_timeout_s", c.SetupTimeoutS},
		{"ledger_open_timeout_s", c.LedgerOpenTimeoutS},
		{"ledger_append_timeout_s", c.LedgerAppendTimeoutS},
		{"shutdown_timeout_s", c.ShutdownTimeoutS},
		{"max_query_memory_mb", c.MaxQueryMemoryMB},
		{"max_concurrent_queries", c.MaxConcurrentQueries},
		{"max_queued_queries", c.MaxQueuedQueries},
	} {
		if f.v <= 0 {
			return fmt.Errorf("%w: %s %d is not positive", ErrConfig, f.name, f.v)
		}
	}
	if c.Workers < 0 {
		return fmt.Errorf("%w: workers %d is negative", ErrConfig, c.Workers)
	}
	if _, err := zerolog.ParseLevel(c.LogLevel); err != nil {
		return fmt.Errorf("%w: log_level: %v", ErrConfig, err)
	}
	return nil
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// CallTimeout bounds one short call to a party.
func (c *Config) CallTimeout() time.Duration { return seconds(c.CallTimeoutS) }

// QueryTimeout bounds a whole query.
func (c *Config) QueryTimeout() time.Duration { return seconds(c.QueryTimeoutS) }

// SetupTimeout bounds one ceremony or alignment run.
func (c *Config) SetupTimeout() time.Duration { return seconds(c.SetupTimeoutS) }

// LedgerOpenTimeout bounds opening the ledger and its query archive.
func (c *Config) LedgerOpenTimeout() time.Duration { return seconds(c.LedgerOpenTimeoutS) }

// LedgerAppendTimeout bounds recording one ledger entry.
func (c *Config) LedgerAppendTimeout() time.Duration { return seconds(c.LedgerAppendTimeoutS) }

// ShutdownTimeout is the grace given on stop.
func (c *Config) ShutdownTimeout() time.Duration { return seconds(c.ShutdownTimeoutS) }

// MaxQueryMemory is the cap on one query's planned memory at any process.
func (c *Config) MaxQueryMemory() int64 { return int64(c.MaxQueryMemoryMB) << 20 }

// PartyNames lists the configured parties, sorted.
func (c *Config) PartyNames() []string {
	out := make([]string, len(c.Parties))
	for i, p := range c.Parties {
		out[i] = p.Name
	}
	return out
}
