// Package e2e runs the real daemons as separate processes over mutual TLS
// on loopback and checks encrypted answers against a plaintext oracle,
// hostile input and faults.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// binDir holds partyd and coordinatord, built once for the package.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mpcq-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	cmd := exec.Command("go", "build", "-o", dir+"/", "../cmd/partyd", "../cmd/coordinatord", "../cmd/mpcq", "../cmd/mpcaudit", "../cmd/mpcwarrant", "../cmd/mpcadm")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building daemons:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const testPeople = 3000

// startCluster sets up a consortium in a temp dir with the secure default
// parameters and starts all daemons; it is stopped at the end of the test.
func startCluster(t *testing.T, people int) (*demo.Layout, *demo.Cluster) {
	t.Helper()
	dir := t.TempDir()
	l, err := demo.Setup(dir, demo.Options{People: people, Seed: 7, ParamSet: mpc.DefaultSetName, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	cl := newCluster(t, l)
	if err := cl.StartAll(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, l)
	return l, cl
}

// newCluster returns a cluster of l's daemons, none started yet, stopped at
// the end of the test (with their logs dumped if it failed).
func newCluster(t *testing.T, l *demo.Layout) *demo.Cluster {
	t.Helper()
	cl := demo.NewCluster(l, binDir)
	t.Cleanup(func() {
		cl.Stop()
		if t.Failed() {
			dumpLogs(t, l)
		}
	})
	return cl
}

func waitReady(t *testing.T, l *demo.Layout) {
	t.Helper()
	_, client, closeFn, err := l.Analyst()
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := demo.WaitReady(ctx, client, func(s string) { t.Log(s) }); err != nil {
		t.Fatal(err)
	}
}

func dumpLogs(t *testing.T, l *demo.Layout) {
	files, _ := filepath.Glob(l.Path("logs", "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		t.Logf("--- %s (tail)\n%s", f, b)
	}
}

func coordinatorStatus(t *testing.T, client pb.CoordinatorClient) *pb.ConsortiumStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := client.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		t.Fatalf("coordinator status: %v", err)
	}
	return st
}

// coordinatorAs is a client of the coordinator holding the certificate
// and key in dir (a profile's or a daemon's directory), checking that the
// server is the coordinator; closed at the end of the test.
func coordinatorAs(t *testing.T, l *demo.Layout, dir string) pb.CoordinatorClient {
	t.Helper()
	tc, err := pki.LoadClientConfig(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), l.Path("pki", "ca.pem"), "127.0.0.1", pki.ExpectRole(pki.RoleCoordinator))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := rpc.Dial(l.CoordinatorAddr, tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewCoordinatorClient(conn)
}
