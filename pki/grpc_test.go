package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// TestGRPCRoles runs a real gRPC server with mutual TLS whose interceptor
// admits only analysts and auditors, the way the coordinator's handlers map
// pki errors to gRPC codes.
func TestGRPCRoles(t *testing.T) {
	ca := newTestCA(t)
	srvCert, srvKey := issue(t, ca, RoleCoordinator, "coordinator", "localhost", "127.0.0.1")
	srvTLS := mustServer(t, srvCert, srvKey, ca.CertPEM())

	seen := make(chan Identity, 10)
	interceptor := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		id, err := RequireRole(ctx, RoleAnalyst, RoleAuditor)
		switch {
		case errors.Is(err, ErrForbidden):
			return nil, status.Error(codes.PermissionDenied, err.Error())
		case err != nil:
			return nil, status.Error(codes.Unauthenticated, err.Error())
		}
		seen <- id
		return handler(ctx, req)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(srvTLS)), grpc.UnaryInterceptor(interceptor))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)

	call := func(t *testing.T, role Role, name string) (Identity, error) {
		t.Helper()
		certPEM, keyPEM := issue(t, ca, role, name)
		cfg := mustClient(t, certPEM, keyPEM, ca.CertPEM(), "localhost", ExpectMember(RoleCoordinator, "coordinator"))
		conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var p peer.Peer
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p))
		if err != nil {
			return Identity{}, err
		}
		// The client side can name its server too.
		srvID, err := PeerIdentity(peer.NewContext(ctx, &p))
		if err != nil {
			t.Fatalf("client side PeerIdentity: %v", err)
		}
		if srvID.Role != RoleCoordinator || srvID.Name != "coordinator" {
			t.Fatalf("client sees server %s", srvID)
		}
		return <-seen, nil
	}

	cases := []struct {
		role Role
		name string
		code codes.Code
	}{
		{RoleAnalyst, "analyst-alice", codes.OK},
		{RoleAuditor, "auditor-bob", codes.OK},
		{RoleParty, "telecom", codes.PermissionDenied},
		{RoleCoordinator, "coordinator", codes.PermissionDenied},
	}
	for _, tc := range cases {
		t.Run(string(tc.role), func(t *testing.T) {
			id, err := call(t, tc.role, tc.name)
			if got := status.Code(err); got != tc.code {
				t.Fatalf("code %v (%v), want %v", got, err, tc.code)
			}
			if err == nil && (id.Role != tc.role || id.Name != tc.name) {
				t.Fatalf("handler saw %s, want %s/%s", id, tc.role, tc.name)
			}
		})
	}
}

// plainAuth is the AuthInfo of a connection without TLS.
type plainAuth struct{}

func (plainAuth) AuthType() string { return "insecure" }

func TestPeerIdentity(t *testing.T) {
	ca := newTestCA(t)
	anonCert, _ := anonKeyPair(t, ca)
	srvCert, srvKey := issue(t, ca, RoleParty, "bank", "localhost")
	cliCert, cliKey := issue(t, ca, RoleAnalyst, "analyst-carol")
	state, srvErr, cliErr := handshake(t, mustServer(t, srvCert, srvKey, ca.CertPEM()), mustClient(t, cliCert, cliKey, ca.CertPEM(), "localhost", ExpectMember(RoleParty, "bank")))
	if srvErr != nil || cliErr != nil {
		t.Fatal(srvErr, cliErr)
	}
	anonState := state
	anonLeaf, err := ParseCertificate(anonCert)
	if err != nil {
		t.Fatal(err)
	}
	anonState.VerifiedChains = [][]*x509.Certificate{{anonLeaf}}

	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	cases := []struct {
		name string
		ctx  context.Context
		want error
		role Role
	}{
		{"no peer", context.Background(), ErrUnauthenticated, ""},
		{"insecure transport", peer.NewContext(context.Background(), &peer.Peer{Addr: addr, AuthInfo: plainAuth{}}), ErrUnauthenticated, ""},
		{"no auth info", peer.NewContext(context.Background(), &peer.Peer{Addr: addr}), ErrUnauthenticated, ""},
		{"TLS without verified chain", peer.NewContext(context.Background(), &peer.Peer{Addr: addr, AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{}}}), ErrUnauthenticated, ""},
		{"verified certificate without identity", peer.NewContext(context.Background(), &peer.Peer{Addr: addr, AuthInfo: credentials.TLSInfo{State: anonState}}), ErrNoIdentity, ""},
		{"TLS value", peer.NewContext(context.Background(), &peer.Peer{Addr: addr, AuthInfo: credentials.TLSInfo{State: state}}), nil, RoleAnalyst},
		{"TLS pointer", peer.NewContext(context.Background(), &peer.Peer{Addr: addr, AuthInfo: &credentials.TLSInfo{State: state}}), nil, RoleAnalyst},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := PeerIdentity(tc.ctx)
			if tc.want == nil {
				if err != nil || id.Role != tc.role {
					t.Fatalf("PeerIdentity = %s, %v", id, err)
				}
				if _, err := RequireRole(tc.ctx, RoleAuditor); !errors.Is(err, ErrForbidden) {
					t.Fatalf("RequireRole(auditor) err = %v, want ErrForbidden", err)
				}
				if _, err := RequireRole(tc.ctx); !errors.Is(err, ErrForbidden) {
					t.Fatalf("RequireRole() err = %v, want ErrForbidden", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if _, err := RequireRole(tc.ctx, Roles()...); !errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrForbidden) {
				t.Fatalf("RequireRole err = %v, want ErrUnauthenticated only", err)
			}
		})
	}
}
