package rpc

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/pki"
)

// TestServerOptionsRoles serves over ServerOptions with the roles each
// daemon allows and calls it with every role's certificate: only the
// allowed roles get through the interceptor, and a server given no roles
// admits nobody.
func TestServerOptionsRoles(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewCA("rpc test CA", now, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, err := ca.Issue(pki.RoleParty, "bank", []string{"127.0.0.1"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srvTLS, err := pki.ServerConfig(srvCert, srvKey, ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	callers := []struct {
		role pki.Role
		name string
	}{{pki.RoleCoordinator, "coordinator"}, {pki.RoleParty, "telecom"}, {pki.RoleAnalyst, "analyst-alice"}, {pki.RoleAuditor, "auditor-bob"}}
	servers := []struct {
		name    string
		allowed []pki.Role
	}{
		{"party daemon", []pki.Role{pki.RoleCoordinator}},
		{"coordinator daemon", []pki.Role{pki.RoleAnalyst, pki.RoleAuditor}},
		{"no roles", nil},
	}
	for _, srv := range servers {
		gs := grpc.NewServer(ServerOptions(srvTLS, zerolog.Nop(), srv.allowed...)...)
		healthpb.RegisterHealthServer(gs, health.NewServer())
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = gs.Serve(ln) }()
		t.Cleanup(gs.Stop)
		for _, c := range callers {
			t.Run(srv.name+"/"+string(c.role), func(t *testing.T) {
				cert, key, err := ca.Issue(c.role, c.name, nil, now, time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				tc, err := pki.ClientConfig(cert, key, ca.CertPEM(), "127.0.0.1", pki.ExpectMember(pki.RoleParty, "bank"))
				if err != nil {
					t.Fatal(err)
				}
				conn, err := Dial(ln.Addr().String(), tc)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
				want := codes.PermissionDenied
				for _, r := range srv.allowed {
					if r == c.role {
						want = codes.OK
					}
				}
				if got := status.Code(err); got != want {
					t.Fatalf("%s calling a server allowing %v: %v, want %v", c.role, srv.allowed, err, want)
				}
			})
		}
	}
}
