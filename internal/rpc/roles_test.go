package rpc

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/mpcq/mpcq/pki"
	pb "github.com/mpcq/mpcq/proto/mpcqv1"
)

// TestServerOptionsRoles serves over ServerOptions with the roles each
// daemon allows and calls it with every role's certificate: only the
// allowed roles get through the interceptor to a business service (the
// party service, unimplemented here: Unimplemented means admitted), a
// server given no roles admits nobody to it, and the health service
// answers every role.
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
		pb.RegisterPartyServer(gs, pb.UnimplementedPartyServer{})
		h := NewHealth(pb.Party_ServiceDesc.ServiceName)
		h.SetReady(true)
		RegisterOps(gs, h)
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
				hr, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
				if err != nil || hr.Status != healthpb.HealthCheckResponse_SERVING {
					t.Errorf("%s: health check: %v %v", c.role, hr, err)
				}
				_, err = pb.NewPartyClient(conn).Status(ctx, &pb.PartyStatusRequest{})
				want := codes.PermissionDenied
				for _, r := range srv.allowed {
					if r == c.role {
						want = codes.Unimplemented
					}
				}
				if got := status.Code(err); got != want {
					t.Fatalf("%s calling a server allowing %v: %v, want %v", c.role, srv.allowed, err, want)
				}
			})
		}
	}
}

// TestHealthTransitions: NewHealth starts NOT_SERVING, SetReady moves the
// server ("") and the named service together, Shutdown ends at
// NOT_SERVING.
func TestHealthTransitions(t *testing.T) {
	h := NewHealth("mpcq.v1.Party")
	check := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for _, svc := range []string{"", "mpcq.v1.Party"} {
			r, err := h.Server().Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || r.Status != want {
				t.Fatalf("service %q: %v %v, want %v", svc, r, err, want)
			}
		}
	}
	check(healthpb.HealthCheckResponse_NOT_SERVING)
	h.SetReady(true)
	check(healthpb.HealthCheckResponse_SERVING)
	h.SetReady(false)
	check(healthpb.HealthCheckResponse_NOT_SERVING)
	h.SetReady(true)
	h.Shutdown()
	check(healthpb.HealthCheckResponse_NOT_SERVING)
}
