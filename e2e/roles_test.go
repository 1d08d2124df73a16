package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/internal/analyst"
	"github.com/mpcq/mpcq/internal/auditor"
	"github.com/mpcq/mpcq/internal/demo"
	"github.com/mpcq/mpcq/internal/rpc"
	"github.com/mpcq/mpcq/mpc"
	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// impostor is a real mutual-TLS server holding another member's valid
// certificate. It counts every client certificate it is shown, every gRPC
// call and every HTTP request that reaches it.
type impostor struct {
	Addr                     string
	clientCerts, rpcs, https atomic.Int32
}

func (i *impostor) counts() (certs, rpcs, https int32) {
	return i.clientCerts.Load(), i.rpcs.Load(), i.https.Load()
}

// impostorTLS is the server config of the member whose files are in dir,
// recording the client certificates it receives.
func (i *impostor) tls(t *testing.T, l *demo.Layout, dir string) *tls.Config {
	t.Helper()
	tc, err := pki.LoadServerConfig(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), l.Path("pki", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	tc.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) > 0 {
			i.clientCerts.Add(1)
		}
		return nil
	}
	return tc
}

// startImpostor serves gRPC with register (a coordinator or a party that
// answers Unimplemented to everything) under the certificate in dir.
func startImpostor(t *testing.T, l *demo.Layout, dir string, register func(*grpc.Server)) *impostor {
	t.Helper()
	i := &impostor{}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(i.tls(t, l, dir))),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			i.rpcs.Add(1)
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			i.rpcs.Add(1)
			return h(srv, ss)
		}))
	register(gs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	i.Addr = ln.Addr().String()
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	return i
}

// startImpostorHTTPS serves HTTPS, as the coordinator serves its ledger,
// under the certificate in dir.
func startImpostorHTTPS(t *testing.T, l *demo.Layout, dir string) *impostor {
	t.Helper()
	i := &impostor{}
	srv := &http.Server{TLSConfig: i.tls(t, l, dir), ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			i.https.Add(1)
			http.NotFound(w, nil)
		})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	i.Addr = ln.Addr().String()
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return i
}

// editJSON rewrites a JSON file through edit, keeping its mode.
func editJSON[T any](t *testing.T, path string, edit func(*T)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	edit(&v)
	if b, err = json.MarshalIndent(v, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := pki.WritePublic(path, b); err != nil {
		t.Fatal(err)
	}
}

// runCLI runs one of the built commands and returns its combined output
// and whether it exited 0.
func runCLI(t *testing.T, bin string, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, bin), args...).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return string(out), err == nil
}

