// Package party is the party daemon: it serves one institution's table to
// the consortium without letting a record or a person identifier leave.
// It takes part in the key ceremony (its secret key share never leaves,
// stored 0600), blinds identifiers for record alignment, evaluates its
// predicates locally and contributes its step of a query's chain and its
// decryption share. The cryptography is package mpc; this package is the
// driver around it: state on disk, gRPC service, logging.
package party

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/mod/sumdb/note"

	"github.com/mpcq/mpcq/internal/config"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid party configuration")

// TLSFiles names the PEM files of a node's mutual-TLS identity.
type TLSFiles struct {
	CA   string `json:"ca"`   // the consortium CA's certificate
	Cert string `json:"cert"` // this node's certificate
	Key  string `json:"key"`  // this node's private key (0600)
}

// Config is partyd's configuration file. docs/config.md describes every
// field; the fields and JSON keys shared with the coordinator's Config
// have the same names there.
type Config struct {
	Name            string   `json:"name"`                  // party name, must match its certificate
	Listen          string   `json:"listen"`                // e.g. 0.0.0.0:7101
	DataDir         string   `json:"data_dir"`              // keys and alignment state, created 0700
	CSV             string   `json:"csv"`                   // the table's rows (or postgres)
	Schema          string   `json:"schema"`                // the table's schema (JSON)
	TLS             TLSFiles `json:"tls"`                   //
	Peers           []string `json:"peers"`                 // certificate files of the other parties (for alignment signatures)
	Workers         int      `json:"workers"`               // goroutines for crypto; 0 = all cores
	QueryTimeoutS   int      `json:"query_timeout_s"`       // upper bound on one query step
	LogLevel        string   `json:"log_level"`             // zerolog level
	WitnessKey      string   `json:"witness_key"`           // this party's ledger cosigning key (note signer key file, 0600)
	LedgerPublicKey string   `json:"ledger_public_key"`     // the ledger's public key (note verifier key)
	AllowInsecure   bool     `json:"allow_insecure_params"` // take part in ceremonies with insecure (test) parameter sets
	// Policy is the institution's policy file (docs/policy.md): which
	// analysts may use which columns, exact results, ε and budgets.
	Policy string `json:"policy"`
	// RevocationsDir, when set, is a directory where the institution's
	// operator drops authorizers' revocation files (mpcwarrant revoke):
	// read at every warranted query, whatever the coordinator forwards.
	RevocationsDir string `json:"revocations_dir"`
	// MaxStepMemoryMB caps the planned peak memory of one query step
	// (the coordinator's model, applied to the step's header); a step
	// above it is refused.
	MaxStepMemoryMB int `json:"max_step_memory_mb"`
	// MaxConcurrentSteps query steps run at once; one more is refused
	// with ResourceExhausted.
	MaxConcurrentSteps int `json:"max_concurrent_steps"`
	// MetricsListen, when set, serves Prometheus metrics at /metrics
	// (plain HTTP) on this host:port; empty, no metrics are served.
	MetricsListen string `json:"metrics_listen"`
	// HealthListen, when set, serves the gRPC health service alone,
	// without TLS, on this host:port, for probes that cannot present a
	// certificate (Kubernetes' gRPC probes); empty, it is not served.
	HealthListen string `json:"health_listen"`
	// Postgres reads the table from PostgreSQL at query time instead of
	// from csv (docs/postgres.md).
	Postgres *PostgresSource `json:"postgres,omitempty"`
	// EncryptionPoolBlocks bounds the pool of precomputed encryptions of
	// zero (mpc.EncPool) with which this party, first in a chain,
	// encrypts its blocks: each entry holds 1 MiB at the default
	// parameters. Absent: DefaultEncryptionPoolBlocks; 0 disables the
	// pool (every block encrypted afresh).
	EncryptionPoolBlocks *int `json:"encryption_pool_blocks,omitempty"`
}

// DefaultEncryptionPoolBlocks is the encryption pool's bound when the
// config leaves it out: one query at 1,000,000 people (62 blocks of
// 16,384 slots per output) with two first-party outputs, 128 MiB.
const DefaultEncryptionPoolBlocks = 128

// EncryptionPool is the encryption pool's bound with its default applied
// (0: no pool).
func (c *Config) EncryptionPool() int {
	if c.EncryptionPoolBlocks == nil {
		return DefaultEncryptionPoolBlocks
	}
	return *c.EncryptionPoolBlocks
}

// PostgresSource is where a party's table lives in PostgreSQL.
type PostgresSource struct {
	// Conn is a libpq connection string or URL; ConnFile names a file
	// holding one (for a password kept out of the config). One of them.
	Conn     string `json:"conn"`
	ConnFile string `json:"conn_file"`
	// Tables maps consortium tables to relations; the party uses the
	// entry of its own table (its schema's name).
	Tables []PostgresTable `json:"tables"`
	// KeysCheckS is the interval, in seconds, at which the party reads
	// the relation's person keys to notice inserted and deleted people
	// (an incremental epoch follows); 0 means 60.
	KeysCheckS int `json:"keys_check_s"`
}

// KeysCheck is the interval of the keys check.
func (p *PostgresSource) KeysCheck() time.Duration {
	if p.KeysCheckS <= 0 {
		return time.Minute
	}
	return time.Duration(p.KeysCheckS) * time.Second
}

