// Package deploy_test checks the deployment files against the daemons:
// every config embedded in the Kubernetes manifests (deploy/k8s) and the
// compose file (deploy/compose.yaml) decodes strictly into the daemon's
// config type and validates; every file a config names is mounted; the
// probes call the health port the config serves; the container ports
// are the config's.
package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mpcq/mpcq/coordinator"
	"github.com/mpcq/mpcq/internal/config"
	"github.com/mpcq/mpcq/party"
)

// daemonConfig is a config decoded strictly into its daemon's type, with
// what the checks need.
type daemonConfig struct {
	files   []string       // every path the config names
	ports   map[string]int // listen, health_listen, metrics_listen, ledger_listen → port
	dataDir string
}

// decodeConfig decodes a daemon's JSON config strictly and validates it.
func decodeConfig(t *testing.T, name, daemon string, b []byte) daemonConfig {
	t.Helper()
	port := func(addr string) int {
		if addr == "" {
			return 0
		}
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("%s: address %q: %v", name, addr, err)
		}
		n, _ := strconv.Atoi(p)
		return n
	}
	switch daemon {
	case "partyd":
		var c party.Config
		if err := config.Decode(name, b, &c); err != nil {
			t.Fatal(err)
		}
		c = c.WithDefaults()
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return daemonConfig{files: append([]string{c.CSV, c.Schema, c.Policy, c.TLS.CA, c.TLS.Cert, c.TLS.Key, c.WitnessKey}, c.Peers...),
			ports:   map[string]int{"listen": port(c.Listen), "health_listen": port(c.HealthListen), "metrics_listen": port(c.MetricsListen)},
			dataDir: c.DataDir}
	case "coordinatord":
		var c coordinator.Config
		if err := config.Decode(name, b, &c); err != nil {
			t.Fatal(err)
		}
		c = c.WithDefaults()
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return daemonConfig{files: []string{c.TLS.CA, c.TLS.Cert, c.TLS.Key, c.LedgerKey},
			ports: map[string]int{"listen": port(c.Listen), "health_listen": port(c.HealthListen), "metrics_listen": port(c.MetricsListen),
				"ledger_listen": port(c.LedgerListen)},
			dataDir: c.DataDir}
	}
	t.Fatalf("%s: unknown daemon %q", name, daemon)
	return daemonConfig{}
}

// docs reads every YAML document of a file.
func docs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			out = append(out, d)
		}
	}
}

// get walks a decoded YAML value by map keys and list indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string { s, _ := v.(string); return s }

