package party

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/mpcq/mpcq/internal/config"
)

func TestLoadConfig(t *testing.T) {
	_, vkey, err := note.GenerateKey(rand.Reader, "test-ledger")
	if err != nil {
		t.Fatal(err)
	}
	base := `"name": "bank", "listen": "127.0.0.1:7101", "data_dir": "state", "csv": "bank.csv",
		"schema": "bank.schema.json", "tls": {"ca": "ca.pem", "cert": "cert.pem", "key": "key.pem"},
		"witness_key": "witness.key", "policy": "policy.json", "ledger_public_key": "` + vkey + `"`
	for _, tc := range []struct {
		name, body string
		is         error
		want       []string
		check      func(t *testing.T, c *Config)
	}{
		{name: "defaults applied", body: `{` + base + `}`, check: func(t *testing.T, c *Config) {
			if c.QueryTimeoutS != 300 || c.QueryTimeout().Seconds() != 300 || c.LogLevel != "info" || c.Workers != 0 || c.AllowInsecure {
				t.Errorf("defaults not applied: %+v", c)
			}
		}},
		{name: "values kept", body: `{` + base + `, "query_timeout_s": 20, "log_level": "debug", "workers": 2, "allow_insecure_params": true}`,
			check: func(t *testing.T, c *Config) {
				if c.QueryTimeoutS != 20 || c.LogLevel != "debug" || c.Workers != 2 || !c.AllowInsecure {
					t.Errorf("values not kept: %+v", c)
				}
			}},
		{name: "encryption pool default", body: `{` + base + `}`, check: func(t *testing.T, c *Config) {
			if c.EncryptionPool() != DefaultEncryptionPoolBlocks {
				t.Errorf("encryption pool %d, want the default %d", c.EncryptionPool(), DefaultEncryptionPoolBlocks)
			}
		}},
		{name: "encryption pool disabled", body: `{` + base + `, "encryption_pool_blocks": 0}`, check: func(t *testing.T, c *Config) {
			if c.EncryptionPool() != 0 {
				t.Errorf("encryption_pool_blocks 0 gives a pool of %d", c.EncryptionPool())
			}
		}},
		{name: "encryption pool set", body: `{` + base + `, "encryption_pool_blocks": 40}`, check: func(t *testing.T, c *Config) {
			if c.EncryptionPool() != 40 {
				t.Errorf("encryption_pool_blocks 40 gives a pool of %d", c.EncryptionPool())
			}
		}},
		{name: "negative encryption pool", body: `{` + base + `, "encryption_pool_blocks": -1}`, want: []string{"encryption_pool_blocks"}},
		{name: "unknown field", body: `{` + base + `, "log_levle": "debug"}`, is: config.ErrUnknownField, want: []string{`"log_levle"`}},
		{name: "old name of query_timeout_s", body: `{` + base + `, "max_query_s": 30}`, is: config.ErrUnknownField, want: []string{`"max_query_s"`}},
		{name: "old name of ledger_public_key", body: `{` + strings.Replace(base, "ledger_public_key", "log_key", 1) + `}`,
			is: config.ErrUnknownField, want: []string{`"log_key"`}},
		{name: "missing required", body: `{"name": "bank", "listen": "127.0.0.1:7101"}`, is: config.ErrRequired,
			want: []string{`"data_dir"`, `"csv"`, `"tls.cert"`, `"witness_key"`, `"ledger_public_key"`}},
		{name: "bad ledger key", body: `{` + strings.Replace(base, vkey, "not-a-key", 1) + `}`, want: []string{"ledger_public_key"}},
		{name: "negative timeout", body: `{` + base + `, "query_timeout_s": -1}`, want: []string{"query_timeout_s"}},
		{name: "negative step cap", body: `{` + base + `, "max_step_memory_mb": -1}`, want: []string{"max_step_memory_mb"}},
		{name: "negative concurrent steps", body: `{` + base + `, "max_concurrent_steps": -2}`, want: []string{"max_concurrent_steps"}},
		{name: "bad log level", body: `{` + base + `, "log_level": "loud"}`, want: []string{"log_level"}},
		{name: "trailing data", body: `{` + base + `}}`, is: config.ErrTrailingData},
		{name: "postgres instead of csv", body: `{` + strings.Replace(base, `"csv": "bank.csv",`, `"postgres": {"conn": "host=db dbname=core",
			"tables": [{"table": "bank", "relation": "core.bank_v", "key": "ref"}]},`, 1) + `}`,
			check: func(t *testing.T, c *Config) {
				rel, err := c.Postgres.Relation("bank")
				if err != nil || rel.Relation != "core.bank_v" || rel.Key != "ref" {
					t.Errorf("relation %+v, %v", rel, err)
				}
				if _, err := c.Postgres.Relation("telecom"); !errors.Is(err, ErrConfig) {
					t.Errorf("missing table: %v", err)
				}
			}},
		{name: "csv and postgres", body: `{` + base + `, "postgres": {"conn": "host=db", "tables": [{"table": "bank", "relation": "bank", "key": "id"}]}}`,
			want: []string{"csv or postgres"}},
		{name: "postgres conn and conn_file", body: `{` + strings.Replace(base, `"csv": "bank.csv",`, `"postgres": {"conn": "host=db", "conn_file": "pg.conn",
			"tables": [{"table": "bank", "relation": "bank", "key": "id"}]},`, 1) + `}`, want: []string{"conn and conn_file"}},
		{name: "postgres table without key", body: `{` + strings.Replace(base, `"csv": "bank.csv",`, `"postgres": {"conn": "host=db",
			"tables": [{"table": "bank", "relation": "bank"}]},`, 1) + `}`, want: []string{"postgres.tables[0]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "party.json")
			if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := LoadConfig(path)
			if tc.check != nil {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error %q does not wrap ErrConfig", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %q", err, tc.is)
			}
			for _, w := range append(tc.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}
