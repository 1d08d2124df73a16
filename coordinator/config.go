// Package coordinator is the coordinator daemon: it holds no secret key
// material. It runs the key ceremony and record alignment across the
// parties, takes analysts' SQL, plans it, drives the chain of party steps,
// aggregates the result homomorphically, collects every party's decryption
// share and returns the result encrypted to the analyst's key.
package coordinator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/mpcq/mpcq/mpc"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid coordinator configuration")

// PartyAddr names a party and where it listens.
type PartyAddr struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

// TLSFiles names the PEM files of the coordinator's mutual-TLS identity.
type TLSFiles struct {
	CA   string `json:"ca"`
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// Config is coordinatord's configuration file.
type Config struct {
	Consortium string      `json:"consortium"` // consortium identifier, part of the ceremony transcript
	Listen     string      `json:"listen"`
	DataDir    string      `json:"data_dir"`
	ParamSet   string      `json:"param_set"`
	TLS        TLSFiles    `json:"tls"`
	Parties    []PartyAddr `json:"parties"`
	// CallTimeoutS bounds short calls to a party (status, nonce, shares).
	CallTimeoutS int `json:"call_timeout_s"`
	// QueryTimeoutS bounds a whole query.
	QueryTimeoutS int `json:"query_timeout_s"`
	// SetupTimeoutS bounds one ceremony or alignment run.
	SetupTimeoutS int    `json:"setup_timeout_s"`
	Workers       int    `json:"workers"`
	LogLevel      string `json:"log_level"`
	AllowInsecure bool   `json:"allow_insecure_params"`
	// LedgerKey is the ledger's signing key (note signer key file, 0600);
	// LedgerPublicKey its verifier key.
	LedgerKey       string `json:"ledger_key"`
	LedgerPublicKey string `json:"ledger_public_key"`
	// Witnesses maps each party to its cosigning verifier key.
	Witnesses map[string]string `json:"witnesses"`
	// LedgerListen, when set, serves the log read-only to auditors (HTTPS,
	// mutual TLS, tlog-tiles layout).
	LedgerListen string `json:"ledger_listen"`
}

// LoadConfig reads and validates a JSON config file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	return &c, c.Validate()
}

// Validate checks required fields and fills defaults.
func (c *Config) Validate() error {
	missing := func(f string) error { return fmt.Errorf("%w: %q is required", ErrConfig, f) }
	switch {
	case c.Consortium == "":
		return missing("consortium")
	case c.Listen == "":
		return missing("listen")
	case c.DataDir == "":
		return missing("data_dir")
	case c.TLS.CA == "" || c.TLS.Cert == "" || c.TLS.Key == "":
		return missing("tls.ca, tls.cert and tls.key")
	case len(c.Parties) == 0:
		return missing("parties")
	case c.LedgerKey == "" || c.LedgerPublicKey == "":
		return missing("ledger_key and ledger_public_key")
	}
	if c.ParamSet == "" {
		c.ParamSet = mpc.DefaultSetName
	}
	set, err := mpc.LookupSet(c.ParamSet)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if set.Insecure && !c.AllowInsecure {
		return fmt.Errorf("%w: parameter set %s is insecure (tests only); set allow_insecure_params to use it", ErrConfig, set.Name)
	}
	if len(c.Parties) > mpc.MaxChain {
		return fmt.Errorf("%w: %d parties; this version supports up to %d", ErrConfig, len(c.Parties), mpc.MaxChain)
	}
	seen := map[string]bool{}
	for _, p := range c.Parties {
		if p.Name == "" || p.Addr == "" || seen[p.Name] {
			return fmt.Errorf("%w: every party needs a distinct name and an addr", ErrConfig)
		}
		seen[p.Name] = true
	}
	sort.Slice(c.Parties, func(i, j int) bool { return c.Parties[i].Name < c.Parties[j].Name })
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.CallTimeoutS, 60)
	def(&c.QueryTimeoutS, 600)
	def(&c.SetupTimeoutS, 1800)
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	return nil
}

func (c *Config) CallTimeout() time.Duration  { return time.Duration(c.CallTimeoutS) * time.Second }
func (c *Config) QueryTimeout() time.Duration { return time.Duration(c.QueryTimeoutS) * time.Second }
func (c *Config) SetupTimeout() time.Duration { return time.Duration(c.SetupTimeoutS) * time.Second }

// PartyNames lists the configured parties, sorted.
func (c *Config) PartyNames() []string {
	out := make([]string, len(c.Parties))
	for i, p := range c.Parties {
		out[i] = p.Name
	}
	return out
}
