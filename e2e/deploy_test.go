package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/mpcq/mpcq/coordinator"
	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/config"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/freeport"
	"github.com/mpcq/mpcq/internal/gen"
	"github.com/mpcq/mpcq/party"
	"github.com/mpcq/mpcq/pki"
)

// TestHelpPointsToTheReference: --help exits 0 and names docs/config.md.
func TestHelpPointsToTheReference(t *testing.T) {
	for _, bin := range []string{"partyd", "coordinatord"} {
		out, err := exec.Command(filepath.Join(binDir, bin), "--help").CombinedOutput()
		if err != nil {
			t.Errorf("%s --help: %v\n%s", bin, err, out)
		}
		if !strings.Contains(string(out), "docs/config.md") {
			t.Errorf("%s --help does not mention docs/config.md:\n%s", bin, out)
		}
	}
}

// TestDeployExamples renders deploy/party.example.json (once per party
// of the coordinator's example) and deploy/coordinator.example.json with
// fresh certificates and keys: the /etc/mpcq, /var/lib/mpcq and /srv/mpcq
// paths move into a temp dir, listen addresses become free loopback
// ports and the example keys are replaced by generated ones; every other
// field is as the examples say (the secure parameter set included). The
// daemons start from the rendered files and the test waits until the
// coordinator reports the consortium ready.
func TestDeployExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a key ceremony and an alignment with the secure parameters")
	}
	dir := t.TempDir()
	roots := map[string]string{
		"/etc/mpcq/":     filepath.Join(dir, "etc") + "/",
		"/var/lib/mpcq/": filepath.Join(dir, "var") + "/",
		"/srv/mpcq/":     filepath.Join(dir, "srv") + "/",
	}
	rebase := func(p string) string {
		t.Helper()
		for from, to := range roots {
			if strings.HasPrefix(p, from) {
				return to + strings.TrimPrefix(p, from)
			}
		}
		t.Fatalf("example path %q is not under /etc/mpcq, /var/lib/mpcq or /srv/mpcq", p)
		return ""
	}
	write := func(path string, data []byte, private bool) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		f := pki.WritePublic
		if private {
			f = pki.WritePrivate
		}
		if err := f(path, data); err != nil {
			t.Fatal(err)
		}
	}
	writeJSON := func(path string, v any) {
		t.Helper()
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		write(path, append(b, '\n'), false)
	}

	// The examples, read with the daemons' strict loader and no defaults
	// added: what is rendered is what the examples say.
	var pex party.Config
	if err := config.Load("../deploy/party.example.json", &pex); err != nil {
		t.Fatal(err)
	}
	var cex coordinator.Config
	if err := config.Load("../deploy/coordinator.example.json", &cex); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range cex.Parties {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	if !slices.Contains(names, pex.Name) || len(pex.Peers) == 0 {
		t.Fatalf("party example %s with peers %v does not fit the coordinator example's parties %v", pex.Name, pex.Peers, names)
	}
	l := &demo.Layout{Dir: dir, Parties: names, PartyAddrs: map[string]string{}}

	// Keys and certificates, as internal/demo does it.
	now := time.Now()
	ca, err := pki.NewCA("mpcq deploy-test CA", now, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	write(rebase(pex.TLS.CA), ca.CertPEM(), false)
	if cex.TLS.CA != pex.TLS.CA {
		write(rebase(cex.TLS.CA), ca.CertPEM(), false)
	}
	issue := func(role pki.Role, name, certPath, keyPath string) []byte {
		t.Helper()
		cert, key, err := ca.Issue(role, name, []string{"localhost", "127.0.0.1"}, now, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		write(certPath, cert, false)
		write(keyPath, key, true)
		return cert
	}
	newKey := func(name string) (skey, vkey string) {
		t.Helper()
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			t.Fatal(err)
		}
		return skey, vkey
	}
	logSKey, logVKey := newKey(strings.SplitN(cex.LedgerPublicKey, "+", 2)[0])
	data := filepath.Join(dir, "generated")
	if _, err := gen.WriteDir(data, 300, 5); err != nil {
		t.Fatal(err)
	}
	copyFile := func(from, to string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		write(to, b, false)
	}

	// The parties: the example's name in its paths becomes each party's.
	certs := map[string][]byte{}
	witnesses := map[string]string{}
	cfgs := map[string]party.Config{}
	for _, name := range names {
		own := func(p string) string {
			return rebase(strings.ReplaceAll(p, "/"+pex.Name, "/"+name))
		}
		c := pex
		c.Name = name
		c.DataDir, c.CSV, c.Schema, c.WitnessKey = own(pex.DataDir), own(pex.CSV), own(pex.Schema), own(pex.WitnessKey)
		c.Policy = own(pex.Policy)
		write(c.Policy, demo.Policy(name), false)
		c.RevocationsDir = own(pex.RevocationsDir)
		if err := os.MkdirAll(c.RevocationsDir, 0o700); err != nil {
			t.Fatal(err)
		}
		c.TLS = party.TLSFiles{CA: rebase(pex.TLS.CA), Cert: own(pex.TLS.Cert), Key: own(pex.TLS.Key)}
		c.Peers = nil
		for _, other := range names {
			if other != name {
				c.Peers = append(c.Peers, rebase(filepath.Join(filepath.Dir(pex.Peers[0]), other+".pem")))
			}
		}
		c.Listen = freeAddr(t)
		if pex.MetricsListen != "" {
			c.MetricsListen = freeAddr(t)
		}
		if pex.HealthListen != "" {
			c.HealthListen = freeAddr(t)
		}
		c.LedgerPublicKey = logVKey
		l.PartyAddrs[name] = c.Listen
		certs[name] = issue(pki.RoleParty, name, c.TLS.Cert, c.TLS.Key)
		skey, vkey := newKey(name)
		write(c.WitnessKey, []byte(skey), true)
		witnesses[name] = vkey
		copyFile(filepath.Join(data, name+".csv"), c.CSV)
		copyFile(filepath.Join(data, name+".schema.json"), c.Schema)
		cfgs[name] = c
	}
	for _, name := range names {
		c := cfgs[name]
		for _, peer := range c.Peers {
			write(peer, certs[strings.TrimSuffix(filepath.Base(peer), ".pem")], false)
		}
		writeJSON(l.PartyConfig(name), c)
	}

	// The coordinator.
	cc := cex
	cc.DataDir = rebase(cex.DataDir)
	cc.TLS = coordinator.TLSFiles{CA: rebase(cex.TLS.CA), Cert: rebase(cex.TLS.Cert), Key: rebase(cex.TLS.Key)}
	issue(pki.RoleCoordinator, "coordinator", cc.TLS.Cert, cc.TLS.Key)
	cc.Listen = freeAddr(t)
	l.CoordinatorAddr = cc.Listen
	if cex.MetricsListen != "" {
		cc.MetricsListen = freeAddr(t)
	}
	if cex.HealthListen != "" {
		cc.HealthListen = freeAddr(t)
	}
	if cex.LedgerListen != "" {
		cc.LedgerListen = freeAddr(t)
		l.LedgerAddr = cc.LedgerListen
	}
	cc.LedgerKey = rebase(cex.LedgerKey)
	write(cc.LedgerKey, []byte(logSKey), true)
	cc.LedgerPublicKey = logVKey
	cc.Witnesses = witnesses
	cc.Parties = nil
	for _, p := range cex.Parties {
		cc.Parties = append(cc.Parties, coordinator.PartyAddr{Name: p.Name, Addr: l.PartyAddrs[p.Name]})
	}
	writeJSON(l.CoordinatorConfig(), cc)

	// Both rendered files pass the daemons' own loaders.
	for _, name := range names {
		if _, err := party.LoadConfig(l.PartyConfig(name)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := coordinator.LoadConfig(l.CoordinatorConfig()); err != nil {
		t.Fatal(err)
	}

	// An analyst to ask the coordinator for its status.
	acert, akey, err := ca.Issue(pki.RoleAnalyst, "analyst-deploy-test", nil, now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := analyst.WriteProfile(l.AnalystDir(), analyst.ProfileConfig{Coordinator: cc.Listen, ParamSet: cc.ParamSet},
		ca.CertPEM(), acert, akey); err != nil {
		t.Fatal(err)
	}

	cl := newCluster(t, l)
	if err := cl.StartAll(); err != nil {
		t.Fatal(err)
	}
	_, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	if _, err := demo.WaitReady(ctx, client, func(s string) { t.Log(s) }); err != nil {
		t.Fatal(err)
	}
	st := coordinatorStatus(t, client)
	if st.ParamSet != cex.ParamSet || len(st.Parties) != len(names) {
		t.Errorf("status: param set %s, %d parties; the example says %s, %d", st.ParamSet, len(st.Parties), cex.ParamSet, len(names))
	}
	for _, p := range st.Parties {
		if !p.Up {
			t.Errorf("party %s not up: %s", p.Name, p.Error)
		}
	}
}

// freeAddr is a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}