// under reports whether path is dir or inside it.
func under(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// TestKubernetesManifests: each StatefulSet runs a daemon whose config
// (from a ConfigMap) decodes strictly and validates; every file the
// config names is in a mounted ConfigMap or Secret key or on a mounted
// volume; data_dir is on a volume claim; the gRPC probes call the
// config's health_listen port; the container ports are the config's.
func TestKubernetesManifests(t *testing.T) {
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	byKind := map[string]map[string]map[string]any{}
	for _, f := range files {
		for _, d := range docs(t, f) {
			kind, name := str(d["kind"]), str(get(d, "metadata", "name"))
			if byKind[kind] == nil {
				byKind[kind] = map[string]map[string]any{}
			}
			if _, dup := byKind[kind][name]; dup {
				t.Errorf("%s %s defined twice", kind, name)
			}
			byKind[kind][name] = d
		}
	}
	if len(byKind["StatefulSet"]) != 4 {
		t.Errorf("%d StatefulSets, want the coordinator and three parties", len(byKind["StatefulSet"]))
	}
	for name, ss := range byKind["StatefulSet"] {
		t.Run(name, func(t *testing.T) {
			spec := get(ss, "spec", "template", "spec")
			c := get(spec, "containers", 0)
			cmd, _ := get(c, "command").([]any)
			if len(cmd) != 3 || str(cmd[1]) != "--config" {
				t.Fatalf("command %v: want [daemon --config FILE]", cmd)
			}
			daemon, cfgPath := filepath.Base(str(cmd[0])), str(cmd[2])
			// The volumes and what each mount provides.
			volumes := map[string]any{}
			for _, v := range get(spec, "volumes").([]any) {
				volumes[str(get(v, "name"))] = v
			}
			for _, v := range get(ss, "spec", "volumeClaimTemplates").([]any) {
				volumes[str(get(v, "metadata", "name"))] = "claim"
			}
			type mount struct {
				path string
				keys []string // nil: any file (a volume claim)
			}
			var mounts []mount
			for _, m := range get(c, "volumeMounts").([]any) {
				vol, ok := volumes[str(get(m, "name"))]
				if !ok {
					t.Errorf("mount of undefined volume %v", get(m, "name"))
					continue
				}
				mt := mount{path: str(get(m, "mountPath"))}
				var data map[string]any
				switch {
				case get(vol, "configMap") != nil:
					cm := byKind["ConfigMap"][str(get(vol, "configMap", "name"))]
					if cm == nil {
						t.Errorf("ConfigMap %v not defined", get(vol, "configMap", "name"))
					}
					data, _ = cm["data"].(map[string]any)
				case get(vol, "secret") != nil:
					sec := byKind["Secret"][str(get(vol, "secret", "secretName"))]
					if sec == nil {
						t.Errorf("Secret %v not defined", get(vol, "secret", "secretName"))
					}
					data, _ = sec["stringData"].(map[string]any)
					if mode, _ := get(vol, "secret", "defaultMode").(int); mode&0o077 != 0 {
						t.Errorf("secret volume mode %04o: the daemons refuse keys others can read", mode)
					}
				}
				if data != nil {
					mt.keys = []string{}
					for k := range data {
						mt.keys = append(mt.keys, k)
					}
				}
				mounts = append(mounts, mt)
			}
			provided := func(path string) (string, bool) {
				for _, m := range mounts {
					if !under(path, m.path) {
						continue
					}
					if m.keys == nil {
						return "", true
					}
					rel, _ := filepath.Rel(m.path, path)
					if slices.Contains(m.keys, rel) {
						return m.path, true
					}
				}
				return "", false
			}
			// The config itself, from its ConfigMap.
			if _, ok := provided(cfgPath); !ok {
				t.Fatalf("config %s is not mounted", cfgPath)
			}
			var cfgJSON string
			for _, m := range get(c, "volumeMounts").([]any) {
				if under(cfgPath, str(get(m, "mountPath"))) {
					vol := volumes[str(get(m, "name"))]
					cm := byKind["ConfigMap"][str(get(vol, "configMap", "name"))]
					cfgJSON = str(get(cm, "data", filepath.Base(cfgPath)))
				}
			}
			cfg := decodeConfig(t, name+" "+cfgPath, daemon, []byte(cfgJSON))
			for _, f := range cfg.files {
				if _, ok := provided(f); !ok {
					t.Errorf("%s names %s, which no mount provides", cfgPath, f)
				}
			}
			dataOnClaim := false
			for _, m := range get(c, "volumeMounts").([]any) {
				if volumes[str(get(m, "name"))] == "claim" && under(cfg.dataDir, str(get(m, "mountPath"))) {
					dataOnClaim = true
				}
			}
			if !dataOnClaim {
				t.Errorf("data_dir %s is not on a persistent volume claim", cfg.dataDir)
			}
			// Ports and probes.
			ports := map[int]bool{}
			for _, p := range get(c, "ports").([]any) {
				n, _ := get(p, "containerPort").(int)
				ports[n] = true
			}
			for field, p := range cfg.ports {
				if p != 0 && !ports[p] {
					t.Errorf("%s port %d is not a container port %v", field, p, ports)
				}
			}
			health := cfg.ports["health_listen"]
			if health == 0 {
				t.Fatal("no health_listen: Kubernetes' gRPC probes cannot present a client certificate")
			}
			for _, probe := range []string{"startupProbe", "readinessProbe", "livenessProbe"} {
				if p, _ := get(c, probe, "grpc", "port").(int); p != health {
					t.Errorf("%s: gRPC port %v, want health_listen's %d", probe, get(c, probe), health)
				}
			}
			if r, _ := get(ss, "spec", "replicas").(int); r != 1 {
				t.Errorf("replicas %d: one party holds one key share, the ledger has one writer", r)
			}
		})
	}
}

// TestCompose: every service's config (a compose config with inline
// content) decodes strictly and validates, and every file it names is
// a secret, a config or on a volume of that service.
func TestCompose(t *testing.T) {
	d := docs(t, "compose.yaml")
	if len(d) != 1 {
		t.Fatalf("%d documents", len(d))
	}
	services, _ := d[0]["services"].(map[string]any)
	if len(services) != 4 {
		t.Errorf("%d services, want the coordinator and three parties", len(services))
	}
	for name, svc := range services {
		t.Run(name, func(t *testing.T) {
			cmd, _ := get(svc, "command").([]any)
			if len(cmd) != 3 || str(cmd[1]) != "--config" {
				t.Fatalf("command %v", cmd)
			}
			var targets, dirs []string
			var cfgJSON string
			for _, c := range get(svc, "configs").([]any) {
				targets = append(targets, str(get(c, "target")))
				if str(get(c, "target")) == str(cmd[2]) {
					cfgJSON = str(get(d[0], "configs", str(get(c, "source")), "content"))
				}
			}
			for _, s := range get(svc, "secrets").([]any) {
				if get(d[0], "secrets", str(get(s, "source"))) == nil {
					t.Errorf("secret %v not defined", get(s, "source"))
				}
				targets = append(targets, str(get(s, "target")))
			}
			for _, v := range get(svc, "volumes").([]any) {
				parts := strings.Split(str(v), ":")
				dirs = append(dirs, parts[1])
			}
			if cfgJSON == "" {
				t.Fatalf("no inline config at %v", cmd[2])
			}
			cfg := decodeConfig(t, name, filepath.Base(str(cmd[0])), []byte(cfgJSON))
			for _, f := range append(cfg.files, cfg.dataDir) {
				ok := slices.Contains(targets, f)
				for _, dir := range dirs {
					ok = ok || under(f, dir)
				}
				if !ok {
					t.Errorf("config names %s, which no secret, config or volume provides", f)
				}
			}
		})
	}
}