// PostgresTable is one consortium table's relation.
type PostgresTable struct {
	Table    string `json:"table"`    // the consortium table (schema name)
	Relation string `json:"relation"` // table or view, optionally schema-qualified
	Key      string `json:"key"`      // column holding the person key
}

// ConnString returns the connection string, reading ConnFile if set.
func (p *PostgresSource) ConnString() (string, error) {
	if p.ConnFile == "" {
		return p.Conn, nil
	}
	b, err := os.ReadFile(p.ConnFile)
	if err != nil {
		return "", fmt.Errorf("%w: postgres.conn_file: %w", ErrConfig, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Relation returns table's entry.
func (p *PostgresSource) Relation(table string) (PostgresTable, error) {
	for _, t := range p.Tables {
		if t.Table == table {
			return t, nil
		}
	}
	return PostgresTable{}, fmt.Errorf("%w: postgres.tables has no entry for table %s", ErrConfig, table)
}

func (p *PostgresSource) validate() error {
	if (p.Conn == "") == (p.ConnFile == "") {
		return fmt.Errorf("%w: postgres: set exactly one of conn and conn_file", ErrConfig)
	}
	if len(p.Tables) == 0 {
		return fmt.Errorf("%w: postgres.tables is empty", ErrConfig)
	}
	for i, t := range p.Tables {
		if t.Table == "" || t.Relation == "" || t.Key == "" {
			return fmt.Errorf("%w: postgres.tables[%d]: table, relation and key are required", ErrConfig, i)
		}
	}
	return nil
}

// Defaults is the configuration a file starts from: every optional field
// a file leaves out (or sets to its zero value) has this value.
func Defaults() Config {
	return Config{QueryTimeoutS: 300, LogLevel: "info", MaxStepMemoryMB: 1024, MaxConcurrentSteps: 8}
}

// WithDefaults returns c with every unset optional field set from Defaults.
func (c Config) WithDefaults() Config {
	d := Defaults()
	if c.QueryTimeoutS == 0 {
		c.QueryTimeoutS = d.QueryTimeoutS
	}
	if c.LogLevel == "" {
		c.LogLevel = d.LogLevel
	}
	if c.MaxStepMemoryMB == 0 {
		c.MaxStepMemoryMB = d.MaxStepMemoryMB
	}
	if c.MaxConcurrentSteps == 0 {
		c.MaxConcurrentSteps = d.MaxConcurrentSteps
	}
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
		config.Field{Name: "name", Set: c.Name != ""},
		config.Field{Name: "listen", Set: c.Listen != ""},
		config.Field{Name: "data_dir", Set: c.DataDir != ""},
		config.Field{Name: "csv", Set: c.CSV != "" || c.Postgres != nil},
		config.Field{Name: "schema", Set: c.Schema != ""},
		config.Field{Name: "tls.ca", Set: c.TLS.CA != ""},
		config.Field{Name: "tls.cert", Set: c.TLS.Cert != ""},
		config.Field{Name: "tls.key", Set: c.TLS.Key != ""},
		config.Field{Name: "witness_key", Set: c.WitnessKey != ""},
		config.Field{Name: "ledger_public_key", Set: c.LedgerPublicKey != ""},
		config.Field{Name: "policy", Set: c.Policy != ""},
	); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.CSV != "" && c.Postgres != nil {
		return fmt.Errorf("%w: set csv or postgres, not both", ErrConfig)
	}
	if c.Postgres != nil {
		if err := c.Postgres.validate(); err != nil {
			return err
		}
	}
	if c.Workers < 0 {
		return fmt.Errorf("%w: workers %d is negative", ErrConfig, c.Workers)
	}
	if n := c.EncryptionPool(); n < 0 {
		return fmt.Errorf("%w: encryption_pool_blocks %d is negative (0 disables the pool)", ErrConfig, n)
	}
	if _, err := zerolog.ParseLevel(c.LogLevel); err != nil {
		return fmt.Errorf("%w: log_level: %v", ErrConfig, err)
	}
	if c.QueryTimeoutS <= 0 {
		return fmt.Errorf("%w: query_timeout_s %d is not positive", ErrConfig, c.QueryTimeoutS)
	}
	if c.MaxStepMemoryMB <= 0 {
		return fmt.Errorf("%w: max_step_memory_mb %d is not positive", ErrConfig, c.MaxStepMemoryMB)
	}
	if c.MaxConcurrentSteps <= 0 {
		return fmt.Errorf("%w: max_concurrent_steps %d is not positive", ErrConfig, c.MaxConcurrentSteps)
	}
	if _, err := note.NewVerifier(strings.TrimSpace(c.LedgerPublicKey)); err != nil {
		return fmt.Errorf("%w: ledger_public_key: %v", ErrConfig, err)
	}
	return nil
}

// MaxStepMemory is the cap on one query step's planned memory.
func (c *Config) MaxStepMemory() int64 { return int64(c.MaxStepMemoryMB) << 20 }

// QueryTimeout is the deadline of one query step.
func (c *Config) QueryTimeout() time.Duration { return time.Duration(c.QueryTimeoutS) * time.Second }