// dialAs dials addr with the certificate in dir, expecting want.
func dialAs(t *testing.T, l *demo.Layout, dir, addr string, want pki.Expect) *grpc.ClientConn {
	t.Helper()
	tc, err := pki.LoadClientConfig(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), l.Path("pki", "ca.pem"), "127.0.0.1", want)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := rpc.Dial(addr, tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestRoles checks that every client checks its server's role, with the
// real binaries: mpcq and mpcaudit refuse a server holding the bank's
// valid certificate where the coordinator should be, and the coordinator
// refuses telecom's certificate at bank's address, in each case before
// sending a request or its own certificate. Then it probes the real
// daemons' role checks on every service.
func TestRoles(t *testing.T) {
	l, err := demo.Setup(t.TempDir(), demo.Options{People: 300, Seed: 7, ParamSet: mpc.DefaultSetName, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	coordExpect := "expected the coordinator (mpcq://coordinator/...)"

	t.Run("analyst and auditor refuse a party posing as the coordinator", func(t *testing.T) {
		bankDir := l.Path("parties", "bank")
		fake := startImpostor(t, l, bankDir, func(gs *grpc.Server) { pb.RegisterCoordinatorServer(gs, pb.UnimplementedCoordinatorServer{}) })
		fakeLedger := startImpostorHTTPS(t, l, bankDir)
		analystProfile, auditorProfile := filepath.Join(l.AnalystDir(), analyst.ProfileFile), filepath.Join(l.AuditorDir(), "profile.json")
		for _, f := range []string{analystProfile, auditorProfile} {
			orig, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = pki.WritePublic(f, orig) })
		}
		editJSON(t, analystProfile, func(c *analyst.ProfileConfig) { c.Coordinator = fake.Addr })
		editJSON(t, auditorProfile, func(c *auditor.ProfileConfig) {
			c.Coordinator, c.Ledger.URL = fake.Addr, "https://"+fakeLedger.Addr+"/"
		})

		for _, run := range []struct {
			bin  string
			args []string
		}{
			{"mpcq", []string{"--profile", l.AnalystDir(), "status"}},
			{"mpcq", []string{"--profile", l.AnalystDir(), "schema"}},
			{"mpcaudit", []string{"--profile", l.AuditorDir(), "verify"}},                 // the archive, over gRPC
			{"mpcaudit", []string{"--profile", l.AuditorDir(), "verify", "--no-archive"}}, // the ledger, over HTTPS
		} {
			out, ok := runCLI(t, run.bin, run.args...)
			t.Logf("%s %s:\n%s", run.bin, strings.Join(run.args[2:], " "), out)
			if ok {
				t.Errorf("%s %v succeeded against the impostor", run.bin, run.args[2:])
			}
			if want := "server presented mpcq://party/bank, " + coordExpect; !strings.Contains(out, want) {
				t.Errorf("%s %v does not say %q", run.bin, run.args[2:], want)
			}
		}
		for name, i := range map[string]*impostor{"gRPC": fake, "ledger HTTPS": fakeLedger} {
			if certs, rpcs, https := i.counts(); certs+rpcs+https != 0 {
				t.Errorf("the %s impostor saw %d client certificates, %d RPCs, %d HTTP requests; want none", name, certs, rpcs, https)
			}
		}
		// The impostor does count: a client that expects the bank reaches it.
		conn := dialAs(t, l, l.AnalystDir(), fake.Addr, pki.ExpectMember(pki.RoleParty, "bank"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pb.NewCoordinatorClient(conn).Status(ctx, &pb.StatusRequest{}); status.Code(err) != codes.Unimplemented {
			t.Fatalf("call to the impostor as the bank: %v, want Unimplemented", err)
		}
		if certs, rpcs, _ := fake.counts(); certs != 1 || rpcs != 1 {
			t.Fatalf("the impostor saw %d client certificates and %d RPCs, want 1 and 1", certs, rpcs)
		}
	})

	t.Run("the coordinator refuses telecom at bank's address", func(t *testing.T) {
		fake := startImpostor(t, l, l.Path("parties", "telecom"), func(gs *grpc.Server) { pb.RegisterPartyServer(gs, pb.UnimplementedPartyServer{}) })
		editJSON(t, l.CoordinatorConfig(), func(c *map[string]any) {
			for _, p := range (*c)["parties"].([]any) {
				if p := p.(map[string]any); p["name"] == "bank" {
					p["addr"] = fake.Addr
				}
			}
		})
		cl := newCluster(t, l)
		for _, p := range []string{"telecom", "utility"} {
			if err := cl.StartParty(p); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.StartCoordinator(); err != nil {
			t.Fatal(err)
		}
		const want = "server presented mpcq://party/telecom, expected party bank (mpcq://party/bank)"
		deadline := time.Now().Add(90 * time.Second)
		var out, log string
		for {
			var ok bool
			out, ok = runCLI(t, "mpcq", "--profile", l.AnalystDir(), "status")
			if ok {
				t.Fatalf("mpcq status says ready with an impostor as bank:\n%s", out)
			}
			b, _ := os.ReadFile(l.Path("logs", "coordinator.log"))
			log = string(b)
			bankLine := ""
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "party bank ") {
					bankLine = line
				}
			}
			if strings.Contains(bankLine, "DOWN") && strings.Contains(bankLine, want) && strings.Contains(log, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("mpcq status and the coordinator's log do not say %q:\n%s\n--- coordinator log\n%s", want, out, log)
			}
			time.Sleep(2 * time.Second)
		}
		t.Logf("mpcq status:\n%s", out)
		if certs, rpcs, _ := fake.counts(); certs+rpcs != 0 {
			t.Fatalf("the impostor at bank's address saw %d client certificates and %d RPCs; want none", certs, rpcs)
		}

		// The real daemons admit only their roles, on every service.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		coord := pki.ExpectRole(pki.RoleCoordinator)
		telecom := pki.ExpectMember(pki.RoleParty, "telecom")
		for _, who := range []string{l.AnalystDir(), l.AuditorDir(), l.Path("parties", "utility")} {
			_, err := pb.NewPartyClient(dialAs(t, l, who, l.PartyAddrs["telecom"], telecom)).Status(ctx, &pb.PartyStatusRequest{})
			if status.Code(err) != codes.PermissionDenied {
				t.Errorf("%s calling party telecom: %v, want PermissionDenied", filepath.Base(who), err)
			}
		}
		if _, err := pb.NewPartyClient(dialAs(t, l, l.Path("coordinator"), l.PartyAddrs["telecom"], telecom)).Status(ctx, &pb.PartyStatusRequest{}); err != nil {
			t.Errorf("the coordinator calling party telecom: %v", err)
		}
		for _, who := range []string{l.Path("parties", "telecom"), l.Path("coordinator")} {
			_, err := pb.NewCoordinatorClient(dialAs(t, l, who, l.CoordinatorAddr, coord)).Status(ctx, &pb.StatusRequest{})
			if status.Code(err) != codes.PermissionDenied {
				t.Errorf("%s calling the coordinator: %v, want PermissionDenied", filepath.Base(who), err)
			}
		}
		asAnalyst := pb.NewCoordinatorClient(dialAs(t, l, l.AnalystDir(), l.CoordinatorAddr, coord))
		if _, err := asAnalyst.Archive(ctx, &pb.ArchiveRequest{}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("the analyst reading the archive: %v, want PermissionDenied", err)
		}
		asAuditor := pb.NewCoordinatorClient(dialAs(t, l, l.AuditorDir(), l.CoordinatorAddr, coord))
		stream, err := asAuditor.Query(ctx, &pb.QueryRequest{Sql: "SELECT COUNT(*) FROM telecom", Purpose: "test", LegalBasis: "TEST-1"})
		if err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("the auditor submitting a query: %v, want PermissionDenied", err)
		}
		for who, code := range map[string]int{l.AnalystDir(): http.StatusForbidden, l.Path("parties", "telecom"): http.StatusForbidden, l.AuditorDir(): 0} {
			got := ledgerGet(t, l, who)
			if (code != 0 && got != code) || (code == 0 && got == http.StatusForbidden) {
				t.Errorf("%s reading the ledger over HTTPS: status %d", filepath.Base(who), got)
			}
		}
	})
}

// ledgerGet fetches the ledger's checkpoint from the coordinator with the
// certificate in dir and returns the HTTP status.
func ledgerGet(t *testing.T, l *demo.Layout, dir string) int {
	t.Helper()
	tc, err := pki.LoadClientConfig(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), l.Path("pki", "ca.pem"), "127.0.0.1", pki.ExpectRole(pki.RoleCoordinator))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://" + l.LedgerAddr + "/checkpoint")
	if err != nil {
		t.Fatalf("ledger GET: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
