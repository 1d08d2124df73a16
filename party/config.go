// Package party is the party daemon: it serves one institution's table to
// the consortium without letting a record or a person identifier leave.
// It takes part in the key ceremony (its secret key share never leaves,
// stored 0600), blinds identifiers for record alignment, evaluates its
// predicates locally and contributes its step of a query's chain and its
// decryption share. The cryptography is package mpc; this package is the
// driver around it: state on disk, gRPC service, logging.
package party

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid party configuration")

// TLSFiles names the PEM files of a node's mutual-TLS identity.
type TLSFiles struct {
	CA   string `json:"ca"`
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// Config is partyd's configuration file.
type Config struct {
	Name       string   `json:"name"`        // party name, must match its certificate
	Listen     string   `json:"listen"`      // e.g. 127.0.0.1:7101
	DataDir    string   `json:"data_dir"`    // keys and alignment state, created 0700
	CSV        string   `json:"csv"`         // the table's rows
	Schema     string   `json:"schema"`      // the table's schema (JSON)
	TLS        TLSFiles `json:"tls"`         //
	Peers      []string `json:"peers"`       // certificate files of the other parties (for alignment signatures)
	Workers    int      `json:"workers"`     // goroutines for crypto; 0 = all cores
	MaxQueryS  int      `json:"max_query_s"` // upper bound on one query step; default 300
	LogLevel   string   `json:"log_level"`   // zerolog level; default info
	WitnessKey string   `json:"witness_key"` // this party's ledger cosigning key (note signer key file, 0600)
	LogKey     string   `json:"log_key"`     // the ledger's public key (note verifier key)
	Insecure   bool     `json:"allow_insecure_params"`
	configPath string
}

// LoadConfig reads and validates a JSON config file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	c.configPath = path
	return &c, c.Validate()
}

// Validate checks required fields and fills defaults.
func (c *Config) Validate() error {
	missing := func(f string) error { return fmt.Errorf("%w: %q is required", ErrConfig, f) }
	switch {
	case c.Name == "":
		return missing("name")
	case c.Listen == "":
		return missing("listen")
	case c.DataDir == "":
		return missing("data_dir")
	case c.CSV == "":
		return missing("csv")
	case c.Schema == "":
		return missing("schema")
	case c.TLS.CA == "" || c.TLS.Cert == "" || c.TLS.Key == "":
		return missing("tls.ca, tls.cert and tls.key")
	case c.WitnessKey == "":
		return missing("witness_key")
	case c.LogKey == "":
		return missing("log_key")
	}
	if c.Workers < 0 {
		return fmt.Errorf("%w: workers %d is negative", ErrConfig, c.Workers)
	}
	if c.MaxQueryS == 0 {
		c.MaxQueryS = 300
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	return nil
}

// QueryTimeout is the deadline of one query step.
func (c *Config) QueryTimeout() time.Duration { return time.Duration(c.MaxQueryS) * time.Second }
