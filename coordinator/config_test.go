package coordinator

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/mpcq/mpcq/internal/config"
	"github.com/mpcq/mpcq/mpc"
)

func TestLoadConfig(t *testing.T) {
	key := func(name string) string {
		_, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			t.Fatal(err)
		}
		return vkey
	}
	const parties = `"parties": [{"name": "telecom", "addr": "127.0.0.1:7102"}, {"name": "bank", "addr": "127.0.0.1:7101"}]`
	base := `"consortium": "c", "listen": "127.0.0.1:7000", "data_dir": "state",
		"tls": {"ca": "ca.pem", "cert": "cert.pem", "key": "key.pem"}, ` + parties + `,
		"ledger_key": "ledger.key", "ledger_public_key": "` + key("test-ledger") + `",
		"witnesses": {"bank": "` + key("bank") + `", "telecom": "` + key("telecom") + `"}`
	for _, tc := range []struct {
		name, body string
		is         error
		want       []string
		check      func(t *testing.T, c *Config)
	}{
		{name: "defaults applied", body: `{` + base + `}`, check: func(t *testing.T, c *Config) {
			d := Defaults()
			if c.ParamSet != mpc.DefaultSetName || c.CallTimeout() != 10*time.Second || c.QueryTimeout() != 10*time.Minute ||
				c.SetupTimeout() != 30*time.Minute || c.LedgerOpenTimeout() != time.Minute || c.LedgerAppendTimeout() != 30*time.Second ||
				c.ShutdownTimeout() != 10*time.Second || c.LogLevel != d.LogLevel {
				t.Errorf("defaults not applied: %+v", c)
			}
			if got := strings.Join(c.PartyNames(), ","); got != "bank,telecom" {
				t.Errorf("parties %s, want sorted", got)
			}
		}},
		{name: "values kept", body: `{` + base + `, "call_timeout_s": 3, "query_timeout_s": 4, "setup_timeout_s": 5,
			"ledger_open_timeout_s": 6, "ledger_append_timeout_s": 7, "shutdown_timeout_s": 8, "param_set": "insecure-test-n12",
			"allow_insecure_params": true}`,
			check: func(t *testing.T, c *Config) {
				if c.CallTimeoutS != 3 || c.QueryTimeoutS != 4 || c.SetupTimeoutS != 5 || c.LedgerOpenTimeoutS != 6 ||
					c.LedgerAppendTimeoutS != 7 || c.ShutdownTimeoutS != 8 || c.ParamSet != "insecure-test-n12" {
					t.Errorf("values not kept: %+v", c)
				}
			}},
		{name: "unknown field", body: `{` + base + `, "log_levle": "debug"}`, is: config.ErrUnknownField, want: []string{`"log_levle"`}},
		{name: "missing required", body: `{"consortium": "c", "listen": "127.0.0.1:7000"}`, is: config.ErrRequired,
			want: []string{`"data_dir"`, `"tls.ca"`, `"parties"`, `"ledger_key"`, `"ledger_public_key"`, `"witnesses"`}},
		{name: "insecure not allowed", body: `{` + base + `, "param_set": "insecure-test-n12"}`, want: []string{"allow_insecure_params"}},
		{name: "unknown param set", body: `{` + base + `, "param_set": "bgv-n99"}`, want: []string{"param_set"}},
		{name: "witness missing", body: `{` + strings.Replace(base, `"bank": "bank+`, `"bonk": "bank+`, 1) + `}`, want: []string{"witnesses", "bank"}},
		{name: "negative timeout", body: `{` + base + `, "call_timeout_s": -1}`, want: []string{"call_timeout_s"}},
		{name: "negative memory cap", body: `{` + base + `, "max_query_memory_mb": -1}`, want: []string{"max_query_memory_mb"}},
		{name: "negative queue", body: `{` + base + `, "max_queued_queries": -5}`, want: []string{"max_queued_queries"}},
		{name: "duplicate party", body: `{` + strings.Replace(base, `"telecom", "addr"`, `"bank", "addr"`, 1) + `}`, want: []string{"distinct"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "coordinator.json")
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

func TestWithDefaultsDoesNotChangeTheCaller(t *testing.T) {
	c := Config{Parties: []PartyAddr{{Name: "b"}, {Name: "a"}}}
	d := c.WithDefaults()
	if c.Parties[0].Name != "b" || d.Parties[0].Name != "a" || c.CallTimeoutS != 0 {
		t.Errorf("caller's config changed: %+v", c)
	}
}
