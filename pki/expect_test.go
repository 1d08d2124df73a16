package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// recordingServer is a server configuration that counts the client
// certificates it receives, so a test can tell whether a client showed its
// identity to a server it then refused.
func recordingServer(t *testing.T, certPEM, keyPEM, caPEM []byte, clientCerts *atomic.Int32) *tls.Config {
	t.Helper()
	c := mustServer(t, certPEM, keyPEM, caPEM)
	c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) > 0 {
			clientCerts.Add(1)
		}
		return nil
	}
	return c
}

// TestClientExpectsServerIdentity serves with each role's valid certificate
// and dials with each expectation a client of ours has: only the expected
// server is accepted; every other one is refused in the client's handshake,
// with an error naming both identities, before the client's certificate is
// sent.
func TestClientExpectsServerIdentity(t *testing.T) {
	ca := newTestCA(t)
	servers := []struct {
		role Role
		name string
	}{
		{RoleCoordinator, "coordinator"},
		{RoleParty, "bank"},
		{RoleParty, "telecom"},
		{RoleParty, "bank2"}, // a name that extends an expected one
		{RoleAnalyst, "analyst-alice"},
		{RoleAuditor, "auditor-bob"},
	}
	expectations := []Expect{
		ExpectRole(RoleCoordinator), // mpcq and mpcaudit
		ExpectMember(RoleCoordinator, "coordinator"),
		ExpectMember(RoleParty, "bank"),    // the coordinator dialling bank
		ExpectMember(RoleParty, "telecom"), // ... and telecom
		ExpectRole(RoleParty),
	}
	// The client is an analyst: its certificate is what a wrong server
	// must not see.
	cliCert, cliKey := issue(t, ca, RoleAnalyst, "analyst-carol")
	for _, srv := range servers {
		srvCert, srvKey := issue(t, ca, srv.role, srv.name, "localhost")
		presented := Identity{Role: srv.role, Name: srv.name}.String()
		for _, want := range expectations {
			accept := srv.role == want.Role && (want.Name == "" || want.Name == srv.name)
			t.Run(fmt.Sprintf("server %s/%s, expect %s", srv.role, srv.name, want), func(t *testing.T) {
				var clientCerts atomic.Int32
				server := recordingServer(t, srvCert, srvKey, ca.CertPEM(), &clientCerts)
				_, srvErr, cliErr := handshake(t, server, mustClient(t, cliCert, cliKey, ca.CertPEM(), "localhost", want))
				if accept {
					if srvErr != nil || cliErr != nil {
						t.Fatalf("refused: server: %v, client: %v", srvErr, cliErr)
					}
					if clientCerts.Load() != 1 {
						t.Fatalf("server saw %d client certificates, want 1", clientCerts.Load())
					}
					return
				}
				if !errors.Is(cliErr, ErrWrongIdentity) {
					t.Fatalf("client error %v does not wrap ErrWrongIdentity (server: %v)", cliErr, srvErr)
				}
				wantMsg := fmt.Sprintf("server presented %s, expected %s", presented, want)
				if !strings.Contains(cliErr.Error(), wantMsg) {
					t.Fatalf("client error %q does not say %q", cliErr, wantMsg)
				}
				if srvErr == nil {
					t.Fatal("the server completed the handshake with a client that refused it")
				}
				if n := clientCerts.Load(); n != 0 {
					t.Fatalf("the refused server received the client's certificate (%d)", n)
				}
			})
		}
	}
}

// TestExpectedServerFromAnotherCA presents the expected identity from a
// foreign CA: the chain check refuses it before any identity is compared.
func TestExpectedServerFromAnotherCA(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	cliCert, cliKey := issue(t, ca, RoleAnalyst, "analyst-carol")
	for _, srv := range []struct {
		role Role
		name string
		want Expect
	}{
		{RoleCoordinator, "coordinator", ExpectRole(RoleCoordinator)},
		{RoleParty, "bank", ExpectMember(RoleParty, "bank")},
	} {
		t.Run(string(srv.role)+"/"+srv.name, func(t *testing.T) {
			foreignCert, foreignKey := issue(t, other, srv.role, srv.name, "localhost")
			var clientCerts atomic.Int32
			// The foreign server trusts our CA, so only the client can refuse.
			server := recordingServer(t, foreignCert, foreignKey, ca.CertPEM(), &clientCerts)
			_, _, cliErr := handshake(t, server, mustClient(t, cliCert, cliKey, ca.CertPEM(), "localhost", srv.want))
			var verifyErr *tls.CertificateVerificationError
			if !errors.As(cliErr, &verifyErr) {
				t.Fatalf("client error %v is not a certificate verification error", cliErr)
			}
			if n := clientCerts.Load(); n != 0 {
				t.Fatalf("the foreign server received the client's certificate (%d)", n)
			}
		})
	}
}

// TestWrongServerGetsNoRPC dials, over gRPC, a server with a valid party
// certificate while expecting the coordinator: the call fails with the
// handshake's message and the server's handler never runs.
func TestWrongServerGetsNoRPC(t *testing.T) {
	ca := newTestCA(t)
	srvCert, srvKey := issue(t, ca, RoleParty, "bank", "localhost", "127.0.0.1")
	var calls, clientCerts atomic.Int32
	srvTLS := recordingServer(t, srvCert, srvKey, ca.CertPEM(), &clientCerts)
	count := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		calls.Add(1)
		return h(ctx, req)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(srvTLS)), grpc.UnaryInterceptor(count))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)

	cliCert, cliKey := issue(t, ca, RoleAnalyst, "analyst-carol")
	dial := func(want Expect) error {
		conn, err := grpc.NewClient(ln.Addr().String(),
			grpc.WithTransportCredentials(credentials.NewTLS(mustClient(t, cliCert, cliKey, ca.CertPEM(), "127.0.0.1", want))))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}

	err = dial(ExpectRole(RoleCoordinator))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("call to the wrong server: %v, want Unavailable", err)
	}
	const wantMsg = "server presented mpcq://party/bank, expected the coordinator (mpcq://coordinator/...)"
	if !strings.Contains(err.Error(), wantMsg) {
		t.Fatalf("error %q does not say %q", err, wantMsg)
	}
	if calls.Load() != 0 || clientCerts.Load() != 0 {
		t.Fatalf("the wrong server got %d calls and %d client certificates", calls.Load(), clientCerts.Load())
	}
	// The same server, expected, answers: the refusal above was the check.
	if err := dial(ExpectMember(RoleParty, "bank")); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Fatalf("server got %d calls, want 1", calls.Load())
	}
}

func TestExpectString(t *testing.T) {
	for _, tc := range []struct {
		e    Expect
		want string
	}{
		{ExpectRole(RoleCoordinator), "the coordinator (mpcq://coordinator/...)"},
		{ExpectRole(RoleParty), "a party (mpcq://party/...)"},
		{ExpectRole(RoleAuditor), "an auditor (mpcq://auditor/...)"},
		{ExpectMember(RoleParty, "bank"), "party bank (mpcq://party/bank)"},
	} {
		if got := tc.e.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.e, got, tc.want)
		}
	}
}
