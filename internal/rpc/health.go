package rpc

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// openPrefixes are the services any consortium member may call, whatever
// roles the daemon's business services admit: the standard health service
// (probes, load balancers, an operator with any member certificate) and
// server reflection (grpcurl and similar tools; it only describes the
// public .proto).
var openPrefixes = []string{
	"/" + healthpb.Health_ServiceDesc.ServiceName + "/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

// isOpen reports whether method (a full gRPC method name) belongs to a
// service any consortium member may call.
func isOpen(method string) bool {
	for _, p := range openPrefixes {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	return false
}

// Health is a daemon's readiness as the standard gRPC health service
// reports it: for the whole server (service "") and for the daemon's
// business service by name. It starts NOT_SERVING; the daemon calls
// SetReady as its state changes.
type Health struct {
	srv     *health.Server
	service string
}

// NewHealth returns a Health for the named business service (e.g.
// "mpcq.v1.Coordinator"), NOT_SERVING.
func NewHealth(service string) *Health {
	h := &Health{srv: health.NewServer(), service: service}
	h.SetReady(false)
	return h
}

// SetReady sets both the server's and the business service's status:
// SERVING when ready, NOT_SERVING otherwise. Watchers see each change.
func (h *Health) SetReady(ready bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ready {
		st = healthpb.HealthCheckResponse_SERVING
	}
	h.srv.SetServingStatus("", st)
	h.srv.SetServingStatus(h.service, st)
}

// Server is the health service implementation (for tests and Register).
func (h *Health) Server() healthpb.HealthServer { return h.srv }

// Shutdown sets every status to NOT_SERVING for good, so that probes and
// load balancers stop sending calls while the server drains.
func (h *Health) Shutdown() { h.srv.Shutdown() }

// RegisterOps registers the health service (h) and server reflection on
// gs. Call it after the business services are registered, so that
// reflection lists them.
func RegisterOps(gs *grpc.Server, h *Health) {
	healthpb.RegisterHealthServer(gs, h.srv)
	reflection.Register(gs)
}

// ServeHealth serves only the health service h, without TLS, on addr
// until ctx is done: for probes that cannot present a client certificate
// (Kubernetes' gRPC probes speak plaintext). It reveals SERVING or
// NOT_SERVING and nothing else; bind it to the pod or host network only.
// ready, if not nil, receives the bound address once listening.
func ServeHealth(ctx context.Context, addr string, h *Health, grace time.Duration, ready func(net.Addr)) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("health listener: %w", err)
	}
	if ready != nil {
		ready(lis.Addr())
	}
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, h.srv)
	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("health server: %w", err)
	case <-ctx.Done():
		StopGracefully(gs, grace)
		return nil
	}
}
