package deploy_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpcq/mpcq/coordinator"
	"github.com/mpcq/mpcq/internal/config"
	"github.com/mpcq/mpcq/party"
)

// unitKeys reads a systemd unit's Key=Value lines (every section).
func unitKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not a Key=Value line: %q", path, line)
		}
		out[k] = append(out[k], v)
	}
	return out
}

// TestSystemdUnits checks the units against the user they run as and the
// example configs: the sysusers file creates the unit's user, the daemon
// is started with its config, every directory the example config writes
// (data_dir) is writable under ProtectSystem=strict, and the hardening
// options are there.
func TestSystemdUnits(t *testing.T) {
	sysusers, err := os.ReadFile(filepath.Join("systemd", "mpcq.sysusers.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var pcfg party.Config
	if err := config.Load("party.example.json", &pcfg); err != nil {
		t.Fatal(err)
	}
	var ccfg coordinator.Config
	if err := config.Load("coordinator.example.json", &ccfg); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		unit, binary, dataDir string
	}{
		{"mpcq-partyd.service", "partyd", pcfg.DataDir},
		{"mpcq-coordinatord.service", "coordinatord", ccfg.DataDir},
	} {
		t.Run(u.unit, func(t *testing.T) {
			k := unitKeys(t, filepath.Join("systemd", u.unit))
			one := func(key string) string {
				if len(k[key]) != 1 {
					t.Fatalf("%s: %d %s lines, want 1", u.unit, len(k[key]), key)
				}
				return k[key][0]
			}
			user := one("User")
			if !strings.Contains(string(sysusers), "u "+user+" ") {
				t.Errorf("the sysusers file does not create user %s", user)
			}
			exec := strings.Fields(one("ExecStart"))
			if len(exec) != 3 || filepath.Base(exec[0]) != u.binary || exec[1] != "--config" {
				t.Errorf("ExecStart %v: want /usr/local/bin/%s --config FILE", exec, u.binary)
			}
			writable := strings.Fields(one("ReadWritePaths"))
			ok := false
			for _, w := range writable {
				ok = ok || u.dataDir == w || strings.HasPrefix(u.dataDir, w+"/")
			}
			if !ok {
				t.Errorf("the example's data_dir %s is not under ReadWritePaths %v", u.dataDir, writable)
			}
			for key, want := range map[string]string{"ProtectSystem": "strict", "NoNewPrivileges": "true", "ProtectHome": "true",
				"PrivateDevices": "true", "CapabilityBoundingSet": "", "UMask": "0077", "StateDirectoryMode": "0700",
				"Type": "notify", "NotifyAccess": "main"} {
				if got := one(key); got != want {
					t.Errorf("%s=%q, want %q", key, got, want)
				}
			}
		})
	}
}
